r"""Resumable training state: atomic checkpoints, RNG states, signals, run folders.

A training checkpoint (``checkpoint.safetensors`` in the run folder) holds, in one
safetensors file (no pickle, nothing executable):

* the learner's ``state_dict`` (model and learned step sizes) under its own names, so
  :func:`metasym.learning.engine.load_run` and ``metasym discover`` read it;
* the outer optimiser's per-parameter state under ``optim.<index>.<name>``;
* the task sampler's generator state and torch's global RNG state as ``uint8`` tensors;
* in the safetensors metadata (strings): the step, the running training-loss sum, the
  optimiser's parameter groups, Python's and NumPy's global RNG states (JSON), and what
  binds it to its run: the run's digest, its defining fields and the evaluation steps off
  the ``eval_every`` schedule.

Files are replaced atomically (:func:`metasym.files.atomic_write`): written to a temporary file in the
same folder, flushed and ``fsync``-ed, renamed over the old file with ``os.replace``,
and the folder ``fsync``-ed, so a crash at any moment leaves either the old or the new
checkpoint, never a torn one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metasym.errors import MetasymError
from metasym.files import (
    atomic_write,
    atomic_write_text,
    open_regular,
    read_text_file,
    write_error,
)

__all__ = [
    "CHECKPOINT",
    "FORMAT",
    "TrainingInterrupted",
    "NonFiniteError",
    "save_state",
    "load_state",
    "read_checkpoint",
    "read_metrics",
    "truncate_metrics",
    "StopSignals",
    "save_checkpoint",
    "load_resumable",
    "reopen_run",
    "all_finite",
    "non_finite_error",
    "interrupted",
    "close_metrics",
]

#: File name of the checkpoint inside a run folder.
CHECKPOINT = "checkpoint.safetensors"
#: Format tag written into the checkpoint's metadata.
FORMAT = "metasym-train-state/1"


class TrainingInterrupted(MetasymError):
    """Training stopped on SIGINT/SIGTERM after saving a checkpoint.

    ``exit_code`` is ``128 + signal number`` (130 for Ctrl-C, 143 for SIGTERM)."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + int(signum)


class NonFiniteError(MetasymError):
    """A non-finite loss or gradient stopped training (the last good checkpoint is kept)."""


# ----- training state -------------------------------------------------------------------------
def _rng_metadata() -> dict[str, str]:
    py = random.getstate()
    return {
        "python_rng": json.dumps([py[0], list(py[1]), py[2]]),
        "numpy_rng": json.dumps(np.random.get_state(legacy=False), default=_np_default),
    }


def _np_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.integer):
        return int(o)
    raise TypeError(type(o).__name__)


