r"""Image symmetries: the 2-D problems ``c4``, ``d4``, ``rot8``, ``rot8_flip`` and their
tasks (held as sufficient statistics).

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
cheaper. :meth:`~metasym.learning.learners.conv.ConvMetaLearner.direct_task_losses` computes the same losses with real
``conv2d`` calls on the images (checked equal in the tests, used by the benchmark).
The images are never stored: each task's ``x`` is regenerated on demand from
``(data_seed, task index)`` (:meth:`ImageTasks.images`).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import cached_property
from typing import Any, NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from metasym.errors import SpecError
from metasym.learning.registry import IMAGE_PROBLEMS

__all__ = [
    "IMAGE_PROBLEMS",
    "ImageProblem",
    "ImageTasks",
    "StatsBatch",
    "image_problem",
    "make_image_tasks",
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
