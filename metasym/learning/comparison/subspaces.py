r"""Learned versus analytic: how close is a meta-learned ``U`` to the exact symmetry?
The subspace and partition measures every comparison uses.

Measures (all pure NumPy/SciPy; scikit-learn is not needed):

* :func:`subspace_distance` -- from the principal angles :math:`\theta_i` between
  :math:`\mathrm{span}(A)` and :math:`\mathrm{span}(B)`
  (``scipy.linalg.subspace_angles``): :math:`\sin\theta_{\max}`, which for equal
  dimensions is the spectral-norm distance :math:`\|P_A - P_B\|_2` of the orthogonal
  projectors. 0 means the same span, 1 that some direction of one is orthogonal to the
  other. (Also reported: the root-mean-square :math:`\sqrt{\mathrm{mean}_i \sin^2\theta_i}`.)
  When the dimensions differ it measures whether the smaller space lies in the larger.
* :func:`recover_partition` -- the sharing partition implied by a learned ``U``: entries
  of ``W`` that share a parameter have equal rows of ``U`` (row :math:`(i, j)` is the
  linear map :math:`v \mapsto W_{ij}`), and entries fixed to zero have zero rows. Rows are
  compared after orthonormalising the columns (so any invertible mixing
  :math:`U^G A` of an exact basis gives the same partition).
* :func:`adjusted_rand_index` -- agreement of two partitions, corrected for chance
  (Hubert & Arabie 1985): 1 identical, about 0 for independent labellings.
* :func:`containment`, :func:`energy_share`, :func:`leading_subspace` -- how much of
  one space lies in another, and where a (possibly full-rank) ``U`` puts its weight.
* Equivariance error of *adapted* layers (per held-out task, after the inner loop).
"""


from __future__ import annotations

import numpy as np

from metasym.errors import MismatchError

__all__ = [
    "orthonormal_basis",
    "subspace_distance",
    "principal_cosines",
    "containment",
    "energy_share",
    "leading_subspace",
    "adjusted_rand_index",
    "recover_partition",
    "shift_equivariance_error",
    "span_error",
]


