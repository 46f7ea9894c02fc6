r"""Meta-training runs: the paper's protocol, written to a run directory.

A run directory holds ``config.json`` (everything needed to rebuild the run),
``metrics.jsonl`` (one evaluation per line), ``checkpoint.safetensors`` (the learner's
state: model and learned step sizes), ``answer.npz`` (the analytic answer, when the
problem has one) and ``final.json``.

Evaluation follows the reference: mean query MSE over held-out tasks (the first
``eval_tasks`` of the test split) and the half-width of its 95% Student-t interval,
:math:`t_{0.975,\,n-1}\, s / \sqrt{n}`.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch

from metasym.errors import MetasymError, SpecError
from metasym.learning.layers import MODEL_NAMES, build_model
from metasym.learning.maml import MetaLearner
from metasym.learning.tasks import TaskSet, make_problem

__all__ = [
    "TrainConfig",
    "TaskBatcher",
    "mean_ci95",
    "build_learner",
    "train",
    "load_run",
    "read_run_config",
    "RESUMABLE_CHANGES",
    "check_resume",
    "DEFAULT_K",
]

#: MSR-FC filter sizes used by the reference for the 1-D problems.
DEFAULT_K = {"rank1": 3, "rank2": 6, "rank5": 30}


@dataclass
class TrainConfig:
    """Settings of one run; defaults are the reference's (background.md)."""

    problem: str = "rank1"
    model: str = "msr-fc"
    k: int | None = None
    steps: int = 1000
    inner_steps: int = 1
    inner_lr: float = 0.1
    outer_lr: float = 1e-3
    tasks_per_step: int = 32
    support: int = 1
    eval_every: int = 100
    eval_tasks: int = 300
    seed: int = 0
    data_seed: int = 0
    n_tasks: int = 10_000
    n_examples: int = 20
    first_order: bool = False
    clip_grad: float | None = None
    chunk_size: int | None = None
    device: str = "cpu"
    threads: int | None = 1
    data: str | None = None
    group: str | None = None
    in_action: str | None = None
    out_action: str | None = None
    checkpoint_every: int = 100

    def validate(self) -> None:
        if self.model not in MODEL_NAMES:
            raise SpecError(f"unknown model {self.model!r}; choose from {', '.join(MODEL_NAMES)}")
        for name in ("steps", "tasks_per_step", "support", "eval_every", "eval_tasks",
                     "n_tasks", "n_examples", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise SpecError(f"{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}")
        if self.inner_steps < 0:
            raise SpecError(f"inner-steps must be >= 0, got {self.inner_steps}")
        if self.k is not None and self.k < 1:
            raise SpecError(f"k must be >= 1, got {self.k}")
        if self.clip_grad is not None and not (self.clip_grad > 0 and math.isfinite(self.clip_grad)):
            raise SpecError(f"clip-grad must be a positive number, got {self.clip_grad}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise SpecError(f"threads must be between 1 and 1024, got {self.threads}")
        if not -(2**63) <= self.seed < 2**64:
            raise SpecError(f"seed must fit in 64 bits, got {self.seed}")
        if not 0 <= self.data_seed < 2**64:
            raise SpecError(f"data-seed must be between 0 and 2**64 - 1, got {self.data_seed}")
        if not (self.outer_lr > 0 and math.isfinite(self.outer_lr)):
            raise SpecError(f"outer learning rate must be positive, got {self.outer_lr}")

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


def mean_ci95(losses: np.ndarray | torch.Tensor) -> tuple[float, float]:
    r"""Mean and 95% t-interval half-width :math:`t_{0.975, n-1}\, s/\sqrt{n}`.

    >>> m, h = mean_ci95(np.array([1.0, 2.0, 3.0]))
    >>> round(m, 3), round(h, 3)
    (2.0, 2.484)
    """
    from scipy import stats

    a = np.asarray(losses.cpu() if isinstance(losses, torch.Tensor) else losses,
                   dtype=np.float64)
    if a.size < 2:
        return float(a.mean()) if a.size else float("nan"), float("nan")
    sem = a.std(ddof=1) / math.sqrt(a.size)
    return float(a.mean()), float(stats.t.ppf(0.975, a.size - 1) * sem)


class TaskBatcher:
    """Tasks as tensors split into support (first ``support`` examples) and query, with
    seeded sampling of training batches.

    Each task is stored as one packed row ``[xs | ys | xq | yq]``, so a batch is a single
    ``index_select`` and the four blocks are strided views of it (no copies)."""

    def __init__(self, tasks: TaskSet, support: int, device: torch.device | str,
                 seed: int) -> None:
        if not 1 <= support < tasks.n_examples:
            raise SpecError(f"support size must be between 1 and {tasks.n_examples - 1} "
                            f"(tasks have {tasks.n_examples} examples), got {support}")
        self.device = torch.device(device)
        self.support, self.query = support, tasks.n_examples - support
        self.n_in, self.n_out = tasks.n_in, tasks.n_out

        def pack(x: np.ndarray, y: np.ndarray) -> torch.Tensor:
            T = x.shape[0]
            parts = [x[:, :support], y[:, :support], x[:, support:], y[:, support:]]
            flat = np.concatenate([p.reshape(T, -1) for p in parts], axis=1)
            return torch.from_numpy(np.ascontiguousarray(flat)).to(self.device)

        self.train = pack(*tasks.train)
        self.test = pack(*tasks.test)
        self.n_train, self.n_test = self.train.shape[0], self.test.shape[0]
        self.generator = torch.Generator().manual_seed(seed)
        self._cpu = self.device.type == "cpu"

    def _views(self, rows: torch.Tensor) -> tuple[torch.Tensor, ...]:
        T, s, q, n, m = rows.shape[0], self.support, self.query, self.n_in, self.n_out
        sizes = (s * n, s * m, q * n, q * m)
        xs, ys, xq, yq = rows.split(sizes, dim=1)
        return xs.view(T, s, n), ys.view(T, s, m), xq.view(T, q, n), yq.view(T, q, m)

    def sample(self, n: int) -> tuple[torch.Tensor, ...]:
        """A training batch ``(xs, ys, xq, yq)`` of ``n`` tasks drawn with replacement."""
        idx = torch.randint(self.n_train, (n,), generator=self.generator)
        if not self._cpu:
            idx = idx.to(self.device)
        return self._views(self.train.index_select(0, idx))

    def test_tasks(self, n: int | None = None) -> tuple[torch.Tensor, ...]:
        """The first ``n`` held-out tasks (all when ``None``)."""
        return self._views(self.test[:n])


def _resolve_k(cfg: TrainConfig, tasks: TaskSet) -> int | None:
    if cfg.model != "msr-fc":
        return None
    if cfg.k is not None:
        return cfg.k
    if tasks.name in DEFAULT_K and cfg.data is None:
        return DEFAULT_K[tasks.name]
    if tasks.answer is not None:
        return int(tasks.answer.basis.shape[1])
    raise SpecError("msr-fc on user data needs --k (the number of filter parameters)")


def build_learner(cfg: TrainConfig, tasks: TaskSet) -> MetaLearner:
    """The model and meta-learner a config describes (initialised from ``cfg.seed``)."""
    from metasym.learning.limits import check_training_size

    check_training_size(cfg, tasks, _resolve_k(cfg, tasks) if cfg.model == "msr-fc" else
                        (tasks.answer.basis.shape[1] if tasks.answer is not None else None))
    torch.manual_seed(cfg.seed)
    U = tasks.answer.basis if tasks.answer is not None else None
    model = build_model(cfg.model, n_in=tasks.n_in, n_out=tasks.n_out,
                        in_channels=tasks.in_shape[0], out_channels=tasks.out_shape[0],
                        k=_resolve_k(cfg, tasks), U=U)
    return MetaLearner(model, inner_steps=cfg.inner_steps, inner_lr=cfg.inner_lr,
                       first_order=cfg.first_order, chunk_size=cfg.chunk_size)


def _device(name: str) -> torch.device:
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise SpecError(f"unknown device {name!r}; use cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MetasymError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


def _prepare_dir(out: Path, overwrite: bool) -> None:
    if out.exists():
        if not overwrite:
            raise MetasymError(f"{out} already exists (use --overwrite to replace it, or "
                               f"--resume {out} to continue it)")
        if not out.is_dir():
            raise MetasymError(f"{out} exists and is not a directory")
        shutil.rmtree(out)
    out.mkdir(parents=True)


def _evaluate(learner: MetaLearner, batch: tuple[torch.Tensor, ...]) -> tuple[float, float]:
    return mean_ci95(learner.evaluate(*batch))


#: Config fields a resumed run may change (they do not change the numbers it computes).
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "device", "threads")


def read_run_config(run_dir: str | Path, config_cls: type | None = None) -> dict:
    """The ``config.json`` of a run folder as a dict; one-line :class:`MetasymError`
    when the folder or file is missing, unreadable or not a metasym run config
    (validated as ``config_cls``, default :class:`TrainConfig`)."""
    run = Path(run_dir)
    cfg_path = run / "config.json"
    if not run.is_dir():
        raise MetasymError(f"{run}: no such run directory")
    if not cfg_path.is_file():
        raise MetasymError(f"{run}: no config.json (not a metasym run folder, or it was "
                           "interrupted before its first write)")
    try:
        resolved = json.loads(cfg_path.read_text())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{cfg_path}: unreadable or corrupt JSON ({msg})") from None
    if not isinstance(resolved, dict) or "problem" not in resolved or "model" not in resolved:
        raise MetasymError(f"{cfg_path}: not a metasym run config (no problem/model)")
    try:
        (config_cls or TrainConfig).from_dict(resolved).validate()
    except (TypeError, MetasymError) as e:
        raise MetasymError(f"{cfg_path}: invalid config ({e})") from None
    return resolved


def _resume_conflicts(cfg: TrainConfig, stored: dict, resolved: tuple[str, ...] = ("k",)
                      ) -> list[str]:
    names = [f.name for f in fields(type(cfg)) if f.name not in RESUMABLE_CHANGES]
    default = type(cfg)()
    out = []
    for nm in names:
        # fields added after the run was written take their default
        old = stored.get(nm, getattr(default, nm))
        if nm in resolved and getattr(cfg, nm) is None:
            continue  # the stored value is the resolved one
        if getattr(cfg, nm) != old:
            out.append(f"{nm.replace('_', '-')} {getattr(cfg, nm)!r} (the run has {old!r})")
    return out


def check_resume(cfg: TrainConfig, out_dir: Path | None,
                 resolved: tuple[str, ...] = ("k",)) -> None:
    """Refuse ``--resume out_dir`` (one line) when there is no run folder or ``cfg``
    differs from its ``config.json`` outside :data:`RESUMABLE_CHANGES`; ``resolved``
    names the fields the run records resolved (``None`` in ``cfg`` matches them)."""
    if out_dir is None:
        raise MetasymError("resume needs the run directory")
    stored = read_run_config(out_dir, type(cfg))
    bad = _resume_conflicts(cfg, stored, resolved)
    if bad:
        raise MetasymError(f"--resume {out_dir}: {'; '.join(bad)}; a resumed run keeps "
                           f"its config.json (only {', '.join(RESUMABLE_CHANGES)} may "
                           "change): drop those flags or start a new run")


def train(cfg: TrainConfig, out: str | Path | None = None, *, overwrite: bool = False,
          progress: bool = True, tasks: TaskSet | None = None,
          on_eval: Callable[[dict], None] | None = None, resume: bool = False,
          world: Any = None) -> dict[str, Any]:
    """Meta-train ``cfg`` and write the run directory ``out`` (if given).

    Returns the final summary (also written to ``final.json``): ``test_mse`` and
    ``test_mse_ci95`` on the evaluation tasks, the same on all held-out tasks, ``steps``,
    ``tasks_per_second`` (training only), ``seconds`` (wall time including evaluation).

    With ``out``, a complete training state is checkpointed atomically every
    ``cfg.checkpoint_every`` steps and at the end (:mod:`metasym.learning.checkpoint`);
    SIGINT/SIGTERM save a checkpoint and raise
    :class:`~metasym.learning.checkpoint.TrainingInterrupted`; a non-finite loss or
    gradient raises :class:`~metasym.learning.checkpoint.NonFiniteError` and keeps the last
    good checkpoint. ``resume=True`` continues ``out`` from its checkpoint: ``cfg`` must
    match the run's ``config.json`` except for :data:`RESUMABLE_CHANGES`, and the metrics
    are those of an uninterrupted run under the same seed.

    ``world`` (a :class:`~metasym.learning.distributed.World`; default: from torchrun's
    environment) splits each task batch over processes (see
    :mod:`metasym.learning.distributed`).
    """
    from metasym.learning import limits
    from metasym.learning.distributed import world_from_env

    cfg.validate()
    out_dir = Path(out) if out is not None else None
    if resume:
        check_resume(cfg, out_dir)
    elif out_dir is not None and out_dir.exists() and not overwrite:
        raise MetasymError(f"{out_dir} already exists (use --overwrite to replace it, or "
                           f"--resume {out_dir} to continue it)")
    device = _device(cfg.device)
    if tasks is None:  # before creating the run directory: bad data leaves nothing behind
        tasks = make_problem(cfg.problem, n_tasks=cfg.n_tasks, n_examples=cfg.n_examples,
                             seed=cfg.data_seed, group=cfg.group, in_action=cfg.in_action,
                             out_action=cfg.out_action, data=cfg.data)
    limits.check_training_size(cfg, tasks, _resolve_k(cfg, tasks) if cfg.model == "msr-fc"
                               else None)
    own_world = world is None
    if own_world:
        world = world_from_env(cfg.device)
    try:
        if world.distributed:
            device = _device(world.device(cfg.device))
            if cfg.tasks_per_step < world.size:
                raise MetasymError(f"tasks-per-step {cfg.tasks_per_step} is smaller than the "
                                   f"number of processes {world.size}")
        err = None
        if out_dir is not None and not resume and world.is_main:
            try:
                _prepare_dir(out_dir, overwrite)
            except MetasymError as e:
                err = str(e)
        err = world.broadcast_error(err)
        if err:
            raise MetasymError(err)
        prev_threads = torch.get_num_threads()
        if cfg.threads is not None:
            # one thread is the default: these ops are too small for intra-op threads (2
            # threads measured ~7x slower than 1 on rank1); restored at the end
            torch.set_num_threads(cfg.threads)
        try:
            return _train(cfg, device, out_dir, progress, tasks, on_eval, resume, world)
        finally:
            torch.set_num_threads(prev_threads)
    finally:
        if own_world:
            world.close()


def _train(cfg: TrainConfig, device: torch.device, out_dir: Path | None, progress: bool,
           tasks: TaskSet, on_eval: Callable[[dict], None] | None, resume: bool,
           world: Any) -> dict[str, Any]:
    from metasym.learning import checkpoint as ck

    learner = build_learner(cfg, tasks).to(device)
    batcher = TaskBatcher(tasks, cfg.support, device, cfg.seed)
    eval_batch = batcher.test_tasks(cfg.eval_tasks)
    opt_kw: dict[str, Any] = {"fused": True} if device.type in ("cpu", "cuda") else {}
    opt_params = learner.optimizer_parameters()
    opt = torch.optim.Adam(opt_params, lr=cfg.outer_lr, **opt_kw)
    writer = out_dir is not None and world.is_main
    ckpt_path = out_dir / ck.CHECKPOINT if out_dir is not None else None

    resolved = asdict(cfg) | {
        "k": getattr(learner.model, "k", None), "n_in": tasks.n_in, "n_out": tasks.n_out,
        "in_shape": list(tasks.in_shape), "out_shape": list(tasks.out_shape),
        "tasks": tasks.n_tasks, "train_tasks": batcher.n_train, "test_tasks": batcher.n_test,
        "eval_tasks": min(cfg.eval_tasks, batcher.n_test), "fast_path": learner.fast,
        "answer": tasks.answer.description if tasks.answer is not None else None,
        "task_info": tasks.info, "torch": torch.__version__, "threads": torch.get_num_threads(),
        "world_size": world.size,
    }
    start, loss0, since0, history, elapsed0 = 0, 0.0, 0, [], 0.0
    if resume:
        st = ck.load_resumable(ckpt_path, learner, opt, batcher.generator, steps=cfg.steps)
        start, loss0, since0 = st["step"], st["loss_sum"], st["since"]
        elapsed0 = float(st["extra"].get("seconds", 0.0))
        # load_state copies in place: the fast path's U.T alias still shares U's storage
        if world.distributed:
            world.barrier()  # every rank has read the checkpoint before rank 0 rewrites it
    if writer:
        ck.atomic_write_text(out_dir / "config.json", json.dumps(resolved, indent=2) + "\n")
        if tasks.answer is not None and not resume:
            extra = {} if tasks.answer.pattern is None else {"labels": tasks.answer.pattern.labels}

            def write_answer(tmp: str) -> None:
                with open(tmp, "wb") as f:  # a file object: np.savez would add ".npz"
                    np.savez(f, basis=tasks.answer.basis, **extra,
                             kind=np.array(tasks.answer.kind),
                             description=np.array(tasks.answer.description))

            ck.atomic_write(out_dir / "answer.npz", write_answer)
        if resume:
            history = ck.reopen_run(out_dir, start)
    elif resume and out_dir is not None:
        history = ck.read_metrics(out_dir / "metrics.jsonl", start)
    metrics_file = open(out_dir / "metrics.jsonl", "a" if resume else "w") if writer else None

    from tqdm import tqdm

    bar = tqdm(total=cfg.steps, initial=start, disable=not progress or not world.is_main,
               file=sys.stderr, dynamic_ncols=True, desc=f"{cfg.problem} {cfg.model}",
               unit="step")
    t_start = time.perf_counter() - elapsed0
    train_time = 0.0
    loss_sum = torch.full((), loss0, device=device)
    since = since0
    grads_of = [p for p in opt_params]

    def record(step: int) -> dict:
        nonlocal loss_sum, since
        mse, ci = _evaluate(learner, eval_batch)
        row = {"step": step, "test_mse": mse, "test_mse_ci95": ci,
               "train_loss": float(loss_sum) / since if since else None,
               "seconds": time.perf_counter() - t_start,
               "step_sizes": learner.step_sizes()}
        loss_sum, since = torch.zeros((), device=device), 0
        history.append(row)
        if metrics_file is not None:
            metrics_file.write(json.dumps(row) + "\n")
            metrics_file.flush()
        if on_eval is not None:
            on_eval(row)
        bar.set_postfix(test=f"{mse:.4f}")
        return row

    last_saved = start if resume else None

    def save(step: int) -> None:
        nonlocal last_saved
        if writer:  # rows up to `step` are on disk first
            ck.save_checkpoint(ckpt_path, learner, opt, batcher.generator,
                               metrics_file=metrics_file, step=step,
                               loss_sum=float(loss_sum), since=since,
                               extra={"seconds": time.perf_counter() - t_start,
                                      "world_size": world.size})
        last_saved = step

    def allreduce(loss: torch.Tensor, stop: bool, w: float) -> tuple[torch.Tensor, bool]:
        gs = [p.grad if p.grad is not None else torch.zeros_like(p) for p in grads_of]
        flat = torch.cat([g.reshape(-1) for g in gs] + [loss.reshape(1).to(gs[0].dtype),
                          torch.tensor([float(stop)], device=device, dtype=gs[0].dtype)])
        flat[:-1] *= w
        world.allreduce_(flat)
        off = 0
        for p, g in zip(grads_of, gs):
            p.grad = flat[off:off + g.numel()].view_as(g).clone()
            off += g.numel()
        return flat[-2], bool(flat[-1] > 0)

    guard = ck.StopSignals() if out_dir is not None else contextlib.nullcontext()
    step = start
    try:
        with guard:
            if not resume:
                record(0)
                if out_dir is not None:
                    save(0)  # resumable (and a last good state) from the very start
            for step in range(start + 1, cfg.steps + 1):
                t0 = time.perf_counter()
                xs, ys, xq, yq = batcher.sample(cfg.tasks_per_step)
                opt.zero_grad(set_to_none=True)
                signum = getattr(guard, "signum", None)
                if world.distributed:
                    sl = world.shard(cfg.tasks_per_step)
                    loss = learner.backward_meta_loss(xs[sl], ys[sl], xq[sl], yq[sl])
                    loss, stop = allreduce(loss, signum is not None,
                                           (sl.stop - sl.start) / cfg.tasks_per_step)
                    if stop and signum is None:
                        signum = signal.SIGTERM
                else:
                    loss = learner.backward_meta_loss(xs, ys, xq, yq)
                if not ck.all_finite(loss, grads_of):
                    raise ck.non_finite_error(loss, step, last_saved, out_dir)
                if cfg.clip_grad is not None:
                    # a task whose inner loop diverges (step size x curvature > 2) can send
                    # a 1e10-sized meta-gradient that would poison Adam's second moments
                    torch.nn.utils.clip_grad_norm_(opt_params, cfg.clip_grad)
                opt.step()
                loss_sum += loss
                since += 1
                train_time += time.perf_counter() - t0
                bar.update(1)
                if step % 25 == 0:
                    bar.set_postfix(loss=f"{float(loss_sum) / max(since, 1):.4f}",
                                    test=f"{history[-1]['test_mse']:.4f}" if history else "")
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    if not history or history[-1]["step"] != step:
                        record(step)
                if out_dir is not None and (step % cfg.checkpoint_every == 0
                                            or signum is not None):
                    save(step)
                if signum is not None:
                    raise ck.interrupted(signum, step, out_dir)
    finally:
        bar.close()
        ck.close_metrics(metrics_file)

    seconds = time.perf_counter() - t_start
    all_mse, all_ci = _evaluate(learner, batcher.test_tasks())
    zero_mse = float(eval_batch[3].square().mean())
    run_steps = cfg.steps - start
    final = {
        "problem": cfg.problem if cfg.data is None else f"data:{cfg.data}",
        "model": cfg.model,
        "steps": cfg.steps,
        "inner_steps": cfg.inner_steps,
        "test_mse": history[-1]["test_mse"],
        "test_mse_ci95": history[-1]["test_mse_ci95"],
        "eval_tasks": resolved["eval_tasks"],
        "test_mse_all": all_mse,
        "test_mse_all_ci95": all_ci,
        "all_test_tasks": batcher.n_test,
        "zero_predictor_mse": zero_mse,
        "tasks_per_second": run_steps * cfg.tasks_per_step / train_time if train_time else None,
        "steps_per_second": run_steps / train_time if train_time else None,
        "train_seconds": train_time,
        "seconds": seconds,
        "step_sizes": learner.step_sizes(),
        "threads": torch.get_num_threads(),
        "fast_path": learner.fast,
        "world_size": world.size,
        "resumed_from": start if resume else None,
    }
    if out_dir is not None:
        if last_saved != cfg.steps:
            save(cfg.steps)
        if writer:
            ck.atomic_write_text(out_dir / "final.json", json.dumps(final, indent=2) + "\n")
    final["history"] = history
    return final


def load_run(run_dir: str | Path, *, load_tasks: bool = True
             ) -> tuple[TrainConfig, dict, MetaLearner, TaskSet | None]:
    """Rebuild a finished run: ``(config, resolved config dict, learner, tasks)``.

    The tasks are regenerated from the recorded seeds (or re-read from ``--data``)."""
    from metasym.learning.checkpoint import read_checkpoint

    run = Path(run_dir)
    ckpt = run / "checkpoint.safetensors"
    resolved = read_run_config(run)
    if not ckpt.is_file():
        raise MetasymError(f"{run}: not a finished run (no checkpoint.safetensors; was "
                           "training interrupted before its first checkpoint?)")
    cfg = TrainConfig.from_dict(resolved)
    try:
        for key in ("n_in", "n_out"):
            if not (isinstance(resolved.get(key), int) and resolved[key] >= 1):
                raise ValueError(f"{key} must be a positive integer")
    except ValueError as e:
        raise MetasymError(f"{run / 'config.json'}: {e}") from None
    tasks = None
    if load_tasks:
        tasks = make_problem(cfg.problem, n_tasks=cfg.n_tasks, n_examples=cfg.n_examples,
                             seed=cfg.data_seed, group=cfg.group, in_action=cfg.in_action,
                             out_action=cfg.out_action, data=cfg.data)
    shell = tasks if tasks is not None else _shell_tasks(resolved)
    learner = build_learner(cfg, shell)
    tensors, _ = read_checkpoint(ckpt)  # safetensors: no code runs; one-line errors
    own = learner.state_dict()
    missing = [k for k in own if k not in tensors]
    if missing:
        raise MetasymError(f"{ckpt}: missing tensors {', '.join(missing)} (a checkpoint of "
                           "another model?)")
    for k, v in own.items():
        if tuple(tensors[k].shape) != tuple(v.shape):
            raise MetasymError(f"{ckpt}: tensor {k} has shape {tuple(tensors[k].shape)}, the "
                               f"run's model needs {tuple(v.shape)}")
    learner.load_state_dict({k: tensors[k] for k in own})
    learner.eval()
    return cfg, resolved, learner, tasks


def _shell_tasks(resolved: dict) -> TaskSet:
    """A two-task placeholder with the run's shapes (to rebuild a model without data)."""
    from metasym.learning.tasks import Answer

    n_in, n_out = resolved["n_in"], resolved["n_out"]
    answer = None
    if resolved.get("model") == "oracle":
        answer = Answer(np.zeros((n_in * n_out, resolved["k"])))
    z = np.zeros((2, 2, n_in), np.float32)
    return TaskSet(z, np.zeros((2, 2, n_out), np.float32), tuple(resolved["in_shape"]),
                   tuple(resolved["out_shape"]), 1, resolved["problem"], answer)
