"""Names of the problems and models ``metasym train`` knows (torch-free, so that the
command line can build its parser without importing torch)."""

from __future__ import annotations

__all__ = ["PROBLEMS", "MODEL_NAMES"]

#: Task distributions of :func:`metasym.learning.tasks.make_problem`.
PROBLEMS = ("rank1", "rank2", "rank5", "equivariant")
#: Models of :func:`metasym.learning.layers.build_model`.
MODEL_NAMES = ("msr-fc", "oracle", "maml-fc", "maml-lc", "maml-conv")
