"""Helpers shared by the learning tests: building configs, training on prepared tasks,
and what two runs must have in common."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from metasym.learning.engine import RunConfig, fit
from metasym.learning.engine.checkpoint import CHECKPOINT, read_checkpoint
from metasym.learning.problems.images import ImageOptions, ImageSource
from metasym.learning.problems.regression import RegressionOptions, RegressionSource

_REGRESSION = ("group", "in_action", "out_action", "data")
_IMAGES = ("image_size", "fields")


def config(**kw: Any) -> RunConfig:
    """A 1-D :class:`RunConfig` (``group``/``in_action``/``out_action``/``data`` go to the
    problem's options)."""
    opts = {k: kw.pop(k) for k in _REGRESSION if k in kw}
    return RunConfig(**kw, options=RegressionOptions(**opts))


def image_config(**kw: Any) -> RunConfig:
    """An image :class:`RunConfig` (default ``c4`` / ``msr-conv``)."""
    opts = {k: kw.pop(k) for k in _IMAGES if k in kw}
    kw.setdefault("problem", "c4")
    kw.setdefault("model", "msr-conv")
    return RunConfig(**kw, options=ImageOptions(**opts))


def train(cfg: RunConfig, out: Path | None = None, *, tasks: Any = None, **kw: Any) -> dict:
    """:func:`fit` on prepared tasks (a TaskSet or ImageTasks, shared between runs);
    returns ``final.json``'s dict with the ``history``."""
    source = None
    if tasks is not None:
        source = (ImageSource(tasks) if hasattr(tasks, "stats")
                  else RegressionSource(tasks, cfg.support))
    result = fit(cfg, out, source=source, **kw)
    return result.to_json() | {"history": result.history}


def metric_rows(run: Path) -> list[dict]:
    """``metrics.jsonl`` rows without the wall-clock field (the only one allowed to differ)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    for r in rows:
        r.pop("seconds")
    return rows


def same_weights(a: Path, b: Path) -> bool:
    """Whether two runs' checkpoints hold identical tensors (RNG states aside)."""
    ta, _ = read_checkpoint(a / CHECKPOINT)
    tb, _ = read_checkpoint(b / CHECKPOINT)
    keys = [k for k in ta if not k.startswith("rng.")]
    return ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in keys)
