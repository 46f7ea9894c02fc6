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
  one space lies in another, and where a (possibly full-rank) ``U`` puts its weight;
  :func:`relabelled_energy_share` the same for a conv block, at the best relabelling of
  the channels of a field (a network may realise a symmetry in any channel order).
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
    "relabelled_energy_share",
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


#: Largest field whose relabellings :func:`relabelled_energy_share` tries (8! = 40,320).
MAX_RELABELLED_FIELD = 8


def relabelled_energy_share(U: np.ndarray, B: np.ndarray, d_out: int, d_in: int,
                            in_labels: np.ndarray | None = None
                            ) -> tuple[float, np.ndarray]:
    r"""Share of ``U``'s energy in the exact space ``span(B)`` of a conv block, at the best
    relabelling of its output channels.

    Rows of ``U`` and ``B`` are indexed ``(o, i, p)``: output channel of the field,
    input channel, kernel position (``d_out d_in k^2`` rows). A network realises the same
    symmetry with its channels in any order, so the learned channel ``o`` may play the
    part of exact channel :math:`\sigma(o)`; the input channels are relabelled by
    ``in_labels`` (:math:`\tau`, the previous layer's :math:`\sigma`; identity by
    default). Returns :math:`\max_\sigma \|P_B \Pi_{\sigma\tau} U\|_F^2 / \|U\|_F^2` and
    the maximising :math:`\sigma` (``sigma[o]`` = exact label of learned channel ``o``).

    All :math:`d_{out}!` relabellings are tried exactly, without forming them: with
    :math:`M = U U^\top` and :math:`P = Q_B Q_B^\top`, the energy is
    :math:`\sum_{o,o'} A[o, o', \sigma o, \sigma o']` where
    :math:`A[o, o', a, a'] = \sum_{i, i', p, p'} P[(a, \tau i, p), (a', \tau i', p')]
    \, M[(o, i, p), (o', i', p')]` is computed once.

    >>> import numpy as np
    >>> B = np.eye(8)[:, :2]                       # 2 output channels x 1 input x 4 positions
    >>> U = B[[4, 5, 6, 7, 0, 1, 2, 3]]            # the same space, output channels swapped
    >>> share, sigma = relabelled_energy_share(U, B, 2, 1)
    >>> round(share, 6), sigma.tolist()
    (1.0, [1, 0])
    """
    from itertools import permutations

    U = np.asarray(U, dtype=np.float64)
    rows = U.shape[0]
    if d_out > MAX_RELABELLED_FIELD:
        raise MismatchError(f"a field of {d_out} channels has {d_out}! relabellings; at most "
                            f"{MAX_RELABELLED_FIELD} are tried")
    if rows % (d_out * d_in) or B.shape[0] != rows:
        raise MismatchError(f"U has {rows} rows and B {B.shape[0]}: expected d_out x d_in x "
                            f"k^2 = {d_out} x {d_in} x k^2 rows each")
    k2 = rows // (d_out * d_in)
    tau = np.arange(d_in) if in_labels is None else np.asarray(in_labels, dtype=np.int64)
    total = float(np.square(U).sum())
    if total == 0:
        return float("nan"), np.arange(d_out)
    Q = orthonormal_basis(B)
    # P with its input channels relabelled: P_tau[(a, i, p), ...] = P[(a, tau i, p), ...]
    Qt = Q.reshape(d_out, d_in, k2, -1)[:, tau].reshape(rows, -1)
    shape = (d_out, d_in * k2)
    # A[o, o', a, a'] = sum_x,y Qt[(a, x)] Qt[(a', y)] M[(o, x), (o', y)], M = U U^T:
    # through the r columns of U and the dim columns of Q, never forming M or P
    C = np.einsum("axc,oxr->aocr", Qt.reshape(*shape, -1), U.reshape(*shape, -1))
    A = np.einsum("aocr,bmcr->omab", C, C)
    perms = np.array(list(permutations(range(d_out))), dtype=np.int64)
    o = np.arange(d_out)
    energy = A[o[None, :, None], o[None, None, :], perms[:, :, None], perms[:, None, :]]
    energy = energy.sum(axis=(1, 2))
    best = int(np.argmax(energy))
    return float(energy[best] / total), perms[best]
