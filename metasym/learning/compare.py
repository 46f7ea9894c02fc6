r"""Learned versus analytic: how close is a meta-learned ``U`` to the exact symmetry?

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
* Equivariance error of *adapted* layers (per held-out task, after the inner loop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from metasym.errors import MismatchError

__all__ = [
    "subspace_distance",
    "principal_cosines",
    "adjusted_rand_index",
    "recover_partition",
    "shift_equivariance_error",
    "span_error",
    "compare_regression",
    "regression_rows",
    "plot_comparison",
]


def _orth(A: np.ndarray, rtol: float = 1e-10) -> np.ndarray:
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
    return np.cos(np.sort(subspace_angles(_orth(A), _orth(B))))


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
    theta = subspace_angles(_orth(A), _orth(B))
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
    Q = _orth(U)
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
    Q = _orth(basis)
    flat = np.asarray(W, dtype=np.float64).reshape(-1, Q.shape[0])
    resid = flat - (flat @ Q) @ Q.T
    den = np.linalg.norm(flat, axis=1)
    out = np.where(den > 0, np.linalg.norm(resid, axis=1) / np.where(den > 0, den, 1), 0.0)
    return out.reshape(np.asarray(W).shape[:-2])


def _adapted_weights(learner: Any, tasks: Any, n_tasks: int, support: int) -> np.ndarray:
    """Dense weights ``(T, m, n)`` of the learner adapted to the first held-out tasks."""
    import torch

    from metasym.learning.layers import dense_weight

    x, y = tasks.test
    x = torch.from_numpy(np.ascontiguousarray(x[:n_tasks, :support]))
    y = torch.from_numpy(np.ascontiguousarray(y[:n_tasks, :support]))
    adapted = learner.adapt(x, y)
    model = learner.model
    if learner.fast:
        with torch.no_grad():
            W = (adapted["v"] @ model.U.T).view(-1, model.out_features, model.in_features)
        return W.double().numpy()
    out = []
    for t in range(x.shape[0]):
        W, _ = dense_weight(model, {k: v[t] for k, v in adapted.items()}, n_in=tasks.n_in)
        out.append(W.double().numpy())
    return np.stack(out)


def regression_rows(f: dict[str, Any]) -> list[tuple[str, Any]]:
    """What ``metasym compare`` prints for a 1-D run, in order: ``(label, value)``."""
    blocks = (None if f.get("recovered_blocks") is None else
              f"{f['recovered_blocks']} / {f.get('exact_blocks') if f.get('exact_blocks') is not None else 'n/a'}")
    return [
        ("learned dimension k", f.get("learned_dimension")),
        ("answer dimension", f.get("answer_dimension")),
        ("subspace distance (sin max angle)", f.get("subspace_distance")),
        ("subspace distance (rms sin)", f.get("subspace_distance_rms")),
        ("principal cosines", f.get("principal_cosines")),
        ("partition ARI (all entries)", f.get("partition_ari")),
        ("orbit ARI (on the exact support)", f.get("orbit_ari")),
        ("blocks recovered / exact", blocks),
        ("equivariance error (adapted layers)", f.get("equivariance_error")),
        ("distance of adapted W to the span", f.get("span_error")),
    ]


def compare_regression(record: Any, learner: Any, tasks: Any, n_tasks: int,
                       problem: str) -> Any:
    """Compare a 1-D run's learned structure with its problem's analytic answer.

    Figures: ``subspace_distance``, ``equivariance_error``, ``partition_ari`` and the
    others of :func:`regression_rows` (``None`` where the problem gives nothing to compare
    with; the notes say why); arrays for :func:`plot_comparison`."""
    from metasym.learning.engine.protocol import Comparison
    from metasym.learning.layers import MSRLinear

    cfg = record.config
    m, n = tasks.n_out, tasks.n_in
    answer = tasks.answer
    model = learner.model
    notes: list[str] = []
    res: dict[str, Any] = {
        "answer_kind": answer.kind if answer else None,
        "learned_dimension": None, "answer_dimension": None,
        "subspace_distance": None, "subspace_distance_rms": None, "principal_cosines": None,
        "equivariance_error": None, "span_error": None, "partition_ari": None,
        "orbit_ari": None, "recovered_blocks": None, "exact_blocks": None,
        "support_agreement": None,
    }
    arrays: dict[str, Any] = {"shape": (m, n)}
    learned_U = None
    if isinstance(model, MSRLinear):
        learned_U = model.U.detach().double().numpy()
        res["learned_dimension"] = int(learned_U.shape[1])
        sv = np.linalg.svd(learned_U, compute_uv=False)
        res["learned_singular_values"] = [float(s) for s in sv]
        if not model.learns_U:
            notes.append("oracle model: U is the frozen analytic basis")
    else:
        notes.append(f"{cfg.model} has no sharing matrix U: subspace distance and partition "
                     "are not defined (adapted-layer errors are still measured)")
    if answer is not None:
        res["answer_dimension"] = int(np.linalg.matrix_rank(answer.basis))
        if answer.kind == "subspace":
            notes.append("this problem is not generated by a group: compared against the "
                         "generating subspace (fixed connectivity x per-task 3-tap basis, "
                         "dimension 3r); there is no orbit partition and no group action")
    else:
        notes.append("user data with no known answer: only the learned U itself (its "
                     "singular values and implied partition) can be reported")

    # subspace and partition
    if learned_U is not None:
        rec = recover_partition(learned_U, (m, n))
        arrays["recovered"] = rec
        arrays["learned_energy"] = (_orth(learned_U) ** 2).sum(1).reshape(m, n)
        res["recovered_blocks"] = int(rec.max() + 1)
        res["recovered_support"] = int((rec >= 0).sum())
        if answer is not None:
            res["subspace_distance"] = subspace_distance(learned_U, answer.basis)
            res["subspace_distance_rms"] = subspace_distance(learned_U, answer.basis, "rms")
            res["principal_cosines"] = [float(c) for c in principal_cosines(learned_U,
                                                                             answer.basis)]
    if answer is not None:
        arrays["exact_energy"] = (_orth(answer.basis) ** 2).sum(1).reshape(m, n)
        if answer.pattern is not None:
            exact = np.asarray(answer.pattern.labels)
            arrays["exact"] = exact
            res["exact_blocks"] = int(answer.pattern.dimension)
            if "recovered" in arrays:
                rec = arrays["recovered"]
                res["partition_ari"] = adjusted_rand_index(exact, rec)
                sup = exact >= 0
                res["orbit_ari"] = adjusted_rand_index(exact[sup], rec[sup])
                res["support_agreement"] = float(((rec >= 0) == sup).mean())

    # adapted layers on held-out tasks
    n_eval = min(n_tasks, tasks.n_tasks - tasks.n_train)
    W = _adapted_weights(learner, tasks, n_eval, cfg.support)
    arrays["adapted_example"] = W[0]
    res["adapted_tasks"] = int(W.shape[0])
    if answer is not None:
        res["span_error"] = float(span_error(W, answer.basis).mean())
        P = answer.pattern
        if P is not None and P.in_action is not None and P.out_action is not None:
            res["equivariance_error"] = float(np.mean([P.equivariance_error(w) for w in W]))
            res["equivariance_measure"] = ("relative ||rho_Y(s) W - W rho_X(s)||_F / ||W||_F, "
                                           "mean over generators s and held-out tasks")
        elif tasks.name == "rank1" or (cfg.problem == "rank1" and answer.pattern is not None):
            res["equivariance_error"] = float(shift_equivariance_error(W).mean())
            res["equivariance_measure"] = ("relative ||W[1:,1:] - W[:-1,:-1]||_F / ||W||_F "
                                           "(unit translation on the valid window), mean "
                                           "over held-out tasks")
        else:
            notes.append("no group acts on this problem: equivariance error undefined; "
                         "span_error gives the distance of adapted layers to the answer")
    return Comparison(str(record.path), problem, cfg.model,
                      answer.description if answer else None, res, regression_rows(res), notes,
                      arrays, plot_comparison)


def plot_comparison(result: Any, path: str | Path, *, zoom: int = 14) -> Path:
    """PNG of a :func:`compare_regression` result: the exact pattern (or subspace) beside
    what was learned, full size and a zoomed top-left corner, plus one adapted weight."""
    from metasym.plotting import new_figure, save_figure

    arrays = result.arrays
    m, n = arrays["shape"]
    panels: list[tuple[str, np.ndarray, str]] = []
    if "exact" in arrays:
        panels.append(("exact sharing pattern", arrays["exact"], "labels"))
    elif "exact_energy" in arrays:
        panels.append(("exact subspace (diag of projector)", arrays["exact_energy"], "energy"))
    if "recovered" in arrays:
        if "exact" in arrays:
            panels.append(("partition recovered from learned U", arrays["recovered"], "labels"))
        else:
            panels.append(("learned U (diag of projector)", arrays["learned_energy"], "energy"))
    panels.append(("adapted W, one held-out task", arrays["adapted_example"], "signed"))
    z = min(zoom, m, n)
    fig = new_figure(figsize=(4.2 * len(panels), 7.5))
    axes = fig.subplots(2, len(panels), squeeze=False)
    for col, (title, img, kind) in enumerate(panels):
        for row, sub in enumerate((img, img[:z, :z])):
            ax = axes[row, col]
            if kind == "labels":
                shown = np.ma.masked_less(sub, 0)
                ax.imshow(shown, cmap="tab20", interpolation="nearest",
                          vmin=0, vmax=max(int(img.max()), 1))
            elif kind == "energy":
                ax.imshow(sub, cmap="viridis", interpolation="nearest")
            else:
                lim = float(np.abs(img).max()) or 1.0
                ax.imshow(sub, cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_title(title if row == 0 else f"top-left {z}x{z}", fontsize=9)
            ax.set_xticks([])
            ax.set_yticks([])
    d = result.figures.get("subspace_distance")
    ari = result.figures.get("partition_ari")
    fig.suptitle(f"{result.problem} / {result.model}: subspace distance "
                 f"{'n/a' if d is None else f'{d:.4f}'}, partition ARI "
                 f"{'n/a' if ari is None else f'{ari:.3f}'}", fontsize=11)
    fig.tight_layout()
    return save_figure(fig, path)
