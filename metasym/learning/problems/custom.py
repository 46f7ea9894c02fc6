r"""Runs of a user's own problem: any learner and task source handed to
:func:`~metasym.learning.engine.fit` (``learner=``, ``source=``).

The engine trains them like a built-in problem (run folder, checkpoints, resume,
torchrun). A run folder cannot rebuild a user's model or tasks by itself (that would mean
importing code named in a file), so ``compare`` and ``discover`` read such runs
*file-level*: ``config.json`` records every MSR layer of the model (name, weight shape,
``k``), the checkpoint holds each learned ``U``, and ``answer.npz`` the analytic answers
given to :func:`fit`. To measure adapted layers too, pass the same learner and source to
:func:`~metasym.learning.engine.compare_run`.

``answers={layer name: answer}``: the names are those of the model's
:class:`~metasym.learning.MSRLinear` layers in ``model.named_modules()`` (``"fc1"``,
``"0"`` in an ``nn.Sequential``); ``""`` or ``"model"`` when the model *is* the MSR layer
(``MetaLearner(MSRLinear(10, 10, k=3))``). An answer is a
:class:`~metasym.representations.SharingPattern` (compared as a subspace and as a
partition) or an ``(m*n, d)`` basis array (as a subspace). A name that is not an MSR
layer is refused in one line that lists the layers.

The comparison has the shape of every run kind's: ``figures`` holds the run's figures
(``test_mse``, the baseline ``zero_predictor_mse``) and, for a model with one MSR layer,
that layer's figures flat (``subspace_distance``, ``partition_ari``, ... as built-in runs);
``figures["layers"]`` maps every MSR layer's name (``"model"`` for the model itself) to
its figures (as few-shot runs). The former ``figures["layer NAME"]`` keys remain, as
aliases of ``figures["layers"][NAME]``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.errors import MetasymError, MismatchError, did_you_mean
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

    def _resolve_answers(self, layers: list[dict[str, Any]]) -> None:
        """``"model"`` names the model itself when it is the MSR layer (its name is ``""``
        in ``named_modules()``), as ``compare`` prints it."""
        known = {d["name"] for d in layers}
        if "model" in self.answers and "model" not in known and "" in known:
            if "" in self.answers:
                raise MetasymError('answers: give the model\'s own layer once, as "" or '
                                   '"model", not both')
            self.answers[""] = self.answers.pop("model")

    def describe(self, cfg: Any, source: Any, learner: Any) -> dict[str, Any]:
        model = getattr(learner, "model", learner)
        layers = msr_layers(model)
        self._resolve_answers(layers)
        known = {d["name"] for d in layers}
        unknown = [nm for nm in self.answers if nm not in known]
        if unknown:
            names = sorted(repr(k) if k else "'model' (the model itself, or '')"
                           for k in known) or ["none"]
            candidates = known | ({"model"} if "" in known else set())
            hint = "".join(did_you_mean(u, candidates) for u in unknown)
            raise MetasymError(f"answers name layers {unknown} that are not MSR layers of the "
                               f"model{hint}; its MSR layers: {', '.join(names)}")
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
        self._resolve_answers(layers)
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
        baseline_name = ("zero_predictor_mse" if metric == "mse"
                         else next((k for k in final if k.startswith("baseline_")), None))
        for key in (f"test_{metric}", f"test_{metric}_ci95", baseline_name):
            if key and key in final:
                figures[key] = final[key]
        if f"test_{metric}" in figures:
            rows.append((f"test {metric} (held-out tasks)", figures[f"test_{metric}"]))
        if baseline_name and figures.get(baseline_name) is not None:
            rows.append(("predicting zero (baseline)" if metric == "mse"
                         else f"{baseline_name} (baseline)", figures[baseline_name]))
        learned = self._learned(record)
        layers: dict[str, dict[str, Any]] = {}
        for d, U in learned:
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
            layers[nm] = f
            prefix = f"layer {nm}: " if len(learned) > 1 else ""
            for label, k in (("learned dimension k", "learned_dimension"),
                             ("answer dimension", "answer_dimension"),
                             ("subspace distance (sin max angle)", "subspace_distance"),
                             ("subspace distance (rms sin)", "subspace_distance_rms"),
                             ("partition ARI (all entries)", "partition_ari"),
                             ("blocks recovered", "recovered_blocks")):
                rows.append((f"{prefix}{label}", f.get(k)))
        # one shape for every run kind: a single layer's figures flat (as built-in runs),
        # every layer's under "layers" (as few-shot runs)
        if len(layers) == 1:
            figures.update(next(iter(layers.values())))
        figures["layers"] = layers
        for nm, f in layers.items():  # the former keys, kept for code written against them
            figures[f"layer {nm}"] = f
        given = record.resolved.get("answer") or {}
        if len(given) == 1 and len(learned) == 1:
            answer = next(iter(given.values()))
        else:
            answer = "; ".join(f"layer {k or 'model'}: {v}" for k, v in given.items())
        return Comparison(str(record.path), record.config.problem, record.config.model,
                          answer or None, figures, rows, notes)


def _shape(layers: list[dict[str, Any]], name: str) -> list[int]:
    for d in layers:
        if d["name"] == name:
            return d["shape"]
    raise MetasymError(f"no MSR layer named {name!r}")


#: The registered instance (reads user runs back).
CUSTOM = CustomProblem()
