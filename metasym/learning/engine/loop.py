r"""The one meta-training loop (:func:`fit`).

Each outer step draws ``tasks_per_step`` training-task indices with the run's seeded
generator, asks the learner for the meta-gradient of their mean query loss (split over
``torchrun`` processes when there are several), stops on a non-finite loss or gradient
before the optimiser sees it, optionally clips, and takes one Adam step. Every
``eval_every`` steps the learner is scored on the same held-out tasks: the mean of the
problem's metric and its 95% Student-t half-width, :math:`t_{0.975,\,n-1}\, s/\sqrt{n}`.

With a run folder, a complete training state is checkpointed atomically every
``checkpoint_every`` steps and at the end; SIGINT/SIGTERM save a checkpoint and raise
:class:`~metasym.learning.engine.checkpoint.TrainingInterrupted`; ``resume=True``
continues from the checkpoint with the metrics of an uninterrupted run under the same seed
(bitwise, on the same machine and thread count).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from metasym.errors import MetasymError, WriteError
from metasym.learning.engine import checkpoint as ck
from metasym.learning.engine.config import RunConfig
from metasym.learning.engine.optim import make_outer_optimizer
from metasym.learning.engine.runfolder import (
    CHECKPOINT,
    RunFolder,
    checkpoint_step,
    lock_folder,
    prepare_output,
    read_history,
    read_run,
)
from metasym.learning.stats import mean_ci95

__all__ = ["fit", "FitResult", "resolve_device"]


@dataclass
class FitResult:
    """What :func:`fit` returns (and ``final.json`` holds, via :meth:`to_json`).

    ``metric`` names the problem's metric (``mse``): ``test`` / ``test_ci95`` are its mean
    and 95% half-width on the ``eval_tasks`` evaluation tasks after the last step,
    ``test_all`` / ``test_all_ci95`` on all ``all_test_tasks`` held-out tasks, ``baseline``
    the trivial predictor's figure on the evaluation tasks. ``history`` holds every
    evaluation row (``metrics.jsonl``)."""

    problem: str
    model: str
    metric: str
    steps: int
    inner_steps: int
    test: float
    test_ci95: float
    eval_tasks: int
    test_all: float
    test_all_ci95: float
    all_test_tasks: int
    baseline: float | None
    baseline_name: str
    tasks_per_second: float | None
    steps_per_second: float | None
    train_seconds: float
    seconds: float
    step_sizes: dict[str, float]
    threads: int
    fast_path: bool
    world_size: int
    resumed_from: int | None
    run: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The ``final.json`` dict (no history)."""
        m = self.metric
        return {
            "problem": self.problem, "model": self.model, "steps": self.steps,
            "inner_steps": self.inner_steps, f"test_{m}": self.test,
            f"test_{m}_ci95": self.test_ci95, "eval_tasks": self.eval_tasks,
            f"test_{m}_all": self.test_all, f"test_{m}_all_ci95": self.test_all_ci95,
            "all_test_tasks": self.all_test_tasks, self.baseline_name: self.baseline,
            "tasks_per_second": self.tasks_per_second,
            "steps_per_second": self.steps_per_second, "train_seconds": self.train_seconds,
            "seconds": self.seconds, "step_sizes": self.step_sizes, "threads": self.threads,
            "fast_path": self.fast_path, "world_size": self.world_size,
            "resumed_from": self.resumed_from, **self.extras,
        }

    def baseline_text(self) -> str:
        """The trivial predictor's figure as the summary writes it (``predicting zero:
        4.078``, ``chance: 0.200``, or ``baseline_NAME: ...``); ``""`` when the task source
        gives none."""
        if self.baseline is None:
            return ""
        name = {"zero_predictor_mse": "predicting zero",
                "chance_accuracy": "chance"}.get(self.baseline_name, self.baseline_name)
        return f"{name}: {self.baseline:.3f}"

    def summary_line(self) -> str:
        """One line: the held-out figures, then the trivial predictor's (every run kind,
        built-in or a user's: :meth:`baseline_text`)."""
        m = self.metric.upper() if self.metric == "mse" else self.metric
        line = (f"{self.problem} {self.model}: test {m} {self.test:.4f} +- "
                f"{self.test_ci95:.4f} ({self.eval_tasks} held-out tasks), {self.test_all:.4f}"
                f" +- {self.test_all_ci95:.4f} (all {self.all_test_tasks})")
        clean = self.extras.get(f"test_{self.metric}_clean_all")
        if clean is not None:  # few-shot: the same episodes with unaugmented queries
            line += (f", clean queries {clean:.4f} +- "
                     f"{self.extras[f'test_{self.metric}_clean_all_ci95']:.4f}")
        base = self.baseline_text()
        return f"{line}; {base}" if base else line


