r"""Convolution layers for meta-learning image symmetries (MSR-Conv and baselines).

Every layer here is a bias-free "valid" 2-D convolution whose weight
``(c_out, c_in, k, k)`` is a *linear* function of its inner parameters; it exposes

* ``weights(inner)`` -- the weights of a batch of tasks ``(T, c_out, c_in*k*k)`` from
  inner parameters with a leading task dimension (meta-parameters from the module), which
  the image meta-learner (:mod:`metasym.learning.data.images`) differentiates through, and
* ``forward(x)`` -- the convolution of images ``(N, c_in, H, W)`` with the current weight.

Variants (``vec`` row-major throughout, as in :class:`~metasym.learning.models.linear.MSRLinear`):

:class:`MSRConv2d` (``msr-conv``)
    Channels split into fields of size ``d`` (``c = F d``). One learned block
    ``U_block`` (``d_out*d_in*k*k x r``) is shared by every pair of fields:

    .. math:: W[(f_o, i), (f_i, j), p] = \sum_{c} U_{block}[(i, j, p), c]\; v[f_o, f_i, c],

    i.e. :math:`U = P\,(I_{F_o F_i} \otimes U_{block})` for a fixed permutation ``P``.
    *Can represent:* every weight space of the form "the same ``r``-dimensional space of
    ``d_out x d_in x k x k`` blocks for every pair of fields" -- in particular the exact
    C4/D4 lifting and group convolutions and the steerable C8/D8 banks (groups act
    trivially on the field index, so their :math:`U^G` has exactly this form; proved in
    ``tests/learning/test_images.py``). *Cannot represent:* sharing that couples different
    fields (e.g. a symmetry that permutes fields) or different subspaces per field pair.
    Parameters: ``d_out d_in k^2 r`` meta + ``F_o F_i r`` inner.
:class:`FullMSRConv2d` (``msr-conv-full``)
    An unfactorised ``U`` (``c_out c_in k^2 x K``): represents any ``K``-dimensional weight
    space, at ``c_out c_in k^2 K`` meta-parameters (only for small layers).
:class:`SquareMSRConv2d` (``msr-conv-square``, the reference implementation's MSR-Conv)
    :math:`W = v \times_1 A_{out} \times_2 A_{in} \times_3 A_{k}` with square factors
    initialised to the identity. ``U = A_out (x) A_in (x) A_k`` is square: when invertible
    it spans *every* weight, so it can precondition the inner step but never confine ``W``
    to a subspace. Made rectangular (low rank), separate channel and position factors
    still could not express a rotation group convolution: its span is not a tensor
    product of a channel space and a position space (the test
    ``test_plain_kronecker_factors_cannot_express_rotation_coupling``).
:class:`Conv2dMAML` (``maml-conv``)
    ``nn.Conv2d``'s weight adapted directly: no sharing beyond translation.
Oracle (``oracle``)
    :class:`FullMSRConv2d` or :class:`MSRConv2d` with ``U`` frozen to the exact basis
    (from a :class:`~metasym.representations.SharingPattern` or a steerable basis).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metasym.errors import MismatchError, SpecError
from metasym.learning.limits import check_positive
from metasym.learning.registry import CONV_MODEL_NAMES

__all__ = [
    "MSRConv2d",
    "FullMSRConv2d",
    "SquareMSRConv2d",
    "Conv2dMAML",
    "CONV_MODEL_NAMES",
    "build_conv_model",
]


class _ConvBase(nn.Module):
    """Shared plumbing: sizes, ``weight`` and ``forward``."""

    in_channels: int
    out_channels: int
    kernel: int
    inner_names: tuple[str, ...]
    #: zero padding of ``forward`` on every side (0: "valid"; deep networks set it)
    padding: int = 0

    @property
    def q(self) -> int:
        """Inputs per output position, ``c_in * k * k``."""
        return self.in_channels * self.kernel ** 2

    def inner_parameters(self) -> dict[str, Tensor]:
        params = dict(self.named_parameters())
        return {nm: params[nm] for nm in self.inner_names}

    def weights(self, inner: dict[str, Tensor]) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def weight(self) -> Tensor:
        """The current ``(c_out, c_in, k, k)`` weight (initial inner parameters)."""
        inner = {k: v.unsqueeze(0) for k, v in self.inner_parameters().items()}
        return self.weights(inner)[0].view(self.out_channels, self.in_channels, self.kernel,
                                           self.kernel)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight, padding=self.padding)


class MSRConv2d(_ConvBase):
    r"""MSR convolution with a field-block sharing matrix (see the module docstring).

    Parameters
    ----------
    in_channels, out_channels, kernel
        Conv sizes.
    field_in, field_out
        Field sizes ``d_in``, ``d_out`` (must divide the channel counts).
    rank
        Columns ``r`` of ``U_block`` (parameters per pair of fields).
    U_block
        Optional fixed ``(d_out*d_in*k*k, r)`` block: a frozen buffer (the oracle).
    init_std
        Standard deviation of a learned ``U_block``'s Gaussian initialisation (0.01, the
        reference's for ``U``).

    Examples
    --------
    >>> layer = MSRConv2d(1, 8, 3, field_in=1, field_out=4, rank=9)
    >>> layer(torch.zeros(2, 1, 6, 6)).shape
    torch.Size([2, 8, 4, 4])
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, field_in: int = 1,
                 field_out: int = 1, rank: int, U_block: Tensor | None = None,
                 init_std: float = 0.01) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels, kernel=kernel,
                   field_in=field_in, field_out=field_out, rank=rank)
        if in_channels % field_in or out_channels % field_out:
            raise SpecError(f"field sizes {field_in}, {field_out} must divide the channel "
                            f"counts {in_channels}, {out_channels}")
        self.in_channels, self.out_channels, self.kernel = in_channels, out_channels, kernel
        self.field_in, self.field_out, self.rank = field_in, field_out, rank
        self.fields_in, self.fields_out = in_channels // field_in, out_channels // field_out
        rows = field_out * field_in * kernel ** 2
        if U_block is None:
            self.U_block = nn.Parameter(torch.randn(rows, rank) * init_std)
        else:
            U_block = torch.as_tensor(U_block, dtype=torch.get_default_dtype())
            if U_block.shape != (rows, rank):
                raise MismatchError(f"U_block has shape {tuple(U_block.shape)}, expected "
                                    f"{(rows, rank)}")
            self.register_buffer("U_block", U_block.clone())
        # reference init of v: N(0, 1/m^2) with m the output size of the block
        self.v = nn.Parameter(torch.randn(self.fields_out, self.fields_in, rank) / field_out)
        self.inner_names = ("v",)

    @property
    def learns_U(self) -> bool:
        return isinstance(self.U_block, nn.Parameter)

    def weights(self, inner: dict[str, Tensor]) -> Tensor:
        v = inner["v"]  # (T, F_o, F_i, r)
        T = v.shape[0]
        do, di, k2 = self.field_out, self.field_in, self.kernel ** 2
        # (T, F_o*F_i, r) @ (r, do*di*k2): one GEMM for every task and field pair
        blocks = (v.reshape(T, -1, self.rank) @ self.U_block.T)
        blocks = blocks.view(T, self.fields_out, self.fields_in, do, di, k2)
        return blocks.permute(0, 1, 3, 2, 4, 5).reshape(T, self.out_channels, self.q)

    def full_U(self) -> Tensor:
        """The dense ``(c_out*c_in*k*k, F_o*F_i*r)`` sharing matrix this layer implies
        (column ``(f_o, f_i, c)``), for comparisons and tests."""
        K = self.fields_out * self.fields_in * self.rank
        eye = torch.eye(K, dtype=self.U_block.dtype).view(K, self.fields_out, self.fields_in,
                                                          self.rank)
        with torch.no_grad():
            return self.weights({"v": eye}).reshape(K, -1).T.contiguous()

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel={self.kernel}, fields "
                f"{self.fields_in}x{self.field_in} -> {self.fields_out}x{self.field_out}, "
                f"rank={self.rank}, learns_U={self.learns_U}")


