"""Character tables: exact values against hand-written tables, theorems on random groups,
negative controls (corrupted tables fail), the ``metasym characters`` command."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasym.cli import main
from metasym.errors import MetasymError, SpecError, TooLargeError
from metasym.groups import (
    alternating,
    cyclic,
    dihedral,
    direct_product,
    natural,
    parse_group,
    quaternion,
    regular,
    symmetric,
    trivial,
)
from metasym.representations import LinearRepresentation, PermutationRepresentation
from metasym.representations.characters import CharacterTable, character_table
from metasym.representations.cyclotomic import Cyclotomic, cyclotomic_polynomial
from metasym.representations.testing import finite_groups
from metasym.representations.theorems import check_character_table, check_hom_dimension

M11 = "perm:11:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5)"


def E(n: int, k: int = 1) -> Cyclotomic:
    """zeta_n^k, written independently of the library's tables."""
    m = [0] * n
    m[k % n] = 1
    return Cyclotomic.from_roots(n, m)


def R(x: int) -> Cyclotomic:
    return Cyclotomic.integer(x)


# ----- cyclotomic numbers --------------------------------------------------------------------
def test_cyclotomic_polynomials():
    assert cyclotomic_polynomial(1).tolist() == [-1, 1]
    assert cyclotomic_polynomial(6).tolist() == [1, -1, 1]
    assert cyclotomic_polynomial(12).tolist() == [1, 0, -1, 0, 1]
    assert cyclotomic_polynomial(15).size == 9


@given(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12, 15, 20, 24, 30]),
       st.lists(st.integers(-3, 3), min_size=1, max_size=30),
       st.lists(st.integers(-3, 3), min_size=1, max_size=30))
def test_cyclotomic_arithmetic_matches_complex(n, a, b):
    x, y = Cyclotomic.from_roots(n, a), Cyclotomic.from_roots(n, b)
    z = np.exp(2j * np.pi / n)
    cx = sum(c * z**k for k, c in enumerate(a))
    cy = sum(c * z**k for k, c in enumerate(b))
    assert abs(complex(x) - cx) < 1e-9
    assert abs(complex(x * y) - cx * cy) < 1e-8
    assert abs(complex(x + y) - (cx + cy)) < 1e-9
    assert abs(complex(x.conjugate()) - np.conj(cx)) < 1e-9
    # the conductor is minimal: the value lies in no smaller field (checked by Galois action)
    assert (x == y) == (abs(cx - cy) < 1e-9)
    # the string evaluates to the value
    expr = str(x).replace(f"E({x.conductor})", "Z").replace("^", "**")
    assert abs(eval(expr, {"Z": np.exp(2j * np.pi / x.conductor)}) - cx) < 1e-9


def test_cyclotomic_canonical():
    assert E(6) == -E(3, 2) and E(6).conductor == 3
    assert E(4, 2) == -1 and (E(3) + E(3, 2)) == R(-1)
    assert E(8) + E(8, 7) == E(8, 1) - E(8, 3)  # sqrt 2 two ways
    assert (E(8) + E(8, 7)).conductor == 8
    assert E(5) + E(5, 4) == -1 - E(5, 2) - E(5, 3)
    assert str(E(7, 6)) == "E(7)^6" and str(E(3) * 2 - 1) == "-1+2*E(3)"
    assert str(E(3) - E(3, 2)) == "E(3)-E(3)^2"
    assert hash(E(12, 4)) == hash(E(3))
    assert str(E(20, 4)) == "E(5)" and E(20, 5) == E(4)


