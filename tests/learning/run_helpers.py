"""Helpers shared by the resume tests: what two runs must have in common."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from metasym.learning.checkpoint import CHECKPOINT, read_checkpoint


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
