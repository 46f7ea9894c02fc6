"""Benchmark: exact character tables (Burnside-Dixon modulo a prime) and their checks.

For each group prints its order, number of classes, the seconds of
:func:`metasym.representations.character_table` (median of repeats, each on a freshly
built group so nothing is cached) and of
:func:`metasym.representations.theorems.check_character_table`.

    python bench/characters.py            # table
    python bench/characters.py --json     # one JSON object per case
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from metasym.groups import parse_group
from metasym.representations import character_table
from metasym.representations.theorems import check_character_table

CASES = [
    "alternating:5",
    "product(symmetric:5,dihedral:4)",
    "alternating:7",
    "symmetric:7",
    "perm:11:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5)",  # M11, from generators only
    "product(symmetric:7,cyclic:2)",
    "product(symmetric:6,symmetric:4)",
    "translations:12x12",  # abelian: 144 classes
]


def run(spec: str, repeats: int) -> dict:
    times, T = [], None
    for _ in range(repeats):
        G = parse_group(spec)
        t0 = time.perf_counter()
        T = character_table(G)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    checks = check_character_table(T)
    check_seconds = time.perf_counter() - t0
    return {"group": spec, "order": T.order, "classes": T.n_classes,
            "table_seconds": round(statistics.median(times), 4),
            "check_seconds": round(check_seconds, 4),
            "checks_passed": all(r.passed for r in checks), "method": T.method}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    for spec in CASES:
        row = run(spec, args.repeats)
        if args.json:
            print(json.dumps(row))
        else:
            print(f"{row['group'][:40]:<40} order {row['order']:>6}  classes {row['classes']:>3}  "
                  f"table {row['table_seconds']:>7.3f} s  checks {row['check_seconds']:>7.3f} s  "
                  f"{'ok' if row['checks_passed'] else 'FAILED'}")


if __name__ == "__main__":
    main()