# ----- known tables --------------------------------------------------------------------------
def assert_table(T: CharacterTable, columns: list[tuple[int, int]], rows: list[list]) -> None:
    """``T`` equals the hand-written table up to the order of rows and of columns with
    the same (element order, class size)."""
    got_cols = [(c.element_order, c.size) for c in T.classes]
    assert sorted(got_cols) == sorted(columns)
    rows = [[v if isinstance(v, Cyclotomic) else R(v) for v in row] for row in rows]
    want = sorted(map(tuple, rows), key=str)
    for perm in itertools.permutations(range(len(columns))):
        if any(columns[p] != got_cols[j] for j, p in enumerate(perm)):
            continue
        # column j of T corresponds to column perm[j] of the known table
        mapped = sorted((tuple(row[p] for p in perm) for row in rows), key=str)
        if sorted(map(tuple, T.values), key=str) == mapped:
            return
    raise AssertionError(f"table differs from the known one:\n{T.format()}\nknown {want}")


def test_s3():
    T = character_table(symmetric(3))
    assert_table(T, [(1, 1), (2, 3), (3, 2)], [[1, 1, 1], [1, -1, 1], [2, 0, -1]])
    assert T.degrees == (1, 1, 2) and T.indicators == (1, 1, 1)


def test_d4_and_q8_share_a_table_not_indicators():
    known = [[1, 1, 1, 1, 1], [1, 1, 1, -1, -1], [1, 1, -1, 1, -1], [1, 1, -1, -1, 1],
             [2, -2, 0, 0, 0]]
    D = character_table(dihedral(4))
    assert_table(D, [(1, 1), (2, 1), (4, 2), (2, 2), (2, 2)], known)
    assert D.indicators == (1, 1, 1, 1, 1)
    Q = character_table(quaternion())
    assert_table(Q, [(1, 1), (2, 1), (4, 2), (4, 2), (4, 2)], known)
    assert Q.indicators == (1, 1, 1, 1, -1)  # the 2-dim rep of Q8 is quaternionic


def test_a4_complex_values():
    w, w2 = E(3), E(3, 2)
    T = character_table(alternating(4))
    assert_table(T, [(1, 1), (2, 3), (3, 4), (3, 4)],
                 [[1, 1, 1, 1], [1, 1, w, w2], [1, 1, w2, w], [3, -1, 0, 0]])
    assert sorted(T.indicators) == [0, 0, 1, 1]
    assert T.indicators[0] == 1 and T.degrees == (1, 1, 1, 3)


def test_a5_golden_ratio():
    phi = -E(5, 2) - E(5, 3)          # (1 + sqrt 5) / 2
    psi = -E(5) - E(5, 4)             # (1 - sqrt 5) / 2
    assert abs(complex(phi) - (1 + 5 ** 0.5) / 2) < 1e-12
    T = character_table(alternating(5))
    assert_table(T, [(1, 1), (2, 15), (3, 20), (5, 12), (5, 12)],
                 [[1, 1, 1, 1, 1], [3, -1, 0, phi, psi], [3, -1, 0, psi, phi],
                  [4, 0, 1, -1, -1], [5, 1, -1, 0, 0]])
    assert T.degrees == (1, 3, 3, 4, 5) and T.indicators == (1,) * 5


def test_s4():
    T = character_table(symmetric(4))
    assert_table(T, [(1, 1), (2, 6), (2, 3), (3, 8), (4, 6)],
                 [[1, 1, 1, 1, 1], [1, -1, 1, 1, -1], [2, 0, 2, -1, 0],
                  [3, 1, -1, 0, -1], [3, -1, -1, 0, 1]])


@pytest.mark.parametrize("n", [1, 2, 5, 6, 12])
def test_cyclic(n):
    T = character_table(cyclic(n))
    # the class of g^b (g = (0 1 ... n-1)) has representative sending 0 to b
    b = [c.representative[0] for c in T.classes] if n > 1 else [0]
    rows = {tuple(E(n, a * bb) for bb in b) for a in range(n)}
    assert set(T.values) == rows
    assert T.values[0] == (R(1),) * n
    real = sum(1 for v in T.indicators if v == 1)
    assert real == (2 if n % 2 == 0 else 1) and -1 not in T.indicators


