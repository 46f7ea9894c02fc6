"""Property tests of the theorem checks, and proof that the checks can fail."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasym.errors import MismatchError
from metasym.groups import (
    GroupAction,
    cyclic,
    dihedral,
    from_generators,
    natural,
    parse_action,
    regular,
    symmetric,
    translations,
)
from metasym.representations import (
    CheckResult,
    SharingPattern,
    burnside_count,
    run_checks,
    sharing_pattern,
)
from metasym.representations.testing import group_and_actions
from metasym.representations.theorems import (
    character_inner_product,
    check_basis_equivariant,
    check_dimension,
    check_frobenius,
    check_homomorphism,
    check_representability,
    check_reynolds,
)

SMALL = group_and_actions(max_degree=5, max_order=48, max_action_degree=24)


def _statuses(results):
    return {r.name: r.status for r in results}


# ----- properties over random groups and actions ------------------------------------------------
@given(SMALL)
def test_dimension_equals_burnside_characters_nullity(gaa):
    G, a, b = gaa
    k = sharing_pattern(a, b).dimension
    assert burnside_count(a, b) == (k, None)
    assert character_inner_product(a, b) == (k, None)
    results = check_dimension(a, b)
    assert [r.status for r in results] == ["pass"] * 3
    assert [r.found for r in results] == [k, k, k]


@given(SMALL)
def test_basis_elements_are_equivariant(gaa):
    G, a, b = gaa
    P = sharing_pattern(a, b)
    r = check_basis_equivariant(P, a, b)
    assert r.status == "pass" and r.found == 0
    r = check_basis_equivariant(P.basis(orthonormal=True), a, b)
    assert r.status == "pass" and r.found == 0


@given(SMALL, st.integers(0, 1000))
def test_msr_representability(gaa, seed):
    G, a, _ = gaa
    results = check_representability(a, seed=seed)
    assert _statuses(results) == {"msr:rows": "pass", "msr:equivariant": "pass"}


@given(SMALL)
def test_frobenius_reciprocity(gaa):
    G, a, _ = gaa
    dim, span = check_frobenius(a)
    assert dim.status == "pass" and dim.found == a.degree
    assert span.status == "pass" and span.found == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@given(gaa=SMALL, seed=st.integers(0, 1000))
def test_reynolds_projection(dtype, gaa, seed):
    G, a, b = gaa
    results = check_reynolds(a, b, seed=seed, dtype=dtype)
    assert len(results) == 4
    assert all(r.status == "pass" for r in results), [r for r in results if r.status != "pass"]


@given(SMALL, st.integers(0, 1000))
def test_actions_are_homomorphisms(gaa, seed):
    G, a, b = gaa
    for act in (a, b):
        assert all(r.status == "pass" for r in check_homomorphism(act, seed=seed))


@given(SMALL)
def test_run_checks_all_pass(gaa):
    G, a, b = gaa
    results = run_checks(a, b, seed=1)
    assert results and all(isinstance(r, CheckResult) for r in results)
    failed = [r for r in results if r.status == "fail"]
    assert not failed, failed
    json.dumps([r.to_dict() for r in results])  # JSON-friendly


# ----- the checks can fail ---------------------------------------------------------------------
def _dihedral_with_rotation_pattern():
    """Orbits of the rotation subgroup C_5, used as if they were the D_5 pattern."""
    G = dihedral(5)
    C = from_generators(G.generator_arrays[:1], G.degree)
    wrong = SharingPattern(sharing_pattern(natural(C), natural(C)).labels)
    return natural(G), wrong


def test_wrong_pattern_fails_dimension_equivariance_and_reynolds():
    a, wrong = _dihedral_with_rotation_pattern()
    assert wrong.dimension == 5 and sharing_pattern(a, a).dimension == 3
    dims = check_dimension(a, a, wrong)
    assert [r.status for r in dims] == ["fail"] * 3
    assert [r.found for r in dims] == [3, 3, 3] and dims[0].expected == 5
    r = check_basis_equivariant(wrong, a, a)
    assert r.status == "fail" and r.found > 0 and "worst generator 1" in r.detail
    rey = _statuses(check_reynolds(a, a, wrong))
    assert rey["reynolds=project[float64]"] == "fail"
    # orbit averaging over any partition is still an orthogonal projection
    assert rey["projection-idempotent[float64]"] == "pass"


def test_coarse_pattern_fails_dimension_only():
    a = natural(cyclic(4))
    coarse = SharingPattern(np.zeros((4, 4), dtype=np.int64))  # everything shared
    assert check_basis_equivariant(coarse, a, a).status == "pass"  # all-ones is equivariant
    assert {r.status for r in check_dimension(a, a, coarse)} == {"fail"}


def test_wrong_basis_array_fails():
    a = natural(symmetric(3))
    rng = np.random.default_rng(0)
    r = check_basis_equivariant(rng.standard_normal((9, 2)), a, a)
    assert r.status == "fail" and r.found == 4  # 2 elements x 2 generators
    with pytest.raises(MismatchError):
        check_basis_equivariant(np.zeros((8, 2)), a, a)


def test_non_homomorphism_fails_checks():
    bad = GroupAction(cyclic(3), [[1, 0]], validate=False)  # order-3 generator -> swap
    results = check_homomorphism(bad)
    assert [r.status for r in results] == ["fail", "fail"]
    assert results[0].expected == 3 and results[0].found == 6
    count, reason = burnside_count(bad, bad)
    assert reason is None and count == Fraction(8, 3)  # not an integer: exposed


def test_big_groups_are_skipped_not_failed():
    G = symmetric(9)
    a = natural(G)
    count, reason = burnside_count(a, a)
    assert count is None and "100000" in reason
    results = run_checks(a, a)
    status = _statuses(results)
    assert "fail" not in status.values()
    for name in ["dimension=burnside", "dimension=character", "reynolds=project[float64]",
                 "msr:rows", "frobenius:span"]:
        assert status[name] == "skipped"
        skipped = next(r for r in results if r.name == name)
        assert skipped.passed is None and skipped.found is None and skipped.detail
    assert status["dimension=nullity"] == "pass" and status["basis-equivariant"] == "pass"


def test_generator_only_checks_on_a_large_grid():
    a = natural(translations(12, 12))
    results = run_checks(a, a)
    assert "fail" not in _statuses(results).values()
    assert next(r for r in results if r.name == "dimension=burnside").found == 144


def test_check_result_api():
    r = CheckResult("x", "claim", Fraction(3, 2), None, "skipped", "too big")
    assert r.passed is None and r.skipped and not r.failed
    d = r.to_dict()
    assert d["expected"] == "3/2" and d["status"] == "skipped" and d["passed"] is None
    assert CheckResult("y", "claim", 1, 2, "fail").passed is False
    with pytest.raises(ValueError):
        CheckResult("z", "claim", 1, 1, "ok")
    with pytest.raises(MismatchError):
        run_checks(natural(cyclic(3)), natural(cyclic(4)))


def test_run_checks_covers_every_theorem():
    G = dihedral(4)
    results = run_checks(parse_action("sum(natural,trivial:1)", G), regular(G))
    names = {r.name for r in results}
    for prefix in ["homomorphism:graph-order", "homomorphism:sampled-pairs", "dimension=burnside",
                   "dimension=character", "dimension=nullity", "basis-equivariant",
                   "reynolds=project", "projection-idempotent", "projection-self-adjoint",
                   "projection-fixes-span", "msr:rows", "msr:equivariant", "frobenius:dimension",
                   "frobenius:span"]:
        assert any(n.startswith(prefix) for n in names), prefix
    assert all(r.status == "pass" for r in results)
