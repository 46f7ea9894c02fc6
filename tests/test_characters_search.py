"""Character tables from generators without listing the group (Dixon-Schneider over a
stabiliser chain): the same tables as the enumerating path on small groups, GAP's class
sizes / element orders / degrees / indicators on Mathieu and PSL groups, the class search
itself, refusals and negative controls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metasym.errors import TooLargeError
from metasym.groups import (
    alternating,
    cyclic,
    dihedral,
    direct_product,
    parse_group,
    quaternion,
    symmetric,
)
from metasym.groups.conjugacy_search import (
    ClassSearch,
    StabChain,
    cycle_counts,
    symmetric_centraliser_order,
)
from metasym.representations.characters import CharacterTable, character_table
from metasym.representations.testing import finite_groups
from metasym.representations.theorems import check_character_table

# GAP 4.12's MathieuGroup(11/12/22) and PSL(2,31) generators, points shifted to 0..n-1
M11 = "perm:11:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5)"
M12 = ("perm:12:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5);"
       "(0 11)(1 10)(2 5)(3 7)(4 8)(6 9)")
M22 = ("perm:22:(0 1 2 3 4 5 6 7 8 9 10)(11 12 13 14 15 16 17 18 19 20 21);"
       "(0 3 4 8 2)(1 7 9 6 5)(11 14 15 19 13)(12 18 20 17 16);"
       "(0 20)(1 9 7 5)(2 12 3 16)(4 18 8 17)(10 21)(11 13 15 19)")
PSL2_31 = ("perm:32:(2 30 28 26 24 22 20 18 16 14 12 10 8 6 4)"
           "(3 31 29 27 25 23 21 19 17 15 13 11 9 7 5);"
           "(0 1 17)(2 23 11)(3 29 4)(5 31 30)(6 9 21)(7 14 15)(8 10 18)(13 25 28)"
           "(16 24 26)(19 20 27)")

# GAP: SizesConjugacyClasses, OrdersClassRepresentatives, degrees, Indicator(T, 2)
GAP = {
    "M11": ([1, 1584, 165, 990, 990, 990, 720, 720, 440, 1320],
            [1, 5, 2, 4, 8, 8, 11, 11, 3, 6],
            [1, 10, 10, 10, 11, 16, 16, 44, 45, 55],
            [1, 1, 0, 0, 1, 0, 0, 1, 1, 1]),
    "M12": ([1, 8640, 8640, 396, 2640, 7920, 9504, 9504, 495, 2970, 11880, 1760, 15840,
             2970, 11880],
            [1, 11, 11, 2, 3, 6, 5, 10, 2, 4, 8, 3, 6, 4, 8],
            [1, 11, 11, 16, 16, 45, 54, 55, 55, 55, 66, 99, 120, 144, 176],
            [1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
    "M22": ([1, 40320, 40320, 63360, 63360, 1155, 27720, 13860, 55440, 88704, 12320, 36960],
            [1, 11, 11, 7, 7, 2, 4, 4, 8, 5, 3, 6],
            [1, 21, 45, 45, 55, 99, 154, 210, 231, 280, 280, 385],
            [1, 1, 0, 0, 1, 1, 1, 1, 1, 0, 0, 1]),
    "PSL2_31": ([1, 480, 480, 465, 930, 930, 930, 930, 930, 930, 930, 992, 992, 992, 992,
                 992, 992, 992],
                [1, 31, 31, 2, 16, 16, 8, 8, 16, 4, 16, 15, 15, 5, 15, 3, 5, 15],
                [1, 15, 15, 30, 30, 30, 30, 30, 30, 30, 31, 32, 32, 32, 32, 32, 32, 32],
                [1, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]),
}
SPECS = {"M11": M11, "M12": M12, "M22": M22, "PSL2_31": PSL2_31}


def assert_agrees_with_gap(T: CharacterTable, name: str) -> None:
    sizes, orders, degrees, indicators = GAP[name]
    assert T.order == sum(sizes)
    assert sorted(zip(T.class_sizes, (c.element_order for c in T.classes))) == sorted(
        zip(sizes, orders))
    # pairs (degree, indicator) as multisets: rows may come in another order
    assert sorted(zip(T.degrees, T.indicators)) == sorted(zip(degrees, indicators))
    results = check_character_table(T)
    assert all(r.status == "pass" for r in results), [r for r in results if not r.passed]


def same_table(A: CharacterTable, B: CharacterTable) -> None:
    """``A`` (search) equals ``B`` (enumeration): the same classes (matched through the
    enumerated classes of ``B``'s group), the same rows up to the order of columns."""
    G = B.group
    assert A.n_classes == B.n_classes and A.order == B.order
    where = {}
    for k, members in enumerate(G.conjugacy_class_indices):
        for x in members:
            where[x] = k
    col_of_B = {where[cl.index]: j for j, cl in enumerate(B.classes)}
    # column of B for each column of A
    match = [col_of_B[where[G.element_index(np.asarray(c.representative))]]
             for c in A.classes]
    assert sorted(match) == list(range(B.n_classes))  # a bijection of classes
    for a, j in zip(A.classes, match):
        assert (a.size, a.element_order) == (B.classes[j].size, B.classes[j].element_order)
    rows_B = {tuple(row[j] for j in match) for row in B.values}
    assert set(map(tuple, A.values)) == rows_B
    assert A.degrees == B.degrees  # both sorted by degree, ties by value
    assert sorted(zip(A.degrees, A.indicators)) == sorted(zip(B.degrees, B.indicators))
    assert A.values[0] == (A.values[0][0],) * A.n_classes  # trivial first
    # power maps agree through the matching
    for k, pm in enumerate(A.power_maps):
        assert [match[c] for c in pm] == list(B.power_maps[match[k]])


# ----- the same tables as the enumerating path ------------------------------------------------
@pytest.mark.parametrize("G", [cyclic(1), cyclic(7), dihedral(6), quaternion(), alternating(4),
                               alternating(5), symmetric(5),
                               direct_product(cyclic(2), symmetric(4)),
                               parse_group("abelian:2x2x4"), parse_group(M11)],
                         ids=lambda G: G.spec[:20])
def test_named_groups_same_as_enumeration(G):
    same_table(character_table(G, method="search"), character_table(G, method="enumerate"))


@settings(max_examples=25, deadline=None)
@given(finite_groups(max_degree=7, max_order=2520), st.integers(0, 3))
def test_random_groups_same_as_enumeration(G, seed):
    same_table(character_table(G, method="search", seed=seed),
               character_table(G, method="enumerate"))


def test_auto_keeps_enumeration_below_the_limit():
    T = character_table(parse_group(M11))
    assert T.method.startswith("Burnside-Dixon") and T.classes[1].index >= 0
    U = character_table(parse_group(M11), method="search")
    assert U.method.startswith("Dixon-Schneider") and U.classes[1].index == -1
    # class_character still reads a per-element character at the representatives
    chi = list(range(7920))
    G = parse_group(M11)
    assert U.class_character(chi) == [G.element_index(np.asarray(c.representative))
                                      for c in U.classes]


# ----- GAP's tables ------------------------------------------------------------------------------
def test_m11_and_psl2_31_agree_with_gap():
    for name in ("M11", "PSL2_31"):
        assert_agrees_with_gap(character_table(parse_group(SPECS[name]), method="search"), name)


def test_m12_agrees_with_gap_without_enumeration():
    G = parse_group(M12)
    T = character_table(G)  # order 95,040 > 20,000: the search path
    assert T.method.startswith("Dixon-Schneider")
    assert "element_arrays" not in G.__dict__  # the group was never listed
    assert_agrees_with_gap(T, "M12")
    # the two classes of elements of order 11 are complex conjugates: values b11
    elevens = [k for k, c in enumerate(T.classes) if c.element_order == 11]
    assert T.inverse_classes[elevens[0]] == elevens[1]


@pytest.mark.slow
def test_m22_agrees_with_gap():
    G = parse_group(M22)
    T = character_table(G)
    assert "element_arrays" not in G.__dict__
    assert_agrees_with_gap(T, "M22")


@pytest.mark.parametrize("seed", [1, 2])
def test_seeds_give_the_same_table(seed):
    G = parse_group(PSL2_31)
    A = character_table(G, method="search")
    B = character_table(G, method="search", seed=seed)
    key = lambda T: sorted((c.size, c.element_order) for c in T.classes)  # noqa: E731
    assert key(A) == key(B) and A.degrees == B.degrees and A.indicators == B.indicators
    # column multisets of values per (size, order) agree
    def profile(T):
        return sorted((c.size, c.element_order, sorted(str(row[k]) for row in T.values))
                      for k, c in enumerate(T.classes))
    assert profile(A) == profile(B)


# ----- the class search ----------------------------------------------------------------------------
def test_stabiliser_chain_ranks_random_and_membership():
    G = parse_group(M11)
    chain = StabChain(G)
    assert chain.order == 7920
    rng = np.random.default_rng(0)
    X = chain.random(500, rng)
    assert chain.contains(X).all()
    r = chain.rank_elements(X)
    assert ((0 <= r) & (r < 7920)).all()
    # ranks are a bijection: all 7920 listed elements get distinct ranks
    ranks = chain.rank_elements(G.element_arrays)
    assert np.unique(ranks).size == 7920
    # permutations outside M11 are rejected: a transposition is odd, M11 is even
    t = np.arange(11)
    t[[0, 1]] = [1, 0]
    assert not chain.contains(t[None, :])[0]
    assert chain.contains(G.element_arrays[:50]).all()


def test_cycle_counts_and_symmetric_centraliser():
    z = np.array([1, 2, 0, 4, 3, 5, 6])  # (0 1 2)(3 4), two fixed points
    c = cycle_counts(z[None, :])[0]
    assert c.tolist() == [0, 2, 2, 3, 0, 0, 0, 0]
    assert symmetric_centraliser_order(c) == 3 * 2 * 2  # 3^1 1! * 2^1 1! * 1^2 2!


def test_class_search_finds_galois_split_classes():
    cs = ClassSearch(parse_group(M11))
    found = cs.run()
    assert sum(c.size for c in found) == 7920 and len(found) == 10
    # 11A and 11B share a cycle type; identify() tells them apart exactly
    elevens = [k for k, c in enumerate(found) if c.order == 11]
    assert len(elevens) == 2
    z = found[elevens[0]].rep
    powers, cur = [], z
    for _ in range(1, 11):
        powers.append(cur)
        cur = z[cur]
    powers = np.array(powers)  # z^1, ..., z^10
    ids = cs.identify(powers)
    # z^u is in the class of z iff u is a square mod 11
    squares = {u * u % 11 for u in range(1, 11)}
    assert [i == elevens[0] for i in ids] == [u in squares for u in range(1, 11)]


# ----- refusals and negative controls -----------------------------------------------------------------
def test_refusals_are_one_line():
    with pytest.raises(TooLargeError, match="more than 200 conjugacy classes") as e:
        character_table(parse_group("abelian:3x3x5x5"), method="search")  # 225 classes
    assert "\n" not in str(e.value)
    with pytest.raises(TooLargeError, match="at most 1000 points"):
        character_table(parse_group("perm:1001:(0 1)"), method="search")
    with pytest.raises(TooLargeError, match="symmetric group of degree 16"):
        character_table(symmetric(16), method="search")


def test_corrupted_large_table_fails_its_checks(monkeypatch):
    from metasym.groups import FiniteGroup

    def refuse(self, what="", extra_degree=0):
        raise TooLargeError(f"{what}: not listed in this test")

    # as for a group too large to list: no check may enumerate it
    monkeypatch.setattr(FiniteGroup, "check_enumerable", refuse)
    T = character_table(parse_group(M12))
    values = [list(row) for row in T.values]
    values[3][1], values[3][2] = values[3][2], values[3][1]
    bad = {r.name for r in check_character_table(T.replace(values=values))
           if r.status == "fail"}
    assert {"characters:row-orthogonality", "characters:column-orthogonality"} <= bad
    ind = list(T.indicators)
    ind[1] = -ind[1] or -1
    bad = {r.name for r in check_character_table(T.replace(indicators=ind))
           if r.status == "fail"}
    assert {"characters:frobenius-schur", "characters:indicators"} <= bad
    # the Frobenius-Schur count at this size comes from the classes, not a listing
    fs = next(r for r in check_character_table(T) if r.name == "characters:frobenius-schur")
    assert fs.status == "pass" and fs.expected == 1 + 396 + 495 and "not listed" in fs.detail
    assert "element_arrays" not in T.group.__dict__


def test_classes_of_one_cycle_type_told_apart():
    """In the regular representation every involution has cycle type 2^4: the classes
    {r^2}, {s, sr^2} and {sr, sr^3} of D4 are found and told apart exactly."""
    from metasym.groups import FiniteGroup, regular

    for H in (dihedral(4), quaternion()):
        reg = regular(H)
        G = FiniteGroup(list(reg.generator_images), reg.degree)
        same_table(character_table(G, method="search"), character_table(G, method="enumerate"))


def test_walks_without_the_bitmap(monkeypatch):
    """Orders above BITMAP_LIMIT keep visited elements as sorted ranks: same tables."""
    from metasym.groups import conjugacy_search

    monkeypatch.setattr(conjugacy_search, "BITMAP_LIMIT", 0)
    G = parse_group(M11)
    same_table(character_table(G, method="search"), character_table(G, method="enumerate"))


def test_cli_large_group(capsys):
    import json

    from metasym.cli import main

    assert main(["characters", M12, "--check", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["order"] == 95040 and len(info["classes"]) == 15
    assert all(c["status"] == "pass" for c in info["checks"])
    assert "Dixon-Schneider" in info["method"]
    assert main(["characters", M12, "--method", "enumerate"]) == 2
    err = capsys.readouterr().err
    assert "order at most 20000" in err and err.count("\n") == 1


# digests of the enumerating path's tables (JSON without timings, plus power maps) as
# computed by main before the search method existed (commit 3dd21bc): unchanged
PINNED = {
    "symmetric:4": "2406393e0e5fe3bb",
    "alternating:5": "22fed8c82d51f180",
    M11: "b7ea83d0d58f43ba",
    "product(symmetric:5,dihedral:4)": "c01db8723981d209",
    "dihedral:6": "815c539a9939eafe",
    "quaternion": "6e6d634bd4bfeb5e",
    "product(cyclic:3,alternating:4)": "631f79e0ce5a1fd7",
    "perm:8:(0 1 2 3 4 5 6);(1 2 4)(3 6 5);(0 7)(1 6)(2 3)(4 5)": "74c1bb9b519bcc0f",
}


@pytest.mark.parametrize("spec", list(PINNED), ids=lambda s: s[:24])
def test_enumerating_path_is_unchanged(spec):
    import hashlib
    import json

    T = character_table(parse_group(spec))
    d = T.to_json()
    d.pop("seconds")
    d.pop("method")
    d["power_maps"] = [list(pm) for pm in T.power_maps]
    assert hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16] == \
        PINNED[spec]
