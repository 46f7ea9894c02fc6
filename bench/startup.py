"""Benchmark: whole-process start-up and the paper's protocol run, as a user runs them.

Times, as separate processes interleaved round by round (so a busy machine slows them
alike), the median wall time of:

* ``metasym --version`` and ``metasym --help`` (they must import neither torch nor sympy;
  checked and printed);
* ``python -c "import torch"`` (the floor any torch program pays);
* the paper's protocol run, ``metasym train --problem rank1 --steps 1000`` (1 inner step,
  32 tasks per step, evaluation every 100 steps on 300 held-out tasks, checkpoints), on
  one thread, into a fresh run folder;

and prints them with the ratio to the reference implementation's whole run (38-44 s for
the same run on this kind of machine, ``../shared/docs/reference-numbers.md``).

    python bench/startup.py              # 5 rounds
    python bench/startup.py --rounds 3 --json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from metasym.durations import seconds

#: the reference implementation's whole-process time for the same run (seconds, range)
REFERENCE_SECONDS = seconds("reference-rank1-run")  # metasym/durations.py


def _metasym() -> list[str]:
    return [sys.executable, "-m", "metasym"]


def _timed(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - t0


def _imports_heavy(args: list[str]) -> dict[str, bool]:
    code = (f"import sys\nfrom metasym.cli import main\ntry:\n    main({args!r})\n"
            "except SystemExit:\n    pass\n"
            "print(int('torch' in sys.modules), int('sympy' in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()[-2:]
    return {"torch": out[0] == "1", "sympy": out[1] == "1"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    work = Path(tempfile.mkdtemp(prefix="metasym-startup-"))
    cases = {
        "metasym --version": _metasym() + ["--version"],
        "metasym --help": _metasym() + ["--help"],
        "python -c 'import torch'": [sys.executable, "-c", "import torch"],
        "train rank1, 1000 steps": None,
    }
    times: dict[str, list[float]] = {k: [] for k in cases}
    try:
        for r in range(args.rounds):
            for name, argv in cases.items():
                if argv is None:
                    run = work / f"run{r}"
                    argv = _metasym() + ["train", "--problem", "rank1", "--steps", "1000",
                                         "--threads", "1", "--quiet", "--out", str(run)]
                times[name].append(_timed(argv, env))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    train = med["train rank1, 1000 steps"]
    result = {
        "rounds": args.rounds, "median_seconds": med,
        "range_seconds": {k: [min(v), max(v)] for k, v in times.items()},
        "version_imports": _imports_heavy(["--version"]),
        "help_imports": _imports_heavy(["--help"]),
        "reference_seconds": list(REFERENCE_SECONDS),
        "speedup_vs_reference": [REFERENCE_SECONDS[0] / train, REFERENCE_SECONDS[1] / train],
        "train_minus_torch_import": train - med["python -c 'import torch'"],
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"{'command':32s} {'median s':>9s} {'range s':>16s}")
    for k, v in times.items():
        print(f"{k:32s} {med[k]:9.3f} {min(v):7.3f}-{max(v):7.3f}")
    print(f"--version imports torch/sympy: {result['version_imports']}; "
          f"--help: {result['help_imports']}")
    lo, hi = result["speedup_vs_reference"]
    print(f"protocol run: {train:.2f} s = {lo:.1f}x-{hi:.1f}x faster than the reference's "
          f"{REFERENCE_SECONDS[0]:.0f}-{REFERENCE_SECONDS[1]:.0f} s; "
          f"{result['train_minus_torch_import']:.2f} s beyond importing torch")


if __name__ == "__main__":
    main()
