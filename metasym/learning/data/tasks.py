r"""Task distributions: the paper's 1-D problems, equivariant tasks from any group, and
the reference implementation's ``.npz`` files.

A :class:`TaskSet` holds ``x`` ``(tasks, examples, c_in * L_in)`` and ``y``
``(tasks, examples, c_out * L_out)`` (float32, channels and positions flattened
row-major), the train/test split and, when known, the analytic answer
(:class:`Answer`): the exact sharing pattern or generating subspace the tasks come from.

Problems (background.md, "The paper's experiments"):

* ``rank1``: per task a 3-tap filter :math:`w \sim N(0, I_3)`; :math:`x \sim N(0, I_{70})`;
  :math:`y_p = \sum_t w_t x_{p+t}`, a valid convolution 70 -> 68. Exact answer: the
  translation-orbit pattern ``conv1d(70, 3)`` (3 parameters).
* ``rank2`` / ``rank5``: a locally connected layer with position filters
  :math:`F = C B`, :math:`C = \mathrm{softmax}(\text{randn}(68, r))` fixed for the whole
  distribution, :math:`B \sim N(0, I)^{r \times 3}` per task. Answer: not a group but the
  generating subspace :math:`\{W : W_{p, p+t} = (C B)_{p t}\}` of dimension :math:`3r`.
* ``equivariant``: per task :math:`v \sim N(0, I_k)`, :math:`W = U^G v`,
  :math:`x \sim N(0, I)`, :math:`y = W x` for the exact pattern of any group and actions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metasym.errors import MetasymError, SpecError, TooLargeError
from metasym.learning.registry import PROBLEMS
from metasym.npzfile import read_npz
from metasym.progress import progress_bar

__all__ = [
    "Answer",
    "TaskSet",
    "rank_problem",
    "equivariant_problem",
    "load_npz",
    "save_npz",
    "make_problem",
    "PROBLEMS",
]

#: Problem names understood by :func:`make_problem` (``metasym train --problem``).
#: Largest ``tasks * examples * (n_in + n_out)`` a generated problem may hold (floats).
MAX_FLOATS = 2_000_000_000 // 4


@dataclass(frozen=True)
class Answer:
    """The analytic structure a task distribution was generated from.

    Attributes
    ----------
    basis
        ``(m*n, d)`` matrix whose span holds every task's weight (row-major vec).
    pattern
        The exact :class:`~metasym.representations.SharingPattern` when the answer is a
        sharing pattern (``rank1``, ``equivariant``), else ``None``.
    kind
        ``"pattern"`` or ``"subspace"``.
    description
        One line saying what the answer is.
    """

    basis: np.ndarray
    pattern: Any = None
    kind: str = "pattern"
    description: str = ""


@dataclass(frozen=True)
class TaskSet:
    """Tasks of one distribution with a train/test split (first ``n_train`` train)."""

    x: np.ndarray
    y: np.ndarray
    in_shape: tuple[int, int]
    out_shape: tuple[int, int]
    n_train: int
    name: str
    answer: Answer | None = None
    w: np.ndarray | None = None
    info: dict = field(default_factory=dict)

    @property
    def n_tasks(self) -> int:
        return int(self.x.shape[0])

    @property
    def n_examples(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_in(self) -> int:
        return int(self.x.shape[2])

    @property
    def n_out(self) -> int:
        return int(self.y.shape[2])

    @property
    def train(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[: self.n_train], self.y[: self.n_train]

    @property
    def test(self) -> tuple[np.ndarray, np.ndarray]:
        return self.x[self.n_train:], self.y[self.n_train:]

    def __repr__(self) -> str:
        return (f"TaskSet({self.name!r}, tasks={self.n_tasks} ({self.n_train} train), "
                f"examples={self.n_examples}, {self.n_in} -> {self.n_out})")


def _check_sizes(n_tasks: int, n_examples: int, n_in: int, n_out: int,
                 train_fraction: float) -> int:
    if n_tasks < 2:
        raise SpecError(f"need at least 2 tasks (train and test), got {n_tasks}")
    if n_examples < 2:
        raise SpecError(f"need at least 2 examples per task (support and query), got "
                        f"{n_examples}")
    if not 0 < train_fraction < 1:
        raise SpecError(f"train fraction must be in (0, 1), got {train_fraction}")
    if n_tasks * n_examples * (n_in + n_out) > MAX_FLOATS:
        raise SpecError(f"{n_tasks} tasks x {n_examples} examples x {n_in + n_out} values "
                        f"exceeds the limit of {MAX_FLOATS} floats")
    return min(max(int(round(train_fraction * n_tasks)), 1), n_tasks - 1)


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def rank_problem(rank: int, *, n_tasks: int = 10_000, n_examples: int = 20,
                 length: int = 70, kernel: int = 3, seed: int = 0,
                 train_fraction: float = 0.8) -> TaskSet:
    r"""The paper's ``rank1`` / ``rankR`` problems (valid 1-D layer ``length -> length -
    kernel + 1``), generated from ``numpy.random.default_rng(seed)``.

    ``rank=1``: one filter per task shared by every position (a convolution).
    ``rank>1``: position filters ``C @ B`` with a fixed softmax connectivity ``C``
    ``(L_out, rank)`` drawn first, then per task ``B`` ``(rank, kernel)``.

    Examples
    --------
    >>> ts = rank_problem(1, n_tasks=10, seed=0)
    >>> ts.x.shape, ts.y.shape, ts.answer.basis.shape
    ((10, 20, 70), (10, 20, 68), (4760, 3))
    """
    from metasym.representations import conv1d

    if rank < 1:
        raise SpecError(f"rank must be >= 1, got {rank}")
    L_out = length - kernel + 1
    n_train = _check_sizes(n_tasks, n_examples, length, L_out, train_fraction)
    rng = np.random.default_rng(seed)
    if rank == 1:
        C = None
        filt = np.repeat(rng.standard_normal((n_tasks, 1, kernel)), L_out, axis=1)
    else:
        C = _softmax(rng.standard_normal((L_out, rank)))
        B = rng.standard_normal((n_tasks, rank, kernel))
        filt = np.einsum("pr,trk->tpk", C, B)
    filt = filt.astype(np.float32)  # (tasks, L_out, kernel)
    x = rng.standard_normal((n_tasks, n_examples, length), dtype=np.float32)
    y = np.zeros((n_tasks, n_examples, L_out), dtype=np.float32)
    # rank 1: every position has the same filter, so broadcast it instead of reading the
    # (tasks, L_out, kernel) copy (same products, same order: the same float32 numbers)
    taps = filt[:, :1] if rank == 1 else filt
    for t in range(kernel):  # valid cross-correlation, one tap at a time (no big windows)
        y += taps[:, None, :, t] * x[:, :, t:t + L_out]
    # generating weights in the reference layout (tasks, 1, 1, 1, L_out, kernel)
    w = filt.reshape(n_tasks, 1, 1, 1, L_out, kernel)
    if rank == 1:
        P = conv1d(length, kernel)
        answer = Answer(P.basis(dtype=np.float64), P, "pattern",
                        f"exact pattern conv1d({length}, {kernel}): orbits of the translation "
                        f"group cut by a {kernel}-tap window, dimension {P.dimension}")
    else:
        basis = np.zeros((L_out, length, rank, kernel))
        p = np.arange(L_out)
        for t in range(kernel):
            basis[p, p + t, :, t] = C
        answer = Answer(basis.reshape(L_out * length, rank * kernel), None, "subspace",
                        f"generating subspace of rank{rank} (fixed softmax connectivity x "
                        f"per-task {rank}x{kernel} basis), dimension {rank * kernel}; "
                        "not a group: no sharing partition")
    return TaskSet(x, y, (1, length), (1, L_out), n_train, f"rank{rank}", answer, w,
                   {"seed": seed, "rank": rank, "kernel": kernel})


#: Gathered or multiplied entries per second assumed by ``generation_seconds``
#: (measured on the 2-core reference machine, one thread, while other jobs shared it: a
#: gather of ``v`` through the labels at 1.5-4e8 entries/s, float32 batched ``matmul`` at
#: 3-8e9 multiply-adds/s; the slower figures are assumed).
GATHER_PER_SECOND = 1.5e8
MATMUL_PER_SECOND = 3e9
#: Generation estimated to take longer than this shows a progress bar (on a terminal).
PROGRESS_SECONDS = 2.0


def generation_seconds(n_tasks: int, n_examples: int, m: int, n: int, k: int) -> float:
    """Estimated seconds to generate the tasks of an ``m x n`` pattern of dimension ``k``
    (:func:`equivariant_problem`): each task's weight gathered from its parameters through
    the labels, its outputs by a batched matrix product, and the dense answer basis."""
    return (n_tasks * m * n / GATHER_PER_SECOND
            + n_tasks * n_examples * m * n / MATMUL_PER_SECOND
            + m * n * k / GATHER_PER_SECOND)


def generation_bytes(n_tasks: int, n_examples: int, m: int, n: int, k: int) -> float:
    """Bytes :func:`equivariant_problem` holds at its peak: the data (float32, plus the
    float32 copy training makes), the parameters, one chunk of weights and the dense
    float64 answer basis."""
    return (2.0 * n_tasks * n_examples * (m + n) * 4 + n_tasks * k * 12
            + 2**24 * 4 * 2 + m * n * k * 8.0)


def check_generation(n_tasks: int, n_examples: int, m: int, n: int, k: int, what: str, *,
                     seconds: float | None = None) -> float:
    """Refuse, before any task is drawn, a generation that would not fit in memory
    (``METASYM_MEMORY_LIMIT``) or would take longer than the time limit
    (``METASYM_TIME_LIMIT``, or ``seconds``): one line with the estimate and the options
    to lower. Returns the estimated seconds."""
    from metasym._limits import check_memory, default_seconds

    sizes = f"--tasks {n_tasks}, --examples {n_examples}, a {m} x {n} layer of {k} parameters"
    check_memory(generation_bytes(n_tasks, n_examples, m, n, k),
                 f"generating the tasks of {what} ({sizes})")
    est = generation_seconds(n_tasks, n_examples, m, n, k)
    limit = default_seconds() if seconds is None else seconds
    if est > limit:
        raise TooLargeError(f"generating the tasks of {what} ({sizes}) would take about "
                            f"{est:.0f} s (estimated), more than the time limit of {limit:g} s; "
                            "lower --tasks or --examples, choose smaller actions, or raise "
                            "METASYM_TIME_LIMIT")
    return est


def _outputs(P: Any, v: np.ndarray, x: np.ndarray, progress: bool) -> np.ndarray:
    """``y[t, e] = W_t x[t, e]`` with ``W_t`` = the pattern's weight of parameters
    ``v[t]``, built a chunk of tasks at a time: the weights are gathered from ``v``
    through the labels (no ``U``, dense or sparse, is built; no Python loop per task) and
    applied with one batched float32 matrix product per chunk."""
    T, E, n = x.shape
    m = P.shape[0]
    lab = P.labels.ravel()
    idx = np.maximum(lab, 0)
    zero = lab < 0
    v32 = v.astype(np.float32)
    y = np.empty((T, E, m), dtype=np.float32)
    # the per-task weights (tasks x m x n) can dwarf the data: a chunk at a time
    chunk = max(1, 2**24 // max(1, m * n))
    est = generation_seconds(T, E, m, n, P.dimension)
    bar = progress_bar(T, progress and est > PROGRESS_SECONDS, unit="tasks",
                       desc=f"generating tasks (estimated {est:.0f} s)")
    try:
        for lo in range(0, T, chunk):
            hi = min(T, lo + chunk)
            W = np.take(v32[lo:hi], idx, axis=1)
            if zero.any():
                W[:, zero] = 0.0
            W = W.reshape(hi - lo, m, n)
            np.matmul(x[lo:hi], W.transpose(0, 2, 1), out=y[lo:hi])
            bar.update(hi - lo)
    finally:
        bar.close()
    return y


def equivariant_problem(group: Any, in_action: Any, out_action: Any, *,
                        n_tasks: int = 10_000, n_examples: int = 20, seed: int = 0,
                        train_fraction: float = 0.8, support: Any = None,
                        progress: bool = False, seconds: float | None = None) -> TaskSet:
    r"""Tasks :math:`y = U^G v\, x` with :math:`v \sim N(0, I)` for the exact sharing
    pattern of ``group`` acting on inputs and outputs (specs or objects).

    The time and memory of the generation are estimated from the sizes before any task is
    drawn (``check_generation``: over ``METASYM_MEMORY_LIMIT`` or the time limit
    ``seconds``/``METASYM_TIME_LIMIT`` is one line); the outputs are computed a chunk of
    tasks at a time by gathering each weight through the labels and one batched matrix
    product (``progress``: a bar on a terminal when it takes more than a few seconds).

    Examples
    --------
    >>> ts = equivariant_problem("cyclic:5", "natural", "natural", n_tasks=4)
    >>> ts.answer.pattern.dimension, ts.x.shape
    (5, (4, 20, 5))
    """
    from metasym.groups import parse_action, parse_group
    from metasym.representations import sharing_pattern

    G = parse_group(group) if isinstance(group, str) else group
    a_in = parse_action(in_action, G) if isinstance(in_action, str) else in_action
    a_out = parse_action(out_action, G) if isinstance(out_action, str) else out_action
    P = sharing_pattern(a_in, a_out, support=support)
    m, n = P.shape
    n_train = _check_sizes(n_tasks, n_examples, n, m, train_fraction)
    from metasym.learning.limits import MAX_DENSE_ENTRIES

    if m * n * P.dimension > MAX_DENSE_ENTRIES:  # the answer is kept as a dense basis
        raise TooLargeError(
            f"the exact pattern of {G.spec} ({a_in.spec} -> {a_out.spec}) has a dense basis "
            f"of {m * n} x {P.dimension} = {m * n * P.dimension} entries "
            f"({m * n * P.dimension * 8 / 2**30:.1f} GiB), above the limit "
            f"{MAX_DENSE_ENTRIES}; choose smaller actions")
    check_generation(n_tasks, n_examples, m, n, P.dimension,
                     f"{G.spec} ({a_in.spec} -> {a_out.spec})", seconds=seconds)
    rng = np.random.default_rng(seed)
    v = rng.standard_normal((n_tasks, P.dimension))
    x = rng.standard_normal((n_tasks, n_examples, n), dtype=np.float32)
    y = _outputs(P, v, x, progress)
    answer = Answer(P.basis(dtype=np.float64), P, "pattern",
                    f"exact pattern of {P.description}, dimension {P.dimension}")
    spec = f"{G.spec}: {a_in.spec} -> {a_out.spec}"
    return TaskSet(x, y, (1, n), (1, m), n_train, "equivariant", answer, v.astype(np.float32),
                   {"seed": seed, "group": G.spec, "in": a_in.spec, "out": a_out.spec,
                    "spec": spec})


def load_npz(path: str | Path, *, train_fraction: float = 0.8) -> TaskSet:
    """Read a task file in the reference implementation's format.

    The file must hold ``x`` ``(tasks, examples, c_in, L_in...)`` and ``y``
    ``(tasks, examples, c_out, L_out...)`` (trailing dimensions are flattened), and may
    hold ``w`` (the generating weights, kept as is). Nothing is unpickled
    (``allow_pickle=False``); every problem with the file is one :class:`MetasymError` line.
    """
    from metasym._limits import memory_budget
    from metasym.npzfile import MAX_NPZ_BYTES

    path = Path(path)
    # the arrays are converted to float32 and packed again for training: about 3x their
    # size in memory, so the file may declare a third of the budget (checked on headers)
    arrays = read_npz(path, required=("x", "y"), what="x and y",
                      kinds={"x": "fiu", "y": "fiu"},
                      max_bytes=min(MAX_NPZ_BYTES, memory_budget() // 3))
    x, y, w = arrays["x"], arrays["y"], arrays.get("w")
    for name, arr in (("x", x), ("y", y)):
        if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
            raise MetasymError(f"{path}: {name} has dtype {arr.dtype}, expected numbers")
        if arr.ndim < 3:
            raise MetasymError(f"{path}: {name} has shape {arr.shape}; expected (tasks, "
                               "examples, channels, length...)")
    if x.shape[:2] != y.shape[:2]:
        raise MetasymError(f"{path}: x has {x.shape[:2]} (tasks, examples) but y has "
                           f"{y.shape[:2]}")
    T, N = x.shape[:2]
    if T < 2 or N < 2:
        raise MetasymError(f"{path}: need at least 2 tasks and 2 examples per task, got "
                           f"{T} tasks x {N} examples")
    if x.size == 0 or y.size == 0:
        raise MetasymError(f"{path}: empty arrays")
    x = x.astype(np.float32, copy=False)
    y = y.astype(np.float32, copy=False)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise MetasymError(f"{path}: x or y contains NaN or infinity")
    in_shape = (int(x.shape[2]), int(np.prod(x.shape[3:], dtype=np.int64)))
    out_shape = (int(y.shape[2]), int(np.prod(y.shape[3:], dtype=np.int64)))
    n_train = _check_sizes(T, N, 0, 0, train_fraction)
    return TaskSet(np.ascontiguousarray(x.reshape(T, N, -1)),
                   np.ascontiguousarray(y.reshape(T, N, -1)), in_shape, out_shape, n_train,
                   path.stem, None, w, {"path": str(path)})


def save_npz(tasks: TaskSet, path: str | Path) -> None:
    """Write ``x``, ``y`` (and ``w``) in the reference layout
    ``(tasks, examples, channels, length)``; :func:`load_npz` reads it back."""
    T, N = tasks.x.shape[:2]
    arrays = {"x": tasks.x.reshape(T, N, *tasks.in_shape),
              "y": tasks.y.reshape(T, N, *tasks.out_shape)}
    if tasks.w is not None:
        arrays["w"] = tasks.w
    np.savez(path, **arrays)


def make_problem(name: str, *, n_tasks: int = 10_000, n_examples: int = 20, seed: int = 0,
                 group: str | None = None, in_action: str | None = None,
                 out_action: str | None = None, data: str | Path | None = None,
                 progress: bool = False) -> TaskSet:
    """A problem by name (see :data:`PROBLEMS`), or the tasks of an ``.npz`` file."""
    if data is not None:
        return load_npz(data)
    if name in ("rank1", "rank2", "rank5"):
        return rank_problem(int(name[4:]), n_tasks=n_tasks, n_examples=n_examples, seed=seed)
    if name == "equivariant":
        if not (group and in_action and out_action):
            raise SpecError("--problem equivariant needs --group, --in and --out "
                            "(e.g. --group cyclic:8 --in natural --out natural)")
        return equivariant_problem(group, in_action, out_action, n_tasks=n_tasks,
                                   n_examples=n_examples, seed=seed, progress=progress)
    raise SpecError(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS)} "
                    "(or --data FILE.npz)")

