r"""What the engine needs from a problem, a task source and a learner.

The engine (:func:`~metasym.learning.engine.fit`) owns everything that is not specific to
a problem: seeding, task batching, the outer optimiser, evaluation, metrics, checkpoints,
resume, signals, the non-finite stop, torchrun data parallelism, device placement, the
progress bar and ``final.json``. A problem supplies three things:

* a **task source** (:class:`TaskSource`): ``n_train`` training tasks, from which the
  engine draws the indices of each step's batch with its own seeded generator
  (:meth:`TaskSource.train_batch`), the fixed held-out tasks (:meth:`TaskSource.test_batch`)
  and the figure a trivial predictor reaches (:meth:`TaskSource.baseline`);
* a **learner** (:class:`Learner`): a ``torch.nn.Module`` whose meta-parameters the
  outer Adam trains, that accumulates the gradient of the meta-loss of a batch
  (:meth:`Learner.backward_meta_loss`), scores adapted tasks
  (:meth:`Learner.evaluate`) and reports its learned inner step sizes;
* a **problem kind** (:class:`Problem`), registered by name
  (:func:`~metasym.learning.engine.register_problem`): builds the two above from a
  :class:`~metasym.learning.engine.RunConfig`, gives its analytic answer, and compares a
  finished run with it.

A batch is any object with ``select(index)`` (a slice or an index tensor over tasks) --
the engine splits batches over processes with it. :class:`RegressionBatch` is the batch
of support/query arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np
import torch
from torch import Tensor

from metasym.errors import MetasymError, SpecError

__all__ = [
    "TaskBatch",
    "TaskSource",
    "Learner",
    "Problem",
    "RegressionBatch",
    "ArrayTaskSource",
    "LearnedSharing",
    "Comparison",
]


@runtime_checkable
class TaskBatch(Protocol):
    """A batch of tasks; ``select`` takes a slice or index tensor over its tasks."""

    def select(self, index: slice | Tensor) -> TaskBatch: ...


@runtime_checkable
class TaskSource(Protocol):
    """Tasks split into ``n_train`` training and ``n_test`` held-out ones."""

    n_train: int
    n_test: int

    def train_batch(self, index: Tensor) -> Any:
        """The training tasks ``index`` (a CPU int64 tensor drawn by the engine)."""

    def test_batch(self, n: int | None = None) -> Any:
        """The first ``n`` held-out tasks (all when ``None``), always the same."""

    def baseline(self, batch: Any) -> float | None:
        """The metric of a trivial predictor on ``batch`` (predict zero, or chance)."""


@runtime_checkable
class Learner(Protocol):
    """The engine's view of a meta-learner (an ``nn.Module``)."""

    def optimizer_parameters(self) -> list[torch.nn.Parameter]:
        """What the outer optimiser updates (call again after moving the learner)."""

    def backward_meta_loss(self, batch: Any) -> Tensor:
        """Accumulate the meta-gradient of the batch's mean query loss into ``.grad``;
        return the detached loss."""

    def evaluate(self, batch: Any) -> Tensor | dict[str, Tensor]:
        """Per-task metric(s) after adaptation, without an outer graph: a ``(T,)``
        tensor (the problem's metric) or a dict of them."""

    def step_sizes(self) -> dict[str, float]:
        """Current learned inner step sizes by parameter name."""


# ----- the 1-D (array) tasks ----------------------------------------------------------------
class RegressionBatch(NamedTuple):
    """Support and query examples of ``T`` tasks: ``xs (T, Ns, n_in)``, ``ys (T, Ns,
    n_out)``, ``xq (T, Nq, n_in)``, ``yq (T, Nq, n_out)``."""

    xs: Tensor
    ys: Tensor
    xq: Tensor
    yq: Tensor

    def select(self, index: slice | Tensor) -> RegressionBatch:
        return RegressionBatch(*(t[index] for t in self))


def _real_array(a: Any, name: str) -> np.ndarray:
    """``a`` as a numpy array of real numbers (converted to float32 later), or one line."""
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy() if not a.is_complex() else a
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as e:  # ragged nested lists
        raise SpecError(f"{name} is not a rectangular array of numbers ({e})") from None
    if arr.dtype.kind not in "fiub":
        raise SpecError(f"{name} must hold real numbers (float, integer or bool; stored as "
                        f"float32), got dtype {arr.dtype}")
    return arr


