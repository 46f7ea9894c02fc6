"""Task generators, the .npz loader (malformed files included) and the comparison
measures (ARI against a brute-force pair-counting oracle)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from metasym.errors import MetasymError
from metasym.learning import (
    adjusted_rand_index,
    equivariant_problem,
    load_npz,
    make_problem,
    rank_problem,
    recover_partition,
    save_npz,
    shift_equivariance_error,
    span_error,
    subspace_distance,
)
from metasym.learning.engine import mean_ci95
from metasym.representations import conv1d


# ----- tasks ----------------------------------------------------------------------------------
def test_rank1_is_a_valid_convolution_with_the_recorded_filter():
    ts = rank_problem(1, n_tasks=20, seed=3)
    assert ts.x.shape == (20, 20, 70) and ts.y.shape == (20, 20, 68)
    assert ts.n_train == 16 and ts.x.dtype == np.float32
    f = ts.w.reshape(20, 68, 3)
    assert np.allclose(f, f[:, :1, :])  # one filter per task
    t = 5
    ref = np.stack([np.correlate(ts.x[t, i], f[t, 0], mode="valid") for i in range(20)])
    assert np.allclose(ts.y[t], ref, atol=1e-5)
    # every task's weight lies in the exact conv pattern (the answer)
    W = conv1d(70, 3).weight(f[:, 0, :])
    assert np.allclose(span_error(W, ts.answer.basis), 0, atol=1e-6)


def test_rank_problem_is_deterministic_under_seed():
    a, b, c = (rank_problem(2, n_tasks=10, seed=s) for s in (7, 7, 8))
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)


@pytest.mark.parametrize("rank", [2, 5])
def test_low_rank_tasks_lie_in_the_generating_subspace(rank):
    ts = rank_problem(rank, n_tasks=30, seed=0)
    assert ts.answer.basis.shape == (68 * 70, 3 * rank) and ts.answer.pattern is None
    filt = ts.w.reshape(30, 68, 3)
    W = np.zeros((30, 68, 70))
    p = np.arange(68)
    for t in range(3):
        W[:, p, p + t] = filt[:, :, t]
    assert np.allclose(span_error(W, ts.answer.basis), 0, atol=1e-5)
    # and not in the exact convolution pattern (partial symmetry only)
    assert span_error(W, conv1d(70, 3).basis()).mean() > 0.05


def test_equivariant_problem_outputs_are_equivariant_maps():
    ts = equivariant_problem("dihedral:4", "natural", "natural", n_tasks=6, n_examples=5)
    P = ts.answer.pattern
    W = P.weight(ts.w.astype(np.float64))
    assert np.allclose(np.einsum("tmn,ten->tem", W, ts.x), ts.y, atol=1e-5)
    assert all(P.equivariance_error(w) < 1e-12 for w in W)


def test_equivariant_generation_is_batched_and_equal_to_the_weights():
    """The batched generation (weights gathered through the labels, one matmul per chunk)
    gives the outputs of the per-task weights W_t = P.weight(v_t), a support mask
    included, over several chunks; the parameters are the same draws as before."""
    from metasym.learning.data import tasks as T

    G = "cyclic:7"
    ts = equivariant_problem(G, "regular", "natural", n_tasks=50, n_examples=4, seed=3)
    rng = np.random.default_rng(3)
    v = rng.standard_normal((50, ts.answer.pattern.dimension))
    np.testing.assert_array_equal(ts.w, v.astype(np.float32))
    W = ts.answer.pattern.weight(v).astype(np.float32)
    np.testing.assert_allclose(ts.y, np.einsum("tmn,ten->tem", W, ts.x), rtol=1e-5, atol=1e-5)
    P = ts.answer.pattern
    lab = P.labels.copy()
    lab[0, :3] = -1  # a support mask: fixed zeros must stay zero
    from metasym.representations import SharingPattern

    Q = SharingPattern(lab)
    x = rng.standard_normal((9, 4, Q.shape[1]), dtype=np.float32)
    vq = rng.standard_normal((9, Q.dimension))
    y = T._outputs(Q, vq, x, progress=False)
    np.testing.assert_allclose(y, np.einsum("tmn,ten->tem", Q.weight(vq).astype(np.float32), x),
                               rtol=1e-5, atol=1e-5)


def test_equivariant_generation_estimated_and_refused_before_drawing(monkeypatch):
    """`train --problem equivariant --group alternating:6 --in regular --out-action
    regular` spent minutes before its first step. The time and memory of the generation
    are estimated from the sizes first; over the time limit or the memory budget it is
    one line naming the options, before any task is drawn."""
    from metasym.errors import TooLargeError
    from metasym.learning.data.tasks import check_generation, generation_seconds

    est = generation_seconds(10_000, 20, 360, 360, 360)
    assert 1 < est < 120  # batched: seconds, not minutes
    with pytest.raises(TooLargeError, match=r"--tasks 10000, --examples 20.*estimated"):
        equivariant_problem("alternating:6", "regular", "regular", seconds=0.5)
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "100M")
    with pytest.raises(TooLargeError, match=r"generating the tasks of alternating:6.*"
                                            r"METASYM_MEMORY_LIMIT=100M"):
        equivariant_problem("alternating:6", "regular", "regular")
    monkeypatch.delenv("METASYM_MEMORY_LIMIT")
    assert check_generation(100, 20, 12, 12, 3, "c") < 1


def test_equivariant_generation_time_limit_from_the_cli(capsys, tmp_path, monkeypatch):
    """The CLI refuses in one line (exit 2) under METASYM_TIME_LIMIT, before drawing."""
    from metasym.cli import main

    monkeypatch.setenv("METASYM_TIME_LIMIT", "1")
    code = main(["train", "--problem", "equivariant", "--group", "alternating:6", "--in",
                 "regular", "--out-action", "regular", "--steps", "5", "--threads", "1",
                 "--quiet", "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "estimated" in err and "METASYM_TIME_LIMIT" in err and "--tasks 10000" in err


def test_make_problem_errors():
    with pytest.raises(MetasymError, match="needs --group"):
        make_problem("equivariant", n_tasks=4)
    with pytest.raises(MetasymError):
        make_problem("rank3", n_tasks=4)
    with pytest.raises(MetasymError):
        rank_problem(1, n_tasks=1)


# ----- npz loader -----------------------------------------------------------------------------
def test_npz_round_trip(tmp_path):
    ts = rank_problem(1, n_tasks=12, seed=1)
    save_npz(ts, tmp_path / "r.npz")
    with np.load(tmp_path / "r.npz") as f:
        assert f["x"].shape == (12, 20, 1, 70) and f["y"].shape == (12, 20, 1, 68)
    back = load_npz(tmp_path / "r.npz")
    assert np.array_equal(back.x, ts.x) and np.array_equal(back.y, ts.y)
    assert back.in_shape == (1, 70) and back.out_shape == (1, 68) and back.answer is None
    assert back.w.shape == (12, 1, 1, 1, 68, 3)


def _write(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("case, match", [
    ("missing_y", "missing array"),
    ("few_dims", "expected"),
    ("mismatch", "but y has"),
    ("one_task", "at least 2 tasks"),
    ("nonfinite", "NaN"),
    ("strings", "dtype"),
    ("pickled", "readable"),
    ("garbage", "readable"),
    ("absent", "no such file"),
    ("npy", "not an .npz"),
])
def test_npz_malformed_files_give_one_line_errors(tmp_path, case, match):
    p = tmp_path / "bad.npz"
    x = np.zeros((3, 4, 1, 5), np.float32)
    y = np.zeros((3, 4, 1, 3), np.float32)
    if case == "missing_y":
        _write(p, x=x)
    elif case == "few_dims":
        _write(p, x=x[..., 0, 0], y=y)
    elif case == "mismatch":
        _write(p, x=x, y=y[:2])
    elif case == "one_task":
        _write(p, x=x[:1], y=y[:1])
    elif case == "nonfinite":
        x[0, 0, 0, 0] = np.nan
        _write(p, x=x, y=y)
    elif case == "strings":
        _write(p, x=np.full((3, 4, 1), "a"), y=y)
    elif case == "pickled":
        _write(p, x=np.array([{"a": 1}, None], dtype=object), y=y)
    elif case == "garbage":
        p.write_bytes(b"PK\x03\x04 this is not a zip")
    elif case == "npy":
        p = tmp_path / "a.npy"
        np.save(p, x)
    elif case == "absent":
        p = tmp_path / "nothing.npz"
    with pytest.raises(MetasymError, match=match) as e:
        load_npz(p)
    assert "\n" not in str(e.value)


# ----- comparison measures --------------------------------------------------------------------
def _ari_brute_force(a, b):
    """Pair counting straight from the definition (Hubert & Arabie): O(n^2) pairs."""
    n = len(a)
    pairs = list(itertools.combinations(range(n), 2))
    same_a = np.array([a[i] == a[j] for i, j in pairs])
    same_b = np.array([b[i] == b[j] for i, j in pairs])
    index = float(np.sum(same_a & same_b))
    sa, sb, total = float(same_a.sum()), float(same_b.sum()), float(len(pairs))
    expected = sa * sb / total
    mx = (sa + sb) / 2
    return 1.0 if mx == expected else (index - expected) / (mx - expected)


def test_ari_matches_brute_force_pair_counting():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n = int(rng.integers(2, 40))
        a = rng.integers(-1, rng.integers(1, 6), n)
        b = a.copy() if rng.random() < 0.2 else rng.integers(-1, rng.integers(1, 6), n)
        if rng.random() < 0.3:  # perturb a few items
            b[rng.integers(0, n, 2)] = 7
        assert adjusted_rand_index(a, b) == pytest.approx(_ari_brute_force(a, b), abs=1e-12)


def test_ari_basic_properties():
    a = np.array([0, 0, 1, 1, 2, 2, -1])
    relabelled = np.array([5, 5, 9, 9, 1, 1, 3])
    assert adjusted_rand_index(a, relabelled) == 1.0
    assert adjusted_rand_index(a, np.arange(7)) < 0.5
    with pytest.raises(MetasymError):
        adjusted_rand_index([0, 1], [0, 1, 2])


def test_subspace_distance():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((10, 3))
    assert subspace_distance(A, A @ rng.standard_normal((3, 3))) < 1e-10
    e = np.eye(4)
    assert subspace_distance(e[:, :2], e[:, 2:]) == pytest.approx(1.0)
    th = 0.3  # one principal angle of 0.3 rad
    B = np.stack([e[:, 0], np.cos(th) * e[:, 1] + np.sin(th) * e[:, 2]], axis=1)
    assert subspace_distance(e[:, :2], B) == pytest.approx(np.sin(th))
    assert subspace_distance(e[:, :2], B, "rms") == pytest.approx(np.sin(th) / np.sqrt(2))


@pytest.mark.parametrize("pattern", ["conv", "cyclic"])
def test_recover_partition_from_a_mixed_noisy_basis(pattern):
    from metasym.groups import cyclic, natural
    from metasym.representations import sharing_pattern

    P = conv1d(20, 3) if pattern == "conv" else sharing_pattern(natural(cyclic(6)),
                                                                 natural(cyclic(6)))
    rng = np.random.default_rng(1)
    U = P.basis().astype(float) @ rng.standard_normal((P.dimension, P.dimension))
    U += 1e-3 * rng.standard_normal(U.shape)
    rec = recover_partition(U, P.shape)
    assert np.array_equal(rec, P.labels)
    assert adjusted_rand_index(P.labels, rec) == 1.0
    # a random U has no sharing structure
    assert adjusted_rand_index(P.labels, recover_partition(rng.standard_normal(U.shape),
                                                           P.shape)) < 0.5


def test_shift_equivariance_error():
    P = conv1d(12, 3)
    W = P.weight(np.array([1.0, -2.0, 0.5]))
    assert shift_equivariance_error(W) == pytest.approx(0.0)
    W2 = W.copy()
    W2[3, 4] += 1.0
    assert shift_equivariance_error(W2) > 0.1


def test_mean_ci95_uses_student_t():
    from scipy import stats

    a = np.array([0.1, 0.4, 0.2, 0.3])
    m, h = mean_ci95(a)
    lo, hi = stats.t.interval(0.95, 3, loc=a.mean(), scale=stats.sem(a))
    assert m == pytest.approx(a.mean()) and h == pytest.approx(hi - a.mean())