def resolve_device(name: str, world: Any = None) -> torch.device:
    """``cpu``/``cuda``/``cuda:N`` as a device (``cuda`` becomes ``cuda:LOCAL_RANK`` under
    torchrun); one line when CUDA is asked for and missing."""
    if world is not None:
        name = world.device(name)
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise MetasymError(f"unknown device {name!r}; use cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise MetasymError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


def _resolve_problem(cfg: RunConfig, problem: Any, learner: Any, source: Any,
                     answers: dict[str, Any] | None) -> Any:
    from metasym.learning.engine.registry import get_problem

    if problem is not None:
        return problem
    if learner is not None:
        if source is None:
            raise MetasymError("a user problem needs both learner= and source=")
        from metasym.learning.problems.custom import CustomProblem

        return CustomProblem(cfg.problem, learner, source, answers)
    return get_problem(cfg.problem)  # a given source is reused (e.g. by the tables)


def fit(config: RunConfig, out: str | Path | None = None, *, problem: Any = None,
        learner: Any = None, source: Any = None, answers: dict[str, Any] | None = None,
        overwrite: bool = False, resume: bool = False, progress: bool | str = True,
        on_eval: Callable[[dict], None] | None = None, world: Any = None) -> FitResult:
    """Meta-train and (with ``out``) write the run folder.

    Parameters
    ----------
    config
        The run's settings.
    out
        Run folder (``None``: train in memory only).
    problem
        A :class:`~metasym.learning.engine.Problem`; default: the one registered under
        ``config.problem``.
    learner, source, answers
        A user problem without registering one: any learner (e.g.
        :class:`~metasym.learning.MetaLearner` over a ``torch.nn.Module``), any task
        source, and optionally the analytic answer of some layers (layer name ->
        :class:`~metasym.representations.SharingPattern` or ``(m*n, d)`` basis).
    overwrite, resume
        Replace an existing metasym output folder; continue ``out`` from its checkpoint
        (``config`` must match its ``config.json`` except for
        :data:`~metasym.learning.engine.config.RESUMABLE_CHANGES`).
    progress, on_eval
        Progress bar on stderr (``True``: when stderr is a terminal; ``"always"``; see
        :mod:`metasym.progress`); a callback receiving every evaluation row.
    world
        A :class:`~metasym.learning.engine.distributed.World` (default: from torchrun's
        environment).
    """
    from metasym.learning.engine.distributed import world_from_env

    problem = _resolve_problem(config, problem, learner, source, answers)
    if config.options is None and problem.options_type is not None:
        config = config.replace(options=problem.options_type())  # one canonical form
    config.validate()
    problem.validate(config)
    if out is not None and str(out).strip() == "":
        raise MetasymError("the run folder name is empty")
    out_dir = Path(out) if out is not None else None
    if out_dir is not None and out_dir.is_symlink():
        raise MetasymError(f"{out_dir} is a symbolic link; give the folder itself (metasym "
                           "never writes through links)")
    if resume:
        if out_dir is None:
            raise MetasymError("resume needs the run folder")
        record = read_run(out_dir)
        bad = config.conflicts(record.config)
        if bad:
            from metasym.learning.engine.config import RESUMABLE_CHANGES

            raise MetasymError(f"--resume {out_dir}: {'; '.join(bad)}; a resumed run keeps "
                               f"its config.json (only {', '.join(RESUMABLE_CHANGES)} may "
                               "change): drop those flags or start a new run")
    elif out_dir is not None and out_dir.exists() and not overwrite and not (
            out_dir.is_dir() and not any(out_dir.iterdir())):  # an empty folder is reused
        raise MetasymError(f"{out_dir} already exists (use --overwrite to replace it, or "
                           f"--resume {out_dir} to continue it)")
    own_world = world is None
    if own_world:
        world = world_from_env(config.device)
    try:
        if world.distributed:  # before any work: the same run on every rank, or one line
            world.agree(config.to_json() | {"resume": resume} | {
                k: None for k in ("device", "threads")})
        device = resolve_device(config.device, world)
        if world.distributed and config.tasks_per_step < world.size:
            raise MetasymError(f"--tasks-per-step {config.tasks_per_step} is smaller than the "
                               f"number of processes {world.size}")
        if source is None:  # before touching the folder: bad data leaves nothing behind
            source = problem.task_source(config, device)
        problem.check_size(config, source)
        folder, err = None, None
        if out_dir is not None and world.is_main:
            try:
                folder = (lock_folder(out_dir) if resume
                          else prepare_output(out_dir, overwrite=overwrite))
            except MetasymError as e:
                err = str(e)
        err = world.broadcast_error(err)
        if err:
            raise MetasymError(err)
        prev_threads = torch.get_num_threads()
        if config.threads is not None:
            # one thread by default: these ops are too small for intra-op threads (2
            # threads measured ~7x slower than 1 on rank1); restored at the end
            torch.set_num_threads(config.threads)
        try:
            result = _train(config, problem, learner, source, device, out_dir, progress,
                            on_eval, resume, world)
        except BaseException as e:
            restored = False
            if folder is not None:
                if resume:
                    folder.release()
                else:
                    # a write that failed (full disk, file-size limit) keeps a new run's
                    # last checkpoint, but puts a replaced old run back (--overwrite)
                    stops = (ck.TrainingInterrupted, ck.NonFiniteError, WriteError)
                    keep = isinstance(e, stops) and (out_dir / CHECKPOINT).is_file() and \
                        not (isinstance(e, WriteError) and folder.replaced is not None)
                    restored = folder.replaced is not None and not keep
                    folder.abort(keep_new=keep)
            if isinstance(e, WriteError) and out_dir is not None:
                raise WriteError(e.path, f"{e}; {_intact(out_dir, restored)}") from None
            raise
        finally:
            torch.set_num_threads(prev_threads)
        if folder is not None:
            if not resume:
                folder.commit()
            folder.release()
        result.run = str(out_dir) if out_dir is not None else None
        return result
    finally:
        if own_world:
            world.close()


def _intact(out_dir: Path, restored: bool) -> str:
    """What is left of ``out_dir`` after a write failed, for the one-line message."""
    if restored:
        return (f"the run folder {out_dir} is intact: the run it held before --overwrite was "
                "put back")
    step = checkpoint_step(out_dir)
    if step is None:
        return (f"{out_dir} holds no checkpoint yet (nothing else was changed); free some "
                "space and start again with --overwrite")
    return (f"the run folder {out_dir} is intact: its checkpoint at step {step} is complete; "
            f"free some space and continue with `metasym train --resume {out_dir}`")


def _split(values: Any, metric: str) -> dict[str, Any]:
    return values if isinstance(values, dict) else {metric: values}


def _train(cfg: RunConfig, problem: Any, learner: Any, source: Any, device: torch.device,
           out_dir: Path | None, progress: bool, on_eval: Callable[[dict], None] | None,
           resume: bool, world: Any) -> FitResult:
    if learner is None:
        torch.manual_seed(cfg.seed)
        learner = problem.learner(cfg, source)
    learner = learner.to(device)
    metric = problem.metric
    eval_batch = source.test_batch(cfg.eval_tasks)
    opt_params = list(learner.optimizer_parameters())
    opt = make_outer_optimizer(opt_params, cfg.outer_lr, device)
    generator = torch.Generator().manual_seed(cfg.seed)
    writer = out_dir is not None and world.is_main
    folder = RunFolder(out_dir) if out_dir is not None else None
    ckpt_path = out_dir / CHECKPOINT if out_dir is not None else None
    n_eval = min(cfg.eval_tasks, source.n_test)
    resolved = cfg.to_json() | {"kind": problem.kind} | problem.describe(cfg, source, learner) | {
        "train_tasks": source.n_train, "test_tasks": source.n_test,
        "torch": torch.__version__, "threads": torch.get_num_threads(),
        "world_size": world.size, "metric": problem.metric,
    }
    # the digest covers the fields as recorded (resolved ones such as k with their
    # values), computed exactly as a reader of config.json recomputes it
    recorded = problem.config_from_json(resolved)
    resolved["digest"] = recorded.digest()
    # what binds every checkpoint to this run: its digest, defining fields, and the
    # evaluations off the eval_every schedule (the last step of a run later extended)
    binding = {"digest": resolved["digest"], "fields": recorded.defining_fields(),
               "evals": []}
    start, loss0, since0, history, elapsed0 = 0, 0.0, 0, [], 0.0
    if resume:
        st = ck.load_resumable(ckpt_path, learner, opt, generator, steps=cfg.steps)
        if st["digest"] != resolved["digest"]:  # read_run checked it against config.json
            raise MetasymError(f"{ckpt_path}: belongs to another run (digest "
                               f"{st['digest']}, this run's {resolved['digest']}); put this "
                               "run's checkpoint back, or start again with --overwrite")
        start, loss0, since0 = st["step"], st["loss_sum"], st["since"]
        binding["evals"] = [e for e in st["evals"] if e <= start]
        elapsed0 = float(st["extra"].get("seconds", 0.0))
        if world.distributed:
            world.barrier()  # every rank has read the checkpoint before rank 0 rewrites it
    metrics_file = None
    if writer:
        if resume:  # staged: the run's own files change only once a checkpoint is complete
            history = folder.reopen(start, cfg.eval_every, binding["evals"])
        try:
            folder.write_config(resolved)
        except BaseException:
            folder.discard()
            raise
        if not resume:
            arrays = problem.answer_arrays(cfg, source)
            if arrays is not None:
                folder.write_answer(arrays)
        metrics_file = folder.open_metrics(append=resume)
    elif resume and out_dir is not None:
        history = read_history(out_dir, start, cfg.eval_every, binding["evals"])

    from metasym.progress import progress_bar

    bar = progress_bar(cfg.steps, progress if world.is_main else False, initial=start,
                       desc=f"{cfg.problem} {cfg.model}", unit="step")
    t_start = time.perf_counter() - elapsed0
    train_time = 0.0
    loss_sum = torch.full((), loss0, device=device, dtype=torch.float64)
    since = since0

    def record(step: int) -> dict:
        nonlocal loss_sum, since
        values = _split(learner.evaluate(eval_batch), metric)
        row: dict[str, Any] = {"step": step}
        for name, v in values.items():
            mean, ci = mean_ci95(v)
            row[f"test_{name}"], row[f"test_{name}_ci95"] = mean, ci
        row |= {"train_loss": float(loss_sum) / since if since else None,
                "seconds": time.perf_counter() - t_start, "step_sizes": learner.step_sizes()}
        loss_sum, since = torch.zeros((), device=device, dtype=torch.float64), 0
        if step % cfg.eval_every:  # the last step of a run that may be extended later
            binding["evals"].append(step)
        history.append(row)
        if folder is not None and writer:
            folder.append_metrics(row)
        if on_eval is not None:
            on_eval(row)
        bar.set_postfix(test=f"{row[f'test_{metric}']:.4f}")
        return row

    last_saved = start if resume else None

    def save(step: int) -> None:
        nonlocal last_saved
        if writer:  # rows up to `step` are on disk first
            ck.save_checkpoint(folder.target(CHECKPOINT), learner, opt, generator,
                               metrics_file=metrics_file, step=step,
                               loss_sum=float(loss_sum), since=since,
                               extra={"seconds": time.perf_counter() - t_start,
                                      "world_size": world.size}, binding=binding)
            folder.commit()  # a staged resume's files replace the run's (renames only)
        last_saved = step

    def allreduce(loss: torch.Tensor, stop: bool, w: float) -> tuple[torch.Tensor, bool]:
        gs = [p.grad if p.grad is not None else torch.zeros_like(p) for p in opt_params]
        dt = gs[0].dtype
        flat = torch.cat([g.reshape(-1) for g in gs] + [loss.reshape(1).to(dt),
                          torch.tensor([float(stop)], device=device, dtype=dt)])
        flat[:-1] *= w
        world.allreduce_(flat)
        off = 0
        for p, g in zip(opt_params, gs):
            # keep the gradient's memory layout: fused Adam walks parameter, gradient and
            # state as flat buffers (MSRLinear stores U column-major)
            p.grad = torch.empty_like(g).copy_(flat[off:off + g.numel()].view_as(g))
            off += g.numel()
        return flat[-2], bool(flat[-1] > 0)

    guard = ck.StopSignals() if out_dir is not None else contextlib.nullcontext()
    try:
        with guard:
            if not resume:
                record(0)
                if out_dir is not None:
                    save(0)  # resumable (and a last good state) from the very start
            for step in range(start + 1, cfg.steps + 1):
                t0 = time.perf_counter()
                index = torch.randint(source.n_train, (cfg.tasks_per_step,), generator=generator)
                batch = source.train_batch(index)
                opt.zero_grad(set_to_none=True)
                signum = getattr(guard, "signum", None)
                if world.distributed:
                    sl = world.shard(cfg.tasks_per_step)
                    loss = learner.backward_meta_loss(batch.select(sl))
                    loss, stop = allreduce(loss, signum is not None,
                                           (sl.stop - sl.start) / cfg.tasks_per_step)
                    if stop and signum is None:
                        signum = signal.SIGTERM
                else:
                    loss = learner.backward_meta_loss(batch)
                if not ck.all_finite(loss, opt_params):
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
                                    test=f"{history[-1][f'test_{metric}']:.4f}" if history else "")
                if step % cfg.eval_every == 0 or step == cfg.steps:
                    if not history or history[-1]["step"] != step:
                        record(step)
                if not world.distributed:  # ranks agree on stopping through allreduce only
                    signum = signum or getattr(guard, "signum", None)
                if out_dir is not None and (step % cfg.checkpoint_every == 0
                                            or signum is not None):
                    save(step)
                if signum is not None:
                    raise ck.interrupted(signum, step, out_dir)
    except BaseException:
        bar.close()
        ck.close_metrics(metrics_file, quiet=True)  # never mask the error on its way
        if writer and folder.staged:  # a resume that never completed a checkpoint
            folder.discard()
            err = folder.unstaged(sys.exc_info()[1])
            if err is not sys.exc_info()[1]:
                raise err from None
        raise
    bar.close()
    ck.close_metrics(metrics_file)

    seconds = time.perf_counter() - t_start
    all_values = _split(learner.evaluate(source.test_batch()), metric)
    all_mean, all_ci = mean_ci95(all_values[metric])
    # the problem's other figures on all held-out tasks too (few-shot: loss, clean queries)
    others: dict[str, Any] = {}
    for name, v in all_values.items():
        if name != metric:
            others[f"test_{name}_all"], others[f"test_{name}_all_ci95"] = mean_ci95(v)
    run_steps = cfg.steps - start
    last = history[-1]
    result = FitResult(
        problem=problem.display_name(cfg), model=cfg.model, metric=metric, steps=cfg.steps,
        inner_steps=cfg.inner_steps, test=last[f"test_{metric}"],
        test_ci95=last[f"test_{metric}_ci95"], eval_tasks=n_eval, test_all=all_mean,
        test_all_ci95=all_ci, all_test_tasks=source.n_test,
        baseline=source.baseline(eval_batch), baseline_name=problem.baseline_name,
        tasks_per_second=run_steps * cfg.tasks_per_step / train_time if train_time else None,
        steps_per_second=run_steps / train_time if train_time else None,
        train_seconds=train_time, seconds=seconds, step_sizes=learner.step_sizes(),
        threads=torch.get_num_threads(), fast_path=bool(getattr(learner, "fast", False)),
        world_size=world.size, resumed_from=start if resume else None,
        extras=others | problem.final_extras(cfg, source, learner), history=history)
    if out_dir is not None:
        try:
            if last_saved != cfg.steps:
                save(cfg.steps)
            if writer:
                folder.write_final(result.to_json())  # commits a staged resume first
        except BaseException as e:
            if writer and folder.staged:
                folder.discard()
                err = folder.unstaged(e)
                if err is not e:
                    raise err from None
            raise
    return result
