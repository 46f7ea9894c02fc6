r"""The configuration of a meta-training run: one frozen dataclass of common fields plus
the problem's own options, and the evaluation statistics.

:class:`RunConfig` holds what every problem kind shares (outer and inner optimisation,
evaluation, seeds, device); :attr:`RunConfig.options` holds a problem kind's own frozen
dataclass (for example the group and actions of ``equivariant``, or the image size of
``c4``), so no problem inherits a field it has to reject. ``config.json`` stores both,
flat, with the resolved figures of the run and a digest of the fields that define it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from metasym.errors import SpecError
from metasym.learning.stats import mean_ci95, t_quantile_975

__all__ = [
    "RunConfig",
    "RESUMABLE_CHANGES",
    "RESOLVED_FIELDS",
    "mean_ci95",
    "t_quantile_975",
]

#: Config fields a resumed run may change (they do not change the numbers it computes).
RESUMABLE_CHANGES = ("steps", "checkpoint_every", "device", "threads")

#: Fields a run records resolved (``k``: the problem's default); ``None`` in a config
#: matches the recorded value.
RESOLVED_FIELDS = ("k",)

_INT_FIELDS = ("steps", "tasks_per_step", "support", "eval_every", "eval_tasks", "n_tasks",
               "n_examples", "checkpoint_every")


@dataclass(frozen=True)
class RunConfig:
    """Settings of one run; the defaults are the reference implementation's protocol.

    Attributes
    ----------
    problem, model
        Registered problem name (or a user problem's name) and model name.
    k
        Filter parameters of an MSR layer (``None``: the problem's default).
    steps, tasks_per_step, outer_lr, clip_grad
        Outer loop: Adam steps, tasks per step, learning rate, optional global-norm
        clipping of the meta-gradient.
    inner_steps, inner_lr, first_order, chunk_size
        Inner loop: SGD steps, initial learned step size, first-order MAML, tasks per
        ``vmap`` chunk on the generic path.
    support, n_examples, n_tasks, data_seed
        Task source: support examples per task (the rest are query), examples per task,
        tasks generated (split 80/20 into train and held-out), generation seed.
    eval_every, eval_tasks, checkpoint_every
        Evaluate on the first ``eval_tasks`` held-out tasks every ``eval_every`` steps;
        write the resumable checkpoint every ``checkpoint_every`` steps.
    seed, device, threads
        Training seed (initialisation and batch sampling), ``cpu`` or ``cuda``, torch CPU
        threads (``None``: leave torch's setting).
    options
        The problem kind's own frozen dataclass, or ``None``.
    """

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
    checkpoint_every: int = 100
    options: Any = None

    # ----- checks ----------------------------------------------------------------------
    def validate(self) -> None:
        """Range-check the common fields (one-line :class:`~metasym.errors.SpecError`
        naming the command-line flag)."""
        for name in _INT_FIELDS:
            val = getattr(self, name)
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
                raise SpecError(f"--{name.replace('_', '-')} must be a positive integer, "
                                f"got {val!r}")
        if self.n_tasks < 2:
            raise SpecError(f"--tasks must be at least 2 (train and held-out), got {self.n_tasks}")
        if not isinstance(self.inner_steps, int) or self.inner_steps < 0:
            raise SpecError(f"--inner-steps must be >= 0, got {self.inner_steps!r}")
        if self.k is not None and (not isinstance(self.k, int) or self.k < 1):
            raise SpecError(f"--k must be a positive integer, got {self.k!r}")
        if self.chunk_size is not None and (not isinstance(self.chunk_size, int)
                                            or self.chunk_size < 1):
            raise SpecError(f"--chunk-size must be a positive integer, got {self.chunk_size!r}")
        if self.clip_grad is not None and not (self.clip_grad > 0 and math.isfinite(self.clip_grad)):
            raise SpecError(f"--clip-grad must be a positive number, got {self.clip_grad}")
        if self.threads is not None and not 1 <= self.threads <= 1024:
            raise SpecError(f"--threads must be between 1 and 1024, got {self.threads}")
        if not -(2**63) <= self.seed < 2**64:
            raise SpecError(f"--seed must fit in 64 bits, got {self.seed}")
        if not 0 <= self.data_seed < 2**64:
            raise SpecError(f"--data-seed must be between 0 and 2**64 - 1, got {self.data_seed}")
        for name in ("outer_lr", "inner_lr"):
            val = getattr(self, name)
            if not (isinstance(val, (int, float)) and math.isfinite(val)
                    and (val > 0 if name == "outer_lr" else val >= 0)):
                raise SpecError(f"--{name.replace('_', '-')} must be a "
                                f"{'positive' if name == 'outer_lr' else 'non-negative'} "
                                f"number, got {val!r}")
        if self.support >= self.n_examples:
            raise SpecError(f"--support must be smaller than the examples per task "
                            f"({self.n_examples}), got {self.support}")
        dev = self.device
        if not isinstance(dev, str) or not (dev in ("cpu", "cuda") or (
                dev.startswith("cuda:") and dev[5:].isascii() and dev[5:].isdigit())):
            raise SpecError(f"unknown --device {dev!r}; use cpu, cuda or cuda:N")

    # ----- serialisation ---------------------------------------------------------------
    def common(self) -> dict[str, Any]:
        """The common fields as a dict (no options)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "options"}

    def to_json(self) -> dict[str, Any]:
        """Common fields and the options' fields, flat (what ``config.json`` starts with)."""
        out = self.common()
        if self.options is not None:
            out |= dataclasses.asdict(self.options)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any], options_type: type | None = None) -> RunConfig:
        """Rebuild from :meth:`to_json`'s dict (extra keys ignored; missing ones default)."""
        names = {f.name for f in fields(cls)} - {"options"}
        common = {k: v for k, v in d.items() if k in names}
        options = None
        if options_type is not None:
            onames = {f.name for f in fields(options_type)}
            options = options_type(**{k: v for k, v in d.items() if k in onames})
        return cls(**common, options=options)

    def replace(self, **changes: Any) -> RunConfig:
        """A copy with ``changes`` applied (common or option fields)."""
        names = {f.name for f in fields(self)}
        common = {k: v for k, v in changes.items() if k in names}
        rest = {k: v for k, v in changes.items() if k not in names}
        if rest:
            if self.options is None:
                raise SpecError(f"{', '.join(rest)} do not apply to problem {self.problem}")
            common["options"] = dataclasses.replace(self.options, **rest)
        return dataclasses.replace(self, **common)

    def defining_fields(self) -> dict[str, Any]:
        """The fields that define the numbers a run computes (all but
        :data:`RESUMABLE_CHANGES`)."""
        return {k: v for k, v in self.to_json().items() if k not in RESUMABLE_CHANGES}

    def digest(self) -> str:
        """SHA-256 (hex, 16 digits) of :meth:`defining_fields`: recorded in
        ``config.json`` and checked whenever a run folder is read, so a config edited by
        hand cannot make a resume continue, or a comparison judge, another run."""
        text = json.dumps(self.defining_fields(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def conflicts(self, other: RunConfig) -> list[str]:
        """``--flag value (the run has ...)`` for every defining field that differs."""
        mine, theirs = self.defining_fields(), other.defining_fields()
        return [f"--{k.replace('_', '-')} {mine.get(k)!r} (the run has {theirs.get(k)!r})"
                for k in sorted(set(mine) | set(theirs)) if mine.get(k) != theirs.get(k)
                and not (k in RESOLVED_FIELDS and mine.get(k) is None)]
