r"""The meta-training engine: one training loop, problems as plug-ins, run folders.

Public API (see ``docs/engine.md`` and the tutorial ``docs/examples/plot_05_own_problem.py``):

* :class:`RunConfig`: the run's settings (common fields plus the problem's options);
* :func:`fit`: meta-train, writing a run folder (checkpoints, exact resume, signals,
  the non-finite stop, torchrun data parallelism, progress, ``final.json``);
* :class:`Problem`, :func:`register_problem`, :func:`get_problem`: problem kinds;
* :class:`TaskSource`, :class:`ArrayTaskSource`, :class:`RegressionBatch`,
  :class:`Learner`: what a problem gives the engine;
* :func:`load_run`, :func:`compare_run`, :func:`learned_sharing`: read a finished (or
  interrupted) run back, compare it with its analytic answer, hand its learned sharing
  matrices to discovery.

May import the ground floor (``registry``, ``limits``, ``stats``); problems only through
the registry, by name (the one exception: a user's learner runs as ``problems.custom``).
"""

from __future__ import annotations

from metasym.learning.engine.checkpoint import NonFiniteError, TrainingInterrupted
from metasym.learning.engine.config import RESUMABLE_CHANGES, RunConfig
from metasym.learning.engine.distributed import World
from metasym.learning.engine.loop import FitResult, fit
from metasym.learning.engine.protocol import (
    ArrayTaskSource,
    Comparison,
    LearnedSharing,
    Learner,
    Problem,
    RegressionBatch,
    TaskBatch,
    TaskSource,
)
from metasym.learning.engine.reading import LoadedRun, compare_run, learned_sharing, load_run
from metasym.learning.engine.registry import get_problem, problem_names, register_problem
from metasym.learning.engine.runfolder import RunRecord, read_run
from metasym.learning.stats import mean_ci95

__all__ = [
    "RunConfig",
    "RESUMABLE_CHANGES",
    "fit",
    "FitResult",
    "Problem",
    "register_problem",
    "get_problem",
    "problem_names",
    "TaskSource",
    "TaskBatch",
    "ArrayTaskSource",
    "RegressionBatch",
    "Learner",
    "Comparison",
    "LearnedSharing",
    "LoadedRun",
    "load_run",
    "compare_run",
    "learned_sharing",
    "read_run",
    "RunRecord",
    "World",
    "TrainingInterrupted",
    "NonFiniteError",
    "mean_ci95",
]
