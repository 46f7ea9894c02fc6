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

**Significance.** Single linkage always returns *some* partition, and any point cloud
has a largest gap, so a partition alone claims nothing. Its significance is judged with
the **contrast**: the distance between the two closest cluster centres (the zero
cluster's centre is the origin) over the typical distance between two rows of one
cluster (:math:`\sqrt{2r}\,\hat\sigma`, with :math:`\hat\sigma^2` the within-cluster
variance per coordinate on ``N - c`` degrees of freedom). It averages over every row,
so a true pattern with relative noise :math:`\sigma` keeps a contrast of order
:math:`1/\sigma` while the separation (two extreme tree edges) collapses much sooner.
The contrast is compared with what structureless data of *the same shape* produces:
the whole procedure (the same ranks tried, the same ``tol``) is run on i.i.d. standard
normal matrices of ``U``'s shape drawn with the fixed seed :data:`NULL_SEED`, and the
clustering is **significant** when its contrast exceeds both :data:`NULL_MARGIN` times
the largest null contrast and :data:`MIN_CONTRAST`, and the partition can carry the
rank (at least ``rank`` non-zero clusters: ``U`` then factors through the cluster
indicators). ``pattern_from_U`` reports it in ``info["significant"]``; callers should
not name a group for an insignificant pattern.

*Why simulate rather than use a formula:* the contrast of a single-linkage partition
depends on the number of rows, the rank, the whitening and the rank selection, and no
closed form covers that whole procedure; the whitened Gaussian null is exactly the
structureless case, its cost is that of the clustering times the number of samples
(``NULL_SAMPLES``, fewer for large inputs, see ``NULL_ROW_BUDGET``), and the
fixed seed makes the decision reproducible. Measured (tests/test_reliability.py):
i.i.d. Gaussian ``U`` or ``W`` of many shapes is called structureless in at least 19
of 20 seeds (in fact all), while exact patterns, and learned-like ones (an exact basis
mixed by a random invertible matrix plus 0.1% to 3% noise), stay significant whenever
their partition is recovered, except at the top of that noise range on small layers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym._limits import check_memory, default_seconds, time_limit
from metasym.errors import MismatchError, TooLargeError
from metasym.groups import canonical_labels
from metasym.representations import SharingPattern

__all__ = ["pattern_from_U", "pattern_from_weights", "null_contrast", "ROW_LIMIT",
           "NULL_SAMPLES", "NULL_MARGIN", "NULL_SEED", "MIN_CONTRAST"]

#: Most rows (entries ``m*n``) clustered; Prim's algorithm is quadratic in this.
ROW_LIMIT = 40_000
_FLOOR = 1e-12
#: Gaussian null samples the separation is calibrated against: at most
#: ``NULL_SAMPLES``, at least ``NULL_MIN_SAMPLES`` (for large inputs, see
#: ``NULL_ROW_BUDGET``).
NULL_SAMPLES = 32
NULL_MIN_SAMPLES = 4
#: Significant when the contrast exceeds this times the largest null contrast ...
NULL_MARGIN = 1.25
#: ... and this: the closest clusters at least 3 typical within-cluster distances apart.
MIN_CONTRAST = 3.0
#: Seed of the null samples: the decision is deterministic.
NULL_SEED = 20240229
#: Rows clustered by the null, summed over samples (Prim's tree costs one numpy pass
#: over all rows per row: about a second for 10 000 rows in total up to ~1000 rows per
#: sample, more above); ``NULL_MIN_SAMPLES`` are always drawn.
NULL_ROW_BUDGET = 10_000


#: Up to this many rows, and from rank :data:`DENSE_MST_RANK` on, the MST reads one dense
#: matrix of squared distances (one matrix product, ``8 N^2`` bytes, if the memory budget
#: allows); otherwise one pass over the rows per row (``O(N)`` memory, fast at low rank).
DENSE_MST_ROWS = 6_000
DENSE_MST_RANK = 16
#: Floating-point work per second assumed when the clustering's cost is estimated before
#: it starts (measured: an SVD of a 3600 x 3600 ``U`` takes 40 s on one core of the
#: 2-core reference machine, about ``5e9`` of the units :func:`_svd_work` counts).
WORK_PER_SECOND = 5e9


def _svd_work(N: int, k: int) -> float:
    """Work units of a thin SVD of an ``N x k`` matrix (LAPACK gesdd, with vectors)."""
    small = min(N, k)
    return 4.0 * N * k * small + 22.0 * small ** 3


def _check_time(what: str, work: float, seconds: float | None) -> None:
    """Refuse, before it starts, a step whose estimated time exceeds the time limit (a
    LAPACK call cannot be interrupted by the alarm, so it is estimated first)."""
    limit = default_seconds() if seconds is None else seconds
    est = work / WORK_PER_SECOND
    if est > limit:
        raise TooLargeError(f"{what} would take about {est:.0f} s (estimated), more than the "
                            f"time limit of {limit:g} s (raise METASYM_TIME_LIMIT to allow more)")


def _sq_distances(Q: np.ndarray) -> np.ndarray:
    """Dense squared distances between the rows of ``Q`` (one matrix product)."""
    sq = np.einsum("ij,ij->i", Q, Q)
    D = Q @ Q.T
    D *= -2.0
    D += sq[:, None]
    D += sq[None, :]
    np.maximum(D, 0.0, out=D)
    return D


def _mst_lengths(Q: np.ndarray, D: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Prim's MST on the rows of ``Q`` (or on the squared distances ``D``): (edge lengths,
    child, parent) in insertion order."""
    N = Q.shape[0] if D is None else D.shape[0]
    in_tree = np.zeros(N, dtype=bool)
    best = np.full(N, np.inf)
    parent = np.full(N, -1, dtype=np.int64)
    lengths = np.empty(N - 1)
    child = np.empty(N - 1, dtype=np.int64)
    par = np.empty(N - 1, dtype=np.int64)
    sq = np.einsum("ij,ij->i", Q, Q) if D is None else None
    cur = 0
    in_tree[0] = True
    for step in range(N - 1):
        # squared distances from the newest tree point to everything
        if D is None:
            d = np.maximum(sq + sq[cur] - 2.0 * (Q @ Q[cur]), 0.0)
        else:
            d = D[cur]
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


def _cluster(Q: np.ndarray, tol: float | None, D: np.ndarray | None = None
             ) -> tuple[np.ndarray, dict[str, Any]]:
    N = Q.shape[0]
    norms = np.linalg.norm(Q, axis=1)
    scale = float(norms.max()) if N else 0.0
    if scale == 0.0:
        return np.full(N, -1, dtype=np.int64), {"tolerance": 0.0, "separation": None,
                                                "scale": 0.0}
    # the origin joins as an extra point: zero rows then cluster with it
    P = np.vstack([np.zeros((1, Q.shape[1])), Q])
    lengths, child, par = _mst_lengths(P, D)
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
                   rank: int | None = None, *, seconds: float | None = None
                   ) -> tuple[SharingPattern, dict[str, Any]]:
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
    seconds
        Time limit of the whole clustering (default ``METASYM_TIME_LIMIT`` or 60 s). Its
        SVDs are estimated before they start and refused when they would not fit;
        anything past the limit stops with :class:`~metasym.errors.TooLargeError`.

    A ``U`` of full row rank with no gap in its spectrum (a structureless layer with at
    least as many columns as entries) is answered from the eigenvalues of its Gram
    matrix, without the SVD: every entry is its own parameter. A clustering that cannot
    be significant whatever the null gives (fewer clusters than the rank, or a contrast
    of at most :data:`MIN_CONTRAST`) draws no null samples (``null_samples`` 0).

    Returns
    -------
    (SharingPattern, dict)
        The pattern (``-1`` = fixed zero) and ``info`` with ``tolerance``,
        ``separation`` (confidence, see above), ``rank``, ``singular_values``,
        ``clusters``, ``zero_entries``, and the significance test: ``contrast``,
        ``null_contrast``, ``null_samples``, ``threshold``, ``significant`` (bool) and
        ``significance`` (a sentence).

    Raises
    ------
    MismatchError
        ``U`` of the wrong shape, empty, all zero, or with NaN/infinite entries.
    TooLargeError
        More than :data:`ROW_LIMIT` rows, or over the time limit.

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> from metasym.representations import sharing_pattern
    >>> P = sharing_pattern(natural(cyclic(4)), natural(cyclic(4)))
    >>> rng = np.random.default_rng(0)
    >>> U = P.basis() @ rng.normal(size=(4, 4)) + 1e-4 * rng.normal(size=(16, 4))
    >>> Q, info = pattern_from_U(U, (4, 4))
    >>> Q == P, info["separation"] > 100, info["significant"]
    (True, True, True)
    """
    U = np.asarray(U, dtype=np.float64)
    if (not isinstance(shape, (tuple, list)) or len(shape) != 2
            or any(isinstance(x, bool) or not isinstance(x, (int, np.integer)) for x in shape)
            or min(shape) < 0):
        raise TypeError(f"shape must be a pair (m, n) of non-negative integers, got {shape!r}")
    m, n = int(shape[0]), int(shape[1])
    if U.ndim != 2 or U.shape[0] != m * n:
        raise MismatchError(f"U has shape {U.shape}, expected ({m * n}, k) for a {m}x{n} layer")
    if not np.isfinite(U).all():
        raise MismatchError("U contains NaN or infinite entries")
    if m * n > ROW_LIMIT:
        raise TooLargeError(f"clustering {m * n} rows exceeds the limit {ROW_LIMIT}")
    if m * n == 0 or U.shape[1] == 0:
        raise MismatchError(f"U is empty (shape {U.shape}): no sharing pattern to find")
    if not np.abs(U).max() > 0:
        raise MismatchError("U is all zeros: every entry is fixed to zero and there is no "
                            "sharing pattern to find")
    if tol is not None:
        if isinstance(tol, bool) or not isinstance(tol, (int, float, np.integer, np.floating)):
            raise TypeError(f"tol must be a positive number, got {type(tol).__name__}")
        if not (np.isfinite(tol) and tol > 0):
            raise ValueError(f"tol must be a positive finite number, got {tol!r}")
        tol = float(tol)
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer))
                             or not 1 <= rank <= U.shape[1]):
        raise ValueError(f"rank must be an integer in 1..{U.shape[1]}, got {rank!r}")
    N, k = U.shape
    with time_limit(f"clustering the {N} rows of a {m}x{n} layer's U", seconds):
        if k >= N and tol is None and rank is None:
            early = _full_row_rank(U, (m, n), seconds)
            if early is not None:
                return early
        _check_time(f"the SVD of a {N}x{k} U", _svd_work(N, k), seconds)
        P, s, _ = np.linalg.svd(U, full_matrices=False)
        ranks = [rank] if rank is not None else _candidate_ranks(s)
        labels, info = _best_over_ranks(P, ranks, tol)
        pattern = SharingPattern(canonical_labels(labels.reshape(m, n)),
                                 description="clustered from a learned U")
        info.update(singular_values=[float(v) for v in s], clusters=pattern.dimension,
                    zero_entries=int((pattern.labels < 0).sum()), ranks_tried=ranks)
        stat = info["contrast"]
        consistent = pattern.dimension >= info["rank"]
        shown = "inf" if stat == float("inf") else f"{stat:.3g}"
        if not consistent or not stat > MIN_CONTRAST:
            # not significant whatever the null gives: the structureless case costs no
            # null samples
            info.update(null_contrast=None, null_samples=0, threshold=MIN_CONTRAST,
                        significant=False)
            info["significance"] = (
                f"not significant: {pattern.dimension} clusters cannot span rank "
                f"{info['rank']}" if not consistent else
                f"not significant: contrast {shown} <= {MIN_CONTRAST:g} (the minimum; no "
                "structureless samples needed)")
            return pattern, info
        null = null_contrast(U.shape, ranks, tol, seconds=seconds)
    threshold = max(NULL_MARGIN * null["max"], MIN_CONTRAST)
    info.update(null_contrast=null["max"], null_samples=null["samples"], threshold=threshold)
    info["significant"] = bool(stat > threshold)
    if info["significant"]:
        info["significance"] = (f"contrast {shown} > {threshold:.3g} (max of {MIN_CONTRAST:g} "
                                f"and {NULL_MARGIN} x {null['max']:.3g}, the largest of "
                                f"{null['samples']} structureless (Gaussian) inputs of the "
                                "same shape)")
    else:
        info["significance"] = (f"not significant: contrast {shown} <= {threshold:.3g} "
                                f"(max of {MIN_CONTRAST:g} and {NULL_MARGIN} x "
                                f"{null['max']:.3g}, the largest of {null['samples']} "
                                "structureless (Gaussian) inputs of the same shape)")
    return pattern, info


