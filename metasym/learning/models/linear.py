r"""Layers for meta-learning: the MSR layer and the MAML baselines of the paper.

Every model maps flat inputs ``(N, n_in)`` to flat outputs ``(N, n_out)`` (channels and
positions flattened row-major, ``c * L``), so the meta-learner treats them alike. Each
model names its *inner* parameters (those adapted per task in the inner loop) in
``inner_names``; all other parameters are meta-parameters only (e.g. MSR's ``U``).

The MSR layer (Zhou, Knowles & Finn 2021) writes a linear map as

.. math:: \mathrm{vec}(W) = U v, \qquad U \in \mathbb{R}^{mn \times k},\; v \in \mathbb{R}^k,

with row-major ``vec`` (``W = (U @ v).view(m, n)``). ``U`` is meta-learned; ``v`` adapts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from metasym.errors import MismatchError, SpecError
from metasym.learning.registry import MODEL_NAMES

__all__ = [
    "MSRLinear",
    "FullyConnected",
    "LocallyConnected1d",
    "Conv1dLayer",
    "inner_parameter_names",
    "dense_weight",
    "export_linear",
    "build_model",
    "MODEL_NAMES",
]

def _column_major(A: Tensor) -> Tensor:
    """A copy of a 2-D tensor with column-major strides (same values and shape)."""
    return A.detach().T.contiguous().T


class MSRLinear(nn.Module):
    r"""Linear layer with a meta-learned sharing matrix: ``W = (U @ v).view(out, in)``.

    Parameters
    ----------
    in_features, out_features
        ``n`` and ``m``.
    k
        Number of filter parameters (columns of ``U``).
    bias
        Add an adaptable bias (the paper's synthetic models have none).
    U
        Optional fixed ``(m*n, k)`` sharing matrix; it is then a frozen buffer (the
        "oracle" when it is an exact :math:`U^G`) and only ``v`` (and the bias) train.

    Notes
    -----
    Initialisation follows the reference: :math:`U_{ij} \sim N(0, 0.01^2)`,
    :math:`v_c \sim N(0, (1/m)^2)`.

    Examples
    --------
    >>> layer = MSRLinear(4, 3, k=2)
    >>> layer(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    inner_names: tuple[str, ...]

    def __init__(self, in_features: int, out_features: int, k: int, *, bias: bool = False,
                 U: Tensor | None = None) -> None:
        super().__init__()
        if min(in_features, out_features, k) < 1:
            raise SpecError(f"MSRLinear needs positive sizes, got in={in_features}, "
                            f"out={out_features}, k={k}")
        self.in_features, self.out_features, self.k = in_features, out_features, k
        mn = in_features * out_features
        # U is stored column-major (U.T contiguous): the meta-learner's GEMMs run several
        # times faster that way (see metasym.learning.learners._fast); its value is unaffected.
        if U is None:
            self.U = nn.Parameter(_column_major(torch.randn(mn, k) * 0.01))
        else:
            U = torch.as_tensor(U, dtype=torch.get_default_dtype())
            if U.shape != (mn, k):
                raise MismatchError(f"U has shape {tuple(U.shape)}, expected {(mn, k)}")
            self.register_buffer("U", _column_major(U))
        self.v = nn.Parameter(torch.randn(k) / out_features)
        if bias:
            bound = 1.0 / math.sqrt(in_features)
            self.bias = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)
        self.inner_names = ("v", "bias") if bias else ("v",)

    @classmethod
    def from_pattern(cls, pattern: Any, *, bias: bool = False,
                     orthonormal: bool = False) -> MSRLinear:
        """The oracle layer: ``U`` frozen to the exact basis of a
        :class:`~metasym.representations.SharingPattern` (0/1 columns, or orthonormal)."""
        m, n = pattern.shape
        U = pattern.to_torch(dtype=torch.get_default_dtype(), orthonormal=orthonormal)
        return cls(n, m, pattern.dimension, bias=bias, U=U)

    @property
    def learns_U(self) -> bool:
        """Whether ``U`` is a trainable parameter (False for the oracle)."""
        return isinstance(self.U, nn.Parameter)

    @property
    def weight(self) -> Tensor:
        """The dense ``(out, in)`` weight ``(U @ v).view(out, in)``."""
        return (self.U @ self.v).view(self.out_features, self.in_features)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"k={self.k}, learns_U={self.learns_U}, bias={self.bias is not None}")


