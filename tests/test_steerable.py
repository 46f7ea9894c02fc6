"""Image kernels: exact C4/D4 lifting and group-convolution patterns against brute force,
and the C8/D8 steerable kernels (exact on the grid symmetries, measured at 45 degrees)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from metasym.errors import MetasymError, SpecError
from metasym.groups import regular, rotations, rotoflips
from metasym.representations.steerable import (
    SteerableKernels,
    group_conv_pattern,
    kernel_group,
    lifting_conv_pattern,
    rotation_response_error,
)


def _valid_xcorr(x: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Naive valid cross-correlation: x (c_in, H, W), W (c_out, c_in, k, k)."""
    c_out, c_in, k, _ = W.shape
    H, Wd = x.shape[1:]
    out = np.zeros((c_out, H - k + 1, Wd - k + 1))
    for i in range(H - k + 1):
        for j in range(Wd - k + 1):
            out[:, i, j] = np.tensordot(W, x[:, i:i + k, j:j + k], axes=3)
    return out


@pytest.mark.parametrize("group", [rotations(3), rotoflips(3), rotations(4)])
@pytest.mark.parametrize("fields", [1, 2])
def test_lifting_pattern_brute_force(group, fields):
    P = lifting_conv_pattern(group, fields)
    N, k2 = group.order, group.degree
    assert P.shape == (fields * N, k2)
    assert P.dimension == fields * k2  # G acts freely on the channels of a field
    reg = regular(group).element_images()  # (|G|, |G|) channel images, every element
    pix = group.element_arrays  # (|G|, k2) pixel images
    lab = P.labels
    for g in range(N):
        chan = (np.arange(fields)[:, None] * N + reg[g][None, :]).ravel()
        moved = np.empty_like(lab)
        moved[chan[:, None], pix[g][None, :]] = lab  # entry (g.o, g.p) gets label (o, p)
        assert np.array_equal(moved, lab)
    # and nothing coarser: distinct labels are distinct orbits (orbit sizes are |G|)
    assert set(np.bincount(lab.ravel())) == {N}


@pytest.mark.parametrize("name", ["c4", "d4"])
def test_lifting_conv_commutes_with_grid_symmetries(name):
    """The pattern's meaning on images: rotating (flipping) the input permutes output
    channels and rotates (flips) the output maps."""
    G = kernel_group(name, 3)
    P = lifting_conv_pattern(G, 2)
    rng = np.random.default_rng(0)
    W = P.random_weight(rng).reshape(-1, 1, 3, 3)
    x = rng.standard_normal((1, 7, 7))
    y = _valid_xcorr(x, W)
    N = G.order
    reg = regular(G).generator_images
    for s, op in enumerate([np.rot90, np.fliplr][:G.n_generators]):
        ys = _valid_xcorr(op(x, axes=(1, 2)) if op is np.rot90 else x[:, :, ::-1], W)
        chan = (np.arange(2)[:, None] * N + reg[s][None, :]).ravel()
        expect = np.empty_like(y)
        expect[chan] = np.rot90(y, axes=(1, 2)) if op is np.rot90 else y[:, :, ::-1]
        np.testing.assert_allclose(ys, expect, atol=1e-12)


@pytest.mark.parametrize("group", [rotations(3), rotoflips(3)])
def test_group_conv_pattern_brute_force(group):
    P = group_conv_pattern(group, 2, 1)
    N, k2 = group.order, group.degree
    assert P.shape == (N, 2 * N * k2)
    assert P.dimension == 2 * N * k2
    reg = regular(group).element_images()
    pix = group.element_arrays
    lab = P.labels.reshape(N, 2, N, k2)
    for g in range(N):
        moved = np.empty_like(lab)
        moved[reg[g][:, None, None, None], np.arange(2)[None, :, None, None],
              reg[g][None, None, :, None], pix[g][None, None, None, :]] = lab
        assert np.array_equal(moved, lab)


def test_bad_fields_and_group():
    with pytest.raises(SpecError):
        lifting_conv_pattern(rotations(3), 0)
    with pytest.raises(SpecError):
        kernel_group("c8", 3)


# ----- steerable --------------------------------------------------------------------------
@pytest.fixture(scope="module", params=[False, True], ids=["C8", "D8"])
def kernels(request):
    return SteerableKernels(8, flips=request.param)


def test_representation_is_validated(kernels):
    rho = kernels.representation
    assert rho.validation == "float64"
    assert rho.validation_error < 1e-12
    assert rho.degree == 6 and kernels.sampling.shape == (9, 6)


def test_grid_symmetries_are_exact_on_sampled_kernels(kernels):
    """Rotating the continuous kernel by 90 degrees (or flipping it) and sampling equals
    np.rot90 / np.fliplr of the sampled kernel: these act exactly."""
    rng = np.random.default_rng(1)
    B = kernels.sampling
    for _ in range(5):
        c = rng.standard_normal(kernels.degree)
        K = (B @ c).reshape(3, 3)
        R = (B @ kernels.coefficient_matrix(math.pi / 2) @ c).reshape(3, 3)
        F = (B @ kernels.coefficient_matrix(0.0, flip=True) @ c).reshape(3, 3)
        np.testing.assert_allclose(R, np.rot90(K), atol=1e-12)
        np.testing.assert_allclose(F, np.fliplr(K), atol=1e-12)


def test_lifting_basis_is_equivariant_within_its_tolerance(kernels):
    sb = kernels.lifting_basis()
    N = kernels.group.order
    assert sb.dimension == kernels.degree  # Frobenius reciprocity: Hom(rho, regular)
    assert np.allclose(sb.block.T @ sb.block, np.eye(sb.dimension), atol=1e-12)
    assert sb.residual <= 100 * max(sb.tolerance, 1e-15)
    # the coefficient maps: rho_reg(s) A = A rho(s) for every generator s
    reg = regular(kernels.group).matrices()
    mats = kernels.representation.generator_matrices()
    A = sb.coefficient_basis.T.reshape(-1, N, kernels.degree)
    for a in A:
        for Pm, M in zip(reg, mats):
            assert np.abs(Pm @ a - a @ M).max() <= 1e-10
    # on pixels: exact under the 90-degree element (2 steps of 45 degrees)
    assert rotation_response_error(sb.block.T.reshape(-1, N, 9), kernels, element=3
                                   if kernels.flips else 2, n_images=20) < 1e-10


def test_45_degree_error_is_small_and_grows_with_frequency(kernels):
    sb = kernels.lifting_basis()
    banks = sb.block.T.reshape(-1, kernels.group.order, 9)
    low = rotation_response_error(banks, kernels, element=1, max_wavenumber=0.5, n_images=100)
    high = rotation_response_error(banks, kernels, element=1, max_wavenumber=2.0, n_images=100)
    # documented in docs/images.md (measured: about 0.03 and 0.13)
    assert low < 0.06
    assert low < high < 0.3


def test_aliasing_frequencies_refused():
    with pytest.raises(MetasymError, match="alias"):
        SteerableKernels(8, max_frequency=4)
    with pytest.raises(SpecError):
        SteerableKernels(8, kernel=4)
