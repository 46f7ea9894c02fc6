"""``metasym train | compare | reproduce | demo``: the learning layer's subcommands.

Thin: parse, call :mod:`metasym.learning.engine`, print or save. Every problem kind goes
through the same engine, so one set of options serves them all; an option that does not
apply to the chosen problem is an error naming it. User mistakes raise
:class:`~metasym.errors.MetasymError` (one stderr line, exit status 2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from metasym.cli.options import (
    int_range,
    nonnegative_float,
    nonnegative_int,
    positive_float,
    positive_int,
)
from metasym.cli.output import fmt, print_json
from metasym.durations import duration
from metasym.errors import MetasymError

__all__ = ["register", "config_from_args", "print_comparison"]


# ----- option types (range-checked: one-line errors) ----------------------------------------
POSITIVE, NONNEGATIVE = positive_int, nonnegative_int
POSITIVE_FLOAT, NONNEGATIVE_FLOAT = positive_float, nonnegative_float
SEED = int_range(0, 2**64 - 1, name="seed")  # torch seeds take 64 bits
AT_LEAST_2 = int_range(2, name="task count")

#: train options that belong to one problem kind: flag -> option field
_PROBLEM_FLAGS = {"group": "--group", "in_action": "--in-action", "out_action": "--out-action",
                  "data": "--data", "image_size": "--image-size", "fields": "--fields",
                  "ways": "--ways", "shots": "--shots", "queries": "--queries",
                  "augment": "--augment", "channels": "--channels", "blocks": "--blocks",
                  "field": "--field-size", "rank": "--rank",
                  "test_episodes": "--test-episodes",
                  "glyph_alphabets": "--glyph-alphabets",
                  "glyph_characters": "--glyph-characters", "eval_split": "--eval-split",
                  "step_sizes": "--step-sizes", "augment_training": "--no-augment-training"}
#: common train options: argparse dest -> RunConfig field
_COMMON = {"model": "model", "k": "k", "steps": "steps", "inner_steps": "inner_steps",
           "inner_lr": "inner_lr", "outer_lr": "outer_lr", "tasks_per_step": "tasks_per_step",
           "support": "support", "first_order": "first_order", "clip_grad": "clip_grad",
           "chunk_size": "chunk_size", "eval_every": "eval_every", "eval_tasks": "eval_tasks",
           "n_tasks": "n_tasks", "seed": "seed", "data_seed": "data_seed", "device": "device",
           "threads": "threads", "checkpoint_every": "checkpoint_every"}


# ----- train ---------------------------------------------------------------------------------
def _add_train_args(p: argparse.ArgumentParser) -> None:
    from metasym.learning.registry import (
        CONV_MODEL_NAMES,
        FEWSHOT_MODEL_NAMES,
        FEWSHOT_PROBLEMS,
        IMAGE_PROBLEMS,
        MODEL_NAMES,
        PROBLEMS,
    )

    # every default is None: "given" means typed by the user (resume applies only those)
    p.add_argument("--problem", choices=PROBLEMS + IMAGE_PROBLEMS + FEWSHOT_PROBLEMS,
                   help="task distribution (rank1; with --data: none, the file's tasks; "
                   "c4 d4 rot8 rot8_flip are image problems; glyphs omniglot miniimagenet "
                   "few-shot classification)")
    p.add_argument("--group", help="--problem equivariant: group spec, e.g. cyclic:8")
    p.add_argument("--in-action", "--in", dest="in_action",
                   help="--problem equivariant: input action, e.g. natural")
    p.add_argument("--out-action", dest="out_action",
                   help="--problem equivariant: output action (--out names the run folder)")
    p.add_argument("--data", metavar="PATH",
                   help="train on a reference-format .npz file (x, y[, w]); with --problem "
                   "rank1|rank2|rank5 the problem's answer and default k apply; --problem "
                   "omniglot|miniimagenet: the data set's folder")
    p.add_argument("--image-size", type=POSITIVE, metavar="N",
                   help="image problems: input size N x N (32); few-shot: images resized "
                   "to N x N (28; miniimagenet 84)")
    p.add_argument("--fields", type=POSITIVE,
                   help="image problems: regular output fields (3; 24 channels on rot8)")
    few = p.add_argument_group("few-shot problems (glyphs, omniglot, miniimagenet)")
    few.add_argument("--ways", type=POSITIVE, help="classes per episode (5)")
    few.add_argument("--shots", type=POSITIVE, help="support images per class (1)")
    few.add_argument("--queries", type=POSITIVE, help="query images per class (15)")
    few.add_argument("--augment", metavar="LIST",
                     help="augment the query images of every episode (meta-training and "
                     "test; supports never): comma list of flip, vflip, rot90, rotate[:DEG], "
                     "crop[:AREA], or none (flip,vflip,rotate:30,crop: the paper's)")
    few.add_argument("--channels", type=POSITIVE, help="channels of every conv block (64)")
    few.add_argument("--blocks", type=POSITIVE, help="conv blocks (4)")
    few.add_argument("--field-size", dest="field", type=POSITIVE,
                     help="MSR: channels per field (default: the order of the "
                     "augmentation's group)")
    few.add_argument("--rank", type=POSITIVE,
                     help="MSR: columns of each group-conv layer's U_block (default: the "
                     "exact dimension |G| k^2; d^2 k^2: square, starts at the identity)")
    few.add_argument("--test-episodes", type=POSITIVE, help="fixed test episodes (600)")
    few.add_argument("--glyph-alphabets", type=POSITIVE, metavar="N",
                     help="glyphs: at most N alphabets per split (a small set)")
    few.add_argument("--glyph-characters", type=POSITIVE, metavar="N",
                     help="glyphs: at most N characters per alphabet")
    few.add_argument("--step-sizes", metavar="MODE",
                     help="inner step sizes: learned (default), fixed (at --inner-lr) or "
                     "floor:F (learned, never below F)")
    few.add_argument("--full", action="store_true",
                     help="the paper's sizes (64 channels, 15 queries, meta-batches of 32, "
                     "20000 steps; the default with --device cuda); on a CPU the defaults "
                     "are a preset that trains in minutes")
    few.add_argument("--no-augment-training", dest="augment_training", action="store_const",
                     const=False, help="meta-train on clean queries (test queries are "
                     "augmented all the same): the no-augmentation baseline")
    few.add_argument("--eval-split", choices=("test", "validation"),
                     help="meta-test on the held-out test alphabets (test), or hold out "
                     "every 4th training alphabet and meta-test there (validation: for "
                     "choosing settings)")
    models = tuple(dict.fromkeys(MODEL_NAMES + CONV_MODEL_NAMES + FEWSHOT_MODEL_NAMES))
    p.add_argument("--model", choices=models,
                   help="model (msr-fc; image problems msr-conv; few-shot msr; also oracle, "
                   "maml-fc, maml-lc, maml-conv, msr-conv-square, msr-conv-full, maml)")
    p.add_argument("--k", type=POSITIVE,
                   help="MSR filter parameters (default: rank1 3, rank2 6, rank5 30, the "
                   "exact dimension otherwise)")
    p.add_argument("--steps", type=POSITIVE, help="outer steps (1000)")
    p.add_argument("--inner-steps", type=NONNEGATIVE, help="inner SGD steps (1)")
    p.add_argument("--inner-lr", type=NONNEGATIVE_FLOAT,
                   help="initial learned inner step size (0.1)")
    p.add_argument("--outer-lr", type=POSITIVE_FLOAT, help="Adam learning rate (1e-3)")
    p.add_argument("--tasks-per-step", type=POSITIVE, help="tasks per outer step (32)")
    p.add_argument("--support", type=POSITIVE,
                   help="support examples per task; the rest are query (1)")
    p.add_argument("--first-order", action="store_const", const=True,
                   help="first-order MAML")
    p.add_argument("--clip-grad", type=POSITIVE_FLOAT, metavar="NORM",
                   help="clip the meta-gradient's global norm (default: no clipping, as the "
                   "reference); guards runs with several inner steps against diverging tasks")
    p.add_argument("--chunk-size", type=POSITIVE,
                   help="tasks per vmap chunk on the generic path (bounds memory)")
    p.add_argument("--eval-every", type=POSITIVE, help="evaluate every N steps (100)")
    p.add_argument("--eval-tasks", type=POSITIVE, help="held-out tasks per eval (300)")
    p.add_argument("--tasks", dest="n_tasks", type=AT_LEAST_2,
                   help="tasks to generate, split 80/20 (10000)")
    p.add_argument("--seed", type=SEED, help="training seed (0)")
    p.add_argument("--data-seed", type=SEED, help="task-generation seed (0)")
    p.add_argument("--device", help="cpu, cuda or cuda:N (cpu)")
    p.add_argument("--threads", type=POSITIVE,
                   help="torch CPU threads (1: these small ops run fastest on one)")
    p.add_argument("--checkpoint-every", type=POSITIVE, metavar="N",
                   help="write the resumable checkpoint every N steps (100) and at the end")


def config_from_args(args: argparse.Namespace, base: Any = None) -> Any:
    """The :class:`~metasym.learning.engine.RunConfig` the flags describe: a new run's
    (defaults filled in), or ``base`` (a resumed run's recorded config) with the flags
    the user typed applied on top. A flag of another problem kind is an error naming it."""
    from metasym.learning.engine import RunConfig, get_problem

    given = {f: getattr(args, a) for a, f in _COMMON.items() if getattr(args, a) is not None}
    opts = {f: getattr(args, f) for f in _PROBLEM_FLAGS if getattr(args, f) is not None}
    if "data" in opts:
        opts["data"] = str(opts["data"])
    if base is None:
        problem = args.problem or ("data" if args.data is not None else "rank1")
    else:
        problem = base.problem
        if args.problem is not None and args.problem != problem:
            raise MetasymError(f"--resume: the run is --problem {problem}; drop --problem "
                               f"{args.problem}")
    kind = get_problem(problem)
    names = {f.name for f in _fields(kind.options_type)}
    wrong = [_PROBLEM_FLAGS[f] for f in opts if f not in names]
    if wrong:
        raise MetasymError(f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not apply "
                           f"to --problem {problem}")
    if base is not None:
        return base.replace(**given, **opts)
    device, full = given.get("device") or "cpu", bool(getattr(args, "full", False))
    preset, preset_opts = kind.defaults(device, full)
    if full and (preset, preset_opts) == kind.defaults(device, False):
        raise MetasymError(f"--full does not apply to --problem {problem}")
    given = preset | given
    opts = {k: v for k, v in preset_opts.items() if k in names} | opts
    options = kind.options_type(**opts) if kind.options_type is not None else None
    given.setdefault("model", kind.default_model)
    return RunConfig(problem=problem, options=options, **given)


def _fields(cls: Any) -> tuple:
    from dataclasses import fields

    return fields(cls) if cls is not None else ()


def _progress(args: argparse.Namespace) -> bool | str:
    """The bar setting of :mod:`metasym.progress`: ``--progress`` draws it even when stderr
    is not a terminal, ``--quiet``/``--json`` never, otherwise on a terminal only."""
    if getattr(args, "progress", False):
        return "always"
    return not (args.json or args.quiet)


def _is_rank0() -> bool:
    return os.environ.get("RANK", "0") == "0"


def run_train(args: argparse.Namespace) -> int:
    from metasym.learning.engine import TrainingInterrupted, fit, read_run

    if args.resume is not None:
        if args.out is not None and Path(args.out) != Path(args.resume):
            raise MetasymError(f"--resume {args.resume} continues that run in place; drop "
                               f"--out {args.out}")
        if args.overwrite:
            raise MetasymError("--resume and --overwrite exclude each other")
        cfg = config_from_args(args, read_run(args.resume).config)
        out = args.resume
    elif args.out is None:
        raise MetasymError("train needs --out DIR (a new run) or --resume DIR")
    else:
        cfg, out = config_from_args(args), args.out
    try:
        result = fit(cfg, out, overwrite=args.overwrite, resume=args.resume is not None,
                     progress=_progress(args))
    except TrainingInterrupted as e:
        if _is_rank0():  # every rank stops at the same step; one message
            print(f"metasym: {e}", file=sys.stderr)
        return e.exit_code
    if result.world_size > 1 and not _is_rank0():
        return 0
    if args.json:
        print_json(result.to_json() | {"run": str(out)})
    else:
        print(result.summary_line())
        rate = (f"{result.tasks_per_second:.0f} tasks/s" if result.tasks_per_second
                else "no steps run")
        print(f"{result.steps} steps in {result.seconds:.1f} s, {rate}; run written to {out}")
    return 0


# ----- compare -------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, float) for v in value):
        return ", ".join(f"{v:.5f}" for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
    return fmt(value)


def print_comparison(result: Any) -> None:
    """Print a :class:`~metasym.learning.engine.Comparison` as ``metasym compare`` does."""
    print(f"run {result.run}: {result.problem} / {result.model}")
    if result.answer:
        print(f"  analytic answer: {result.answer}")
    width = max([38, *(len(str(label)) for label, _ in result.rows)])  # long labels align
    for label, value in result.rows:
        print(f"  {str(label):{width}s} {_cell(value)}")
    for note in result.notes:
        print(f"  note: {note}")


def run_compare(args: argparse.Namespace) -> int:
    from metasym.learning.engine import compare_run

    result = compare_run(args.run, n_tasks=args.tasks)
    out = result.to_json()
    if args.plot is not None:
        if result.plot is None:
            raise MetasymError(f"--plot: no figure for problem kind "
                               f"{result.problem} runs")
        path = Path(args.plot) if args.plot else Path(args.run) / "compare.png"
        result.plot(path)
        out["plot"] = str(path)
    if args.json:
        print_json(out)
    else:
        print_comparison(result)
        if "plot" in out:
            print(f"  figure: {out['plot']}")
    return 0


# ----- reproduce -----------------------------------------------------------------------------
def run_reproduce(args: argparse.Namespace) -> int:
    from metasym.learning.engine import TrainingInterrupted

    if args.table != "table3":
        for flag, bad in (("--settings", args.settings), ("--device", args.device),
                          ("--augment", args.augment is not None),
                          ("--eval-split", args.eval_split is not None),
                          ("--channels", args.channels), ("--test-episodes", args.test_episodes),
                          ("--glyph-alphabets", args.glyph_alphabets),
                          ("--glyph-characters", args.glyph_characters)):
            if bad:
                raise MetasymError(f"{flag} applies only to table3")
    try:
        if args.table == "table3":
            result = _run_table3(args)
        elif args.table == "table2":
            from metasym.learning.experiments.table2 import table2

            lr = args.inner_lr
            if lr != "auto":
                lr = POSITIVE_FLOAT(lr) if _is_number(lr) else None
                if lr is None:
                    raise MetasymError(f"--inner-lr must be a positive number or auto, got "
                                       f"{args.inner_lr!r}")
            out = args.out if args.out is not None else "runs/table2"
            result = table2(steps=args.steps or 1000, inner_steps=args.inner_steps,
                            inner_lr=lr, out=out, overwrite=args.overwrite,
                            threads=args.threads or 1,
                            n_tasks=args.n_tasks or 2000, full=args.full,
                            image_size=args.image_size or 32, fields=args.fields or 3,
                            seed=args.seed,
                            progress=_progress(args), problems=args.problems,
                            models=args.models)
        else:
            from metasym.learning.experiments.table1 import table1

            for flag, val in (("--full", args.full), ("--image-size", args.image_size),
                              ("--fields", args.fields)):
                if val:
                    raise MetasymError(f"{flag} applies only to table2")
            result = table1(steps=args.steps or 1000, out=args.out or "runs/table1",
                            overwrite=args.overwrite, inner_steps=args.inner_steps,
                            threads=args.threads or 1, n_tasks=args.n_tasks or 10_000,
                            progress=_progress(args), seed=args.seed,
                            problems=args.problems, models=args.models)
    except TrainingInterrupted as e:  # the run being trained keeps its checkpoint
        print(f"metasym: {e}", file=sys.stderr)
        return e.exit_code
    if args.json:
        print_json(result)
    else:
        print(result["markdown"])
        print(f"written: {result['files']['markdown']}, {result['files']['json']}")
    return 0


def _setting(text: str) -> tuple[int, int]:
    """``WAYSxSHOTS`` (e.g. ``5x1``) as a pair of positive integers."""
    parts = text.lower().split("x")
    if len(parts) != 2 or not all(p.isascii() and p.isdigit() for p in parts):
        raise argparse.ArgumentTypeError(f"expected WAYSxSHOTS such as 5x1, got {text!r}")
    ways, shots = int(parts[0]), int(parts[1])
    if ways < 2 or shots < 1:
        raise argparse.ArgumentTypeError(f"need at least 2 ways and 1 shot, got {text!r}")
    return ways, shots


def _run_table3(args: argparse.Namespace) -> dict[str, Any]:
    from metasym.learning.experiments.table3 import DEFAULT_AUGMENT, table3

    for flag, bad in (("--tasks", args.n_tasks is not None), ("--problems", args.problems),
                      ("--image-size", args.image_size), ("--fields", args.fields),
                      ("--inner-lr", args.inner_lr != "0.1"),
                      ("--inner-steps", args.inner_steps != 1)):
        if bad:
            raise MetasymError(f"{flag} does not apply to table3")
    return table3(full=args.full, steps=args.steps, out=args.out or "runs/table3",
                  overwrite=args.overwrite, threads=args.threads, device=args.device,
                  augment=args.augment or DEFAULT_AUGMENT, seed=args.seed,
                  eval_split=args.eval_split or "test",
                  progress=_progress(args), settings=args.settings,
                  models=args.models, channels=args.channels,
                  test_episodes=args.test_episodes, glyph_alphabets=args.glyph_alphabets,
                  glyph_characters=args.glyph_characters)


def _is_number(text: str) -> bool:
    try:
        POSITIVE_FLOAT(text)
    except argparse.ArgumentTypeError:
        return False
    return True


# ----- demo ----------------------------------------------------------------------------------
def run_demo(args: argparse.Namespace) -> int:
    import json

    from metasym.files import atomic_write_text
    from metasym.learning.engine import RunConfig, compare_run, fit
    from metasym.learning.engine.runfolder import prepare_output
    from metasym.representations import conv1d

    out = Path(args.out)
    overwrite = args.overwrite or (out / "demo.json").is_file()  # a previous demo output
    folder = prepare_output(out, overwrite=overwrite, kind="demo", resume_hint=False)
    try:
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
            f"restricted to the {P.shape[0]} valid outputs -> {P.shape[0]}x{P.shape[1]} "
            f"weights, {P.dimension} shared parameters")
        cfg = RunConfig(problem="rank1", model="msr-fc", steps=args.steps,
                        inner_steps=args.inner_steps, seed=args.seed, threads=args.threads,
                        n_tasks=args.n_tasks)
        t0 = time.perf_counter()
        final = fit(cfg, out / "run", progress=_progress(args))
        result = compare_run(out / "run")
        png = result.plot(out / "demo.png")
        seconds = time.perf_counter() - t0
        summary = {"train": final.to_json(), "compare": result.to_json(), "figure": str(png),
                   "seconds": seconds, "tour": tour}
        atomic_write_text(out / "demo.json", json.dumps(summary, indent=2, default=str) + "\n")
    except BaseException:
        folder.abort()
        raise
    folder.commit()
    folder.release()
    if args.json:
        print_json(summary)
        return 0
    print(f"\nmeta-training: {cfg.steps} outer steps x {cfg.tasks_per_step} tasks, "
          f"{cfg.inner_steps} inner steps, {final.train_seconds:.1f} s "
          f"({final.tasks_per_second:.0f} tasks/s)")
    print(f"held-out test MSE {final.test:.4f} +- {final.test_ci95:.4f} "
          f"(predicting zero: {final.baseline:.2f})\n")
    print_comparison(result)
    print(f"\nfigure: {png}   (total {seconds:.1f} s)")
    print(f"next: metasym discover {out / 'run'}   (which symmetry did U learn?)")
    return 1 if tour and tour["checks_failed"] else 0


# ----- registration --------------------------------------------------------------------------
def register(subparsers: Any) -> None:
    """Add ``train``, ``compare``, ``reproduce`` and ``demo`` to the ``metasym`` parser."""
    p = subparsers.add_parser("train", help="meta-train a model on a task distribution",
                              description="Meta-train (MAML / MSR) and write runs/NAME: "
                              "config.json, metrics.jsonl, checkpoint.safetensors, final.json. "
                              "Every problem kind runs on the same engine (resume, torchrun).")
    _add_train_args(p)
    p.add_argument("--out", metavar="DIR", help="run folder (runs/NAME)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing run folder that metasym created")
    p.add_argument("--resume", metavar="DIR",
                   help="continue the run in DIR from its last checkpoint (its config.json "
                   "holds the settings; --steps N may extend it)")
    p.add_argument("--json", action="store_true", help="print the final summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true",
                   help="draw the progress bar even when stderr is not a terminal (by "
                   "default it is drawn on a terminal only)")
    p.set_defaults(func=run_train)

    p = subparsers.add_parser("compare", help="compare a run's learned U with the exact symmetry",
                              description="Subspace distance, partition ARI and equivariance "
                              "error of a run against its problem's analytic answer (an "
                              "unfinished run is compared at its checkpoint, and says so).")
    p.add_argument("run", metavar="RUN", help="run folder written by `metasym train`")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--plot", nargs="?", const="", metavar="PATH.png",
                   help="write a PNG, learned beside exact (default RUN/compare.png)")
    p.add_argument("--tasks", type=POSITIVE, default=300,
                   help="held-out tasks for the adapted-layer errors (300)")
    p.set_defaults(func=run_compare)

    p = subparsers.add_parser(
        "reproduce", help="reproduce the paper's tables",
        description="Train the paper's models and print our table beside the reference "
        "implementation's figures (times on 2 CPU cores). table1: maml-fc maml-lc maml-conv "
        f"msr-fc on rank1 rank2 rank5, {duration('table1')}, written to runs/table1. table2: "
        "maml-conv msr-conv-square msr-conv oracle on c4 d4 rot8 rot8_flip, "
        f"{duration('table2')}, written to runs/table2. table3: msr msr-square msr-kron "
        "maml+aug maml oracle, 5- and 20-way 1-shot glyph episodes, "
        f"{duration('table3')} with --augment rot90,flip, written to runs/table3.")
    p.add_argument("table", choices=["table1", "table2", "table3"],
                   help="which table (table1: 1-D problems; table2: image problems; table3: "
                   "augmented few-shot classification on the glyph data)")
    p.add_argument("--steps", type=POSITIVE, default=None,
                   help="outer steps per run (1000; table3: its preset's)")
    p.add_argument("--inner-steps", type=NONNEGATIVE, default=1, help="inner steps (1)")
    p.add_argument("--tasks", dest="n_tasks", type=AT_LEAST_2, default=None,
                   help="tasks per problem (table1 10000, table2 2000)")
    p.add_argument("--problems", nargs="+", default=None, metavar="P",
                   help="subset of rank1 rank2 rank5 (table2: c4 d4 rot8 rot8_flip)")
    p.add_argument("--models", nargs="+", default=None, metavar="M",
                   help="subset of maml-fc maml-lc maml-conv msr-fc (table2: maml-conv "
                   "msr-conv-square msr-conv oracle; table3: msr msr-square msr-kron "
                   "maml+aug maml oracle)")
    p.add_argument("--seed", type=SEED, default=0, help="training seed (0)")
    p.add_argument("--threads", type=POSITIVE, default=None,
                   help="torch CPU threads (1; table3: 2, --full: torch's default)")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="folder for the runs and the table (runs/table1, runs/table2 or "
                   "runs/table3); a rerun continues it: finished runs are kept")
    p.add_argument("--image-size", type=POSITIVE, default=None, metavar="N",
                   help="table2: input size (32)")
    p.add_argument("--fields", type=POSITIVE, default=None,
                   help="table2: regular output fields (3)")
    p.add_argument("--inner-lr", default="0.1", metavar="LR|auto",
                   help="table2: initial learned inner step size (0.1, the reference's; auto: "
                   "c_out/2, one exact step on white-noise images)")
    p.add_argument("--full", action="store_true",
                   help="table2: the paper's task counts (10000; 2000 for rot8_flip) instead "
                   "of --tasks; table3: the paper's size, for a GPU")
    t3 = p.add_argument_group("table3")
    t3.add_argument("--settings", nargs="+", type=_setting, default=None, metavar="WxK",
                    help="N-way K-shot settings (5x1 20x1)")
    t3.add_argument("--augment", default=None, metavar="LIST",
                    help="augmentation of the query images of every episode, meta-training "
                    "and test (flip,vflip,rotate:30,crop: the paper's; exact group: the two "
                    "flips); e.g. rot90,flip (exact group D4)")
    t3.add_argument("--eval-split", choices=("test", "validation"), default=None,
                    help="meta-test on the held-out test alphabets (test) or on held-out "
                    "training alphabets (validation: for choosing settings)")
    t3.add_argument("--device", default=None, help="cpu or cuda (cpu; --full: cuda)")
    t3.add_argument("--channels", type=POSITIVE, default=None,
                    help="channels of every conv block (32; --full 64)")
    t3.add_argument("--test-episodes", type=POSITIVE, default=None,
                    help="fixed test episodes (600)")
    t3.add_argument("--glyph-alphabets", type=POSITIVE, default=None, metavar="N",
                    help="a smaller glyph set: at most N alphabets per split")
    t3.add_argument("--glyph-characters", type=POSITIVE, default=None, metavar="N",
                    help="a smaller glyph set: at most N characters per alphabet")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing folder that metasym created")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--progress", action="store_true",
                   help="draw the progress bar even when stderr is not a terminal (by "
                   "default it is drawn on a terminal only)")
    p.set_defaults(func=run_reproduce)

    p = subparsers.add_parser("demo", help="learn the convolution symmetry from scratch "
                              f"({duration('demo')})",
                              description="Meta-learn U on rank1 and compare it with the exact "
                              "convolution pattern derived from the translation group.")
    p.add_argument("--out", default="runs/demo", metavar="DIR", help="output folder (runs/demo)")
    p.add_argument("--steps", type=POSITIVE, default=2000, help="outer steps (2000)")
    p.add_argument("--inner-steps", type=NONNEGATIVE, default=5, help="inner steps (5)")
    p.add_argument("--tasks", dest="n_tasks", type=AT_LEAST_2, default=10_000,
                   help="tasks to generate (10000)")
    p.add_argument("--seed", type=SEED, default=0, help="seed (0)")
    p.add_argument("--threads", type=POSITIVE, default=1, help="torch CPU threads (1)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace DIR if metasym created it (a previous demo is replaced "
                   "without asking)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--progress", action="store_true",
                   help="draw the progress bar even when stderr is not a terminal (by "
                   "default it is drawn on a terminal only)")
    p.set_defaults(func=run_demo)
