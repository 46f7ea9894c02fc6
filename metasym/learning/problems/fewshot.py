r"""Few-shot classification as an engine plug-in: ``glyphs``, ``omniglot``, ``miniimagenet``.

Episodes (:class:`~metasym.learning.data.episodes.EpisodeSource`) are drawn deterministically
from the engine's task index; the learner is a
:class:`~metasym.learning.learners.fewshot.FewShotLearner` over the conv4
:class:`~metasym.learning.models.convnet.ConvNet` of ``--model msr|maml|oracle``. The metric is
query accuracy (higher is better) over the fixed test episodes of the held-out split, with
the query cross-entropy as a second metric; the baseline is chance, ``1/N``.

With an augmentation, the query images of every episode -- meta-training and test -- are
transformed and the supports never are (the benchmark's protocol): ``test_accuracy`` is
the accuracy on the augmented test queries, ``test_accuracy_clean`` on the same episodes'
clean queries.

The analytic answer (``answer.npz``) is the exact per-field-pair sharing block of every
layer for the augmentation's exact group (``flip``, ``vflip``, ``klein``, ``c4``,
``d4``), when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from metasym.errors import MetasymError, SpecError
from metasym.learning.engine.protocol import Comparison, LearnedSharing, Problem
from metasym.learning.registry import FEWSHOT_MODEL_NAMES, FEWSHOT_PROBLEMS

__all__ = ["FewShotOptions", "FewShotProblems", "FEWSHOT", "CPU_PRESET", "FULL_PRESET",
           "load_splits"]

#: Test episodes are held as image indices; beyond this they would not fit in memory.
MAX_TEST_EPISODES = 100_000

#: Common settings that do not apply to episodes (their ``RunConfig`` defaults).
_NOT_EPISODIC = {"n_tasks": ("--tasks", 10_000), "support": ("--support", 1),
                 "n_examples": ("--examples", 20), "k": ("--k", None)}


@dataclass(frozen=True)
class FewShotOptions:
    """Options of the few-shot problems.

    Attributes
    ----------
    ways, shots, queries
        ``N``-way ``K``-shot episodes with ``queries`` query images per class.
    augment
        Augmentation of the query images of every episode, meta-training and test
        (:meth:`~metasym.learning.data.augment.Augmentation.parse`: any of ``flip``,
        ``vflip``, ``rot90``, ``rotate:DEG``, ``crop:AREA``, or ``none``), stored in
        canonical form; the default is the paper's (horizontal and vertical flips, +-30
        degree rotations, resized crops of 80-100% of the area), whose exact group on the
        pixel grid is the Klein group of the two flips.
    channels, blocks, field, rank
        Channels of every conv block, number of blocks, MSR's field size (``None``: the
        order of the augmentation's group) and the columns of its group-convolution
        blocks (``None``: the exact dimension; see
        :func:`~metasym.learning.models.convnet.build_convnet`).
    image_size
        Image side (``None``: 28, miniImageNet 84).
    data
        Folder of real data (``omniglot`` / ``miniimagenet``); ``None`` for ``glyphs``.
    test_episodes
        Fixed test episodes (600, the usual protocol).
    glyph_alphabets, glyph_characters
        A smaller glyph set (at most this many alphabets per split, characters per
        alphabet): for tests and quick runs.
    augment_training
        ``False``: meta-train on clean queries (the test queries are augmented all the
        same): the "trained without augmentation" baseline.
    step_sizes
        How the inner loop's per-tensor step sizes are set: ``"learned"`` (meta-learned
        from ``--inner-lr``), ``"fixed"`` (kept at ``--inner-lr``), or ``"floor:F"``
        (meta-learned, never below ``F``).
    eval_split
        ``"test"``: meta-test on the held-out evaluation alphabets (miniImageNet: its test
        split); ``"validation"``: hold out every 4th background alphabet (class split for
        miniImageNet: its validation classes), meta-train on the rest and meta-test there --
        for choosing settings without looking at the test alphabets.
    """

    ways: int = 5
    shots: int = 1
    queries: int = 15
    augment: str = "flip,vflip,rotate:30,crop"
    channels: int = 64
    blocks: int = 4
    field: int | None = None
    rank: int | None = None
    image_size: int | None = None
    data: str | None = None
    test_episodes: int = 600
    glyph_alphabets: int | None = None
    glyph_characters: int | None = None
    eval_split: str = "test"
    augment_training: bool = True
    step_sizes: str = "learned"


def _augmentation(o: FewShotOptions) -> Any:
    from metasym.learning.data.augment import Augmentation

    return Augmentation.parse(o.augment)


#: What ``metasym train`` uses for a few-shot run on a CPU unless told otherwise (a run
#: of minutes on 2 cores): ``(RunConfig fields, FewShotOptions fields)``.
CPU_PRESET: tuple[dict[str, Any], dict[str, Any]] = (
    {"steps": 500, "tasks_per_step": 8, "eval_every": 100, "eval_tasks": 100, "threads": 2},
    {"channels": 32, "queries": 5})
#: The paper's sizes (``--full``; the default on CUDA): 64 channels, 15 query images per
#: class, meta-batches of 32 episodes; 20,000 outer steps (the paper: 60,000).
FULL_PRESET: tuple[dict[str, Any], dict[str, Any]] = (
    {"steps": 20_000, "tasks_per_step": 32, "eval_every": 1000, "eval_tasks": 600,
     "threads": None}, {"channels": 64, "queries": 15})


def _step_sizes(text: str) -> tuple[bool, float | None]:
    """``(learned, floor)`` of a ``--step-sizes`` value (one-line error otherwise)."""
    if text == "learned":
        return True, None
    if text == "fixed":
        return False, None
    name, _, value = text.partition(":")
    if name == "floor":
        try:
            floor = float(value)
        except ValueError:
            floor = float("nan")
        if floor >= 0:
            return True, floor
    raise SpecError(f"--step-sizes must be learned, fixed or floor:F (F >= 0), got {text!r}")


def load_splits(problem: str, o: FewShotOptions, *, progress: bool = False) -> tuple[Any, Any]:
    """``(background, evaluation)`` :class:`~metasym.learning.data.classes.ImageClasses`
    of a few-shot problem (miniImageNet: its train and test splits)."""
    from metasym.learning.data.glyphs import glyph_dataset
    from metasym.learning.data.loaders import load_miniimagenet, load_omniglot

    size = o.image_size or (84 if problem == "miniimagenet" else 28)
    if problem == "miniimagenet":
        splits = load_miniimagenet(o.data, size=size)
        return splits["train"], splits["val" if o.eval_split == "validation" else "test"]
    if problem == "glyphs":
        bg, ev = glyph_dataset(size=size, max_alphabets=o.glyph_alphabets,
                               max_classes_per_alphabet=o.glyph_characters, progress=progress)
    else:
        bg, ev = load_omniglot(o.data, size=size)
    return bg.split_alphabets() if o.eval_split == "validation" else (bg, ev)


class FewShotProblems(Problem):
    """The few-shot problems (see the module docstring)."""

    kind = "fewshot"
    names = FEWSHOT_PROBLEMS
    models = FEWSHOT_MODEL_NAMES
    options_type = FewShotOptions
    default_model = "msr"
    metric = "accuracy"
    baseline_name = "chance_accuracy"

    def options(self, cfg: Any) -> FewShotOptions:
        return super().options(cfg)

    def defaults(self, device: str, full: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        """:data:`CPU_PRESET` on a CPU, :data:`FULL_PRESET` on CUDA or with ``full``."""
        preset = FULL_PRESET if full or str(device).startswith("cuda") else CPU_PRESET
        return dict(preset[0]), dict(preset[1])

    def group_name(self, cfg: Any) -> str | None:
        """The exact group of the augmentation (``flip``, ``vflip``, ``klein``, ``c4``,
        ``d4`` or ``None``)."""
        return _augmentation(self.options(cfg)).group_name()

    def validate(self, cfg: Any) -> None:
        super().validate(cfg)
        for field, (flag, default) in _NOT_EPISODIC.items():
            if getattr(cfg, field) != default:
                raise SpecError(f"{flag} does not apply to few-shot problems (use --ways, "
                                "--shots, --queries, --test-episodes)")
        o = self.options(cfg)
        for name in ("ways", "shots", "queries", "channels", "blocks", "test_episodes"):
            val = getattr(o, name)
            if isinstance(val, bool) or not isinstance(val, int) or val < 1:
                raise SpecError(f"--{name.replace('_', '-')} must be a positive integer, "
                                f"got {val!r}")
        if o.ways < 2:
            raise SpecError(f"--ways must be at least 2, got {o.ways}")
        if o.test_episodes > MAX_TEST_EPISODES:
            raise SpecError(f"--test-episodes must be at most {MAX_TEST_EPISODES:,}, got "
                            f"{o.test_episodes:,}")
        for name in ("field", "rank", "image_size", "glyph_alphabets", "glyph_characters"):
            val = getattr(o, name)
            if val is not None and (isinstance(val, bool) or not isinstance(val, int)
                                    or val < 1):
                raise SpecError(f"--{name.replace('_', '-')} must be a positive integer, "
                                f"got {val!r}")
        learn, floor = _step_sizes(o.step_sizes)
        if floor is not None and floor > cfg.inner_lr:
            raise SpecError(f"--step-sizes {o.step_sizes}: the floor is above --inner-lr "
                            f"{cfg.inner_lr}")
        if o.eval_split not in ("test", "validation"):
            raise SpecError(f"--eval-split must be test or validation, got {o.eval_split!r}")
        if o.image_size is not None and o.image_size < 8:
            raise SpecError(f"--image-size must be at least 8, got {o.image_size}")
        if cfg.problem == "glyphs" and o.data is not None:
            raise SpecError("--data does not apply to --problem glyphs (built offline); use "
                            "--problem omniglot or miniimagenet with --data DIR")
        if cfg.problem != "glyphs":
            if o.data is None:
                raise SpecError(f"--problem {cfg.problem} needs --data DIR (the unpacked "
                                "data set)")
            if o.glyph_alphabets is not None or o.glyph_characters is not None:
                raise SpecError("--glyph-alphabets/--glyph-characters apply to --problem "
                                "glyphs only")
        aug = _augmentation(o)
        if cfg.model == "oracle" and aug.group_name() is None:
            raise SpecError(f"--model oracle needs an exact group in --augment (flip, vflip, "
                            f"rot90 or a combination), got {aug.spec()!r}")
        self.check_plan(cfg)  # from the sizes alone: before any image or weight exists
        self.build_net(cfg, 1)  # sizes (channels vs field), one line

    def planned_image_shape(self, cfg: Any) -> tuple[int, int, int]:
        """``(channels, side, side)`` the run's images will have (before loading them)."""
        o = self.options(cfg)
        side = o.image_size or (84 if cfg.problem == "miniimagenet" else 28)
        return (3 if cfg.problem == "miniimagenet" else 1, side, side)

    def check_plan(self, cfg: Any) -> None:
        """Refuse, from the options alone and before any data is generated or read and
        before the network is built, a run whose meta-training step or network would not
        fit in memory (``METASYM_MEMORY_LIMIT``): one line naming the options and the
        estimate. The data set itself is checked by its loader (it knows how many images
        there are), the step again once the images are loaded (:meth:`check_size`)."""
        from metasym._limits import check_memory

        o = self.options(cfg)
        shape = self.planned_image_shape(cfg)
        flags = (f"--image-size {shape[-1]}, --ways {o.ways}, --shots {o.shots}, "
                 f"--queries {o.queries}, --channels {o.channels}, --blocks {o.blocks}")
        check_memory(self._step_bytes(cfg, shape) + self._net_bytes(cfg),
                     f"{flags}: a meta-training step and the network")
        if cfg.problem == "glyphs":  # its class counts are bounded before it is built
            from metasym.learning.data.glyphs import (
                GLYPH_ALPHABETS,
                GLYPH_BACKGROUND_ALPHABETS,
                IMAGES_PER_CLASS,
                MAX_CHARACTERS_PER_ALPHABET,
            )

            chars = min(MAX_CHARACTERS_PER_ALPHABET, o.glyph_characters or 10**9)
            n_bg = len(GLYPH_BACKGROUND_ALPHABETS)
            n_ev = len(GLYPH_ALPHABETS) - n_bg
            if o.glyph_alphabets is not None:
                n_bg, n_ev = min(n_bg, o.glyph_alphabets), min(n_ev, o.glyph_alphabets)
            most = chars * min(n_bg, n_ev)
            if o.ways > most:
                raise SpecError(f"--ways {o.ways}: an episode needs {o.ways} classes, but the "
                                f"glyph set has at most {most} per split ({min(n_bg, n_ev)} "
                                f"alphabets x at most {chars} characters); lower --ways")
            if o.shots + o.queries > IMAGES_PER_CLASS:
                raise SpecError(f"--shots {o.shots} + --queries {o.queries} = "
                                f"{o.shots + o.queries} images per class, but the glyph set "
                                f"has {IMAGES_PER_CLASS} per class; lower --shots or --queries")

    def _net_bytes(self, cfg: Any) -> float:
        """The network's weights with their gradients and Adam's two moments (float32,
        3x3 kernels, the last block as wide as :func:`head_width`), an upper estimate for
        the MSR factors too (their ``U`` blocks are at most ``|G|`` times the weights)."""
        from metasym.learning.models.convnet import head_width

        o = self.options(cfg)
        order = self._order(cfg)
        c, w = o.channels * order, head_width(o.channels, o.ways, order)
        weights = 9.0 * (3 * c + max(o.blocks - 2, 0) * c * c + c * w) + w * o.ways
        return weights * 4 * 4 * (2 if cfg.model.startswith("msr") else 1)

    def _step_bytes(self, cfg: Any, image_shape: Any) -> float:
        """Bytes of one meta-training step on images of ``image_shape`` (see
        :meth:`check_size`)."""
        from metasym.learning.models.convnet import head_width

        o = self.options(cfg)
        images = o.ways * (o.shots + o.queries)
        loop = torch.device(cfg.device).type == "cpu"
        at_once = 1 if loop else min(cfg.chunk_size or cfg.tasks_per_step, cfg.tasks_per_step)
        side = int(image_shape[-1]) + 16
        width = head_width(o.channels, o.ways, self._order(cfg))
        # the first block's activations (the largest), about 12 float32 copies for the
        # second-order backward, for the episodes held in one graph
        acts = float(at_once) * images * width * side * side * 4 * 12
        per_image = float(np.prod([int(v) for v in image_shape])) * 4
        return at_once * images * per_image + acts

    def build_net(self, cfg: Any, in_channels: int) -> Any:
        from metasym.learning.models.convnet import build_convnet

        o = self.options(cfg)
        return build_convnet(cfg.model, in_channels=in_channels, classes=o.ways,
                             channels=o.channels, blocks=o.blocks, group=self.group_name(cfg),
                             field=o.field, rank=o.rank)

    # ----- training ---------------------------------------------------------------------------
    def task_source(self, cfg: Any, device: torch.device) -> Any:
        import time

        from metasym.learning.data.episodes import EpisodeSource

        o = self.options(cfg)
        t0 = time.perf_counter()
        bg, ev = load_splits(cfg.problem, o)
        src = EpisodeSource(bg, ev, ways=o.ways, shots=o.shots, queries=o.queries,
                            augment=_augmentation(o), seed=cfg.data_seed,
                            test_episodes=o.test_episodes, device=device,
                            augment_training=o.augment_training)
        src.data_seconds = time.perf_counter() - t0
        return src

    def learner(self, cfg: Any, source: Any) -> Any:
        from metasym.learning.learners.fewshot import FewShotLearner

        learn, floor = _step_sizes(self.options(cfg).step_sizes)
        return FewShotLearner(self.build_net(cfg, source.in_channels),
                              inner_steps=cfg.inner_steps, inner_lr=cfg.inner_lr,
                              first_order=cfg.first_order, chunk_size=cfg.chunk_size,
                              learn_inner_lr=learn, inner_lr_floor=floor)

    def check_size(self, cfg: Any, source: Any) -> None:
        """Refuse, before training, a meta-step whose autograd graph would not fit: the
        path that will run is estimated -- on a CPU one episode at a time (its graph is
        freed by its own backward pass), on CUDA ``--chunk-size`` episodes (all of a
        meta-batch by default) under ``vmap``."""
        from metasym._limits import check_memory

        loop = torch.device(cfg.device).type == "cpu"
        at_once = 1 if loop else min(cfg.chunk_size or cfg.tasks_per_step, cfg.tasks_per_step)
        path = ("one episode at a time (CPU)" if loop else
                f"{at_once} episodes under vmap (--chunk-size bounds it)")
        check_memory(self._step_bytes(cfg, source.image_shape),
                     f"a meta-training step ({path}; --ways, --queries, --channels)")

    def _order(self, cfg: Any) -> int:
        from metasym.learning.data.augment import exact_group_order

        return exact_group_order(self.group_name(cfg))

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        from metasym.learning.models.convnet import parameter_counts

        o = self.options(cfg)
        counts = parameter_counts(learner.model)
        return {"augment": _augmentation(o).spec(), "group": self.group_name(cfg),
                "field_size": self._field(cfg, learner.model), "in_shape": list(source.image_shape),
                "background_classes": source.background.n_classes,
                "evaluation_classes": source.evaluation.n_classes,
                "background_images": source.background.n_images,
                "evaluation_images": source.evaluation.n_images,
                "parameters": {k: sum(r[k] for r in counts.values())
                               for k in ("meta", "inner", "frozen")},
                "data_seconds": getattr(source, "data_seconds", None)}

    @staticmethod
    def _field(cfg: Any, net: Any) -> int:
        return int(getattr(net.conv1, "field_out", 1))

    def answer_arrays(self, cfg: Any, source: Any) -> dict[str, Any] | None:
        from metasym.learning.models.convnet import exact_blocks

        name = self.group_name(cfg)
        if name is None:
            return None
        ex = exact_blocks(name)
        o = self.options(cfg)
        arrays = {f"conv{i}": ex.block(i) for i in range(1, o.blocks + 1)}
        return arrays | {"head": ex.head, "group": np.array(ex.group.spec),
                         "kind": np.array("pattern"),
                         "description": np.array(f"exact {name} group-convolution blocks")}

    def final_extras(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        o = self.options(cfg)
        return {"ways": o.ways, "shots": o.shots, "queries": o.queries,
                "augment": _augmentation(o).spec(), "group": self.group_name(cfg)}

    def display_name(self, cfg: Any) -> str:
        o = self.options(cfg)
        return f"{cfg.problem} {o.ways}-way {o.shots}-shot"

    def shell_source(self, record: Any) -> Any:
        """The run's image channels, without loading any images."""
        shape = record.resolved.get("in_shape")

        class _Shell:
            in_channels = int(shape[0]) if shape else (3 if record.config.problem
                                                       == "miniimagenet" else 1)

        return _Shell()

    # ----- reading back -----------------------------------------------------------------------
    def compare(self, record: Any, learner: Any, source: Any, n_tasks: int) -> Comparison:
        from metasym.learning.comparison.fewshot import compare_fewshot

        return compare_fewshot(record, learner, source, n_tasks, self)

    def sharing(self, record: Any, learner: Any) -> list[LearnedSharing]:
        from metasym.learning.models.conv import MSRConv2d

        cfg = record.config
        name = self.group_name(cfg)
        net = learner.model
        G = None
        if name is not None:
            from metasym.representations.steerable import kernel_group

            G = kernel_group(name, 3)
        out = []
        for layer, conv in net.conv_layers():
            if not isinstance(conv, MSRConv2d):
                continue
            k2 = conv.kernel ** 2
            lift = conv.field_in == 1
            ref = None
            if G is not None and conv.field_out == G.order and conv.kernel == 3:
                ref = (G.spec, "natural" if lift else "tensor(regular,natural)", "regular")
            notes = [] if conv.learns_U else ["oracle: U_block is the frozen exact block"]
            notes.append(f"the sharing block U_block of one pair of fields: "
                         f"{conv.field_out} output channels x {conv.field_in} input "
                         f"channel(s) x {conv.kernel}x{conv.kernel} positions")
            U = conv.U_block.detach().double().cpu().numpy()
            out.append(LearnedSharing(layer, U, (conv.field_out, conv.field_in * k2), ref,
                                      notes))
        if not out:
            raise MetasymError(f"{record.path}: model {cfg.model!r} has no learned sharing "
                               "matrix U (discover needs msr or the oracle)")
        return out


#: The registered instance.
FEWSHOT = FewShotProblems()