def orthonormal_basis(A: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
    """Orthonormal basis of the column span (numerically zero directions dropped)."""
    A = np.asarray(A, dtype=np.float64)
    if A.ndim != 2:
        raise MismatchError(f"expected a 2-D basis matrix, got shape {A.shape}")
    u, s, _ = np.linalg.svd(A, full_matrices=False)
    keep = s > (s[0] * rtol if s.size and s[0] > 0 else np.inf)
    return u[:, keep]


def principal_cosines(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Cosines of the principal angles between ``span(A)`` and ``span(B)``, descending."""
    from scipy.linalg import subspace_angles

    if A.shape[0] != B.shape[0]:
        raise MismatchError(f"bases live in different spaces: {A.shape[0]} vs {B.shape[0]} rows")
    return np.cos(np.sort(subspace_angles(orthonormal_basis(A), orthonormal_basis(B))))


def subspace_distance(A: np.ndarray, B: np.ndarray, kind: str = "max") -> float:
    r"""Distance between column spans from principal angles: :math:`\sin\theta_{\max}`
    (``kind="max"``) or :math:`\sqrt{\mathrm{mean}\,\sin^2\theta_i}` (``kind="rms"``).

    >>> A = np.eye(4)[:, :2]
    >>> subspace_distance(A, A @ np.array([[2.0, 1.0], [0.0, 1.0]]))
    0.0
    >>> subspace_distance(A, np.eye(4)[:, 2:])
    1.0
    """
    from scipy.linalg import subspace_angles

    if A.shape[0] != B.shape[0]:
        raise MismatchError(f"bases live in different spaces: {A.shape[0]} vs {B.shape[0]} rows")
    theta = subspace_angles(orthonormal_basis(A), orthonormal_basis(B))
    s = np.sin(theta)
    val = float(s.max()) if kind == "max" else float(np.sqrt(np.mean(s ** 2)))
    return float(np.clip(round(val, 15), 0.0, 1.0))


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    r"""Adjusted Rand index of two labellings of the same items.

    With contingency counts :math:`n_{ij}`, row sums :math:`a_i`, column sums
    :math:`b_j` and :math:`\binom{\cdot}{2}` pair counts,

    .. math:: \mathrm{ARI} = \frac{\sum_{ij}\binom{n_{ij}}{2} - E}
              {\tfrac12\left[\sum_i\binom{a_i}{2} + \sum_j\binom{b_j}{2}\right] - E},
              \qquad E = \frac{\sum_i\binom{a_i}{2}\sum_j\binom{b_j}{2}}{\binom{n}{2}}.

    Labels are arbitrary integers (``-1`` is an ordinary block). Two partitions that are
    both all-singletons or both one block give 1.

    >>> adjusted_rand_index([0, 0, 1, 1], [5, 5, 3, 3])
    1.0
    """
    a = np.asarray(a).ravel()
    b = np.asarray(b).ravel()
    if a.shape != b.shape:
        raise MismatchError(f"labellings have different sizes: {a.size} and {b.size}")
    n = a.size
    if n < 2:
        return 1.0
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    # contingency table via one bincount over pair codes
    nb = bi.max() + 1
    nij = np.bincount(ai * nb + bi).astype(np.float64)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1)).sum() / 2)

    sum_ij = pairs(nij)
    sum_a = pairs(np.bincount(ai).astype(np.float64))
    sum_b = pairs(np.bincount(bi).astype(np.float64))
    expected = sum_a * sum_b / (n * (n - 1) / 2)
    max_index = (sum_a + sum_b) / 2
    if max_index == expected:  # both trivial partitions of the same kind
        return 1.0
    return float((sum_ij - expected) / (max_index - expected))


def recover_partition(U: np.ndarray, shape: tuple[int, int], *, zero_tol: float = 0.2,
                      tol: float = 0.25) -> np.ndarray:
    r"""The sharing pattern (label matrix, ``-1`` = fixed zero) implied by a learned ``U``.

    Columns are orthonormalised (:math:`Q = U (U^\top U)^{-1/2}`, done by an SVD) so the
    result does not depend on the basis of the span. A row whose norm is below
    ``zero_tol`` times the median norm of the largest rows is "fixed to zero"; the other
    rows are grouped greedily (largest first): a row joins the first group whose leader
    is within ``tol`` times the leader's norm. Labels are canonical (first appearance in
    row-major order), like :class:`~metasym.representations.SharingPattern`.
    """
    from metasym.groups import canonical_labels

    m, n = shape
    U = np.asarray(U, dtype=np.float64)
    if U.shape[0] != m * n:
        raise MismatchError(f"U has {U.shape[0]} rows, expected {m} x {n} = {m * n}")
    Q = orthonormal_basis(U)
    norms = np.linalg.norm(Q, axis=1)
    # reference scale: the typical norm among the largest rows (robust to a few outliers)
    top = np.sort(norms)[-max(1, min(Q.shape[1] * 4, norms.size)):]
    scale = float(np.median(top)) if top.size else 0.0
    labels = np.full(m * n, -1, dtype=np.int64)
    if scale == 0.0:
        return labels.reshape(m, n)
    live = np.flatnonzero(norms > zero_tol * scale)
    order = live[np.argsort(-norms[live], kind="stable")]
    leaders: list[np.ndarray] = []
    leader_norms: list[float] = []
    L = np.empty((0, Q.shape[1]))
    for i in order:
        q = Q[i]
        if leaders:
            d = np.linalg.norm(L - q, axis=1)
            j = int(np.argmin(d / np.asarray(leader_norms)))
            if d[j] <= tol * leader_norms[j]:
                labels[i] = j
                continue
        leaders.append(q)
        leader_norms.append(float(norms[i]))
        L = np.vstack([L, q[None, :]])
        labels[i] = len(leaders) - 1
    return canonical_labels(labels.reshape(m, n))


def shift_equivariance_error(W: np.ndarray) -> np.ndarray:
    r"""Translation-equivariance error of valid 1-D layers ``(..., m, n)``:
    :math:`\|W_{1:,1:} - W_{:-1,:-1}\|_F / \|W\|_F` -- the unit shift (the generator of
    the translation group) moves output ``p`` and input ``j`` together, and a valid
    convolution commutes with it wherever both are defined."""
    W = np.asarray(W, dtype=np.float64)
    num = np.linalg.norm((W[..., 1:, 1:] - W[..., :-1, :-1]).reshape(*W.shape[:-2], -1), axis=-1)
    den = np.linalg.norm(W.reshape(*W.shape[:-2], -1), axis=-1)
    return np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)


def span_error(W: np.ndarray, basis: np.ndarray) -> np.ndarray:
    r"""Relative distance :math:`\|W - P W\|_F / \|W\|_F` of weights ``(..., m, n)`` to the
    span of ``basis`` (``(m*n, d)``), :math:`P` the orthogonal projector."""
    Q = orthonormal_basis(basis)
    flat = np.asarray(W, dtype=np.float64).reshape(-1, Q.shape[0])
    resid = flat - (flat @ Q) @ Q.T
    den = np.linalg.norm(flat, axis=1)
    out = np.where(den > 0, np.linalg.norm(resid, axis=1) / np.where(den > 0, den, 1), 0.0)
    return out.reshape(np.asarray(W).shape[:-2])


def containment(A: np.ndarray, B: np.ndarray) -> float:
    r"""Fraction of ``span(A)`` inside ``span(B)``: :math:`\|Q_B^\top Q_A\|_F^2 / \dim A`
    (1 iff contained; 0 iff orthogonal)."""
    qa, qb = orthonormal_basis(A), orthonormal_basis(B)
    if qa.shape[1] == 0:
        return float("nan")
    return float(np.square(qb.T @ qa).sum() / qa.shape[1])


def energy_share(U: np.ndarray, B: np.ndarray) -> float:
    r"""Share of ``U``'s squared Frobenius norm inside ``span(B)``:
    :math:`\|Q_B^\top U\|_F^2 / \|U\|_F^2`."""
    U = np.asarray(U, dtype=np.float64)
    total = float(np.square(U).sum())
    if total == 0:
        return float("nan")
    return float(np.square(orthonormal_basis(B).T @ U).sum() / total)


def leading_subspace(U: np.ndarray, dim: int) -> np.ndarray:
    """The ``dim`` leading left singular vectors of ``U`` (the directions it amplifies)."""
    u, _, _ = np.linalg.svd(np.asarray(U, dtype=np.float64), full_matrices=False)
    return u[:, :dim]
