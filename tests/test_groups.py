"""Groups and actions: orders, conventions, homomorphisms, specs, limits, oracles."""

from __future__ import annotations

import math
import pickle

import networkx as nx
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sympy.combinatorics import Permutation, PermutationGroup
from sympy.combinatorics.named_groups import (
    AlternatingGroup,
    CyclicGroup,
    DihedralGroup,
    SymmetricGroup,
)

from metasym.errors import MismatchError, NotAHomomorphismError, SpecError, TooLargeError
from metasym.groups import (
    GroupAction,
    abelian,
    alternating,
    axisflips,
    cyclic,
    dihedral,
    direct_product,
    flips,
    from_generators,
    klein_four,
    natural,
    parse_action,
    parse_group,
    quaternion,
    regular,
    restrict,
    rotations,
    rotoflips,
    symmetric,
    tensor,
    translations,
    trivial,
    vflips,
)
from metasym.representations import PermutationRepresentation
from metasym.representations.testing import finite_groups, group_actions, group_and_actions


# ----- orders ------------------------------------------------------------------------------
@pytest.mark.parametrize("n", range(1, 9))
def test_named_family_orders(n):
    assert cyclic(n).order == n
    assert dihedral(n).order == 2 * n
    assert symmetric(n).order == math.factorial(n)
    assert alternating(n).order == max(1, math.factorial(n) // 2)
    assert translations(n, 3).order == 3 * n
    assert rotations(n).order == (4 if n > 1 else 1)
    assert rotoflips(n).order == (8 if n > 1 else 1)
    assert abelian(n, 2).order == 2 * n


def test_fixed_orders_and_products():
    assert klein_four().order == 4 and klein_four().is_abelian
    Q = quaternion()
    assert Q.order == 8 and not Q.is_abelian
    # Q8 has a unique element of order 2 and six of order 4
    assert Q.element_order_histogram() == {1: 1, 2: 1, 4: 6}
    assert direct_product(cyclic(2), dihedral(3)).order == 12
    assert parse_group("product(cyclic:2,dihedral:3,klein)").order == 48
    assert abelian(2, 2, 3).order == 12


@pytest.mark.parametrize("ours, theirs", [
    (cyclic(7), CyclicGroup(7)), (dihedral(5), DihedralGroup(5)),
    (symmetric(5), SymmetricGroup(5)), (alternating(6), AlternatingGroup(6)),
    (alternating(5), AlternatingGroup(5)), (dihedral(2), DihedralGroup(2)),
])
def test_named_families_match_sympy(ours, theirs):
    assert ours.order == theirs.order()
    assert ours.is_abelian == theirs.is_abelian
    assert {tuple(a) for a in ours.element_arrays} == {tuple(p.array_form) for p in theirs.generate()}


def test_orders_are_computed_not_just_declared():
    """Declared orders of named constructors agree with Schreier-Sims."""
    for G in [cyclic(6), dihedral(7), symmetric(6), alternating(7), klein_four(), quaternion(),
              abelian(2, 3, 4), translations(3, 4), rotations(3), rotoflips(4),
              direct_product(symmetric(3), cyclic(4))]:
        assert G.order == int(G.sympy_group.order()), G.spec


# ----- conventions ----------------------------------------------------------------------------
def test_product_is_function_composition():
    G = symmetric(4)
    g, h = Permutation([1, 2, 0, 3]), Permutation([0, 1, 3, 2])
    gh = G.product(g, h)
    assert all(gh(x) == g(h(x)) for x in range(4))  # apply h first
    assert G.product(g, G.inverse(g)) == G.identity
    assert gh == h * g  # sympy's p*q applies p first


def test_regular_is_left_multiplication():
    G = dihedral(4)
    reg = regular(G)
    E = G.element_arrays
    for s, img in zip(G.generator_arrays, reg.generator_images):
        for i, e in enumerate(E):
            assert np.array_equal(E[img[i]], s[e])  # s . g_i = s g_i


@given(group_and_actions(max_degree=5, max_order=60), st.data())
def test_action_is_homomorphism(gaa, data):
    G, a, _ = gaa
    rho = PermutationRepresentation(a)
    E = G.element_arrays
    i = data.draw(st.integers(0, G.order - 1))
    j = data.draw(st.integers(0, G.order - 1))
    g, h = E[i], E[j]
    gh = g[h]  # (gh)(x) = g(h(x))
    assert np.array_equal(rho.matrix(gh), rho.matrix(g) @ rho.matrix(h))
    assert np.array_equal(a.image(gh), a.image(g)[a.image(h)])
    # rho(g) e_x = e_{g.x}
    M = rho.matrix(g)
    assert all(M[a.image(g)[x], x] == 1 for x in range(a.degree))


@given(group_and_actions(max_degree=5, max_order=60))
def test_element_images_agree_with_sifting(gaa):
    G, a, b = gaa
    for act in (a, b):
        imgs = act.element_images()
        assert imgs.shape == (G.order, act.degree)
        assert np.array_equal(imgs[0], np.arange(act.degree))
        for g, img in zip(G.element_arrays, imgs):
            assert np.array_equal(act.image(g), img)


# ----- specs -----------------------------------------------------------------------------------
@given(finite_groups())
def test_group_spec_round_trip(G):
    H = parse_group(G.spec)
    assert H == G and hash(H) == hash(G) and H.order == G.order
    assert pickle.loads(pickle.dumps(G)) == G


@given(st.integers(1, 7).flatmap(
    lambda n: st.lists(st.permutations(list(range(n))), max_size=3).map(
        lambda gens, n=n: from_generators(gens, n))))
def test_random_perm_spec_round_trip(G):
    assert G.spec.startswith("perm:")
    assert parse_group(G.spec) == G


@given(finite_groups(max_order=60).flatmap(lambda G: group_actions(G)))
def test_action_spec_round_trip(a):
    b = parse_action(a.spec, a.group)
    assert b == a and hash(b) == hash(a)
    assert parse_action(a.spec, a.group.spec) == a
    assert pickle.loads(pickle.dumps(a)) == a


@pytest.mark.parametrize("spec, group", [
    ("natural", "cyclic:4"), ("regular", "dihedral:3"), ("trivial:3", "klein"),
    ("tensor(natural,natural)", "cyclic:3"), ("sum(natural,regular)", "cyclic:2"),
    ("sum(natural,tensor(natural,trivial:2))", "dihedral:4"),
    ("perm:4:(0 1)(2 3);(0 2)(1 3)", "klein"), ("perm:3:()", "cyclic:1"),
])
def test_action_spec_examples(spec, group):
    G = parse_group(group)
    a = parse_action(spec, G)
    assert parse_action(a.spec, G) == a


def test_tensor_and_sum_index_conventions():
    G = cyclic(3)
    A, B = natural(G), trivial(G, 2)
    t = tensor(A, B)
    s = A.generator_images[0]
    for a in range(3):
        for b in range(2):
            assert t.generator_images[0][a * 2 + b] == s[a] * 2 + b
    d = A + B
    assert d.degree == 5 and list(d.generator_images[0][3:]) == [3, 4]


@pytest.mark.parametrize("spec", [
    "", "cyclic", "cyclic:", "cyclic:x", "cyclic:0", "cyclic:4:5", "dihedral:2x3", "klein:2",
    "foo:3", "product(cyclic:2)", "product(cyclic:2,", "perm:3:(0 1", "perm:3:(0 3)",
    "perm:3:(0 1)(1 2)", "perm:3:", "perm:0:()", "translations:4", "abelian:",
    "cyclic:99999999", "symmetric:4 junk", "rotations:2x2", 42,
])
def test_bad_group_specs(spec):
    with pytest.raises(SpecError):
        parse_group(spec)


@pytest.mark.parametrize("spec", [
    "", "naturel", "trivial", "trivial:0", "tensor(natural)", "sum(natural", "perm:3:(0 1 2)",
    "perm:4:(0 1);(2 3);(0 2)", "natural,natural", "regular extra",
])
def test_bad_action_specs(spec):
    with pytest.raises((SpecError, MismatchError)):
        parse_action(spec, klein_four())


def test_non_homomorphisms_rejected():
    with pytest.raises(NotAHomomorphismError):
        GroupAction(cyclic(3), [[1, 0]])  # s^3 = 1 but a transposition cubed is itself
    with pytest.raises(NotAHomomorphismError):
        parse_action("perm:3:(0 1 2);(0 1 2)", dihedral(3))  # f s f = s^-1 broken
    with pytest.raises(NotAHomomorphismError):
        GroupAction(klein_four(), [[1, 0, 2], [1, 2, 0]])  # image not of order 2
    with pytest.raises(MismatchError):
        GroupAction(klein_four(), [[1, 0]])  # one image for two generators
    # a genuine non-faithful action is accepted (sign of S_4)
    sign = GroupAction(symmetric(4), [[1, 0], [1, 0]])
    assert sign.degree == 2


# ----- enumeration limits -----------------------------------------------------------------------
def test_enumeration_refusals():
    big = symmetric(9)  # 362880 elements
    assert big.order == 362880
    with pytest.raises(TooLargeError):
        big.element_arrays  # noqa: B018
    with pytest.raises(TooLargeError):
        regular(big)
    with pytest.raises(TooLargeError):
        natural(big).element_images()
    with pytest.raises(TooLargeError):
        symmetric(8).conjugacy_class_indices  # noqa: B018  (40320 > 20000)
    # generator-based work still succeeds
    assert natural(big).n_orbits == 1
    assert natural(big).image([1, 0] + list(range(2, 9))).tolist()[:2] == [1, 0]


def test_trivial_group_actions():
    G = cyclic(1)
    a = tensor(natural(G), trivial(G, 2))  # regression: reshape failed without generators
    assert a.degree == 2 and a.generator_images.shape == (0, 2)
    assert regular(G).degree == 1
    assert (natural(G) + trivial(G, 3)).degree == 4


# ----- oracles against sympy --------------------------------------------------------------------
@given(finite_groups(max_order=200))
def test_element_arrays_match_sympy_generate(G):
    ours = {tuple(a) for a in G.element_arrays}
    gens = [Permutation(list(g)) for g in G.generator_arrays] or [Permutation(G.degree - 1)]
    theirs = {tuple(Permutation(p.array_form, size=G.degree).array_form)
              for p in PermutationGroup(gens).generate()}
    assert ours == theirs
    assert len(ours) == G.order == len(G.element_arrays)
    assert np.array_equal(G.element_arrays[0], np.arange(G.degree))
    # breadth-first: every element after the identity is s g for an earlier element g
    E = G.element_arrays
    position = {e.tobytes(): i for i, e in enumerate(E)}
    for j in range(1, G.order):
        parents = [position[inv_s[E[j]].tobytes()] for inv_s in map(_inverse, G.generator_arrays)]
        assert min(parents) < j


def _inverse(p):
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size)
    return inv