def test_product_is_tensor_of_tables():
    A, B = character_table(cyclic(2)), character_table(symmetric(3))
    T = character_table(direct_product(cyclic(2), symmetric(3)))
    assert T.n_classes == 6 and sorted(T.degrees) == [1, 1, 1, 1, 2, 2]
    known = [[a * b for a in ra for b in rb] for ra in [[1, 1], [1, -1]]
             for rb in [[1, 1, 1], [1, -1, 1], [2, 0, -1]]]
    # C2 classes (order 1, 2) x S3 classes (1, 2, 3 with sizes 1, 3, 2)
    cols = [(math.lcm(oa, ob), sb) for oa in (1, 2) for ob, sb in ((1, 1), (2, 3), (3, 2))]
    assert_table(T, cols, known)
    assert A.n_classes * B.n_classes == T.n_classes


def test_m11_from_generators_only():
    T = character_table(parse_group(M11))
    assert T.order == 7920 and T.n_classes == 10
    assert T.degrees == (1, 10, 10, 10, 11, 16, 16, 44, 45, 55)
    assert sorted(c.element_order for c in T.classes) == [1, 2, 3, 4, 5, 6, 8, 8, 11, 11]
    # the two 16-dim characters take the values (-1 +- sqrt(-11))/2 on elements of order 11
    s = E(11) + E(11, 3) + E(11, 4) + E(11, 5) + E(11, 9)
    elevens = [k for k, c in enumerate(T.classes) if c.element_order == 11]
    values = {T.values[i][k] for i in (5, 6) for k in elevens}
    assert values == {s, -1 - s}
    assert sorted(T.indicators) == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert all(r.passed for r in check_character_table(T))


def test_rows_and_columns_order():
    T = character_table(symmetric(4))
    assert T.classes[0].element_order == 1 and T.classes[0].size == 1
    assert all(v == 1 for v in T.values[0])
    assert list(T.degrees) == sorted(T.degrees)


def test_limits_refuse_clearly():
    with pytest.raises(TooLargeError, match="order at most"):
        character_table(symmetric(9), method="enumerate")
    big = parse_group("abelian:" + "x".join(["2"] * 15))  # order 32768, as many classes
    with pytest.raises(TooLargeError, match="classes"):
        character_table(big)
    with pytest.raises(TooLargeError, match="1100 for the symmetric-group method"):
        character_table(symmetric(30))  # 5604 classes
    with pytest.raises(TooLargeError, match="conjugacy classes"):
        character_table(cyclic(500))
    with pytest.raises(TooLargeError, match="200 conjugacy classes"):
        character_table(symmetric(30), method="search")
    with pytest.raises(MetasymError, match="not recognised as a symmetric"):
        character_table(cyclic(3), method="structured")
    with pytest.raises(MetasymError, match="unknown character table method"):
        character_table(cyclic(3), method="gap")


# ----- theorems on random groups -------------------------------------------------------------
@given(finite_groups(max_degree=6, max_order=720))
def test_random_groups_satisfy_the_theorems(G):
    T = character_table(G)
    assert T.n_classes == len(G.conjugacy_class_indices)
    results = check_character_table(T)
    assert all(r.status == "pass" for r in results), [r for r in results if not r.passed]
    # an independent float check of both orthogonality relations
    X = T.complex_values()
    D = np.diag(T.class_sizes).astype(float)
    np.testing.assert_allclose(X @ D @ X.conj().T, G.order * np.eye(T.n_classes), atol=1e-6)
    np.testing.assert_allclose(X.conj().T @ X, np.diag(G.order / np.array(T.class_sizes)),
                               atol=1e-6)
    # Frobenius-Schur by brute force over the elements, in floats
    E_arr = G.element_arrays
    # each element's column: the column whose representative lies in its class (tables
    # built by structure order their columns by cycle type, not like the group's classes)
    rep_at = {G.element_index(c.representative): k for k, c in enumerate(T.classes)}
    cls = np.full(G.order, -1, dtype=np.int64)
    for members in G.conjugacy_class_indices:
        (k,) = [rep_at[x] for x in members if x in rep_at]
        cls[list(members)] = k
    assert [int((cls == k).sum()) for k in range(T.n_classes)] == list(T.class_sizes)
    from metasym.representations.characters import ElementLookup

    sq = ElementLookup(G).find(np.take_along_axis(E_arr, E_arr, axis=1))
    nu = X[:, cls[sq]].sum(axis=1) / G.order
    np.testing.assert_allclose(nu, T.indicators, atol=1e-6)
    # the natural permutation character decomposes with non-negative multiplicities
    chi = PermutationRepresentation(natural(G)).character()
    m = T.decompose(T.class_character(chi))
    assert sum(a * d for a, d in zip(m, T.degrees)) == G.degree
    assert m[0] == natural(G).n_orbits  # <chi, 1> = number of orbits (Burnside)


