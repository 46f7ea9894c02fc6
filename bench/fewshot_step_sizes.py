"""Experiment: how the few-shot inner loop's step sizes are set, chosen on held-out *training* alphabets.

Every configuration is one ``metasym train`` run of the CPU preset (5-way 1-shot glyphs,
32 channels, 5 queries, 500 outer steps of 8 episodes) with ``--eval-split validation``:
the test episodes come from every fourth *background* alphabet, held out of training, so
the choice never looks at the evaluation alphabets the table reports on. For each model
and step-size mode it prints the augmented and clean query accuracy on those episodes
(600, mean and 95% interval), every layer's final step size and how far the inner loop
moved each layer (``||W' - W0|| / ||W0||``, from ``metasym compare``).

Modes (``--step-sizes``): ``learned`` (per-tensor, meta-learned from ``--inner-lr``),
``fixed`` (kept at ``--inner-lr``), ``floor:F`` (learned, never below ``F``); and
``learned`` with two inner steps.

    python bench/fewshot_step_sizes.py                      # 8 runs, ~30 min on 2 cores
    python bench/fewshot_step_sizes.py --models maml --modes learned fixed
    python bench/fewshot_step_sizes.py --json

A rerun reuses finished run folders under ``--out`` and resumes interrupted ones.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

MODES = ("learned", "fixed", "floor:0.05", "learned x2")


def _run(out: Path, model: str, mode: str, augment: str, seed: int, threads: int) -> dict:
    name = f"{model}-{mode.replace(':', '').replace(' ', '')}"
    run = out / name
    steps_mode, inner_steps = (mode.split()[0], 2) if mode.endswith("x2") else (mode, 1)
    if not (run / "final.json").exists():
        cmd = [sys.executable, "-m", "metasym", "train", "--problem", "glyphs", "--model",
               model, "--ways", "5", "--shots", "1", "--augment", augment, "--eval-split",
               "validation", "--step-sizes", steps_mode, "--inner-steps", str(inner_steps),
               "--seed", str(seed), "--threads", str(threads), "--out", str(run),
               "--overwrite"]
        if (run / "checkpoint.safetensors").exists():  # interrupted: continue it
            cmd = [sys.executable, "-m", "metasym", "train", "--resume", str(run),
                   "--threads", str(threads)]
        print("+", " ".join(cmd[2:]), file=sys.stderr, flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    final = json.loads((run / "final.json").read_text())
    cmp = subprocess.run([sys.executable, "-m", "metasym", "compare", str(run), "--json"],
                         check=True, capture_output=True, text=True)
    report = json.loads(cmp.stdout)
    adaptation = {name: layer.get("adaptation") for name, layer in report["layers"].items()}
    return {"model": model, "mode": mode,
            "accuracy": final["test_accuracy_all"], "ci95": final["test_accuracy_all_ci95"],
            "accuracy_clean": final["test_accuracy_clean_all"],
            "step_sizes": final["step_sizes"], "adaptation": adaptation,
            "invariance": {t: v["relative_error"] for t, v in report["invariance"].items()},
            "seconds": final["seconds"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["maml", "msr-kron"])
    ap.add_argument("--modes", nargs="+", default=list(MODES))
    ap.add_argument("--augment", default="rot90,flip")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=Path("runs/step-sizes"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    rows = [_run(a.out, m, mode, a.augment, a.seed, a.threads) for m in a.models for mode in a.modes]
    if a.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"5-way 1-shot, augment {a.augment}, validation alphabets, 600 episodes")
    print("| model | step sizes | accuracy | clean | step size conv1..conv4, head "
          "| adaptation conv1..conv4, head | invariance error | s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        steps = " / ".join(f"{v:.3f}" for k, v in r["step_sizes"].items()
                           if not k.endswith("bias"))
        adapt = " / ".join(f"{v:.3f}" for v in r["adaptation"].values())
        inv = " / ".join(f"{t} {v:.2f}" for t, v in r["invariance"].items())
        print(f"| {r['model']} | {r['mode']} | {100 * r['accuracy']:.1f} +- "
              f"{100 * r['ci95']:.1f} | {100 * r['accuracy_clean']:.1f} | {steps} | {adapt} "
              f"| {inv} | {r['seconds']:.0f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
