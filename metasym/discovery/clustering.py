r"""From a learned ``U`` (or a family of adapted weights) to a discrete sharing pattern.

Row ``y*n + x`` of ``U`` is the linear map :math:`v \mapsto W_{yx}`: two entries share a
parameter iff their rows are equal, and an entry is fixed to zero iff its row is zero.
Both statements survive any invertible change of basis :math:`U \mapsto UA` (row
equality and row vanishing are preserved by right multiplication), so the rows are first
put in a basis-free form: the left singular vectors :math:`Q = U V S^{-1}` (over the
numerical rank), whose row distances depend only on :math:`\mathrm{span}(U)`. This also
removes the scale of ``U``.

**Tolerance.** Single-linkage clustering: the minimum spanning tree of the rows (Prim,
:math:`O(N^2)` time, :math:`O(N)` memory) has edge lengths :math:`h_1 \le \dots \le h_{N-1}`;
clusters at threshold :math:`t` are the components of the edges shorter than :math:`t`.
With the scale :math:`S = \max_i \|q_i\|` appended as :math:`h_N` (a threshold above
every edge gives one cluster) and lengths floored at :math:`10^{-12} S`, the threshold is
put in the largest relative gap: :math:`j^* = \arg\max_j h_{j+1}/h_j`,
:math:`t = \sqrt{h_{j^*} h_{j^*+1}}`. The cluster containing (or nearest to, within
``t``) the origin is "fixed to zero" (``-1``).

**Confidence.** ``separation`` :math:`= h_{j^*+1} / h_{j^*}`: the smallest distance
between two clusters divided by the largest single-linkage step inside a cluster (for
single linkage these are exactly the two MST edges around the cut). Exact patterns give
:math:`\sim 10^{12}`; below about 3 the partition is not trustworthy.

When ``U`` has more columns than the data support (a learned ``U`` with spare columns,
or a stack of many tasks' weights), the weakest singular directions are noise that
whitening would blow up: several numerical ranks (every large gap in the singular
values) are tried and the one with the best separation is kept (reported as ``rank``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.errors import MismatchError, TooLargeError
from metasym.groups import canonical_labels
from metasym.representations import SharingPattern

__all__ = ["pattern_from_U", "pattern_from_weights", "ROW_LIMIT"]

#: Most rows (entries ``m*n``) clustered; Prim's algorithm is quadratic in this.
ROW_LIMIT = 40_000
_FLOOR = 1e-12


def _mst_lengths(Q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim's MST on the rows of ``Q``: (edge lengths, child, parent) in insertion order."""
    N = Q.shape[0]
    in_tree = np.zeros(N, dtype=bool)
    best = np.full(N, np.inf)
    parent = np.full(N, -1, dtype=np.int64)
    lengths = np.empty(N - 1)
    child = np.empty(N - 1, dtype=np.int64)
    par = np.empty(N - 1, dtype=np.int64)
    sq = np.einsum("ij,ij->i", Q, Q)
    cur = 0
    in_tree[0] = True
    for step in range(N - 1):
        # squared distances from the newest tree point to everything
        d = np.maximum(sq + sq[cur] - 2.0 * (Q @ Q[cur]), 0.0)
        better = (d < best) & ~in_tree
        best[better] = d[better]
        parent[better] = cur
        masked = np.where(in_tree, np.inf, best)
        nxt = int(np.argmin(masked))
        lengths[step] = np.sqrt(masked[nxt])
        child[step], par[step] = nxt, parent[nxt]
        in_tree[nxt] = True
        cur = nxt
    return lengths, child, par


def _cluster(Q: np.ndarray, tol: float | None) -> tuple[np.ndarray, dict[str, Any]]:
    N = Q.shape[0]
    norms = np.linalg.norm(Q, axis=1)
    scale = float(norms.max()) if N else 0.0
    if scale == 0.0:
        return np.full(N, -1, dtype=np.int64), {"tolerance": 0.0, "separation": None,
                                                "scale": 0.0}
    # the origin joins as an extra point: zero rows then cluster with it
    P = np.vstack([np.zeros((1, Q.shape[1])), Q])
    lengths, child, par = _mst_lengths(P)
    floor = _FLOOR * scale
    h = np.sort(np.maximum(lengths, floor))
    if tol is None:
        hh = np.append(h, scale)
        ratios = hh[1:] / hh[:-1]
        j = int(np.argmax(ratios))
        tol = float(np.sqrt(hh[j] * hh[j + 1]))
        separation = float(ratios[j])
    else:
        inside = h[h <= tol]
        outside = h[h > tol]
        lo = inside.max() if inside.size else floor
        hi = outside.min() if outside.size else scale
        separation = float(hi / lo)
    # components of the MST edges shorter than tol (union-find over N edges)
    root = np.arange(N + 1)

    def find(a: int) -> int:
        while root[a] != a:
            root[a] = root[root[a]]
            a = root[a]
        return a

    for ln, a, b in zip(lengths, child, par):
        if max(ln, floor) < tol:
            ra, rb = find(int(a)), find(int(b))
            if ra != rb:
                root[max(ra, rb)] = min(ra, rb)
    comp = np.array([find(i) for i in range(N + 1)])
    labels = np.where(comp[1:] == comp[0], -1, comp[1:])
    return labels, {"tolerance": tol, "separation": separation, "scale": scale}


