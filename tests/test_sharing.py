"""Pair orbits without a pair graph: against the pair-graph oracle and brute force, every
code path (cycle walks, stepped and arithmetic column fills, orbit batches, chunks), the
memory guard and the budget."""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metasym import _limits
from metasym.errors import MismatchError, SpecError, TooLargeError
from metasym.groups import (
    canonical_labels,
    cyclic,
    direct_sum,
    natural,
    regular,
    symmetric,
    tensor,
    translations,
    trivial,
)
from metasym.representations import SharingPattern, pair_orbit_labels, sharing_pattern
from metasym.representations import sharing as sharing_module
from metasym.representations.sharing import as_permutation_action, pattern_memory
from metasym.representations.testing import (
    brute_force_pair_orbits,
    group_and_actions,
    pair_orbit_labels_graph,
)

SMALL = group_and_actions(max_degree=5, max_order=48, max_action_degree=24)


@st.composite
def image_arrays(draw, max_degree: int = 12, max_gens: int = 3):
    """Any generator images: ``k`` permutations of ``X`` and ``k`` of ``Y`` (the group they
    generate on ``Y x X``, not necessarily a named one), often with many fixed points and
    intransitive, sometimes with ``k = 0`` or a degree of 1."""
    k = draw(st.integers(0, max_gens))
    n = draw(st.integers(1, max_degree))
    m = draw(st.integers(1, max_degree))

    def perm(size):
        kind = draw(st.sampled_from(["any", "sparse", "identity", "cycle"]))
        if kind == "identity":
            return list(range(size))
        if kind == "cycle":  # one long cycle: a deep spanning tree
            shift = draw(st.integers(0, size))
            return [(i + shift) % size for i in range(size)]
        p = draw(st.permutations(list(range(size))))
        if kind == "sparse":  # move only a few points: many fixed points and orbits
            keep = draw(st.lists(st.booleans(), min_size=size, max_size=size))
            moved = [i for i in range(size) if not keep[i]]
            q = list(range(size))
            for a, b in zip(moved, moved[1:] + moved[:1]):
                q[a] = b
            return q
        return p

    ins = np.array([perm(n) for _ in range(k)], dtype=np.int64).reshape(k, n)
    outs = np.array([perm(m) for _ in range(k)], dtype=np.int64).reshape(k, m)
    return ins, outs


PATHS = ["default", "stepped", "arithmetic", "tiny-chunks"]


@contextmanager
def code_path(path: str):
    """Every branch of the column fill and of the batching, on the same inputs."""
    with pytest.MonkeyPatch.context() as mp:
        if path == "stepped":
            mp.setattr(sharing_module, "_STEP_MIN_WORK", 0)
        elif path == "arithmetic":
            mp.setattr(sharing_module, "_STEP_MIN_WORK", 10**12)
        elif path == "tiny-chunks":  # one column / one orbit / one row per step
            mp.setattr(sharing_module, "_CHUNK", 1)
            mp.setattr(sharing_module, "_STEP_MIN_WORK", 0)
        yield


# ----- against the oracles ----------------------------------------------------------------------
@pytest.mark.parametrize("path", PATHS)
@given(images=image_arrays())
def test_matches_pair_graph_on_any_generators(path, images):
    ins, outs = images
    with code_path(path):
        got = pair_orbit_labels(ins, outs)
    assert got.dtype == np.int32 and got.shape == (outs.shape[1], ins.shape[1])
    assert np.array_equal(got, pair_orbit_labels_graph(ins, outs))


@pytest.mark.parametrize("path", PATHS)
@given(SMALL)
def test_matches_brute_force_and_pair_graph(path, gaa):
    G, a, b = gaa
    with code_path(path):
        got = pair_orbit_labels(a.generator_images, b.generator_images)
    assert np.array_equal(got, brute_force_pair_orbits(a, b))
    assert np.array_equal(got, pair_orbit_labels_graph(a.generator_images, b.generator_images))


@given(SMALL, st.integers(0, 2**32 - 1))
def test_with_support_matches_masking_the_oracle(gaa, seed):
    G, a, b = gaa
    mask = np.random.default_rng(seed).random((b.degree, a.degree)) < 0.6
    P = sharing_pattern(a, b, support=mask)
    expect = canonical_labels(np.where(mask, brute_force_pair_orbits(a, b), -1))
    assert np.array_equal(P.labels, expect)


