"""Named sharing patterns used by the learning layer, derived from groups (not written
by hand): convolutions are translation orbits cut by a kernel window."""

from __future__ import annotations

import numpy as np

from metasym.errors import SpecError
from metasym.groups import cyclic, natural, translations, trivial
from metasym.representations._args import PATTERN_CELL_LIMIT, check_cells, integer
from metasym.representations.sharing import SharingPattern, band_support, sharing_pattern

__all__ = ["conv1d", "conv2d", "locally_connected1d", "PATTERN_CELL_LIMIT"]


def _check(n: object, k: object, what: str) -> tuple[int, int]:
    n, k = integer(n, f"{what} size"), integer(k, f"{what} kernel")
    if n < 1 or k < 1 or k > n:
        raise SpecError(f"{what}: need 1 <= kernel <= size, got size {n}, kernel {k}")
    return n, k


def conv1d(n_in: int, kernel: int) -> SharingPattern:
    r"""Valid 1-D convolution (cross-correlation) ``n_in -> n_in - kernel + 1``.

    Orbits of the cyclic translations :math:`\mathbb{Z}_{n}` of the padded line on
    pairs (output ``y``, input ``x``), i.e. the diagonals :math:`x - y \bmod n`, cut by
    the window :math:`0 \le x - y < \text{kernel}` and restricted to the valid outputs.
    Output ``y`` is :math:`\sum_t w_t\, x_{y+t}`; parameter ``t`` is tap ``t``.

    >>> P = conv1d(70, 3)
    >>> P.shape, P.dimension
    ((68, 70), 3)
    """
    n_in, kernel = _check(n_in, kernel, "conv1d")
    check_cells(n_in, n_in, f"conv1d({n_in}, {kernel})")
    G = cyclic(n_in)
    full = sharing_pattern(natural(G), natural(G), support=band_support(n_in, n_in, kernel))
    return full.restrict(rows=slice(0, n_in - kernel + 1),
                         description=f"conv1d({n_in}, {kernel}): valid convolution")


def locally_connected1d(n_in: int, kernel: int) -> SharingPattern:
    """Valid 1-D locally connected layer: the same window as :func:`conv1d` but no
    sharing (the trivial group's orbits are single entries): ``(n_in-kernel+1)*kernel``
    parameters."""
    n_in, kernel = _check(n_in, kernel, "locally_connected1d")
    G = cyclic(1)
    m = n_in - kernel + 1
    check_cells(m, n_in, f"locally_connected1d({n_in}, {kernel})")
    full = sharing_pattern(trivial(G, n_in), trivial(G, m),
                           support=band_support(m, n_in, kernel))
    return SharingPattern(full.labels, description=f"locally_connected1d({n_in}, {kernel})")


def conv2d(height: int, width: int, kernel_h: int, kernel_w: int | None = None) -> SharingPattern:
    r"""Valid 2-D convolution on an ``height x width`` image (pixels row-major), one
    channel in and out: output ``(height-kh+1) x (width-kw+1)``.

    Orbits of the periodic translations :math:`\mathbb{Z}_h \times \mathbb{Z}_w` on pixel
    pairs, cut by the ``kh x kw`` window and restricted to the valid outputs:
    ``kh*kw`` parameters, parameter ``a*kw + b`` being the kernel tap ``(a, b)``.
    """
    kernel_w = kernel_h if kernel_w is None else kernel_w
    height, kernel_h = _check(height, kernel_h, "conv2d height")
    width, kernel_w = _check(width, kernel_w, "conv2d width")
    check_cells(height * width, height * width, f"conv2d({height}x{width})")
    G = translations(height, width)
    oh, ow = height - kernel_h + 1, width - kernel_w + 1
    ys, xs = np.divmod(np.arange(height * width), width)
    dy = ys[None, :] - ys[:, None]
    dx = xs[None, :] - xs[:, None]
    mask = (dy >= 0) & (dy < kernel_h) & (dx >= 0) & (dx < kernel_w)
    full = sharing_pattern(natural(G), natural(G), support=mask)
    rows = (np.arange(oh)[:, None] * width + np.arange(ow)[None, :]).ravel()
    return full.restrict(rows=rows, description=f"conv2d({height}x{width}, {kernel_h}x{kernel_w})")
