r"""Partial symmetries: patterns whose sharing no global group explains.

A valid convolution ``n -> n-k+1`` shares each tap along a diagonal, yet its
automorphism group is trivial: the boundary rows and columns are all different. Its
sharing comes from *partial* maps, defined only where both ends exist.

* :func:`partial_shifts` -- the shifts :math:`(y, x) \mapsto (y + a, x + b)` that preserve
  every entry where both ends are inside the matrix (``-1`` included), on an overlap
  holding at least half of the supported entries (so that trivial agreements between
  two empty corners do not count).
* :func:`diagonal_structure` -- whether the label of a supported entry depends only on
  :math:`x - y` (constant diagonals, "Toeplitz"): the 1-D translation-like case.
* :func:`cyclic_embedding` -- the smallest group whose orbit pattern, restricted to the
  observed indices and cut by the observed support, *is* the pattern: for 1-D
  translation-like patterns, the cyclic translations :math:`\mathbb{Z}_N` of a padded line
  of :math:`N \ge \max(m, n)` points, inputs at positions ``0..n-1`` and outputs at
  ``o..o+m-1`` (mod N). The candidate is verified by building the orbit pattern of
  ``cyclic:N`` with :func:`~metasym.representations.sharing_pattern` and comparing.

Only 1-D (diagonal) structure is searched for; 2-D translations of image grids and other
partial maps are not (yet).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.groups import cyclic, natural
from metasym.representations import SharingPattern, sharing_pattern

__all__ = ["partial_shifts", "diagonal_structure", "cyclic_embedding", "partial_symmetries"]

#: Patterns with more entries than this are searched for shifts up to |a|, |b| <= 8 only.
SHIFT_SEARCH_LIMIT = 20_000


def partial_shifts(pattern: SharingPattern, min_overlap: float = 0.5,
                   max_results: int = 20) -> list[tuple[int, int]]:
    r"""Shifts ``(a, b)`` (output ``y -> y + a``, input ``x -> x + b``) preserving every
    entry whose image lies inside the matrix, with ``a > 0`` or (``a == 0`` and ``b > 0``)
    (the inverse of a partial shift is one too), sorted by :math:`|a| + |b|`."""
    L = pattern.labels
    m, n = L.shape
    total = int((L >= 0).sum())
    if total == 0:
        return []
    if m * n > SHIFT_SEARCH_LIMIT:
        a_range, b_range = range(0, min(m, 9)), range(-min(n - 1, 8), min(n, 9))
    else:
        a_range, b_range = range(0, m), range(-(n - 1), n)
    found = []
    for a in a_range:
        for b in b_range:
            if a == 0 and b <= 0:
                continue
            src = L[0:m - a, max(0, -b):n - max(0, b)]
            dst = L[a:m, max(0, b):n - max(0, -b) if b < 0 else n]
            if src.size == 0 or int((src >= 0).sum()) < min_overlap * total:
                continue
            if np.array_equal(src, dst):
                found.append((a, b))
    found.sort(key=lambda ab: (abs(ab[0]) + abs(ab[1]), ab))
    return found[:max_results]


def diagonal_structure(pattern: SharingPattern) -> dict[str, Any]:
    """``{"constant_diagonals": bool, "diagonals": {x - y: label}}`` over the support."""
    L = pattern.labels
    ys, xs = np.nonzero(L >= 0)
    d = xs - ys
    lab = L[ys, xs]
    pairs = np.unique(np.stack([d, lab], axis=1), axis=0) if d.size else np.empty((0, 2), int)
    constant = bool(d.size) and len(pairs) == len(np.unique(d))
    diag = {int(a): int(b) for a, b in pairs} if constant else {}
    return {"constant_diagonals": constant, "diagonals": diag}


def cyclic_embedding(pattern: SharingPattern) -> dict[str, Any] | None:
    r"""The smallest :math:`N` (and output offset ``o``) such that the orbit pattern of
    :math:`\mathbb{Z}_N` acting naturally on a padded line (inputs at ``0..n-1``, outputs
    at ``o..o+m-1`` mod N), restricted to those indices and cut by the pattern's support,
    equals the pattern; ``None`` if no :math:`N \le m + n` works.

    Two supported entries then share a parameter iff :math:`x - y - o \equiv x' - y' - o
    \pmod N`: the pattern is a (possibly wrapped) convolution on the padded line.
    """
    L = pattern.labels
    m, n = L.shape
    ys, xs = np.nonzero(L >= 0)
    if ys.size == 0:
        return None
    lab = L[ys, xs]
    n_labels = len(np.unique(lab))
    for N in range(max(m, n), m + n + 1):
        for o in range(N):
            d = (xs - ys - o) % N
            # the quick test: label <-> residue must be a bijection on the support
            if len(np.unique(d)) != n_labels:
                continue
            if len(np.unique(d * (n_labels + 1) + lab)) != n_labels:
                continue
            G = cyclic(N)
            full = sharing_pattern(natural(G), natural(G)).labels
            rows = (np.arange(m) + o) % N
            restricted = np.where(L >= 0, full[np.ix_(rows, np.arange(n))], -1)
            if SharingPattern(restricted) == pattern:
                return {"group": f"cyclic:{N}", "N": N, "output_offset": o,
                        "input_offset": 0, "verified": True,
                        "statement": f"labels = orbits of cyclic:{N} (translations of a "
                                     f"padded line of {N} points) on (output, input) pairs, "
                                     f"outputs at {o}..{o + m - 1} mod {N}, inputs at "
                                     f"0..{n - 1}, cut by the support"}
    return None


def partial_symmetries(pattern: SharingPattern, *, seconds: float | None = None
                       ) -> dict[str, Any]:
    """All of the above for one pattern (JSON-ready).

    The search for a cyclic embedding (quadratic in the side, one candidate pattern per
    try: 9 s for a 100 x 100 Toeplitz pattern) runs under the time limit (``seconds``,
    default ``METASYM_TIME_LIMIT``); past it, ``embedding`` is ``None`` and
    ``embedding_search`` says it was stopped, the rest is reported as usual."""
    from metasym._limits import time_limit
    from metasym.errors import TooLargeError

    if not isinstance(pattern, SharingPattern):
        raise TypeError(f"pattern must be a SharingPattern, got {type(pattern).__name__}")
    diag = diagonal_structure(pattern)
    emb, searched = None, "not needed (the diagonals are not constant)"
    if diag["constant_diagonals"]:
        m, n = pattern.shape
        try:
            with time_limit(f"the cyclic-embedding search of a {m}x{n} pattern", seconds):
                emb = cyclic_embedding(pattern)
            searched = "complete"
        except TooLargeError as e:
            searched = f"stopped: {e}"
    shifts = partial_shifts(pattern, max_results=10_000)
    return {"constant_diagonals": diag["constant_diagonals"],
            "diagonals": {str(k): v for k, v in diag["diagonals"].items()},
            "n_shifts": len(shifts), "shifts": [list(s) for s in shifts[:5]],
            "embedding": emb, "embedding_search": searched}