# ----- negative controls -----------------------------------------------------------------------
def _failing(T: CharacterTable) -> set[str]:
    return {r.name for r in check_character_table(T) if r.status == "fail"}


def test_corrupted_tables_fail():
    T = character_table(alternating(5))
    assert not _failing(T)
    values = [list(row) for row in T.values]
    values[3][1], values[3][2] = values[3][2], values[3][1]  # swap two values in a row
    assert {"characters:row-orthogonality",
            "characters:column-orthogonality"} <= _failing(T.replace(values=values))
    values = [list(row) for row in T.values]
    values[1][3], values[1][4] = values[1][4], values[1][3]  # swap the golden values
    assert "characters:row-orthogonality" in _failing(T.replace(values=values))
    degrees = list(T.degrees)
    degrees[2] = 2  # a wrong degree
    bad = _failing(T.replace(degrees=degrees))
    assert {"characters:degrees", "characters:sum-of-squares"} <= bad
    degrees[2] = 7  # wrong and not a divisor of 60
    assert "characters:degrees-divide" in _failing(T.replace(degrees=degrees))
    assert {"characters:frobenius-schur", "characters:indicators"} <= _failing(
        T.replace(indicators=(1, 1, 1, 1, -1)))
    assert "characters:count" in _failing(T.replace(values=T.values[:-1],
                                                    degrees=T.degrees[:-1],
                                                    indicators=T.indicators[:-1]))
    Q = character_table(quaternion())
    assert "characters:frobenius-schur" in _failing(Q.replace(indicators=(1,) * 5))
    # the Hom dimension read through a corrupted table's multiplicities fails too
    G = alternating(5)
    good = check_hom_dimension(natural(G), natural(G), T)
    assert [r.status for r in good] == ["pass", "pass"]
    values = [list(row) for row in T.values]
    values[3][0], values[4][0] = values[4][0], values[3][0]  # degrees 4 and 5 swapped
    bad = check_hom_dimension(natural(G), natural(G), T.replace(values=values))
    assert bad[0].status == "pass" and bad[1].status == "fail"


# ----- Hom dimension ------------------------------------------------------------------------------
def test_hom_dimension_linear_and_permutation():
    G = cyclic(4)
    rot = LinearRepresentation(G, [[[0, -1], [1, 0]]], exact=True)
    for a, b in [(rot, rot), (rot, natural(G)), (natural(G), regular(G)), (trivial(G, 2), rot)]:
        res = check_hom_dimension(a, b)
        assert all(r.status == "pass" for r in res), res
    res = check_hom_dimension(rot, natural(G))
    assert res[0].found == 2  # the rotation plane occurs once in the natural rep (dim End = 2)
    D = dihedral(5)
    for a, b in [(natural(D), regular(D)), (natural(D), natural(D))]:
        assert all(r.passed for r in check_hom_dimension(a, b))
    # float representations with irrational characters (2 cos 72 degrees)
    C5 = cyclic(5)
    c, s = np.cos(2 * np.pi / 5), np.sin(2 * np.pi / 5)
    rot = LinearRepresentation(C5, [[[c, -s], [s, c]]])
    rot2 = LinearRepresentation(C5, [[[c, s], [-s, c]]])  # the same plane, other way round
    for a, b, dim in [(rot, rot, 2), (rot, rot2, 2), (rot, natural(C5), 2),
                      (rot, trivial(C5, 1), 0)]:
        res = check_hom_dimension(a, b)
        assert [r.status for r in res] == ["pass", "pass"], res
        assert res[0].found == dim


