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
one set of one-line errors for a missing folder, a corrupt, edited or digest-less
``config.json``, an unknown problem, a checkpoint of another run or at an impossible step
(:func:`check_checkpoint`), metrics that are not exactly the rows the run wrote
(:func:`read_history`), an old run left aside by a killed ``--overwrite``
(:func:`check_replaced`); an unfinished run is reported as such.
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

from metasym.errors import MetasymError, WriteError
from metasym.files import (
    atomic_write,
    atomic_write_text,
    check_name_lengths,
    check_regular_file,
    fsync_dir,
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
    "check_replaced",
    "CheckpointInfo",
    "check_checkpoint",
    "eval_steps",
    "read_history",
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


def check_replaced(out: str | Path) -> None:
    """Refuse, in one line, to use the run folder ``out`` while a hidden
    ``.NAME.replaced-*`` folder lies beside it: the run ``out`` held before an
    ``--overwrite`` that was killed after moving it aside (it is put back or removed by
    that process otherwise). The message names it and says how to restore it; while
    another process holds ``out``'s lock (an ``--overwrite`` under way) it says to wait."""
    out = Path(out)
    parent = out.parent
    prefix = f".{out.name}.replaced-"
    try:
        left = sorted(p for p in parent.iterdir() if p.name.startswith(prefix))
    except OSError:
        return  # no parent folder (yet): nothing was moved aside there
    if not left:
        return
    if out.is_dir() and _is_locked(out):
        raise MetasymError(f"{out} is being replaced by another metasym process (--overwrite "
                           f"under way, the old run is in {left[0]}); wait for it to finish")
    old = left[0]
    more = f" (and {len(left) - 1} more such folders)" if len(left) > 1 else ""
    raise MetasymError(
        f"{old}{more}: the old run {out}, moved aside by an --overwrite that was interrupted "
        f"before it finished; restore it with `rm -rf {out} && mv {old} {out}`, or delete it "
        f"with `rm -rf {old}` to keep {out} as it is")


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
    check_replaced(out)  # an old run left aside by a killed --overwrite: say so first
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


def _checkpoint_header(path: Path) -> dict[str, str] | None:
    """The metadata strings of a safetensors file's header (reads only the header);
    ``None`` when there is no readable header."""
    try:
        with open_regular(path, "a safetensors checkpoint") as f:
            n = int.from_bytes(f.read(8), "little")
            if not 0 < n < 100_000_000:
                return None
            header = json.loads(f.read(n))
        meta = header.get("__metadata__", {}) if isinstance(header, dict) else None
        return meta if isinstance(meta, dict) else None
    except (OSError, ValueError, UnicodeDecodeError, RecursionError, AttributeError):
        return None  # (MetasymError is a ValueError: not a regular file)


def checkpoint_step(run: Path) -> int | None:
    """The step of ``run``'s resumable checkpoint (``None`` when there is none or it is
    unreadable); reads only the safetensors header."""
    meta = _checkpoint_header(run / CHECKPOINT)
    try:
        return int(meta["step"]) if meta is not None else None
    except (KeyError, ValueError, TypeError):
        return None


# ----- a checkpoint bound to its run, metrics that cannot lie ------------------------------------
@dataclass
class CheckpointInfo:
    """What binds a run's checkpoint to it (read from the header only): its ``step``, the
    run ``digest`` and the evaluation steps off the ``eval_every`` schedule (``evals``)."""

    step: int
    digest: str
    evals: tuple[int, ...]


def _differing(mine: dict[str, Any], theirs: dict[str, Any]) -> str:
    keys = [k for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)]
    return ", ".join(f"{k} {theirs.get(k)!r} (config.json: {mine.get(k)!r})" for k in keys[:4])


