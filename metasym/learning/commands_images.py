"""The image problems' side of ``metasym train | compare | reproduce table2``.

:mod:`metasym.learning.commands` calls these hooks when ``--problem`` is an image problem
(``c4``, ``d4``, ``rot8``, ``rot8_flip``), when a run folder holds an image run, or for
``reproduce table2``. Torch is imported only inside the handlers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from metasym.errors import MetasymError
from metasym.learning.commands import _fmt, print_rows

__all__ = [
    "add_image_train_args",
    "add_table2_args",
    "is_image_run",
    "run_train_images",
    "image_comparison",
    "run_table2",
]


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

    from metasym.cli import print_json
    from metasym.learning.checkpoint import TrainingInterrupted
    from metasym.learning.commands import _resume_config
    from metasym.learning.images import ImageTrainConfig, train_images

    resume = getattr(args, "resume", None) is not None
    if args.out is None:
        raise MetasymError("train needs --out DIR (a new run) or --resume DIR")
    if args.data is not None or args.group is not None:
        raise MetasymError(f"--problem {args.problem} is generated: drop --data/--group")
    cfg = (_resume_config(args, ImageTrainConfig, _image_config) if resume
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
        ("learned dimension / exact", f"{_fmt(r.get('learned_dimension'))} / "
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

    from metasym.cli import print_json
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