#: The full-row-rank shortcut needs every singular value above this fraction of the
#: largest (well above the precision of the Gram matrix's eigenvalues, ~1e-8) ...
_EARLY_FLOOR = 1e-6
#: ... and no ratio of consecutive singular values above this (half the gap of 10 that
#: makes :func:`_candidate_ranks` try a lower rank: a margin for the Gram's rounding).
_EARLY_GAP = 5.0


def _full_row_rank(U: np.ndarray, shape: tuple[int, int], seconds: float | None
                   ) -> tuple[SharingPattern, dict[str, Any]] | None:
    """The answer for a ``U`` of full row rank without a gap in its spectrum, or None.

    Such a ``U`` spans every ``m x n`` matrix: its whitened rows are orthonormal, so no
    two entries share and none is fixed to zero (the only candidate rank is ``N``), and
    with every entry its own cluster nothing is shared to be significant. Its singular
    values come from the eigenvalues of the ``N x N`` Gram matrix (no SVD, several times
    cheaper); any doubt (a small singular value, a gap) returns None and the full
    procedure runs."""
    N, k = U.shape
    _check_time(f"the Gram matrix of a {N}x{k} U", 2.0 * N * N * k + 4.0 * N ** 3, seconds)
    check_memory(16.0 * N * N, f"the Gram matrix of a {N}x{k} U")
    lam = np.linalg.eigvalsh(U @ U.T)[::-1]
    if not lam[-1] > (_EARLY_FLOOR ** 2) * lam[0]:
        return None
    s = np.sqrt(lam)
    if N > 1 and float((s[:-1] / s[1:]).max()) >= _EARLY_GAP:
        return None
    m, n = shape
    pattern = SharingPattern(np.arange(N, dtype=np.int64).reshape(m, n),
                             description="clustered from a learned U")
    info: dict[str, Any] = {
        "tolerance": 0.0, "separation": None, "scale": 1.0, "rank": N, "contrast": 0.0,
        "singular_values": [float(v) for v in s], "clusters": N, "zero_entries": 0,
        "ranks_tried": [N], "null_contrast": None, "null_samples": 0,
        "threshold": MIN_CONTRAST, "significant": False,
        "significance": (f"not significant: U has full row rank {N} (singular values "
                         f"{s[-1]:.3g} to {s[0]:.3g}, no gap): it spans every {m}x{n} matrix, "
                         "so every entry is its own parameter and nothing is shared"),
    }
    return pattern, info