@pytest.mark.parametrize("make", [
    lambda: (natural(cyclic(1)), natural(cyclic(1))),              # trivial group, 1 x 1
    lambda: (trivial(cyclic(1), 5), trivial(cyclic(1), 3)),       # trivial group
    lambda: (natural(cyclic(7)), trivial(cyclic(7), 1)),          # m = 1
    lambda: (trivial(cyclic(7), 1), natural(cyclic(7))),          # n = 1
    lambda: (direct_sum(natural(symmetric(3)), trivial(symmetric(3), 2)),
             direct_sum(trivial(symmetric(3), 1), regular(symmetric(3)))),  # intransitive
    lambda: (tensor(natural(cyclic(6)), natural(cyclic(6))), natural(cyclic(6))),
])
def test_edge_cases(make):
    a, b = make()
    for path in PATHS:
        with code_path(path):
            got = pair_orbit_labels(a.generator_images, b.generator_images)
        assert np.array_equal(got, brute_force_pair_orbits(a, b)), path


def test_no_generators_and_empty_sides():
    assert np.array_equal(pair_orbit_labels(np.zeros((0, 3), int), np.zeros((0, 2), int)),
                          np.arange(6).reshape(2, 3))
    assert pair_orbit_labels(np.zeros((1, 0), int), np.zeros((1, 4), int)).shape == (4, 0)
    with pytest.raises(MismatchError):
        pair_orbit_labels(np.zeros((1, 3), int), np.zeros((2, 3), int))


def test_left_action_convention():
    # s = (0 1 2) on X and the same on Y: W[s y, s x] = W[y, x], so (0, 0), (1, 1), (2, 2)
    # share; with s on X and s^-1 on Y the orbit of (0, 0) is {(0,0), (2,1), (1,2)}
    s = np.array([[1, 2, 0]])
    s_inv = np.array([[2, 0, 1]])
    assert pair_orbit_labels(s, s).tolist() == [[0, 1, 2], [2, 0, 1], [1, 2, 0]]
    assert pair_orbit_labels(s, s_inv).tolist() == [[0, 1, 2], [1, 2, 0], [2, 0, 1]]
    # a product of two generators (the walk composes them): Y x X for S3 on 3 points
    G = symmetric(3)
    assert pair_orbit_labels(G.generator_arrays, G.generator_arrays).tolist() == [
        [0, 1, 1], [1, 0, 1], [1, 1, 0]]


def test_cycles_decomposition():
    rng = np.random.default_rng(0)
    for N in (1, 2, 9, 200):
        p = rng.permutation(N)
        cmin, pos, start, order, length = sharing_module._cycles(p)
        for x in range(N):
            y, j = cmin[x], 0
            while y != x:  # walking p from the cycle minimum reaches x after pos[x] steps
                y, j = p[y], j + 1
            assert j == pos[x] and order[start[cmin[x]] + pos[x]] == x
            assert length[cmin[x]] == len({*np.flatnonzero(cmin == cmin[x])})


def test_large_cases_against_the_pair_graph():
    # deep spanning trees (one cycle of 500), two generators, intransitive tensor squares
    for a, b in [(natural(cyclic(500)), natural(cyclic(500))),
                 (natural(translations(20, 30)), natural(translations(20, 30))),
                 (tensor(natural(symmetric(12)), natural(symmetric(12))), natural(symmetric(12))),
                 (natural(cyclic(3000)), trivial(cyclic(3000), 2))]:
        got = pair_orbit_labels(a.generator_images, b.generator_images)
        assert np.array_equal(got, pair_orbit_labels_graph(a.generator_images,
                                                           b.generator_images))


# ----- the pattern object ---------------------------------------------------------------------
def test_pattern_stores_int32_and_hashes_by_partition():
    P = sharing_pattern(natural(cyclic(4)), natural(cyclic(4)))
    Q = SharingPattern(P.labels.astype(np.int64) * 3 + 7)  # same partition, other ids
    assert P.labels.dtype == np.int32 and Q.labels.dtype == np.int32
    assert P == Q and hash(P) == hash(Q)
    assert not P.labels.flags.writeable


def test_as_permutation_action():
    a = natural(cyclic(3))
    assert as_permutation_action(a) is a
    with pytest.raises(MismatchError):
        as_permutation_action(np.eye(3))


# ----- memory: the budget and the guard -------------------------------------------------------
def test_parse_bytes():
    assert _limits.parse_bytes("4G") == 4 * 2**30
    assert _limits.parse_bytes(" 1.5 GiB ") == 3 * 2**29
    assert _limits.parse_bytes("512mb") == 512 * 2**20
    assert _limits.parse_bytes("1000") == 1000
    for bad in ("", "G", "4X", "-1", "4 G B"):
        with pytest.raises(SpecError):
            _limits.parse_bytes(bad)