@given(finite_groups(max_order=120))
def test_conjugacy_classes_match_sympy(G):
    ours = {frozenset(tuple(G.element_arrays[i]) for i in c) for c in G.conjugacy_class_indices}
    theirs = {frozenset(tuple(Permutation(p.array_form, size=G.degree).array_form) for p in c)
              for c in G.sympy_group.conjugacy_classes()}
    assert ours == theirs
    assert G.conjugacy_class_indices[0] == (0,)
    assert G.is_abelian == G.sympy_group.is_abelian


@given(finite_groups(max_order=60))
def test_cayley_graph(G):
    graph = G.cayley_graph()
    assert isinstance(graph, nx.DiGraph)
    assert graph.number_of_nodes() == G.order
    assert graph.number_of_edges() <= G.order * G.n_generators
    if G.n_generators:
        assert nx.is_strongly_connected(graph)
    for i, j, data in graph.edges(data=True):
        for gi in map(int, data["generator"].split(",")):
            s = G.generator_arrays[gi]
            assert np.array_equal(G.element_arrays[i][s], G.element_arrays[j])  # g s


def test_restrict():
    G = dihedral(4)
    H = from_generators([G.generator_arrays[0]], G.degree)  # the rotations
    assert restrict(natural(G), H) == natural(H)
    r = restrict(regular(G), H)
    assert r.group == H and r.degree == 8 and r.n_orbits == 2
    with pytest.raises(MismatchError):
        restrict(natural(G), symmetric(4))