def _best_over_ranks(P: np.ndarray, ranks: list[int], tol: float | None
                     ) -> tuple[np.ndarray, dict[str, Any]]:
    N = P.shape[0]
    dense = N <= DENSE_MST_ROWS and max(ranks) >= DENSE_MST_RANK
    if dense:  # else (or when it would not fit) one pass over the rows per row
        try:
            check_memory(24.0 * (N + 1) ** 2, f"the distances between {N} rows of U")
        except TooLargeError:
            dense = False
    results: dict[int, tuple[np.ndarray, dict[str, Any]]] = {}
    D = None
    done = 0
    Z = np.vstack([np.zeros((1, P.shape[1])), P])  # the origin first, as _cluster adds it
    for r in sorted(set(ranks)):
        if dense:  # squared distances over columns 0..r, built up from the lower ranks
            block = _sq_distances(Z[:, done:r])
            D = block if D is None else D + block
            done = r
        results[r] = _cluster(P[:, :r], tol, D)
    best: tuple[np.ndarray, dict[str, Any]] | None = None
    for r in ranks:
        labels, info = results[r]
        info = dict(info, rank=int(r))
        sep = info["separation"] or 0.0
        if best is None or sep > (best[1]["separation"] or 0.0):
            best = (labels, info)
    assert best is not None
    labels, info = best
    info["contrast"] = _contrast(P[:, :info["rank"]], labels)
    return best