def _candidate_ranks(s: np.ndarray, max_candidates: int = 3) -> list[int]:
    """Numerical ranks worth trying: every cut at a singular-value gap of 10x or more
    (largest gaps first), plus the full numerical rank."""
    if s.size == 0 or s[0] == 0:
        return [0]
    full = int(np.count_nonzero(s > s[0] * 1e-12))
    ranks = [full]
    if full > 1:
        gaps = s[:full - 1] / s[1:full]
        for j in np.argsort(-gaps):
            if gaps[j] < 10 or len(ranks) >= max_candidates:
                break
            ranks.append(int(j) + 1)
    return ranks


def pattern_from_U(U: np.ndarray, shape: tuple[int, int], tol: float | None = None,
                   rank: int | None = None) -> tuple[SharingPattern, dict[str, Any]]:
    r"""The sharing pattern implied by a learned ``U`` (``(m*n, k)``, row-major vec).

    Parameters
    ----------
    U
        Learned sharing matrix; any invertible mixing :math:`UA` gives the same result.
    shape
        ``(m, n)``: outputs x inputs.
    tol
        Clustering threshold in whitened row space (see the module docstring); chosen
        automatically at the largest gap when omitted.
    rank
        Numerical rank to whiten over; chosen by best separation when omitted.

    Returns
    -------
    (SharingPattern, dict)
        The pattern (``-1`` = fixed zero) and ``info`` with ``tolerance``,
        ``separation`` (confidence, see above), ``rank``, ``singular_values``,
        ``clusters`` and ``zero_entries``.

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> from metasym.representations import sharing_pattern
    >>> P = sharing_pattern(natural(cyclic(4)), natural(cyclic(4)))
    >>> rng = np.random.default_rng(0)
    >>> U = P.basis() @ rng.normal(size=(4, 4)) + 1e-4 * rng.normal(size=(16, 4))
    >>> Q, info = pattern_from_U(U, (4, 4))
    >>> Q == P, info["separation"] > 100
    (True, True)
    """
    U = np.asarray(U, dtype=np.float64)
    m, n = int(shape[0]), int(shape[1])
    if U.ndim != 2 or U.shape[0] != m * n:
        raise MismatchError(f"U has shape {U.shape}, expected ({m * n}, k) for a {m}x{n} layer")
    if not np.isfinite(U).all():
        raise MismatchError("U contains NaN or infinite entries")
    if m * n > ROW_LIMIT:
        raise TooLargeError(f"clustering {m * n} rows exceeds the limit {ROW_LIMIT}")
    if m * n == 0:
        raise MismatchError("empty layer")
    P, s, _ = np.linalg.svd(U, full_matrices=False)
    ranks = [rank] if rank is not None else _candidate_ranks(s)
    best: tuple[np.ndarray, dict[str, Any]] | None = None
    for r in ranks:
        labels, info = _cluster(P[:, :r], tol)
        info["rank"] = int(r)
        sep = info["separation"] or 0.0
        if best is None or sep > (best[1]["separation"] or 0.0):
            best = (labels, info)
    assert best is not None
    labels, info = best
    pattern = SharingPattern(canonical_labels(labels.reshape(m, n)),
                             description="clustered from a learned U")
    info.update(singular_values=[float(v) for v in s], clusters=pattern.dimension,
                zero_entries=int((pattern.labels < 0).sum()), ranks_tried=ranks)
    return pattern, info


def pattern_from_weights(W: np.ndarray, tol: float | None = None
                         ) -> tuple[SharingPattern, dict[str, Any]]:
    r"""The sharing pattern of a family of weights ``(T, m, n)`` (e.g. a layer adapted to
    ``T`` tasks): entries share iff their values agree across all tasks, i.e. the columns
    ``W[:, y, x]`` are equal; entries that are zero in every task are fixed to zero.

    The stack ``W.reshape(T, m*n).T`` spans the same column space as the ``U`` that
    produced it (``W_t = U v_t``), so this is :func:`pattern_from_U` on it.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 3:
        raise MismatchError(f"expected weights of shape (tasks, m, n), got {W.shape}")
    T, m, n = W.shape
    return pattern_from_U(W.reshape(T, m * n).T, (m, n), tol=tol)