class FullMSRConv2d(_ConvBase):
    r"""MSR convolution with an unfactorised ``U`` (``c_out*c_in*k*k x K``); frozen when
    given (the oracle of a :class:`~metasym.representations.SharingPattern`)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, *, k: int,
                 U: Tensor | None = None) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels, kernel=kernel, k=k)
        self.in_channels, self.out_channels, self.kernel, self.k = (in_channels, out_channels,
                                                                    kernel, k)
        rows = out_channels * self.q
        if U is None:
            self.U = nn.Parameter(torch.randn(rows, k) * 0.01)
        else:
            U = torch.as_tensor(U, dtype=torch.get_default_dtype())
            if U.shape != (rows, k):
                raise MismatchError(f"U has shape {tuple(U.shape)}, expected {(rows, k)}")
            self.register_buffer("U", U.clone())
        self.v = nn.Parameter(torch.randn(k) / out_channels)
        self.inner_names = ("v",)

    @classmethod
    def from_pattern(cls, pattern: Any, in_channels: int, kernel: int, *,
                     orthonormal: bool = True) -> FullMSRConv2d:
        """Oracle from an exact pattern of shape ``(c_out, c_in*k*k)``."""
        m, n = pattern.shape
        if n != in_channels * kernel ** 2:
            raise MismatchError(f"pattern has {n} columns, expected c_in*k*k = "
                                f"{in_channels * kernel ** 2}")
        U = pattern.to_torch(dtype=torch.get_default_dtype(), orthonormal=orthonormal)
        return cls(in_channels, m, kernel, k=pattern.dimension, U=U)

    @property
    def learns_U(self) -> bool:
        return isinstance(self.U, nn.Parameter)

    def weights(self, inner: dict[str, Tensor]) -> Tensor:
        v = inner["v"]  # (T, K)
        return (v @ self.U.T).view(v.shape[0], self.out_channels, self.q)

    def full_U(self) -> Tensor:
        return self.U.detach()


class SquareMSRConv2d(_ConvBase):
    r"""The reference implementation's MSR-Conv: ``W = v x_1 A_out x_2 A_in x_3 A_k``
    with square factors (identity at initialisation); ``v`` (a full conv weight) adapts.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels, kernel=kernel)
        self.in_channels, self.out_channels, self.kernel = in_channels, out_channels, kernel
        k2 = kernel ** 2
        self.A_out = nn.Parameter(torch.eye(out_channels))
        self.A_in = nn.Parameter(torch.eye(in_channels))
        self.A_k = nn.Parameter(torch.eye(k2))
        bound = 1.0 / math.sqrt(in_channels * k2)
        self.v = nn.Parameter(torch.empty(out_channels, in_channels, k2).uniform_(-bound, bound))
        self.inner_names = ("v",)

    def weights(self, inner: dict[str, Tensor]) -> Tensor:
        v = inner["v"]  # (T, c_out, c_in, k2)
        # one factor at a time: a single four-operand einsum may contract A_out (x) A_in
        # first, a (c_out c_in)^2 intermediate (and its double backward)
        W = torch.matmul(self.A_out, v.flatten(2)).view_as(v)  # (T, o, b, c)
        W = torch.matmul(self.A_in, W)  # (T, o, i, c)
        W = torch.matmul(W, self.A_k.T)  # (T, o, i, p)
        return W.reshape(v.shape[0], self.out_channels, self.q)

    def full_U(self) -> Tensor:
        with torch.no_grad():
            return torch.kron(torch.kron(self.A_out, self.A_in), self.A_k)