def check_checkpoint(run: str | Path, cfg: Any, digest: str,
                     final: dict[str, Any] | None) -> CheckpointInfo | None:
    """Check that ``run``'s checkpoint belongs to the run ``config.json`` describes: it
    carries the same ``digest`` (another run's checkpoint, another seed, is refused and the
    differing fields are named), its step is between 0 and the run's ``steps`` and equals
    ``final.json``'s ``steps`` when the run finished. ``None`` when there is no
    checkpoint or its header is unreadable (the readers of the tensors then say why).

    A checkpoint without a digest (written before checkpoints were bound to their run,
    or not by ``metasym train``) is refused: it cannot be checked to be this run's."""
    path = Path(run) / CHECKPOINT
    if not os.path.lexists(path):
        return None
    meta = _checkpoint_header(path)
    if meta is None:
        return None
    if meta.get("format") != "metasym-train-state/1":
        raise MetasymError(f"{path}: holds model weights only, not a resumable training state "
                           "bound to its run (written by an older metasym, or not by "
                           "`metasym train`)")
    if "digest" not in meta:
        raise MetasymError(
            f"{path}: carries no run digest (written by a metasym from before checkpoints "
            f"were bound to their run), so it cannot be checked to be this run's; train the "
            f"run again (`metasym train --out NEW` with the settings in {CONFIG})")
    try:
        step = int(meta["step"])
        fields = json.loads(meta.get("run", "{}"))
        evals = tuple(int(e) for e in json.loads(meta.get("evals", "[]")))
        if not isinstance(fields, dict):
            raise TypeError("run fields are not a mapping")
    except (KeyError, ValueError, TypeError, RecursionError) as e:
        raise MetasymError(f"{path}: corrupt checkpoint metadata ({type(e).__name__}: "
                           f"{e})") from None
    if meta["digest"] != digest:
        what = _differing(json.loads(json.dumps(cfg.defining_fields(), default=str)), fields)
        raise MetasymError(
            f"{path}: belongs to another run (its digest {meta['digest']}, {CONFIG}'s "
            f"{digest}{': ' + what if what else ''}); put this run's checkpoint back, or "
            "start again with --overwrite")
    if step < 0 or step > cfg.steps:
        raise MetasymError(f"{path}: step {step} is outside the run's 0..{cfg.steps} steps "
                           f"({CONFIG}); the checkpoint's metadata is corrupt: put this "
                           "run's checkpoint back, or start again with --overwrite")
    if final is not None and final.get("steps") != step:
        raise MetasymError(f"{path}: at step {step}, but {FINAL} says the run finished at "
                           f"step {final.get('steps')!r}: the checkpoint is not this run's "
                           "last one; put it back, or start again with --overwrite")
    if any(e <= 0 or e > step or e % cfg.eval_every == 0 for e in evals):
        raise MetasymError(f"{path}: corrupt checkpoint metadata (evaluation steps "
                           f"{list(evals)} off the schedule of every {cfg.eval_every})")
    return CheckpointInfo(step, meta["digest"], evals)


def eval_steps(step: int, eval_every: int, evals: Any = ()) -> list[int]:
    """The steps at which a run evaluated (and wrote a ``metrics.jsonl`` row) up to its
    checkpoint at ``step``: 0, every multiple of ``eval_every``, and ``evals`` (the last
    step of a run later extended with ``--resume --steps``)."""
    return sorted({*range(0, step + 1, eval_every), *(e for e in evals if 0 < e <= step)})


