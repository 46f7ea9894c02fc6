"""Learned versus exact for an image run (``metasym compare``): the learned sharing
against the exact or steerable bank, equivariance of the adapted banks under the grid's
exact symmetries, and a figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from metasym.learning.data.images import ImageProblem, ImageTasks
from metasym.learning.stats import mean_ci95

__all__ = ["grid_equivariance_error", "compare_images", "image_rows", "plot_image_comparison"]


def grid_equivariance_error(W: np.ndarray, problem: ImageProblem) -> dict[str, float]:
    r"""Relative error of kernel banks ``(..., c_out, k*k)`` under the exact grid
    symmetries (90-degree rotation; left-right flip for ``d4``/``rot8_flip``):
    :math:`\|W[s_{out}(o), s_{in}(p)] - W[o, p]\|_F / \|W\|_F`, mean over banks.
    Zero iff rotating (flipping) the input image permutes the output channels."""
    W = np.asarray(W, dtype=np.float64)
    flat = W.reshape(-1, *W.shape[-2:])
    out = {}
    for name, kp, cp in problem.grid_transforms:
        moved = np.empty_like(flat)
        moved[:, cp[:, None], kp[None, :]] = flat  # (s.W)[s(o), s(p)] = W[o, p]
        num = np.linalg.norm((moved - flat).reshape(len(flat), -1), axis=1)
        den = np.linalg.norm(flat.reshape(len(flat), -1), axis=1)
        out[name] = float(np.mean(np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)))
    return out


def image_rows(f: dict[str, Any]) -> list[tuple[str, Any]]:
    """What ``metasym compare`` prints for an image run, in order: ``(label, value)``."""
    mse = (None if f.get("test_mse") is None else
           f"{f['test_mse']:.4f} +- {f['test_mse_ci95']:.4f}")
    learned = f.get("learned_dimension")
    return [
        ("test MSE (held-out tasks compared)", mse),
        ("learned dimension / exact",
         f"{'n/a' if learned is None else learned} / {f['answer_dimension']}"),
        ("subspace distance (sin max angle)", f.get("subspace_distance")),
        ("subspace distance (rms sin)", f.get("subspace_distance_rms")),
        ("equivariance error, mean", f.get("equivariance_error")),
        *((f"  under {k}", v) for k, v in (f.get("equivariance_errors") or {}).items()),
        ("45-degree error on rotated inputs", f.get("rotation45_error")),
        ("  same for exact steerable banks", f.get("rotation45_reference")),
        ("distance of adapted W to the span", f.get("span_error")),
    ]


def compare_images(record: Any, learner: Any, tasks: ImageTasks,
                   n_tasks: int = 300) -> Any:
    """Learned versus exact for an image run: subspace distance of the learned sharing
    (per field block) to the exact/steerable one, equivariance errors of the adapted banks
    on held-out tasks (90 degrees, flips, and 45 degrees on rotated inputs for rot8*),
    their distance to the exact span, and the test MSE."""
    from metasym.learning.comparison.subspaces import (
        principal_cosines,
        span_error,
        subspace_distance,
    )
    from metasym.learning.engine.protocol import Comparison
    from metasym.learning.models.conv import FullMSRConv2d, MSRConv2d, SquareMSRConv2d
    from metasym.representations.steerable import rotation_response_error

    cfg = record.config
    p = tasks.problem
    model = learner.model
    notes: list[str] = []
    res: dict[str, Any] = {
        "answer_dimension": p.fields * p.dimension, "learned_dimension": None,
        "subspace_distance": None, "subspace_distance_rms": None, "principal_cosines": None,
        "equivariance_error": None, "equivariance_errors": None,
        "rotation45_error": None, "span_error": None,
    }
    learned = exact = None
    if isinstance(model, MSRConv2d):
        learned, exact = model.U_block.detach().double().numpy(), p.block
        res["learned_dimension"] = int(model.rank) * p.fields
        notes.append("subspace distance of the per-field block U_block to the exact block; "
                     "the full U is I (x) U_block, which has the same principal angles")
    elif isinstance(model, FullMSRConv2d):
        learned, exact = model.full_U().double().numpy(), p.full_basis()
        res["learned_dimension"] = int(model.k)
    elif isinstance(model, SquareMSRConv2d):
        res["learned_dimension"] = int(model.full_U().shape[1])
        sv = torch.linalg.svdvals(model.full_U().double())
        res["learned_condition_number"] = float(sv[0] / sv[-1])
        notes.append("square factors: U = A_out (x) A_in (x) A_k spans every weight (no "
                     "subspace), so no subspace distance")
    else:
        notes.append(f"{cfg.model} has no sharing matrix U")
    if learned is not None:
        res["subspace_distance"] = subspace_distance(learned, exact)
        res["subspace_distance_rms"] = subspace_distance(learned, exact, "rms")
        res["principal_cosines"] = [float(c) for c in principal_cosines(learned, exact)]
        if getattr(model, "learns_U", True) is False:
            notes.append("oracle: U is the frozen exact basis")
    n_eval = min(n_tasks, tasks.n_tasks - tasks.n_train)
    b = tasks.stats.select(slice(tasks.n_train, tasks.n_train + n_eval))
    W = learner.adapted_weights(b).double().numpy()
    losses = learner.evaluate(b).numpy()
    res["test_mse"], res["test_mse_ci95"] = mean_ci95(losses)
    res["adapted_tasks"] = int(n_eval)
    errs = grid_equivariance_error(W, p)
    res["equivariance_errors"] = errs
    res["equivariance_error"] = float(np.mean(list(errs.values())))
    res["equivariance_measure"] = ("relative ||W[s(o), s(p)] - W[o, p]||_F / ||W||_F of the "
                                   "adapted banks under the grid's 90-degree rotation"
                                   + (" and left-right flip" if p.flips else "")
                                   + ", mean over held-out tasks")
    res["span_error"] = float(span_error(W, p.full_basis()).mean())
    if p.steerable is not None:
        res["rotation45_error"] = rotation_response_error(W[:min(50, n_eval)], p.steerable,
                                                          element=1, n_images=100)
        res["rotation45_reference"] = rotation_response_error(
            tasks.w[tasks.n_train:tasks.n_train + min(50, n_eval)], p.steerable, element=1,
            n_images=100)
        res["rotation45_measure"] = ("relative error of the response at the rotation centre "
                                     "to smooth random images (wavenumber <= 1 rad/px) "
                                     "rotated by 45 degrees, vs the channel permutation; "
                                     "rotation45_reference is the same for the generating "
                                     "(exactly steerable) banks: the grid's floor")
    arrays = {"adapted": W[0], "true": tasks.w[tasks.n_train], "order": p.order,
              "kernel": p.kernel}
    return Comparison(str(record.path), p.name, cfg.model, p.description, res, image_rows(res),
                      notes, arrays, plot_image_comparison)


def plot_image_comparison(result: Any, path: str | Path) -> Path:
    """PNG of a :func:`compare_images` result: the first field's kernel bank of one
    held-out task, the generating (exact) bank above the adapted one. Columns are the
    field's channels (one per group element), rows are named, and every panel shares one
    symmetric colour scale, shown by a colorbar."""
    from metasym.plotting import new_figure, save_figure

    a = result.arrays
    N, k = a["order"], a["kernel"]
    rows = [("exact\n(generating)", a["true"][:N]), ("adapted\nmodel", a["adapted"][:N])]
    fig = new_figure(figsize=(1.25 * N + 1.6, 3.6), layout="constrained")
    axes = fig.subplots(2, N, squeeze=False)
    lim = float(max(np.abs(a["true"][:N]).max(), np.abs(a["adapted"][:N]).max())) or 1.0
    shown = None
    for r, (title, bank) in enumerate(rows):
        for c in range(N):
            ax = axes[r, c]
            shown = ax.imshow(bank[c].reshape(k, k), cmap="RdBu_r", vmin=-lim, vmax=lim,
                              interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(f"channel {c}", fontsize=8)
            if c == 0:
                ax.set_ylabel(title, fontsize=8)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="kernel weight (one scale)")
    fig.supxlabel(f"the {N} channels of field 0 (one per element of the order-{N} group), "
                  f"each a {k}x{k} kernel", fontsize=8)
    d = result.figures.get("subspace_distance")
    e = result.figures.get("equivariance_error")
    fig.suptitle(f"{result.problem} / {result.model}: subspace "
                 f"distance {'n/a' if d is None else f'{d:.3f}'}, equivariance error "
                 f"{'n/a' if e is None else f'{e:.3f}'}", fontsize=9)
    return save_figure(fig, path)
