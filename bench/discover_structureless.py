"""Benchmark: ``discover`` on layers with no sharing, and on one with real structure.

Issue 17: a structureless 30x30 layer (a Gaussian 900 x 900 ``U``: 900 parameters) ran
for minutes and 60x60 for 395 s, outside the time limit. Times, in this process on one
thread, the clustering (``pattern_from_U``) of structureless ``U`` of shape ``(n^2, k)``
(``k = n^2``: every entry could be its own parameter; ``k = n``) and of ``T = 20``
structureless weight matrices, for n = 12, 30, 60; then a learned-like ``U`` of an exact
pattern (rotoflips:6 on a 6x6 grid, 36 x 36 layer, mixed and with 0.1% noise) through the
whole of ``discover`` (clustering, automorphism group, name).

    OMP_NUM_THREADS=1 python bench/discover_structureless.py
    OMP_NUM_THREADS=1 python bench/discover_structureless.py --sizes 12 30
"""

from __future__ import annotations

import argparse
import time

import numpy as np


def _time(f, *args):
    t0 = time.perf_counter()
    out = f(*args)
    return time.perf_counter() - t0, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[12, 30, 60])
    args = ap.parse_args()

    from metasym.cli.discover import discover
    from metasym.discovery.clustering import pattern_from_U, pattern_from_weights
    from metasym.groups import natural, rotoflips
    from metasym.representations import sharing_pattern

    rng = np.random.default_rng(0)
    print(f"{'input':<34} {'seconds':>8}  result")
    for n in args.sizes:
        N = n * n
        for k in (N, n):
            U = rng.standard_normal((N, k))
            dt, (P, info) = _time(pattern_from_U, U, (n, n))
            print(f"{f'U {N}x{k} ({n}x{n} layer)':<34} {dt:8.2f}  "
                  f"significant={info['significant']}, {P.dimension} parameters, "
                  f"null samples {info['null_samples']}")
        W = rng.standard_normal((20, n, n))
        dt, (P, info) = _time(pattern_from_weights, W)
        print(f"{f'W 20x{n}x{n}':<34} {dt:8.2f}  significant={info['significant']}, "
              f"null samples {info['null_samples']}")
    G = rotoflips(6)
    P = sharing_pattern(natural(G), natural(G))
    U = P.basis() @ rng.standard_normal((P.dimension, P.dimension))
    U += 1e-3 * np.sqrt(np.mean(U ** 2)) * rng.standard_normal(U.shape)

    def whole():
        Q, info = pattern_from_U(U, P.shape)
        res, _ = discover(Q)
        return Q, info, res

    dt, (Q, info, res) = _time(whole)
    print(f"{f'learned-like rotoflips:6 U {U.shape[0]}x{U.shape[1]}':<34} {dt:8.2f}  "
          f"recovered={Q == P}, significant={info['significant']}, order {res['order']}, "
          f"identified {res['identified_as']}")


if __name__ == "__main__":
    main()
