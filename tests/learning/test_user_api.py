"""The Python API of a user's own problem: answers by layer name, one shape of
``Comparison.figures`` for every run kind, a baseline, input dtypes, ``result.plot(path)``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from metasym.errors import MetasymError, SpecError
from metasym.groups import cyclic, natural
from metasym.learning import MetaLearner, MSRLinear
from metasym.learning.engine import ArrayTaskSource, RunConfig, compare_run, fit
from metasym.representations import sharing_pattern


def _tasks(T: int = 60, seed: int = 0):
    P = sharing_pattern(natural(cyclic(5)), natural(cyclic(5)))
    rng = np.random.default_rng(seed)
    W = P.weight(rng.standard_normal((T, P.dimension)))
    x = rng.standard_normal((T, 6, 5))
    return P, x, np.einsum("tmn,ten->tem", W, x)


def _fit(out, answers_key="model", x_dtype=np.float64):
    P, x, y = _tasks()
    torch.manual_seed(0)
    learner = MetaLearner(MSRLinear(5, 5, k=5), inner_steps=1)
    cfg = RunConfig(problem="user-c5", model="msr", steps=6, eval_every=3, eval_tasks=8,
                    n_tasks=60, n_examples=6)
    src = ArrayTaskSource(x.astype(x_dtype), y, support=1, n_train=48)
    return fit(cfg, out, learner=learner, source=src, answers={answers_key: P},
               progress=False)


@pytest.mark.parametrize("key", ["model", ""])
def test_answers_name_the_model_itself_as_model_or_empty(tmp_path, key):
    res = _fit(tmp_path / "r", key)
    cmp = compare_run(tmp_path / "r")
    assert cmp.answer and not cmp.answer.startswith(":") and ": :" not in cmp.answer
    assert cmp.answer.startswith("exact pattern") or "cyclic" in cmp.answer
    # one shape: flat like built-in runs, per layer like few-shot runs
    assert cmp.figures["answer_dimension"] == 5
    assert cmp.figures["layers"]["model"]["subspace_distance"] == cmp.figures["subspace_distance"]
    assert cmp.figures["layer model"] is cmp.figures["layers"]["model"]  # the former key
    # a baseline, in the figures, the printed rows and the fit summary
    assert cmp.figures["zero_predictor_mse"] == pytest.approx(res.baseline)
    labels = [label for label, _ in cmp.rows]
    assert "predicting zero (baseline)" in labels and "subspace distance (rms sin)" in labels
    assert res.summary_line().endswith(f"; predicting zero: {res.baseline:.3f}")


def test_unknown_answer_layer_is_one_line_with_a_hint(tmp_path):
    with pytest.raises(MetasymError, match=r"not MSR layers of the model.*'model'") as e:
        _fit(tmp_path / "r", "modle")
    assert "\n" not in str(e.value) and "did you mean 'model'" in str(e.value)


def test_builtin_run_figures_have_the_same_layers_key(tmp_path):
    from metasym.cli import main

    run = tmp_path / "b"
    assert main(["train", "--problem", "rank1", "--steps", "3", "--tasks", "40",
                 "--eval-every", "3", "--eval-tasks", "8", "--quiet", "--out", str(run)]) == 0
    cmp = compare_run(run, n_tasks=8)
    assert cmp.figures["layers"]["model"]["subspace_distance"] == cmp.figures["subspace_distance"]
    assert "test_mse" not in cmp.figures["layers"]["model"]
    png = cmp.plot(tmp_path / "c.png")  # the plain call
    assert png.is_file()
    assert cmp.plot(cmp, tmp_path / "d.png").is_file()  # the former call still works


@pytest.mark.parametrize("dtype", [np.float64, np.float16, np.int32, np.bool_])
def test_array_task_source_converts_real_dtypes_to_float32(dtype):
    P, x, y = _tasks(10)
    src = ArrayTaskSource(x.astype(dtype), y, support=1, n_train=8)
    assert src.train.dtype == torch.float32


@pytest.mark.parametrize("bad, needle", [
    (np.zeros((10, 6, 5), complex), "real numbers"),
    (np.full((10, 6, 5), "a"), "real numbers"),
    ([[[1.0]], [[1.0, 2.0]]], "rectangular"),
    (torch.zeros(10, 6, 5, dtype=torch.complex64), "real numbers"),
])
def test_array_task_source_refuses_in_one_line(bad, needle):
    y = np.zeros((10, 6, 5))
    with pytest.raises(SpecError, match=needle) as e:
        ArrayTaskSource(bad, y, support=1, n_train=8)
    assert "\n" not in str(e.value)