# ----- command line ------------------------------------------------------------------------------
def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json(capsys):
    code, out, _ = run(capsys, "characters", "alternating:5", "--json")
    info = json.loads(out)
    assert code == 0
    for key in ("group", "order", "classes", "degrees", "indicators", "table", "seconds"):
        assert key in info
    assert info["order"] == 60 and info["degrees"] == [1, 3, 3, 4, 5]
    assert info["classes"][0] == {"size": 1, "representative": "()", "element_order": 1}
    assert "-E(5)^2-E(5)^3" in {v for row in info["table"] for v in row}


def test_cli_text_and_check(capsys):
    code, out, _ = run(capsys, "characters", M11, "--check")
    assert code == 0 and "order 7920" in out and "X.10" in out
    assert out.rstrip().endswith("8 passed, 0 failed") and " fail\n" not in out


@pytest.mark.parametrize("argv, pattern", [
    (["characters", "abelian:" + "x".join(["2"] * 15)], "classes"),
    (["characters", "symmetric:30"], "5604 conjugacy classes"),
    (["characters", "symmetric:30", "--method", "search"], "200 conjugacy classes"),
    (["characters", "cyclic:x"], "bad group spec"),
    (["characters", "perm:3:(0 1)(1 2)"], "disjoint"),
])
def test_cli_errors_are_one_line(capsys, argv, pattern):
    code, out, err = run(capsys, *argv)
    assert code == 2 and re.search(pattern, err) and err.count("\n") == 1


