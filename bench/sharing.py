"""Benchmark: exact sharing patterns from generators.

For each case prints the seconds (median of repeats) and peak Python-tracked memory of
:func:`metasym.representations.sharing_pattern`, the seconds that
``scipy.sparse.csgraph.connected_components`` alone takes on the same pair graph, and,
where it fits in memory, a dense-nullspace baseline (SVD of the stacked generator
constraints :math:`\\rho_Y(s) \\otimes I - I \\otimes \\rho_X(s)^T`), with the ratios.

    python bench/sharing.py            # table
    python bench/sharing.py --json     # one JSON object per case
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import tracemalloc

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from metasym.groups import parse_action, parse_group
from metasym.representations import sharing_pattern

CASES = [
    ("translations:28x28", "natural", "natural"),
    ("cyclic:1024", "natural", "natural"),
    ("symmetric:20", "tensor(natural,natural)", "tensor(natural,natural)"),
    ("rotoflips:15", "natural", "natural"),
    # small companions where the dense baseline fits
    ("translations:6x6", "natural", "natural"),
    ("cyclic:48", "natural", "natural"),
    ("symmetric:6", "tensor(natural,natural)", "tensor(natural,natural)"),
    ("rotoflips:7", "natural", "natural"),
]
DENSE_BASELINE_MAX_PAIRS = 2500  # SVD of a (gens*mn) x mn matrix: ~ mn^3 flops


def _median_time(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def _pair_graph(a_in, a_out) -> sp.csr_matrix:
    n, m = a_in.degree, a_out.degree
    rows, cols = [], []
    for s_in, s_out in zip(a_in.generator_images, a_out.generator_images):
        rows.append(np.arange(m * n))
        cols.append((s_out[:, None] * n + s_in[None, :]).ravel())
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.ones(r.size, dtype=np.int8), (r, c)), shape=(m * n, m * n))


def _dense_nullspace_dim(a_in, a_out) -> int:
    n, m = a_in.degree, a_out.degree
    blocks = []
    for s_in, s_out in zip(a_in.generator_images, a_out.generator_images):
        P_out = np.zeros((m, m))
        P_out[s_out, np.arange(m)] = 1
        P_in = np.zeros((n, n))
        P_in[s_in, np.arange(n)] = 1
        blocks.append(np.kron(P_out, np.eye(n)) - np.kron(np.eye(m), P_in.T))
    A = np.vstack(blocks)
    s = np.linalg.svd(A, compute_uv=False)
    tol = max(A.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    return int(m * n - np.sum(s > tol))


def run_case(group: str, act_in: str, act_out: str, repeats: int) -> dict:
    G = parse_group(group)
    a_in, a_out = parse_action(act_in, G), parse_action(act_out, G)
    pattern = sharing_pattern(a_in, a_out)  # warm-up (imports, caches of the actions)
    graph = _pair_graph(a_in, a_out)
    # interleaved, so that load from elsewhere on the machine hits both alike
    ours, cc = [], []
    for _ in range(repeats):
        ours.append(_median_time(lambda: sharing_pattern(a_in, a_out), 1)[0])
        cc.append(_median_time(
            lambda: connected_components(graph, directed=True, connection="weak"), 1)[0])
    seconds, cc_seconds = statistics.median(ours), statistics.median(cc)
    n_cc = connected_components(graph, directed=True, connection="weak")[0]
    tracemalloc.start()
    sharing_pattern(a_in, a_out)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    pairs = a_in.degree * a_out.degree
    row = {
        "case": f"{group} {act_in}->{act_out}",
        "shape": [a_out.degree, a_in.degree],
        "dimension": pattern.dimension,
        "seconds": seconds,
        "peak_mib": peak / 2**20,
        "bytes_per_pair": peak / pairs,
        "connected_components_seconds": cc_seconds,
        "ratio_vs_connected_components": seconds / cc_seconds,
        "dense_baseline_seconds": None,
        "speedup_vs_dense": None,
    }
    assert n_cc == pattern.dimension
    if pairs <= DENSE_BASELINE_MAX_PAIRS:
        dense_seconds, dim = _median_time(lambda: _dense_nullspace_dim(a_in, a_out), 1)
        assert dim == pattern.dimension, (dim, pattern.dimension)
        row["dense_baseline_seconds"] = dense_seconds
        row["speedup_vs_dense"] = dense_seconds / seconds
    else:
        gib = (len(a_in.generator_images) * pairs) * pairs * 8 / 2**30
        row["dense_baseline_note"] = f"skipped: the constraint matrix alone needs {gib:,.0f} GiB"
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="one JSON object per case")
    ap.add_argument("--repeats", type=int, default=11)
    args = ap.parse_args()
    if not args.json:
        print(f"{'case':<58} {'dim':>6} {'seconds':>8} {'peak MiB':>9} {'B/pair':>7} "
              f"{'cc s':>8} {'x cc':>5} {'dense s':>8} {'speedup':>8}")
    for case in CASES:
        row = run_case(*case, repeats=args.repeats)
        if args.json:
            print(json.dumps(row))
            continue
        dense = (f"{row['dense_baseline_seconds']:8.3f} {row['speedup_vs_dense']:7.0f}x"
                 if row["dense_baseline_seconds"] is not None else f"{'-':>8} {'-':>8}")
        print(f"{row['case']:<58} {row['dimension']:>6} {row['seconds']:8.4f} "
              f"{row['peak_mib']:9.1f} {row['bytes_per_pair']:7.1f} "
              f"{row['connected_components_seconds']:8.4f} "
              f"{row['ratio_vs_connected_components']:5.2f} {dense}")


if __name__ == "__main__":
    main()
