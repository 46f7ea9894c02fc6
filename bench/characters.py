"""Benchmark: exact character tables, side by side with GAP when it is installed.

Each group runs in a fresh Python process (cold caches), timed inside it around
:func:`metasym.representations.character_table` only; peak memory is that process's
``resource.getrusage`` maximum resident size (imports included). When ``gap`` is on
``PATH`` the same group is given to GAP in a fresh process: ``CharacterTable(G)`` then
``Irr(...)``, timed inside GAP with ``Runtime()`` (milliseconds; for two products GAP's
``CharacterTableDirectProduct`` of the factors' tables, see ``CASES``). The two results are
compared where both exist: class sizes with element orders, degrees, and the
Frobenius-Schur indicators with the degrees (as multisets: the orders of rows and columns
differ). GAP is optional: without it only metasym's columns are printed. A group metasym
refuses prints ``refused: <message>`` (it does not stop the run).

    python bench/characters.py                 # the table (GAP column when installed)
    python bench/characters.py --check         # also time check_character_table
    python bench/characters.py --json          # one JSON object per group
    python bench/characters.py --only M11 S9   # some groups
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

#: Standard permutation generators printed by GAP 4.12 (``MathieuGroup(n)``, ``PSL(2,31)``;
#: points shifted to 0-based), shared with ``bench/characters_generic.py``.
_GENERATORS = {g["name"]: g["spec"] for g in json.loads(
    (Path(__file__).with_name("permutation_groups.json")).read_text())}
M11, M12, M22, PSL2_31 = (_GENERATORS[k] for k in ("M11", "M12", "M22", "PSL2_31"))

#: ``(name, metasym spec, GAP group expression or "table:" + a GAP table expression)``.
CASES = [
    ("S7xC2", "product(symmetric:7,cyclic:2)",
     "DirectProduct(SymmetricGroup(7), CyclicGroup(IsPermGroup, 2))"),
    ("M11", M11, "MathieuGroup(11)"),
    ("PSL(2,31)", PSL2_31, "PSL(2,31)"),
    ("M12", M12, "MathieuGroup(12)"),
    ("S9", "symmetric:9", "SymmetricGroup(9)"),
    ("M22", M22, "MathieuGroup(22)"),
    ("S12", "symmetric:12", "SymmetricGroup(12)"),
    ("A12", "alternating:12", "AlternatingGroup(12)"),
    ("S20", "symmetric:20", "SymmetricGroup(20)"),
    ("A20", "alternating:20", "AlternatingGroup(20)"),
    ("S9xC2", "product(symmetric:9,cyclic:2)",
     "DirectProduct(SymmetricGroup(9), CyclicGroup(IsPermGroup, 2))"),
    # GAP 4.12 (Debian) fails on ConjugacyClasses of this product group ("no method for
    # NrMovedPoints"); its own tensor product of the factors' tables is compared instead
    ("A8xS5", "product(alternating:8,symmetric:5)",
     "table:CharacterTableDirectProduct(CharacterTable(AlternatingGroup(8)), "
     "CharacterTable(SymmetricGroup(5)))"),
    ("S10xA5xC3", "product(symmetric:10,alternating:5,cyclic:3)",
     "table:CharacterTableDirectProduct(CharacterTableDirectProduct("
     "CharacterTable(SymmetricGroup(10)), CharacterTable(AlternatingGroup(5))), "
     "CharacterTable(CyclicGroup(IsPermGroup, 3)))"),
]

_CHILD = r"""
import json, resource, sys, time
from collections import Counter
from pathlib import Path
spec, check = sys.argv[1], sys.argv[2] == "1"
from metasym.errors import MetasymError
from metasym.groups import parse_group
from metasym.representations import character_table
G = parse_group(spec)
out = {"order": str(G.order)}
try:
    t0 = time.perf_counter()
    T = character_table(G)
    out["seconds"] = time.perf_counter() - t0
except MetasymError as e:
    out["refused"] = str(e)
else:
    out.update(classes=T.n_classes, method=T.method,
               sizes=sorted([c.element_order, c.size] for c in T.classes),
               degrees=sorted(T.degrees),
               indicators=sorted([d, v] for d, v in zip(T.degrees, T.indicators)))
    if check:
        from metasym.representations.theorems import check_character_table
        t0 = time.perf_counter()
        res = check_character_table(T)
        out["check_seconds"] = time.perf_counter() - t0
        out["checks"] = {r.status: sum(1 for x in res if x.status == r.status) for r in res}
