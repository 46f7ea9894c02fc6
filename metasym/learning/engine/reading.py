"""Reading a run back: rebuild its learner from the checkpoint, compare it with its
analytic answer, hand its learned sharing matrices to discovery."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from metasym.errors import MetasymError
from metasym.learning.engine.runfolder import CHECKPOINT, RunRecord, read_run

__all__ = ["LoadedRun", "load_run", "load_learner_state", "compare_run", "learned_sharing"]


@dataclass
class LoadedRun:
    """A run folder read back: its :class:`~metasym.learning.engine.RunRecord`
    (config, problem kind, status), the learner with the checkpoint's weights, and the
    task source (``None`` when not rebuilt)."""

    record: RunRecord
    learner: Any
    source: Any

    @property
    def config(self) -> Any:
        return self.record.config

    @property
    def problem(self) -> Any:
        return self.record.problem


def load_learner_state(learner: torch.nn.Module, path: Path) -> None:
    """Copy the model weights of a checkpoint into ``learner`` (names and shapes checked,
    non-finite values refused; nothing executable is read: safetensors)."""
    from metasym.learning.engine.checkpoint import read_checkpoint

    tensors, _ = read_checkpoint(path)
    own = learner.state_dict()
    missing = [k for k in own if k not in tensors]
    if missing:
        raise MetasymError(f"{path}: missing tensors {', '.join(missing)} (a checkpoint of "
                           "another model?)")
    for k, v in own.items():
        t = tensors[k]
        if tuple(t.shape) != tuple(v.shape):
            raise MetasymError(f"{path}: tensor {k} has shape {tuple(t.shape)}, the run's "
                               f"model needs {tuple(v.shape)}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise MetasymError(f"{path}: tensor {k} holds NaN or infinity")
    with torch.no_grad():
        for k, v in own.items():
            v.copy_(tensors[k])  # in place: keeps strides and aliases (fast-path U.T)
    learner.eval()


def _rebuild(record: RunRecord, load_tasks: bool, learner: Any, source: Any) -> LoadedRun:
    prob, cfg = record.problem, record.config
    if learner is None:
        if load_tasks and source is None:
            source = prob.task_source(cfg, torch.device("cpu"))
        torch.manual_seed(cfg.seed)
        learner = prob.learner(cfg, source if source is not None else prob.shell_source(record))
    load_learner_state(learner, record.path / CHECKPOINT)
    return LoadedRun(record, learner, source)


def load_run(run_dir: str | Path, *, load_tasks: bool = True, problem: Any = None,
             learner: Any = None, source: Any = None) -> LoadedRun:
    """Rebuild a run: its learner with the checkpoint's weights and (``load_tasks``) its
    tasks, regenerated from the recorded seeds or re-read from the recorded data file.

    A user problem (``kind`` ``custom``) cannot be rebuilt from its folder alone: pass the
    ``learner`` (and ``source``) you trained, or use the file-level :func:`compare_run` /
    :func:`learned_sharing`, which need neither."""
    record = read_run(run_dir)
    if problem is not None:
        record.problem = problem
    return _rebuild(record, load_tasks, learner, source)


def compare_run(run_dir: str | Path, *, n_tasks: int = 300, problem: Any = None,
                learner: Any = None, source: Any = None) -> Any:
    """Learned versus analytic for a run (a
    :class:`~metasym.learning.engine.Comparison`); an unfinished run is compared at its
    checkpoint, with a note saying so."""
    if isinstance(n_tasks, bool) or not isinstance(n_tasks, int) or n_tasks < 1:
        raise MetasymError(f"--tasks must be a positive integer, got {n_tasks!r}")
    record = read_run(run_dir)
    if problem is not None:
        record.problem = problem
    if getattr(record.problem, "file_level", False) and learner is None:
        result = record.problem.compare(record, None, source, n_tasks)
    else:
        loaded = _rebuild(record, True, learner, source)
        result = record.problem.compare(record, loaded.learner, loaded.source, n_tasks)
    note = record.status_note()
    if note:
        result.notes.insert(0, note)
        result.figures["finished"] = False
        result.figures["checkpoint_step"] = record.step
    return result


def learned_sharing(run_dir: str | Path) -> tuple[list[Any], RunRecord]:
    """The learned sharing matrices of a run's layers (for ``discover``) and its record."""
    record = read_run(run_dir)
    if getattr(record.problem, "file_level", False):
        return record.problem.sharing(record, None), record
    loaded = _rebuild(record, False, None, None)
    return record.problem.sharing(record, loaded.learner), record
