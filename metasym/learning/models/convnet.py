r"""Deep MSR networks: the conv4 few-shot classifier with a sharing matrix in every layer.

The network (:class:`ConvNet`) is the standard 4-block few-shot convnet: each block is a
3x3 convolution (zero padding 1), a normalisation with batch statistics and no running
statistics (:class:`FieldNorm`), ReLU and 2x2 max-pooling; the last feature map is
averaged over space and read by a linear head. Inputs are zero-padded symmetrically to a
multiple of :math:`2^{\text{blocks}}` pixels (28 -> 32) so that every pooling window is
mapped onto a pooling window by the rotations and flips of the grid: with the exact
sharing below, the whole network is then *exactly* invariant to the group (for even image
sizes), not just its convolutions.

**The factorised sharing matrix.** A full ``U`` for a 64 -> 64 channel 3x3 convolution
would have :math:`(64\cdot 64\cdot 9)^2 / |G| \approx 1.4\cdot 10^9` entries. Every
convolution here is an :class:`~metasym.learning.models.conv.MSRConv2d`: channels are split
into *fields* of ``d`` channels and one learned block ``U_block``
(``d_out d_in k^2 x r``) is shared by every pair of fields,

.. math:: \mathrm{vec}(W) = P\,(I_{F_o F_i} \otimes U_{block})\, v,
          \qquad v \in \mathbb{R}^{F_o F_i r},

so the layer costs ``d_out d_in k^2 r`` meta-parameters (``U_block``) and
``F_o F_i r`` inner ones (``v``). Why it can represent the group convolutions we compare
against: a group ``G`` acting on the kernel positions and regularly on the channels of
each field acts *trivially on the field index*, so its orbits on (output channel, input
channel, position) triples never mix field pairs, and every field pair sees the same
orbits. The exact sharing matrix :math:`U^G` of the whole layer is therefore
:math:`P\,(I \otimes B)` with ``B`` the exact pattern of one field pair:
:func:`~metasym.representations.steerable.lifting_conv_pattern` (``d_in = 1``,
``r = k^2``) for the first layer and
:func:`~metasym.representations.steerable.group_conv_pattern` (``d_in = d_out = |G|``,
``r = |G| k^2``) for the others. With ``d = |G|`` and those ranks, ``U_block = B`` is the
exact group-equivariant network (the oracle), and a learned ``U_block`` spans a subspace
of the same dimension that MSR has to find.

The head (:class:`FieldHead`) is factorised the same way: :math:`W[n, (f, i)] =
\sum_c U[i, c]\, v[n, f, c]`; the exact invariant head (regular fields -> the trivial
action on classes) is ``U = 1/\sqrt{d}`` (``r = 1``): the mean over each field, i.e.
group pooling. Its ``U`` is learned for MSR, frozen for the oracle.

**Models** (:func:`build_convnet`): ``msr`` (every ``U`` learned; the field size and ranks
default to the oracle's, so MSR must learn *which* subspace, not its size), ``oracle``
(every ``U`` frozen to the exact pattern of the augmentation's group: ``flip`` = the
left-right flip, order 2; ``c4`` = 90-degree rotations; ``d4`` = both) and ``maml``
(plain convolution weights and a plain linear head, every one adapted). Inner loop: the
``v`` of every layer and the head (MAML: every weight and the head); outer loop: the
``U``, the initial inner parameters, the normalisation's affine parameters and the step
sizes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metasym.errors import SpecError
from metasym.learning.limits import check_positive
from metasym.learning.models.conv import Conv2dMAML, MSRConv2d, SquareMSRConv2d

__all__ = [
    "FieldNorm",
    "FieldHead",
    "ConvNet",
    "ExactBlocks",
    "exact_blocks",
    "build_convnet",
    "parameter_counts",
    "symmetric_padding",
    "head_width",
]


class FieldNorm(nn.Module):
    r"""Normalisation with the batch's statistics (no running statistics) and one affine
    pair per field of ``field`` channels:

    .. math:: y_{n,c} = \gamma_{f(c)} \frac{x_{n,c} - \mu_c}{\sqrt{\sigma_c^2 + \epsilon}}
              + \beta_{f(c)},

    :math:`\mu_c, \sigma_c^2` over the examples and pixels of channel ``c``. Sharing the
    affine pair within a field keeps a group-equivariant network equivariant (the group
    permutes the channels of a field); ``field = 1`` is ordinary batch normalisation in
    training mode. Not adapted in the inner loop (``inner_names = ()``)."""

    inner_names: tuple[str, ...] = ()

    def __init__(self, channels: int, field: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        check_positive(channels=channels, field=field)
        if channels % field:
            raise SpecError(f"field size {field} must divide the channels {channels}")
        self.channels, self.field, self.eps = channels, field, eps
        self.weight = nn.Parameter(torch.ones(channels // field))
        self.bias = nn.Parameter(torch.zeros(channels // field))

    def forward(self, x: Tensor) -> Tensor:
        # torch's fused batch norm (twice as fast as the formula, double backward
        # included); the affine pair repeated over each field's channels
        gamma = self.weight.repeat_interleave(self.field)
        beta = self.bias.repeat_interleave(self.field)
        return F.batch_norm(x, None, None, gamma, beta, training=True, eps=self.eps)


class FieldHead(nn.Module):
    r"""Linear classifier over ``fields`` fields of ``field`` features with a factorised
    sharing matrix: :math:`W[n, (f, i)] = \sum_c U[i, c]\, v[n, f, c]`, plus a bias.

    ``U`` (``field x rank``) is learned, or frozen when given (the exact invariant head
    ``U = 1/sqrt(d)``); ``v`` and the bias adapt in the inner loop."""

    def __init__(self, fields: int, field: int, classes: int, *, rank: int,
                 U: Tensor | np.ndarray | None = None) -> None:
        super().__init__()
        check_positive(fields=fields, field=field, classes=classes, rank=rank)
        self.fields, self.field, self.classes, self.rank = fields, field, classes, rank
        if U is None:
            init = torch.randn(field, rank) / math.sqrt(field)
            if rank == field:  # square: start as a plain linear head
                init = torch.eye(field) + 0.01 * init
            self.U = nn.Parameter(init)
        else:
            U = torch.as_tensor(np.asarray(U), dtype=torch.get_default_dtype())
            if U.shape != (field, rank):
                raise SpecError(f"head U has shape {tuple(U.shape)}, expected {(field, rank)}")
            self.register_buffer("U", U.clone())
        # the scale of nn.Linear's default initialisation (std 1/sqrt(3 fan_in)): small
        # enough for one inner step to override, not zero (a zero head passes no inner
        # gradient to the convolutions)
        self.v = nn.Parameter(torch.randn(classes, fields, rank) / math.sqrt(3 * fields * rank))
        self.bias = nn.Parameter(torch.zeros(classes))
        self.inner_names = ("v", "bias")

    @property
    def learns_U(self) -> bool:
        return isinstance(self.U, nn.Parameter)

    @property
    def weight(self) -> Tensor:
        """The ``(classes, fields*field)`` weight."""
        return torch.einsum("nfr,ir->nfi", self.v, self.U).reshape(self.classes, -1)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)


def symmetric_padding(size: int, blocks: int) -> tuple[int, int]:
    """Zero padding ``(before, after)`` that brings ``size`` to the next multiple of
    ``2**blocks`` (equal on both sides when ``size`` is even)."""
    step = 2 ** blocks
    total = -size % step
    return total // 2, total - total // 2


class ConvNet(nn.Module):
    """The conv4 network (see the module docstring); layers ``conv1..convB``,
    ``norm1..normB`` and ``head``.

    Parameters
    ----------
    convs
        Convolutions (:mod:`metasym.learning.models.conv` layers, ``padding`` 1 is set here).
    norms
        One :class:`FieldNorm` per convolution.
    head
        :class:`FieldHead` or ``nn.Linear`` over the last layer's channels.
    """

    def __init__(self, convs: list[nn.Module], norms: list[nn.Module], head: nn.Module) -> None:
        super().__init__()
        if len(convs) != len(norms) or not convs:
            raise SpecError("a ConvNet needs one normalisation per convolution")
        self.blocks = len(convs)
        for i, (conv, norm) in enumerate(zip(convs, norms), 1):
            conv.padding = conv.kernel // 2
            self.add_module(f"conv{i}", conv)
            self.add_module(f"norm{i}", norm)
        self.head = head

    def conv_layers(self) -> list[tuple[str, nn.Module]]:
        """``(name, layer)`` of the convolutions, in order."""
        return [(f"conv{i}", getattr(self, f"conv{i}")) for i in range(1, self.blocks + 1)]

    def features(self, x: Tensor) -> list[Tensor]:
        """The output of every block (after pooling), then the pooled features."""
        a, b = symmetric_padding(x.shape[-2], self.blocks)
        c, d = symmetric_padding(x.shape[-1], self.blocks)
        x = F.pad(x, (c, d, a, b))
        out = []
        for i in range(1, self.blocks + 1):
            x = getattr(self, f"conv{i}")(x)
            x = F.max_pool2d(F.relu(getattr(self, f"norm{i}")(x)), 2)
            out.append(x)
        out.append(x.mean(dim=(2, 3)))
        return out

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x)[-1])


class ExactBlocks:
    """The exact per-field-pair sharing blocks of a group ``name`` (``flip``, ``c4``,
    ``d4``) acting on ``kernel x kernel`` positions: ``lifting`` (``|G| k^2 x k^2``),
    ``group`` (``|G|^2 k^2 x |G| k^2``) and ``head`` (``|G| x 1``), orthonormal columns,
    float64, all derived from ``metasym.representations`` (nothing written by hand)."""

    def __init__(self, name: str, kernel: int = 3) -> None:
        from metasym.groups import regular, trivial
        from metasym.representations import sharing_pattern
        from metasym.representations.steerable import (
            group_conv_pattern,
            kernel_group,
            lifting_conv_pattern,
        )

        G = kernel_group(name, kernel)
        self.name, self.kernel, self.group, self.order = name, kernel, G, int(G.order)
        self.lifting_pattern = lifting_conv_pattern(G)
        self.group_pattern = group_conv_pattern(G)
        self.head_pattern = sharing_pattern(regular(G), trivial(G, 1))
        self.lifting = self.lifting_pattern.basis(orthonormal=True)
        self.group_block = self.group_pattern.basis(orthonormal=True)
        self.head = self.head_pattern.basis(orthonormal=True)

    def tied_block(self, layer: int) -> np.ndarray:
        """The exact block of conv layer ``layer`` with 0/1 orbit-indicator columns: tied
        weights, every entry of an orbit *equal* to its parameter (a G-CNN's
        parameterisation), where :meth:`block` has orthonormal columns."""
        P = self.lifting_pattern if layer == 1 else self.group_pattern
        return P.basis().astype(np.float64)

    def block(self, layer: int) -> np.ndarray:
        """The exact block of conv layer ``layer`` (1-based: 1 lifts, the rest are group
        convolutions)."""
        return np.asarray(self.lifting if layer == 1 else self.group_block, dtype=np.float64)


def exact_blocks(name: str, kernel: int = 3) -> ExactBlocks:
    """:class:`ExactBlocks` of ``name`` (one-line error for an unknown group)."""
    return ExactBlocks(name, kernel)


def _plain_scale(conv: MSRConv2d) -> MSRConv2d:
    r"""Rescale ``v`` so that the initial weight has the standard deviation of
    ``nn.Conv2d``'s default initialisation, :math:`1/\sqrt{3\,c_{in} k^2}`.

    Behind a normalisation the weight's scale does not change the function, but it sets
    the *effective* step sizes (inner SGD and outer Adam change ``W`` relative to its
    size): all models start at MAML's scale, so none is slowed down by its
    parameterisation alone."""
    with torch.no_grad():
        std = float(conv.weight.std())
        if std > 0:
            conv.v.mul_(1.0 / (math.sqrt(3 * conv.q) * std))
    return conv


def head_width(channels: int, classes: int, unit: int) -> int:
    """Channels of the last block: ``unit * max(channels, classes)``, so that a head that
    pools each field of ``unit`` channels to one invariant feature (the exact models'
    group pooling) has as many features as a plain network of ``channels`` channels, and
    at least one per class. Every model gets the same widths.

    >>> head_width(32, 5, 8), head_width(32, 20, 2), head_width(16, 20, 1)
    (256, 64, 20)
    """
    check_positive(channels=channels, classes=classes, unit=unit)
    return unit * max(channels, classes)


def build_convnet(model: str, *, in_channels: int, classes: int, channels: int = 64,
                  blocks: int = 4, kernel: int = 3, group: str | None = None,
                  field: int | None = None, rank: int | None = None) -> ConvNet:
    """The conv4 network of ``model`` (one of
    :data:`~metasym.learning.registry.FEWSHOT_MODEL_NAMES`).

    ``msr`` (field-block ``U_block`` learned, of the exact dimension by default),
    ``msr-square`` (square ``U_block``, starting at the identity), ``msr-kron`` (the
    paper's MSR-Conv: square output, input and spatial factors, identity start), ``maml``
    (plain weights) and ``oracle`` (every ``U`` frozen to the exact blocks of ``group``).
    Every model has the same channels: the last block has ``|G| max(channels, classes)``
    (:func:`head_width`), so that the exact models' invariant head (one feature per field
    of ``|G|`` channels) has as many features as a plain network's.

    Parameters
    ----------
    in_channels, classes
        Image channels (1 grey, 3 RGB) and classes per episode (``N`` ways).
    channels, blocks, kernel
        Channels of every block (the last one possibly wider), number of blocks, kernel.
    group
        The augmentation's exact group (``flip``, ``vflip``, ``klein``, ``c4``, ``d4`` or
        ``None``): the oracle's frozen patterns, and MSR's default field size ``|G|``.
    field
        MSR's field size (default ``|G|``, 1 without a group).
    rank
        ``msr``: columns ``r`` of the group-convolution blocks (default ``d k^2``, the exact
        dimension when ``d = |G|``); the lifting block gets ``ceil(r / d)`` (``k^2``
        by default), the head ``ceil(r / (d k^2))`` (1, group pooling, by default).
        ``r = d^2 k^2`` is a square ``U_block`` (what ``msr-square`` builds).

    Examples
    --------
    >>> net = build_convnet("oracle", in_channels=1, classes=5, channels=8, group="c4")
    >>> net(torch.zeros(3, 1, 28, 28)).shape
    torch.Size([3, 5])
    >>> net.conv4.out_channels  # |G| x channels
    32
    """
    from metasym.learning.registry import FEWSHOT_MODEL_NAMES

    if model not in FEWSHOT_MODEL_NAMES:
        raise SpecError(f"unknown few-shot model {model!r}; choose from "
                        f"{', '.join(FEWSHOT_MODEL_NAMES)}")
    check_positive(in_channels=in_channels, classes=classes, channels=channels, blocks=blocks,
                   kernel=kernel)
    if kernel % 2 == 0:
        raise SpecError(f"the kernel size must be odd (same padding), got {kernel}")
    exact = exact_blocks(group, kernel) if group is not None else None
    order = exact.order if exact is not None else 1
    if model == "oracle" and exact is None:
        raise SpecError("the oracle needs an exact group: augment with flip, vflip, rot90 or "
                        "a combination")
    if rank is not None and model != "msr":
        raise SpecError(f"--rank applies to --model msr (the {model} model's ranks are "
                        "fixed)")
    if field not in (None, 1, order) and model not in ("msr", "msr-square"):
        raise SpecError(f"--field-size applies to --model msr and msr-square, not {model}")
    if model in ("maml", "msr-kron"):  # plain channels: fields of one
        if channels % order:
            raise SpecError(f"--channels {channels} must be a multiple of |G| = {order} "
                            f"(the exact models' field size; every model has the same widths)")
        widths = [channels] * (blocks - 1) + [head_width(channels, classes, order)]
        layer = Conv2dMAML if model == "maml" else SquareMSRConv2d
        convs = [layer(in_channels if i == 0 else widths[i - 1], widths[i], kernel)
                 for i in range(blocks)]
        norms = [FieldNorm(w) for w in widths]
        return ConvNet(convs, norms, nn.Linear(widths[-1], classes))
    d = order if model == "oracle" or field is None else field
    check_positive(field=d)
    if channels % d:
        raise SpecError(f"--channels {channels} must be a multiple of the field size {d}"
                        + (f" (|G| of {group})" if field is None else ""))
    k2 = kernel ** 2
    if model == "msr-square":
        rank = d * d * k2
    if rank is not None:
        check_positive(rank=rank)
        if rank > d * d * k2:
            raise SpecError(f"--rank {rank} exceeds the {d * d * k2} entries of a field-pair "
                            "block")
    r_group = rank if rank is not None else d * k2
    head_rank = -(-r_group // (d * k2))  # 1 (group pooling) at the exact dimension
    # the same widths as every other model (MAML's included), rounded to whole fields
    widths = [channels] * (blocks - 1) + [head_width(channels, classes, order)]
    widths[-1] = -(-widths[-1] // d) * d
    convs: list[nn.Module] = []
    for i in range(blocks):
        lift = i == 0
        d_in, r = (1, -(-r_group // d)) if lift else (d, r_group)
        c_in = in_channels if lift else widths[i - 1]
        if model == "oracle":
            # tied weights (0/1 orbit indicators): every weight is one parameter, as in
            # MAML, so Adam moves both at the same relative rate
            convs.append(_plain_scale(MSRConv2d(
                c_in, widths[i], kernel, field_in=d_in, field_out=d, rank=r,
                U_block=torch.as_tensor(exact.tied_block(i + 1)))))
            continue
        rows = d * d_in * k2
        # rows of unit norm in expectation, as the oracle's tied block and the identity:
        # each weight is as sensitive to the parameters as a plain weight is
        conv = MSRConv2d(c_in, widths[i], kernel, field_in=d_in, field_out=d, rank=r,
                         init_std=1.0 / math.sqrt(r))
        if r == rows:  # square: start from the identity (plain convolution weights)
            with torch.no_grad():
                conv.U_block.mul_(0.01).add_(torch.eye(rows))
                conv.v.copy_(torch.nn.Conv2d(c_in, widths[i], kernel).weight.reshape(
                    widths[i] // d, d, c_in // d_in, d_in, k2).permute(0, 2, 1, 3, 4)
                    .reshape(conv.v.shape))
        convs.append(_plain_scale(conv))
    norms = [FieldNorm(w, d) for w in widths]
    head = FieldHead(widths[-1] // d, d, classes, rank=head_rank,
                     U=exact.head if model == "oracle" else None)
    return ConvNet(convs, norms, head)


def parameter_counts(net: ConvNet) -> dict[str, dict[str, int]]:
    """Per layer: meta-parameters learned by the outer loop only (``U``, normalisation),
    inner parameters (adapted per task) and frozen entries (an oracle's ``U``)."""
    from metasym.learning.models.linear import inner_parameter_names

    inner = set(inner_parameter_names(net))
    out: dict[str, dict[str, int]] = {}
    for name, p in net.named_parameters():
        layer = name.split(".")[0]
        row = out.setdefault(layer, {"meta": 0, "inner": 0, "frozen": 0})
        row["inner" if name in inner else "meta"] += p.numel()
    for name, b in net.named_buffers():
        out.setdefault(name.split(".")[0], {"meta": 0, "inner": 0, "frozen": 0})[
            "frozen"] += b.numel()
    return out
