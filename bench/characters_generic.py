"""Benchmark: character tables of permutation groups given by generators, side by side
with GAP.

Each group of ``bench/permutation_groups.json`` (generators printed by GAP 4.12 from
``MathieuGroup(11)``, ``PSL(2,31)``, ... and shifted to points ``0..n-1``) is computed in a
fresh process. Reported: ``character_table(G, method=...)``'s own ``seconds`` (wall
clock) and CPU time (comparable with GAP's ``Runtime()``, which is CPU time, on a shared
machine), the whole process's wall time (Python start, imports, parsing included), its
peak resident memory (up to the table, and with the checks), and whether
:func:`~metasym.representations.theorems.check_character_table` passes. With ``--gap``
(and ``gap`` on the PATH; GAP is an optional comparison, never a dependency) it also
times ``Irr(CharacterTable(G))`` inside GAP (``Runtime()``, one fresh ``gap -q`` per
repeat) on the same generators.

    python bench/characters_generic.py                 # the default cases, search method
    python bench/characters_generic.py --gap --repeats 3
    python bench/characters_generic.py --only M22 PSL2_64 --method search --json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(__file__).with_name("permutation_groups.json")
#: Cases run unless ``--only`` names others (PSL(2,125) and M23 take minutes).
DEFAULT = ["M11", "S7xC2", "PSL2_31", "M12", "M22", "S4wrS3", "PSU3_5", "PSL3_5", "PSL2_64"]

CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
from metasym.groups import parse_group
from metasym.representations.characters import character_table
from metasym.representations.theorems import check_character_table
spec, method = sys.argv[1], sys.argv[2]
G = parse_group(spec)
c0 = time.process_time()
T = character_table(G, method=method)
cpu = time.process_time() - c0
seconds = T.seconds
wall = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
ok = all(r.status in ("pass", "skipped") for r in check_character_table(T))
print(json.dumps({"order": T.order, "classes": T.n_classes, "seconds": seconds, "cpu": cpu,
                  "wall_to_table": wall, "checks": ok, "method": T.method, "peak_mb": peak,
                  "peak_with_checks_mb":
                  resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def gap_generators(spec: str) -> str:
    """``perm:n:(0 1)(2 3);...`` as GAP generators on points ``1..n``."""
    body = spec.split(":", 2)[2]
    gens = []
    for g in body.split(";"):
        g = g.strip()
        gens.append("()" if g == "()" else re.sub(
            r"\d+", lambda m: str(int(m.group()) + 1), g.replace(" ", ",")))
    return ",".join(gens)


def run_metasym(spec: str, method: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, spec, method], capture_output=True,
                         text=True, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if out.returncode:
        return {"error": out.stderr.strip().splitlines()[-1]}
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["process_wall"] = wall
    return row


def run_gap(spec: str) -> float | None:
    if shutil.which("gap") is None:
        return None
    script = (f"G:=Group({gap_generators(spec)});; t:=Runtime();; Irr(CharacterTable(G));; "
              "Print(Runtime()-t, \"\\n\");; QUIT;")
    out = subprocess.run(["gap", "-q"], input=script, capture_output=True, text=True,
                         timeout=3600)
    return int(out.stdout.strip().splitlines()[-1]) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="case names (see the JSON file)")
    parser.add_argument("--method", default="search", choices=("auto", "search", "enumerate"))
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--gap", action="store_true", help="also time GAP (if installed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    cases = {c["name"]: c for c in json.loads(DATA.read_text())}
    for name in args.only or DEFAULT:
        case = cases[name]
        rows = [run_metasym(case["spec"], args.method) for _ in range(args.repeats)]
        if any("error" in r for r in rows):
            print(f"{name:<9} error: {next(r for r in rows if 'error' in r)['error']}")
            continue
        gap = [run_gap(case["spec"]) for _ in range(args.repeats)] if args.gap else []
        res = {"group": name, "gap_name": case["gap"], "order": rows[0]["order"],
               "classes": rows[0]["classes"],
               "metasym_s": [round(r["seconds"], 3) for r in rows],
               "metasym_cpu_s": [round(r["cpu"], 3) for r in rows],
               "process_s": [round(r["process_wall"], 2) for r in rows],
               "peak_mb": round(max(r["peak_mb"] for r in rows), 1),
               "peak_with_checks_mb": round(max(r["peak_with_checks_mb"] for r in rows), 1),
               "checks": all(r["checks"] for r in rows),
               "gap_s": [g for g in gap if g is not None], "method": rows[0]["method"]}
        if args.json:
            print(json.dumps(res), flush=True)
            continue
        gap_text = (f"{min(res['gap_s']):.2f}-{max(res['gap_s']):.2f}" if res["gap_s"]
                    else "-")
        print(f"{name:<9} order {res['order']:>8}  classes {res['classes']:>3}  "
              f"GAP {gap_text:>11} s  metasym {statistics.median(res['metasym_s']):7.3f} s "
              f"(cpu {statistics.median(res['metasym_cpu_s']):7.3f} s)  "
              f"process {statistics.median(res['process_s']):6.2f} s  "
              f"peak {res['peak_mb']:6.0f} MB  {'ok' if res['checks'] else 'CHECKS FAILED'}",
              flush=True)


if __name__ == "__main__":
    main()