class Conv2dMAML(_ConvBase):
    """MAML-Conv: a plain valid ``Conv2d`` weight (PyTorch's default init), all adapted."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int) -> None:
        super().__init__()
        check_positive(in_channels=in_channels, out_channels=out_channels, kernel=kernel)
        self.in_channels, self.out_channels, self.kernel = in_channels, out_channels, kernel
        ref = nn.Conv2d(in_channels, out_channels, kernel, bias=False)
        self.weight_ = nn.Parameter(ref.weight.detach().reshape(out_channels, self.q).clone())
        self.inner_names = ("weight_",)

    def weights(self, inner: dict[str, Tensor]) -> Tensor:
        return inner["weight_"]


def build_conv_model(name: str, *, in_channels: int, out_channels: int, kernel: int,
                     field_in: int = 1, field_out: int = 1, rank: int | None = None,
                     oracle_block: Any = None, oracle_U: Any = None, k: int | None = None
                     ) -> _ConvBase:
    """One of :data:`CONV_MODEL_NAMES`.

    ``msr-conv`` needs ``rank`` (default: the caller passes the answer's dimension per
    field); ``oracle`` needs ``oracle_block`` (a ``(d_out*d_in*k*k, r)`` exact block, built
    as an :class:`MSRConv2d`) or ``oracle_U`` (a full ``(c_out*c_in*k*k, K)`` basis);
    ``msr-conv-full`` needs ``k``.
    """
    if name == "msr-conv":
        if rank is None:
            raise SpecError("msr-conv needs --k (parameters per pair of fields)")
        return MSRConv2d(in_channels, out_channels, kernel, field_in=field_in,
                         field_out=field_out, rank=rank)
    if name == "oracle":
        if oracle_block is not None:
            blk = torch.as_tensor(oracle_block, dtype=torch.get_default_dtype())
            return MSRConv2d(in_channels, out_channels, kernel, field_in=field_in,
                             field_out=field_out, rank=blk.shape[1], U_block=blk)
        if oracle_U is None:
            raise SpecError("the oracle needs the problem's exact basis")
        U = torch.as_tensor(oracle_U, dtype=torch.get_default_dtype())
        return FullMSRConv2d(in_channels, out_channels, kernel, k=U.shape[1], U=U)
    if name == "msr-conv-full":
        if k is None:
            raise SpecError("msr-conv-full needs --k (columns of U)")
        return FullMSRConv2d(in_channels, out_channels, kernel, k=k)
    if name == "msr-conv-square":
        return SquareMSRConv2d(in_channels, out_channels, kernel)
    if name == "maml-conv":
        return Conv2dMAML(in_channels, out_channels, kernel)
    raise SpecError(f"unknown image model {name!r}; choose from {', '.join(CONV_MODEL_NAMES)}")