def _contrast(Q: np.ndarray, labels: np.ndarray) -> float:
    r"""Distance between the two closest cluster centres (the zero cluster's centre is
    the origin) over the typical distance between two rows of one cluster,
    :math:`\sqrt{2r}\,\hat\sigma` with :math:`\hat\sigma^2` the within-cluster variance
    per coordinate on :math:`N - c` degrees of freedom (``c`` non-zero clusters).

    Unlike the separation (two extreme tree edges) it averages over every row, so noise
    moves it little: about :math:`1/(\sqrt{2}\,\sigma)` for clusters a unit apart with
    noise :math:`\sigma`, and of order 1 for structureless rows. 0 when there is nothing
    to compare (no cluster, or every entry its own cluster) or when fewer than
    ``max(2, r)`` entries share (the spread would rest on a pair or two); infinite for an
    exact pattern."""
    N, r = Q.shape
    keep = labels >= 0
    ids, inv = np.unique(labels[keep], return_inverse=True)
    c = ids.size
    if c == 0 or N - c <= 0 or r == 0:
        return 0.0
    counts = np.bincount(inv, minlength=c).astype(float)
    centres = np.zeros((c, r))
    np.add.at(centres, inv, Q[keep])
    centres /= counts[:, None]
    resid = float(((Q[keep] - centres[inv]) ** 2).sum() + (Q[~keep] ** 2).sum())
    pts = np.vstack([np.zeros((1, r)), centres]) if (~keep).any() else centres
    if len(pts) < 2:
        return 0.0
    sq = (pts ** 2).sum(axis=1)
    d2 = sq[:, None] + sq[None, :] - 2.0 * pts @ pts.T
    np.fill_diagonal(d2, np.inf)
    nearest = float(np.sqrt(max(float(d2.min()), 0.0)))
    spread = np.sqrt(2.0 * resid / (N - c))  # sqrt(2 r) * sigma_hat
    if spread <= nearest * 1e-12:
        return float("inf")
    if N - c < max(2, r):  # the spread rests on too few shared entries to mean anything
        return 0.0
    return nearest / spread