class ArrayTaskSource:
    """Tasks given as arrays ``x (tasks, examples, n_in)``, ``y (tasks, examples,
    n_out)``: the first ``support`` examples of a task are its support set, the rest its
    query set; the first ``n_train`` tasks train, the rest are held out.

    Each task is stored on ``device`` as one packed row ``[xs | ys | xq | yq]``, so a
    batch is a single ``index_select`` and its four blocks are strided views (no copies).

    **dtype**: ``x`` and ``y`` are real numbers of any float, integer or bool dtype (numpy
    arrays, lists, CPU tensors) and are stored as ``float32``, the dtype the models
    train in. Complex, object or string arrays and ragged lists are refused in one line
    (:class:`~metasym.errors.SpecError`); NaN or infinity in a task reaches training,
    whose non-finite stop keeps the last good checkpoint.

    Examples
    --------
    >>> x, y = np.zeros((10, 5, 3), np.float32), np.zeros((10, 5, 2), np.float32)
    >>> src = ArrayTaskSource(x, y, support=1, n_train=8)
    >>> b = src.train_batch(torch.tensor([0, 3]))
    >>> tuple(b.xs.shape), tuple(b.yq.shape), src.n_test
    ((2, 1, 3), (2, 4, 2), 2)
    """

    def __init__(self, x: Any, y: Any, *, support: int, n_train: int,
                 device: torch.device | str = "cpu") -> None:
        x, y = _real_array(x, "x"), _real_array(y, "y")
        if x.ndim != 3 or y.ndim != 3 or x.shape[:2] != y.shape[:2]:
            raise SpecError(f"x and y must be (tasks, examples, features) with the same "
                            f"tasks and examples, got {x.shape} and {y.shape}")
        T, N = x.shape[:2]
        if not 1 <= support < N:
            raise SpecError(f"support size must be between 1 and {N - 1} (tasks have {N} "
                            f"examples), got {support}")
        if not 1 <= n_train < T:
            raise SpecError(f"n_train must be between 1 and {T - 1}, got {n_train}")
        self.device = torch.device(device)
        self.support, self.query = support, N - support
        self.n_in, self.n_out = int(x.shape[2]), int(y.shape[2])

        def pack(xa: np.ndarray, ya: np.ndarray) -> Tensor:
            n = xa.shape[0]
            parts = [xa[:, :support], ya[:, :support], xa[:, support:], ya[:, support:]]
            flat = np.concatenate([p.reshape(n, -1) for p in parts], axis=1)
            return torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32)).to(self.device)

        self.train = pack(x[:n_train], y[:n_train])
        self.test = pack(x[n_train:], y[n_train:])
        self.n_train, self.n_test = int(n_train), int(T - n_train)
        self._cpu = self.device.type == "cpu"

    def _views(self, rows: Tensor) -> RegressionBatch:
        T, s, q, n, m = rows.shape[0], self.support, self.query, self.n_in, self.n_out
        xs, ys, xq, yq = rows.split((s * n, s * m, q * n, q * m), dim=1)
        return RegressionBatch(xs.view(T, s, n), ys.view(T, s, m), xq.view(T, q, n),
                               yq.view(T, q, m))

    def train_batch(self, index: Tensor) -> RegressionBatch:
        if not self._cpu:
            index = index.to(self.device)
        return self._views(self.train.index_select(0, index))

    def test_batch(self, n: int | None = None) -> RegressionBatch:
        return self._views(self.test[:n])

    def baseline(self, batch: RegressionBatch) -> float:
        """Query MSE of predicting zero."""
        return float(batch.yq.square().mean())


# ----- results ------------------------------------------------------------------------------
@dataclass
class LearnedSharing:
    """A learned sharing matrix of one layer, for ``discover``: ``matrix`` ``(m*n, k)``
    maps the layer's filter parameters to its ``m x n`` weight (row-major), ``reference``
    the run's ``(group, input action, output action)`` when it has one."""

    layer: str
    matrix: np.ndarray
    shape: tuple[int, int]
    reference: tuple[str, str, str] | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Comparison:
    """Learned versus analytic for one run (``metasym compare``).

    ``figures`` are JSON-ready named values (``None`` where undefined, the ``notes`` say
    why), ``rows`` the ``(label, value)`` pairs the command prints in order, ``arrays``
    what the figure draws, ``plot`` draws it: ``result.plot("compare.png")`` writes the PNG
    and returns its path (``None``: no figure for this run kind). It is built from a
    function ``(comparison, path) -> path``; the older call ``result.plot(result, path)``
    still works.

    One shape for every run kind (built-in 1-D, image, few-shot, a user's own problem):
    the run's figures and, when the model has one layer with a ``U``, that layer's
    figures are flat keys (``figures["subspace_distance"]``); ``figures["layers"]`` maps
    every such layer's name to its figures (a one-layer model's layer is ``"model"``),
    so ``figures["layers"][name]["subspace_distance"]`` works on every run."""

    run: str
    problem: str
    model: str
    answer: str | None
    figures: dict[str, Any]
    rows: list[tuple[str, Any]]
    notes: list[str] = field(default_factory=list)
    arrays: dict[str, Any] = field(default_factory=dict)
    plot: Any = None

    def __post_init__(self) -> None:
        if self.plot is not None and not isinstance(self.plot, _BoundPlot):
            self.plot = _BoundPlot(self.plot, self)
        elif isinstance(self.plot, _BoundPlot) and self.plot.owner is not self:  # replace()
            self.plot = _BoundPlot(self.plot.function, self)
        if "layers" not in self.figures:  # a one-layer run: its layer's figures, by name
            self.figures["layers"] = {"model": {
                k: v for k, v in self.figures.items()
                if not k.startswith(_RUN_LEVEL_PREFIXES) and k not in _RUN_LEVEL}}

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "problem": self.problem, "model": self.model,
                "answer": self.answer, **self.figures, "notes": list(self.notes)}


