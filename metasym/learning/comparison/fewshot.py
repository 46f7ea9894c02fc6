r"""Learned versus exact, layer by layer, for a few-shot run (``metasym compare``).

The benchmark's figures first: the accuracy on the test episodes' *augmented* queries
after adapting on clean supports (``test_accuracy``) and on the same episodes' clean
queries (``test_accuracy_clean``).

For every convolution whose field size is the order of the augmentation's exact group
``G`` (``flip``, ``vflip``, ``klein``, ``c4``, ``d4``), the learned sharing block
``U_block`` is compared with the exact block ``B`` of that layer (lifting for the first,
group convolution for the others, :class:`~metasym.learning.models.convnet.ExactBlocks`).
A network realises a symmetry with the channels of a field in any order, so every figure
is taken at the **best relabelling** of each layer's output channels
(:func:`~metasym.learning.comparison.subspaces.relabelled_energy_share`, all
:math:`|G|!` orders tried exactly), chained through the network: a layer's input
channels carry the relabelling found for the layer below. Per layer:

* the share of ``U``'s energy in the exact space, :math:`\|P_B U\|_F^2 / \|U\|_F^2`
  (``U U^T`` is the metric of the inner step, :math:`\Delta W = -\alpha\, U U^\top
  \nabla_W L`): 1 when every direction the inner loop can move in is equivariant; the
  same search on a random ``U`` of the same shape gives the chance level (about
  :math:`\dim B / \text{rows}`); meaningful for any rank, a square ``U_block`` included;
* principal angles between ``span(U_block)`` and ``span(B)`` (cosines, and
  :func:`~metasym.learning.comparison.subspaces.subspace_distance`), containment both
  ways, and the principal angles of the leading :math:`\dim B` left singular vectors of
  ``U``;
* how much the layer adapts: :math:`\|W' - W_0\|_F / \|W_0\|_F` of the adapted weights
  of held-out episodes (a layer that does not adapt makes its ``U`` irrelevant);
* the distance of the adapted weights to the exact space, :math:`\|W - P W\|_F /
  \|W\|_F` (``P`` the projection onto :math:`I \otimes \mathrm{span}(B)`, relabelled),
  for the MSR models and the oracle; MAML's channels are read in the canonical layout.

``msr-kron``'s factors mix all channels of a layer, so it has no field-pair block: its
energy share is taken over the whole layer in the canonical field layout (noted).

For the whole adapted network: the invariance error of its logits to each exact
generator of the group (left-right flip, up-down flip, quarter turn) on held-out clean
query sets (:func:`invariance_errors`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from metasym.errors import MetasymError
from metasym.learning.comparison.subspaces import (
    orthonormal_basis,
    relabelled_energy_share,
)
from metasym.learning.engine.protocol import Comparison
from metasym.learning.stats import mean_ci95

__all__ = ["compare_fewshot", "invariance_errors", "field_span_error", "grid_transforms",
           "relabel_rows", "kron_energy_share", "fewshot_rows", "plot_fewshot_comparison"]

#: The exact generators of each pixel group, as image transforms.
_GENERATORS = {"flip": ("flip",), "vflip": ("vflip",), "klein": ("flip", "vflip"),
               "c4": ("rot90",), "d4": ("flip", "rot90"), None: ("flip", "vflip", "rot90")}
_TRANSFORMS: dict[str, Callable[[Tensor], Tensor]] = {
    "flip": lambda x: x.flip(-1), "vflip": lambda x: x.flip(-2),
    "rot90": lambda x: torch.rot90(x, 1, (-2, -1))}


def grid_transforms(group: str | None) -> dict[str, Callable[[Tensor], Tensor]]:
    """The exact image transforms of a pixel group's generators (``flip``: left-right,
    ``vflip``: up-down, ``rot90``: a quarter turn as ``torch.rot90``); all three when
    ``group`` is ``None``."""
    return {name: _TRANSFORMS[name] for name in _GENERATORS[group]}


def relabel_rows(U: np.ndarray, sigma: np.ndarray, tau: np.ndarray, d_out: int,
                 d_in: int) -> np.ndarray:
    """Rows of a field-pair block ``(o, i, p)`` moved to ``(sigma[o], tau[i], p)``."""
    k2 = U.shape[0] // (d_out * d_in)
    out = np.empty_like(U)
    out.reshape(d_out, d_in, k2, -1)[np.asarray(sigma)[:, None], np.asarray(tau)[None, :]] = (
        U.reshape(d_out, d_in, k2, -1))
    return out


def kron_energy_share(A_out: np.ndarray, A_in: np.ndarray, A_k: np.ndarray, block: np.ndarray,
                      d_out: int, d_in: int) -> float:
    r"""Share of a Kronecker ``U = A_{out} \otimes A_{in} \otimes A_k``'s energy in the
    exact space :math:`I \otimes \mathrm{span}(B)` of a whole layer, channels in fields of
    ``d_out`` / ``d_in`` consecutive channels: :math:`\mathrm{tr}(P M) / \mathrm{tr}(M)`,
    :math:`M = U U^\top = M_{out} \otimes M_{in} \otimes M_k`, summed field pair by
    field pair (``P`` is block-diagonal over them)."""
    Mo, Mi, Mk = (np.asarray(a, np.float64) @ np.asarray(a, np.float64).T
                  for a in (A_out, A_in, A_k))
    Q = orthonormal_basis(block)
    k2 = Mk.shape[0]
    Qr = Q.reshape(d_out, d_in, k2, -1)
    inside = 0.0
    for fo in range(Mo.shape[0] // d_out):
        so = slice(fo * d_out, (fo + 1) * d_out)
        for fi in range(Mi.shape[0] // d_in):
            si = slice(fi * d_in, (fi + 1) * d_in)
            # tr(Q^T (Mo_f (x) Mi_f (x) Mk) Q) without forming the Kronecker product
            inside += float(np.einsum("aipc,ab,ij,pq,bjqc->", Qr, Mo[so, so], Mi[si, si], Mk,
                                      Qr, optimize=True))
    return inside / float(np.trace(Mo) * np.trace(Mi) * np.trace(Mk))


def field_span_error(W: np.ndarray, block: np.ndarray, d_out: int, d_in: int) -> np.ndarray:
    r"""Relative distance of conv weights ``W`` ``(T, c_out, c_in*k*k)`` to the space
    :math:`P(I \otimes \mathrm{span}(B))`: each ``(output field, input field)`` block of
    ``d_out x d_in x k*k`` entries projected onto ``span(block)``; ``(T,)``."""
    W = np.asarray(W, dtype=np.float64)
    T, c_out, q = W.shape
    k2 = block.shape[0] // (d_out * d_in)
    c_in = q // k2
    X = W.reshape(T, c_out // d_out, d_out, c_in // d_in, d_in, k2)
    X = X.transpose(0, 1, 3, 2, 4, 5).reshape(T, -1, d_out * d_in * k2)
    Q = orthonormal_basis(block)
    res = X - (X @ Q) @ Q.T
    num = np.sqrt(np.square(res).sum(axis=(1, 2)))
    den = np.sqrt(np.square(X).sum(axis=(1, 2)))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)


def invariance_errors(learner: Any, batch: Any,
                      transforms: dict[str, Callable[[Tensor], Tensor]],
                      chunk: int = 25) -> dict[str, dict[str, float]]:
    r"""Invariance of the adapted network's logits to each image transform ``g``:
    relative error :math:`\|f(gX) - f(X)\|_F / \|f(X)\|_F` over each episode's query set
    ``X`` (after adapting on the untransformed support set), and the fraction of query
    images whose predicted class changes; means over the episodes of ``batch``."""
    if not transforms:
        return {}
    sums = {name: [0.0, 0.0] for name in transforms}
    T = len(batch)
    for i in range(0, T, chunk):
        xs, ys, xq, _ = batch.select(slice(i, i + chunk)).tensors()
        names = list(transforms)
        moved = [transforms[n](xq.flatten(0, 1)).view_as(xq) for n in names]
        base, *others = learner.query_logits(xs, ys, xq, *moved)
        den = base.flatten(1).norm(dim=1).clamp_min(torch.finfo(base.dtype).tiny)
        for n, lg in zip(names, others):
            err = (lg - base).flatten(1).norm(dim=1) / den
            flips = (lg.argmax(-1) != base.argmax(-1)).to(torch.float64).mean(-1)
            sums[n][0] += float(err.sum())
            sums[n][1] += float(flips.sum())
    if T == 0:
        raise MetasymError("no episodes to measure invariance on")
    return {n: {"relative_error": s[0] / T, "changed_predictions": s[1] / T}
            for n, s in sums.items()}


def fewshot_rows(f: dict[str, Any]) -> list[tuple[str, Any]]:
    """What ``metasym compare`` prints for a few-shot run, in order."""

    def acc(key: str) -> str | None:
        v = f.get(key)
        return None if v is None else (f"{v:.4f} +- {f[key + '_ci95']:.4f} "
                                        f"({f['episodes']} episodes)")

    rows: list[tuple[str, Any]] = [
        ("test accuracy, augmented queries", acc("test_accuracy")),
        ("test accuracy, clean queries", acc("test_accuracy_clean")),
        ("exact group of the augmentation", f.get("group") or "none"),
    ]
    for name, lay in f["layers"].items():
        dims = (f"{'n/a' if lay['learned_dimension'] is None else lay['learned_dimension']}"
                f" / {'n/a' if lay['exact_dimension'] is None else lay['exact_dimension']}")
        rows.append((f"{name}: learned / exact dimension", dims))
        if lay.get("energy_in_exact") is not None:
            rows.append((f"{name}: U energy in exact space",
                         f"{lay['energy_in_exact']:.4f} (random U: "
                         f"{lay['random_energy_in_exact']:.4f})"))
        if lay.get("subspace_distance") is not None:
            rows += [(f"{name}: subspace distance (sin max angle)", lay["subspace_distance"]),
                     (f"{name}: mean principal cosine", lay["mean_principal_cosine"]),
                     (f"{name}: exact inside learned", lay["exact_in_learned"]),
                     (f"{name}: learned inside exact", lay["learned_in_exact"]),
                     (f"{name}: leading subspace mean cosine", lay["leading_mean_cosine"])]
        if lay.get("adaptation") is not None:
            rows.append((f"{name}: adaptation |W' - W0| / |W0|", lay["adaptation"]))
        if lay.get("adapted_span_error") is not None:
            rows.append((f"{name}: adapted W distance to exact", lay["adapted_span_error"]))
    for t, e in (f.get("invariance") or {}).items():
        rows.append((f"logit invariance error under {t}", e["relative_error"]))
        rows.append((f"  predictions changed by {t}", e["changed_predictions"]))
    return rows


def _subspace_figures(U: np.ndarray, qB: np.ndarray) -> dict[str, Any]:
    """Principal angles, containment both ways and the leading directions of ``U``
    against the orthonormal ``qB``, from one SVD of ``U`` (what
    :func:`~metasym.learning.comparison.subspaces.principal_cosines`,
    :func:`~metasym.learning.comparison.subspaces.containment` and
    :func:`~metasym.learning.comparison.subspaces.leading_subspace` compute, without
    orthonormalising the same matrices again for each)."""
    u, sv, _ = np.linalg.svd(U, full_matrices=False)
    qU = u[:, sv > sv[0] * 1e-10] if sv.size and sv[0] > 0 else u[:, :0]
    M = qB.T @ qU
    cos = np.clip(np.linalg.svd(M, compute_uv=False), 0.0, 1.0)
    lead = np.clip(np.linalg.svd(qB.T @ u[:, :qB.shape[1]], compute_uv=False), 0.0, 1.0)
    inside = float(np.square(M).sum())

    def dist(Q: np.ndarray) -> float:
        # the sine of the largest angle from the residual of the smaller space (accurate
        # for small angles, where 1 - cos^2 cancels)
        small, big = (qB, Q) if Q.shape[1] >= qB.shape[1] else (Q, qB)
        if small.shape[1] == 0:
            return 1.0
        res = small - big @ (big.T @ small)
        return float(np.clip(np.linalg.svd(res, compute_uv=False).max(), 0.0, 1.0))

    return {"subspace_distance": dist(qU), "mean_principal_cosine": float(np.mean(cos)),
            "principal_cosines": [float(c) for c in cos],
            "exact_in_learned": inside / qB.shape[1],
            "learned_in_exact": inside / qU.shape[1] if qU.shape[1] else float("nan"),
            "leading_subspace_distance": dist(u[:, :qB.shape[1]]),
            "leading_mean_cosine": float(np.mean(lead)),
            "leading_principal_cosines": [float(c) for c in lead]}


def _layer_weights(layer: Any, inner: dict[str, Tensor]) -> Tensor:
    """``(T, out, in*k*k)`` (conv) or ``(T, classes, features)`` (head) weights of
    per-episode inner parameters."""
    if hasattr(layer, "weights"):
        return layer.weights(inner)
    if "v" in inner:  # FieldHead
        T = inner["v"].shape[0]
        return torch.einsum("tnfr,ir->tnfi", inner["v"], layer.U).reshape(T, layer.classes, -1)
    return inner["weight"]


def _adaptation(layer: Any, inner: dict[str, Tensor]) -> float | None:
    r"""Mean over episodes of :math:`\|W' - W_0\|_F / \|W_0\|_F`."""
    if not inner:
        return None
    with torch.no_grad():
        W1 = _layer_weights(layer, inner).double()
        W0 = layer.weight.detach().double().reshape(1, *W1.shape[1:])
        den = float(W0.norm())
        return float(((W1 - W0).flatten(1).norm(dim=1) / den).mean()) if den > 0 else None


def _progress(total: int, show: bool) -> Any:
    from metasym.progress import progress_bar

    return progress_bar(total, show, desc="compare", unit="part")


def compare_fewshot(record: Any, learner: Any, source: Any, n_tasks: int,
                    problem: Any, progress: bool = True) -> Comparison:
    """The comparison of the module docstring, on the first ``n_tasks`` test episodes."""
    from metasym.learning.models.conv import MSRConv2d, SquareMSRConv2d
    from metasym.learning.models.convnet import exact_blocks

    cfg = record.config
    group = problem.group_name(cfg)
    exact = exact_blocks(group) if group is not None else None
    net = learner.model
    n = min(n_tasks, source.n_test)
    convs = net.conv_layers()
    bar = _progress(3 + len(convs), progress)
    batch = source.test_batch(n)
    values = learner.evaluate(batch)
    acc, ci = mean_ci95(values["accuracy"])
    clean = values.get("accuracy_clean")
    acc_c, ci_c = mean_ci95(clean) if clean is not None else (None, None)
    bar.update(1)
    notes: list[str] = []
    # adapted inner parameters of (at most) 50 held-out episodes
    sub = batch.select(slice(0, min(n, 50)))
    xs, ys, _, _ = sub.tensors()
    adapted = learner.adapt(xs, ys)
    bar.update(1)

    def inner_of(name: str) -> dict[str, Tensor]:
        return {nm.split(".", 1)[1]: t for nm, t in adapted.items()
                if nm.startswith(name + ".")}

    layers: dict[str, Any] = {}
    arrays: dict[str, Any] = {"cosines": {}}
    rng = np.random.default_rng(0)
    tau = tau_random = np.arange(1)
    relabelled = False
    for i, (name, conv) in enumerate(convs, 1):
        lay: dict[str, Any] = {"learned_dimension": None, "exact_dimension": None,
                               "energy_in_exact": None, "random_energy_in_exact": None,
                               "energy_in_exact_canonical": None, "relabelling": None,
                               "subspace_distance": None, "mean_principal_cosine": None,
                               "principal_cosines": None, "exact_in_learned": None,
                               "learned_in_exact": None, "leading_subspace_distance": None,
                               "leading_mean_cosine": None, "adaptation": None,
                               "adapted_span_error": None}
        block = exact.block(i) if exact is not None else None
        d = exact.order if exact is not None else 1
        d_in = 1 if i == 1 else d
        if block is not None:
            lay["exact_dimension"] = int(block.shape[1])
        sigma = np.arange(d)
        if isinstance(conv, MSRConv2d):
            lay["learned_dimension"] = int(conv.rank)
            if block is not None and conv.U_block.shape[0] == block.shape[0]:
                U = conv.U_block.detach().double().cpu().numpy()
                share, sigma = relabelled_energy_share(U, block, d, d_in, tau)
                R = rng.standard_normal(U.shape)
                share_r, sig_r = relabelled_energy_share(R, block, d, d_in, tau_random)
                Ur = relabel_rows(U, sigma, tau, d, d_in)
                qB = orthonormal_basis(block)
                fig = _subspace_figures(Ur, qB)
                lay.update(energy_in_exact=share, random_energy_in_exact=share_r,
                           energy_in_exact_canonical=float(
                               np.square(qB.T @ U).sum() / np.square(U).sum()),
                           relabelling=[int(x) for x in sigma], **fig)
                lead_cos = np.asarray(fig["leading_principal_cosines"])
                tau_random = sig_r
                relabelled = True
                arrays["cosines"][name] = lead_cos
            elif block is not None:
                notes.append(f"{name}: field size {conv.field_out} is not |G| = "
                             f"{exact.order}: no block-by-block comparison")
        elif isinstance(conv, SquareMSRConv2d):
            lay["learned_dimension"] = int(conv.out_channels * conv.q)
            if block is not None:
                with torch.no_grad():
                    A = [a.detach().double().cpu().numpy() for a in (conv.A_out, conv.A_in,
                                                                     conv.A_k)]
                Rk = [rng.standard_normal(a.shape) for a in A]
                lay["energy_in_exact"] = kron_energy_share(*A, block, d, d_in)
                lay["random_energy_in_exact"] = kron_energy_share(*Rk, block, d, d_in)
        lay["adaptation"] = _adaptation(conv, inner_of(name))
        if block is not None and inner_of(name):
            with torch.no_grad():
                W = conv.weights(inner_of(name)).double().cpu().numpy()
            if W.shape[1] % d == 0 and W.shape[2] % d_in == 0:
                # the relabelling found for U, applied to the adapted weights
                c_out, q = W.shape[1], W.shape[2]
                k2 = conv.kernel ** 2
                Wr = W.reshape(len(W), c_out // d, d, q // (d_in * k2), d_in, k2)
                Wr = Wr[:, :, np.argsort(sigma)][:, :, :, :, np.argsort(tau) if d_in > 1
                                                  else slice(None)]
                lay["adapted_span_error"] = float(
                    field_span_error(Wr.reshape(W.shape), block, d, d_in).mean())
        tau = sigma
        layers[name] = lay
        bar.update(1)
    layers["head"] = {"learned_dimension": None, "exact_dimension": None,
                      "adaptation": _adaptation(net.head, inner_of("head"))}
    if exact is None:
        notes.append(f"--augment {problem.options(cfg).augment}: no exact group (flip, vflip, "
                     "rot90), so no exact pattern to compare with; invariance to the three "
                     "is still measured")
    if relabelled:
        notes.append("every layer's U is compared at the best relabelling of its output "
                     "channels (all |G|! tried; the input channels carry the layer below's): "
                     "energy_in_exact_canonical is the figure in the stored order")
    if any(isinstance(c, SquareMSRConv2d) for _, c in convs) and exact is not None:
        notes.append("msr-kron: U = A_out (x) A_in (x) A_k mixes all channels; its energy "
                     "share is over whole layers in the canonical field layout")
    if cfg.model == "oracle":
        notes.append("oracle: every U is the frozen exact block")
    if cfg.model == "maml":
        notes.append("maml: no U; the adapted weights are read in fields of |G| consecutive "
                     "channels")
    inv = invariance_errors(learner, batch.select(slice(0, min(n, 100))).clean(),
                            grid_transforms(group))
    bar.update(1)
    bar.close()
    figures = {"group": group, "test_accuracy": acc, "test_accuracy_ci95": ci,
               "test_accuracy_clean": acc_c, "test_accuracy_clean_ci95": ci_c,
               "episodes": n, "layers": layers, "invariance": inv,
               "invariance_measure": "relative ||f(gX) - f(X)||_F / ||f(X)||_F of the adapted "
                                     "network's logits on clean query sets, mean over up to "
                                     "100 held-out episodes",
               "adapted_episodes": int(len(sub))}
    arrays["invariance"] = {t: e["relative_error"] for t, e in inv.items()}
    return Comparison(str(record.path), problem.display_name(cfg), cfg.model,
                      None if exact is None else f"exact {group} group convolutions "
                      f"({exact.group.spec} on 3x3 kernels)", figures, fewshot_rows(figures),
                      notes, arrays, plot_fewshot_comparison)


def plot_fewshot_comparison(result: Any, path: Any) -> Any:
    """PNG: principal cosines of every layer's learned block against the exact one (left),
    logit invariance error per transform (right)."""
    from metasym.plotting import new_figure, save_figure

    fig = new_figure(figsize=(9, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    cos = result.arrays.get("cosines", {})
    for name, c in cos.items():
        ax1.plot(np.arange(1, len(c) + 1), c, marker=".", label=name)
    ax1.set_ylim(0, 1.05)
    from matplotlib.ticker import MaxNLocator

    ax1.xaxis.set_major_locator(MaxNLocator(integer=True))  # an index axis
    ax1.set_xlabel("principal angle index")
    ax1.set_ylabel("cosine (1 = shared direction)")
    ax1.set_title("leading directions of U_block vs exact block" if cos else "no learned U",
                  fontsize=9)
    if cos:
        ax1.legend(fontsize=8)
    inv = result.arrays.get("invariance", {})
    ax2.bar(list(inv), list(inv.values()), color="tab:orange")
    ax2.set_ylabel("relative logit change")
    ax2.set_xlabel("transform of the query images")
    ax2.set_title(f"invariance of the adapted {result.model} network")
    fig.suptitle(f"{result.problem} / {result.model}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
