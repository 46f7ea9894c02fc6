"""Meta-learning symmetries by reparameterization (PyTorch).

The learning layer of metasym:

* :mod:`~metasym.learning.engine`: the one meta-training engine (:func:`fit`,
  :class:`RunConfig`, problem plug-ins, run folders, checkpoints, exact resume, torchrun),
  and the public API for a problem of your own;
* :mod:`~metasym.learning.problems`: the built-in problem kinds (1-D regression, images,
  few-shot classification);
* :mod:`~metasym.learning.layers`, :mod:`~metasym.learning.conv2d`: the MSR layers and
  MAML baselines; :mod:`~metasym.learning.maml`: the functional MAML learner with a
  closed-form fast path for the MSR layer;
* :mod:`~metasym.learning.convnet`, :mod:`~metasym.learning.fewshot`: deep MSR networks
  (conv4 with a factorised ``U`` in every layer) and few-shot episodes;
* :mod:`~metasym.learning.tasks`, :mod:`~metasym.learning.images`: task distributions;
  :mod:`~metasym.learning.compare`: learned versus analytic.

Names load lazily (the first use imports torch), so the command line starts fast; the
layers below (:mod:`metasym.groups`, :mod:`metasym.representations`) never do.
"""

from __future__ import annotations

import importlib
from typing import Any

# Lazy: `import metasym.learning.<submodule>` (e.g. by the command line) must not pay for
# importing torch until a name that needs it is used.
_LAZY = {
    # the engine
    "RunConfig": "metasym.learning.engine",
    "fit": "metasym.learning.engine",
    "FitResult": "metasym.learning.engine",
    "Problem": "metasym.learning.engine",
    "register_problem": "metasym.learning.engine",
    "get_problem": "metasym.learning.engine",
    "TaskSource": "metasym.learning.engine",
    "ArrayTaskSource": "metasym.learning.engine",
    "RegressionBatch": "metasym.learning.engine",
    "Comparison": "metasym.learning.engine",
    "load_run": "metasym.learning.engine",
    "compare_run": "metasym.learning.engine",
    "learned_sharing": "metasym.learning.engine",
    "mean_ci95": "metasym.learning.engine",
    "NonFiniteError": "metasym.learning.engine",
    "TrainingInterrupted": "metasym.learning.engine",
    "World": "metasym.learning.engine",
    # layers and learners
    "Conv1dLayer": "metasym.learning.layers",
    "FullyConnected": "metasym.learning.layers",
    "LocallyConnected1d": "metasym.learning.layers",
    "MSRLinear": "metasym.learning.layers",
    "build_model": "metasym.learning.layers",
    "dense_weight": "metasym.learning.layers",
    "export_linear": "metasym.learning.layers",
    "inner_parameter_names": "metasym.learning.layers",
    "MetaLearner": "metasym.learning.maml",
    "loop_task_losses": "metasym.learning.maml",
    "Conv2dMAML": "metasym.learning.conv2d",
    "FullMSRConv2d": "metasym.learning.conv2d",
    "MSRConv2d": "metasym.learning.conv2d",
    "SquareMSRConv2d": "metasym.learning.conv2d",
    "ConvMetaLearner": "metasym.learning.images",
    "ConvNet": "metasym.learning.convnet",
    "build_convnet": "metasym.learning.convnet",
    "FewShotLearner": "metasym.learning.fewshot",
    "EpisodeSource": "metasym.learning.fewshot",
    "Augmentation": "metasym.learning.augment",
    # tasks
    "Answer": "metasym.learning.tasks",
    "TaskSet": "metasym.learning.tasks",
    "equivariant_problem": "metasym.learning.tasks",
    "load_npz": "metasym.learning.tasks",
    "make_problem": "metasym.learning.tasks",
    "rank_problem": "metasym.learning.tasks",
    "save_npz": "metasym.learning.tasks",
    "image_problem": "metasym.learning.images",
    "make_image_tasks": "metasym.learning.images",
    # comparison
    "adjusted_rand_index": "metasym.learning.compare",
    "principal_cosines": "metasym.learning.compare",
    "recover_partition": "metasym.learning.compare",
    "shift_equivariance_error": "metasym.learning.compare",
    "span_error": "metasym.learning.compare",
    "subspace_distance": "metasym.learning.compare",
    # names (torch-free)
    "MODEL_NAMES": "metasym.learning.registry",
    "PROBLEMS": "metasym.learning.registry",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = list(_LAZY)
