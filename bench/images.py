"""Benchmark: meta-training on the image problems, ours versus a per-task loop in the
reference implementation's style, on ONE CPU thread, in the same process.

Problem ``rot8`` (C8 steerable lifting conv, 32x32 input, 24 output channels, 3x3 kernel),
32 tasks per outer step, 1 support + 19 query images, one second-order inner SGD step with
a learned step size, outer Adam -- the reference's protocol. Three implementations of
the same outer step, interleaved block by block so a busy machine slows them alike:

* ``baseline``: one task at a time -- ``conv2d`` on the task's images, the inner step by
  ``torch.autograd.grad(create_graph=True)``, the query loss, ``backward()`` per task
  (the reference's structure, with plain autograd instead of ``higher``; no per-task
  module copies, so if anything faster than the reference itself);
* ``direct``: all tasks at once from their images (im2col of every image, one batched
  matrix product per pass: :meth:`metasym.learning.learners.conv.ConvMetaLearner.direct_task_losses`);
* ``stats``: what ``metasym train`` uses -- per-task sufficient statistics, no images in
  the loop (:mod:`metasym.learning.data.images`; the statistics are computed once when the
  tasks are generated, reported separately as ``data seconds``).

Each is timed for ``maml-conv`` (the reference's Conv2d) and ``msr-conv-square`` (the
reference's MSR-Conv), plus our ``msr-conv``. ``--memory`` measures the peak resident
memory of one meta-training step on ``rot8_flip`` (48 channels) with 32 tasks, each path
in a fresh subprocess (``resource.getrusage``), minus the process's size before the step.

    python bench/images.py              # table
    python bench/images.py --memory     # and the memory table
    python bench/images.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import torch

from metasym.learning.data.images import make_image_tasks
from metasym.learning.engine.optim import make_outer_optimizer
from metasym.learning.learners.conv import build_conv_learner, loop_conv_task_losses

#: The reference implementation on reduced rot8, one thread (reference-numbers.md).
REFERENCE_STEPS_PER_S = {"maml-conv": 8.8, "msr-conv-square": 6.9}


def _setup(problem: str, model: str, n_tasks: int, image_tasks: int, seed: int = 0):
    ts = make_image_tasks(problem, n_tasks=n_tasks, seed=seed)
    torch.manual_seed(0)
    learner = build_conv_learner(ts.problem, model)
    x, y = ts.images(range(image_tasks))  # images of a few tasks for the image paths
    return ts, learner, torch.from_numpy(x), torch.from_numpy(y)


def _step(kind: str, learner, opt, ts, x, y, gen) -> None:
    T = 32
    opt.zero_grad(set_to_none=True)
    if kind == "stats":
        idx = torch.randint(ts.n_train, (T,), generator=gen)
        learner.backward_meta_loss(ts.stats.select(idx))
    else:
        idx = torch.randint(x.shape[0], (T,), generator=gen)
        xb, yb = x[idx], y[idx]
        xs, ys, xq, yq = xb[:, :1], yb[:, :1], xb[:, 1:], yb[:, 1:]
        if kind == "direct":
            learner.direct_task_losses(xs, ys, xq, yq).mean().backward()
        else:  # baseline: one task, one backward at a time
            for t in range(T):
                (loop_conv_task_losses(learner, xs[t:t + 1], ys[t:t + 1], xq[t:t + 1],
                                       yq[t:t + 1])[0] / T).backward()
    opt.step()


def speed(problem: str = "rot8", steps: dict[str, int] | None = None, rounds: int = 3
          ) -> list[dict]:
    torch.set_num_threads(1)
    steps = steps or {"baseline": 6, "direct": 6, "stats": 200}
    rows = []
    for model in ("maml-conv", "msr-conv-square", "msr-conv"):
        t0 = time.perf_counter()
        ts, learner, x, y = _setup(problem, model, n_tasks=500, image_tasks=64)
        data_s = time.perf_counter() - t0
        opt = make_outer_optimizer(learner.meta_parameters(), 1e-3, torch.device("cpu"))
        gen = torch.Generator().manual_seed(0)
        times: dict[str, list[float]] = {k: [] for k in steps}
        for kind in steps:  # warm-up
            _step(kind, learner, opt, ts, x, y, gen)
        for _ in range(rounds):
            for kind, n in steps.items():
                t = time.perf_counter()
                for _ in range(n):
                    _step(kind, learner, opt, ts, x, y, gen)
                times[kind].append((time.perf_counter() - t) / n)
        row = {"problem": problem, "model": model, "data_seconds_500_tasks": data_s}
        for kind, ts_ in times.items():
            row[f"{kind}_steps_per_s"] = 1.0 / min(ts_)
        row["stats_vs_baseline"] = row["stats_steps_per_s"] / row["baseline_steps_per_s"]
        row["direct_vs_baseline"] = row["direct_steps_per_s"] / row["baseline_steps_per_s"]
        ref = REFERENCE_STEPS_PER_S.get(model)
        row["stats_vs_reference"] = row["stats_steps_per_s"] / ref if ref else None
        rows.append(row)
    return rows


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(kind: str, model: str, problem: str) -> None:
    """Run in a subprocess: one meta-training step; print the resident memory before it,
    the peak during it (the kernel's high-water mark VmHWM, reset just before the step via
    /proc/self/clear_refs), and the process's lifetime peak (getrusage)."""
    torch.set_num_threads(1)
    ts, learner, x, y = _setup(problem, model, n_tasks=64, image_tasks=32)
    opt = make_outer_optimizer(learner.meta_parameters(), 1e-3, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    _step(kind, learner, opt, ts, x, y, gen)  # warm-up: allocator caches, Adam state
    before = _status_mb("VmRSS")
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak-RSS counter (Linux)
        reset = True
    except OSError:
        reset = False
    _step(kind, learner, opt, ts, x, y, gen)
    peak = _status_mb("VmHWM")
    life = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"before_mb": before, "peak_mb": peak, "step_mb": peak - before,
                      "lifetime_peak_mb": life, "peak_reset": reset}))


