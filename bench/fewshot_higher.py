"""Benchmark: metasym's few-shot MAML against MAML through ``higher``, on the same episodes.

A peer as the field's PyTorch users run MAML: ``higher``'s inner loop, in the structure of
its Omniglot example (``examples/maml-omniglot.py``): per task
``higher.innerloop_ctx(net, inner_opt, copy_initial_weights=False)``, ``diffopt.step`` on
the support loss, the query loss's ``backward()``, then one ``meta_opt.step()``. Both
sides train the *same* network -- metasym's conv4 ``maml`` model
(``build_convnet("maml", ...)``, a plain ``nn.Module``, copied from one seeded
initialisation) -- on the *same* augmented episodes (one ``EpisodeSource``, one seeded
index stream, each batch fed to both), on the same device, and are evaluated on the same
fixed test episodes.

The match is exact where it matters: second order, the same inner parameters (the
convolution weights and the head; the normalisations' affine pairs are outer-only), the
same learned per-tensor inner step sizes (initialised at ``RunConfig``'s ``inner_lr``; for
``higher`` one SGD parameter group per inner tensor, its ``lr`` overridden by a tensor
that requires grad, so Adam meta-learns it), the same loss (query cross-entropy, mean over
the meta-batch) and Adam at ``RunConfig``'s ``outer_lr`` (metasym: its engine's fused
Adam, as ``metasym train`` runs; ``higher``: ``torch.optim.Adam``, as the example). The
first step's meta-losses are printed side by side: they agree to rounding.

Timing: every training step runs both sides on the same batch, in alternating order, in
one process (a busy machine slows them alike); the figure is the median over the steps
after ``--warmup`` (also the median of the per-step ratios, each step's two times taken
back to back). Accuracy: mean and 95% interval over the test episodes for each, and
the paired difference (same episodes).

    python bench/fewshot_higher.py                 # 300 steps, 32 channels, 2 threads
    python bench/fewshot_higher.py --steps 20 --test-episodes 100     # timing only, ~1 min
    python bench/fewshot_higher.py --json

Needs ``pip install -e ".[bench]"`` (``higher``).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import statistics
import time

import torch
import torch.nn.functional as F


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _defaults() -> dict:
    from metasym.learning.engine.config import RunConfig

    return {f.name: f.default for f in dataclasses.fields(RunConfig)}


class HigherMAML:
    """MAML through ``higher`` (its Omniglot example's loop) with learned per-tensor step
    sizes on the inner parameters ``inner_names`` of ``net``."""

    def __init__(self, net: torch.nn.Module, inner_names: tuple[str, ...], *, inner_lr: float,
                 outer_lr: float, inner_steps: int) -> None:
        self.net, self.inner_steps = net, inner_steps
        params = dict(net.named_parameters())
        self.inner_names = inner_names
        # one parameter group per inner tensor; its lr is overridden by a learned tensor
        self.inner_opt = torch.optim.SGD([{"params": [params[n]]} for n in inner_names],
                                         lr=inner_lr)
        dev = next(net.parameters()).device
        self.lrs = [torch.nn.Parameter(torch.tensor(float(inner_lr), device=dev))
                    for _ in inner_names]
        self.meta_opt = torch.optim.Adam(list(net.parameters()) + self.lrs, lr=outer_lr)

    def step(self, batch) -> float:
        import higher

        xs, ys, xq, yq = batch.tensors()
        T = xs.shape[0]
        self.meta_opt.zero_grad()
        total = 0.0
        for i in range(T):
            with higher.innerloop_ctx(self.net, self.inner_opt, copy_initial_weights=False,
                                      override={"lr": self.lrs}) as (fnet, diffopt):
                for _ in range(self.inner_steps):
                    diffopt.step(F.cross_entropy(fnet(xs[i]), ys[i]))
                qry_loss = F.cross_entropy(fnet(xq[i]), yq[i])
                (qry_loss / T).backward()
                total += float(qry_loss.detach())
        self.meta_opt.step()
        return total / T

    def evaluate(self, batch) -> torch.Tensor:
        """Per-episode query accuracy after adaptation (the example's ``test``)."""
        import higher

        xs, ys, xq, yq = batch.tensors()
        lrs = [lr.detach() for lr in self.lrs]
        acc = []
        for i in range(xs.shape[0]):
            with higher.innerloop_ctx(self.net, self.inner_opt, track_higher_grads=False,
                                      override={"lr": lrs}) as (fnet, diffopt):
                for _ in range(self.inner_steps):
                    diffopt.step(F.cross_entropy(fnet(xs[i]), ys[i]))
                logits = fnet(xq[i]).detach()
            acc.append((logits.argmax(-1) == yq[i]).to(torch.float64).mean())
        return torch.stack(acc).cpu()

    def step_sizes(self) -> dict[str, float]:
        return {n: float(lr.detach()) for n, lr in zip(self.inner_names, self.lrs)}


class MetasymMAML:
    """metasym's ``FewShotLearner`` and its engine's outer step (``metasym train``)."""

    def __init__(self, net: torch.nn.Module, *, inner_lr: float, outer_lr: float,
                 inner_steps: int, device: torch.device) -> None:
        from metasym.learning.engine.optim import make_outer_optimizer
        from metasym.learning.learners.fewshot import FewShotLearner

        self.learner = FewShotLearner(net, inner_steps=inner_steps, inner_lr=inner_lr).to(device)
        self.opt = make_outer_optimizer(list(self.learner.optimizer_parameters()), outer_lr,
                                        device)

    def step(self, batch) -> float:
        self.opt.zero_grad(set_to_none=True)
        loss = self.learner.backward_meta_loss(batch)
        self.opt.step()
        return float(loss)

    def evaluate(self, batch) -> torch.Tensor:
        return self.learner.evaluate(batch)["accuracy"].to(torch.float64)

    def step_sizes(self) -> dict[str, float]:
        return self.learner.step_sizes()


def run(args: argparse.Namespace) -> dict:
    from metasym.learning.data.augment import Augmentation
    from metasym.learning.data.episodes import EpisodeSource
    from metasym.learning.data.glyphs import glyph_dataset
    from metasym.learning.models.convnet import build_convnet
    from metasym.learning.stats import mean_ci95

    d = _defaults()
    inner_lr, outer_lr = d["inner_lr"], d["outer_lr"]
    device = torch.device(args.device)
    bg, ev = glyph_dataset()
    aug = Augmentation.parse(args.augment)
    src = EpisodeSource(bg, ev, ways=args.ways, shots=args.shots, queries=args.queries,
                        augment=aug, seed=args.data_seed, test_episodes=args.test_episodes,
                        device=device)
    torch.manual_seed(args.seed)
    net = build_convnet("maml", in_channels=src.in_channels, classes=args.ways,
                        channels=args.channels).to(device)
    net_h = copy.deepcopy(net)  # the same initial weights
    ours = MetasymMAML(net, inner_lr=inner_lr, outer_lr=outer_lr, inner_steps=1,
                       device=device)
    peer = HigherMAML(net_h, ours.learner.inner_names, inner_lr=inner_lr, outer_lr=outer_lr,
                      inner_steps=1)
    sides = {"metasym": ours, "higher": peer}
    times: dict[str, list[float]] = {k: [] for k in sides}
    losses: dict[str, list[float]] = {k: [] for k in sides}
    gen = torch.Generator().manual_seed(args.seed)
    t_train = time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = src.train_batch(torch.randint(src.n_train, (args.batch,), generator=gen))
        order = list(sides) if step % 2 else list(sides)[::-1]
        for name in order:
            _sync(device)
            t0 = time.perf_counter()
            losses[name].append(sides[name].step(batch))
            _sync(device)
            times[name].append(time.perf_counter() - t0)
        if args.progress and step % 25 == 0:
            print(f"step {step}: " + ", ".join(
                f"{k} loss {statistics.mean(losses[k][-25:]):.4f} "
                f"{statistics.median(times[k][-25:]):.3f} s/step" for k in sides), flush=True)
    t_train = time.perf_counter() - t_train
    test = src.test_batch(args.test_episodes)
    acc = {k: s.evaluate(test) for k, s in sides.items()}
    tail = max(1, args.steps // 10)
    out = {k: getattr(args, k) for k in ("ways", "shots", "queries", "channels", "augment",
                                          "batch", "steps", "warmup", "threads", "seed",
                                          "data_seed", "test_episodes", "device")}
    out |= {"torch": torch.__version__, "inner_lr_init": inner_lr, "outer_lr": outer_lr,
            "inner_steps": 1, "second_order": True, "train_seconds": t_train}
    for k in sides:
        med = statistics.median(times[k][args.warmup:] or times[k])
        m, ci = mean_ci95(acc[k])
        out[k] = {"seconds_per_step": med, "steps_per_second": 1 / med,
                  "mean_seconds_per_step": statistics.mean(times[k][args.warmup:] or times[k]),
                  "episodes_per_second": args.batch / med,
                  "first_loss": losses[k][0] if losses[k] else None,
                  "final_train_loss": statistics.mean(losses[k][-tail:]) if losses[k] else None,
                  "accuracy": m, "accuracy_ci95": ci, "step_sizes": sides[k].step_sizes()}
    out["speedup"] = out["higher"]["seconds_per_step"] / out["metasym"]["seconds_per_step"]
    # the same step's two times, back to back: robust to a load that changes over the run
    pairs = list(zip(times["higher"], times["metasym"]))[args.warmup:]
    out["speedup_paired"] = statistics.median(h / m for h, m in pairs) if pairs else None
    diff, diff_ci = mean_ci95(acc["metasym"] - acc["higher"])
    out["accuracy_difference"], out["accuracy_difference_ci95"] = diff, diff_ci
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300, help="meta-training steps, both (300)")
    p.add_argument("--warmup", type=int, default=3, help="steps left out of the timing (3)")
    p.add_argument("--ways", type=int, default=5)
    p.add_argument("--shots", type=int, default=1)
    p.add_argument("--queries", type=int, default=5)
    p.add_argument("--channels", type=int, default=32)
    p.add_argument("--batch", type=int, default=8, help="episodes per meta-batch (8)")
    p.add_argument("--augment", default="flip,vflip,rotate:30,crop")  # the paper's
    p.add_argument("--test-episodes", type=int, default=600)
    p.add_argument("--seed", type=int, default=0, help="initialisation and batch draws")
    p.add_argument("--data-seed", type=int, default=0, help="the episodes")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--progress", action="store_true", help="print the loss every 25 steps")
    p.add_argument("--json", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    r = run(args)
    if args.json:
        print(json.dumps(r, indent=2))
        return
    print(f"{args.ways}-way {args.shots}-shot, {args.queries} queries/class, {args.channels} "
          f"channels, meta-batch {args.batch}, augment {args.augment}, second order, 1 inner "
          f"step, {args.steps} steps, {args.threads} thread(s), {args.device} (torch "
          f"{torch.__version__}); timing: median over steps {args.warmup + 1}..{args.steps}")
    print(f"{'':8s} {'steps/s':>8s} {'ep/s':>7s} {'loss@1':>8s} {'loss end':>8s} "
          f"{'accuracy (' + str(args.test_episodes) + ' test episodes)':>30s}")
    for k in ("metasym", "higher"):
        s = r[k]
        print(f"{k:8s} {s['steps_per_second']:8.2f} {s['episodes_per_second']:7.1f} "
              f"{s['first_loss']:8.4f} {s['final_train_loss']:8.4f} "
              f"{100 * s['accuracy']:22.1f} +- {100 * s['accuracy_ci95']:.1f}")
    print(f"speed-up metasym / higher: {r['speedup']:.2f}x (median of the per-step ratios "
          f"{r['speedup_paired']:.2f}x); accuracy difference (paired) "
          f"{100 * r['accuracy_difference']:+.1f} +- {100 * r['accuracy_difference_ci95']:.1f}")
    print("final step sizes (metasym | higher): " + ", ".join(
        f"{n} {r['metasym']['step_sizes'][n]:.3f}|{v:.3f}"
        for n, v in r["higher"]["step_sizes"].items()))


if __name__ == "__main__":
    main()
