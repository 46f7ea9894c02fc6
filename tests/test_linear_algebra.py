"""The algebra of linear representations: direct sum, tensor product, dual, restriction,
induction, permutation representations; structure kept, spec strings round-trip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasym.errors import MismatchError, NotAHomomorphismError, SpecError
from metasym.groups import (
    alternating,
    cyclic,
    dihedral,
    from_generators,
    natural,
    regular,
    symmetric,
    trivial,
)
from metasym.groups._perm import inverse
from metasym.representations import (
    LinearRepresentation,
    PermutationRepresentation,
    equivariant_basis,
    parse_linear,
)
from metasym.representations.testing import finite_groups

ROT4 = [[0, -1], [1, 0]]


def rotation_c4() -> LinearRepresentation:
    return LinearRepresentation(cyclic(4), [ROT4], exact=True)


def d3_standard() -> LinearRepresentation:
    """The 2-dim irreducible of S3 = dihedral:3 (exact, in the basis e1-e2, e2-e3)."""
    G = dihedral(3)
    nat = PermutationRepresentation(natural(G)).generator_matrices()
    B = np.array([[1, 0], [-1, 1], [0, -1]])  # columns e1-e2, e2-e3
    Binv = np.linalg.pinv(B)
    mats = [np.rint(Binv @ M @ B).astype(int) for M in nat]
    return LinearRepresentation(G, mats, exact=True)


def revalidated(rho: LinearRepresentation) -> LinearRepresentation:
    """An independent homomorphism check of the dense generator matrices."""
    return LinearRepresentation(rho.group, rho.generator_matrices("sympy") if rho.is_rational
                                else rho.generator_matrices(), exact=rho.is_rational,
                                degree=rho.degree)


def characters(rho: LinearRepresentation) -> np.ndarray:
    return np.asarray(rho.character())


# ----- permutation representations ----------------------------------------------------------------
def test_from_permutation_is_lazy_and_exact():
    a = natural(symmetric(30))
    rho = LinearRepresentation.from_permutation(a)
    big = rho.tensor(rho, rho)  # degree 27,000: nothing dense is built
    assert (rho * rho * rho).structure[1][0].structure[0] == "tensor"
    assert big.degree == 27_000 and "_float" not in big.__dict__
    assert big.structure[0] == "tensor" and len(big.structure[1]) == 3
    small = LinearRepresentation.from_permutation(PermutationRepresentation(natural(dihedral(4))))
    assert small.exact and small.validation == "derived"
    np.testing.assert_array_equal(
        small.generator_matrices(),
        PermutationRepresentation(natural(dihedral(4))).generator_matrices())
    assert revalidated(small).validation in ("exact", "float64")


# ----- sum, tensor, dual -------------------------------------------------------------------------
def test_sum_and_tensor_keep_structure():
    rho, nat = rotation_c4(), LinearRepresentation.from_permutation(natural(cyclic(4)))
    s = rho + nat
    t = rho.tensor(nat, rho)
    assert s.structure[0] == "sum" and t.structure[0] == "tensor"
    assert s.degree == 6 and t.degree == 16
    M = s.generator_matrices()[0]
    np.testing.assert_array_equal(M[:2, :2], ROT4)
    np.testing.assert_array_equal(M[2:, 2:], nat.generator_matrices()[0])
    assert not M[:2, 2:].any() and not M[2:, :2].any()
    np.testing.assert_array_equal(t.generator_matrices()[0],
                                  np.kron(np.kron(ROT4, nat.generator_matrices()[0]), ROT4))
    for r in (s, t):
        assert revalidated(r).validation in ("exact", "float64")
    np.testing.assert_allclose(characters(s), characters(rho) + characters(nat))
    np.testing.assert_allclose(characters(t), characters(rho) ** 2 * characters(nat))


def test_dual():
    G = dihedral(3)
    rho = d3_standard()
    half = LinearRepresentation(cyclic(2), [[["1/2", "3/4"], [1, "-1/2"]]], exact=True)
    for r in (rho, half, rotation_c4()):
        D = r.dual()
        assert D.structure[0] == "dual" and D.exact
        for M, Ms in zip(r.generator_matrices(), D.generator_matrices()):
            np.testing.assert_allclose(Ms @ M.T, np.eye(r.degree), atol=1e-12)
        assert revalidated(D).validation in ("exact", "float64")
        # chi*(g) = chi(g^-1)
        E = r.group.element_arrays
        inv_idx = [r.group.element_index(inverse(g)) for g in E]
        np.testing.assert_allclose(characters(D), characters(r)[inv_idx], atol=1e-9)
    assert G.order == 6


# ----- restriction and induction ---------------------------------------------------------------
def test_restriction_matches_element_matrices():
    G = symmetric(4)
    rho = LinearRepresentation.from_permutation(natural(G)) + LinearRepresentation(
        G, [[[1]] if g.tolist() and _sign(g) > 0 else [[-1]] for g in G.generator_arrays],
        exact=True)
    H = alternating(4)
    H = from_generators(H.generator_arrays, 4)
    R = rho.restrict(H)
    assert R.group == H and R.structure[0] == "restrict"
    for h, M in zip(H.generator_arrays, R.generator_matrices()):
        np.testing.assert_array_equal(M, rho.matrix(h))
    assert revalidated(R).validation in ("exact", "float64")
    with pytest.raises(MismatchError, match="not a subgroup"):
        rotation_c4().restrict(from_generators([[1, 0, 2, 3]], 4))


def _sign(g: np.ndarray) -> int:
    from sympy.combinatorics import Permutation

    return -1 if Permutation(g.tolist()).is_odd else 1


def test_induction_from_trivial_subgroup_is_regular():
    G = dihedral(4)
    one = from_generators([], G.degree)
    triv = LinearRepresentation(one, [], exact=True, degree=1)
    ind = triv.induce(G)
    assert ind.degree == G.order and ind.structure[0] == "induce"
    reg = LinearRepresentation.from_permutation(regular(G))
    np.testing.assert_allclose(characters(ind), characters(reg))
    assert revalidated(ind).validation in ("exact", "float64")


def _induced_character(rho: LinearRepresentation, G) -> np.ndarray:
    """chi_Ind(g) = (1/|H|) sum_{x in G} chi(x^-1 g x), chi = 0 outside H (brute force)."""
    H = rho.group
    chi = characters(rho)
    hidx = {h.tobytes(): i for i, h in enumerate(H.element_arrays)}
    E = G.element_arrays
    out = []
    for g in E:
        total = 0.0
        for x in E:
            y = inverse(x)[g[x]]
            i = hidx.get(y.tobytes())
            if i is not None:
                total += chi[i]
        out.append(total / H.order)
    return np.array(out)


@pytest.mark.parametrize("make", ["c4-in-d4", "s3-in-s4", "c3-in-a4"])
def test_induction_character_formula_and_frobenius(make):
    if make == "c4-in-d4":
        G = dihedral(4)
        H = from_generators(G.generator_arrays[:1], G.degree)
        rho = LinearRepresentation(H, [ROT4], exact=True)
    elif make == "s3-in-s4":
        G = symmetric(4)
        H = from_generators([[1, 0, 2, 3], [1, 2, 0, 3]], 4)
        rho = LinearRepresentation(H, [[[-1]], [[1]]], exact=True)  # the sign of S3
    else:
        G = alternating(4)
        H = from_generators([[1, 2, 0, 3]], 4)
        rho = LinearRepresentation(H, [[[0, -1], [1, -1]]], exact=True)
    ind = rho.induce(G)
    assert ind.degree == G.order // H.order * rho.degree
    assert revalidated(ind).validation in ("exact", "float64")
    np.testing.assert_allclose(characters(ind), _induced_character(rho, G), atol=1e-9)
    # Frobenius reciprocity: dim Hom_G(Ind V, W) = dim Hom_H(V, Res W)
    W = LinearRepresentation.from_permutation(natural(G))
    assert (equivariant_basis(ind, W).dimension
            == equivariant_basis(rho, W.restrict(H)).dimension)


# ----- spec strings ------------------------------------------------------------------------------
def test_spec_round_trips():
    G = symmetric(3)
    H = from_generators([[1, 0, 2]], 3)
    rho = LinearRepresentation.from_permutation(natural(G))
    sign = LinearRepresentation(H, [[[-1]]], exact=True)
    fl = LinearRepresentation(cyclic(4), [np.array(ROT4, dtype=float) * 1.0])
    reps = [rho, rho + rho.dual(), rho * rho, rho.restrict(H), sign.induce(G),
            (sign.induce(G) + rho).restrict(H), fl, fl.dual() * fl, rotation_c4(),
            LinearRepresentation(cyclic(2), [[["1/2", "3/4"], [1, "-1/2"]]], exact=True)]
    for r in reps:
        back = parse_linear(r.spec)
        assert back == r and back.spec == r.spec and hash(back) == hash(r), r.spec
    assert rotation_c4().spec == "cyclic:4 @ mat(2; [[0,-1],[1,0]])"
    assert sign.induce(G).spec == "symmetric:3 @ induce(perm:3:(0 1) @ mat(1; [[-1]]))"
    assert (sign.induce(G) + rho).restrict(H).spec == (
        "perm:3:(0 1) @ restrict(symmetric:3 @ sum(induce(perm:3:(0 1) @ mat(1; [[-1]])), "
        "perm(natural)))")


@pytest.mark.parametrize("spec, error", [
    ("cyclic:4 mat(2; [[0,-1],[1,0]])", SpecError),
    ("cyclic:4 @ mat(2; [[0,-1],[1,0]]", SpecError),
    ("cyclic:4 @ mat(2; [[0,-1],[1]])", SpecError),
    ("cyclic:4 @ blob(natural)", SpecError),
    ("cyclic:3 @ mat(2; [[0,-1],[1,0]])", NotAHomomorphismError),
    ("cyclic:4 @ mat(x; [[0]])", SpecError),
    ("cyclic:4 @ restrict(cyclic:2 @ perm(natural))", MismatchError),
])
def test_bad_specs(spec, error):
    with pytest.raises(error):
        parse_linear(spec)


# ----- random groups ----------------------------------------------------------------------------
@given(finite_groups(max_degree=5, max_order=60), st.integers(0, 3))
def test_algebra_on_random_groups(G, which):
    nat = LinearRepresentation.from_permutation(natural(G))
    one = LinearRepresentation.from_permutation(trivial(G, 1))
    r = [nat + one, nat * nat, nat.dual(), (nat + one).tensor(one)][which]
    assert revalidated(r).validation in ("exact", "float64")
    assert parse_linear(r.spec) == r
    H = from_generators(G.generator_arrays[:1], G.degree)
    res = r.restrict(H)
    assert revalidated(res).validation in ("exact", "float64")
    if G.order // H.order <= 12:
        ind = LinearRepresentation.from_permutation(natural(H)).induce(G)
        assert revalidated(ind).validation in ("exact", "float64")
        assert ind.degree == G.order // H.order * G.degree


def test_equality_of_built_representations_is_structural():
    big = LinearRepresentation.from_permutation(natural(symmetric(40)))
    t1, t2 = big.tensor(big, big), big.tensor(big, big)  # degree 64,000
    assert t1 == t2 and hash(t1) == hash(t2) and "_float" not in t1.__dict__
    assert t1 != big.tensor(big) and t1 != big.dual().tensor(big, big)
    G = cyclic(4)
    given = LinearRepresentation(G, PermutationRepresentation(natural(G)).generator_matrices(),
                                 exact=True)
    built = LinearRepresentation.from_permutation(natural(G))
    assert np.array_equal(given.generator_matrices(), built.generator_matrices())
    assert given != built  # one is given by matrices, the other by its structure