def memory(problem: str = "rot8_flip") -> list[dict]:
    rows = []
    for kind in ("stats", "direct", "baseline"):
        for model in ("maml-conv", "msr-conv"):
            out = subprocess.run([sys.executable, __file__, "--memory-child", kind, model,
                                  problem], capture_output=True, text=True, check=True,
                                 env=os.environ | {"OMP_NUM_THREADS": "1"})
            rows.append({"path": kind, "model": model, "problem": problem,
                         **json.loads(out.stdout.strip().splitlines()[-1])})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="rot8")
    ap.add_argument("--memory", action="store_true", help="also measure peak memory")
    ap.add_argument("--memory-only", action="store_true", help="only the memory table")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.memory_child:
        _memory_child(*a.memory_child)
        return
    res = {"speed": [] if a.memory_only else speed(a.problem), "threads": 1,
           "torch": torch.__version__}
    if a.memory or a.memory_only:
        res["memory"] = memory()
    if a.json:
        print(json.dumps(res, indent=2))
        return
    print(f"outer steps/s, {a.problem}, 32 tasks/step, one thread (reference: Conv2d 8.8, "
          "square MSR-Conv 6.9)")
    print("| model | baseline loop | direct (batched conv) | stats (metasym train) | "
          "stats/baseline | stats/reference |")
    print("|---|---|---|---|---|---|")
    for r in res["speed"]:
        ref = r["stats_vs_reference"]
        print(f"| {r['model']} | {r['baseline_steps_per_s']:.1f} | "
              f"{r['direct_steps_per_s']:.1f} | {r['stats_steps_per_s']:.0f} | "
              f"{r['stats_vs_baseline']:.0f}x | {'n/a' if ref is None else f'{ref:.0f}x'} |")
    if "memory" in res:
        print("\npeak memory of one meta-training step, rot8_flip, 32 tasks (MB)")
        print("| path | model | resident before | peak during step | step adds | "
              "process lifetime peak |")
        print("|---|---|---|---|---|---|")
        for r in res["memory"]:
            print(f"| {r['path']} | {r['model']} | {r['before_mb']:.0f} | {r['peak_mb']:.0f} | "
                  f"{r['step_mb']:.0f} | {r['lifetime_peak_mb']:.0f} |")


if __name__ == "__main__":
    main()