out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print("RESULT " + json.dumps(out))
"""

_GAP = """G := {group};;
t := Runtime();;
T := {table};;
irr := Irr(T);;
t := Runtime() - t;;
ind := Indicator(T, 2);;
Print("RESULT ", t, "\\n");
Print("SIZES ", SizesConjugacyClasses(T), "\\n");
Print("ORDERS ", OrdersClassRepresentatives(T), "\\n");
Print("DEGREES ", List(irr, x -> x[1]), "\\n");
Print("INDICATORS ", ind, "\\n");
QUIT;
"""


def run_metasym(spec: str, check: bool, timeout: float) -> dict:
    """One group in a fresh Python process."""
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, spec, "1" if check else "0"],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"refused": f"timed out after {timeout:g} s"}
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"refused": f"crashed: {tail}"}
    return json.loads(line[7:])


def _gap_list(text: str, key: str) -> list[int]:
    m = re.search(key + r" \[(.*?)\]", text, re.S)
    if not m:
        raise ValueError(f"no {key} in GAP's output")
    return [int(x) for x in re.sub(r"\\\n", "", m.group(1)).replace("\n", " ").split(",")
            if x.strip()]


def run_gap(expr: str, gap: str, timeout: float) -> dict:
    """One group in a fresh GAP process (time measured inside GAP, in ms)."""
    with tempfile.NamedTemporaryFile("w", suffix=".g", delete=False) as f:
        if expr.startswith("table:"):  # a table expression (timed with its factors)
            f.write(_GAP.format(group="TrivialGroup()", table=expr[6:]))
        else:
            f.write(_GAP.format(group=expr, table="CharacterTable(G)"))
        path = f.name
    try:
        proc = subprocess.run([gap, "-q", "-b", path], capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:g} s"}
    finally:
        os.unlink(path)
    text = proc.stdout
    m = re.search(r"RESULT (\d+)", text)
    if not m:
        return {"error": (proc.stderr.strip() or text.strip() or "no output")[-200:]}
    sizes, orders = _gap_list(text, "SIZES"), _gap_list(text, "ORDERS")
    degrees, ind = _gap_list(text, "DEGREES"), _gap_list(text, "INDICATORS")
    return {"seconds": int(m.group(1)) / 1000,
            "sizes": sorted([o, s] for o, s in zip(orders, sizes)),
            "degrees": sorted(degrees),
            "indicators": sorted([d, v] for d, v in zip(degrees, ind))}


def agree(ours: dict, gap: dict) -> str:
    """``"yes"`` or what differs (class sizes and orders, degrees, indicators)."""
    bad = [k for k in ("sizes", "degrees", "indicators")
           if Counter(map(tuple, ours[k]) if k != "degrees" else ours[k])
           != Counter(map(tuple, gap[k]) if k != "degrees" else gap[k])]
    return "yes" if not bad else "NO: " + ",".join(bad)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="one JSON object per group")
    parser.add_argument("--check", action="store_true",
                        help="also time check_character_table (exact theorem checks)")
    parser.add_argument("--no-gap", action="store_true", help="skip GAP even if installed")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="run only these groups (names as printed)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds per group and program")
    args = parser.parse_args()
    gap = None if args.no_gap else shutil.which("gap")
    cases = [c for c in CASES if args.only is None or c[0] in args.only]
    if not args.json:
        print(f"{'group':<11} {'order':>22} {'classes':>7} {'metasym s':>10} "
              f"{'GAP s':>8} {'ratio':>7} {'peak MB':>8} {'check s':>8}  agree with GAP")
    for name, spec, expr in cases:
        ours = run_metasym(spec, args.check, args.timeout)
        theirs = run_gap(expr, gap, args.timeout) if gap else None
        row = {"group": name, "spec": spec, "metasym": ours, "gap": theirs}
        if "refused" not in ours and theirs and "error" not in theirs:
            row["agree"] = agree(ours, theirs)
        if args.json:
            print(json.dumps(row))
            continue
        order = ours.get("order", "?")
        if "refused" in ours:
            ms, classes, peak, chk = "-", "-", "-", "-"
            note = "refused: " + ours["refused"][:150]
        else:
            ms, classes = f"{ours['seconds']:.3f}", str(ours["classes"])
            peak = f"{ours['peak_mb']:.0f}"
            chk = f"{ours['check_seconds']:.2f}" if "check_seconds" in ours else "-"
            note = row.get("agree", "")
            if "checks" in ours and set(ours["checks"]) != {"pass"}:
                note += f" checks {ours['checks']}"
        if theirs is None:
            gs, ratio = "-", "-"
        elif "error" in theirs:
            gs, ratio = "error", "-"
            note += f" (GAP: {theirs['error'][:80]})"
        else:
            gs = f"{theirs['seconds']:.3f}"
            ratio = ("-" if "refused" in ours else
                     f"{ours['seconds'] / max(theirs['seconds'], 1e-3):.2f}")
        print(f"{name:<11} {order:>22} {classes:>7} {ms:>10} {gs:>8} {ratio:>7} {peak:>8} "
              f"{chk:>8}  {note}", flush=True)


if __name__ == "__main__":
    main()
