r"""The 1-D regression problems as an engine plug-in: ``rank1``, ``rank2``, ``rank5``,
``equivariant`` and user ``.npz`` data (``--data``).

Tasks are :class:`~metasym.learning.data.tasks.TaskSet` arrays served by an
:class:`~metasym.learning.engine.ArrayTaskSource`; models are those of
:func:`~metasym.learning.models.linear.build_model` under a
:class:`~metasym.learning.learners.maml.MetaLearner` (closed-form fast path for MSR-FC).

``--data FILE --problem rank1|rank2|rank5`` takes the problem's analytic answer and
default ``k`` for the reference implementation's files: ``rank1``'s exact convolution
pattern (from the file's shapes), and for ``rank2``/``rank5`` the generating subspace,
spanned by the generating weights ``w`` stored in the file (its dimension must be
``3r``). ``--data`` alone (``problem = "data"``) has no answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from metasym.errors import MetasymError, SpecError
from metasym.learning.engine.protocol import (
    ArrayTaskSource,
    Comparison,
    LearnedSharing,
    Problem,
)
from metasym.learning.registry import MODEL_NAMES, PROBLEMS

__all__ = ["RegressionOptions", "RegressionSource", "RegressionProblem", "REGRESSION",
           "DEFAULT_K"]

#: MSR-FC filter sizes used by the reference for the 1-D problems.
DEFAULT_K = {"rank1": 3, "rank2": 6, "rank5": 30}


@dataclass(frozen=True)
class RegressionOptions:
    """Options of the 1-D problems: the group and actions of ``equivariant``, and a
    reference-format ``.npz`` file (``data``)."""

    group: str | None = None
    in_action: str | None = None
    out_action: str | None = None
    data: str | None = None


class RegressionSource(ArrayTaskSource):
    """An :class:`~metasym.learning.engine.ArrayTaskSource` that keeps its
    :class:`~metasym.learning.data.tasks.TaskSet` (answer, shapes, test arrays)."""

    def __init__(self, tasks: Any, support: int, device: torch.device | str = "cpu") -> None:
        super().__init__(tasks.x, tasks.y, support=support, n_train=tasks.n_train,
                         device=device)
        self.tasks = tasks


def _data_answer(name: str, tasks: Any) -> Any:
    """The analytic answer of ``--problem name`` for tasks read from a file."""
    from metasym.learning.data.tasks import Answer
    from metasym.representations import conv1d

    L_in, L_out = tasks.n_in, tasks.n_out
    if tasks.in_shape[0] != 1 or tasks.out_shape[0] != 1 or L_out > L_in:
        raise MetasymError(f"--problem {name}: the file holds {tasks.in_shape} -> "
                           f"{tasks.out_shape} (channels, length); the problem is one channel, "
                           "a valid 1-D layer L -> L - kernel + 1")
    kernel = L_in - L_out + 1
    if name == "rank1":
        P = conv1d(L_in, kernel)
        return Answer(P.basis(dtype=np.float64), P, "pattern",
                      f"exact pattern conv1d({L_in}, {kernel}): orbits of the translation group "
                      f"cut by a {kernel}-tap window, dimension {P.dimension}")
    rank = int(name[4:])
    w = tasks.w
    if w is None or w.size != tasks.n_tasks * L_out * kernel:
        raise MetasymError(f"--problem {name}: the file has no generating weights w of "
                           f"{L_out} x {kernel} filters per task, so the generating subspace "
                           "is unknown (drop --problem to train without an answer)")
    filt = np.asarray(w, dtype=np.float64).reshape(tasks.n_tasks, L_out * kernel)
    _, s, vt = np.linalg.svd(filt, full_matrices=False)
    dim = int((s > s[0] * 1e-6).sum()) if s.size and s[0] > 0 else 0
    if dim != rank * kernel:
        raise MetasymError(f"--problem {name}: the file's generating weights span "
                           f"{dim} dimensions, not {rank * kernel} = {rank} x {kernel}")
    basis = np.zeros((L_out, L_in, dim))
    p = np.arange(L_out)
    F = vt[:dim].T.reshape(L_out, kernel, dim)
    for t in range(kernel):
        basis[p, p + t, :] = F[:, t, :]
    return Answer(basis.reshape(L_out * L_in, dim), None, "subspace",
                  f"generating subspace of {name} spanned by the file's generating weights, "
                  f"dimension {dim}; not a group: no sharing partition")


class RegressionProblem(Problem):
    """The 1-D regression problems (see the module docstring)."""

    kind = "regression"
    names = (*PROBLEMS, "data")
    models = MODEL_NAMES
    options_type = RegressionOptions
    default_model = "msr-fc"

    def validate(self, cfg: Any) -> None:
        super().validate(cfg)
        o = self.options(cfg)
        given = [f for f, v in (("--group", o.group), ("--in-action", o.in_action),
                                ("--out-action", o.out_action)) if v is not None]
        if cfg.problem == "equivariant":
            if len(given) < 3:
                raise SpecError("--problem equivariant needs --group, --in-action and "
                                "--out-action (e.g. --group cyclic:8 --in-action natural "
                                "--out-action natural)")
            if o.data is not None:
                raise SpecError("--problem equivariant generates its tasks: drop --data")
        elif given:
            raise SpecError(f"{', '.join(given)} appl{'ies' if len(given) == 1 else 'y'} only "
                            f"to --problem equivariant (this run is --problem {cfg.problem})")
        if cfg.problem == "data" and o.data is None:
            raise SpecError("--problem data needs --data FILE.npz")

    def tasks(self, cfg: Any) -> Any:
        """The :class:`~metasym.learning.data.tasks.TaskSet` of ``cfg``."""
        from dataclasses import replace

        from metasym.learning.data.tasks import load_npz, make_problem

        o = self.options(cfg)
        if o.data is not None:
            ts = load_npz(o.data)
            if cfg.problem in DEFAULT_K:
                ts = replace(ts, answer=_data_answer(cfg.problem, ts))
            return ts
        return make_problem(cfg.problem, n_tasks=cfg.n_tasks, n_examples=cfg.n_examples,
                            seed=cfg.data_seed, group=o.group, in_action=o.in_action,
                            out_action=o.out_action, progress=True)

    def task_source(self, cfg: Any, device: torch.device) -> RegressionSource:
        return RegressionSource(self.tasks(cfg), cfg.support, device)

    def resolve_k(self, cfg: Any, tasks: Any) -> int | None:
        if cfg.model != "msr-fc":
            return None
        if cfg.k is not None:
            return cfg.k
        if cfg.problem in DEFAULT_K:
            return DEFAULT_K[cfg.problem]
        if tasks.answer is not None:
            return int(tasks.answer.basis.shape[1])
        raise SpecError("msr-fc on user data needs --k (the number of filter parameters), "
                        "or --problem rank1|rank2|rank5 for the reference's files")

    def check_size(self, cfg: Any, source: Any) -> None:
        from metasym.learning.limits import check_training_size

        ts = source.tasks
        k = self.resolve_k(cfg, ts)
        if cfg.model == "oracle" and ts.answer is not None:
            k = int(ts.answer.basis.shape[1])
        check_training_size(cfg, ts, k)

    def learner(self, cfg: Any, source: Any) -> Any:
        from metasym.learning.learners.maml import MetaLearner
        from metasym.learning.models.linear import build_model

        ts = source.tasks
        U = ts.answer.basis if ts.answer is not None else None
        model = build_model(cfg.model, n_in=ts.n_in, n_out=ts.n_out,
                            in_channels=ts.in_shape[0], out_channels=ts.out_shape[0],
                            k=self.resolve_k(cfg, ts), U=U)
        return MetaLearner(model, inner_steps=cfg.inner_steps, inner_lr=cfg.inner_lr,
                           first_order=cfg.first_order, chunk_size=cfg.chunk_size)

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        ts = source.tasks
        return {"k": getattr(learner.model, "k", None), "n_in": ts.n_in, "n_out": ts.n_out,
                "in_shape": list(ts.in_shape), "out_shape": list(ts.out_shape),
                "tasks": ts.n_tasks, "fast_path": learner.fast,
                "answer": ts.answer.description if ts.answer is not None else None,
                "task_info": ts.info}

    def answer_arrays(self, cfg: Any, source: Any) -> dict[str, Any] | None:
        a = source.tasks.answer
        if a is None:
            return None
        extra = {} if a.pattern is None else {"labels": a.pattern.labels}
        return {"basis": a.basis, **extra, "kind": np.array(a.kind),
                "description": np.array(a.description)}

    def display_name(self, cfg: Any) -> str:
        o = self.options(cfg)
        return f"data:{o.data}" if o.data is not None and cfg.problem == "data" else cfg.problem

    def shell_source(self, record: Any) -> Any:
        """Two zero tasks with the run's shapes (rebuilds the model without data)."""
        from metasym.learning.data.tasks import Answer, TaskSet

        r = record.resolved
        try:
            n_in, n_out = int(r["n_in"]), int(r["n_out"])
            if n_in < 1 or n_out < 1:
                raise ValueError("n_in and n_out must be positive")
            answer = None
            if record.config.model == "oracle":
                answer = Answer(np.zeros((n_in * n_out, int(r["k"]))))
            z = np.zeros((3, 2, n_in), np.float32)
            ts = TaskSet(z, np.zeros((3, 2, n_out), np.float32), tuple(r["in_shape"]),
                         tuple(r["out_shape"]), 2, str(r["problem"]), answer)
        except (KeyError, TypeError, ValueError) as e:
            raise MetasymError(f"{record.path / 'config.json'}: incomplete ({e})") from None
        return RegressionSource(ts, 1)

    # ----- reading back -----------------------------------------------------------------------
    def sharing(self, record: Any, learner: Any) -> list[LearnedSharing]:
        model = learner.model
        if getattr(model, "U", None) is None or not hasattr(model, "v"):
            raise MetasymError(f"{record.path}: model {record.config.model!r} has no sharing "
                               "matrix U (discover needs an msr-fc or oracle run)")
        notes = [] if model.learns_U else ["oracle model: U is the frozen analytic basis, "
                                           "not learned"]
        o = self.options(record.config)
        ref = None
        if record.config.problem == "equivariant":
            ref = (str(record.resolved.get("group") or o.group), str(o.in_action),
                   str(o.out_action))
        return [LearnedSharing("U", model.U.detach().double().cpu().numpy(),
                               (model.out_features, model.in_features), ref, notes)]

    def compare(self, record: Any, learner: Any, source: Any, n_tasks: int) -> Comparison:
        from metasym.learning.comparison.regression import compare_regression

        return compare_regression(record, learner, source.tasks, n_tasks,
                                  self.display_name(record.config))


#: The registered instance.
REGRESSION = RegressionProblem()