def test_parser_does_not_import_sympy():
    code = ("import sys; from metasym.cli import build_parser; build_parser(); "
            "print('sympy' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.split() == ["False", "False"]


def test_errors_are_metasym_errors():
    with pytest.raises(SpecError):
        parse_group("perm:3:(0 1 5)")
    T = character_table(symmetric(3))
    with pytest.raises(MetasymError, match="not a character"):
        T.decompose([1, 0, 0])


# ----- multiplicities of the irreducibles ------------------------------------------------------
@given(st.data())
def test_multiplicities_of_random_actions(data):
    from metasym.representations import equivariant_basis
    from metasym.representations.testing import group_actions

    G = data.draw(finite_groups(max_degree=5, max_order=120))
    a = data.draw(group_actions(G, max_degree=24))
    b = data.draw(group_actions(G, max_degree=24))
    T = character_table(G)
    ma, mb = T.multiplicities(a), T.multiplicities(b)
    assert sum(m * d for m, d in zip(ma, T.degrees)) == a.degree
    assert ma[0] == a.n_orbits
    # dim Hom_G = sum_i m_i m'_i, against an independent nullspace
    if a.degree * b.degree <= 400:
        assert equivariant_basis(a, b).dimension == sum(x * y for x, y in zip(ma, mb))
    # linear representations built from the actions, read without enumeration
    la = LinearRepresentation.from_permutation(a)
    lb = LinearRepresentation.from_permutation(b)
    assert T.multiplicities(la) == ma
    assert T.multiplicities(la + lb) == [x + y for x, y in zip(ma, mb)]
    assert T.multiplicities(la.dual()) == ma  # permutation characters are real


def test_multiplicities_regular_and_float():
    G = alternating(5)
    T = character_table(G)
    assert T.multiplicities(regular(G)) == list(T.degrees)
    C5 = cyclic(5)
    c, s = np.cos(2 * np.pi / 5), np.sin(2 * np.pi / 5)
    rho = LinearRepresentation(C5, [[[c, -s], [s, c]]])
    m = character_table(C5).multiplicities(rho)
    assert sum(m) == 2 and m[0] == 0  # two conjugate complex characters
    with pytest.raises(MetasymError, match="not of"):
        T.multiplicities(natural(cyclic(5)))


def test_cli_decompose(capsys):
    code, out, _ = run(capsys, "characters", "symmetric:4", "--decompose", "natural",
                       "--json")
    info = json.loads(out)
    assert info["decompositions"] == [{"action": "natural", "degree": 4,
                                       "multiplicities": [1, 0, 0, 1, 0]}]


def test_modular_helpers():
    from metasym.representations.cyclotomic import (
        is_prime,
        matmul_mod,
        primitive_root_of_unity,
        reduction_bound,
    )

    rng = np.random.default_rng(0)
    for p in (13, 2**31 - 1, 4294967291):  # the last two need the 16-bit split
        a = rng.integers(0, p, size=(7, 40), dtype=np.int64)
        b = rng.integers(0, p, size=(40, 5), dtype=np.int64)
        exact = (a.astype(object) @ b.astype(object)) % p
        assert (matmul_mod(a, b, p) == exact.astype(np.int64)).all()
    assert [n for n in range(30) if is_prime(n)] == [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]
    assert is_prime(4294967291) and not is_prime(4294967297)
    w = primitive_root_of_unity(12, 13)
    assert pow(w, 12, 13) == 1 and all(pow(w, k, 13) != 1 for k in (1, 2, 3, 4, 6))
    assert reduction_bound(1) == 1 and reduction_bound(5) == 1
    # zeta_105^t can need coordinate 2 (Phi_105 has a coefficient -2)
    assert reduction_bound(105) >= 2


@pytest.mark.parametrize("big, small", [("rotoflips:6", "dihedral:4"),
                                        ("translations:6x6", "abelian:6x6")])
def test_same_group_on_many_points(big, small):
    """Degree above 32 looks elements up by a Schreier-Sims base: the same abstract group
    acting on more points has the same table (up to the order of rows and columns)."""
    A, B = character_table(parse_group(big)), character_table(parse_group(small))
    assert parse_group(big).degree > 32
    assert A.degrees == B.degrees and sorted(A.indicators) == sorted(B.indicators)
    if A.n_classes <= 8:
        assert_table(A, [(c.element_order, c.size) for c in B.classes],
                     [list(row) for row in B.values])
    else:  # abelian: compare the multisets of values per element order
        def profile(T):
            return sorted((c.element_order, sorted(str(row[k]) for row in T.values))
                          for k, c in enumerate(T.classes))
        assert profile(A) == profile(B)


def test_induction_reciprocity_passes_and_can_fail(monkeypatch):
    from metasym.groups import natural, parse_group, regular
    from metasym.representations import theorems
    from metasym.representations.linear import LinearRepresentation

    for spec, out in (("symmetric:4", natural), ("dihedral:5", regular),
                      ("perm:6:(0 1 2);(3 4 5);(0 3)(1 4)(2 5)", natural)):
        G = parse_group(spec)
        (r,) = theorems.check_induction_reciprocity(out(G))
        assert r.status == "pass" and r.found == r.expected, r
    # negative control: a wrong induced representation (the trivial one) must fail
    monkeypatch.setattr(LinearRepresentation, "induce",
                        lambda self, group: LinearRepresentation.from_permutation(
                            __import__("metasym.groups", fromlist=["trivial"]).trivial(group, 1)))
    (r,) = theorems.check_induction_reciprocity(natural(parse_group("symmetric:4")))
    assert r.status == "fail" and r.found == 1 and r.expected == 2
