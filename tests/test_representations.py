"""Representations: permutation and linear representations, sharing patterns against
brute-force oracles, named patterns against numpy/scipy, equivariant bases, U^G."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st

from metasym.errors import (
    MetasymError,
    MismatchError,
    NotAHomomorphismError,
    SpecError,
    TooLargeError,
)
from metasym.groups import (
    cyclic,
    dihedral,
    klein_four,
    natural,
    parse_action,
    quaternion,
    regular,
    symmetric,
    tensor,
    trivial,
)
from metasym.representations import (
    EquivariantBasis,
    LinearRepresentation,
    PermutationRepresentation,
    SharingPattern,
    conv1d,
    conv2d,
    equivariant_basis,
    group_convolution_basis,
    locally_connected1d,
    pair_orbit_labels,
    parse_representation,
    sharing_pattern,
)
from metasym.representations.testing import (
    assert_equivariant,
    brute_force_pair_orbits,
    group_and_actions,
)

SMALL = group_and_actions(max_degree=5, max_order=48, max_action_degree=24)


def rotation(theta: float) -> np.ndarray:
    c, s = np.cos(theta), np.sin(theta)
    return np.array([[c, -s], [s, c]])


# ----- sharing patterns ----------------------------------------------------------------------
@given(SMALL)
def test_pair_orbits_match_brute_force(gaa):
    G, a, b = gaa
    labels = pair_orbit_labels(a.generator_images, b.generator_images)
    assert np.array_equal(labels, brute_force_pair_orbits(a, b))
    P = sharing_pattern(a, b)
    assert np.array_equal(P.labels, labels)
    assert P.dimension == int(labels.max()) + 1


@given(SMALL, st.integers(0, 2**32 - 1))
def test_pattern_basis_weight_project(gaa, seed):
    G, a, b = gaa
    P = sharing_pattern(a, b)
    m, n = P.shape
    rng = np.random.default_rng(seed)
    U = P.basis()
    assert U.shape == (m * n, P.dimension) and set(np.unique(U)) <= {0, 1}
    assert np.array_equal(U.sum(axis=0), P.orbit_sizes)
    v = rng.standard_normal(P.dimension)
    W = P.weight(v)
    assert np.allclose((U @ v).reshape(m, n), W)  # row-major vec
    assert np.array_equal(P.basis(sparse=True).toarray(), U)
    Uo = P.basis(orthonormal=True)
    assert np.allclose(Uo.T @ Uo, np.eye(P.dimension))
    assert_equivariant(W, P)
    assert P.is_equivariant(W)
    X = rng.standard_normal((m, n))
    PX = P.project(X)
    assert np.allclose(P.project(PX), PX)
    assert np.allclose(PX, (Uo @ (Uo.T @ X.ravel())).reshape(m, n))  # orthogonal projection
    assert_equivariant(PX, P, atol=1e-12)


def test_pattern_save_load(tmp_path):
    P = sharing_pattern(natural(dihedral(5)), regular(dihedral(5)))
    info = P.save(tmp_path / "p.npz")
    assert info["U"] == "dense"
    with np.load(tmp_path / "p.npz") as f:
        assert np.array_equal(f["U"], P.basis())
    Q = SharingPattern.load(tmp_path / "p.npz")
    assert Q == P and hash(Q) == hash(P)
    info = P.save(tmp_path / "s.npz", dense_limit=10)
    assert info["U"].startswith("sparse")
    with np.load(tmp_path / "s.npz") as f:
        assert "U" not in f.files and tuple(f["U_shape"]) == (50, P.dimension)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(MetasymError):
        SharingPattern.load(tmp_path / "bad.npz")


def test_pattern_errors():
    with pytest.raises(MismatchError):
        sharing_pattern(natural(cyclic(3)), natural(cyclic(4)))
    with pytest.raises(MismatchError):
        SharingPattern(np.zeros(3, dtype=int))
    with pytest.raises(MismatchError):
        sharing_pattern(natural(cyclic(3)), natural(cyclic(3))).weight(np.zeros(2))
    with pytest.raises(MismatchError):
        sharing_pattern(LinearRepresentation(cyclic(4), [rotation(np.pi / 2)]),
                        natural(cyclic(4)))


# ----- named patterns against numpy / scipy -------------------------------------------------------
@pytest.mark.parametrize("n, k", [(70, 3), (10, 1), (8, 8), (12, 5)])
def test_conv1d_is_valid_correlation(n, k):
    P = conv1d(n, k)
    assert P.shape == (n - k + 1, n) and P.dimension == k
    rng = np.random.default_rng(n * k)
    v, x = rng.standard_normal(k), rng.standard_normal(n)
    assert np.allclose(P.weight(v) @ x, np.correlate(x, v, mode="valid"))
    L = locally_connected1d(n, k)
    assert L.dimension == (n - k + 1) * k and np.array_equal(L.support, P.support)


@pytest.mark.parametrize("h, w, kh, kw", [(6, 5, 3, 3), (4, 4, 2, 3), (5, 3, 1, 1), (3, 3, 3, 3)])
def test_conv2d_is_valid_correlation(h, w, kh, kw):
    P = conv2d(h, w, kh, kw)
    assert P.shape == ((h - kh + 1) * (w - kw + 1), h * w) and P.dimension == kh * kw
    rng = np.random.default_rng(h * w)
    kernel, img = rng.standard_normal((kh, kw)), rng.standard_normal((h, w))
    out = P.weight(kernel.ravel()) @ img.ravel()
    assert np.allclose(out, scipy.signal.correlate2d(img, kernel, mode="valid").ravel())


# ----- permutation representations ------------------------------------------------------------------
@given(SMALL)
def test_permutation_representation(gaa):
    G, a, b = gaa
    rho = PermutationRepresentation(a)
    assert rho.degree == a.degree and rho.group == G and rho.action == a
    assert parse_representation(rho.spec) == rho and hash(parse_representation(rho.spec)) == hash(rho)
    M = rho.generator_matrices()
    assert M.shape == (G.n_generators, a.degree, a.degree) and M.dtype == np.int64
    assert np.array_equal(M, a.matrices())
    for dense, sparse in zip(M, rho.generator_matrices("sparse")):
        assert np.array_equal(dense, sparse.toarray())
    chi = rho.character()
    traces = [np.trace(rho.matrix(g)) for g in G.element_arrays]
    assert chi.tolist() == traces and chi[0] == a.degree
    classes = G.conjugacy_class_indices
    cc = rho.class_character()
    for c, value in zip(classes, cc):
        assert set(chi[list(c)].tolist()) == {value}  # a class function
    other = PermutationRepresentation(b)
    assert (rho + other).action == a + b and (rho * other).action == tensor(a, b)
    assert (rho + b).degree == a.degree + b.degree and rho.tensor(other).degree == a.degree * b.degree


def test_permutation_representation_torch_and_errors():
    torch = pytest.importorskip("torch")
    rho = parse_representation("dihedral:4 @ natural")
    T = rho.generator_matrices("torch")
    assert T.dtype == torch.float32 and np.array_equal(T.numpy(), rho.generator_matrices())
    assert repr(rho) == "PermutationRepresentation('dihedral:4 @ natural', degree=4)"
    for bad in ["dihedral:4", "dihedral:4 @ nat", "@ natural", "cyclic:2 @ natural @ regular"]:
        with pytest.raises(SpecError):
            parse_representation(bad)
    with pytest.raises(SpecError):
        rho.generator_matrices("csv")
    with pytest.raises(MismatchError):
        rho + natural(cyclic(4))


# ----- linear representations --------------------------------------------------------------------------
def test_linear_float_and_float32_tolerances():
    R = rotation(2 * np.pi / 8)
    rho = LinearRepresentation(cyclic(8), [R])
    assert rho.validation == "float64" and rho.validation_error < 1e-12
    assert rho.atol == pytest.approx(np.sqrt(np.finfo(np.float64).eps))
    rho32 = LinearRepresentation(cyclic(8), [R.astype(np.float32)])
    assert rho32.atol == pytest.approx(np.sqrt(np.finfo(np.float32).eps))
    with pytest.raises(NotAHomomorphismError, match="relation"):
        LinearRepresentation(cyclic(7), [R])
    with pytest.raises(NotAHomomorphismError):
        LinearRepresentation(cyclic(8), [R * 1.001])  # not of finite order
    # a user-chosen tolerance is honoured
    LinearRepresentation(cyclic(8), [R + 1e-9], atol=1e-6)
    with pytest.raises(NotAHomomorphismError):
        LinearRepresentation(cyclic(8), [R + 1e-9], atol=1e-12)
    # matrix(g) is a homomorphism and the character is the trace
    G = cyclic(8)
    for g in G.element_arrays:
        for h in G.element_arrays[:3]:
            assert np.allclose(rho.matrix(g[h]), rho.matrix(g) @ rho.matrix(h))
    assert rho.character()[0] == pytest.approx(2.0)


def test_linear_exact():
    D = dihedral(4)
    rot, flip = [[0, -1], [1, 0]], [[1, 0], [0, -1]]
    rho = LinearRepresentation(D, [rot, flip], exact=True)
    assert rho.exact and rho.validation == "exact" and rho.atol == 0.0
    assert rho == LinearRepresentation(D, [np.array(rot), np.array(flip)], exact=True)
    with pytest.raises(NotAHomomorphismError):
        LinearRepresentation(D, [rot, [[-1, 0], [0, -1]]], exact=True)  # f r f != r^-1
    # rational entries: the 2-dim rep of C3 permuting the 3 vertices' coordinates mod (1,1,1)
    C3 = LinearRepresentation(cyclic(3), [[["0", "-1"], ["1", "-1"]]], exact=True)
    assert C3.validation == "exact"
    half = LinearRepresentation(cyclic(2), [[[0.5, 0.75], [1, -0.5]]], exact=True)
    assert half.generator_matrices("sympy")[0][0, 1] == __import__("sympy").Rational(3, 4)
    with pytest.raises(SpecError):
        LinearRepresentation(cyclic(4), [[[__import__("sympy").sqrt(2), 0], [0, 1]]], exact=True)
    with pytest.raises(MismatchError):
        LinearRepresentation(D, [rot])  # one matrix for two generators
    with pytest.raises(MismatchError):
        LinearRepresentation(D, [rot, [[1, 0, 0], [0, 1, 0], [0, 0, 1]]])


def test_linear_validation_refuses_big_groups():
    G = symmetric(9)
    mats = PermutationRepresentation(natural(G)).generator_matrices()
    with pytest.raises(TooLargeError, match="validate=False"):
        LinearRepresentation(G, mats)
    rho = LinearRepresentation(G, mats, validate=False)
    assert rho.validation == "skipped"


def test_linear_sum_and_tensor():
    G = dihedral(3)
    nat = PermutationRepresentation(natural(G))
    lin = LinearRepresentation.from_permutation(nat)
    assert (lin + lin).degree == 6 and (lin * lin).degree == 9
    assert np.array_equal((lin * lin).generator_matrices(),
                          (nat * nat).generator_matrices().astype(float))
    assert equivariant_basis(lin * lin, lin).dimension == sharing_pattern(
        tensor(natural(G), natural(G)), natural(G)).dimension


# ----- equivariant bases -------------------------------------------------------------------------------
def _same_span(B: np.ndarray, P: SharingPattern) -> bool:
    """span(B) == span(P): same dimension and every column of B is fixed by P.project."""
    if B.shape[1] != P.dimension:
        return False
    m, n = P.shape
    W = B.T.reshape(-1, m, n)
    return bool(np.allclose(P.project(W), W, atol=1e-9)
                and np.linalg.matrix_rank(B) == P.dimension)


@given(SMALL)
def test_equivariant_basis_spans_sharing_pattern(gaa):
    G, a, b = gaa
    P = sharing_pattern(a, b)
    B = equivariant_basis(a, b)
    assert isinstance(B, EquivariantBasis)
    assert B.exact == (a.degree * b.degree <= 400)
    assert B.residual == 0.0 if B.exact else B.residual <= 1e-10
    assert _same_span(B.basis, P)
    Bf = equivariant_basis(a, b, exact=False)
    assert not Bf.exact and Bf.residual <= 1e-10
    assert Bf.tolerance >= 0
    assert _same_span(Bf.basis, P)
    assert np.allclose(Bf.basis.T @ Bf.basis, np.eye(Bf.dimension), atol=1e-10)


def test_equivariant_basis_linear():
    # commutant of an irreducible 2-d rotation rep of C_8 over R: {a I + b J}, dimension 2
    rho = LinearRepresentation(cyclic(8), [rotation(np.pi / 4)])
    B = equivariant_basis(rho, rho)
    assert not B.exact and B.dimension == 2 and B.residual < 1e-12
    assert "SVD" in B.method and B.tolerance > 0
    for c in range(2):
        W = B.basis[:, c].reshape(2, 2)
        assert np.allclose(rotation(np.pi / 4) @ W, W @ rotation(np.pi / 4))
    # D_4 on R^2 is absolutely irreducible: only multiples of the identity
    D = dihedral(4)
    std = LinearRepresentation(D, [[[0, -1], [1, 0]], [[1, 0], [0, -1]]], exact=True)
    E = equivariant_basis(std, std)
    assert E.exact and E.dimension == 1 and E.rational is not None
    assert np.allclose(E.basis[:, 0].reshape(2, 2), E.basis[0, 0] * np.eye(2))
    # maps from the natural (vertex) permutation rep of D_4 to the 2-d rep: one copy
    assert equivariant_basis(natural(D), std).dimension == 1
    assert equivariant_basis(std, natural(D), exact=False).dimension == 1
    # weights
    assert E.weight(np.array([2.0])).shape == (2, 2)


def test_equivariant_basis_errors():
    with pytest.raises(MismatchError):
        equivariant_basis(natural(cyclic(3)), natural(cyclic(4)))
    with pytest.raises(SpecError):
        equivariant_basis(LinearRepresentation(cyclic(8), [rotation(np.pi / 4)]),
                          natural(cyclic(8)), exact=True)
    with pytest.raises(TooLargeError):  # the nullspace refuses; auto goes to the orbit method
        equivariant_basis(tensor(natural(cyclic(50)), natural(cyclic(50))), natural(cyclic(50)),
                          method="nullspace")
    with pytest.raises(TooLargeError):
        Q = quaternion()
        equivariant_basis(tensor(regular(Q), regular(Q)), tensor(regular(Q), regular(Q), natural(Q)),
                          exact=True, method="nullspace")
    with pytest.raises(MismatchError):
        equivariant_basis(natural(cyclic(3)), "natural")


def test_equivariant_basis_trivial_group():
    G = cyclic(1)
    B = equivariant_basis(trivial(G, 2), trivial(G, 3))
    assert B.dimension == 6


# ----- U^G --------------------------------------------------------------------------------------------------
@given(SMALL, st.integers(0, 2**32 - 1))
def test_group_convolution_basis(gaa, seed):
    G, a, _ = gaa
    U = group_convolution_basis(a)
    n = a.degree
    assert U.shape == (G.order * n, n)
    assert np.array_equal(U[:n], np.eye(n, dtype=np.int64))  # identity block first
    assert np.array_equal(group_convolution_basis(a, sparse=True).toarray(), U)
    v = np.random.default_rng(seed).integers(-5, 6, size=n)
    W = (U @ v).reshape(G.order, n)
    rho = PermutationRepresentation(a)
    for j, g in enumerate(G.element_arrays):
        assert np.array_equal(W[j], rho.matrix(g) @ v)  # row j = pi(g_j) v
        assert np.array_equal(W[j], v[np.argsort(a.image(g))])  # W[j, x] = v[g_j^-1 x]
    assert_equivariant(W, (a, regular(G)))
    P = sharing_pattern(a, regular(G))
    assert P.dimension == n and _same_span(U.astype(float), P)


def test_group_convolution_basis_refuses_big_groups():
    with pytest.raises(TooLargeError):
        group_convolution_basis(natural(symmetric(9)))


# ----- assert_equivariant --------------------------------------------------------------------------------------
def test_assert_equivariant_messages():
    a = parse_action("natural", klein_four())
    P = sharing_pattern(a, a)
    W = P.random_weight(1)
    assert_equivariant(W, P)
    assert_equivariant(W.astype(np.float32), (a, a))
    bad = W.copy()
    bad[0, 1] += 1.0
    with pytest.raises(AssertionError, match=r"worst generator \d .* > atol"):
        assert_equivariant(bad, P)
    torch = pytest.importorskip("torch")
    assert_equivariant(torch.as_tensor(W), P)
    rho = LinearRepresentation(cyclic(8), [rotation(np.pi / 4)])
    assert_equivariant(np.eye(2), (rho, rho))
    with pytest.raises(AssertionError, match="generator 0"):
        assert_equivariant(np.diag([1.0, 2.0]), (rho, rho))
    with pytest.raises(MismatchError):
        assert_equivariant(np.eye(3), P)
