r"""Image symmetries: the 2-D problems ``c4``, ``d4``, ``rot8``, ``rot8_flip``, their
meta-learner and training runs.

**Problems.** Every task is a lifting convolution from one trivial input channel to
``fields`` regular fields (``c_out = fields * |G|``), ``k x k`` kernel, "valid" padding,
on ``x ~ N(0, 1)`` images of ``size x size`` pixels; 20 examples per task (1 support + 19
query by default). Per task the weight is drawn from the exact equivariant space,
:math:`W = \beta\, Q v`, :math:`v \sim N(0, I)`, with ``Q`` an orthonormal basis of the
space and :math:`\beta^2 = |G| / d` (``d`` parameters per field) so that
:math:`E[y^2] = 1` (predicting zero has MSE about 1).

* ``c4`` / ``d4``: ``G`` = ``rotations(k)`` / ``rotoflips(k)`` acting on the kernel
  positions; the space is the exact sharing pattern
  :func:`~metasym.representations.steerable.lifting_conv_pattern` (derived from the
  groups, ``k*k`` parameters per field).
* ``rot8`` / ``rot8_flip``: C8 / D8 steerable kernels
  (:class:`~metasym.representations.steerable.SteerableKernels`), 3 fields = 24 / 48
  channels as in the paper; 6 parameters per field (band limit 2).

**Why sufficient statistics.** A conv is linear in its weight, so with patches
:math:`P` (``c_in k^2 x positions``) of an example, the prediction is :math:`W P` and the
squared error of a set of examples is
:math:`\mathrm{tr}(W S W^\top) - 2\,\mathrm{tr}(W H^\top) + \|Y\|^2` with
:math:`S = \sum P P^\top` (``q x q``, ``q = c_in k^2``) and :math:`H = \sum Y P^\top`.
Every MAML quantity -- inner gradients :math:`\tfrac{2}{n\,c_{out}}(W S - H)`, adapted
weights, query losses and their meta-gradients -- is a function of these per-task
statistics, computed once when the tasks are generated. An outer step then touches
``T x c_out x q`` numbers instead of ``T x 20`` images: exactly the same losses (to
rounding; float64 is used for the statistics and the loss to avoid cancellation), far
cheaper. :meth:`ConvMetaLearner.direct_task_losses` computes the same losses with real
``conv2d`` calls on the images (checked equal in the tests, used by the benchmark).
The images are never stored: each task's ``x`` is regenerated on demand from
``(data_seed, task index)`` (:meth:`ImageTasks.images`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metasym.errors import SpecError
from metasym.learning.conv2d import build_conv_model
from metasym.learning.engine.config import mean_ci95
from metasym.learning.registry import CONV_MODEL_NAMES, IMAGE_PROBLEMS

__all__ = [
    "IMAGE_PROBLEMS",
    "ImageProblem",
    "ImageTasks",
    "StatsBatch",
    "image_problem",
    "make_image_tasks",
    "ConvMetaLearner",
    "build_conv_learner",
    "resolve_rank",
    "loop_conv_task_losses",
    "grid_equivariance_error",
    "compare_images",
    "image_rows",
    "plot_image_comparison",
]

#: Largest ``tasks * examples * pixels`` generated (the images are reduced to statistics
#: in chunks, but generation time grows with it).
MAX_PIXELS = 4_000_000_000


# ----- problems ------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class ImageProblem:
    """The exact structure of an image problem (see the module docstring).

    Attributes
    ----------
    name
        One of :data:`IMAGE_PROBLEMS`.
    group
        The group (``rotations:k``, ``rotoflips:k``, ``cyclic:8``, ``dihedral:8``).
    kernel, fields, image_size
        Kernel size, number of regular output fields, input image size.
    block
        ``(|G|*k*k, d)`` orthonormal basis of one field's kernel bank.
    pattern
        Exact :class:`~metasym.representations.SharingPattern` of the whole bank
        (``c4``/``d4``), else ``None``.
    steerable
        The :class:`~metasym.representations.steerable.SteerableKernels` (``rot8*``).
    description
        One line.
    """

    name: str
    group: Any
    kernel: int
    fields: int
    image_size: int
    block: np.ndarray
    pattern: Any
    steerable: Any
    description: str
    tolerance: float = 0.0

    @property
    def order(self) -> int:
        return int(self.group.order)

    @property
    def out_channels(self) -> int:
        return self.fields * self.order

    @property
    def q(self) -> int:
        return self.kernel ** 2

    @property
    def dimension(self) -> int:
        """Parameters per field ``d``."""
        return int(self.block.shape[1])

    @property
    def out_size(self) -> int:
        return self.image_size - self.kernel + 1

    def full_basis(self) -> np.ndarray:
        """``(c_out*k*k, fields*d)`` orthonormal basis of the whole bank (row-major vec of
        ``(c_out, k*k)``)."""
        return np.kron(np.eye(self.fields), self.block)

    @cached_property
    def grid_transforms(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """The grid symmetries the bank must commute with exactly: ``(name, kernel
        permutation, channel permutation)`` for the 90-degree rotation and (with flips)
        the left-right flip. Permutations are images ``p -> s(p)``; the channel one is the
        regular image of the matching group element, repeated over fields."""
        from metasym.groups import regular, rotations, rotoflips

        grid = rotoflips(self.kernel) if self.flips else rotations(self.kernel)
        kern = grid.generator_arrays
        reg = regular(self.group)
        if self.steerable is None:
            chan = reg.generator_images
        else:
            imgs = reg.element_images()
            want = [(math.pi / 2, False)] + ([(0.0, True)] if self.flips else [])
            idx = []
            for ang, flip in want:
                for i in range(self.order):
                    a, f = self.steerable.element_transform(i)
                    if f == flip and math.isclose(a, ang, abs_tol=1e-9):
                        idx.append(i)
                        break
            chan = imgs[idx]
        names = ["rot90", "fliplr"][:len(kern)]
        N = self.order
        out = []
        for nm, kp, cp in zip(names, kern, chan):
            full = (np.arange(self.fields)[:, None] * N + np.asarray(cp)[None, :]).ravel()
            out.append((nm, np.asarray(kp), full))
        return out

    @property
    def flips(self) -> bool:
        return self.name in ("d4", "rot8_flip")


def image_problem(name: str, *, kernel: int = 3, fields: int = 3, image_size: int = 32
                  ) -> ImageProblem:
    """The exact structure of problem ``name`` (one of :data:`IMAGE_PROBLEMS`)."""
    from metasym.representations.steerable import (
        SteerableKernels,
        kernel_group,
        lifting_conv_pattern,
    )

    if name not in IMAGE_PROBLEMS:
        raise SpecError(f"unknown image problem {name!r}; choose from {', '.join(IMAGE_PROBLEMS)}")
    for what, val in (("fields", fields), ("kernel", kernel), ("image size", image_size)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise SpecError(f"{what} must be a positive integer, got {val!r}")
    if image_size < kernel:
        raise SpecError(f"image size {image_size} is smaller than the kernel {kernel}")
    if name in ("c4", "d4"):
        G = kernel_group(name, kernel)
        if G.order == 1:
            raise SpecError("c4/d4 need a kernel of at least 2 x 2")
        block = lifting_conv_pattern(G, 1).basis(orthonormal=True)
        P = lifting_conv_pattern(G, fields)
        desc = (f"exact sharing pattern of {P.description}: {P.shape[0]}x{P.shape[1]} "
                f"weights, dimension {P.dimension}")
        return ImageProblem(name, G, kernel, fields, image_size, block, P, None, desc)
    if kernel % 2 == 0:
        raise SpecError(f"{name} needs an odd kernel size, got {kernel}")
    sk = SteerableKernels(8, flips=name == "rot8_flip", kernel=kernel)
    sb = sk.lifting_basis()
    desc = (f"steerable {sk.group.spec} kernels ({kernel}x{kernel}, harmonics up to frequency "
            f"{sk.max_frequency}, sigma {sk.sigma}): trivial -> {fields} regular field(s), "
            f"dimension {fields * sb.dimension} (nullspace tol {sb.tolerance:.2g}, residual "
            f"{sb.residual:.2g})")
    return ImageProblem(name, sk.group, kernel, fields, image_size, sb.block, None, sk, desc,
                        sb.tolerance)


# ----- tasks -----------------------------------------------------------------------------------
class StatsBatch(NamedTuple):
    """Per-task sufficient statistics (float64): support ``Ss`` ``(T, q, q)``, ``Hs``
    ``(T, c_out, q)``, ``yys`` ``(T,)``; the same for the query; ``n_s``/``n_q`` are the
    numbers of (example, position) pairs averaged over."""

    Ss: Tensor
    Hs: Tensor
    yys: Tensor
    Sq: Tensor
    Hq: Tensor
    yyq: Tensor
    n_s: int
    n_q: int

    def select(self, idx: Tensor | slice) -> StatsBatch:
        return StatsBatch(self.Ss[idx], self.Hs[idx], self.yys[idx], self.Sq[idx],
                          self.Hq[idx], self.yyq[idx], self.n_s, self.n_q)

    def to(self, device: torch.device | str) -> StatsBatch:
        return StatsBatch(*(t.to(device) for t in self[:6]), self.n_s, self.n_q)


def _patch_grams(x: Tensor, kernel: int) -> Tensor:
    """``sum_positions P P^T`` of each image: ``(B, H, W) -> (B, k*k, k*k)`` (float64).

    The ``k*k`` shifted views are stacked (rows in ``(ky, kx)`` order, the weight's) and
    multiplied in float64: about 4x faster than ``F.unfold`` here."""
    B, H, W = x.shape
    oh, ow = H - kernel + 1, W - kernel + 1
    V = torch.stack([x[:, a:a + oh, b:b + ow] for a in range(kernel) for b in range(kernel)],
                    dim=1).reshape(B, kernel * kernel, oh * ow).double()
    return V @ V.transpose(1, 2)


@dataclass(frozen=True, eq=False)
class ImageTasks:
    """Tasks of an image problem, held as sufficient statistics (see the module docstring).

    ``w`` ``(tasks, c_out, k*k)`` are the generating weights; ``stats`` the float64
    statistics for the given ``support`` size; the first ``n_train`` tasks train."""

    problem: ImageProblem
    w: np.ndarray
    stats: StatsBatch
    n_train: int
    n_examples: int
    support: int
    data_seed: int
    seconds: float

    @property
    def n_tasks(self) -> int:
        return int(self.w.shape[0])

    @property
    def name(self) -> str:
        return self.problem.name

    def images(self, tasks: np.ndarray | list[int] | range) -> tuple[np.ndarray, np.ndarray]:
        """Regenerate ``x`` ``(len, examples, 1, H, W)`` (float32) and
        ``y = conv2d(x, w)`` ``(len, examples, c_out, H', W')`` of the given tasks."""
        idx = np.asarray(list(tasks), dtype=np.int64)
        p = self.problem
        x = np.stack([_task_images(self.data_seed, int(t), self.n_examples, p.image_size)
                      for t in idx])
        xt = torch.from_numpy(x).double()
        ys = []
        for j, t in enumerate(idx):
            W = torch.from_numpy(self.w[t]).view(p.out_channels, 1, p.kernel, p.kernel)
            ys.append(F.conv2d(xt[j], W).float().numpy())
        return x, np.stack(ys)

    def __repr__(self) -> str:
        return (f"ImageTasks({self.name!r}, tasks={self.n_tasks} ({self.n_train} train), "
                f"{self.problem.image_size}x{self.problem.image_size} -> "
                f"{self.problem.out_channels}x{self.problem.out_size}x{self.problem.out_size})")


def _task_images(seed: int, task: int, n_examples: int, size: int) -> np.ndarray:
    # one generator per task: any task's images can be regenerated without the others
    rng = np.random.default_rng([seed, task])
    return rng.standard_normal((n_examples, 1, size, size), dtype=np.float32)


def make_image_tasks(name: str, *, n_tasks: int = 10_000, n_examples: int = 20,
                     support: int = 1, seed: int = 0, image_size: int = 32, fields: int = 3,
                     kernel: int = 3, train_fraction: float = 0.8,
                     problem: ImageProblem | None = None) -> ImageTasks:
    """Generate the tasks of an image problem, reduced to sufficient statistics.

    Examples
    --------
    >>> ts = make_image_tasks("c4", n_tasks=4, image_size=8, fields=1)
    >>> ts.stats.Ss.shape, ts.stats.Hs.shape, ts.stats.n_s
    (torch.Size([4, 9, 9]), torch.Size([4, 4, 9]), 36)
    """
    t0 = time.perf_counter()
    p = problem or image_problem(name, kernel=kernel, fields=fields, image_size=image_size)
    if n_tasks < 2:
        raise SpecError(f"need at least 2 tasks (train and test), got {n_tasks}")
    if not 1 <= support < n_examples:
        raise SpecError(f"support size must be between 1 and {n_examples - 1} (tasks have "
                        f"{n_examples} examples), got {support}")
    if n_tasks * n_examples * p.image_size ** 2 > MAX_PIXELS:
        raise SpecError(f"{n_tasks} tasks x {n_examples} images of {p.image_size}^2 pixels "
                        f"exceeds the limit of {MAX_PIXELS} pixels")
    if not 0 < train_fraction < 1:
        raise SpecError(f"train fraction must be in (0, 1), got {train_fraction}")
    n_train = min(max(int(round(train_fraction * n_tasks)), 1), n_tasks - 1)
    rng = np.random.default_rng([seed, 2**31])  # weights: a stream apart from the images
    beta = math.sqrt(p.order / p.dimension)
    v = rng.standard_normal((n_tasks, p.fields * p.dimension))
    w = (v @ p.full_basis().T * beta).reshape(n_tasks, p.out_channels, p.q)
    q = p.q
    Ss = torch.empty(n_tasks, q, q, dtype=torch.float64)
    Sq = torch.empty_like(Ss)
    chunk = max(1, 1_000_000 // (n_examples * p.image_size ** 2))
    for lo in range(0, n_tasks, chunk):
        hi = min(n_tasks, lo + chunk)
        x = np.stack([_task_images(seed, t, n_examples, p.image_size) for t in range(lo, hi)])
        G = _patch_grams(torch.from_numpy(x).view(-1, p.image_size, p.image_size),
                         p.kernel).view(hi - lo, n_examples, q, q)
        Ss[lo:hi] = G[:, :support].sum(1)
        Sq[lo:hi] = G[:, support:].sum(1)
    wt = torch.from_numpy(w)
    # y = W P exactly, so H = sum Y P^T = W S and ||Y||^2 = tr(W S W^T)
    Hs, Hq = wt @ Ss, wt @ Sq
    yys, yyq = (Hs * wt).sum((1, 2)), (Hq * wt).sum((1, 2))
    npos = p.out_size ** 2
    stats = StatsBatch(Ss, Hs, yys, Sq, Hq, yyq, support * npos, (n_examples - support) * npos)
    return ImageTasks(p, w, stats, n_train, n_examples, support, seed,
                      time.perf_counter() - t0)


# ----- the meta-learner -------------------------------------------------------------------------
def _key(name: str) -> str:
    return name.replace(".", "__")


class ConvMetaLearner(nn.Module):
    r"""MAML for the conv layers of :mod:`metasym.learning.conv2d`, on sufficient
    statistics.

    Inner parameters (``model.inner_names``) take ``inner_steps`` SGD steps with learned
    per-tensor step sizes (initialised to ``inner_lr``); the outer gradient goes through
    them (second order unless ``first_order``). Because the weights are linear in the
    inner parameters, the inner gradient is the vector-Jacobian product of
    :math:`\nabla_W L_s = \tfrac{2}{n_s c_{out}}(W S_s - H_s)` through ``model.weights``,
    computed for all tasks at once with ``torch.autograd.grad``.
    """

    def __init__(self, model: nn.Module, *, inner_steps: int = 1, inner_lr: float = 0.1,
                 first_order: bool = False) -> None:
        super().__init__()
        if inner_steps < 0:
            raise SpecError(f"inner_steps must be >= 0, got {inner_steps}")
        self.model = model
        self.inner_steps, self.first_order = int(inner_steps), bool(first_order)
        self.inner_names = tuple(model.inner_names)
        self.inner_lrs = nn.ParameterDict(
            {_key(nm): nn.Parameter(torch.tensor(float(inner_lr))) for nm in self.inner_names})

    #: every image learner runs on sufficient statistics (the engine reports it)
    fast = True

    def meta_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.parameters() if p.requires_grad]

    def optimizer_parameters(self) -> list[nn.Parameter]:
        """What the outer optimiser trains (the engine's learner protocol)."""
        return self.meta_parameters()

    def step_sizes(self) -> dict[str, float]:
        return {nm: float(self.inner_lrs[_key(nm)].detach()) for nm in self.inner_names}

    def _adapt(self, b: StatsBatch, create_graph: bool) -> dict[str, Tensor]:
        mdl = self.model
        T = b.Ss.shape[0]
        inner0 = mdl.inner_parameters()
        params = {k: p.unsqueeze(0).expand(T, *p.shape) for k, p in inner0.items()}
        if not create_graph:
            params = {k: p.detach().clone().requires_grad_(True) for k, p in params.items()}
        c = 2.0 / (b.n_s * mdl.out_channels)
        for _ in range(self.inner_steps):
            W = mdl.weights(params)
            gW = (torch.baddbmm(b.Hs, W.double(), b.Ss, beta=-1.0) * c).to(W.dtype)
            second = create_graph and not self.first_order
            gs = torch.autograd.grad(W, list(params.values()), grad_outputs=gW,
                                     create_graph=second, retain_graph=True)
            new = {}
            for (k, p), g in zip(params.items(), gs):
                new[k] = p - self.inner_lrs[_key(k)] * (g if second else g.detach())
            params = new if create_graph else {
                k: p.detach().requires_grad_(True) for k, p in new.items()}
        return params

    def _query_losses(self, W: Tensor, b: StatsBatch) -> Tensor:
        W = W.double()
        quad = (torch.bmm(W, b.Sq) * W).sum((1, 2))
        return (quad - 2 * (W * b.Hq).sum((1, 2)) + b.yyq) / (b.n_q * self.model.out_channels)

    def task_losses(self, b: StatsBatch) -> Tensor:
        """Query MSE of each task after adaptation ``(T,)`` (float64), differentiable in
        the meta-parameters."""
        return self._query_losses(self.model.weights(self._adapt(b, True)), b)

    def backward_meta_loss(self, b: StatsBatch) -> Tensor:
        loss = self.task_losses(b).mean()
        loss.backward()
        return loss.detach()

    def adapted_weights(self, b: StatsBatch, chunk: int = 1024) -> Tensor:
        """Adapted weights ``(T, c_out, c_in*k*k)`` (no graph)."""
        out = []
        for i in range(0, b.Ss.shape[0], chunk):
            with torch.enable_grad():
                params = self._adapt(b.select(slice(i, i + chunk)), False)
            with torch.no_grad():
                out.append(self.model.weights(params).detach())
        return torch.cat(out)

    def evaluate(self, b: StatsBatch, chunk: int = 1024) -> Tensor:
        """Per-task query MSE after adaptation (no outer graph)."""
        W = self.adapted_weights(b, chunk)
        with torch.no_grad():
            return self._query_losses(W, b)

    # ----- the same losses from images --------------------------------------------------------
    def direct_task_losses(self, xs: Tensor, ys: Tensor, xq: Tensor, yq: Tensor) -> Tensor:
        """Per-task query MSE computed from the images themselves: every task's convolution
        as im2col (``F.unfold``, once per batch) and one batched matrix product per pass,
        ``xs`` ``(T, Ns, c_in, H, W)``, ``ys`` ``(T, Ns, c_out, H', W')``, same for the
        query. Differentiable; the benchmark's batched image path and the tests' check of
        the statistics. (Grouped ``conv2d`` computes the same but its double backward is
        several times slower on CPU.)"""
        mdl = self.model
        T = xs.shape[0]
        inner0 = mdl.inner_parameters()
        params = {k: p.unsqueeze(0).expand(T, *p.shape) for k, p in inner0.items()}

        def patches(x: Tensor) -> Tensor:  # (T, q, N * positions)
            N = x.shape[1]
            P = F.unfold(x.reshape(T * N, *x.shape[2:]), mdl.kernel)  # (T*N, q, pos)
            return P.view(T, N, P.shape[1], -1).transpose(1, 2).reshape(T, P.shape[1], -1)

        def targets(y: Tensor) -> Tensor:  # (T, c_out, N * positions)
            N = y.shape[1]
            return y.reshape(T, N, y.shape[2], -1).transpose(1, 2).reshape(T, y.shape[2], -1)

        Ps, Pq, Ys, Yq = patches(xs), patches(xq), targets(ys), targets(yq)

        def losses(params: dict[str, Tensor], P: Tensor, Y: Tensor) -> Tensor:
            return (torch.bmm(mdl.weights(params), P) - Y).square().flatten(1).mean(1)

        for _ in range(self.inner_steps):
            gs = torch.autograd.grad(losses(params, Ps, Ys).sum(), list(params.values()),
                                     create_graph=not self.first_order)
            params = {k: p - self.inner_lrs[_key(k)] * g for (k, p), g in zip(params.items(), gs)}
        return losses(params, Pq, Yq)


def loop_conv_task_losses(learner: ConvMetaLearner, xs: Tensor, ys: Tensor, xq: Tensor,
                          yq: Tensor) -> Tensor:
    """The reference implementation's structure: one task at a time, ``conv2d`` on its
    images, ``torch.autograd.grad`` for the inner step (``higher`` replaced by plain
    autograd). The benchmark baseline."""
    mdl = learner.model
    inner0 = mdl.inner_parameters()
    out = []
    for t in range(xs.shape[0]):
        params = {k: p.unsqueeze(0) for k, p in inner0.items()}

        def loss(params: dict[str, Tensor], x: Tensor, y: Tensor) -> Tensor:
            W = mdl.weights(params).view(mdl.out_channels, mdl.in_channels, mdl.kernel,
                                         mdl.kernel)
            return F.mse_loss(F.conv2d(x, W), y)

        for _ in range(learner.inner_steps):
            gs = torch.autograd.grad(loss(params, xs[t], ys[t]), list(params.values()),
                                     create_graph=not learner.first_order)
            params = {k: p - learner.inner_lrs[_key(k)] * g
                      for (k, p), g in zip(params.items(), gs)}
        out.append(loss(params, xq[t], yq[t]))
    return torch.stack(out)


# ----- building ---------------------------------------------------------------------------------
def resolve_rank(model: str, k: int | None, problem: ImageProblem) -> int | None:
    """``U_block``'s rank (``msr-conv``) or ``U``'s columns (``msr-conv-full``): ``k``,
    by default the exact dimension."""
    if model == "msr-conv":
        return k if k is not None else problem.dimension
    if model == "msr-conv-full":
        return k if k is not None else problem.fields * problem.dimension
    return None


def build_conv_learner(problem: ImageProblem, model: str, *, k: int | None = None,
                       inner_steps: int = 1, inner_lr: float = 0.1,
                       first_order: bool = False) -> ConvMetaLearner:
    """The model and meta-learner of ``model`` on an image problem (seed torch before).
    The oracle of ``c4``/``d4`` is built from the exact
    :class:`~metasym.representations.SharingPattern` of the whole bank; the steerable
    oracle from the steerable block."""
    from metasym.learning.conv2d import FullMSRConv2d

    if model not in CONV_MODEL_NAMES:
        raise SpecError(f"--model {model} does not apply to image problems; choose from "
                        f"{', '.join(CONV_MODEL_NAMES)}")
    if model == "oracle" and problem.pattern is not None:
        net = FullMSRConv2d.from_pattern(problem.pattern, 1, problem.kernel)
    else:
        rank = resolve_rank(model, k, problem)
        net = build_conv_model(model, in_channels=1, out_channels=problem.out_channels,
                               kernel=problem.kernel, field_in=1, field_out=problem.order,
                               rank=rank, k=rank, oracle_block=problem.block
                               if model == "oracle" else None)
    return ConvMetaLearner(net, inner_steps=inner_steps, inner_lr=inner_lr,
                           first_order=first_order)


# ----- comparison -----------------------------------------------------------------------------------
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


def compare_images(record: Any, learner: ConvMetaLearner, tasks: ImageTasks,
                   n_tasks: int = 300) -> Any:
    """Learned versus exact for an image run: subspace distance of the learned sharing
    (per field block) to the exact/steerable one, equivariance errors of the adapted banks
    on held-out tasks (90 degrees, flips, and 45 degrees on rotated inputs for rot8*),
    their distance to the exact span, and the test MSE."""
    from metasym.learning.compare import principal_cosines, span_error, subspace_distance
    from metasym.learning.conv2d import FullMSRConv2d, MSRConv2d, SquareMSRConv2d
    from metasym.learning.engine.protocol import Comparison
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
    held-out task, the generating (exact) bank above the adapted one."""
    from metasym.plotting import new_figure, save_figure

    a = result.arrays
    N, k = a["order"], a["kernel"]
    rows = [("exact (generating) bank", a["true"][:N]), ("adapted model", a["adapted"][:N])]
    fig = new_figure(figsize=(1.3 * N, 3.2))
    axes = fig.subplots(2, N, squeeze=False)
    lim = float(max(np.abs(a["true"][:N]).max(), np.abs(a["adapted"][:N]).max())) or 1.0
    for r, (title, bank) in enumerate(rows):
        for c in range(N):
            ax = axes[r, c]
            ax.imshow(bank[c].reshape(k, k), cmap="RdBu_r", vmin=-lim, vmax=lim,
                      interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if c == 0:
                ax.set_ylabel(title, fontsize=7)
    d = result.figures.get("subspace_distance")
    e = result.figures.get("equivariance_error")
    fig.suptitle(f"{result.problem} / {result.model}: channels of field 0; subspace "
                 f"distance {'n/a' if d is None else f'{d:.3f}'}, equivariance error "
                 f"{'n/a' if e is None else f'{e:.3f}'}", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)
