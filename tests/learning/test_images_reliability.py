"""Image runs (c4, d4, rot8, rot8_flip) survive like the 1-D runs: atomic resumable
checkpoints, exact resume, SIGINT/SIGTERM, NaN (see tests/learning/test_reliability.py)."""

from __future__ import annotations

import dataclasses
import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from metasym.cli import main
from metasym.errors import MetasymError
from metasym.learning.data.images import make_image_tasks
from metasym.learning.engine import load_run as load_image_run
from metasym.learning.engine.checkpoint import CHECKPOINT, NonFiniteError, read_checkpoint

from .run_helpers import image_config as ImageTrainConfig
from .run_helpers import metric_rows as _rows
from .run_helpers import same_weights as _same_weights
from .run_helpers import train as train_images

# tiny image runs: 6x6 inputs, one field, 40 tasks
TINY = ["--problem", "c4", "--model", "msr-conv", "--image-size", "6", "--fields", "1",
        "--tasks", "40", "--tasks-per-step", "4", "--eval-every", "5", "--eval-tasks", "8",
        "--quiet", "--threads", "1"]


def _cfg(**kw):
    base = dict(problem="c4", model="msr-conv", image_size=6, fields=1, n_tasks=40,
                tasks_per_step=4, steps=20, eval_every=5, eval_tasks=8, checkpoint_every=10,
                seed=3, inner_steps=2)
    return ImageTrainConfig(**(base | kw))


@pytest.fixture(scope="module")
def tasks():
    return make_image_tasks("c4", n_tasks=40, image_size=6, fields=1, seed=0)


@pytest.mark.parametrize("model", ["msr-conv", "maml-conv"])
def test_image_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, tasks, model):
    full = train_images(_cfg(model=model), tmp_path / "full", tasks=tasks, progress=False)

    def crash(row):
        if row["step"] == 15:  # after the checkpoint at 10: rows 11..15 must be dropped
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        train_images(_cfg(model=model), tmp_path / "b", tasks=tasks, progress=False,
                     on_eval=crash)
    assert not (tmp_path / "b" / "final.json").exists()
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:
        f.write('{"step": 16, "test_ms')  # a torn line, as a crash mid-write leaves
    resumed = train_images(_cfg(model=model), tmp_path / "b", tasks=tasks, progress=False,
                           resume=True)
    assert resumed["resumed_from"] == 10 and full["resumed_from"] is None
    assert _rows(tmp_path / "b") == _rows(tmp_path / "full")  # exactly, no duplicates
    assert [r["step"] for r in _rows(tmp_path / "b")] == [0, 5, 10, 15, 20]
    assert resumed["test_mse"] == full["test_mse"]
    assert resumed["test_mse_all"] == full["test_mse_all"]
    assert _same_weights(tmp_path / "b", tmp_path / "full")
    # the resumable checkpoint (optimiser and RNG state included) still loads as a model
    learner = load_image_run(tmp_path / "b", load_tasks=False).learner
    assert learner.step_sizes() == full["step_sizes"]


def test_image_resume_refuses_a_changed_config(tmp_path, tasks):
    train_images(_cfg(steps=5), tmp_path / "r", tasks=tasks, progress=False)
    with pytest.raises(MetasymError, match="seed 4 .the run has 3."):
        train_images(_cfg(steps=10, seed=4), tmp_path / "r", tasks=tasks, progress=False,
                     resume=True)
    with pytest.raises(MetasymError, match="already complete"):
        train_images(_cfg(steps=5), tmp_path / "r", tasks=tasks, progress=False,
                     resume=True)
    with pytest.raises(MetasymError, match="--resume"):  # an existing folder is kept
        train_images(_cfg(steps=5), tmp_path / "r", tasks=tasks, progress=False)


def test_cli_image_train_n_then_resume_n_equals_2n(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", *TINY, "--steps", "10", "--checkpoint-every", "4", "--out",
                 str(a)]) == 0
    assert main(["train", "--resume", str(a), "--steps", "20", "--quiet"]) == 0
    assert main(["train", *TINY, "--steps", "20", "--checkpoint-every", "4", "--out",
                 str(b)]) == 0
    assert _rows(a) == _rows(b)
    assert _same_weights(a, b)
    assert json.loads((a / "final.json").read_text())["resumed_from"] == 10
    capsys.readouterr()
    assert main(["compare", str(a), "--tasks", "8", "--json"]) == 0
    capsys.readouterr()
    for argv, msg in [(["--resume", str(a)], "already complete"),
                      (["--resume", str(a), "--steps", "30", "--seed", "7"], "seed 7"),
                      (["--resume", str(a), "--steps", "30", "--image-size", "7"],
                       "image-size 7"),
                      (["--resume", str(a), "--overwrite"], "exclude"),
                      (["--resume", str(a), "--out", str(b)], "in place")]:
        assert main(["train", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, (argv, err)


def test_image_nan_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tasks):
    st = tasks.stats
    Hs = st.Hs.clone()
    Hs[7, 0, 0] = float("nan")  # one training task
    bad = dataclasses.replace(tasks, stats=st._replace(Hs=Hs))
    with pytest.raises(NonFiniteError, match=r"non-finite loss .* at step (\d+)") as exc:
        train_images(_cfg(steps=200, checkpoint_every=1), tmp_path / "n", tasks=bad,
                     progress=False)
    assert isinstance(exc.value, MetasymError)  # one line, exit 2 from the CLI
    failed = int(re.search(r"at step (\d+)", str(exc.value)).group(1))
    tensors, meta = read_checkpoint(tmp_path / "n" / CHECKPOINT)
    assert int(meta["step"]) == failed - 1 and f"step {failed - 1}" in str(exc.value)
    assert f"--resume {tmp_path / 'n'}" in str(exc.value)
    assert all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point())
    rows = _rows(tmp_path / "n")
    assert all(np.isfinite(r["test_mse"]) for r in rows) and rows[-1]["step"] < failed
    assert not (tmp_path / "n" / "final.json").exists()
    # without a run folder: stops all the same, says no checkpoint was written
    with pytest.raises(NonFiniteError, match="no checkpoint was written"):
        train_images(_cfg(steps=200), None, tasks=bad, progress=False)


# ----- signals in a real subprocess -------------------------------------------------------------
def _launch(out: Path) -> subprocess.Popen:
    code = "import sys; from metasym.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "train", *TINY, "--steps", "1000000",
            "--eval-every", "50", "--checkpoint-every", "50", "--out", str(out)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rows(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        m = out / "metrics.jsonl"
        if (out / CHECKPOINT).is_file() and m.is_file() and m.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run did not get going")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_image_signal_saves_a_checkpoint_and_says_how_to_resume(tmp_path, sig, code):
    out = tmp_path / "s"
    proc = _launch(out)
    _wait_rows(out, 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"--resume {out}" in err and "Traceback" not in err
    step = int(read_checkpoint(out / CHECKPOINT)[1]["step"])
    assert step > 0
    assert main(["train", "--resume", str(out), "--steps", str(step + 30), "--quiet"]) == 0
    steps = [r["step"] for r in _rows(out)]
    assert steps == sorted(set(steps)) and steps[-1] == step + 30