def read_history(run: str | Path, step: int, eval_every: int, evals: Any = ()) -> list[dict]:
    """The rows of ``run/metrics.jsonl`` the checkpoint at ``step`` covers, checked to be
    exactly the rows the run wrote: one per step of :func:`eval_steps`, in order, none
    missing, none twice. After them the file may hold rows of later steps and a torn last
    line (what a crash after the checkpoint leaves); they are not returned. Anything else
    (the file missing or emptied, cut at a line boundary, a row deleted, duplicated or
    damaged) is one :class:`MetasymError` naming the file and the line."""
    path = Path(run) / METRICS
    expected = eval_steps(step, eval_every, evals)
    fix = ("; resuming or comparing would build on rows the run did not write: restore "
           f"{METRICS}, or start again with --overwrite")
    if not os.path.lexists(path):
        raise MetasymError(f"{path}: missing, but the checkpoint at step {step} covers rows "
                           f"for steps {_steps_text(expected)}{fix}")
    lines = read_text_file(path, "metrics.jsonl", max_bytes=MAX_METRICS_BYTES,
                           errors="replace").splitlines()
    kept: list[dict] = []
    last = step  # past the checkpoint's rows: the step of the last row read
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except (ValueError, RecursionError):
            row = None
        ok = isinstance(row, dict) and type(row.get("step")) is int
        if len(kept) == len(expected):  # past the checkpoint: later rows, a torn last line
            if not ok:
                if i == len(lines):
                    break
                raise MetasymError(f"{path}: line {i} is not a metrics row (torn or "
                                   f"edited), and rows follow it{fix}")
            if row["step"] <= last:
                raise MetasymError(f"{path}: line {i}: step {row['step']} again or out of "
                                   f"order (after step {last}){fix}")
            last = row["step"]
            continue
        want = expected[len(kept)]
        if not ok:
            raise MetasymError(f"{path}: line {i} is not a metrics row (torn or edited); the "
                               f"run wrote step {want} there{fix}")
        got = row["step"]
        if got != want:
            if kept and got <= kept[-1]["step"]:
                why = f"step {got} again or out of order after step {kept[-1]['step']}"
            elif got <= step and got not in expected:
                why = f"step {got} is not one of the run's evaluation steps (every {eval_every})"
            else:
                why = f"step {got}, but the run's row for step {want} is missing before it"
            raise MetasymError(f"{path}: line {i}: {why}{fix}")
        kept.append(row)
    if len(kept) < len(expected):
        have = (f"ends after line {len(kept)} (step {kept[-1]['step']})" if kept
                else "holds no rows")
        raise MetasymError(f"{path}: {have}, but the checkpoint at step {step} covers rows up "
                           f"to step {expected[-1]} (missing: steps "
                           f"{_steps_text(expected[len(kept):])}){fix}")
    return kept


def _steps_text(steps: list[int]) -> str:
    return ", ".join(map(str, steps)) if len(steps) <= 6 else \
        f"{', '.join(map(str, steps[:3]))}, ..., {steps[-1]}"


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
    checkpoint: CheckpointInfo | None = None
    history: list[dict[str, Any]] | None = None

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
    """Read and validate a run folder: config (digest checked), problem kind, status, and
    that its checkpoint and metrics are this run's (:func:`check_checkpoint`,
    :func:`read_history`: ``checkpoint`` and ``history`` of the record).

    Raises one-line :class:`~metasym.errors.MetasymError` for every defect; an unfinished
    run is returned with ``final = None`` (callers say so). A hidden ``.NAME.replaced-*``
    folder beside it (an interrupted ``--overwrite``) is refused first
    (:func:`check_replaced`)."""

    run = Path(run_dir)
    with path_errors(run, "read the run folder"):
        return _read_run(run, need_checkpoint)


def _read_run(run: Path, need_checkpoint: bool) -> RunRecord:
    from metasym.learning.engine.registry import problem_for_config

    check_replaced(run)
    data = read_config_file(run)
    problem = problem_for_config(data)
    try:
        cfg = problem.config_from_json(data)
        cfg.validate()
        problem.validate(cfg)
    except (TypeError, ValueError, MetasymError) as e:
        raise MetasymError(f"{run / CONFIG}: invalid config ({e})") from None
    stored = data.get("digest")
    if stored is None:
        raise MetasymError(f"{run / CONFIG}: no digest of the fields that define the run, so "
                           "an edit cannot be told from the run (runs written by a metasym "
                           "from before run folders carried a digest lack it); train the run "
                           "again with the settings in it")
    if stored != cfg.digest():
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
    info = check_checkpoint(run, cfg, stored, final)
    history = None
    if info is not None:
        step = info.step
        history = read_history(run, info.step, cfg.eval_every, info.evals)
    return RunRecord(run, cfg, data, problem, final, step, checkpoint=info, history=history)


