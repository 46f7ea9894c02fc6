"""The orbit method from generators (no group listing) against the enumerating orbit
method on random small groups, and on S12 acting on the pairs of 12 points."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from metasym.errors import TooLargeError
from metasym.groups import GroupAction, natural, rotoflips, symmetric
from metasym.representations import LinearRepresentation
from metasym.representations.orbit_generators import orbit_basis_from_generators
from metasym.representations.orbit_generators import orbit_structure as _orbit_structure
from metasym.representations.schur import ORBIT_CELLS, orbit_basis
from metasym.representations.sharing import pair_orbit_labels
from metasym.representations.testing import finite_groups, group_actions


def dense(U) -> np.ndarray:
    return U.toarray() if sp.issparse(U) else np.asarray(U, dtype=np.float64)


def generator_basis(rep_in, rep_out, exact):
    sin, sout = _orbit_structure(rep_in), _orbit_structure(rep_out)
    labels = pair_orbit_labels(sin[0].generator_images, sout[0].generator_images)
    return orbit_basis_from_generators(sin, sout, labels, exact)


def same_span(U1: np.ndarray, U2: np.ndarray) -> bool:
    r = np.linalg.matrix_rank
    return r(U1) == r(U2) == r(np.hstack([U1, U2])) == U1.shape[1] == U2.shape[1]


@given(st.data())
def test_permutation_representations_match_enumeration(data):
    G = data.draw(finite_groups(max_degree=6, max_order=120))
    a = data.draw(group_actions(G, max_degree=20))
    b = data.draw(group_actions(G, max_degree=20))
    U, k, _ = generator_basis(a, b, True)
    ref = orbit_basis(a, b)  # small group: the enumerating method
    assert k == ref.dimension
    assert same_span(dense(U), dense(ref.basis))


@given(st.data())
def test_perm_tensor_small_matches_enumeration(data):
    k = data.draw(st.integers(2, 4))
    G = rotoflips(k)
    vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
    sign = LinearRepresentation(G, [[[1]], [[-1]]], exact=True)
    small = data.draw(st.sampled_from([vec, sign]))
    perm = LinearRepresentation.from_permutation(natural(G))
    field = perm * small if data.draw(st.booleans()) else small * perm
    other = data.draw(st.sampled_from([natural(G), field, perm * vec]))
    exact = data.draw(st.booleans())
    for r_in, r_out in [(field, other), (other, field)]:
        U, dim, how = generator_basis(r_in, r_out, exact)
        ref = orbit_basis(r_in, r_out, exact=exact)
        assert dim == ref.dimension
        assert same_span(dense(U), dense(ref.basis)), how


def pairs_action(G):
    """The action of a permutation group on the 2-subsets of its points."""
    P = list(itertools.combinations(range(G.degree), 2))
    idx = {p: i for i, p in enumerate(P)}
    imgs = [[idx[tuple(sorted((int(g[a]), int(g[b]))))] for a, b in P]
            for g in G.generator_arrays]
    return GroupAction(G, imgs, degree=len(P))


def test_s12_on_pairs_without_listing():
    G = symmetric(12)  # 479,001,600 elements: never listed
    A = pairs_action(G)
    t0 = time.perf_counter()
    B = orbit_basis(A, A)
    assert B.dimension == 3  # equal, one common point, disjoint
    assert B.residual == 0.0 and "from generators" in B.method
    assert "character formula" in B.method  # cross-checked over the 77 classes of S12
    B2 = orbit_basis(natural(G), A)
    assert B2.dimension == 2
    assert time.perf_counter() - t0 < 20
    assert "_element_index" not in G.__dict__ and "element_arrays" not in G.__dict__


def test_s12_pairs_tensor_small_exact():
    G = symmetric(12)
    two = LinearRepresentation(G, [[[-1, 0], [0, 1]], [[-1, 0], [0, 1]]], exact=True,
                               validate=False)  # sign + trivial
    R = LinearRepresentation.from_permutation(pairs_action(G)) * two
    B = orbit_basis(R, R)
    # Hom(P (x) (sgn + 1), P (x) (sgn + 1)) = 2 End(P) + 2 Hom(P, P (x) sgn) = 2*3 + 0
    assert B.dimension == 6 and B.exact and B.residual == 0.0


def test_orbit_refusal_is_one_line_and_names_the_limit():
    G = symmetric(12)
    big = GroupAction(G, [np.r_[1:12, 0, 12:20_000], np.r_[1, 0, 2:20_000]], degree=20_000)
    t0 = time.perf_counter()
    with pytest.raises(TooLargeError, match=str(ORBIT_CELLS)) as info:
        orbit_basis(big, big)
    assert "\n" not in str(info.value) and time.perf_counter() - t0 < 5
