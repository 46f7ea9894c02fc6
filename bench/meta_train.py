"""Benchmark: meta-training throughput, batched MAML versus a per-task Python loop.

The model is MSR-FC on rank1 (``U`` is 4760 x 3), 32 tasks per outer step, 1 support and
19 query examples, one inner SGD step with a learned step size, second-order, outer Adam
-- the reference implementation's defaults -- on ONE CPU thread. Three implementations
train the same learner, measured in the same process and interleaved block by block (so
a busy machine slows them alike):

* ``fast``: what ``metasym train`` uses for MSR layers -- the closed-form inner loop and
  hand-derived outer backward (``metasym.learning._fast``);
* ``generic``: the ``torch.func`` path (``grad`` inside ``vmap`` over tasks), used for the
  baselines and any other model;
* ``baseline``: a per-task Python loop in the reference's style -- for each task the inner
  step with ``torch.autograd.grad(create_graph=True)`` on ``functional_call``, the query
  loss, and a ``backward()`` per task -- without the per-task module copies that the
  reference's ``higher`` makes (so the baseline is, if anything, faster than the
  reference's own loop and the ratio conservative).

Every timed step is a full training step (batch sampling, meta-loss, backward, Adam).

    python bench/meta_train.py            # table
    python bench/meta_train.py --json     # one JSON object
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from metasym.learning.training import build_learner
from torch.func import functional_call

from metasym.learning import MetaLearner, TaskBatcher, TrainConfig, make_problem

#: The reference implementation on this kind of machine: ~29 ms per outer step of 32
#: tasks on one thread (docs/learning.md).
REFERENCE_MS_PER_STEP = 29.0


def baseline_step(learner: MetaLearner, opt: torch.optim.Optimizer, batch) -> None:
    """One outer step, one task at a time (the reference implementation's structure)."""
    xs, ys, xq, yq = batch
    model = learner.model
    meta, inner0, lrs = learner._split()
    T = xs.shape[0]
    opt.zero_grad(set_to_none=True)
    for t in range(T):
        params = dict(inner0)
        for _ in range(learner.inner_steps):
            loss = F.mse_loss(functional_call(model, {**meta, **params}, (xs[t],)), ys[t])
            grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
            params = {k: p - lrs[k] * g for (k, p), g in zip(params.items(), grads)}
        q = F.mse_loss(functional_call(model, {**meta, **params}, (xq[t],)), yq[t])
        (q / T).backward()
    opt.step()


def batched_step(learner: MetaLearner, opt: torch.optim.Optimizer, batch) -> None:
    """One outer step exactly as ``metasym train`` does it."""
    opt.zero_grad(set_to_none=True)
    learner.backward_meta_loss(*batch)
    opt.step()


def _make(cfg: TrainConfig, tasks, fast: bool):
    learner = build_learner(cfg, tasks)
    learner.fast = fast and learner.fast_path_available
    opt = torch.optim.Adam(learner.optimizer_parameters(), lr=cfg.outer_lr, fused=True)
    return learner, opt


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="rank1")
    ap.add_argument("--inner-steps", type=int, default=1)
    ap.add_argument("--tasks-per-step", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200, help="fast/generic steps per block")
    ap.add_argument("--baseline-steps", type=int, default=10, help="loop steps per block")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved blocks (median)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(1)
    cfg = TrainConfig(problem=args.problem, inner_steps=args.inner_steps,
                      tasks_per_step=args.tasks_per_step, n_tasks=10_000)
    tasks = make_problem(args.problem, n_tasks=cfg.n_tasks)
    batcher = TaskBatcher(tasks, cfg.support, "cpu", seed=0)
    T = cfg.tasks_per_step
    runners = {
        "fast": (*_make(cfg, tasks, True), batched_step, args.steps),
        "generic": (*_make(cfg, tasks, False), batched_step, max(args.steps // 4, 5)),
        "baseline": (*_make(cfg, tasks, False), baseline_step, args.baseline_steps),
    }
    rates: dict[str, list[float]] = {k: [] for k in runners}
    for learner, opt, step, n in runners.values():  # warm-up
        for _ in range(max(n // 5, 2)):
            step(learner, opt, batcher.sample(T))
    for _ in range(args.repeats):
        for name, (learner, opt, step, n) in runners.items():
            t0 = time.perf_counter()
            for _ in range(n):
                step(learner, opt, batcher.sample(T))
            rates[name].append(n * T / (time.perf_counter() - t0))
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {
        "problem": args.problem, "model": "msr-fc", "k": runners["fast"][0].model.k,
        "tasks_per_step": T, "inner_steps": args.inner_steps, "second_order": True,
        "threads": torch.get_num_threads(),
        "tasks_per_second": med["fast"],
        "baseline_tasks_per_second": med["baseline"],
        "ratio": med["fast"] / med["baseline"],
        "generic_tasks_per_second": med["generic"],
        "generic_ratio": med["generic"] / med["baseline"],
        "ms_per_step": 1e3 * T / med["fast"],
        "baseline_ms_per_step": 1e3 * T / med["baseline"],
        "ratio_vs_reference_published": REFERENCE_MS_PER_STEP / (1e3 * T / med["fast"]),
        "repeats": args.repeats,
        "spread": {k: [min(v), max(v)] for k, v in rates.items()},
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"rank1 MSR-FC, {T} tasks/step, {args.inner_steps} inner step(s), second order, "
          f"1 thread (median of {args.repeats} interleaved blocks)")
    for name, label in (("fast", "metasym fast path"), ("generic", "metasym torch.func vmap"),
                        ("baseline", "per-task loop (reference style)")):
        print(f"  {label:34s} {med[name]:9.0f} tasks/s  {1e3 * T / med[name]:7.2f} ms/step  "
              f"x{med[name] / med['baseline']:.1f}")
    print(f"  vs the reference's published ~{REFERENCE_MS_PER_STEP:.0f} ms/step: "
          f"x{result['ratio_vs_reference_published']:.1f}  (load average "
          f"{result['load_average']:.1f})")


if __name__ == "__main__":
    main()
