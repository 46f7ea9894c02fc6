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
from metasym.files import atomic_write, atomic_write_text

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
    :meth:`OutputFolder.commit` once the new content is complete."""
    out = Path(out)
    if str(out) == "":
        raise MetasymError("the output folder name is empty")
    if out.is_symlink():
        raise MetasymError(f"{out} is a symbolic link; give the folder itself (metasym never "
                           "writes through links)")
    here, real = Path.cwd().resolve(), out.resolve()
    if real == here or here.is_relative_to(real):
        raise MetasymError(f"{out} is the working directory or one of its parents; give a new "
                           "folder for the output")
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
        raise MetasymError(f"{out}: cannot create the folder ({e.strerror or e})") from None
    return OutputFolder(out, lock, replaced)


# ----- reading ----------------------------------------------------------------------------------
def read_config_file(run: Path) -> dict[str, Any]:
    """``run/config.json`` as a dict, or a one-line error."""
    cfg_path = run / CONFIG
    if not run.is_dir():
        raise MetasymError(f"{run}: no such run folder")
    if not cfg_path.is_file():
        raise MetasymError(f"{run}: no config.json (not a metasym run folder, or it was "
                           "interrupted before its first write)")
    try:
        data = json.loads(cfg_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{cfg_path}: unreadable or corrupt JSON ({msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("problem"), str) \
            or not isinstance(data.get("model"), str):
        raise MetasymError(f"{cfg_path}: not a metasym run config (no problem/model)")
    return data


def checkpoint_step(run: Path) -> int | None:
    """The step of ``run``'s resumable checkpoint (``None`` when there is none or it is
    unreadable); reads only the safetensors header."""
    path = run / CHECKPOINT
    try:
        with open(path, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                return None
            header = json.loads(f.read(n))
        return int(header["__metadata__"]["step"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


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
    from metasym.learning.engine.registry import problem_for_config

    run = Path(run_dir)
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
    if need_checkpoint and not (run / CHECKPOINT).is_file():
        raise MetasymError(f"{run / CHECKPOINT}: no checkpoint file (training was "
                           "interrupted before its first checkpoint)")
    final = None
    if (run / FINAL).is_file():
        try:
            final = json.loads((run / FINAL).read_text())
        except (OSError, ValueError, UnicodeDecodeError):
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
        self.metrics_file = open(self.path / METRICS, "a" if append else "w")  # noqa: SIM115
        return self.metrics_file

    def append_metrics(self, row: dict[str, Any]) -> None:
        if self.metrics_file is not None:
            self.metrics_file.write(json.dumps(row) + "\n")
            self.metrics_file.flush()

    def reopen(self, step: int, eval_every: int) -> list[dict]:
        """Prepare to continue from the checkpoint at ``step``: keep the metrics rows it
        covers (a torn last line -- what a crash leaves -- is dropped), remove
        ``final.json``; a file damaged earlier (rows the checkpoint covers are missing) is
        refused with one line rather than resumed with a silent gap."""
        path = self.path / METRICS
        kept: list[dict] = []
        damaged = None
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
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
