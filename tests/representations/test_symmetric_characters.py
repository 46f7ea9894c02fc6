"""Character tables by combinatorics (S_n, A_n, direct products) against the generic
Burnside-Dixon method, the theorems, and negative controls; the large-table checks."""

from __future__ import annotations

import itertools
import json
import math
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasym.cli import main
from metasym.errors import MetasymError, TooLargeError
from metasym.groups import (
    FiniteGroup,
    alternating,
    cyclic,
    dihedral,
    direct_product,
    from_generators,
    natural,
    parse_group,
    symmetric,
    tensor,
)
from metasym.representations import table_checks as tc
from metasym.representations.characters import CharacterTable, character_table
from metasym.representations.cyclotomic import Cyclotomic
from metasym.representations.symmetric_characters import (
    STRUCTURED_CLASS_LIMIT,
    class_size,
    conjugate_partition,
    hook_length_degree,
    murnaghan_nakayama,
    partitions,
    quadratic_surd,
    structured_character_table,
)
from metasym.representations.theorems import _orthogonality, check_character_table


def generic_copy(G: FiniteGroup) -> FiniteGroup:
    """The same permutation group, unnamed: the generic method computes its table."""
    return from_generators(G.generator_arrays.tolist() or [list(range(G.degree))], G.degree)


def element_columns(T: CharacterTable) -> np.ndarray:
    """The column of every element of the (small) group, by brute force: the column whose
    representative is conjugate to it (same class of the enumerated group)."""
    G = T.group
    rep_at = {G.element_index(c.representative): k for k, c in enumerate(T.classes)}
    cls = np.full(G.order, -1, dtype=np.int64)
    for members in G.conjugacy_class_indices:
        (k,) = [rep_at[x] for x in members if x in rep_at]  # exactly one column per class
        cls[list(members)] = k
    return cls


def assert_same_table(T: CharacterTable, U: CharacterTable) -> None:
    """``T`` (structured) and ``U`` (generic) are the same table of the same group: the
    columns matched through the enumerated group's classes, then the same set of rows."""
    assert T.group.same_elements(U.group)
    cls_T = element_columns(T)
    # U's columns sit at U.classes[k].index; map them to T's columns through the elements
    perm = [int(cls_T[U.group.element_index(c.representative)]) for c in U.classes]
    assert sorted(perm) == list(range(T.n_classes))
    for k, j in enumerate(perm):  # matched columns: same sizes and orders
        assert (T.classes[j].size, T.classes[j].element_order) == \
            (U.classes[k].size, U.classes[k].element_order)
    rows_T = {tuple(row[j] for j in perm) for row in T.values}
    assert rows_T == set(U.values)
    assert sorted(zip(T.degrees, T.indicators)) == sorted(zip(U.degrees, U.indicators))
    # power maps agree after the matching
    inv = {j: k for k, j in enumerate(perm)}
    for k, j in enumerate(perm):
        assert [inv[x] for x in T.power_maps[j]] == list(U.power_maps[k])


# ----- combinatorics ------------------------------------------------------------------------
def test_partition_counts_and_conjugates():
    assert [len(partitions(n)) for n in range(1, 13)] == [1, 2, 3, 5, 7, 11, 15, 22, 30, 42,
                                                         56, 77]
    assert len(partitions(20)) == 627
    for lam in partitions(9):
        assert conjugate_partition(conjugate_partition(lam)) == lam
    assert sum(class_size(mu) for mu in partitions(10)) == math.factorial(10)


