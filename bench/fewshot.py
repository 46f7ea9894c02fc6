"""Benchmark: few-shot meta-training throughput and memory, ours versus a per-task loop.

One outer step of N-way K-shot meta-training (second-order MAML, one inner step) on the
glyph data, the conv4 network of each model (``msr``, ``maml``, ``oracle``), two ways in
the same process, interleaved round by round so a busy machine slows them alike:

* ``loop``: one episode at a time -- the network's forward on the episode's images, the
  inner step by ``torch.autograd.grad(create_graph=True)``, the query loss, ``backward``
  per episode (the reference implementation's structure, without ``higher``); what
  ``metasym train`` runs on a CPU (``FewShotLearner(batching="loop")``);
* ``vmap``: ``torch.func.grad`` inside ``torch.func.vmap`` over the episodes, one backward
  (``batching="vmap"``, what ``metasym train`` runs on CUDA).

Figures: episodes per second and the ratio vmap / loop (the issue's target: >= 5).
``--memory`` measures, in a fresh subprocess per model and way, the peak resident memory
of one meta-training step with a meta-batch of 32 episodes (``resource.getrusage``) and
its growth over the process just before the step (target: under 4 GB).

    python bench/fewshot.py                       # 5-way 1-shot, 32 channels, 2 threads
    python bench/fewshot.py --channels 64 --queries 15 --memory
    python bench/fewshot.py --json
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


def _setup(args: argparse.Namespace, model: str):
    from metasym.learning.data.augment import Augmentation
    from metasym.learning.data.episodes import EpisodeSource
    from metasym.learning.data.glyphs import glyph_dataset
    from metasym.learning.learners.fewshot import FewShotLearner
    from metasym.learning.models.convnet import build_convnet

    bg, ev = glyph_dataset()
    aug = Augmentation.parse(args.augment)
    src = EpisodeSource(bg, ev, ways=args.ways, shots=args.shots, queries=args.queries,
                        augment=aug, test_episodes=1)
    torch.manual_seed(0)
    net = build_convnet(model, in_channels=1, classes=args.ways, channels=args.channels,
                        group=aug.group_name())
    return src, FewShotLearner(net, inner_steps=1, batching=args.batching)


def _step(learner, batching: str, batch) -> None:
    learner.batching = batching
    learner.backward_meta_loss(batch)


def throughput(args: argparse.Namespace) -> list[dict]:
    rows = []
    for model in args.models:
        src, learner = _setup(args, model)
        batch = src.train_batch(torch.arange(args.batch))
        times: dict[str, list[float]] = {"vmap": [], "loop": []}
        steps = {"vmap": lambda b, lr=learner: _step(lr, "vmap", b),
                 "loop": lambda b, lr=learner: _step(lr, "loop", b)}
        for fn in steps.values():
            learner.zero_grad()
            fn(batch)  # warm-up
        for _ in range(args.rounds):
            for name, fn in steps.items():
                learner.zero_grad()
                t0 = time.perf_counter()
                fn(batch)
                times[name].append(time.perf_counter() - t0)
        med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
        rows.append({"model": model, "episodes": args.batch,
                     "vmap_episodes_per_second": args.batch / med["vmap"],
                     "loop_episodes_per_second": args.batch / med["loop"],
                     "speedup": med["loop"] / med["vmap"],
                     "vmap_seconds": med["vmap"], "loop_seconds": med["loop"]})
    return rows


def _peak_kib() -> int:
    """Peak resident memory of this process in KiB: ``VmHWM`` (reset at start, see
    below), else ``ru_maxrss`` -- which Linux carries over ``exec`` from the parent, so it
    would report the benchmark's own earlier peak."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _memory_child(args: argparse.Namespace) -> None:
    try:  # reset the peak (Linux): the child must not inherit the parent's
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    src, learner = _setup(args, args.models[0])
    batch = src.train_batch(torch.arange(32))
    del src  # only the batch is needed
    before = _peak_kib()
    learner.backward_meta_loss(batch)
    print(json.dumps({"peak_kib": _peak_kib(), "before_kib": before}))


def memory(args: argparse.Namespace) -> list[dict]:
    rows = []
    for model in args.models:
        for batching in ("loop", "vmap"):
            cmd = [sys.executable, __file__, "--memory-child", "--models", model,
                   "--channels", str(args.channels), "--queries", str(args.queries),
                   "--ways", str(args.ways), "--shots", str(args.shots),
                   "--augment", args.augment, "--threads", str(args.threads),
                   "--batching", batching]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True,
                                 env=dict(os.environ))
            r = json.loads(out.stdout.strip().splitlines()[-1])
            rows.append({"model": model, "batching": batching, "episodes": 32,
                         "peak_gib": r["peak_kib"] / 2**20,
                         "growth_gib": (r["peak_kib"] - r["before_kib"]) / 2**20})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="+", default=["msr", "maml", "oracle"])
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--queries", type=int, default=15)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--augment", default="flip,vflip,rotate:30,crop")  # the paper's
    p.add_argument("--batch", type=int, default=16, help="episodes per timed step (16)")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--memory", action="store_true", help="also the 32-episode memory table")
    p.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--batching", default="auto", help=argparse.SUPPRESS)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_child:
        _memory_child(args)
        return
    info = {k: getattr(args, k) for k in ("ways", "shots", "queries", "channels", "augment",
                                           "batch", "rounds", "threads")}
    info["torch"] = torch.__version__
    rows = throughput(args)
    mem = memory(args) if args.memory else []
    if args.json:
        print(json.dumps({**info, "throughput": rows, "memory": mem}, indent=2))
        return
    print(f"{args.ways}-way {args.shots}-shot, {args.queries} queries/class, {args.channels} "
          f"channels, {args.threads} thread(s), meta-batch {args.batch}, median of "
          f"{args.rounds} (torch {torch.__version__})")
    print(f"{'model':8s} {'vmap ep/s':>10s} {'loop ep/s':>10s} {'speedup':>8s}")
    for r in rows:
        print(f"{r['model']:8s} {r['vmap_episodes_per_second']:10.1f} "
              f"{r['loop_episodes_per_second']:10.1f} {r['speedup']:8.2f}")
    if mem:
        print("\none meta-training step, 32 episodes (peak resident memory of a fresh process; "
              "growth over the process before the step):")
        for r in mem:
            print(f"{r['model']:8s} {r['batching']:5s} peak {r['peak_gib']:.2f} GiB, growth "
                  f"{r['growth_gib']:.2f} GiB")


if __name__ == "__main__":
    main()
