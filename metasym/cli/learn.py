"""``metasym train | compare | reproduce | demo``: the learning layer's subcommands.

Thin: parse, call :mod:`metasym.learning`, print or save. User mistakes raise
:class:`~metasym.errors.MetasymError` (one stderr line, exit status 2).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from metasym.cli.output import fmt
from metasym.errors import MetasymError

__all__ = ["register"]


# ----- train ---------------------------------------------------------------------------------
def _add_train_args(p: argparse.ArgumentParser) -> None:
    from metasym.learning.registry import (
        CONV_MODEL_NAMES,
        IMAGE_PROBLEMS,
        MODEL_NAMES,
        PROBLEMS,
    )

    p.add_argument("--problem", default="rank1", choices=PROBLEMS + IMAGE_PROBLEMS,
                   help="task distribution (rank1; c4 d4 rot8 rot8_flip are image problems)")
    p.add_argument("--group", help="group spec for --problem equivariant, e.g. cyclic:8")
    p.add_argument("--in-action", "--in", dest="in_action",
                   help="input action for --problem equivariant, e.g. natural")
    p.add_argument("--out-action", dest="out_action",
                   help="output action for --problem equivariant (--out names the run "
                   "directory here)")
    p.add_argument("--data", metavar="PATH.npz",
                   help="train on a reference-format .npz file (x, y[, w]) instead")
    models = MODEL_NAMES + tuple(m for m in CONV_MODEL_NAMES if m not in MODEL_NAMES)
    p.add_argument("--model", default="msr-fc", choices=models,
                   help="model (msr-fc; image problems: msr-conv, msr-conv-square, maml-conv, "
                   "oracle, msr-conv-full)")
    p.add_argument("--k", type=int, help="MSR filter parameters (rank1 3, rank2 6, rank5 30)")
    p.add_argument("--steps", type=int, default=1000, help="outer steps (1000)")
    p.add_argument("--inner-steps", type=int, default=1, help="inner SGD steps (1)")
    p.add_argument("--inner-lr", type=float, default=0.1,
                   help="initial learned inner step size (0.1)")
    p.add_argument("--outer-lr", type=float, default=1e-3, help="Adam learning rate (1e-3)")
    p.add_argument("--tasks-per-step", type=int, default=32, help="tasks per outer step (32)")
    p.add_argument("--support", type=int, default=1,
                   help="support examples per task; the rest are query (1)")
    p.add_argument("--first-order", action="store_true", help="first-order MAML")
    p.add_argument("--clip-grad", type=float, metavar="NORM",
                   help="clip the meta-gradient's global norm (default: no clipping, as the "
                   "reference); guards runs with several inner steps against diverging tasks")
    p.add_argument("--chunk-size", type=int,
                   help="tasks per vmap chunk on the generic path (bounds memory)")
    p.add_argument("--eval-every", type=int, default=100, help="evaluate every N steps (100)")
    p.add_argument("--eval-tasks", type=int, default=300, help="held-out tasks per eval (300)")
    p.add_argument("--tasks", dest="n_tasks", type=int, default=10_000,
                   help="tasks to generate, split 80/20 (10000)")
    p.add_argument("--seed", type=int, default=0, help="training seed (0)")
    p.add_argument("--data-seed", type=int, default=0, help="task-generation seed (0)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (cpu)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads (1: these small ops run fastest on one)")
    p.add_argument("--checkpoint-every", type=int, default=100, metavar="N",
                   help="write the resumable checkpoint every N steps (100) and at the end")
    add_image_train_args(p)


def _config(args: argparse.Namespace):
    from metasym.learning.training import TrainConfig

    return TrainConfig(
        problem=args.problem, model=args.model, k=args.k, steps=args.steps,
        inner_steps=args.inner_steps, inner_lr=args.inner_lr, outer_lr=args.outer_lr,
        tasks_per_step=args.tasks_per_step, support=args.support, eval_every=args.eval_every,
        eval_tasks=args.eval_tasks, seed=args.seed, data_seed=args.data_seed,
        n_tasks=args.n_tasks, first_order=args.first_order, clip_grad=args.clip_grad,
        chunk_size=args.chunk_size,
        device=args.device, threads=args.threads,
        data=str(args.data) if args.data else None, group=args.group,
        in_action=args.in_action, out_action=args.out_action,
        checkpoint_every=args.checkpoint_every)


def resume_config(args: argparse.Namespace, config_cls: type | None = None,
                   build: Any = None):
    """The run's recorded config with the flags given explicitly (not at their default)
    applied on top; :func:`~metasym.learning.training.train` then refuses conflicts.
    ``config_cls`` / ``build`` (the config class and ``args -> config``) default to the
    1-D :class:`~metasym.learning.training.TrainConfig` and :func:`_config`."""
    from dataclasses import fields

    from metasym.learning.training import TrainConfig, read_run_config

    config_cls, build = config_cls or TrainConfig, build or _config
    ref = argparse.ArgumentParser()
    _add_train_args(ref)
    given, default = build(args), build(ref.parse_args([]))
    cfg = config_cls.from_dict(read_run_config(args.resume, config_cls))
    for f in fields(config_cls):
        if getattr(given, f.name) != getattr(default, f.name):
            setattr(cfg, f.name, getattr(given, f.name))
    return cfg


def run_train(args: argparse.Namespace) -> int:
    import sys

    from metasym.cli.output import print_json
    from metasym.learning.checkpoint import TrainingInterrupted
    from metasym.learning.registry import IMAGE_PROBLEMS
    from metasym.learning.training import train

    if args.resume is not None:
        if args.out is not None and Path(args.out) != Path(args.resume):
            raise MetasymError(f"--resume {args.resume} continues that run in place; drop "
                               f"--out {args.out}")
        if args.overwrite:
            raise MetasymError("--resume and --overwrite exclude each other")
        args.out = args.resume
    elif args.out is None:
        raise MetasymError("train needs --out DIR (a new run) or --resume DIR")
    if args.problem in IMAGE_PROBLEMS or (args.resume and is_image_run(args.resume)):

        return run_train_images(args)
    if args.resume is not None:
        cfg = resume_config(args)
    else:
        cfg = _config(args)
    try:
        final = train(cfg, args.out, overwrite=args.overwrite, resume=args.resume is not None,
                      progress=not (args.json or args.quiet))
    except TrainingInterrupted as e:
        if _is_rank0():  # every rank stops at the same step; one message
            print(f"metasym: {e}", file=sys.stderr)
        return e.exit_code
    final.pop("history", None)
    if final.get("world_size", 1) > 1 and not _is_rank0():
        return 0
    if args.json:
        print_json(final | {"run": str(args.out)})
    else:
        print(f"{final['problem']} {final['model']}: test MSE {final['test_mse']:.4f} "
              f"+- {final['test_mse_ci95']:.4f} ({final['eval_tasks']} held-out tasks), "
              f"{final['test_mse_all']:.4f} +- {final['test_mse_all_ci95']:.4f} "
              f"(all {final['all_test_tasks']})")
        print(f"{final['steps']} steps in {final['seconds']:.1f} s, "
              f"{final['tasks_per_second']:.0f} tasks/s; run written to {args.out}")
    return 0


def _is_rank0() -> bool:
    import os

    return os.environ.get("RANK", "0") == "0"


# ----- compare -------------------------------------------------------------------------------
def _print_comparison(r: dict) -> None:
    print(f"run {r['run']}: {r['problem']} / {r['model']}")
    if r["answer"]:
        print(f"  analytic answer: {r['answer']}")
    rows = [
        ("learned dimension k", r.get("learned_dimension")),
        ("answer dimension", r.get("answer_dimension")),
        ("subspace distance (sin max angle)", r.get("subspace_distance")),
        ("subspace distance (rms sin)", r.get("subspace_distance_rms")),
        ("principal cosines", None if r.get("principal_cosines") is None else
         ", ".join(f"{c:.5f}" for c in r["principal_cosines"])),
        ("partition ARI (all entries)", r.get("partition_ari")),
        ("orbit ARI (on the exact support)", r.get("orbit_ari")),
        ("blocks recovered / exact", None if r.get("recovered_blocks") is None else
         f"{r['recovered_blocks']} / {fmt(r.get('exact_blocks'))}"),
        ("equivariance error (adapted layers)", r.get("equivariance_error")),
        ("distance of adapted W to the span", r.get("span_error")),
    ]
    print_rows(rows, r.get("notes", []))


def print_rows(rows: list[tuple[str, Any]], notes: list[str]) -> None:
    """Print ``(name, value)`` rows and notes as ``metasym compare`` shows them."""
    for name, val in rows:
        print(f"  {name:38s} {fmt(val)}")
    for note in notes:
        print(f"  note: {note}")


def run_compare(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json
    from metasym.learning.compare import compare_run, plot_comparison, public_result

    # 1-D and image runs differ only in how they are measured, drawn and printed
    if is_image_run(args.run):
        compare, plot, show = image_comparison()
    else:
        compare, plot, show = compare_run, plot_comparison, _print_comparison
    result = compare(args.run, n_tasks=args.tasks)
    out = public_result(result)
    if args.plot is not None:
        path = Path(args.plot) if args.plot else Path(args.run) / "compare.png"
        plot(result, path)
        out["plot"] = str(path)
    if args.json:
        print_json(out)
    else:
        show(out)
        if "plot" in out:
            print(f"  figure: {out['plot']}")
    return 0


# ----- reproduce -----------------------------------------------------------------------------
def run_reproduce(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json
    from metasym.learning.reproduce import table1

    if args.table == "table2":

        return run_table2(args)
    result = table1(steps=args.steps, out=args.out, overwrite=args.overwrite,
                    inner_steps=args.inner_steps, threads=args.threads,
                    n_tasks=args.n_tasks or 10_000,
                    progress=not (args.json or args.quiet), seed=args.seed,
                    problems=args.problems, models=args.models)
    if args.json:
        print_json(result)
    else:
        print(result["markdown"])
        print(f"written: {result['files']['markdown']}, {result['files']['json']}")
    return 0


# ----- demo ----------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    import shutil

    from metasym.cli.output import print_json
    from metasym.learning.compare import compare_run, plot_comparison, public_result
    from metasym.learning.training import TrainConfig, train
    from metasym.representations import conv1d

    out = Path(args.out)
    marker = out / "demo.json"
    if out.exists():
        if not (marker.is_file() or args.overwrite or not any(out.iterdir())):
            raise MetasymError(f"{out} exists and is not a previous demo output (use "
                               "--overwrite to replace it)")
        shutil.rmtree(out)
    out.mkdir(parents=True)
    P = conv1d(70, 3)
    say = (lambda *a: None) if args.json else print
    tour = None
    if not args.json:
        from metasym.cli.core import run_tour

        print("=" * 78)
        print("Part 1: a group, its exact sharing pattern U^G, the theorems checked")
        print("=" * 78)
        tour = run_tour(out / "tour")
        print("\n" + "=" * 78)
        print("Part 2: meta-learning U from tasks, compared with the analytic answer")
        print("=" * 78)
    say("metasym demo: meta-learn a sharing matrix U on rank1 (random 3-tap convolutions "
        "70 -> 68),\nthen compare it with the exact pattern derived from the translation "
        "group.")
    say(f"exact answer: {P.description}, derived from the group: the orbits of cyclic:70 "
        f"(translations) on (output, input) pairs, cut by a 3-tap window (band:3), rows "
        f"restricted to the {P.shape[0]} valid outputs -> {P.shape[0]}x{P.shape[1]} weights, "
        f"{P.dimension} shared parameters")
    cfg = TrainConfig(problem="rank1", model="msr-fc", steps=args.steps,
                      inner_steps=args.inner_steps, seed=args.seed, threads=args.threads,
                      n_tasks=args.n_tasks)
    t0 = time.perf_counter()
    final = train(cfg, out / "run", progress=not (args.json or args.quiet))
    final.pop("history", None)
    result = compare_run(out / "run")
    png = plot_comparison(result, out / "demo.png")
    seconds = time.perf_counter() - t0
    pub = public_result(result)
    summary = {"train": final, "compare": pub, "figure": str(png), "seconds": seconds,
               "tour": tour}
    marker.write_text(json.dumps(summary, indent=2, default=str) + "\n")
    if args.json:
        print_json(summary)
        return 0
    print(f"\nmeta-training: {cfg.steps} outer steps x {cfg.tasks_per_step} tasks, "
          f"{cfg.inner_steps} inner steps, {final['train_seconds']:.1f} s "
          f"({final['tasks_per_second']:.0f} tasks/s)")
    print(f"held-out test MSE {final['test_mse']:.4f} +- {final['test_mse_ci95']:.4f} "
          f"(predicting zero: {final['zero_predictor_mse']:.2f})\n")
    _print_comparison(pub)
    print(f"\nfigure: {png}   (total {seconds:.1f} s)")
    print(f"next: metasym discover {out / 'run'}   (which symmetry did U learn?)")
    return 1 if tour and tour["checks_failed"] else 0


# ----- image problems ------------------------------------------------------------------------

def add_image_train_args(p: argparse.ArgumentParser) -> None:
    """``--image-size`` and ``--fields`` (image problems only)."""
    p.add_argument("--image-size", type=int, default=32, metavar="N",
                   help="image problems: input size N x N (32)")
    p.add_argument("--fields", type=int, default=3,
                   help="image problems: regular output fields (3; 24 channels on rot8)")


def add_table2_args(p: argparse.ArgumentParser) -> None:
    """Options that only ``reproduce table2`` reads."""
    p.add_argument("--image-size", type=int, default=32, metavar="N",
                   help="table2: input size (32)")
    p.add_argument("--fields", type=int, default=3, help="table2: regular output fields (3)")
    p.add_argument("--inner-lr", default="0.1", metavar="LR|auto",
                   help="table2: initial learned inner step size (0.1, the reference's; auto: "
                   "c_out/2, one exact step on white-noise images)")
    p.add_argument("--full", action="store_true",
                   help="table2: the paper's task counts (10000; 2000 for rot8_flip) instead "
                   "of --tasks")


def is_image_run(run: str | Path) -> bool:
    """Whether ``run/config.json`` names an image problem (False when unreadable: the
    1-D code then reports the problem)."""
    from metasym.learning.registry import IMAGE_PROBLEMS

    try:
        cfg = json.loads((Path(run) / "config.json").read_text())
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    return isinstance(cfg, dict) and cfg.get("problem") in IMAGE_PROBLEMS


def _image_config(args: argparse.Namespace) -> Any:
    from metasym.learning.images import ImageTrainConfig

    return ImageTrainConfig(
        problem=args.problem, model=args.model, k=args.k, steps=args.steps,
        inner_steps=args.inner_steps, inner_lr=args.inner_lr, outer_lr=args.outer_lr,
        tasks_per_step=args.tasks_per_step, support=args.support, eval_every=args.eval_every,
        eval_tasks=args.eval_tasks, seed=args.seed, data_seed=args.data_seed,
        n_tasks=args.n_tasks, first_order=args.first_order, clip_grad=args.clip_grad,
        device=args.device, threads=args.threads, image_size=args.image_size,
        fields=args.fields, checkpoint_every=args.checkpoint_every)


def run_train_images(args: argparse.Namespace) -> int:
    """``metasym train`` for an image problem: a new run (``--out``) or ``--resume DIR``
    of an image run (the caller checked ``--out``/``--resume``/``--overwrite`` and set
    ``args.out`` to the resumed folder)."""
    import sys

    from metasym.cli.output import print_json
    from metasym.learning.checkpoint import TrainingInterrupted
    from metasym.learning.images import ImageTrainConfig, train_images

    resume = getattr(args, "resume", None) is not None
    if args.out is None:
        raise MetasymError("train needs --out DIR (a new run) or --resume DIR")
    if args.data is not None or args.group is not None:
        raise MetasymError(f"--problem {args.problem} is generated: drop --data/--group")
    cfg = (resume_config(args, ImageTrainConfig, _image_config) if resume
           else _image_config(args))
    try:
        final = train_images(cfg, args.out, overwrite=args.overwrite, resume=resume,
                             progress=not (args.json or args.quiet))
    except TrainingInterrupted as e:
        print(f"metasym: {e}", file=sys.stderr)
        return e.exit_code
    final.pop("history", None)
    if args.json:
        print_json(final | {"run": str(args.out)})
    else:
        print(f"{final['problem']} {final['model']}: test MSE {final['test_mse']:.4f} "
              f"+- {final['test_mse_ci95']:.4f} ({final['eval_tasks']} held-out tasks), "
              f"{final['test_mse_all']:.4f} +- {final['test_mse_all_ci95']:.4f} "
              f"(all {final['all_test_tasks']}); predicting zero: "
              f"{final['zero_predictor_mse']:.3f}")
        print(f"{final['steps']} steps in {final['train_seconds']:.1f} s "
              f"({final['steps_per_second']:.0f} steps/s; tasks generated in "
              f"{final['data_seconds']:.1f} s); run written to {args.out}")
    return 0


def _print_image_comparison(r: dict) -> None:
    print(f"run {r['run']}: {r['problem']} / {r['model']}")
    print(f"  exact structure: {r['answer']}")
    eq = r.get("equivariance_errors") or {}
    rows = [
        ("test MSE (held-out tasks compared)", None if r.get("test_mse") is None else
         f"{r['test_mse']:.4f} +- {r['test_mse_ci95']:.4f}"),
        ("learned dimension / exact", f"{fmt(r.get('learned_dimension'))} / "
         f"{r['answer_dimension']}"),
        ("subspace distance (sin max angle)", r.get("subspace_distance")),
        ("subspace distance (rms sin)", r.get("subspace_distance_rms")),
        ("equivariance error, mean", r.get("equivariance_error")),
        *((f"  under {k}", v) for k, v in eq.items()),
        ("45-degree error on rotated inputs", r.get("rotation45_error")),
        ("  same for exact steerable banks", r.get("rotation45_reference")),
        ("distance of adapted W to the span", r.get("span_error")),
    ]
    print_rows(rows, r.get("notes", []))


def image_comparison():
    """``(compare, plot, print)`` for image runs, as ``metasym compare`` uses them."""
    from metasym.learning.images import compare_image_run, plot_image_comparison

    return compare_image_run, plot_image_comparison, _print_image_comparison


def run_table2(args: argparse.Namespace) -> int:
    import sys

    from metasym.cli.output import print_json
    from metasym.learning.checkpoint import TrainingInterrupted
    from metasym.learning.table2 import table2

    out = args.out if args.out != "runs/table1" else "runs/table2"
    lr = args.inner_lr
    if lr != "auto":
        try:
            lr = float(lr)
        except ValueError:
            raise MetasymError(f"--inner-lr must be a number or auto, got {lr!r}") from None
    try:
        result = table2(steps=args.steps, inner_steps=args.inner_steps, inner_lr=lr,
                        out=out, overwrite=args.overwrite, threads=args.threads,
                        n_tasks=args.n_tasks or 2000, full=args.full,
                        image_size=args.image_size, fields=args.fields, seed=args.seed,
                        progress=not (args.json or args.quiet), problems=args.problems,
                        models=args.models)
    except TrainingInterrupted as e:  # the run being trained keeps its checkpoint
        print(f"metasym: {e}", file=sys.stderr)
        return e.exit_code
    if args.json:
        print_json(result)
    else:
        print(result["markdown"])
        print(f"written: {result['files']['markdown']}, {result['files']['json']}")
    return 0


# ----- registration --------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    """Add ``train``, ``compare``, ``reproduce`` and ``demo`` to the ``metasym`` parser."""
    p = subparsers.add_parser("train", help="meta-train a model on a task distribution",
                              description="Meta-train (MAML / MSR) and write runs/NAME: "
                              "config.json, metrics.jsonl, checkpoint.safetensors, final.json.")
    _add_train_args(p)
    p.add_argument("--out", metavar="DIR", help="run directory (runs/NAME)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run in DIR from its last checkpoint (its config.json "
                   "holds the settings; --steps N may extend it)")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser("compare", help="compare a run's learned U with the exact symmetry",
                              description="Subspace distance, partition ARI and equivariance "
                              "error of a finished run against its problem's analytic answer.")
    p.add_argument("run", metavar="RUN", help="run directory written by `metasym train`")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", nargs="?", const="", metavar="PATH.png",
                   help="write a PNG, learned beside exact (default RUN/compare.png)")
    p.add_argument("--tasks", type=int, default=300,
                   help="held-out tasks for the adapted-layer errors (300)")
    p.set_defaults(func=run_compare)

    p = subparsers.add_parser("reproduce", help="reproduce the paper's tables",
                              description="Train the paper's models and print our table "
                              "beside the reference implementation's figures.")
    p.add_argument("table", choices=["table1", "table2"],
                   help="which table (table1: 1-D problems; table2: image problems)")
    p.add_argument("--steps", type=int, default=1000, help="outer steps per run (1000)")
    p.add_argument("--inner-steps", type=int, default=1, help="inner steps (1)")
    p.add_argument("--tasks", dest="n_tasks", type=int, default=None,
                   help="tasks per problem (table1 10000, table2 2000)")
    p.add_argument("--problems", nargs="+", default=None, metavar="P",
                   help="subset of rank1 rank2 rank5 (table2: c4 d4 rot8 rot8_flip)")
    p.add_argument("--models", nargs="+", default=None, metavar="M",
                   help="subset of maml-fc maml-lc maml-conv msr-fc (table2: maml-conv "
                   "msr-conv-square msr-conv oracle)")
    p.add_argument("--seed", type=int, default=0, help="training seed (0)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    p.add_argument("--out", default="runs/table1", metavar="DIR",
                   help="folder for the runs and table1.md/.json (runs/table1; table2: "
                   "runs/table2)")

    add_table2_args(p)
    p.add_argument("--overwrite", action="store_true", help="replace an existing folder")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=run_reproduce)

    p = subparsers.add_parser("demo", help="learn the convolution symmetry from scratch (~1 min)",
                              description="Meta-learn U on rank1 and compare it with the exact "
                              "convolution pattern derived from the translation group.")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (runs/demo)")
    p.add_argument("--steps", type=int, default=2000, help="outer steps (2000)")
    p.add_argument("--inner-steps", type=int, default=5, help="inner steps (5)")
    p.add_argument("--tasks", dest="n_tasks", type=int, default=10_000,
                   help="tasks to generate (10000)")
    p.add_argument("--seed", type=int, default=0, help="seed (0)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (1)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace DIR even if it is not a previous demo output")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=run_demo)
