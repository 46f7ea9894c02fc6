"""Size limits of the learning layer: refuse before allocating, and say what to use.

Every dense tensor the training loop builds is bounded by :data:`MAX_DENSE_ENTRIES`
entries (float32: 1 GiB):

* the MSR layer's dense ``U`` (``n_out * n_in * k``), for ``msr-fc`` and ``oracle``;
* a MAML baseline's weight (``n_out * n_in``);
* the per-task adapted weights of one batch (``tasks * n_out * n_in``), for the training
  batch (``--tasks-per-step``) and for an evaluation chunk (up to 512 tasks).

Task data is bounded separately (``metasym.learning.data.tasks.MAX_FLOATS``), as are dense
sharing bases (:data:`metasym.representations.sharing.DENSE_BASIS_LIMIT`) and group
computations (:mod:`metasym._limits`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.errors import MetasymError, SpecError, TooLargeError

__all__ = ["MAX_DENSE_ENTRIES", "MAX_INNER_STEPS", "check_training_size", "check_positive",
           "check_integer"]

#: Largest dense tensor (entries) the learning layer will allocate.
MAX_DENSE_ENTRIES = 2**28
#: Most inner SGD steps (the generic path records a graph per step).
MAX_INNER_STEPS = 10_000
#: Tasks per evaluation chunk (:meth:`metasym.learning.learners.maml.MetaLearner.evaluate`).
EVAL_CHUNK = 512


def check_training_size(cfg: Any, tasks: Any, k: int | None) -> None:
    """Raise :class:`~metasym.errors.TooLargeError` when ``cfg`` on ``tasks`` would build
    a dense tensor above :data:`MAX_DENSE_ENTRIES` (before anything is allocated)."""
    m, n = int(tasks.n_out), int(tasks.n_in)
    mn = m * n
    if cfg.inner_steps > MAX_INNER_STEPS:
        raise TooLargeError(f"inner-steps {cfg.inner_steps} exceeds the limit "
                            f"{MAX_INNER_STEPS}")
    if cfg.model in ("msr-fc", "oracle") and k is not None and mn * k > MAX_DENSE_ENTRIES:
        raise TooLargeError(
            f"{cfg.model}: a dense U of {mn} x {k} = {mn * k} entries exceeds the limit "
            f"{MAX_DENSE_ENTRIES}; use a smaller --k, or build the exact pattern's U sparse "
            "(SharingPattern.basis(sparse=True)) or from its generators instead")
    if mn > MAX_DENSE_ENTRIES:
        raise TooLargeError(f"a {m} x {n} weight has {mn} entries, above the limit "
                            f"{MAX_DENSE_ENTRIES}; use a smaller layer (or a factorised U)")
    per_task = mn if cfg.model != "maml-conv" else 0
    for what, T in (("--tasks-per-step", cfg.tasks_per_step),
                    ("an evaluation chunk", min(EVAL_CHUNK, cfg.eval_tasks))):
        if T * per_task > MAX_DENSE_ENTRIES:
            hint = ("lower --tasks-per-step (or use --chunk-size on the generic path)"
                    if what.startswith("--") else "lower --eval-tasks")
            raise TooLargeError(f"{what}: {T} tasks x {m} x {n} adapted weights = "
                                f"{T * per_task} entries exceeds the limit "
                                f"{MAX_DENSE_ENTRIES}; {hint}")


def check_positive(**sizes: Any) -> None:
    """Refuse any size that is not a positive integer (Python or numpy; not ``bool``):
    one :class:`~metasym.errors.SpecError` line naming the argument.

    >>> check_positive(channels=8, kernel=3)
    """
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise SpecError(f"{name} must be a positive integer, got {value!r}")


def check_integer(name: str, value: Any, low: int) -> int:
    """``value`` as an ``int`` if it is an integer (Python or numpy; not ``bool``) of at
    least ``low``, else one :class:`~metasym.errors.MetasymError` line naming ``name``.

    >>> check_integer("size", 28, 8)
    28
    """
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise MetasymError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
