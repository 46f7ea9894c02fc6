r"""Runs of a user's own problem: any learner and task source handed to
:func:`~metasym.learning.engine.fit` (``learner=``, ``source=``).

The engine trains them like a built-in problem (run folder, checkpoints, resume,
torchrun). A run folder cannot rebuild a user's model or tasks by itself (that would mean
importing code named in a file), so ``compare`` and ``discover`` read such runs
*file-level*: ``config.json`` records every MSR layer of the model (name, weight shape,
``k``), the checkpoint holds each learned ``U``, and ``answer.npz`` the analytic answers
given to :func:`fit` (``answers={layer: SharingPattern or basis}``). To measure adapted
layers too, pass the same learner and source to
:func:`~metasym.learning.engine.compare_run`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.errors import MetasymError, MismatchError
from metasym.learning.engine.protocol import Comparison, LearnedSharing, Problem

__all__ = ["CustomProblem", "CUSTOM", "msr_layers"]


def msr_layers(model: Any) -> list[dict[str, Any]]:
    """Every layer of ``model`` with a sharing matrix ``U`` (``MSRLinear``): name, weight
    shape ``[m, n]``, ``k``, whether ``U`` is learned."""
    from metasym.learning.models.linear import MSRLinear

    return [{"name": name, "shape": [mod.out_features, mod.in_features], "k": int(mod.k),
             "learns_U": bool(mod.learns_U)}
            for name, mod in model.named_modules() if isinstance(mod, MSRLinear)]


def _answer_basis(answer: Any, shape: tuple[int, int], layer: str
                  ) -> tuple[np.ndarray, np.ndarray | None, str]:
    """``(basis, labels or None, description)`` of an answer given for ``layer``."""
    labels = getattr(answer, "labels", None)
    if labels is not None:
        basis, desc = answer.basis(dtype=np.float64), getattr(answer, "description", "")
        labels = np.asarray(labels)
    else:
        basis, desc = np.asarray(answer, dtype=np.float64), "user-given basis"
    if basis.ndim != 2 or basis.shape[0] != shape[0] * shape[1]:
        raise MismatchError(f"answer for layer {layer!r} has shape {basis.shape}; the layer's "
                            f"{shape[0]}x{shape[1]} weight needs {shape[0] * shape[1]} rows")
    return basis, labels, desc or f"exact pattern, dimension {basis.shape[1]}"


class CustomProblem(Problem):
    """A user's learner and task source as a problem kind (see the module docstring).
    The registered instance :data:`CUSTOM` reads such runs back."""

    kind = "custom"
    models = ()
    file_level = True

    def __init__(self, name: str | None = None, learner: Any = None, source: Any = None,
                 answers: dict[str, Any] | None = None, metric: str = "mse") -> None:
        self.names = (name,) if name else ()
        self._learner, self._source = learner, source
        self.answers = dict(answers or {})
        self.metric = metric
        self.baseline_name = "zero_predictor_mse" if metric == "mse" else f"baseline_{metric}"

    def task_source(self, cfg: Any, device: Any) -> Any:
        if self._source is None:
            raise MetasymError(f"problem {cfg.problem!r} is a user problem: pass its source= "
                               "(and learner=) to fit")
        return self._source

    def learner(self, cfg: Any, source: Any) -> Any:
        if self._learner is None:
            raise MetasymError(f"problem {cfg.problem!r} is a user problem: pass its learner=")
        return self._learner

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        model = getattr(learner, "model", learner)
        layers = msr_layers(model)
        known = {d["name"] for d in layers}
        unknown = [nm for nm in self.answers if nm not in known]
        if unknown:
            raise MetasymError(f"answers name layers {unknown} that are not MSR layers of the "
                               f"model (it has {sorted(known) or 'none'})")
        return {"learner": type(learner).__name__, "model_class": type(model).__name__,
                "msr_layers": layers,
                "inner_names": list(getattr(learner, "inner_names", ())),
                "answer": {nm: _answer_basis(a, tuple(_shape(layers, nm)), nm)[2]
                           for nm, a in self.answers.items()} or None}

    def answer_arrays(self, cfg: Any, source: Any) -> dict[str, Any] | None:
        if not self.answers:
            return None
        model = getattr(self._learner, "model", self._learner)
        layers = msr_layers(model)
        out: dict[str, Any] = {}
        for nm, a in self.answers.items():
            basis, labels, desc = _answer_basis(a, tuple(_shape(layers, nm)), nm)
            out[f"{nm}.basis"] = basis
            if labels is not None:
                out[f"{nm}.labels"] = labels
            out[f"{nm}.description"] = np.array(desc)
        return out

    # ----- file-level reading -------------------------------------------------------------
    def _learned(self, record: Any) -> list[tuple[dict[str, Any], np.ndarray]]:
        from metasym.learning.engine.checkpoint import read_checkpoint

        layers = record.resolved.get("msr_layers") or []
        if not layers:
            raise MetasymError(f"{record.path}: the model has no MSR layer (no sharing matrix "
                               "U to compare or discover)")
        tensors, _ = read_checkpoint(record.path / "checkpoint.safetensors")
        out = []
        for d in layers:
            try:
                name, (m, n), k = str(d["name"]), d["shape"], int(d["k"])
                m, n = int(m), int(n)
            except (KeyError, TypeError, ValueError):
                raise MetasymError(f"{record.path / 'config.json'}: malformed msr_layers "
                                   "entry") from None
            key = f"model.{name}.U" if name else "model.U"
            U = tensors.get(key)
            if U is None or tuple(U.shape) != (m * n, k):
                raise MetasymError(f"{record.path}: checkpoint has no tensor {key} of shape "
                                   f"{(m * n, k)}")
            U = U.double().numpy()
            if not np.isfinite(U).all():
                raise MetasymError(f"{record.path}: tensor {key} holds NaN or infinity")
            out.append(({"name": name, "shape": (m, n), "k": k,
                         "learns_U": bool(d.get("learns_U", True))}, U))
        return out

    def _answers(self, record: Any) -> dict[str, np.ndarray]:
        path = record.path / "answer.npz"
        if not path.is_file():
            return {}
        from metasym.npzfile import read_npz

        return dict(read_npz(path))

    def sharing(self, record: Any, learner: Any) -> list[LearnedSharing]:
        return [LearnedSharing(d["name"] or "model", U, d["shape"], None,
                               [] if d["learns_U"] else ["U is frozen (not learned)"])
                for d, U in self._learned(record)]

    def compare(self, record: Any, learner: Any, source: Any, n_tasks: int) -> Comparison:
        from metasym.learning.comparison.subspaces import (
            adjusted_rand_index,
            principal_cosines,
            recover_partition,
            subspace_distance,
        )

        answers = self._answers(record)
        figures: dict[str, Any] = {}
        rows: list[tuple[str, Any]] = []
        notes: list[str] = ["user problem: compared file-level (learned U of each MSR "
                            "layer against the answers given to fit)"]
        final = record.final or {}
        metric = record.resolved.get("metric", "mse")
        for key in (f"test_{metric}", f"test_{metric}_ci95"):
            if key in final:
                figures[key] = final[key]
        for d, U in self._learned(record):
            nm = d["name"] or "model"
            f: dict[str, Any] = {"shape": list(d["shape"]), "learned_dimension": d["k"]}
            basis = answers.get(f"{d['name']}.basis")
            rec = recover_partition(U, d["shape"])
            f["recovered_blocks"] = int(rec.max() + 1)
            if basis is None:
                notes.append(f"layer {nm}: no answer given")
            else:
                f["answer_dimension"] = int(np.linalg.matrix_rank(basis))
                f["subspace_distance"] = subspace_distance(U, basis)
                f["subspace_distance_rms"] = subspace_distance(U, basis, "rms")
                f["principal_cosines"] = [float(c) for c in principal_cosines(U, basis)]
                labels = answers.get(f"{d['name']}.labels")
                if labels is not None:
                    f["exact_blocks"] = int(labels.max() + 1)
                    f["partition_ari"] = adjusted_rand_index(labels, rec)
            figures[f"layer {nm}"] = f
            for label, k in (("learned dimension k", "learned_dimension"),
                             ("answer dimension", "answer_dimension"),
                             ("subspace distance (sin max angle)", "subspace_distance"),
                             ("subspace distance (rms sin)", "subspace_distance_rms"),
                             ("partition ARI (all entries)", "partition_ari"),
                             ("blocks recovered", "recovered_blocks")):
                rows.append((f"layer {nm}: {label}", f.get(k)))
        return Comparison(str(record.path), record.config.problem, record.config.model,
                          "; ".join(f"{k}: {v}" for k, v in
                                    (record.resolved.get("answer") or {}).items()) or None,
                          figures, rows, notes)


def _shape(layers: list[dict[str, Any]], name: str) -> list[int]:
    for d in layers:
        if d["name"] == name:
            return d["shape"]
    raise MetasymError(f"no MSR layer named {name!r}")


#: The registered instance (reads user runs back).
CUSTOM = CustomProblem()
