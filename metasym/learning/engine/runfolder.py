r"""Run folders: created safely, read and validated in one place, written atomically.

A run folder holds

* ``config.json``: the :class:`~metasym.learning.engine.config.RunConfig` (flat), the
  problem kind, the resolved figures of the run (``k``, shapes, task counts, ...) and a
  digest of the fields that define it;
* ``metrics.jsonl``: one evaluation per line;
* ``checkpoint.safetensors``: the complete training state
  (:mod:`~metasym.learning.engine.checkpoint`);
* ``answer.npz``: the problem's analytic answer, when it has one;
* ``final.json``: the summary, written when training finished;
* ``.metasym-output``: the marker that says metasym created the folder. ``--overwrite``
  replaces only folders that carry it, never the working directory or one of its parents,
  never through a symbolic link; the old folder is moved aside and removed only after the
  new run is complete (restored if the new one fails before its first checkpoint);
* ``.metasym-lock``: an OS file lock (``fcntl.flock``) held by the process writing the
  folder, released on exit or crash: a second writer gets a one-line refusal.

:func:`read_run` is the one reader of a run folder (train's resume, compare, discover):
one set of one-line errors for a missing folder, a corrupt or edited ``config.json``, an
unknown problem, and an unfinished run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metasym.errors import MetasymError
from metasym.files import (
    atomic_write,
    atomic_write_text,
    check_name_lengths,
    check_regular_file,
    open_regular,
    os_error_words,
    path_errors,
    read_json_file,
    read_text_file,
    write_error,
)

__all__ = [
    "MARKER",
    "LOCK",
    "FolderLock",
    "OutputFolder",
    "prepare_output",
    "lock_folder",
    "RunFolder",
    "RunRecord",
    "read_run",
    "read_config_file",
    "checkpoint_step",
]

MARKER = ".metasym-output"
LOCK = ".metasym-lock"
CONFIG, METRICS, FINAL, ANSWER, CHECKPOINT = ("config.json", "metrics.jsonl", "final.json",
                                             "answer.npz", "checkpoint.safetensors")
#: Largest ``config.json`` read (bytes); a real one is a few kB.
MAX_CONFIG_BYTES = 16 * 2**20
#: Largest ``metrics.jsonl`` read (bytes); a row is about 200 bytes.
MAX_METRICS_BYTES = 2**31


# ----- creating an output folder ---------------------------------------------------------------
class FolderLock:
    """An exclusive, non-blocking ``flock`` on ``folder/.metasym-lock`` (released by
    :meth:`release`, at exit, or by the OS when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._fd: int | None = None

    def acquire(self) -> FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - no flock on this platform
            return self
        path = self.folder / LOCK
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise MetasymError(f"{self.folder}: cannot write here ({e.strerror})") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise MetasymError(f"{self.folder} is being written by another metasym process; "
                               "wait for it to finish or choose another folder") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def lock_folder(folder: str | Path) -> FolderLock:
    """Take the write lock of an existing folder (one-line refusal when another process
    holds it)."""
    return FolderLock(Path(folder)).acquire()


def _is_locked(folder: Path) -> bool:
    if not (folder / LOCK).exists():
        return False
    try:
        lock = FolderLock(folder).acquire()
    except MetasymError:
        return True
    lock.release()
    return False


@dataclass
class OutputFolder:
    """A new output folder (created, marked and locked by :func:`prepare_output`). Call
    :meth:`commit` once its content is complete (removes a replaced old folder) or
    :meth:`abort` on failure (restores it)."""

    path: Path
    lock: FolderLock
    replaced: Path | None = None

    def commit(self) -> None:
        if self.replaced is not None:
            shutil.rmtree(self.replaced, ignore_errors=True)
            self.replaced = None

    def abort(self, keep_new: bool = False) -> None:
        """Undo: remove the new folder and move the replaced one back, unless
        ``keep_new`` (the new one is resumable: the old one is then removed)."""
        self.lock.release()
        if keep_new:
            self.commit()
            return
        if self.replaced is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.replace(self.replaced, self.path)
            self.replaced = None

    def release(self) -> None:
        self.lock.release()


def _check_replaceable(out: Path) -> None:
    here = Path.cwd().resolve()
    real = out.resolve()
    if real == here or here.is_relative_to(real):
        raise MetasymError(f"--overwrite refuses {out}: it is the working directory or one "
                           "of its parents")
    if not (out / MARKER).is_file():
        raise MetasymError(f"--overwrite refuses {out}: it was not created by metasym (no "
                           f"{MARKER} marker); remove it yourself or choose another folder")
    if _is_locked(out):
        raise MetasymError(f"{out} is being written by another metasym process; wait for it "
                           "to finish or choose another folder")


def prepare_output(out: str | Path, *, overwrite: bool = False, kind: str = "run",
                   resume_hint: bool = True) -> OutputFolder:
    """Create the output folder ``out`` (parents too), write the marker and take the lock.

    An existing ``out`` is refused unless ``overwrite``; with ``overwrite`` it must be a
    metasym output (marker present), not the working directory or one of its parents, not
    a symbolic link, and not locked by another process. It is moved aside, and removed by
    :meth:`OutputFolder.commit` once the new content is complete.

    A name the file system cannot take (a loop of symbolic links, a name too long) is one
    line."""
    with path_errors(out, "use it as the output folder"):
        return _prepare_output(Path(out), overwrite, kind, resume_hint)


def _prepare_output(out: Path, overwrite: bool, kind: str, resume_hint: bool) -> OutputFolder:
    if str(out) == "":
        raise MetasymError("the output folder name is empty")
    if out.is_symlink():
        raise MetasymError(f"{out} is a symbolic link; give the folder itself (metasym never "
                           "writes through links)")
    here, real = Path.cwd().resolve(), out.resolve()
    if real == here or here.is_relative_to(real):
        raise MetasymError(f"{out} is the working directory or one of its parents; give a new "
                           "folder for the output")
    check_name_lengths(out)  # before any parent folder is created
    replaced = None
    if out.is_dir() and not out.is_symlink() and not any(out.iterdir()):
        out.rmdir()  # an empty folder holds nothing to lose: use it as new
    if out.exists():
        if not out.is_dir():
            raise MetasymError(f"{out} exists and is not a folder")
        if not overwrite:
            hint = f", or --resume {out} to continue it" if resume_hint else ""
            raise MetasymError(f"{out} already exists (use --overwrite to replace it{hint})")
        _check_replaceable(out)
        replaced = out.parent / f".{out.name}.replaced-{uuid.uuid4().hex[:8]}"
        try:
            os.replace(out, replaced)
        except OSError as e:
            raise MetasymError(f"{out}: cannot move the old output aside ({e.strerror})") from None
    try:
        out.mkdir(parents=True)
        atomic_write_text(out / MARKER, json.dumps({"metasym": kind}) + "\n")
        lock = FolderLock(out).acquire()
    except (OSError, MetasymError) as e:
        if replaced is not None:
            shutil.rmtree(out, ignore_errors=True)
            with contextlib.suppress(OSError):
                os.replace(replaced, out)
        if isinstance(e, MetasymError):
            raise
        raise MetasymError(f"{out}: cannot create the folder ({os_error_words(e)})") from None
    return OutputFolder(out, lock, replaced)


# ----- reading ----------------------------------------------------------------------------------
def read_config_file(run: Path) -> dict[str, Any]:
    """``run/config.json`` as a dict, or a one-line error."""
    cfg_path = run / CONFIG
    if not run.is_dir():
        raise MetasymError(f"{run}: no such run folder")
    if not os.path.lexists(cfg_path):
        raise MetasymError(f"{run}: no config.json (not a metasym run folder, or it was "
                           "interrupted before its first write)")
    # a regular file of at most 16 MiB, UTF-8, JSON not nested past the parser's recursion
    data = read_json_file(cfg_path, "a metasym run's config.json", max_bytes=MAX_CONFIG_BYTES)
    if not isinstance(data, dict) or not isinstance(data.get("problem"), str) \
            or not isinstance(data.get("model"), str):
        raise MetasymError(f"{cfg_path}: not a metasym run config (no problem/model)")
    return data


def checkpoint_step(run: Path) -> int | None:
    """The step of ``run``'s resumable checkpoint (``None`` when there is none or it is
    unreadable); reads only the safetensors header."""
    path = run / CHECKPOINT
    try:
        with open_regular(path, "a safetensors checkpoint") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                return None
            header = json.loads(f.read(n))
        return int(header["__metadata__"]["step"])
    except (OSError, ValueError, KeyError, TypeError, RecursionError):
        return None  # (MetasymError is a ValueError: not a regular file)


@dataclass
class RunRecord:
    """What :func:`read_run` read: the config, the resolved dict, the problem kind, and
    whether training finished (``final`` is ``final.json``, ``None`` when it did not;
    ``step`` is the checkpoint's step)."""

    path: Path
    config: Any
    resolved: dict[str, Any]
    problem: Any
    final: dict[str, Any] | None
    step: int | None
    notes: list[str] = field(default_factory=list)

    @property
    def finished(self) -> bool:
        return self.final is not None

    def status_note(self) -> str | None:
        """A warning line for an unfinished run, ``None`` for a finished one."""
        if self.finished:
            return None
        at = (f"its checkpoint is at step {self.step} of {self.config.steps}"
              if self.step is not None else "it has no readable checkpoint")
        return (f"training did not finish (no final.json): {at}; these are the figures at "
                f"that step (continue with `metasym train --resume {self.path}`)")


def read_run(run_dir: str | Path, *, need_checkpoint: bool = True) -> RunRecord:
    """Read and validate a run folder: config (digest checked), problem kind, status.

    Raises one-line :class:`~metasym.errors.MetasymError` for every defect; an unfinished
    run is returned with ``final = None`` (callers say so)."""

    run = Path(run_dir)
    with path_errors(run, "read the run folder"):
        return _read_run(run, need_checkpoint)


def _read_run(run: Path, need_checkpoint: bool) -> RunRecord:
    from metasym.learning.engine.registry import problem_for_config

    data = read_config_file(run)
    problem = problem_for_config(data)
    try:
        cfg = problem.config_from_json(data)
        cfg.validate()
        problem.validate(cfg)
    except (TypeError, ValueError, MetasymError) as e:
        raise MetasymError(f"{run / CONFIG}: invalid config ({e})") from None
    stored = data.get("digest")
    if stored is not None and stored != cfg.digest():
        raise MetasymError(f"{run / CONFIG}: the fields that define the run were edited "
                           "(their digest no longer matches); restore the file or start a "
                           "new run")
    step = checkpoint_step(run)
    if need_checkpoint and not os.path.lexists(run / CHECKPOINT):
        raise MetasymError(f"{run / CHECKPOINT}: no checkpoint file (training was "
                           "interrupted before its first checkpoint)")
    if os.path.lexists(run / CHECKPOINT):
        check_regular_file(run / CHECKPOINT, "a safetensors checkpoint")
    final = None
    if os.path.lexists(run / FINAL):
        check_regular_file(run / FINAL, "a run's final.json")  # a FIFO would hang: refuse
        try:
            final = read_json_file(run / FINAL, "a run's final.json")
        except MetasymError:
            final = None
        if not isinstance(final, dict):
            final = None
    return RunRecord(run, cfg, data, problem, final, step)


# ----- writing ----------------------------------------------------------------------------------
class RunFolder:
    """Writes one run folder (only the process that owns it: rank 0, holding the lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.metrics_file: Any = None

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(self.path / CONFIG, json.dumps(config, indent=2, default=str) + "\n")

    def write_answer(self, arrays: dict[str, Any]) -> None:
        import numpy as np

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz"
                np.savez(f, **arrays)

        atomic_write(self.path / ANSWER, write)

    def write_final(self, final: dict[str, Any]) -> None:
        atomic_write_text(self.path / FINAL, json.dumps(final, indent=2, default=str) + "\n")

    def open_metrics(self, append: bool) -> Any:
        try:
            self.metrics_file = open(self.path / METRICS, "a" if append else "w")  # noqa: SIM115
        except OSError as e:
            raise write_error(self.path / METRICS, e) from None
        return self.metrics_file

    def append_metrics(self, row: dict[str, Any]) -> None:
        if self.metrics_file is not None:
            try:
                self.metrics_file.write(json.dumps(row) + "\n")
                self.metrics_file.flush()
            except OSError as e:  # a full disk, a file-size limit
                raise write_error(self.path / METRICS, e) from None

    def reopen(self, step: int, eval_every: int) -> list[dict]:
        """Prepare to continue from the checkpoint at ``step``: keep the metrics rows it
        covers (a torn last line -- what a crash leaves -- is dropped), remove
        ``final.json``; a file damaged earlier (rows the checkpoint covers are missing) is
        refused with one line rather than resumed with a silent gap."""
        path = self.path / METRICS
        kept: list[dict] = []
        damaged = None
        lines = (read_text_file(path, "metrics.jsonl", max_bytes=MAX_METRICS_BYTES,
                                errors="replace").splitlines()
                 if os.path.lexists(path) else [])
        for i, line in enumerate(lines):
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                damaged = i + 1
                break
            if row["step"] > step:
                break
            kept.append(row)
        expected = step - step % eval_every  # the last regular evaluation the checkpoint covers
        if damaged is not None and (damaged < len(lines) or not kept
                                    or kept[-1]["step"] < expected):
            raise MetasymError(
                f"{path}: damaged at line {damaged} (rows the checkpoint at step {step} "
                f"covers are missing); resuming would leave a silent gap: restore the file, "
                f"or delete the lines from {damaged} on and remove {CHECKPOINT} to restart")
        atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
        (self.path / FINAL).unlink(missing_ok=True)
        return kept