class _BoundPlot:
    """``Comparison.plot``: ``plot(path)`` draws the comparison it belongs to (``plot(
    comparison, path)``, the former call, is accepted too)."""

    def __init__(self, function: Any, owner: Any) -> None:
        self.function, self.owner = function, owner

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 2 and args[0] is self.owner:
            args = args[1:]
        return self.function(self.owner, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<plot of {self.owner.run} by {getattr(self.function, '__name__', '?')}>"


#: figures of a run as a whole (not of one layer): see :class:`Comparison`
_RUN_LEVEL_PREFIXES = ("test_", "baseline_", "layer ")
_RUN_LEVEL = frozenset({"finished", "checkpoint_step", "zero_predictor_mse", "chance_accuracy",
                        "layers", "group", "episodes", "invariance"})


class Problem:
    """A problem kind: a plug-in of the engine, registered by name.

    Subclasses set :attr:`kind`, :attr:`names` (the problem names they serve),
    :attr:`models`, :attr:`options_type` (a frozen dataclass of their own options, or
    ``None``) and :attr:`metric`, and implement the methods below. The built-in kinds
    (:mod:`metasym.learning.problems`) use exactly this interface.
    """

    kind: str = "problem"
    names: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    options_type: type | None = None
    default_model: str = "msr-fc"
    metric: str = "mse"
    baseline_name: str = "zero_predictor_mse"

    # configuration ---------------------------------------------------------------------
    def options(self, cfg: Any) -> Any:
        """``cfg``'s problem options (the defaults when it has none)."""
        if cfg.options is None and self.options_type is not None:
            return self.options_type()
        return cfg.options

    def config_from_json(self, data: dict[str, Any]) -> Any:
        from metasym.learning.engine.config import RunConfig

        return RunConfig.from_json(data, self.options_type)

    def defaults(self, device: str, full: bool = False) -> tuple[dict[str, Any], dict[str, Any]]:
        """Settings the command line fills in when they are not given, for a run on
        ``device`` (``full``: the paper's sizes): ``(RunConfig fields, option fields)``.
        None by default: :class:`~metasym.learning.engine.RunConfig`'s and the options'
        own defaults apply."""
        return {}, {}

    def validate(self, cfg: Any) -> None:
        """Refuse settings that do not apply (one line naming the flag)."""
        if self.models and cfg.model not in self.models:
            raise SpecError(f"--model {cfg.model} does not apply to --problem {cfg.problem}; "
                            f"choose from {', '.join(self.models)}")

    # training ----------------------------------------------------------------------------
    def task_source(self, cfg: Any, device: torch.device) -> Any:
        """The tasks ``cfg`` describes, on ``device``."""
        raise NotImplementedError

    def learner(self, cfg: Any, source: Any) -> Any:
        """A fresh learner (torch is seeded with ``cfg.seed`` just before)."""
        raise NotImplementedError

    def check_size(self, cfg: Any, source: Any) -> None:
        """Refuse sizes that would exhaust memory, before allocating (optional)."""

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        """Resolved figures recorded in ``config.json`` (``k``, shapes, ...)."""
        return {}

    def answer_arrays(self, cfg: Any, source: Any) -> dict[str, Any] | None:
        """The arrays of ``answer.npz`` (``None``: the problem has no analytic answer)."""
        return None

    def final_extras(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        """Problem-specific entries of ``final.json``."""
        return {}

    def display_name(self, cfg: Any) -> str:
        return cfg.problem

    def shell_source(self, record: Any) -> Any:
        """A stand-in task source with the run's shapes, to rebuild its learner without
        generating data (``record`` is the :class:`~metasym.learning.engine.RunRecord`)."""
        raise MetasymError(f"{record.path}: problem kind {self.kind} cannot rebuild its "
                           "learner without its tasks")

    # reading a finished run ------------------------------------------------------------------
    def compare(self, record: Any, learner: Any, source: Any | None, n_tasks: int) -> Comparison:
        """Learned versus analytic (``source`` is ``None`` when tasks are not rebuilt)."""
        raise MetasymError(f"compare is not available for problem kind {self.kind}")

    def sharing(self, record: Any, learner: Any) -> list[LearnedSharing]:
        """The learned sharing matrices of the run's layers, for ``discover``."""
        raise MetasymError(f"{record.path}: model {record.config.model!r} has no learned "
                           "sharing matrix U")
