"""Benchmark: meta-training throughput, batched MAML versus a per-task Python loop.

The model is MSR-FC on rank1 (``U`` is 4760 x 3; ``--problem rank5``: 4760 x 30), 32 tasks
per outer step, 1 support and 19 query examples, one inner SGD step with a learned step
size, second-order, outer Adam -- the reference implementation's defaults -- on ONE CPU
thread. Three implementations train the same learner, measured in the same process and
interleaved block by block (so a busy machine slows them alike):

* ``fast``: what ``metasym train`` uses for MSR layers -- the closed-form inner loop and
  hand-derived outer backward (``metasym.learning.learners._fast``);
* ``generic``: the ``torch.func`` path (``grad`` inside ``vmap`` over tasks), used for the
  baselines and any other model;
* ``baseline``: a per-task Python loop in the reference's style -- for each task the inner
  step with ``torch.autograd.grad(create_graph=True)`` on ``functional_call``, the query
  loss, and a ``backward()`` per task -- without the per-task module copies that the
  reference's ``higher`` makes (so the baseline is, if anything, faster than the
  reference's own loop and the ratio conservative).

With ``--before``, a fourth runner, ``before``, is the fast path as it was before the
feature-space inner loop (a frozen copy of that ``metasym.learning.learners._fast``, kept here and
nowhere else), so that a change to the fast path is measured against the old code in the
same run. ``--problem`` and ``--inner-steps`` take comma-separated lists; every
combination gets its own table (and JSON object), one after the other.

Every timed step is a full training step (batch sampling, meta-loss, backward, Adam).

    python bench/meta_train.py            # table
    python bench/meta_train.py --json     # one JSON object
    python bench/meta_train.py --problem rank1,rank5 --inner-steps 1,5 --before \
        --runners fast,before             # the fast path against its old version
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
import torch.nn.functional as F
from torch.func import functional_call

import metasym.learning.learners.maml as _maml
from metasym.learning import MetaLearner
from metasym.learning.engine import RunConfig, get_problem
from metasym.learning.engine.optim import make_outer_optimizer

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


# ----- the fast path before the feature-space inner loop (frozen copy, for --before) -------
# metasym/learning/_fast.py at commit 1f9e4bd: the inner loop always on the Gram matrix M,
# dv as dW U. Only msr_meta_grads' code path; kept verbatim apart from names.
def _before_support_stats(Uc, xs, ys, m, n):
    T, Ns, _ = xs.shape
    k = Uc.shape[0]
    c = 2.0 / (Ns * m)
    Phi = (xs.reshape(T * Ns, n) @ Uc.view(k * m, n).T).view(T * Ns, k, m)
    Mh = torch.bmm(Phi, torch.cat([Phi.transpose(1, 2), ys.reshape(T * Ns, m, 1)], dim=2))
    if Ns > 1:
        Mh = Mh.view(T, Ns, k, k + 1).sum(1)
    return Phi, Mh[:, :, :k], Mh[:, :, k:], c


def _before_inner_loop(v0, M, h, lr, steps):
    T, k = M.shape[0], M.shape[1]
    v = v0.reshape(1, k, 1).expand(T, k, 1)
    vs = [v]
    for _ in range(steps):
        v = torch.baddbmm(torch.add(v, h, alpha=lr), M, v, alpha=-lr)
        vs.append(v)
    return vs


def _before_forward(Uc, v0, lr, xs, ys, xq, yq, m, n, steps):
    T = xq.shape[0]
    k = Uc.shape[0]
    Phi, M, h, c = _before_support_stats(Uc, xs, ys, m, n)
    a = lr * c
    vs = _before_inner_loop(v0, M, h, a, steps)
    W = (vs[-1].reshape(T, k) @ Uc).view(T, m, n)
    r = torch.baddbmm(yq, xq, W.transpose(1, 2), beta=-1.0)
    losses = r.view(T, -1).square().mean(1)
    return losses, (xs, ys, xq, Phi, M, h, r, Uc, vs, (m, n, k, steps, a, c))


def _before_backward(saved, g_losses, need_U):
    xs, ys, xq, Phi, M, h, r, Uc, vs, (m, n, k, steps, a, c) = saved
    T, Nq, Ns = xq.shape[0], xq.shape[1], xs.shape[1]
    dpred = r * (g_losses * 2.0 / (Nq * m))
    dW = torch.bmm(dpred.transpose(1, 2), xq).view(T, m * n)
    dv = (dW @ Uc.T).view(T, k, 1)
    dUc = (vs[-1].reshape(T, k).T @ dW) if need_U else None
    dlr = None
    second = steps > 0 and need_U
    A = Hs = None
    for s in range(steps - 1, -1, -1):
        v_s = vs[s]
        g = (torch.baddbmm(h, M, v_s, beta=-1.0) * dv).sum()
        dlr = -c * g if dlr is None else dlr - c * g
        if second:
            A = torch.bmm(dv, v_s.transpose(1, 2)) if A is None else \
                torch.baddbmm(A, dv, v_s.transpose(1, 2))
            Hs = dv if Hs is None else Hs + dv
        dv = torch.baddbmm(dv, M, dv, alpha=-a)
    if second:
        B = A + A.transpose(1, 2)
        ys = ys.reshape(T * Ns, 1, m)
        if Ns > 1:
            B = B.repeat_interleave(Ns, dim=0)
            Hs = Hs.repeat_interleave(Ns, dim=0)
        dPhi = torch.baddbmm(torch.bmm(B, Phi), Hs, ys, alpha=-1.0)
        dUc.view(k * m, n).addmm_(dPhi.view(T * Ns, k * m).T, xs.reshape(T * Ns, n),
                                  alpha=-a)
    dv0 = dv.sum(0).view(k)
    if dlr is None:
        dlr = torch.zeros((), dtype=dv.dtype, device=dv.device)
    return dUc, dv0, dlr


def before_msr_meta_grads(U, v0, lr, xs, ys, xq, yq, *, m, n, steps=1, first_order=False,
                          need_U=True):
    """``msr_meta_grads`` as it was (second order only)."""
    if first_order:
        raise NotImplementedError("the frozen copy covers second-order MAML only")
    _before_calls[0] += 1
    with torch.no_grad():
        Ut = U.T
        Uc = Ut if Ut.is_contiguous() else Ut.contiguous()
        losses, saved = _before_forward(Uc, v0, float(lr), xs, ys, xq, yq, m, n, steps)
        dUc, dv0, dlr = _before_backward(saved, 1.0 / losses.shape[0], need_U)
        return losses.mean(), None if dUc is None else dUc.T, dv0, dlr


_before_calls = [0]


def before_step(learner: MetaLearner, opt: torch.optim.Optimizer, batch) -> None:
    """:func:`batched_step` with the frozen copy in place of today's ``msr_meta_grads``
    (swapped in the module that ``MetaLearner.backward_meta_loss`` calls it from)."""
    current = _maml.msr_meta_grads
    _maml.msr_meta_grads = before_msr_meta_grads
    try:
        batched_step(learner, opt, batch)
    finally:
        _maml.msr_meta_grads = current


def _make(cfg: RunConfig, source, fast: bool):
    """The learner and outer optimiser ``metasym train`` builds for ``cfg``."""
    torch.manual_seed(cfg.seed)
    learner = get_problem(cfg.problem).learner(cfg, source)
    learner.fast = fast and learner.fast_path_available
    opt = make_outer_optimizer(learner.optimizer_parameters(), cfg.outer_lr,
                               torch.device("cpu"))
    return learner, opt


RUNNERS = ("fast", "before", "generic", "baseline")
LABELS = {"fast": "metasym fast path", "before": "fast path before (frozen copy)",
          "generic": "metasym torch.func vmap", "baseline": "per-task loop (reference style)"}


def _check_before(cfg: RunConfig, tasks, batch) -> None:
    """The frozen copy must compute today's numbers (up to float32 rounding), or the
    comparison would be between different computations."""
    learner, _ = _make(cfg, tasks, True)
    mdl = learner.model
    args = (mdl.U, mdl.v, learner.inner_lrs["v"], *batch)
    kw = dict(m=mdl.out_features, n=mdl.in_features, steps=cfg.inner_steps)
    for a, b in zip(_maml.msr_meta_grads(*args, **kw), before_msr_meta_grads(*args, **kw)):
        if not torch.allclose(a, b, rtol=1e-3, atol=1e-3 * float(b.abs().max())):
            raise SystemExit("the frozen copy of the fast path disagrees with today's")


def run(problem: str, inner_steps: int, names: list[str], args: argparse.Namespace) -> dict:
    """Time the runners ``names`` on one problem; the result as a JSON-able dict."""
    cfg = RunConfig(problem=problem, inner_steps=inner_steps,
                    tasks_per_step=args.tasks_per_step, n_tasks=10_000)
    tasks = get_problem(problem).task_source(cfg, torch.device("cpu"))
    gen = torch.Generator().manual_seed(0)
    T = cfg.tasks_per_step

    class _Batcher:  # the engine's sampling: indices from a seeded generator
        @staticmethod
        def sample(n: int):
            return tasks.train_batch(torch.randint(tasks.n_train, (n,), generator=gen))

    batcher = _Batcher()
    spec = {"fast": (True, batched_step, args.steps),
            "before": (True, before_step, args.steps),
            "generic": (False, batched_step, max(args.steps // 4, 5)),
            "baseline": (False, baseline_step, args.baseline_steps)}
    runners = {nm: (*_make(cfg, tasks, spec[nm][0]), *spec[nm][1:]) for nm in names}
    if "before" in runners:
        _check_before(cfg, tasks, batcher.sample(T))
        _before_calls[0] = 0
    rates: dict[str, list[float]] = {k: [] for k in runners}
    cpu_rates: dict[str, list[float]] = {k: [] for k in runners}
    for learner, opt, step, n in runners.values():  # warm-up
        for _ in range(max(n // 5, 2)):
            step(learner, opt, batcher.sample(T))
    for _ in range(args.repeats):
        for name, (learner, opt, step, n) in runners.items():
            t0, c0 = time.perf_counter(), time.thread_time()
            for _ in range(n):
                step(learner, opt, batcher.sample(T))
            rates[name].append(n * T / (time.perf_counter() - t0))
            cpu_rates[name].append(n * T / (time.thread_time() - c0))
    if "before" in runners and _before_calls[0] == 0:
        raise SystemExit("the 'before' runner never reached the frozen copy")
    med = {k: statistics.median(v) for k, v in rates.items()}
    cpu = {k: statistics.median(v) for k, v in cpu_rates.items()}
    first = runners[names[0]][0]
    result: dict = {
        "problem": problem, "model": "msr-fc", "k": first.model.k,
        "tasks_per_step": T, "inner_steps": inner_steps, "second_order": True,
        "threads": torch.get_num_threads(),
    }
    if "fast" in med:
        result["tasks_per_second"] = med["fast"]
        result["ms_per_step"] = 1e3 * T / med["fast"]
    if "baseline" in med:
        result["baseline_tasks_per_second"] = med["baseline"]
        result["baseline_ms_per_step"] = 1e3 * T / med["baseline"]
        if "fast" in med:
            result["ratio"] = med["fast"] / med["baseline"]
    if "generic" in med:
        result["generic_tasks_per_second"] = med["generic"]
        if "baseline" in med:
            result["generic_ratio"] = med["generic"] / med["baseline"]
    if "before" in med:
        result["before_tasks_per_second"] = med["before"]
        result["before_ms_per_step"] = 1e3 * T / med["before"]
        if "fast" in med:
            result["speedup_vs_before"] = med["fast"] / med["before"]
            # CPU time of this thread: what a busy machine's preemptions do not inflate
            result["cpu_speedup_vs_before"] = cpu["fast"] / cpu["before"]
    if "fast" in med and problem == "rank1":
        result["ratio_vs_reference_published"] = REFERENCE_MS_PER_STEP / result["ms_per_step"]
    result.update({
        "repeats": args.repeats,
        "spread": {k: [min(v), max(v)] for k, v in rates.items()},
        "cpu_tasks_per_second": cpu,
        "load_average": os.getloadavg()[0],
        "torch": torch.__version__,
    })
    return result


def show(result: dict, names: list[str]) -> None:
    """The table of one :func:`run`."""
    T = result["tasks_per_step"]
    print(f"{result['problem']} MSR-FC (k = {result['k']}), {T} tasks/step, "
          f"{result['inner_steps']} inner step(s), second order, 1 thread (median of "
          f"{result['repeats']} interleaved blocks)")
    key = {"fast": "tasks_per_second", "before": "before_tasks_per_second",
           "generic": "generic_tasks_per_second", "baseline": "baseline_tasks_per_second"}
    base = result.get("baseline_tasks_per_second")
    for name in names:
        rate = result[key[name]]
        ratio = f"  x{rate / base:.1f}" if base else ""
        print(f"  {LABELS[name]:34s} {rate:9.0f} tasks/s  {1e3 * T / rate:7.2f} ms/step{ratio}")
    if "speedup_vs_before" in result:
        print(f"  fast path vs before: x{result['speedup_vs_before']:.3f} (wall clock), "
              f"x{result['cpu_speedup_vs_before']:.3f} (thread CPU time)")
    if "ratio_vs_reference_published" in result:
        print(f"  vs the reference's published ~{REFERENCE_MS_PER_STEP:.0f} ms/step: "
              f"x{result['ratio_vs_reference_published']:.1f}  (load average "
              f"{result['load_average']:.1f})")
    else:
        print(f"  (load average {result['load_average']:.1f})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--problem", default="rank1",
                    help="rank1, rank2 or rank5; comma-separated for several")
    ap.add_argument("--inner-steps", default="1", help="comma-separated for several")
    ap.add_argument("--tasks-per-step", type=int, default=32)
    ap.add_argument("--steps", type=int, default=200, help="fast/generic steps per block")
    ap.add_argument("--baseline-steps", type=int, default=10, help="loop steps per block")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved blocks (median)")
    ap.add_argument("--runners", default="fast,generic,baseline",
                    help=f"comma-separated subset of {','.join(RUNNERS)}")
    ap.add_argument("--before", action="store_true",
                    help="add the 'before' runner (the old fast path, frozen copy)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    names = [nm for nm in args.runners.split(",") if nm]
    if args.before and "before" not in names:
        names.insert(names.index("fast") + 1 if "fast" in names else 0, "before")
    if not names or any(nm not in RUNNERS for nm in names):
        ap.error(f"--runners takes names from {', '.join(RUNNERS)}")
    torch.set_num_threads(1)
    results = []
    for problem in args.problem.split(","):
        for steps in (int(s) for s in args.inner_steps.split(",")):
            result = run(problem, steps, names, args)
            results.append(result)
            if not args.json:
                show(result, names)
    if args.json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))


if __name__ == "__main__":
    main()