def test_memory_budget_env_and_default(monkeypatch):
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "3M")
    assert _limits.memory_budget() == 3 * 2**20
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "lots")
    with pytest.raises(SpecError, match="METASYM|memory size"):
        _limits.memory_budget()
    monkeypatch.delenv("METASYM_MEMORY_LIMIT")
    avail = _limits._available_memory()
    expect = _limits.FALLBACK_MEMORY if avail is None else int(avail * _limits.MEMORY_FRACTION)
    assert abs(_limits.memory_budget() - expect) <= 0.05 * expect  # the machine may move
    monkeypatch.setattr(_limits, "_available_memory", lambda: None)
    assert _limits.memory_budget() == _limits.FALLBACK_MEMORY


def test_check_memory_message(monkeypatch):
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "1M")
    _limits.check_memory(2**20, "fits")
    with pytest.raises(TooLargeError) as e:
        _limits.check_memory(2**21, "a test array")
    msg = str(e.value)
    assert "\n" not in msg and "2.0 MiB" in msg and "1.0 MiB" in msg
    assert "METASYM_MEMORY_LIMIT" in msg


def test_sharing_pattern_refuses_before_allocating(monkeypatch):
    a = natural(cyclic(3000))
    est = pattern_memory(a.generator_images, a.generator_images)
    assert 4 * 3000**2 < est < 6 * 3000**2 + 2**27
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", str(est - 1))

    def no_work(*args):  # the guard must fire before any labelling starts
        raise AssertionError("allocated before checking the budget")

    monkeypatch.setattr(sharing_module, "_pair_orbit_ids", no_work)
    with pytest.raises(TooLargeError, match="METASYM_MEMORY_LIMIT"):
        sharing_pattern(a, a)
    with pytest.raises(TooLargeError):
        pair_orbit_labels(a.generator_images, a.generator_images)


def test_dense_basis_guard(monkeypatch):
    P = sharing_pattern(natural(cyclic(40)), natural(cyclic(40)))
    assert P.basis().shape == (1600, 40)
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "100K")
    with pytest.raises(TooLargeError, match="sparse"):
        P.basis()
    assert P.basis(sparse=True).nnz == 1600
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "10K")
    with pytest.raises(TooLargeError):
        P.basis(sparse=True)


def test_max_orbits_bound_holds():
    for a, b in [(natural(cyclic(5)), natural(cyclic(5))),
                 (trivial(cyclic(5), 4), trivial(cyclic(5), 3)),
                 (direct_sum(natural(cyclic(2)), trivial(cyclic(2), 3)), natural(cyclic(2)))]:
        K = int(pair_orbit_labels(a.generator_images, b.generator_images).max()) + 1
        assert K <= sharing_module._max_orbits(a.generator_images, b.generator_images)


def test_pair_limit(monkeypatch):
    monkeypatch.setattr(sharing_module, "PAIR_LIMIT", 99)
    a = natural(cyclic(10))
    with pytest.raises(TooLargeError, match="index pairs"):
        sharing_pattern(a, a)


def test_orbits_that_settle_slowly_fall_back_to_components():
    # adjacent transpositions listed from the top: a smallest point crosses one
    # generator per round, so the cycle rounds do not settle and the graph decides
    n = 40
    gens = []
    for i in range(n - 2, -1, -1):
        p = np.arange(n)
        p[[i, i + 1]] = p[[i + 1, i]]
        gens.append(p)
    ins = np.array(gens)
    count, comp = sharing_module._input_orbits(ins, [sharing_module._cycles(p) for p in ins])
    assert count == 1 and not comp.any()
    outs = np.array([np.roll(np.arange(3), 1) if i % 2 else np.arange(3) for i in range(n - 1)])
    assert np.array_equal(pair_orbit_labels(ins, outs), pair_orbit_labels_graph(ins, outs))


@pytest.mark.parametrize("make", [
    lambda: (natural(cyclic(500)), natural(cyclic(500))),
    lambda: (natural(translations(22, 22)), natural(translations(22, 22))),
    lambda: (trivial(cyclic(1), 500), trivial(cyclic(1), 500)),           # 250,000 orbits
    lambda: (tensor(natural(symmetric(22)), natural(symmetric(22))),
             tensor(natural(symmetric(22)), natural(symmetric(22)))),
])
def test_peak_memory_per_pair(make):
    # the labels (4 bytes per pair), the renumbering table and bounded scratch: at most
    # 6 bytes per pair plus a fixed allowance, as pattern_memory promises
    import tracemalloc

    a, b = make()
    pairs = a.degree * b.degree
    sharing_pattern(a, b)  # imports and caches first
    tracemalloc.start()
    try:
        sharing_pattern(a, b)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak <= 6 * pairs + 2**16, peak / pairs
    assert peak <= pattern_memory(a.generator_images, b.generator_images)