def save_state(path: str | Path, learner: torch.nn.Module, opt: Any,
               generator: torch.Generator, *, step: int, loss_sum: float, since: int,
               extra: dict[str, Any] | None = None, binding: dict[str, Any] | None = None
               ) -> None:
    """Write the complete training state atomically to ``path`` (safetensors).

    ``binding`` ties the checkpoint to its run (see ``runfolder.check_checkpoint``): the run's ``digest`` (the one ``config.json`` records), its defining
    ``fields`` and the evaluation steps off the ``eval_every`` schedule (``evals``: the
    last step of a run later extended); stored as the metadata strings ``digest``, ``run``
    and ``evals``."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in learner.state_dict().items()}
    osd = opt.state_dict()
    for idx, st in osd["state"].items():
        for name, val in st.items():
            t = val if isinstance(val, torch.Tensor) else torch.tensor(val)
            tensors[f"optim.{idx}.{name}"] = t.detach().cpu().contiguous()
    tensors["rng.sampler"] = generator.get_state()
    tensors["rng.torch"] = torch.get_rng_state()
    meta = {"format": FORMAT, "step": str(int(step)), "loss_sum": repr(float(loss_sum)),
            "since": str(int(since)), "param_groups": json.dumps(osd["param_groups"]),
            **_rng_metadata(), "extra": json.dumps(extra or {})}
    if binding is not None:
        meta |= {"digest": str(binding["digest"]),
                 "run": json.dumps(binding["fields"], sort_keys=True, default=str),
                 "evals": json.dumps([int(e) for e in binding["evals"]])}

    def write(tmp: str) -> None:
        try:
            save_file(tensors, tmp, metadata=meta)
        except OSError:
            raise
        except Exception as e:  # safetensors' own error type for an I/O failure
            raise write_error(path, e) from None

    atomic_write(path, write)


def _bad(path: Path, what: str) -> MetasymError:
    return MetasymError(f"{path}: {what}")


def read_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; one-line :class:`MetasymError` when it
    is missing, truncated or not a safetensors file.

    The file is read through :func:`~metasym.files.open_regular` and parsed from its bytes
    (``safetensors.torch.load``), never by name: safetensors takes file names as UTF-8
    strings and would call a run folder whose name is not valid UTF-8 (``run\\xff``)
    unreadable."""
    from safetensors.torch import load

    path = Path(path)
    if not os.path.lexists(path):
        raise _bad(path, "no checkpoint file (the run never reached its first checkpoint)")
    with open_regular(path, "a safetensors checkpoint") as f:  # never a FIFO or a device
        data = f.read()
    try:
        meta = _header_metadata(data)
        tensors = load(data)
    except Exception as e:  # safetensors raises its own error types
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _bad(path, f"not a readable safetensors checkpoint (truncated or wrong "
                         f"kind of file: {msg})") from None
    return tensors, meta