def null_contrast(shape: tuple[int, int], ranks: list[int], tol: float | None = None,
                  samples: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """Contrasts of structureless input: i.i.d. standard normal ``(N, k)`` matrices
    (seed :data:`NULL_SEED`) clustered like :func:`pattern_from_U` clusters ``U`` (the
    same ranks tried, the same ``tol``). Returns ``{"max", "values", "samples"}``.

    The number of samples is ``NULL_SAMPLES``, reduced (to at least
    ``NULL_MIN_SAMPLES``) so that ``samples * N`` stays within
    ``NULL_ROW_BUDGET``.
    """
    N, k = int(shape[0]), int(shape[1])
    rs = [max(1, min(int(r), k, N)) for r in ranks] or [min(k, N)]
    if samples is None:
        samples = int(min(NULL_SAMPLES, max(NULL_MIN_SAMPLES, NULL_ROW_BUDGET // max(N, 1))))
    work = samples * (_svd_work(N, k) + 2.0 * N * N * max(rs))
    _check_time(f"{samples} structureless (Gaussian) {N}x{k} samples for the significance "
                "test", work, seconds)
    rng = np.random.default_rng(NULL_SEED)
    values = []
    for _ in range(samples):
        P, _, _ = np.linalg.svd(rng.standard_normal((N, k)), full_matrices=False)
        _, info = _best_over_ranks(P, rs, tol)
        values.append(float(info["contrast"]))
    return {"max": max(values), "values": values, "samples": samples}


def pattern_from_weights(W: np.ndarray, tol: float | None = None, *,
                         seconds: float | None = None
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
    return pattern_from_U(W.reshape(T, m * n).T, (m, n), tol=tol, seconds=seconds)
