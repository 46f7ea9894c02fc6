"""Real isotypic decomposition, the Schur-lemma and orbit bases, checked against the
independent nullspace (the oracle) on small random cases."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metasym.errors import SpecError, TooLargeError
from metasym.groups import (
    cyclic,
    dihedral,
    natural,
    quaternion,
    regular,
    rotoflips,
    symmetric,
    trivial,
)
from metasym.representations import (
    LinearRepresentation,
    character_table,
    equivariant_basis,
    isotypic_decomposition,
    nullspace_basis,
    orbit_basis,
    schur_basis,
)
from metasym.representations.schur import SchurFactors, hom_dimension
from metasym.representations.testing import assert_equivariant, group_and_actions

ROT90 = [[0, -1], [1, 0]]
FLIP = [[-1, 0], [0, 1]]


def rotation(theta: float) -> np.ndarray:
    return np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])


def quaternion_r4() -> LinearRepresentation:
    """Q8 acting on R^4 = H by left multiplication (generators i, j)."""
    Li = [[0, -1, 0, 0], [1, 0, 0, 0], [0, 0, 0, -1], [0, 0, 1, 0]]
    Lj = [[0, 0, -1, 0], [0, 0, 0, 1], [1, 0, 0, 0], [0, -1, 0, 0]]
    return LinearRepresentation(quaternion(), [Li, Lj], exact=True)


def vector_field(k: int) -> LinearRepresentation:
    G = rotoflips(k)
    vec = LinearRepresentation(G, [ROT90, FLIP], exact=True)
    return LinearRepresentation.from_permutation(natural(G)) * vec


def same_span(A: np.ndarray, B: np.ndarray) -> bool:
    if A.shape[1] != B.shape[1]:
        return False
    if A.shape[1] == 0:
        return True
    r = np.linalg.matrix_rank(np.hstack([A, B]), tol=1e-7 * max(1.0, np.abs(A).max()))
    return r == A.shape[1] == np.linalg.matrix_rank(A, tol=1e-9)


def conjugated(rho: LinearRepresentation, seed: int) -> LinearRepresentation:
    """An equivalent, non-orthogonal representation S rho S^-1."""
    rng = np.random.default_rng(seed)
    d = rho.degree
    S = np.eye(d) + 0.3 * rng.normal(size=(d, d))
    Si = np.linalg.inv(S)
    return LinearRepresentation(rho.group, [S @ M @ Si for M in rho.generator_matrices()],
                                atol=1e-8, degree=d)


# ----- decomposition ------------------------------------------------------------------------
def test_real_types():
    rot = LinearRepresentation(cyclic(4), [ROT90], exact=True)
    D = isotypic_decomposition(rot)
    assert [(c.kind, c.multiplicity, c.commutant_dimension, c.real_degree)
            for c in D.components] == [("complex", 1, 2, 2)]
    Q = isotypic_decomposition(quaternion_r4())
    assert [(c.kind, c.multiplicity, c.commutant_dimension, c.real_degree)
            for c in Q.components] == [("quaternionic", 1, 4, 4)]
    assert Q.multiplicities == (0, 0, 0, 0, 2)
    S = isotypic_decomposition(natural(symmetric(4)))
    assert [(c.kind, c.multiplicity, c.dimension) for c in S.components] == [
        ("real", 1, 1), ("real", 1, 3)]


@pytest.mark.parametrize("rep", [
    lambda: LinearRepresentation.from_permutation(regular(dihedral(5))),
    lambda: LinearRepresentation.from_permutation(regular(cyclic(6))),
    lambda: quaternion_r4() + LinearRepresentation.from_permutation(regular(quaternion())),
    lambda: conjugated(LinearRepresentation(cyclic(3), [rotation(2 * np.pi / 3)])
                       + LinearRepresentation(cyclic(3), [[[1.0]]]), 1),
])
def test_projectors(rep):
    rho = rep()
    D = isotypic_decomposition(rho)
    T = character_table(rho.group)
    assert list(D.multiplicities) == T.multiplicities(rho)
    d = rho.degree
    total = sum(c.projector for c in D.components)
    assert np.allclose(total, np.eye(d), atol=1e-9)
    assert sum(c.dimension for c in D.components) == d
    for i, c in enumerate(D.components):
        P = c.projector
        assert np.allclose(P @ P, P, atol=1e-9)
        for S in rho.generator_matrices():
            assert np.allclose(S @ P, P @ S, atol=1e-9)
        assert D.basis(i).shape == (d, c.dimension)
    assert D.to_json()["components"]


# ----- the Schur basis against the nullspace ---------------------------------------------------
def linear_cases():
    C4 = cyclic(4)
    C6 = cyclic(6)
    D4 = dihedral(4)
    rot4 = LinearRepresentation(C4, [ROT90], exact=True)
    rot6 = LinearRepresentation(C6, [rotation(np.pi / 3)])
    rot6b = LinearRepresentation(C6, [rotation(2 * np.pi / 3)])
    vecD4 = LinearRepresentation(D4, [ROT90, FLIP], exact=True)
    permD4 = LinearRepresentation.from_permutation(natural(D4))
    H = quaternion_r4()
    regQ = LinearRepresentation.from_permutation(regular(quaternion()))
    return [
        (rot4, rot4),
        (rot4 + rot4, rot4 + LinearRepresentation.from_permutation(natural(C4))),
        (rot6 * rot6b, rot6 + rot6b),
        (rot6, conjugated(rot6 + rot6b, 2)),
        (permD4 * vecD4, vecD4 + permD4),
        (vecD4 * vecD4, vecD4.dual() * permD4),
        (H, H),
        (H + regQ, H * LinearRepresentation(quaternion(), [[[1]], [[-1]]], exact=True) + H),
        (regQ, H + H),
        (LinearRepresentation.from_permutation(trivial(C4, 2)), rot4),  # no common irreducible
    ]


@pytest.mark.parametrize("case", range(10))
def test_schur_matches_nullspace(case):
    rin, rout = linear_cases()[case]
    B = schur_basis(rin, rout)
    N = nullspace_basis(rin, rout, exact=False)
    assert B.dimension == N.dimension == hom_dimension(rin, rout)
    assert same_span(B.basis, N.basis)
    assert B.residual < 1e-9
    for c in range(B.dimension):
        assert_equivariant(B.basis[:, c].reshape(B.shape), (rin, rout), atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(group_and_actions(max_degree=5, max_order=24, max_action_degree=12))
def test_schur_and_orbit_on_random_actions(gaa):
    G, a, b = gaa
    N = nullspace_basis(a, b, exact=False)
    Ob = orbit_basis(a, b)
    assert Ob.exact and Ob.residual == 0.0
    assert Ob.dimension == N.dimension
    assert same_span(Ob.dense(), N.basis)
    S = schur_basis(a, b)
    assert S.dimension == N.dimension
    assert same_span(S.basis, N.basis)


@settings(max_examples=20, deadline=None)
@given(st.sampled_from(["c4", "c6", "d4", "d3"]), st.booleans(), st.booleans(),
       st.integers(0, 3))
def test_orbit_perm_times_small(name, small_first_in, small_first_out, which):
    G = {"c4": cyclic(4), "c6": cyclic(6), "d4": dihedral(4), "d3": dihedral(3)}[name]
    if name.startswith("c"):
        n = G.order
        small = LinearRepresentation(G, [rotation(2 * np.pi / n)])
    else:
        n = G.degree
        small = LinearRepresentation(G, [rotation(2 * np.pi / n), FLIP])
    acts = [natural(G), regular(G), trivial(G, 2), natural(G)]
    P = LinearRepresentation.from_permutation(acts[which])
    Q = LinearRepresentation.from_permutation(acts[(which + 1) % 4])
    rin = small * P if small_first_in else P * small
    rout = small * Q if small_first_out else Q * small
    Ob = orbit_basis(rin, rout)
    N = nullspace_basis(rin, rout, exact=False)
    assert not Ob.exact  # irrational rotations: float blocks
    assert Ob.dimension == N.dimension
    assert same_span(Ob.dense(), N.basis)
    assert Ob.residual < 1e-12


def test_orbit_exact_and_rational():
    F = vector_field(4)
    Ob = orbit_basis(F, F)
    E = nullspace_basis(F, F, exact=True)
    assert Ob.exact and Ob.residual == 0.0 and Ob.is_sparse
    assert Ob.dimension == E.dimension == 128
    assert same_span(Ob.dense(), E.basis)
    assert set(np.unique(Ob.basis.data)) <= {-1.0, 1.0}


def test_orbit_nested_tensor_factors():
    G = dihedral(4)
    vec = LinearRepresentation(G, [ROT90, FLIP], exact=True)
    sign = LinearRepresentation(G, [[[1]], [[-1]]], exact=True)
    P = LinearRepresentation.from_permutation(natural(G))
    rin = (P * vec) * sign          # nested: perm first
    rout = vec * (sign * P)         # nested: perm last
    Ob = orbit_basis(rin, rout)
    N = nullspace_basis(rin, rout, exact=True)
    assert Ob.exact and Ob.dimension == N.dimension
    assert same_span(Ob.dense(), N.basis)


def test_target_vector_fields_16x16():
    F = vector_field(16)
    B = equivariant_basis(F, F)  # 512 x 512, 262,144 unknowns
    assert B.method.startswith("orbit method")
    assert B.dimension == hom_dimension(F, F) == 32768
    assert B.residual <= 1e-10
    assert B.is_sparse and B.basis.shape == (512 * 512, 32768)
    v = np.random.default_rng(0).normal(size=B.dimension)
    assert_equivariant(B.weight(v), (F, F), atol=1e-10)


def test_structured_schur_basis():
    F = vector_field(6)
    B = schur_basis(F, F, dense=False)
    assert isinstance(B.factors, SchurFactors)
    assert B.dimension == hom_dimension(F, F)
    assert B.residual < 1e-9
    v = np.random.default_rng(1).normal(size=(2, B.dimension))
    W = B.weight(v)
    assert W.shape == (2, 72, 72)
    assert_equivariant(W, (F, F), atol=1e-9)
    assert np.allclose(B.basis @ v[0], W[0].reshape(-1))
    D = schur_basis(F, F, dense=True)
    assert same_span(D.basis, B.dense())


def test_dispatch_and_errors():
    F = vector_field(3)
    assert equivariant_basis(F, F).method.startswith("exact rational nullspace")
    assert equivariant_basis(F, F, method="orbit").dimension == hom_dimension(F, F)
    assert equivariant_basis(F, F, method="schur").dimension == hom_dimension(F, F)
    with pytest.raises(SpecError):
        equivariant_basis(F, F, method="magic")
    with pytest.raises(SpecError):
        equivariant_basis(F, F, method="schur", exact=True)
    with pytest.raises(SpecError):
        orbit_basis(quaternion_r4(), quaternion_r4())
    with pytest.raises(TooLargeError):
        schur_basis(natural(symmetric(8)), natural(symmetric(8)))
    # a large non-permutation case goes to the Schur method
    rot = LinearRepresentation(cyclic(4), [ROT90], exact=True)
    big = (rot * LinearRepresentation.from_permutation(regular(cyclic(4)))).dual()
    big = big + big + big + big + big + big
    B = equivariant_basis(big, big)
    assert B.method.startswith("Schur")
    assert B.dimension == hom_dimension(big, big)


@st.composite
def cyclic_reps(draw):
    """Random real representations of C_n: sums and tensor products of rotations by
    2 pi j / n (complex type for 0 < j < n/2), signs, permutations, some conjugated."""
    n = draw(st.integers(1, 6))
    G = cyclic(n)

    def leaf():
        kind = draw(st.sampled_from(["rot", "perm", "trivial", "sign"]))
        if kind == "rot" and n > 1:
            return LinearRepresentation(G, [rotation(2 * np.pi * draw(st.integers(0, n - 1)) / n)])
        if kind == "sign" and n % 2 == 0:
            return LinearRepresentation(G, [[[-1]]], exact=True)
        if kind == "perm" and n > 1:
            return LinearRepresentation.from_permutation(natural(G))
        return LinearRepresentation(G, [[[1]]] if n > 1 else [], exact=True, degree=1)

    def rep():
        a, b = leaf(), leaf()
        r = draw(st.sampled_from(["sum", "tensor", "leaf", "dual"]))
        out = a + b if r == "sum" else a * b if r == "tensor" else a.dual() if r == "dual" else a
        if draw(st.booleans()) and out.degree <= 8:
            out = conjugated(out, draw(st.integers(0, 100)))
        return out

    return rep(), rep()


@settings(max_examples=30, deadline=None)
@given(cyclic_reps())
def test_schur_on_random_linear_reps(pair):
    rin, rout = pair
    B = schur_basis(rin, rout)
    N = nullspace_basis(rin, rout, exact=False)
    assert B.dimension == N.dimension == hom_dimension(rin, rout)
    assert same_span(B.basis, N.basis)
    assert B.residual < 1e-8
