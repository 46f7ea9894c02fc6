r"""Image kernels: exact C4/D4 lifting and group-convolution patterns, and C_N/D_N
steerable kernels on a pixel grid.

**Exact (permutation) case.** A lifting convolution from one trivial input channel to
``fields`` regular fields has the weight ``(fields*|G|, 1, k, k)``, flattened to
``(fields*|G|, k*k)``. ``G`` (``rotations(k)`` = C4 or ``rotoflips(k)`` = D4) acts on the
kernel positions (input index ``p``) and by the regular action on the channels of each
field (output index ``o``). The conv commutes with rotating (flipping) the image iff
:math:`W[g\cdot o, g\cdot p] = W[o, p]`: the weight is constant on the orbits of ``G`` on
(channel, kernel position) pairs, i.e. the :func:`~metasym.representations.sharing_pattern`
of ``natural -> regular (+) ... (+) regular``. A group convolution reads ``fields_in``
regular fields: its input index is ``(field, channel, position)``, the action
``tensor(regular, natural)`` per field. Nothing here is written by hand; the patterns come
from the groups and the orbit computation.

**Steerable case (45 degrees).** A rotation by :math:`2\pi/N` is not a permutation of a
``k x k`` grid. Following the steerable-CNN construction (Weiler & Cesa 2019) we model a
kernel as a continuous function in a band-limited angular-harmonic basis

.. math:: \psi_{R,j}^{c}(x) = \tau_R(|x|)\cos(j\varphi), \qquad
          \psi_{R,j}^{s}(x) = \tau_R(|x|)\sin(j\varphi), \qquad
          \tau_R(r) = e^{-(r-R)^2 / 2\sigma^2},

with rings ``R = 0, 1, ..., (k-1)/2`` and frequencies ``0 <= j <= max_frequency``
(only ``j = 0`` on the ring ``R = 0``), sampled at the pixel centres (``x`` to the right,
``y`` up, so a positive angle turns content as ``np.rot90`` does). On the *coefficients*
rotation by :math:`\theta` acts exactly by the 2x2 rotations of angle :math:`j\theta` and the
left-right flip by :math:`\mathrm{diag}((-1)^j, -(-1)^j)`: a
:class:`~metasym.representations.LinearRepresentation` of C_N / D_N of degree ``D`` (the
number of basis functions). Its equivariant maps to the regular representation come from
:func:`~metasym.representations.equivariant_basis` (float SVD nullspace with its reported
tolerance). A map ``A`` (``|G| x D``) becomes the kernel bank ``W = A B^T`` with ``B`` the
``k*k x D`` sampling matrix: channel :math:`g\cdot o` holds the sampled rotation by ``g`` of
channel ``o``'s continuous kernel.

What is exact and what is not: the 90-degree rotations and the flip map the grid to itself,
and on sampled kernels they act exactly as ``np.rot90`` / ``np.fliplr`` (checked in the
tests), so the bank is *exactly* equivariant under C4 / D4 of the grid. A 45-degree
rotation of a sampled image is only defined through interpolation; the bank responds to a
rotated *continuous* input with a channel permutation only approximately.
:func:`rotation_response_error` measures that error on smooth random images.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from metasym.errors import MetasymError, SpecError, TooLargeError
from metasym.groups import (
    FiniteGroup,
    GroupAction,
    axisflips,
    cyclic,
    dihedral,
    direct_sum,
    flips,
    natural,
    regular,
    rotations,
    rotoflips,
    tensor,
    vflips,
)
from metasym.representations._args import check_cells, integer
from metasym.representations.linear import LinearRepresentation
from metasym.representations.schur import equivariant_basis
from metasym.representations.sharing import SharingPattern, sharing_pattern

__all__ = [
    "PIXEL_GROUPS",
    "kernel_group",
    "lifting_conv_pattern",
    "group_conv_pattern",
    "SteerableKernels",
    "SteerableBasis",
    "rotation_response_error",
    "smooth_random_field",
]


#: The exact groups of the pixel grid that image augmentations generate, by name.
PIXEL_GROUPS = ("flip", "vflip", "klein", "c4", "d4")
_PIXEL_GROUP_BUILDERS = {"flip": flips, "vflip": vflips, "klein": axisflips, "c4": rotations,
                         "d4": rotoflips}


def kernel_group(name: str, kernel: int) -> FiniteGroup:
    """The exact pixel-grid group ``name`` acting on the ``kernel x kernel`` positions.

    ``"flip"``: :math:`C_2`, the left-right flip (:func:`~metasym.groups.constructors.flips`);
    ``"vflip"``: :math:`C_2`, the up-down flip (:func:`~metasym.groups.constructors.vflips`);
    ``"klein"``: the Klein group of both flips (:func:`~metasym.groups.constructors.axisflips`);
    ``"c4"``: :math:`C_4`, the 90-degree rotations (:func:`~metasym.groups.rotations`);
    ``"d4"``: :math:`D_4`, rotations and flips (:func:`~metasym.groups.rotoflips`).

    >>> [kernel_group(n, 3).order for n in PIXEL_GROUPS]
    [2, 2, 4, 4, 8]
    """
    if name not in PIXEL_GROUPS:
        raise SpecError(f"unknown pixel group {name!r}: use {', '.join(PIXEL_GROUPS)}")
    return _PIXEL_GROUP_BUILDERS[name](kernel)


def _regular_fields(G: FiniteGroup, fields: int) -> GroupAction:
    reg = regular(G)
    return reg if fields == 1 else direct_sum(*([reg] * fields))


def _check_fields(*fields: int) -> None:
    for f in fields:
        if isinstance(f, bool) or not isinstance(f, (int, np.integer)):
            raise TypeError(f"the number of fields must be an integer, got {f!r}")
        if f < 1:
            raise SpecError(f"the number of fields must be a positive integer, got {f!r}")


def _action(kernel_action: object) -> GroupAction:
    if isinstance(kernel_action, FiniteGroup):
        return natural(kernel_action)
    if not isinstance(kernel_action, GroupAction):
        raise TypeError(f"kernel_action must be a GroupAction or FiniteGroup, got "
                        f"{type(kernel_action).__name__}")
    return kernel_action


def lifting_conv_pattern(kernel_action: GroupAction | FiniteGroup, fields: int = 1
                         ) -> SharingPattern:
    r"""Exact sharing pattern of a lifting convolution: one trivial input channel,
    ``fields`` regular output fields, ``G`` acting on the kernel positions.

    Shape ``(fields*|G|, k*k)`` = the conv weight ``(c_out, 1, k, k)`` flattened;
    dimension ``fields * k*k`` (``G`` acts freely on the channels, so each orbit on
    (channel, position) pairs has ``|G|`` elements: one base kernel per field).

    >>> P = lifting_conv_pattern(rotations(3), fields=2)
    >>> P.shape, P.dimension
    ((8, 9), 18)
    """
    _check_fields(fields)
    act = _action(kernel_action)
    G = act.group
    G.check_enumerable("a lifting convolution (regular fields)")
    check_cells(int(fields) * G.order, act.degree, "lifting_conv_pattern")
    P = sharing_pattern(act, _regular_fields(act.group, fields))
    P.description = f"lifting conv {act.group.spec}: kernel positions -> {fields} regular field(s)"
    return P


def group_conv_pattern(kernel_action: GroupAction | FiniteGroup, fields_in: int = 1,
                       fields_out: int = 1) -> SharingPattern:
    r"""Exact sharing pattern of a group convolution ``fields_in`` regular fields ->
    ``fields_out`` regular fields, ``G`` acting on the kernel positions.

    Input index ``(field, channel, position)`` (row-major: the conv weight
    ``(c_out, c_in, k, k)`` flattened to ``(c_out, c_in*k*k)``), acted on by
    ``tensor(regular, natural)`` per field.

    >>> group_conv_pattern(rotations(3)).dimension    # |G| * k*k: G acts freely
    36
    """
    _check_fields(fields_in, fields_out)
    act = _action(kernel_action)
    G = act.group
    G.check_enumerable("a group convolution (regular fields)")
    check_cells(int(fields_out) * G.order, int(fields_in) * G.order * act.degree,
                "group_conv_pattern")
    field = tensor(regular(G), act)
    a_in = field if fields_in == 1 else direct_sum(*([field] * fields_in))
    P = sharing_pattern(a_in, _regular_fields(G, fields_out))
    P.description = (f"group conv {G.spec}: {fields_in} -> {fields_out} regular field(s)")
    return P


# ----- steerable kernels ------------------------------------------------------------------
def _rot2(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s], [s, c]])


@dataclass(frozen=True, eq=False)
class SteerableBasis:
    """A basis of steerable lifting kernel banks (one trivial input channel, regular
    output fields).

    Attributes
    ----------
    block
        ``(|G|*k*k, D)`` orthonormal basis of one field's bank (row-major vec of
        ``(|G|, k*k)``).
    coefficient_basis
        ``(|G|*D_in, D)`` basis of the equivariant maps ``A`` on the harmonic coefficients.
    tolerance, residual, method
        From :func:`~metasym.representations.equivariant_basis`.
    group
        ``cyclic:N`` or ``dihedral:N``.
    """

    block: np.ndarray
    coefficient_basis: np.ndarray
    tolerance: float
    residual: float
    method: str
    group: FiniteGroup
    kernel: int

    @property
    def dimension(self) -> int:
        """Parameters per field."""
        return int(self.block.shape[1])

    def full(self, fields: int = 1) -> np.ndarray:
        """``(fields*|G|*k*k, fields*D)`` basis of the whole bank (block diagonal over
        fields, columns field-major)."""
        _check_fields(fields)
        return np.kron(np.eye(fields), self.block)


class SteerableKernels:
    r"""Band-limited harmonic kernels on a ``k x k`` grid, steerable under C_N or D_N.

    Parameters
    ----------
    order
        ``N``: rotations by :math:`2\pi/N` (8 for the paper's 45-degree problems).
    flips
        Add the left-right flip (D_N, ``dihedral:N``; else ``cyclic:N``).
    kernel
        Odd grid size ``k``.
    max_frequency
        Largest angular frequency on the rings ``R >= 1`` (2 by default, as e2cnn's
        default cut-off for 3x3 kernels; higher frequencies alias on a 3x3 grid).
    sigma
        Width of the Gaussian radial profiles (0.6, e2cnn's default).

    Examples
    --------
    >>> sk = SteerableKernels(8)
    >>> sk.degree, sk.representation.group.spec
    (6, 'cyclic:8')
    >>> sk.lifting_basis().dimension
    6
    """

    def __init__(self, order: int = 8, *, flips: bool = False, kernel: int = 3,
                 max_frequency: int = 2, sigma: float = 0.6) -> None:
        order = integer(order, "rotation order", 2)
        kernel = integer(kernel, "kernel size")
        max_frequency = integer(max_frequency, "max_frequency")
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float, np.integer, np.floating)):
            raise TypeError(f"sigma must be a number, got {type(sigma).__name__}")
        if order > 360 or kernel > 99:
            raise TooLargeError(f"steerable kernels are built for rotation orders up to 360 "
                                f"and kernels up to 99x99, got order {order}, kernel {kernel}")
        if kernel < 1 or kernel % 2 == 0:
            raise SpecError(f"steerable kernels need an odd size, got {kernel}")
        if max_frequency < 0:
            raise SpecError(f"max_frequency must be >= 0, got {max_frequency}")
        if not (sigma > 0 and np.isfinite(sigma)):
            raise SpecError(f"sigma must be positive, got {sigma}")
        self.order, self.flips, self.kernel = int(order), bool(flips), int(kernel)
        self.max_frequency, self.sigma = int(max_frequency), float(sigma)
        # (ring radius, frequency, "c"/"s") of each coefficient
        self.functions: list[tuple[float, int, str]] = []
        for R in range((kernel - 1) // 2 + 1):
            # the ring R = 0 is a point: only the isotropic function lives there
            for j in range(self.max_frequency + 1 if R > 0 else 1):
                self.functions.append((float(R), j, "c"))
                if j > 0:
                    self.functions.append((float(R), j, "s"))
        B = self.sample(*self.pixel_coordinates())
        if np.linalg.matrix_rank(B, tol=1e-8) < B.shape[1]:
            raise MetasymError(
                f"frequencies up to {max_frequency} alias on a {kernel}x{kernel} grid (the "
                "sampled harmonics are linearly dependent); lower max_frequency")
        self.sampling = B
        self.sampling.setflags(write=False)

    # ----- sampling -------------------------------------------------------------------------
    def pixel_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """``(x, y)`` of the pixel centres, row-major, ``x`` right and ``y`` up."""
        c = (self.kernel - 1) / 2
        r, col = np.divmod(np.arange(self.kernel ** 2), self.kernel)
        return col - c, c - r

    def sample(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The basis functions at points ``(x, y)``: ``(len(x), D)``."""
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        rad = np.hypot(x, y)
        phi = np.arctan2(y, x)
        out = np.empty(x.shape + (len(self.functions),))
        for i, (R, j, kind) in enumerate(self.functions):
            tau = np.exp(-((rad - R) ** 2) / (2 * self.sigma ** 2))
            if j == 0:
                out[..., i] = tau
            else:
                ang = np.cos(j * phi) if kind == "c" else np.sin(j * phi)
                # the angle is undefined at the centre: harmonics of order j > 0 vanish there
                out[..., i] = np.where(rad > 1e-12, tau * ang, 0.0)
        return out

    @property
    def degree(self) -> int:
        """Number of harmonic coefficients ``D``."""
        return len(self.functions)

    # ----- the representation on coefficients ---------------------------------------------
    def coefficient_matrix(self, angle: float, flip: bool = False) -> np.ndarray:
        r"""``(D, D)`` action on coefficients of :math:`f \mapsto f \circ T^{-1}` where
        ``T`` flips ``x -> -x`` (if ``flip``) and then rotates by ``angle``."""
        M = np.zeros((self.degree, self.degree))
        i = 0
        while i < self.degree:
            _, j, _ = self.functions[i]
            if j == 0:
                M[i, i] = 1.0
                i += 1
                continue
            F = np.diag([(-1.0) ** j, -((-1.0) ** j)]) if flip else np.eye(2)
            M[i:i + 2, i:i + 2] = _rot2(j * angle) @ F
            i += 2
        return M

    @cached_property
    def group(self) -> FiniteGroup:
        """``cyclic:N`` (generator: rotation by :math:`2\\pi/N`) or ``dihedral:N``
        (generators: that rotation and the left-right flip)."""
        return dihedral(self.order) if self.flips else cyclic(self.order)

    @cached_property
    def representation(self) -> LinearRepresentation:
        """The C_N / D_N representation on the ``D`` coefficients (validated as a
        homomorphism in float64)."""
        mats = [self.coefficient_matrix(2 * math.pi / self.order)]
        if self.flips:
            mats.append(self.coefficient_matrix(0.0, flip=True))
        name = f"harmonics(k={self.kernel}, f<={self.max_frequency})"
        return LinearRepresentation(self.group, mats, name=name)

    def kernel_bank(self, A: np.ndarray) -> np.ndarray:
        """Pixel kernels ``(|G|, k*k)`` of a coefficient map ``A`` (``(|G|, D)``):
        ``A B^T``."""
        return np.asarray(A) @ self.sampling.T

    def lifting_basis(self) -> SteerableBasis:
        """Equivariant kernel banks ``trivial -> regular`` (one field): the equivariant
        maps from the coefficient representation to the regular one
        (:func:`~metasym.representations.equivariant_basis`), sampled on the grid and
        orthonormalised."""
        eb = equivariant_basis(self.representation, regular(self.group), exact=False)
        N = self.group.order
        A = eb.basis.T.reshape(-1, N, self.degree)  # one (|G|, D) map per basis element
        banks = np.stack([self.kernel_bank(a).ravel() for a in A], axis=1)
        Q, _ = np.linalg.qr(banks)
        return SteerableBasis(Q, eb.basis, eb.tolerance, eb.residual, eb.method, self.group,
                              self.kernel)

    # ----- the physical meaning of group elements -----------------------------------------
    def element_transform(self, index: int) -> tuple[float, bool]:
        """``(angle, flip)`` of element ``index`` (order of ``group.element_arrays``):
        the map ``x -> R(angle) F x`` with ``F`` the flip ``x -> -x`` when ``flip``."""
        mats = self.representation.generator_matrices()
        target = self.representation.matrix(self.group.element_arrays[index])
        for flip in ([False, True] if self.flips else [False]):
            for r in range(self.order):
                ang = 2 * math.pi * r / self.order
                if np.allclose(self.coefficient_matrix(ang, flip), target, atol=1e-9):
                    return ang, flip
        raise AssertionError(f"element {index} not found among {len(mats)} generators' "
                             "products")  # pragma: no cover


def smooth_random_field(rng: np.random.Generator, n_waves: int = 16,
                        max_wavenumber: float = 1.0):
    r"""A random smooth continuous image :math:`f(x) = \sum_i a_i \cos(\omega_i \cdot x +
    \phi_i)` with :math:`|\omega_i| \le` ``max_wavenumber`` (radians per pixel; the grid's
    Nyquist limit is :math:`\pi`). Returns a function of ``(x, y)`` arrays."""
    mag = max_wavenumber * np.sqrt(rng.uniform(0, 1, n_waves))
    ang = rng.uniform(0, 2 * np.pi, n_waves)
    w = np.stack([mag * np.cos(ang), mag * np.sin(ang)], axis=1)
    ph = rng.uniform(0, 2 * np.pi, n_waves)
    a = rng.standard_normal(n_waves) / math.sqrt(n_waves)

    def f(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        arg = np.multiply.outer(x, w[:, 0]) + np.multiply.outer(y, w[:, 1]) + ph
        return (np.cos(arg) * a).sum(-1)

    return f


def rotation_response_error(banks: np.ndarray, kernels: SteerableKernels, *, element: int = 1,
                            n_images: int = 200, max_wavenumber: float = 1.0,
                            seed: int = 0) -> float:
    r"""How far kernel banks are from equivariance under a rotation that is not a grid
    symmetry, measured on rotated continuous inputs.

    For random smooth images ``f`` (:func:`smooth_random_field`) the response of a bank
    ``W`` (``(..., fields*|G|, k*k)``) at the rotation centre is ``W f|_grid``; the input
    transformed by group element ``g`` is :math:`f \circ T_g^{-1}`, sampled exactly at the
    pixel centres (no interpolation). Equivariance means
    :math:`W (f\circ T_g^{-1})|_{grid} = \rho_{reg}(g)\, W f|_{grid}`. Returns the relative
    error :math:`\|\cdot - \cdot\|_F / \|W f\|_F` over all images (and banks).

    ``element`` indexes ``group.element_arrays`` (``1`` is the rotation by
    :math:`2\pi/N`).
    """
    banks = np.asarray(banks, dtype=np.float64)
    if not np.isfinite(banks).all():  # NaN must not read as "no error"
        return float("nan")
    G = kernels.group
    N = G.order
    k2 = kernels.kernel ** 2
    if banks.shape[-1] != k2 or banks.shape[-2] % N:
        raise MetasymError(f"kernel banks must be (..., fields*{N}, {k2}), got {banks.shape}")
    angle, flip = kernels.element_transform(element)
    perm = regular(G).element_images()[element]  # channel o -> g.o
    fields = banks.shape[-2] // N
    rng = np.random.default_rng(seed)
    x, y = kernels.pixel_coordinates()
    # T^{-1} = F^{-1} R(-angle): sample f at T^{-1} x
    c, s = math.cos(-angle), math.sin(-angle)
    xr, yr = c * x - s * y, s * x + c * y
    if flip:
        xr = -xr
    num = den = 0.0
    for _ in range(n_images):
        f = smooth_random_field(rng, max_wavenumber=max_wavenumber)
        p, pr = f(x, y), f(xr, yr)
        out = banks @ p  # (..., fields*N)
        out_r = banks @ pr
        o = out.reshape(out.shape[:-1] + (fields, N))
        expect = np.empty_like(o)
        expect[..., perm] = o  # (rho_reg(g) out)[g.o] = out[o]
        num += float(((out_r.reshape(o.shape) - expect) ** 2).sum())
        den += float((o ** 2).sum())
    return math.sqrt(num / den) if den > 0 else 0.0