# ----- writing ----------------------------------------------------------------------------------
class RunFolder:
    """Writes one run folder (only the process that owns it: rank 0, holding the lock)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.metrics_file: Any = None
        #: a resume in progress whose files are staged beside the run's (see
        #: :meth:`reopen`) until its first checkpoint is complete
        self.staged = False

    def staging(self, name: str) -> Path:
        """Where a resume writes ``name`` until :meth:`commit` (``.NAME.resume``)."""
        return self.path / f".{name}.resume"

    def target(self, name: str) -> Path:
        """The file to write ``name`` to now: its staging name during a staged resume."""
        return self.staging(name) if self.staged else self.path / name

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_text(self.target(CONFIG), json.dumps(config, indent=2, default=str) + "\n")

    def write_answer(self, arrays: dict[str, Any]) -> None:
        import numpy as np

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz"
                np.savez(f, **arrays)

        atomic_write(self.path / ANSWER, write)

    def write_final(self, final: dict[str, Any]) -> None:
        self.commit()
        atomic_write_text(self.path / FINAL, json.dumps(final, indent=2, default=str) + "\n")

    def open_metrics(self, append: bool) -> Any:
        path = self.target(METRICS)
        try:
            self.metrics_file = open(path, "a" if append else "w")  # noqa: SIM115
        except OSError as e:
            raise write_error(path, e) from None
        return self.metrics_file

    def append_metrics(self, row: dict[str, Any]) -> None:
        if self.metrics_file is not None:
            try:
                self.metrics_file.write(json.dumps(row) + "\n")
                self.metrics_file.flush()
            except OSError as e:  # a full disk, a file-size limit
                raise write_error(self.path / METRICS, e) from None

    def reopen(self, step: int, eval_every: int, evals: Any = ()) -> list[dict]:
        """Prepare to continue from the checkpoint at ``step``, **transactionally**: the
        metrics rows it covers, checked by :func:`read_history` to be exactly the rows the
        run wrote (rows after them and a torn last line -- what a crash leaves -- are
        dropped; a row missing, duplicated or damaged before is one line), are written to
        a staging file, and until :meth:`commit` every file of the resume (``config.json``,
        ``metrics.jsonl``, the checkpoint) goes to its staging name (``.NAME.resume``).
        A resume that fails before its first checkpoint is complete (a full disk, a
        file-size limit, a non-finite loss) leaves the run folder byte for byte as it was
        (:meth:`discard`); ``final.json`` is removed only by the commit."""
        kept = read_history(self.path, step, eval_every, evals)
        self.discard()  # what an earlier resume killed before its commit may have left
        self.staged = True
        try:
            atomic_write_text(self.target(METRICS), "".join(json.dumps(r) + "\n" for r in kept))
        except BaseException:
            self.discard()
            raise
        return kept

    def commit(self) -> None:
        """Put a staged resume's files in place (renames only: no space needed), in an
        order that leaves a readable run folder after a crash at any point: the metrics
        (rows after the old checkpoint are allowed), then ``final.json`` removed (an
        unfinished run at the old checkpoint), then ``config.json`` (only fields a resume
        may change differ), then the checkpoint."""
        if not self.staged:
            return
        for name in (METRICS, FINAL, CONFIG, CHECKPOINT):
            if name == FINAL:
                (self.path / FINAL).unlink(missing_ok=True)
            elif self.staging(name).exists():
                os.replace(self.staging(name), self.path / name)
            fsync_dir(self.path)
        self.staged = False

    def unstaged(self, e: BaseException) -> BaseException:
        """``e`` with the staging names in its message replaced by the run's file names
        (a user is told which of the run's files could not be written)."""
        if not isinstance(e, WriteError):
            return e
        msg, path = str(e), e.path
        for name in (METRICS, CONFIG, CHECKPOINT):
            msg = msg.replace(str(self.staging(name)), str(self.path / name))
            if str(path) == str(self.staging(name)):
                path = self.path / name
        return WriteError(path, msg)

    def discard(self) -> None:
        """Remove a staged resume's files (the run's own files were never touched)."""
        for name in (METRICS, CONFIG, CHECKPOINT):
            with contextlib.suppress(OSError):
                self.staging(name).unlink(missing_ok=True)
        self.staged = False