@pytest.mark.parametrize("k, offset, degree", [(8, 0, 11), (9, 3, 14), (10, 5, 20)])
def test_order_of_sym_or_alt_on_a_subset_matches_schreier_sims(k, offset, degree):
    """The shortcut for groups that are Sym/Alt on the points they move agrees with
    sympy's Schreier-Sims, for both parities of the generators."""
    from metasym.groups import from_generators

    cycle = list(range(degree))
    for i in range(k):
        cycle[offset + i] = offset + (i + 1) % k
    swap = list(range(degree))
    swap[offset], swap[offset + 1] = offset + 1, offset
    three = list(range(degree))
    three[offset], three[offset + 1], three[offset + 2] = offset + 1, offset + 2, offset
    for gens in ([cycle, swap], [cycle, three]):
        G = from_generators(gens, degree)
        assert G.order == int(G.sympy_group.order())


# ----- flips(k): C2 on a pixel grid ---------------------------------------------------------
@pytest.mark.parametrize("k", range(1, 7))
def test_flips_order_degree_and_spec_round_trip(k):
    G = flips(k)
    assert G.order == (2 if k > 1 else 1) == int(G.sympy_group.order())
    assert G.degree == k * k and G.n_generators == (1 if k > 1 else 0)
    assert G.spec == f"flips:{k}"
    H = parse_group(G.spec)
    assert H == G and H.spec == G.spec and H.order == G.order


