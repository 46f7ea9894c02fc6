"""Meta-learning symmetries by reparameterization (PyTorch).

The learning layer of metasym: the MSR layer and MAML baselines
(:mod:`~metasym.learning.layers`), a functional MAML meta-learner with a closed-form
fast path for the MSR layer (:mod:`~metasym.learning.maml`), the paper's task
distributions (:mod:`~metasym.learning.tasks`), training runs
(:mod:`~metasym.learning.training`) and the learned-versus-analytic comparison
(:mod:`~metasym.learning.compare`), 2-D convolutions for image symmetries
(:mod:`~metasym.learning.conv2d`, :mod:`~metasym.learning.images`), and resumable,
distributed runs (:mod:`~metasym.learning.checkpoint`,
:mod:`~metasym.learning.distributed`). Names load lazily (the first use imports torch), so
the command line starts fast; the layers below
(:mod:`metasym.groups`, :mod:`metasym.representations`) never do.
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy: `import metasym.learning.<submodule>` (e.g. by the command line) must not pay for
# importing torch until a name that needs it is used.
_LAZY = {
    "Conv2dMAML": "metasym.learning.conv2d",
    "ConvMetaLearner": "metasym.learning.images",
    "FullMSRConv2d": "metasym.learning.conv2d",
    "ImageTrainConfig": "metasym.learning.images",
    "MSRConv2d": "metasym.learning.conv2d",
    "NonFiniteError": "metasym.learning.checkpoint",
    "SquareMSRConv2d": "metasym.learning.conv2d",
    "TrainingInterrupted": "metasym.learning.checkpoint",
    "World": "metasym.learning.distributed",
    "compare_image_run": "metasym.learning.images",
    "image_problem": "metasym.learning.images",
    "load_image_run": "metasym.learning.images",
    "make_image_tasks": "metasym.learning.images",
    "plot_image_comparison": "metasym.learning.images",
    "train_images": "metasym.learning.images",
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
    "Conv2dMAML",
    "ConvMetaLearner",
    "FullMSRConv2d",
    "ImageTrainConfig",
    "MSRConv2d",
    "NonFiniteError",
    "SquareMSRConv2d",
    "TrainingInterrupted",
    "World",
    "compare_image_run",
    "image_problem",
    "load_image_run",
    "make_image_tasks",
    "plot_image_comparison",
    "train_images",
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