class FullyConnected(nn.Linear):
    """MAML-FC: a plain ``nn.Linear`` whose every parameter adapts in the inner loop."""

    def __init__(self, in_features: int, out_features: int, *, bias: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)
        self.inner_names = ("weight", "bias") if bias else ("weight",)


class LocallyConnected1d(nn.Module):
    r"""MAML-LC: a valid 1-D locally connected layer (a convolution without sharing).

    ``y[o, p] = sum_{i, t} w[o, i, p, t] x[i, p + t]`` for ``p < L - kernel + 1``; inputs
    are ``(N, c_in * L)`` flattened row-major. Kaiming-uniform init as ``nn.Linear``
    (bound :math:`1/\sqrt{c_\text{in} \cdot \text{kernel}}`).
    """

    def __init__(self, length: int, kernel: int, in_channels: int = 1, out_channels: int = 1,
                 *, bias: bool = False) -> None:
        super().__init__()
        if not 1 <= kernel <= length:
            raise SpecError(f"locally connected layer needs 1 <= kernel <= length, got "
                            f"kernel {kernel}, length {length}")
        self.length, self.kernel = length, kernel
        self.in_channels, self.out_channels = in_channels, out_channels
        self.out_length = length - kernel + 1
        bound = 1.0 / math.sqrt(in_channels * kernel)
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, self.out_length, kernel)
                                   .uniform_(-bound, bound))
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels, self.out_length)
                                     .uniform_(-bound, bound))
        else:
            self.register_parameter("bias", None)
        self.inner_names = ("weight", "bias") if bias else ("weight",)

    def forward(self, x: Tensor) -> Tensor:
        N = x.shape[0]
        windows = x.reshape(N, self.in_channels, self.length).unfold(2, self.kernel, 1)
        out = torch.einsum("nipt,oipt->nop", windows, self.weight)
        if self.bias is not None:
            out = out + self.bias
        return out.reshape(N, self.out_channels * self.out_length)


class Conv1dLayer(nn.Module):
    """MAML-Conv: ``nn.Conv1d`` (valid, stride 1) on flattened ``(N, c_in * L)`` inputs."""

    def __init__(self, length: int, kernel: int, in_channels: int = 1, out_channels: int = 1,
                 *, bias: bool = False) -> None:
        super().__init__()
        if not 1 <= kernel <= length:
            raise SpecError(f"convolution needs 1 <= kernel <= length, got kernel {kernel}, "
                            f"length {length}")
        self.length, self.in_channels = length, in_channels
        self.conv = nn.Conv1d(in_channels, out_channels, kernel, bias=bias)
        self.inner_names = ("conv.weight", "conv.bias") if bias else ("conv.weight",)

    def forward(self, x: Tensor) -> Tensor:
        N = x.shape[0]
        return self.conv(x.reshape(N, self.in_channels, self.length)).reshape(N, -1)


def inner_parameter_names(model: nn.Module) -> tuple[str, ...]:
    """Names of the parameters adapted in the inner loop.

    A module may declare its own in ``inner_names`` (the MSR layers name ``v``: their
    ``U`` is meta-learned only). Every parameter of a module that declares nothing adapts,
    as in MAML. The rule applies to every submodule, so a stack such as
    ``nn.Sequential(MSRLinear(...), nn.Tanh(), MSRLinear(...), nn.Linear(...))`` adapts
    ``0.v``, ``2.v`` and the head's weight and bias."""
    names: list[str] = []
    for prefix, module in model.named_modules():
        declared = getattr(module, "inner_names", None)
        own = dict(module.named_parameters(recurse=False))
        pre = f"{prefix}." if prefix else ""
        if declared is not None:
            # a declaration covers the module's own and its children's parameters
            names.extend(pre + nm for nm in declared
                         if nm in dict(module.named_parameters()))
        elif not _declared_above(model, prefix):
            names.extend(pre + nm for nm in own)
    params = dict(model.named_parameters())
    return tuple(dict.fromkeys(nm for nm in names if nm in params))


