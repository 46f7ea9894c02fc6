r"""Learned versus exact, layer by layer, for a few-shot run (``metasym compare``).

For every convolution whose field size is the order of the augmentation's group ``G``
(``flip``, ``c4``, ``d4``), the learned sharing block ``U_block`` is compared with the
exact block ``B`` of that layer (lifting for the first, group convolution for the
others, :class:`~metasym.learning.models.convnet.ExactBlocks`):

* principal angles between ``span(U_block)`` and ``span(B)`` (cosines, and
  :func:`~metasym.learning.comparison.subspaces.subspace_distance`, the sine of the largest angle);
* containment both ways, :math:`\|Q_B^\top Q_U\|_F^2 / \dim`: the fraction of the exact
  space inside the learned one (1: MSR can express every group convolution of the layer)
  and of the learned space inside the exact one (1: every weight MSR can produce is
  equivariant);
* the share of ``U``'s energy in the exact space, :math:`\|P_B U\|_F^2 / \|U\|_F^2`
  (``U U^T`` is the metric of the inner step, :math:`\Delta W = -\alpha\, U U^\top
  \nabla_W L`): 1 when every direction the inner loop can move in is equivariant,
  :math:`\dim B / \text{rows}` for a random ``U``; meaningful for any rank, including a
  square ``U_block`` (whose span is everything) -- and the principal angles of the
  leading :math:`\dim B` left singular vectors of ``U`` against ``B``;
* the distance of the *adapted* weights of held-out episodes to the exact space,
  :math:`\|W - P W\|_F / \|W\|_F` with ``P`` the projection onto
  :math:`I \otimes \mathrm{span}(B)`, for every model -- MAML's channels read in the same
  field layout (note: MAML may realise a symmetry in another channel order, which this
  figure cannot see; the invariance figures below can).

For the whole adapted network: the invariance error of its logits to each exact
transform of the grid (flip, 90-degree rotation) on held-out query sets
(:func:`~metasym.learning.comparison.fewshot.invariance_errors`), and the test accuracy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from metasym.errors import MetasymError
from metasym.learning.comparison.subspaces import (
    containment,
    energy_share,
    leading_subspace,
    orthonormal_basis,
    principal_cosines,
    subspace_distance,
)
from metasym.learning.engine.protocol import Comparison
from metasym.learning.stats import mean_ci95

__all__ = ["compare_fewshot", "invariance_errors", "field_span_error", "grid_transforms",
           "fewshot_rows", "plot_fewshot_comparison"]


def grid_transforms(group: str | None) -> dict[str, Any]:
    """The exact image transforms of a group's generators (``flip``: left-right flip,
    ``rot90``: quarter turn as ``torch.rot90``); both when ``group`` is ``None``."""
    flip = ("flip", lambda x: x.flip(-1))
    rot = ("rot90", lambda x: torch.rot90(x, 1, (-2, -1)))
    chosen = {"flip": [flip], "c4": [rot], "d4": [flip, rot], None: [flip, rot]}[group]
    return dict(chosen)


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
    acc = f.get("test_accuracy")
    rows: list[tuple[str, Any]] = [
        ("test accuracy (episodes compared)",
         None if acc is None else f"{acc:.4f} +- {f['test_accuracy_ci95']:.4f} "
         f"({f['episodes']} episodes)"),
        ("exact group of the augmentation", f.get("group") or "none"),
    ]
    for name, lay in f["layers"].items():
        rows.append((f"{name}: learned / exact dimension",
                     f"{lay['learned_dimension'] if lay['learned_dimension'] is not None else 'n/a'}"
                     f" / {lay['exact_dimension'] if lay['exact_dimension'] is not None else 'n/a'}"))
        if lay.get("subspace_distance") is not None:
            rows += [(f"{name}: subspace distance (sin max angle)", lay["subspace_distance"]),
                     (f"{name}: mean principal cosine", lay["mean_principal_cosine"]),
                     (f"{name}: exact inside learned", lay["exact_in_learned"]),
                     (f"{name}: learned inside exact", lay["learned_in_exact"]),
                     (f"{name}: U energy in exact space",
                      f"{lay['energy_in_exact']:.4f} (random U: "
                      f"{lay['random_energy_in_exact']:.4f})"),
                     (f"{name}: leading subspace mean cosine", lay["leading_mean_cosine"])]
        if lay.get("adapted_span_error") is not None:
            rows.append((f"{name}: adapted W distance to exact", lay["adapted_span_error"]))
    for t, e in (f.get("invariance") or {}).items():
        rows.append((f"logit invariance error under {t}", e["relative_error"]))
        rows.append((f"  predictions changed by {t}", e["changed_predictions"]))
    return rows


def compare_fewshot(record: Any, learner: Any, source: Any, n_tasks: int,
                    problem: Any) -> Comparison:
    """The comparison of the module docstring, on the first ``n_tasks`` test episodes."""
    from metasym.learning.models.conv import MSRConv2d
    from metasym.learning.models.convnet import exact_blocks

    cfg = record.config
    group = problem.group_name(cfg)
    exact = exact_blocks(group) if group is not None else None
    net = learner.model
    n = min(n_tasks, source.n_test)
    batch = source.test_batch(n)
    values = learner.evaluate(batch)
    acc, ci = mean_ci95(values["accuracy"])
    notes: list[str] = []
    # adapted inner parameters of (at most) 50 held-out episodes
    sub = batch.select(slice(0, min(n, 50)))
    xs, ys, _, _ = sub.tensors()
    adapted = learner.adapt(xs, ys)
    layers: dict[str, Any] = {}
    arrays: dict[str, Any] = {"cosines": {}}
    for i, (name, conv) in enumerate(net.conv_layers(), 1):
        lay: dict[str, Any] = {"learned_dimension": None, "exact_dimension": None,
                               "subspace_distance": None, "mean_principal_cosine": None,
                               "principal_cosines": None, "exact_in_learned": None,
                               "learned_in_exact": None, "energy_in_exact": None,
                               "leading_subspace_distance": None,
                               "leading_mean_cosine": None, "adapted_span_error": None}
        block = exact.block(i) if exact is not None else None
        if block is not None:
            lay["exact_dimension"] = int(block.shape[1])
        d_in = 1 if i == 1 else (exact.order if exact is not None else 1)
        if isinstance(conv, MSRConv2d):
            lay["learned_dimension"] = int(conv.rank)
            if block is not None and conv.U_block.shape[0] == block.shape[0]:
                U = conv.U_block.detach().double().cpu().numpy()
                cos = principal_cosines(U, block)
                lead = leading_subspace(U, block.shape[1])
                lead_cos = principal_cosines(lead, block)
                lay.update(subspace_distance=subspace_distance(U, block),
                           mean_principal_cosine=float(np.mean(cos)),
                           principal_cosines=[float(c) for c in cos],
                           exact_in_learned=containment(block, U),
                           learned_in_exact=containment(U, block),
                           energy_in_exact=energy_share(U, block),
                           random_energy_in_exact=block.shape[1] / block.shape[0],
                           leading_subspace_distance=subspace_distance(lead, block),
                           leading_mean_cosine=float(np.mean(lead_cos)))
                arrays["cosines"][name] = lead_cos
            elif block is not None:
                notes.append(f"{name}: field size {conv.field_out} is not |G| = "
                             f"{exact.order}: no block-by-block comparison")
        if block is not None:
            inner = {nm.split(".", 1)[1]: t for nm, t in adapted.items()
                     if nm.startswith(name + ".")}
            with torch.no_grad():
                W = conv.weights(inner).double().cpu().numpy()
            if W.shape[1] % exact.order == 0:
                lay["adapted_span_error"] = float(
                    field_span_error(W, block, exact.order, d_in).mean())
        layers[name] = lay
    if exact is None:
        notes.append(f"--augment {problem.options(cfg).augment}: no exact group (flip, rot90), "
                     "so no exact pattern to compare with; invariance to flip and rot90 is "
                     "still measured")
    if cfg.model == "oracle":
        notes.append("oracle: every U is the frozen exact block")
    if cfg.model == "maml":
        notes.append("maml: no U; the adapted weights are read in fields of |G| consecutive "
                     "channels")
    inv = invariance_errors(learner, batch.select(slice(0, min(n, 100))), grid_transforms(group))
    figures = {"group": group, "test_accuracy": acc, "test_accuracy_ci95": ci, "episodes": n,
               "layers": layers, "invariance": inv,
               "invariance_measure": "relative ||f(gX) - f(X)||_F / ||f(X)||_F of the adapted "
                                     "network's query logits, mean over up to 100 held-out "
                                     "episodes",
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
    ax1.set_xlabel("principal angle index")
    ax1.set_ylabel("cosine (1 = shared direction)")
    ax1.set_title("leading directions of U_block vs exact block" if cos else "no learned U",
                  fontsize=9)
    if cos:
        ax1.legend(fontsize=8)
    inv = result.arrays.get("invariance", {})
    ax2.bar(list(inv), list(inv.values()), color="tab:orange")
    ax2.set_ylabel("relative logit change")
    ax2.set_title(f"invariance of the adapted {result.model} network")
    fig.suptitle(f"{result.problem} / {result.model}", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
