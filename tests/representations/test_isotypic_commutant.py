"""Isotypic projectors of groups too large to sum over, from the commutant (no listing),
against the enumerating path on small groups, and at size (S_12 on pairs)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metasym.groups import (
    alternating,
    cyclic,
    dihedral,
    natural,
    rotoflips,
    symmetric,
    tensor,
)
from metasym.representations import LinearRepresentation, isotypic_decomposition
from metasym.representations.characters import character_table
from metasym.representations.schur import _isotypic_from_commutant, as_linear
from metasym.representations.testing import group_and_actions


def assert_same_decomposition(D1, D2) -> None:
    assert D1.multiplicities == D2.multiplicities
    assert [c.characters for c in D1.components] == [c.characters for c in D2.components]
    for a, b in zip(D1.components, D2.components):
        assert (a.kind, a.multiplicity, a.dimension) == (b.kind, b.multiplicity, b.dimension)
        assert np.abs(a.projector - b.projector).max() < 1e-8


def _field(G):
    vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
    return LinearRepresentation.from_permutation(natural(G)) * vec


@pytest.mark.parametrize("make", [
    lambda: natural(symmetric(4)), lambda: tensor(natural(symmetric(4)), natural(symmetric(4))),
    lambda: tensor(natural(alternating(5)), natural(alternating(5))),
    lambda: natural(dihedral(5)), lambda: tensor(natural(cyclic(6)), natural(cyclic(6))),
    lambda: _field(rotoflips(3)),  # real, complex-free vector fields: a linear case
    lambda: LinearRepresentation(cyclic(4), [[[0, -1], [1, 0]]], exact=True),  # complex type
], ids=["S4", "S4 pairs", "A5 pairs", "D5", "C6 pairs", "D4 field", "C4 rotation"])
def test_commutant_path_matches_enumeration(make):
    rep = make()
    D1 = isotypic_decomposition(rep)  # small: summed over the elements
    D2 = _isotypic_from_commutant(as_linear(rep), D1.table, rep)
    assert_same_decomposition(D1, D2)


@settings(max_examples=15)
@given(group_and_actions(max_degree=6, max_order=120, max_action_degree=24), st.booleans())
def test_commutant_path_matches_enumeration_on_random_groups(gab, first):
    _, a, b = gab
    rep = a if first else b
    D1 = isotypic_decomposition(rep)
    D2 = _isotypic_from_commutant(as_linear(rep), D1.table, rep)
    assert_same_decomposition(D1, D2)


@pytest.mark.parametrize("n", [9, 12])
def test_symmetric_group_on_pairs_without_listing(n):
    """S_n on ordered pairs: 2 trivial + 3 standard + (n-2,2) + (n-2,1,1), projectors
    idempotent, equivariant and summing to the identity (checked inside)."""
    G = symmetric(n)
    rep = tensor(natural(G), natural(G))
    D = isotypic_decomposition(rep)
    assert D.table.method.startswith("symmetric group")  # the group was never listed
    dims = sorted(c.dimension for c in D.components)
    assert dims == sorted([2, 3 * (n - 1), n * (n - 3) // 2, (n - 1) * (n - 2) // 2])
    assert [c.multiplicity for c in D.components] == [2, 3, 1, 1]
    assert D.multiplicities == tuple(character_table(G).multiplicities(rep))
    total = sum(c.projector for c in D.components)
    assert np.abs(total - np.eye(n * n)).max() < 1e-8
    assert D.residual < 1e-8
