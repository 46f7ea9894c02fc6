"""Benchmark: equivariant bases of D4 acting on planar vector fields on a k x k grid.

The representation is the grid permutation (``rotoflips(k)``) tensored with the 2-D
rotation/reflection matrices (degree ``2 k^2``); the basis is of the maps from it to
itself (``4 k^4`` unknowns). For each grid it times, in the same run,

* ``svd``: the float SVD nullspace (``method="nullspace", exact=False``), only where it is
  within its limits (``FLOAT_NULLSPACE_LIMIT`` unknowns: the 4 x 4 grid is the largest);
* ``orbit``: the orbit method (sparse, exact rational);
* ``schur``: the Schur-lemma method (float64; structured above ``DENSE_BASIS_CELLS``),

with the dimension (checked against the character formula), the residual and the peak
Python-heap memory (tracemalloc, which sees NumPy's buffers). Ratios are to the SVD time
on the same grid, or to the orbit time where there is no SVD.

    python bench/equivariant_basis.py                  # grids 4, 8, 16 (the target), 24
    python bench/equivariant_basis.py --grids 4 16 --json
    python bench/equivariant_basis.py --grids 16 --process   # whole-process time and peak RSS

``--process`` runs each (grid, method) once in a fresh interpreter, as a user would, and
reports the whole process: wall time from start to exit (imports included), the time of the
basis call alone and the peak resident memory (``ru_maxrss``), without tracemalloc's
overhead.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

from metasym.groups import natural, rotoflips
from metasym.representations import LinearRepresentation, equivariant_basis
from metasym.representations.linear import FLOAT_NULLSPACE_LIMIT
from metasym.representations.schur import hom_dimension


def field(k: int) -> LinearRepresentation:
    G = rotoflips(k)
    vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
    return LinearRepresentation.from_permutation(natural(G)) * vec


def measure(k: int, method: str, repeats: int) -> dict:
    times, peak, B = [], 0, None
    for _ in range(repeats):
        F = field(k)  # fresh: nothing cached between repeats
        tracemalloc.start()
        t0 = time.perf_counter()
        if method == "svd":
            B = equivariant_basis(F, F, method="nullspace", exact=False)
        else:
            B = equivariant_basis(F, F, method=method)
        times.append(time.perf_counter() - t0)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    F = field(k)
    return {"grid": k, "method": method, "degree": F.degree, "unknowns": F.degree ** 2,
            "dimension": B.dimension, "character_formula": hom_dimension(F, F),
            "residual": B.residual, "seconds": round(statistics.median(times), 4),
            "peak_mb": round(peak / 2**20, 1), "kind": type(B.basis).__name__}


_PROCESS_SCRIPT = """
import resource, sys, time
from metasym.representations import equivariant_basis
sys.path.insert(0, {bench!r})
from equivariant_basis import field
F = field({k})
t0 = time.perf_counter()
B = (equivariant_basis(F, F, method="nullspace", exact=False) if {method!r} == "svd"
     else equivariant_basis(F, F, method={method!r}))
print(time.perf_counter() - t0, B.dimension, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def measure_process(k: int, method: str) -> dict:
    """One fresh interpreter: whole-process wall time, basis time, peak resident memory."""
    script = _PROCESS_SCRIPT.format(bench=str(Path(__file__).parent),
                                    k=k, method=method)
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True,
                         text=True).stdout.split()
    wall = time.perf_counter() - t0
    return {"grid": k, "method": method, "process_seconds": round(wall, 3),
            "basis_seconds": round(float(out[0]), 3), "dimension": int(out[1]),
            "peak_rss_mb": round(int(out[2]) / 1024, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grids", type=int, nargs="+", default=[4, 8, 16, 24])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--process", action="store_true",
                        help="whole-process time and peak RSS, one fresh interpreter per case")
    args = parser.parse_args()
    if args.process:
        for k in args.grids:
            methods = (["svd"] if (2 * k * k) ** 2 <= FLOAT_NULLSPACE_LIMIT else []) + ["orbit", "schur"]
            for method in methods:
                row = measure_process(k, method)
                print(json.dumps(row) if args.json else
                      f"grid {k:>2}x{k:<2} {method:<6} dim {row['dimension']:>7}  whole process "
                      f"{row['process_seconds']:>6.2f} s  (basis {row['basis_seconds']:.3f} s)  "
                      f"peak RSS {row['peak_rss_mb']:>7.1f} MB")
        return
    for k in args.grids:
        methods = (["svd"] if (2 * k * k) ** 2 <= FLOAT_NULLSPACE_LIMIT else []) + ["orbit", "schur"]
        rows = [measure(k, m, args.repeats) for m in methods]
        ref = rows[0]["seconds"]
        for row in rows:
            row["ratio_to_" + rows[0]["method"]] = round(row["seconds"] / ref, 3) if ref else None
            if args.json:
                print(json.dumps(row))
            else:
                ok = "ok" if row["dimension"] == row["character_formula"] else "DIM MISMATCH"
                ratio = row["ratio_to_" + rows[0]["method"]]
                print(f"grid {k:>2}x{k:<2} {row['method']:<6} unknowns {row['unknowns']:>9}  "
                      f"dim {row['dimension']:>7} {ok}  residual {row['residual']:.1e}  "
                      f"{row['seconds']:>8.3f} s (x{ratio:<7} of {rows[0]['method']})  "
                      f"peak {row['peak_mb']:>7.1f} MB  {row['kind']}")


if __name__ == "__main__":
    main()
