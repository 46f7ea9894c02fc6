"""Names of the problems and models ``metasym train`` knows (torch-free, so that the
command line can build its parser without importing torch)."""

from __future__ import annotations

__all__ = ["PROBLEMS", "MODEL_NAMES", "IMAGE_PROBLEMS", "CONV_MODEL_NAMES", "FEWSHOT_PROBLEMS",
           "FEWSHOT_MODEL_NAMES"]

#: Task distributions of :func:`metasym.learning.data.tasks.make_problem`.
PROBLEMS = ("rank1", "rank2", "rank5", "equivariant")
#: Models of :func:`metasym.learning.models.linear.build_model`.
MODEL_NAMES = ("msr-fc", "oracle", "maml-fc", "maml-lc", "maml-conv")
#: The image problems of :mod:`metasym.learning.data.images` (lifting convolutions).
IMAGE_PROBLEMS = ("c4", "d4", "rot8", "rot8_flip")
#: Models of :func:`metasym.learning.models.conv.build_conv_model` (image problems only).
CONV_MODEL_NAMES = ("msr-conv", "msr-conv-square", "maml-conv", "oracle", "msr-conv-full")
#: Few-shot classification (:mod:`metasym.learning.data.episodes`): the offline glyph set, and
#: real Omniglot / miniImageNet folders given with ``--data``.
FEWSHOT_PROBLEMS = ("glyphs", "omniglot", "miniimagenet")
#: Models of :func:`metasym.learning.models.convnet.build_convnet` (few-shot problems only).
FEWSHOT_MODEL_NAMES = ("msr", "msr-square", "msr-kron", "maml", "oracle")