@pytest.mark.parametrize("n", range(1, 13))
def test_hook_lengths_agree_with_murnaghan_nakayama(n):
    T = structured_character_table(symmetric(n))
    assert sorted(T.degrees) == sorted(hook_length_degree(lam) for lam in partitions(n))
    assert sum(d * d for d in T.degrees) == math.factorial(n)
    lam = partitions(n)[len(partitions(n)) // 2]
    assert murnaghan_nakayama(lam, (1,) * n) == hook_length_degree(lam)


def test_vectorised_rim_hooks_match_the_reference():
    from metasym.representations.symmetric_characters import (
        _needed_lengths,
        _removal_matrices,
        _rim_hook_removals,
    )

    for n in (6, 9):
        R = _removal_matrices(n)
        for m in range(1, n + 1):
            for r in _needed_lengths(m, n):
                M = np.zeros(R[(m, r)].shape, dtype=np.int64)
                for i, lam in enumerate(partitions(m)):
                    for _, kappa, sign in _rim_hook_removals(lam, [r]):
                        M[i, partitions(m - r).index(kappa)] += sign
                assert (M == R[(m, r)].toarray()).all(), (n, m, r)


def test_murnaghan_nakayama_small_cases_by_hand():
    # S3: chi^(2,1) = (2, 0, -1); S4 standard (3,1) = (3, 1, -1, 0, -1)
    assert [murnaghan_nakayama((2, 1), mu) for mu in [(1, 1, 1), (2, 1), (3,)]] == [2, 0, -1]
    assert [murnaghan_nakayama((3, 1), mu)
            for mu in [(1, 1, 1, 1), (2, 1, 1), (2, 2), (3, 1), (4,)]] == [3, 1, -1, 0, -1]
    # sign character: (-1)^(n - parts)
    for mu in partitions(6):
        assert murnaghan_nakayama((1,) * 6, mu) == (-1) ** (6 - len(mu))


def test_quadratic_surds_are_exact_roots():
    for eps, q in [(1, 5), (-1, 3), (-1, 7), (1, 21), (-1, 11), (1, 165), (-1, 51), (1, 9)]:
        plus, minus = quadratic_surd(eps, q)
        assert plus + minus == eps  # trace
        assert plus * minus == (eps * eps - eps * q) // 4  # norm: (eps^2 - eps q) / 4
        z = complex(plus)
        assert abs((2 * z - eps) ** 2 - eps * q) < 1e-9
    with pytest.raises(ValueError):
        quadratic_surd(1, 3)  # 3 is not 1 mod 4


# ----- against the generic method -----------------------------------------------------------------
@pytest.mark.parametrize("n", range(1, 8))
def test_symmetric_tables_match_generic(n):
    T = character_table(symmetric(n), method="structured")
    assert "Murnaghan-Nakayama" in T.method
    assert_same_table(T, character_table(generic_copy(symmetric(n))))


@pytest.mark.parametrize("n", range(3, 8))
def test_alternating_tables_match_generic(n):
    T = character_table(alternating(n), method="structured")
    assert "alternating" in T.method
    assert_same_table(T, character_table(generic_copy(alternating(n))))


@pytest.mark.parametrize("factors", [
    (symmetric(3), cyclic(2)), (alternating(4), cyclic(3)), (symmetric(4), dihedral(4)),
    (alternating(5), symmetric(3)), (cyclic(2), cyclic(2), symmetric(3)),
])
def test_products_match_generic(factors):
    P = direct_product(*factors)
    T = character_table(P, method="structured")
    assert T.method.startswith("direct product")
    assert T.n_classes == math.prod(character_table(f).n_classes for f in factors)
    assert_same_table(T, character_table(generic_copy(P)))


@pytest.mark.parametrize("n", [5, 6, 7, 8, 9])
def test_alternating_split_classes(n):
    """The split classes: distinct odd cycle types, two classes of half the size, values
    (eps +- sqrt(eps q))/2 exchanged by the two characters of a self-conjugate partition."""
    T = character_table(alternating(n), method="structured")
    types = [tuple(sorted((len(c) for c in _cycles(cl.representative)), reverse=True))
             for cl in T.classes]
    split = {t for t in types if types.count(t) == 2}
    expected = {mu for mu in partitions(n)
                if (n - len(mu)) % 2 == 0 and len(set(mu)) == len(mu) and all(p % 2 for p in mu)}
    assert split == expected
    for mu in split:
        k1, k2 = [k for k, t in enumerate(types) if t == mu]
        assert T.classes[k1].size == T.classes[k2].size == class_size(mu) // 2
        col1 = [row[k1] for row in T.values]
        col2 = [row[k2] for row in T.values]
        irr = [i for i in range(len(col1)) if not col1[i].is_rational]
        q = math.prod(mu)
        eps = (-1) ** ((n - len(mu)) // 2)
        if math.isqrt(q) ** 2 != q:  # irrational: exactly the two characters swap values
            assert len(irr) == 2 and col1[irr[0]] == col2[irr[1]]
            assert set(quadratic_surd(eps, q)) == {col1[irr[0]], col1[irr[1]]}
    if n <= 7:  # against the generic method (A_8, A_9: above its enumeration limit, and
        # recognised from their generators at degree >= 8 anyway)
        assert_same_table(T, character_table(generic_copy(alternating(n))))
    else:
        assert all(r.passed for r in check_character_table(T))


def _cycles(img):
    seen, out = set(), []
    for x in range(len(img)):
        if x not in seen:
            c, y = [], x
            while y not in seen:
                seen.add(y)
                c.append(y)
                y = img[y]
            out.append(c)
    return out


@given(st.sampled_from([symmetric, alternating]), st.integers(3, 7), st.data())
def test_recognised_from_random_generators(kind, n, data):
    """S_n / A_n given by other generators (degree >= 8: recognised; the table's
    representatives are elements of the group and the classes are the group's)."""
    m = n + 5  # degree 8..12
    G = kind(m)
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    p = rng.permutation(m)
    pinv = np.argsort(p)
    gens = [p[g[pinv]] for g in G.generator_arrays]  # conjugated generators
    H = from_generators(gens, m)
    T = character_table(H)
    assert T.method.split(":")[0] == character_table(G).method.split(":")[0]
    assert T.n_classes == character_table(G).n_classes
    for c in T.classes[:10]:
        assert H.contains(list(c.representative))


# ----- theorems, exactly, at size ------------------------------------------------------------------
@pytest.mark.parametrize("n", range(2, 13))
def test_symmetric_orthogonality_exact(n):
    T = character_table(symmetric(n), method="structured")
    res = check_character_table(T)
    assert [r.status for r in res] == ["pass"] * len(res), [r for r in res if not r.passed]


@pytest.mark.parametrize("spec", ["alternating:10", "alternating:12",
                                  "product(symmetric:9,cyclic:2)",
                                  "product(alternating:6,symmetric:5)"])
def test_large_tables_pass_every_check(spec):
    t0 = time.perf_counter()
    T = character_table(parse_group(spec))
    res = check_character_table(T)
    assert all(r.status == "pass" for r in res), [r for r in res if not r.passed]
    assert time.perf_counter() - t0 < 30


def test_multimodular_orthogonality_agrees_with_single_prime():
    for G in [alternating(5), symmetric(6), alternating(7),
              direct_product(alternating(5), cyclic(3))]:
        T = character_table(G, method="structured")
        (bad_c, _), (bad_r, _), _ = tc.orthogonality_multimodular(T)
        (r1, _), (c1, _), _ = _orthogonality(T)
        assert bad_c == c1 == 0 and bad_r == r1 == 0
        values = [list(row) for row in T.values]
        values[1][1], values[1][2] = values[1][2], values[1][1]
        bad = T.replace(values=values)
        (bad_c, _), (bad_r, _), _ = tc.orthogonality_multimodular(bad)
        (r1, _), (c1, _), _ = _orthogonality(bad)
        assert (bad_c, bad_r) == (c1, r1) and bad_c > 0


@pytest.mark.parametrize("spec", ["alternating:13", "symmetric:14"])
def test_negative_controls_on_large_tables(spec):
    T = character_table(parse_group(spec))
    values = [list(row) for row in T.values]
    values[3][2], values[3][4] = values[3][4], values[3][2]
    failing = {r.name for r in check_character_table(T.replace(values=values))
               if r.status == "fail"}
    assert {"characters:row-orthogonality", "characters:column-orthogonality"} <= failing
    degrees = list(T.degrees)
    degrees[2] += 1
    failing = {r.name for r in check_character_table(T.replace(degrees=degrees))
               if r.status == "fail"}
    assert {"characters:degrees", "characters:sum-of-squares"} <= failing
    wrong = tuple(-v if v else 1 for v in T.indicators)
    failing = {r.name for r in check_character_table(T.replace(indicators=wrong))
               if r.status == "fail"}
    assert {"characters:frobenius-schur", "characters:indicators"} <= failing


def test_square_roots_of_one_closed_form_against_brute_force():
    for G in [symmetric(6), alternating(6), symmetric(7)]:
        T = character_table(G, method="structured")
        count, how = tc.square_roots_of_one(T)
        E = G.element_arrays
        brute = int((np.take_along_axis(E, E, axis=1) == np.arange(G.degree)).all(axis=1).sum())
        assert count == brute and "closed form" in how


def test_decompose_by_traces_matches_power_basis():
    for G in [alternating(9), direct_product(alternating(5), cyclic(5))]:
        T = character_table(G, method="structured")
        for a in [natural(G), tensor(natural(G), natural(G))]:
            chi = [int((a.image(np.asarray(c.representative)) == np.arange(a.degree)).sum())
                   for c in T.classes]
            assert tc.decompose_by_traces(T, chi) == T.decompose(chi)
            bad = list(chi)
            bad[1] += 1
            with pytest.raises(MetasymError, match="not a character"):
                tc.decompose_by_traces(T, bad)


def test_multiplicities_without_enumeration():
    G = symmetric(10)
    T = character_table(G)
    m = T.multiplicities(tensor(natural(G), natural(G)))
    # S_n on ordered pairs: 2 trivial + 3 standard + (n-2,2) + (n-2,1,1)
    assert sum(m) == 7 and m[0] == 2
    assert sum(a * d for a, d in zip(m, T.degrees)) == 100


# ----- limits and the command line -----------------------------------------------------------------
def test_refusals_name_the_limit():
    with pytest.raises(TooLargeError, match=f"above the limit of {STRUCTURED_CLASS_LIMIT}"):
        character_table(symmetric(24))
    with pytest.raises(TooLargeError, match="classes"):
        character_table(direct_product(symmetric(16), symmetric(6)))  # 231 x 11 classes


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("spec", ["alternating:12", "product(symmetric:6,cyclic:2)",
                                  "symmetric:13"])
def test_cli_large_groups_with_check(capsys, spec):
    code, out, err = run(capsys, "characters", spec, "--check", "--json")
    info = json.loads(out)
    assert code == 0, err
    assert all(c["status"] == "pass" for c in info["checks"])
    assert sum(info["degrees"][i] ** 2 for i in range(len(info["degrees"]))) == \
        int(info["order"])


@pytest.mark.slow
@pytest.mark.parametrize("spec, classes", [("symmetric:20", 627), ("alternating:20", 324),
                                           ("symmetric:21", 792)])  # 21! > 2^63
def test_degree_twenty(capsys, spec, classes):
    t0 = time.perf_counter()
    code, out, _ = run(capsys, "characters", spec, "--check", "--json")
    info = json.loads(out)
    assert code == 0 and len(info["classes"]) == classes
    assert all(c["status"] == "pass" for c in info["checks"])
    assert time.perf_counter() - t0 < 120


def test_index_of_structured_classes_is_lazy():
    T = character_table(symmetric(12))
    assert all(c.index == -1 for c in T.classes)  # nothing was enumerated
    S = character_table(symmetric(4), method="structured")
    chi = list(range(24))
    vals = S.class_character(chi)  # located in the enumerated group on demand
    G = S.group
    assert vals == [G.element_index(c.representative) for c in S.classes]


def test_cyclotomic_values_only():
    for T in [character_table(alternating(11)), character_table(symmetric(9))]:
        assert all(isinstance(v, Cyclotomic) for row in T.values for v in row)
    assert all(isinstance(x, int) for x in character_table(symmetric(9)).degrees)


def test_small_unnamed_groups_keep_the_generic_method():
    assert "Burnside-Dixon" in character_table(dihedral(3)).method
    assert "Burnside-Dixon" in character_table(generic_copy(symmetric(6))).method
    assert list(itertools.islice(partitions(5), 2)) == [(5,), (4, 1)]


def test_auto_keeps_enumeration_for_listable_groups():
    """Below the enumeration limit ``auto`` keeps the enumerating method (its classes and
    column order, pinned in test_characters_search); above it the structured method."""
    small = character_table(symmetric(6))
    assert "Burnside-Dixon" in small.method and all(c.index >= 0 for c in small.classes)
    assert_same_table(character_table(symmetric(6), method="structured"), small)
    assert "Murnaghan-Nakayama" in character_table(symmetric(8)).method


def test_structured_method_registered_once_from_any_import():
    """Importing only the characters module (the package runs first) registers the
    structured method, exactly once."""
    import subprocess
    import sys

    code = ("from metasym.representations.characters import STRUCTURED_METHODS, "
            "character_table\nfrom metasym.groups import symmetric\n"
            "print(len(STRUCTURED_METHODS), character_table(symmetric(9)).method)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.startswith("1 symmetric group S_9: Murnaghan-Nakayama"), out
