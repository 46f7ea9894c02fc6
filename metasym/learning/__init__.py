"""Meta-learning symmetries by reparameterization (PyTorch).

The learning layer of metasym, in rooms (data flows up the list; see ``docs/engine.md``):

* :mod:`~metasym.learning.models`: MSR layers (``vec(W) = U v``, dense, field-block and
  square ``U``), MAML baselines, conv banks and the deep conv4 network;
* :mod:`~metasym.learning.data`: task distributions (1-D, images), few-shot episodes, the
  glyph set, real-data loaders and augmentations with their exact groups;
* :mod:`~metasym.learning.learners`: the functional MAML learner with a closed-form fast
  path for the MSR layer, and the image and few-shot meta-learners;
* :mod:`~metasym.learning.comparison`: learned versus analytic, per layer and per network;
* :mod:`~metasym.learning.engine`: the one meta-training engine (:func:`fit`,
  :class:`RunConfig`, run folders, checkpoints, exact resume, torchrun) and the public API
  for a problem of your own; :mod:`~metasym.learning.problems`: the built-in problem kinds
  (1-D regression, images, few-shot classification), plugged into it;
* :mod:`~metasym.learning.experiments`: the paper's tables (``metasym reproduce``).

Beside them, the ground floor every room may use: :mod:`~metasym.learning.registry` (names),
:mod:`~metasym.learning.limits` (size limits), :mod:`~metasym.learning.stats` (intervals).
The modules' old flat paths (``metasym.learning.images`` ...) still import, with a
:class:`DeprecationWarning`, for one release.

Names load lazily (the first use imports torch), so the command line starts fast; the
layers below (:mod:`metasym.groups`, :mod:`metasym.representations`) never do.
"""

from __future__ import annotations

import importlib
from typing import Any

from metasym.learning._moved import install as _install_moved_modules

_install_moved_modules()

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
    "Conv1dLayer": "metasym.learning.models.linear",
    "FullyConnected": "metasym.learning.models.linear",
    "LocallyConnected1d": "metasym.learning.models.linear",
    "MSRLinear": "metasym.learning.models.linear",
    "build_model": "metasym.learning.models.linear",
    "dense_weight": "metasym.learning.models.linear",
    "export_linear": "metasym.learning.models.linear",
    "inner_parameter_names": "metasym.learning.models.linear",
    "MetaLearner": "metasym.learning.learners.maml",
    "loop_task_losses": "metasym.learning.learners.maml",
    "Conv2dMAML": "metasym.learning.models.conv",
    "FullMSRConv2d": "metasym.learning.models.conv",
    "MSRConv2d": "metasym.learning.models.conv",
    "SquareMSRConv2d": "metasym.learning.models.conv",
    "ConvMetaLearner": "metasym.learning.learners.conv",
    "ConvNet": "metasym.learning.models.convnet",
    "build_convnet": "metasym.learning.models.convnet",
    "FewShotLearner": "metasym.learning.learners.fewshot",
    "EpisodeSource": "metasym.learning.data.episodes",
    "Augmentation": "metasym.learning.data.augment",
    # tasks
    "Answer": "metasym.learning.data.tasks",
    "TaskSet": "metasym.learning.data.tasks",
    "equivariant_problem": "metasym.learning.data.tasks",
    "load_npz": "metasym.learning.data.tasks",
    "make_problem": "metasym.learning.data.tasks",
    "rank_problem": "metasym.learning.data.tasks",
    "save_npz": "metasym.learning.data.tasks",
    "image_problem": "metasym.learning.data.images",
    "make_image_tasks": "metasym.learning.data.images",
    # comparison
    "adjusted_rand_index": "metasym.learning.comparison.subspaces",
    "principal_cosines": "metasym.learning.comparison.subspaces",
    "recover_partition": "metasym.learning.comparison.subspaces",
    "shift_equivariance_error": "metasym.learning.comparison.subspaces",
    "span_error": "metasym.learning.comparison.subspaces",
    "subspace_distance": "metasym.learning.comparison.subspaces",
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