def test_flips_spec_parses_and_guards():
    assert parse_group("flips:3") == flips(3)
    assert parse_group(" FLIPS : 4 ") == flips(4)
    with pytest.raises(SpecError, match="flips takes one integer"):
        parse_group("flips:3x3")
    with pytest.raises(SpecError, match="exceeds the limit"):
        parse_group("flips:2000")  # k^2 = 4 000 000 points, not k: refused before building
    with pytest.raises(SpecError):
        parse_group("flips:0")


@pytest.mark.parametrize("k", [2, 3, 4, 5])
def test_flips_matrix_is_fliplr(k):
    """rho(g) vec(A) == vec(fliplr(A)) (row-major vec), on a random array."""
    G = flips(k)
    (R,) = PermutationRepresentation(natural(G)).generator_matrices()
    A = np.random.default_rng(k).standard_normal((k, k))
    np.testing.assert_array_equal(R @ A.ravel(), np.fliplr(A).ravel())
    # explicitly: pixel (r, c) goes to (r, k-1-c), and the flip is an involution
    r, c = np.divmod(np.arange(k * k), k)
    assert np.array_equal(G.generator_arrays[0], r * k + (k - 1 - c))
    assert np.array_equal(R @ R, np.eye(k * k, dtype=R.dtype))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_vflips_and_axisflips_are_the_grid_flips(k):
    """vflips: rho(g) vec(A) == vec(flipud(A)); axisflips: the Klein group of both flips,
    containing the half turn and no quarter turn; specs round-trip; orders from sympy."""
    V, K, D = vflips(k), axisflips(k), rotoflips(k)
    assert V.order == (2 if k > 1 else 1) == int(V.sympy_group.order())
    assert K.order == (4 if k > 1 else 1) == int(K.sympy_group.order())
    for G in (V, K):
        assert parse_group(G.spec) == G and G.degree == k * k
        assert G.is_subgroup_of(D)
    A = np.random.default_rng(k).standard_normal((k, k))
    if k > 1:
        (R,) = PermutationRepresentation(natural(V)).generator_matrices()
        np.testing.assert_array_equal(R @ A.ravel(), np.flipud(A).ravel())
        lr, ud = PermutationRepresentation(natural(K)).generator_matrices()
        np.testing.assert_array_equal(lr @ A.ravel(), np.fliplr(A).ravel())
        np.testing.assert_array_equal(lr @ ud @ A.ravel(), np.rot90(A, 2).ravel())
        assert flips(k).is_subgroup_of(K) and V.is_subgroup_of(K)
        assert not rotations(k).is_subgroup_of(K)  # no quarter turn
    with pytest.raises(SpecError, match="exceeds the limit"):
        parse_group("axisflips:2000")


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_flips_is_a_subgroup_of_rotoflips(k):
    G, D = flips(k), rotoflips(k)
    assert all(D.contains(g) for g in G.generator_arrays)
    assert G.is_subgroup_of(D)
    # and the flip is exactly rotoflips' second generator (not a rotation)
    if k > 1:
        assert np.array_equal(G.generator_arrays[0], D.generator_arrays[1])
        assert not rotations(k).contains(G.generator_arrays[0])


def test_flips_conv_pattern_dimensions():
    from metasym.representations.steerable import (
        group_conv_pattern,
        kernel_group,
        lifting_conv_pattern,
    )

    G = flips(3)
    assert kernel_group("flip", 3) == G
    L = lifting_conv_pattern(G)
    assert L.shape == (2, 9) and L.dimension == 9
    P = group_conv_pattern(G)
    assert P.shape == (2, 2 * 9) and P.dimension == 18 == G.order * 9
    # brute force: the lifting pattern ties W[0, p] to W[1, fliplr(p)] and nothing else
    lab = L.labels.reshape(2, 3, 3)
    np.testing.assert_array_equal(lab[1], np.fliplr(lab[0]))
    assert len(np.unique(lab[0])) == 9
    with pytest.raises(SpecError, match="'flips'.*use flip, vflip, klein, c4, d4"):
        kernel_group("flips", 3)
