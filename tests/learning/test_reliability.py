"""Runs that survive: atomic checkpoints, exact resume, signals, kill -9, NaN, bad files,
size limits (issue 6)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from metasym.cli import main
from metasym.learning import rank_problem
from metasym.learning.data.tasks import TaskSet
from metasym.learning.engine.checkpoint import (
    CHECKPOINT,
    NonFiniteError,
    atomic_write_text,
    read_checkpoint,
    truncate_metrics,
)

from .run_helpers import config as TrainConfig
from .run_helpers import metric_rows as _rows
from .run_helpers import same_weights as _same_weights
from .run_helpers import train

TINY = ["--tasks", "200", "--eval-every", "5", "--eval-tasks", "20", "--quiet",
        "--threads", "1"]


@pytest.fixture(scope="module")
def tasks():
    return rank_problem(1, n_tasks=200, seed=0)


def _cfg(**kw):
    base = dict(steps=20, eval_every=5, eval_tasks=20, checkpoint_every=10, seed=3,
                n_tasks=200, inner_steps=2)
    return TrainConfig(**(base | kw))


@pytest.mark.parametrize("model", ["msr-fc", "maml-fc"])
def test_resume_after_a_crash_matches_an_uninterrupted_run(tmp_path, tasks, model):
    full = train(_cfg(model=model), tmp_path / "full", tasks=tasks, progress=False)

    def crash(row):
        if row["step"] == 15:  # after the checkpoint at 10: rows 11..15 must be dropped
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError, match="simulated"):
        train(_cfg(model=model), tmp_path / "b", tasks=tasks, progress=False, on_eval=crash)
    with open(tmp_path / "b" / "metrics.jsonl", "a") as f:
        f.write('{"step": 16, "test_ms')  # a torn line, as a crash mid-write leaves
    resumed = train(_cfg(model=model), tmp_path / "b", tasks=tasks, progress=False,
                    resume=True)
    assert resumed["resumed_from"] == 10
    assert _rows(tmp_path / "b") == _rows(tmp_path / "full")  # exactly, no duplicates
    assert [r["step"] for r in _rows(tmp_path / "b")] == [0, 5, 10, 15, 20]
    assert resumed["test_mse"] == full["test_mse"]
    assert _same_weights(tmp_path / "b", tmp_path / "full")


def test_cli_train_n_then_resume_n_equals_2n(tmp_path, capsys):
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["train", *TINY, "--steps", "10", "--checkpoint-every", "4", "--out",
                 str(a)]) == 0
    assert main(["train", "--resume", str(a), "--steps", "20", "--quiet"]) == 0
    assert main(["train", *TINY, "--steps", "20", "--checkpoint-every", "4", "--out",
                 str(b)]) == 0
    assert _rows(a) == _rows(b)
    assert _same_weights(a, b)
    capsys.readouterr()
    # already complete; a conflicting flag; --resume with --overwrite / another --out
    for argv, msg in [(["--resume", str(a)], "already complete"),
                      (["--resume", str(a), "--steps", "30", "--seed", "7"], "seed 7"),
                      (["--resume", str(a), "--overwrite"], "exclude"),
                      (["--resume", str(a), "--out", str(b)], "in place"),
                      (["--resume", str(tmp_path / "nope")], "no such run folder"),
                      ([*TINY, "--steps", "5"], "needs --out")]:
        assert main(["train", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, (argv, err)


def test_existing_folder_is_refused_without_overwrite_or_resume(tmp_path, capsys):
    out = tmp_path / "r"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    assert main(["train", *TINY, "--steps", "2", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "--resume" in err
    assert (out / "keep.txt").read_text() == "x"


@pytest.mark.parametrize("damage, msg", [
    ("truncate", "not a readable safetensors"),
    ("text", "not a readable safetensors"),
    ("model-only", "model weights only"),
    ("missing", "no checkpoint file"),
])
def test_damaged_checkpoint_is_one_line_exit_2(tmp_path, capsys, damage, msg):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "10", "--out", str(out)]) == 0
    ck = out / CHECKPOINT
    if damage == "truncate":
        ck.write_bytes(ck.read_bytes()[: ck.stat().st_size // 2])
    elif damage == "text":
        ck.write_text("import os; os.system('echo pwned')\n")
    elif damage == "model-only":
        from safetensors.torch import save_file

        save_file({"model.v": torch.zeros(3)}, str(ck))
    else:
        ck.unlink()
    capsys.readouterr()
    assert main(["train", "--resume", str(out), "--steps", "20", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert msg in err and str(ck) in err and err.count("\n") == 1, err
    if damage in ("truncate", "text"):  # readers of finished runs say the same
        assert main(["compare", str(out)]) == 2
        err = capsys.readouterr().err
        assert str(ck) in err and err.count("\n") == 1


@pytest.mark.parametrize("content, msg", [
    (None, "no config.json"), ("{not json", "corrupt JSON"), ("[1, 2]", "not a metasym"),
    ('{"problem": "rank1", "model": "msr-fc", "steps": -3}', "invalid config"),
    ('{"problem": "rank1", "model": "msr-fc", "steps": "x"}', "invalid config"),
])
def test_damaged_run_config_is_one_line_exit_2(tmp_path, capsys, content, msg):
    out = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "4", "--out", str(out)]) == 0
    if content is None:
        (out / "config.json").unlink()
    else:
        (out / "config.json").write_text(content)
    capsys.readouterr()
    for argv in (["train", "--resume", str(out), "--steps", "8", "--quiet"],
                 ["compare", str(out)]):
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err


def test_nan_in_a_task_stops_training_and_keeps_the_last_good_checkpoint(tmp_path, tasks):
    x = tasks.x.copy()
    x[37, 0, 5] = np.nan  # one training task
    bad = TaskSet(x, tasks.y, tasks.in_shape, tasks.out_shape, tasks.n_train, "rank1",
                  tasks.answer)
    with pytest.raises(NonFiniteError, match=r"non-finite loss .* at step (\d+)") as exc:
        train(_cfg(steps=200, checkpoint_every=1), tmp_path / "n", tasks=bad,
              progress=False)
    import re

    failed = int(re.search(r"at step (\d+)", str(exc.value)).group(1))
    tensors, meta = read_checkpoint(tmp_path / "n" / CHECKPOINT)
    assert int(meta["step"]) == failed - 1 and f"step {failed - 1}" in str(exc.value)
    assert all(torch.isfinite(t).all() for k, t in tensors.items() if t.is_floating_point())
    rows = _rows(tmp_path / "n")
    assert all(np.isfinite(r["test_mse"]) for r in rows) and rows[-1]["step"] < failed
    assert not (tmp_path / "n" / "final.json").exists()


def test_nan_in_an_npz_file_is_refused(tmp_path, capsys):
    path = tmp_path / "nan.npz"
    np.savez(path, x=np.full((4, 3, 1, 5), np.nan), y=np.zeros((4, 3, 1, 5)))
    assert main(["train", *TINY, "--steps", "2", "--data", str(path), "--k", "2", "--out",
                 str(tmp_path / "o")]) == 2
    assert "NaN" in capsys.readouterr().err


def test_atomic_write_keeps_the_old_file_when_the_writer_fails(tmp_path):
    from metasym.learning.engine.checkpoint import atomic_write

    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    def boom(tmp):
        Path(tmp).write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        atomic_write(target, boom)
    assert target.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["f.txt"]


def test_truncate_metrics_drops_rows_after_the_checkpoint_and_torn_lines(tmp_path):
    p = tmp_path / "m.jsonl"
    p.write_text('{"step": 0}\n{"step": 5}\n{"step": 10}\n{"step": 15}\n{"ste')
    assert [r["step"] for r in truncate_metrics(p, 10)] == [0, 5, 10]
    assert p.read_text() == '{"step": 0}\n{"step": 5}\n{"step": 10}\n'


@pytest.mark.parametrize("argv, msg", [
    (["--k", "1000000000"], "dense U"),
    (["--tasks-per-step", "100000000"], "--tasks-per-step"),
    (["--inner-steps", "1000000"], "inner-steps"),
    (["--checkpoint-every", "0"], "checkpoint-every"),
    (["--seed", str(10**30)], "--seed: must be"),  # found by hand after the fuzzer: tracebacks
    (["--data-seed", "-1"], "--data-seed: must be >= 0"),
    (["--threads", "100000"], "threads must be"),
])
def test_size_limits_refuse_before_allocating(tmp_path, capsys, argv, msg):
    out = tmp_path / "big"
    assert main(["train", *TINY, "--steps", "2", *argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert msg in err and err.count("\n") == 1 and not out.exists()


# ----- signals and kill -9 in a real subprocess ----------------------------------------------
def _launch(out: Path, *extra: str) -> subprocess.Popen:
    code = "import sys; from metasym.cli import main; sys.exit(main(sys.argv[1:]))"
    argv = [sys.executable, "-c", code, "train", *TINY, "--steps", "1000000",
            "--eval-every", "50", "--checkpoint-every", "50", "--out", str(out), *extra]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_rows(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        m = out / "metrics.jsonl"
        if (out / CHECKPOINT).is_file() and m.is_file() and \
                m.read_text().count("\n") >= n:
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    proc.kill()
    raise AssertionError("the run did not get going")


def _ckpt_step(out: Path) -> int:
    return int(read_checkpoint(out / CHECKPOINT)[1]["step"])


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_saves_a_checkpoint_and_says_how_to_resume(tmp_path, capsys, sig, code):
    out = tmp_path / "s"
    proc = _launch(out)
    _wait_rows(out, 2, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"--resume {out}" in err and "Traceback" not in err
    step = _ckpt_step(out)
    assert step > 0
    # the checkpoint is at the step where it stopped; resuming for 30 more steps works
    assert main(["train", "--resume", str(out), "--steps", str(step + 30), "--quiet"]) == 0
    steps = [r["step"] for r in _rows(out)]
    assert steps == sorted(set(steps)) and steps[-1] == step + 30


def test_kill_9_then_resume_matches_an_uninterrupted_run(tmp_path):
    out = tmp_path / "k"
    proc = _launch(out, "--seed", "5")
    _wait_rows(out, 4, proc)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)
    step = _ckpt_step(out)
    assert step >= 50
    target = step + 60
    assert main(["train", "--resume", str(out), "--steps", str(target), "--quiet"]) == 0
    ref = tmp_path / "ref"
    assert main(["train", *TINY, "--steps", str(target), "--eval-every", "50",
                 "--checkpoint-every", "50", "--seed", "5", "--out", str(ref)]) == 0
    assert _rows(out) == _rows(ref)
    assert _same_weights(out, ref)
