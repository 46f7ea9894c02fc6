r"""Statistics the learning layer reports: a mean with its 95% t-interval half-width.

Used by the engine's evaluation, the comparisons and the tables alike; NumPy and SciPy
only (no torch import).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["mean_ci95", "t_quantile_975"]


def t_quantile_975(df: int) -> float:
    r"""The 0.975 quantile of Student's t with ``df`` degrees of freedom
    (``scipy.special.stdtrit``; ``scipy.stats`` is avoided: it takes ~0.5 s to import)."""
    from scipy.special import stdtrit

    return float(stdtrit(df, 0.975))


def mean_ci95(values: Any) -> tuple[float, float]:
    r"""Mean and 95% t-interval half-width :math:`t_{0.975, n-1}\, s/\sqrt{n}`.

    Non-finite values propagate (the mean is NaN), never silently dropped.

    >>> m, h = mean_ci95(np.array([1.0, 2.0, 3.0]))
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    a = np.asarray(values, dtype=np.float64).ravel()
    if a.size < 2:
        return float(a.mean()) if a.size else float("nan"), float("nan")
    sem = a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(t_quantile_975(a.size - 1) * sem)
