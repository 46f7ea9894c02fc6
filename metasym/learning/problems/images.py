r"""The image problems as an engine plug-in: ``c4``, ``d4``, ``rot8``, ``rot8_flip``.

Tasks are lifting convolutions held as sufficient statistics
(:class:`~metasym.learning.data.images.ImageTasks`); learners are
:class:`~metasym.learning.learners.conv.ConvMetaLearner` over the conv layers of
:mod:`metasym.learning.models.conv`. For ``discover``, an MSR-Conv run's learned kernel-sharing
block ``U_block`` (``|G| k^2 x r``, rows = (output channel of a field, kernel position)) is
the sharing matrix of a ``|G| x k^2`` layer: its symmetry group acts on the field's
channels and on the kernel positions (for ``c4``, the rotations of the kernel).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from metasym.errors import MetasymError
from metasym.learning.engine.protocol import Comparison, LearnedSharing, Problem
from metasym.learning.registry import CONV_MODEL_NAMES, IMAGE_PROBLEMS

__all__ = ["ImageOptions", "ImageSource", "ImageProblems", "IMAGES"]


@dataclass(frozen=True)
class ImageOptions:
    """Options of the image problems: input size ``image_size`` and the number of regular
    output ``fields`` (``fields x |G|`` channels)."""

    image_size: int = 32
    fields: int = 3


class ImageSource:
    """The engine's view of :class:`~metasym.learning.data.images.ImageTasks` (statistics on
    ``device``; batches are :class:`~metasym.learning.data.images.StatsBatch`)."""

    def __init__(self, tasks: Any, device: torch.device | str = "cpu") -> None:
        self.tasks = tasks
        self.problem = tasks.problem
        stats = tasks.stats.to(device)
        self.device = torch.device(device)
        self.n_train, self.n_test = tasks.n_train, tasks.n_tasks - tasks.n_train
        self._train = stats.select(slice(0, tasks.n_train))
        self._test = stats.select(slice(tasks.n_train, None))

    def train_batch(self, index: torch.Tensor) -> Any:
        return self._train.select(index.to(self.device))

    def test_batch(self, n: int | None = None) -> Any:
        return self._test.select(slice(0, n))

    def baseline(self, batch: Any) -> float:
        """Query MSE of predicting zero."""
        return float((batch.yyq / (batch.n_q * self.problem.out_channels)).mean())


class ImageProblems(Problem):
    """The image problems (see the module docstring)."""

    kind = "images"
    names = IMAGE_PROBLEMS
    models = CONV_MODEL_NAMES
    options_type = ImageOptions
    default_model = "msr-conv"

    def structure(self, cfg: Any) -> Any:
        """The exact structure (:class:`~metasym.learning.data.images.ImageProblem`)."""
        from metasym.learning.data.images import image_problem

        o = self.options(cfg)
        return image_problem(cfg.problem, fields=o.fields, image_size=o.image_size)

    def validate(self, cfg: Any) -> None:
        super().validate(cfg)
        for name in ("image_size", "fields"):
            val = getattr(self.options(cfg), name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise MetasymError(f"--{name.replace('_', '-')} must be a positive integer, "
                                   f"got {val!r}")
        self.structure(cfg)  # kernel / size consistency, one line

    def task_source(self, cfg: Any, device: torch.device) -> ImageSource:
        from metasym.learning.data.images import make_image_tasks

        o = self.options(cfg)
        tasks = make_image_tasks(cfg.problem, n_tasks=cfg.n_tasks, n_examples=cfg.n_examples,
                                 support=cfg.support, seed=cfg.data_seed,
                                 image_size=o.image_size, fields=o.fields)
        return ImageSource(tasks, device)

    def learner(self, cfg: Any, source: Any) -> Any:
        from metasym.learning.learners.conv import build_conv_learner

        return build_conv_learner(source.problem, cfg.model, k=cfg.k,
                                  inner_steps=cfg.inner_steps, inner_lr=cfg.inner_lr,
                                  first_order=cfg.first_order)

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        from metasym.learning.learners.conv import resolve_rank

        p = source.problem
        return {"k": resolve_rank(cfg.model, cfg.k, p), "kernel": p.kernel,
                "in_shape": [1, p.image_size, p.image_size],
                "out_shape": [p.out_channels, p.out_size, p.out_size],
                "tasks": source.tasks.n_tasks, "answer": p.description, "group": p.group.spec,
                "data_seconds": source.tasks.seconds, "path": "sufficient statistics"}

    def answer_arrays(self, cfg: Any, source: Any) -> dict[str, Any]:
        import numpy as np

        p = source.problem
        extra = {} if p.pattern is None else {"labels": p.pattern.labels}
        return {"basis": p.full_basis(), "block": p.block, **extra,
                "kind": np.array("pattern" if p.pattern is not None else "subspace"),
                "description": np.array(p.description)}

    def final_extras(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        p = source.problem
        return {"image_size": p.image_size, "fields": p.fields,
                "data_seconds": source.tasks.seconds}

    def shell_source(self, record: Any) -> Any:
        """The run's structure without tasks (enough to rebuild its learner)."""

        class _Shell:
            problem = self.structure(record.config)

        return _Shell()

    # ----- reading back -----------------------------------------------------------------------
    def compare(self, record: Any, learner: Any, source: Any, n_tasks: int) -> Comparison:
        from metasym.learning.comparison.images import compare_images

        return compare_images(record, learner, source.tasks, n_tasks)

    def sharing(self, record: Any, learner: Any) -> list[LearnedSharing]:
        from metasym.learning.models.conv import FullMSRConv2d, MSRConv2d

        model = learner.model
        p = self.structure(record.config)
        ref = None
        if p.pattern is not None:  # c4 / d4: G acts on kernel positions, regularly on channels
            ref = (p.group.spec, "natural", "regular")
        if isinstance(model, MSRConv2d) and model.field_in == 1:
            notes = [] if model.learns_U else ["oracle: U_block is the frozen exact block"]
            notes.append(f"the learned kernel-sharing block U_block of one field: "
                         f"{model.field_out} channels x {p.kernel}x{p.kernel} kernel positions")
            U = model.U_block.detach().double().cpu().numpy()
            return [LearnedSharing("U_block", U, (model.field_out, p.q), ref, notes)]
        if isinstance(model, FullMSRConv2d):
            U = model.full_U().detach().double().cpu().numpy()
            notes = [f"the full sharing matrix of the bank: {p.out_channels} channels x "
                     f"{p.kernel}x{p.kernel} kernel positions"]
            ref_full = ref if p.fields == 1 else None
            return [LearnedSharing("U", U, (p.out_channels, p.q), ref_full, notes)]
        raise MetasymError(f"{record.path}: model {record.config.model!r} has no learned "
                           "sharing matrix U (discover needs msr-conv, msr-conv-full or the "
                           "oracle)")


#: The registered instance.
IMAGES = ImageProblems()
