"""Meta-learning symmetries by reparameterization (PyTorch).

The learning layer of metasym: the MSR layer and MAML baselines
(:mod:`~metasym.learning.layers`), a functional MAML meta-learner with a closed-form
fast path for the MSR layer (:mod:`~metasym.learning.maml`), the paper's task
distributions (:mod:`~metasym.learning.tasks`), training runs
(:mod:`~metasym.learning.training`) and the learned-versus-analytic comparison
(:mod:`~metasym.learning.compare`). Names load lazily (the first use imports torch), so
the command line starts fast; the layers below
(:mod:`metasym.groups`, :mod:`metasym.representations`) never do.
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy: `import metasym.learning.<submodule>` (e.g. by the command line) must not pay for
# importing torch until a name that needs it is used.
_LAZY = {
    "Answer": "metasym.learning.tasks",
    "Conv1dLayer": "metasym.learning.layers",
    "FullyConnected": "metasym.learning.layers",
    "LocallyConnected1d": "metasym.learning.layers",
    "MODEL_NAMES": "metasym.learning.registry",
    "MSRLinear": "metasym.learning.layers",
    "MetaLearner": "metasym.learning.maml",
    "PROBLEMS": "metasym.learning.registry",
    "TaskBatcher": "metasym.learning.training",
    "TaskSet": "metasym.learning.tasks",
    "TrainConfig": "metasym.learning.training",
    "adjusted_rand_index": "metasym.learning.compare",
    "build_model": "metasym.learning.layers",
    "compare_run": "metasym.learning.compare",
    "dense_weight": "metasym.learning.layers",
    "equivariant_problem": "metasym.learning.tasks",
    "export_linear": "metasym.learning.layers",
    "inner_parameter_names": "metasym.learning.layers",
    "load_npz": "metasym.learning.tasks",
    "load_run": "metasym.learning.training",
    "loop_task_losses": "metasym.learning.maml",
    "make_problem": "metasym.learning.tasks",
    "mean_ci95": "metasym.learning.training",
    "plot_comparison": "metasym.learning.compare",
    "principal_cosines": "metasym.learning.compare",
    "rank_problem": "metasym.learning.tasks",
    "recover_partition": "metasym.learning.compare",
    "save_npz": "metasym.learning.tasks",
    "shift_equivariance_error": "metasym.learning.compare",
    "span_error": "metasym.learning.compare",
    "subspace_distance": "metasym.learning.compare",
    "train": "metasym.learning.training",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))

__all__ = [
    "MODEL_NAMES",
    "PROBLEMS",
    "Answer",
    "Conv1dLayer",
    "FullyConnected",
    "LocallyConnected1d",
    "MSRLinear",
    "MetaLearner",
    "TaskBatcher",
    "TaskSet",
    "TrainConfig",
    "adjusted_rand_index",
    "build_model",
    "compare_run",
    "dense_weight",
    "equivariant_problem",
    "export_linear",
    "inner_parameter_names",
    "load_npz",
    "load_run",
    "loop_task_losses",
    "make_problem",
    "mean_ci95",
    "plot_comparison",
    "principal_cosines",
    "rank_problem",
    "recover_partition",
    "save_npz",
    "shift_equivariance_error",
    "span_error",
    "subspace_distance",
    "train",
]