def _declared_above(model: nn.Module, prefix: str) -> bool:
    """Whether a module on the path to ``prefix`` declares ``inner_names``."""
    if getattr(model, "inner_names", None) is not None:
        return True
    parts = prefix.split(".") if prefix else []
    mod = model
    for part in parts[:-1]:
        mod = getattr(mod, part)
        if getattr(mod, "inner_names", None) is not None:
            return True
    return False


def dense_weight(model: nn.Module, params: Mapping[str, Tensor] | None = None,
                 n_in: int | None = None) -> tuple[Tensor, Tensor]:
    r"""The dense ``(out, in)`` weight and the bias of a model that is affine in its input.

    Read off by probing: :math:`b = f(0)`, :math:`W e_j = f(e_j) - f(0)`, so it works
    for every layer here (and any affine model) without knowing its parametrisation.
    ``params`` overrides some parameters (e.g. adapted ones) via ``functional_call``.
    """
    if n_in is None:
        n_in = getattr(model, "in_features", None)
        if n_in is None:
            n_in = model.length * model.in_channels  # type: ignore[operator]
    ref = next(iter(model.parameters()), None)
    if ref is None:
        ref = next(iter(model.buffers()))
    probe = torch.cat([torch.zeros(1, n_in), torch.eye(n_in)]).to(ref)
    with torch.no_grad():
        if params is None:
            out = model(probe)
        else:
            out = torch.func.functional_call(model, dict(params), (probe,))
    b = out[0]
    return (out[1:] - b).T.contiguous(), b.clone()


def export_linear(model: nn.Module, params: Mapping[str, Tensor] | None = None,
                  n_in: int | None = None) -> nn.Linear:
    """A plain ``torch.nn.Linear`` computing the same map as ``model`` (with ``params``,
    e.g. the parameters adapted to one task, substituted): the export to plain PyTorch.

    >>> layer = MSRLinear(4, 3, k=2)
    >>> lin = export_linear(layer)
    >>> bool(torch.allclose(lin(torch.ones(1, 4)), layer(torch.ones(1, 4)), atol=1e-6))
    True
    """
    W, b = dense_weight(model, params, n_in)
    lin = nn.Linear(W.shape[1], W.shape[0], bias=bool(b.abs().max() > 0))
    with torch.no_grad():
        lin.weight.copy_(W)
        if lin.bias is not None:
            lin.bias.copy_(b)
    return lin.to(W)


def build_model(name: str, *, n_in: int, n_out: int, in_channels: int = 1,
                out_channels: int = 1, k: int | None = None, U: Any = None,
                bias: bool = False) -> nn.Module:
    """Build one of :data:`MODEL_NAMES` for inputs ``(c_in * L_in)`` -> ``(c_out * L_out)``.

    ``msr-fc`` needs ``k``; ``oracle`` needs the analytic basis ``U`` (``(n_out*n_in, d)``,
    e.g. an exact pattern's :math:`U^G`; it is frozen); ``maml-lc`` / ``maml-conv`` infer
    the kernel from ``L_out = L_in - kernel + 1``.
    """
    if name == "msr-fc":
        if k is None:
            raise SpecError("msr-fc needs --k (the number of filter parameters)")
        return MSRLinear(n_in, n_out, k, bias=bias)
    if name == "oracle":
        if U is None:
            raise SpecError("the oracle model needs the analytic answer of the problem; "
                            "user data has none (use msr-fc)")
        U = torch.as_tensor(U, dtype=torch.get_default_dtype())
        return MSRLinear(n_in, n_out, U.shape[1], bias=bias, U=U)
    if name == "maml-fc":
        return FullyConnected(n_in, n_out, bias=bias)
    if name in ("maml-lc", "maml-conv"):
        L_in, L_out = n_in // in_channels, n_out // out_channels
        if L_in * in_channels != n_in or L_out * out_channels != n_out:
            raise MismatchError(f"{name}: sizes {n_in} -> {n_out} are not multiples of the "
                                f"channel counts {in_channels} -> {out_channels}")
        kern = L_in - L_out + 1
        if kern < 1:
            raise MismatchError(f"{name} needs a valid 1-D layout (L_out <= L_in), got "
                                f"L_in={L_in}, L_out={L_out}")
        cls = LocallyConnected1d if name == "maml-lc" else Conv1dLayer
        return cls(L_in, kern, in_channels, out_channels, bias=bias)
    raise SpecError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