def _header_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` strings of a safetensors file's bytes (ValueError if the
    header is not there)."""
    if len(data) < 8:
        raise ValueError("shorter than a safetensors header")
    n = int.from_bytes(data[:8], "little")
    if not 0 < n <= len(data) - 8:
        raise ValueError("header length beyond the end of the file")
    header = json.loads(data[8:8 + n])
    if not isinstance(header, dict):
        raise ValueError("the header is not a JSON object")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise ValueError("__metadata__ is not an object")
    return {str(k): str(v) for k, v in meta.items()}


def load_state(path: str | Path, learner: torch.nn.Module, opt: Any,
               generator: torch.Generator) -> dict[str, Any]:
    """Restore what :func:`save_state` wrote into ``learner``, ``opt``, ``generator`` and
    the global RNGs; returns ``{"step", "loss_sum", "since", "extra", "digest", "evals"}``
    (``digest`` ``None`` and ``evals`` empty for a checkpoint without a run binding).

    Every defect of the file (truncated, another kind of file, a finished run's model-only
    checkpoint, wrong names or shapes) is one :class:`MetasymError` naming the file."""
    path = Path(path)
    tensors, meta = read_checkpoint(path)
    if meta.get("format") != FORMAT:
        raise _bad(path, "holds model weights only, not a resumable training state "
                         "(written by an older metasym, or not by `metasym train`)")
    try:
        step, since = int(meta["step"]), int(meta["since"])
        loss_sum = float(meta["loss_sum"])
        groups = json.loads(meta["param_groups"])
        py = json.loads(meta["python_rng"])
        np_state = json.loads(meta["numpy_rng"])
        extra = json.loads(meta.get("extra", "{}"))
        evals = [int(e) for e in json.loads(meta.get("evals", "[]"))]
    except (KeyError, ValueError, TypeError) as e:
        raise _bad(path, f"corrupt checkpoint metadata ({type(e).__name__}: {e})") from None
    own = learner.state_dict()
    model_sd = {k: tensors[k] for k in own if k in tensors}
    missing = [k for k in own if k not in tensors]
    if missing:
        raise _bad(path, f"missing tensors {', '.join(missing)} (a checkpoint of another model?)")
    for k, v in model_sd.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise _bad(path, f"tensor {k} has shape {tuple(v.shape)}, the run's model needs "
                             f"{tuple(own[k].shape)}")
        if not torch.isfinite(v).all():
            raise _bad(path, f"tensor {k} holds NaN or infinity")
    with torch.no_grad():
        for k, v in model_sd.items():
            own[k].copy_(v)  # in place: keeps strides and aliases (fast-path U.T)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("optim."):
            _, idx, name = k.split(".", 2)
            state.setdefault(int(idx), {})[name] = v
    try:
        opt.load_state_dict({"state": state, "param_groups": groups})
        for p, st in zip((p for g in opt.param_groups for p in g["params"]),
                         (opt.state[p] for g in opt.param_groups for p in g["params"])):
            for name, val in st.items():
                if isinstance(val, torch.Tensor) and name != "step":
                    if val.shape != p.shape:
                        raise ValueError(f"optimiser state {name} has shape "
                                         f"{tuple(val.shape)}, parameter has {tuple(p.shape)}")
                    if val.stride() != p.stride():
                        # fused Adam walks state and parameter as flat buffers: the state
                        # must have the parameter's layout (MSRLinear stores U column-major)
                        st[name] = torch.empty_like(p).copy_(val)
        generator.set_state(tensors["rng.sampler"])
        torch.set_rng_state(tensors["rng.torch"])
        random.setstate((py[0], tuple(py[1]), py[2]))
        np.random.set_state(np_state)
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise _bad(path, f"cannot restore the training state ({msg})") from None
    return {"step": step, "loss_sum": loss_sum, "since": since, "extra": extra,
            "digest": meta.get("digest"), "evals": evals}


def save_checkpoint(path: str | Path, learner: torch.nn.Module, opt: Any,
                    generator: torch.Generator, *, metrics_file: Any = None, step: int,
                    loss_sum: float, since: int, extra: dict[str, Any] | None = None,
                    binding: dict[str, Any] | None = None) -> None:
    """:func:`save_state`, after flushing and ``fsync``-ing the open ``metrics.jsonl``
    (``metrics_file``, if any), so a checkpoint at ``step`` never claims rows that are not
    on disk."""
    if metrics_file is not None and not metrics_file.closed:
        try:
            metrics_file.flush()
            os.fsync(metrics_file.fileno())
        except OSError as e:
            raise write_error(metrics_file.name, e) from None
    save_state(path, learner, opt, generator, step=step, loss_sum=loss_sum, since=since,
               extra=extra, binding=binding)


def load_resumable(path: str | Path, learner: torch.nn.Module, opt: Any,
                   generator: torch.Generator, *, steps: int) -> dict[str, Any]:
    """:func:`load_state` for ``--resume``: also refuses a run that already reached
    ``steps`` (one line saying how to extend it) -- unless it stopped after its last step
    but before writing ``final.json``: resuming then only runs the final evaluation."""
    st = load_state(path, learner, opt, generator)
    finished = (Path(path).parent / "final.json").is_file()
    if st["step"] > steps or (st["step"] == steps and finished):
        raise MetasymError(f"{Path(path).parent} is already complete ({st['step']} of {steps} "
                           f"steps); pass --steps N with N > {st['step']} to train further")
    return st


def reopen_run(out_dir: str | Path, step: int) -> list[dict]:
    """Prepare a run folder to continue from its checkpoint at ``step``: cut
    ``metrics.jsonl`` back to the rows the checkpoint covers (:func:`truncate_metrics`),
    remove ``final.json``; returns the kept rows."""
    out_dir = Path(out_dir)
    history = truncate_metrics(out_dir / "metrics.jsonl", step)
    (out_dir / "final.json").unlink(missing_ok=True)
    return history


# ----- stopping: non-finite values, signals ------------------------------------------------------
def all_finite(loss: torch.Tensor, params: list[torch.Tensor]) -> bool:
    """Whether the loss and every parameter's gradient are finite (one sync)."""
    parts = [loss.reshape(1)] + [p.grad.sum().reshape(1) for p in params
                                 if p.grad is not None]
    return bool(torch.isfinite(torch.cat(parts)).all())


def non_finite_error(loss: torch.Tensor, step: int, last_saved: int | None,
                     out_dir: str | Path | None) -> NonFiniteError:
    """The :class:`NonFiniteError` for a non-finite loss or meta-gradient at ``step``,
    naming the last good checkpoint (``last_saved``, ``None`` when none was written)."""
    import math

    what = "loss" if not math.isfinite(float(loss)) else "meta-gradient"
    where = (f"the last good checkpoint (step {last_saved}) is kept in {out_dir}; resume "
             f"from it with --resume {out_dir}"
             if last_saved is not None and out_dir is not None else "no checkpoint was written")
    return NonFiniteError(
        f"non-finite {what} ({float(loss)}) at step {step}: training stopped; {where} "
        "(NaN/inf in the data, or a diverging inner loop: try --clip-grad or a smaller "
        "--outer-lr / --inner-lr)")


def interrupted(signum: int, step: int, out_dir: str | Path) -> TrainingInterrupted:
    """The :class:`TrainingInterrupted` for ``signum`` caught at ``step`` (checkpoint
    saved in ``out_dir``)."""
    name = signal.Signals(signum).name
    return TrainingInterrupted(
        f"{name} at step {step}: checkpoint saved in {out_dir}; continue with "
        f"`metasym train --resume {out_dir}`", signum)


# ----- metrics.jsonl ---------------------------------------------------------------------------
def read_metrics(path: str | Path, step: int) -> list[dict]:
    """The complete rows of ``metrics.jsonl`` with ``step <= step``, stopping at the
    first torn or foreign line (what a crash can leave behind)."""
    path = Path(path)
    kept: list[dict] = []
    if os.path.lexists(path):
        text = read_text_file(path, "metrics.jsonl", max_bytes=2**31, errors="replace")
        for line in text.splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                break  # a torn line: everything after it is suspect
            if not isinstance(row, dict) or not isinstance(row.get("step"), int):
                break
            if row["step"] > step:
                break
            kept.append(row)
    return kept


def truncate_metrics(path: str | Path, step: int) -> list[dict]:
    """Keep the rows of :func:`read_metrics` (what the checkpoint at ``step`` covers),
    drop everything after (rows written after the checkpoint, a torn last line), rewrite
    the file atomically and return the kept rows."""
    kept = read_metrics(path, step)
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in kept))
    return kept


# ----- signals ---------------------------------------------------------------------------------
class StopSignals:
    """Context manager: SIGINT/SIGTERM set :attr:`signum` instead of killing the process,
    so the training loop can save a checkpoint at the next step boundary and stop.

    A second signal of either kind while the first is being handled restores the default
    behaviour (a user pressing Ctrl-C twice gets out at once). Only installs handlers in
    the main thread; elsewhere it is a no-op."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handler(self, signum: int, frame: Any) -> None:
        if self.signum is not None:  # second signal: give up gracefully-ness
            self._restore()
            raise KeyboardInterrupt
        self.signum = signum

    def _restore(self) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)
        self._old.clear()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for s in (signal.SIGINT, signal.SIGTERM):
                self._old[s] = signal.signal(s, self._handler)
        return self

    def __exit__(self, *exc: Any) -> None:
        self._restore()


def close_metrics(metrics_file, quiet: bool = False) -> None:
    """Flush, fsync and close an open ``metrics.jsonl`` (``None`` is ignored), so that
    every line written before a crash or signal is on disk. A failure to write is a
    :class:`~metasym.errors.WriteError`, or ignored when ``quiet`` (another error is
    already on its way: it must not be masked)."""
    if metrics_file is None or metrics_file.closed:
        return
    try:
        try:
            metrics_file.flush()
            os.fsync(metrics_file.fileno())
        finally:
            metrics_file.close()
    except OSError as e:
        if not quiet:
            raise write_error(metrics_file.name, e) from None
