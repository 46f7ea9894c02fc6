"""The engine's promises: every problem kind through one loop, a user's own problem with
the same run folder, resume, torchrun, compare and discover; the run folder's safety."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from metasym.cli import main
from metasym.errors import MetasymError
from metasym.groups import cyclic, natural
from metasym.learning import MetaLearner, MSRLinear, rank_problem, save_npz
from metasym.learning.engine import ArrayTaskSource, RunConfig, compare_run, fit, load_run
from metasym.learning.engine.runfolder import MARKER, lock_folder
from metasym.representations import sharing_pattern

from .run_helpers import metric_rows, same_weights

TINY = ["--tasks", "120", "--steps", "10", "--eval-every", "5", "--eval-tasks", "10",
        "--quiet", "--threads", "1"]


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


# ----- a user's own problem ------------------------------------------------------------------
def _user_tasks(T: int = 80, seed: int = 0):
    """Equivariant maps of cyclic:5 given as plain arrays (a problem metasym does not know)."""
    P = sharing_pattern(natural(cyclic(5)), natural(cyclic(5)))
    rng = np.random.default_rng(seed)
    W = P.weight(rng.standard_normal((T, P.dimension)))
    x = rng.standard_normal((T, 6, 5)).astype(np.float32)
    return P, x, np.einsum("tmn,ten->tem", W, x).astype(np.float32)


def _user_fit(out, steps=12, resume=False, on_eval=None, layers=1):
    P, x, y = _user_tasks()
    torch.manual_seed(1)
    mods = [MSRLinear(5, 5, k=5)] + [m for _ in range(layers - 1)
                                     for m in (nn.Tanh(), MSRLinear(5, 5, k=5))]
    learner = MetaLearner(nn.Sequential(*mods), inner_steps=1)
    cfg = RunConfig(problem="user-c5", model="msr-stack", steps=steps, eval_every=4,
                    eval_tasks=8, checkpoint_every=4, n_tasks=80, n_examples=6)
    src = ArrayTaskSource(x, y, support=1, n_train=64)
    answers = {name: P for name in [str(2 * i) for i in range(layers)]}
    return fit(cfg, out, learner=learner, source=src, answers=answers, progress=False,
               resume=resume, on_eval=on_eval)


def test_user_problem_has_the_same_run_folder_resume_compare_discover(tmp_path, capsys):
    full, part = tmp_path / "full", tmp_path / "part"
    res = _user_fit(full)
    assert res.steps == 12 and res.fast_path is False and len(res.history) == 4
    cfg = json.loads((full / "config.json").read_text())
    assert cfg["kind"] == "custom" and cfg["msr_layers"][0]["name"] == "0"
    assert cfg["inner_names"] == ["0.v"]
    for f in ("metrics.jsonl", "checkpoint.safetensors", "final.json", "answer.npz", MARKER):
        assert (full / f).is_file(), f

    def crash(row):
        if row["step"] == 8:
            raise RuntimeError("simulated crash")

    with pytest.raises(RuntimeError):
        _user_fit(part, on_eval=crash)
    # an interrupted run is compared at its checkpoint, and says so
    cmp = compare_run(part)
    assert cmp.figures["finished"] is False and cmp.figures["checkpoint_step"] == 4
    assert "did not finish" in cmp.notes[0]
    _user_fit(part, resume=True)
    assert metric_rows(part) == metric_rows(full) and same_weights(part, full)

    capsys.readouterr()
    assert main(["compare", str(full), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    layer = out["layer 0"]
    assert layer["answer_dimension"] == 5 and 0 <= layer["subspace_distance"] <= 1
    assert main(["discover", str(full), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source_kind"] == "U"
    assert main(["discover", str(full), "--layer", "7"]) == 2
    assert "no layer '7'" in _err(capsys)


def test_user_network_with_two_msr_layers_needs_layer_for_discover(tmp_path, capsys):
    run = tmp_path / "two"
    _user_fit(run, steps=4, layers=2)
    capsys.readouterr()
    assert main(["discover", str(run)]) == 2
    assert "--layer" in _err(capsys)
    assert main(["discover", str(run), "--layer", "2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["source"].endswith("(layer 2)")


USER_SCRIPT = """
import sys
import numpy as np, torch
sys.path.insert(0, {tests!r})
from learning.test_engine import _user_fit
_user_fit({out!r})
"""


def test_user_problem_under_torchrun_matches_one_process(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _user_fit(one)
    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT.format(tests=str(Path(__file__).parents[1]), out=str(two)))
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    env |= {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo")}
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--standalone", "--monitor_interval", "0.2", str(script)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads((two / "config.json").read_text())["world_size"] == 2
    for a, b in zip(metric_rows(one), metric_rows(two), strict=True):
        assert b["test_mse"] == pytest.approx(a["test_mse"], rel=1e-5, abs=1e-7)


# ----- image runs through compare and discover --------------------------------------------------
def test_discover_names_the_kernel_rotation_group_of_an_image_run(tmp_path, capsys):
    run = tmp_path / "c4"
    assert main(["train", "--problem", "c4", "--model", "oracle", "--image-size", "6",
                 "--fields", "1", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["discover", str(run), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["order"] == 4 and info["identified_as"] == "cyclic:4"
    assert info["reference"]["group"] == "rotations:3"
    assert "EQUAL" in info["relation_to_reference"].upper()
    assert main(["compare", str(run), "--json", "--tasks", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["subspace_distance"] < 1e-6


# ----- the reference implementation's files with a known problem ----------------------------
def test_data_file_takes_the_problems_answer_and_k(tmp_path, capsys):
    f = tmp_path / "rank1.npz"
    save_npz(rank_problem(1, n_tasks=60, seed=3), f)
    run = tmp_path / "o"
    assert main(["train", "--data", str(f), "--problem", "rank1", "--model", "oracle", *TINY,
                 "--out", str(run), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["problem"] == "rank1"
    assert json.loads((run / "config.json").read_text())["k"] == 3
    assert main(["train", "--data", str(f), "--problem", "rank1", *TINY,
                 "--out", str(tmp_path / "m")]) == 0  # msr-fc, no --k
    capsys.readouterr()
    assert main(["compare", str(run), "--json", "--tasks", "5"]) == 0
    assert json.loads(capsys.readouterr().out)["subspace_distance"] < 1e-6
    # without --problem: today's behaviour, the file alone (k required, no answer)
    assert main(["train", "--data", str(f), *TINY, "--out", str(tmp_path / "d")]) == 2
    assert "--k" in _err(capsys)
    assert main(["train", "--data", str(f), "--k", "3", *TINY, "--json",
                 "--out", str(tmp_path / "d")]) == 0
    assert json.loads(capsys.readouterr().out)["problem"] == f"data:{f}"


def test_rank2_data_answer_is_the_span_of_the_generating_weights(tmp_path, capsys):
    f = tmp_path / "r2.npz"
    save_npz(rank_problem(2, n_tasks=60, seed=1), f)
    run = tmp_path / "r2"
    assert main(["train", "--data", str(f), "--problem", "rank2", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["compare", str(run), "--json", "--tasks", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["answer_kind"] == "subspace" and out["answer_dimension"] == 6
    # a file without generating weights has no rank2 answer: one line
    with np.load(f) as z:
        np.savez(tmp_path / "now.npz", x=z["x"], y=z["y"])
    assert main(["train", "--data", str(tmp_path / "now.npz"), "--problem", "rank2", *TINY,
                 "--out", str(tmp_path / "x")]) == 2
    assert "generating weights" in _err(capsys)


# ----- flags that do not apply ------------------------------------------------------------------
@pytest.mark.parametrize("argv, flag", [
    (["--group", "cyclic:4"], "--group"),
    (["--image-size", "8"], "--image-size"),
    (["--problem", "c4", "--group", "cyclic:4"], "--group"),
    (["--problem", "c4", "--data", "x.npz"], "--data"),
    (["--problem", "equivariant", "--group", "cyclic:4", "--in", "natural"], "--out-action"),
    (["--problem", "rank1", "--model", "msr-conv"], "--model msr-conv"),
])
def test_inapplicable_flags_name_the_flag(tmp_path, capsys, argv, flag):
    out = tmp_path / "r"
    assert main(["train", *TINY, *argv, "--out", str(out)]) == 2
    assert flag in _err(capsys) and not out.exists()


def test_resume_refuses_flags_of_another_problem(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--fields", "2", "--steps", "20"]) == 2
    assert "--fields" in _err(capsys)


# ----- the run folder: digest, damage, overwrite, locks ------------------------------------------
def test_an_edited_config_is_refused_by_resume_compare_and_discover(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    cfg_path = run / "config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["data_seed"] = 7
    cfg_path.write_text(json.dumps(cfg))
    capsys.readouterr()
    for argv in (["train", "--resume", str(run), "--steps", "20"], ["compare", str(run)],
                 ["discover", str(run)]):
        assert main(argv) == 2
        assert "edited" in _err(capsys)


def test_metrics_damaged_before_the_checkpoint_refuse_resume(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--checkpoint-every", "10", "--out", str(run)]) == 0
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:10]  # a row the checkpoint covers, cut mid-line
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "20"]) == 2
    assert "metrics.jsonl: line 2 is not a metrics row" in _err(capsys)
    # a torn LAST line (what a crash leaves after the checkpoint's rows) is dropped
    lines = [json.dumps(r) for r in [json.loads(x) for x in (lines[0], lines[2])]]
    (run / "metrics.jsonl").write_text("\n".join(lines + ['{"step": 1']) + "\n")


def test_overwrite_refuses_what_metasym_did_not_create(tmp_path, capsys, monkeypatch):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("precious")
    assert main(["train", *TINY, "--out", str(mine), "--overwrite"]) == 2
    assert "not created by metasym" in _err(capsys)
    assert (mine / "thesis.tex").read_text() == "precious"
    # the working directory and its parents, never
    monkeypatch.chdir(mine)
    for target in (".", "..", str(tmp_path)):
        assert main(["train", *TINY, "--out", target, "--overwrite"]) == 2
        assert "working directory" in _err(capsys)
    assert (mine / "thesis.tex").is_file()
    # never through a link
    link = tmp_path / "link"
    link.symlink_to(mine, target_is_directory=True)
    assert main(["train", *TINY, "--out", str(link), "--overwrite"]) == 2
    assert "symbolic link" in _err(capsys)
    assert (mine / "thesis.tex").is_file()


def test_overwrite_keeps_the_old_run_until_the_new_one_is_complete(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    old = (run / "final.json").read_text()
    cfg = RunConfig(steps=10, n_tasks=120, eval_every=5, eval_tasks=10, seed=9)

    def crash(row):
        raise RuntimeError("the new run fails before its first checkpoint")

    with pytest.raises(RuntimeError):
        fit(cfg, run, overwrite=True, progress=False, on_eval=crash)
    assert (run / "final.json").read_text() == old  # restored
    assert [p.name for p in tmp_path.iterdir()] == ["r"]  # nothing left aside
    fit(cfg, run, overwrite=True, progress=False)
    assert (run / "final.json").read_text() != old
    assert [p.name for p in tmp_path.iterdir()] == ["r"]


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(tmp_path, capsys):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    lock = lock_folder(run)  # as a training process holds it
    try:
        capsys.readouterr()
        assert main(["train", *TINY, "--out", str(run), "--overwrite"]) == 2
        assert "another metasym process" in _err(capsys)
        assert main(["train", "--resume", str(run), "--steps", "20"]) == 2
        assert "another metasym process" in _err(capsys)
        with pytest.raises(MetasymError):
            lock_folder(run)
    finally:
        lock.release()
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 0


def test_compare_refuses_a_checkpoint_holding_nan(tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    run = tmp_path / "r"
    assert main(["train", *TINY, "--out", str(run)]) == 0
    ck = run / "checkpoint.safetensors"
    from metasym.learning.engine.checkpoint import read_checkpoint

    _, meta = read_checkpoint(ck)
    tensors = load_file(str(ck))
    tensors["model.U"] = torch.full_like(tensors["model.U"], float("nan"))
    save_file(tensors, str(ck), metadata=meta)
    capsys.readouterr()
    for argv in (["compare", str(run)], ["discover", str(run)], ["compare", str(run),
                                                                 "--tasks", "0"]):
        assert main(argv) == 2
        _err(capsys)


def test_load_run_rebuilds_an_image_run_without_its_tasks(tmp_path):
    run = tmp_path / "img"
    assert main(["train", "--problem", "d4", "--image-size", "6", "--fields", "1", *TINY,
                 "--out", str(run)]) == 0
    loaded = load_run(run, load_tasks=False)
    assert loaded.source is None and loaded.record.finished
    assert loaded.config.options.fields == 1


# ----- files ----------------------------------------------------------------------------------
def test_atomic_writes_honour_the_umask_and_replace_links(tmp_path):
    from metasym.files import atomic_write_text

    target = tmp_path / "target.txt"
    target.write_text("keep")
    link = tmp_path / "out.txt"
    link.symlink_to(target)
    old = os.umask(0o022)
    try:
        atomic_write_text(link, "new")
    finally:
        os.umask(old)
    assert target.read_text() == "keep" and not link.is_symlink()
    assert link.read_text() == "new"
    assert stat.S_IMODE(link.stat().st_mode) == 0o644
    with pytest.raises(MetasymError, match="directory"):
        atomic_write_text(tmp_path, "x")
    with pytest.raises(MetasymError, match="does not exist"):
        atomic_write_text(tmp_path / "no" / "f.txt", "x")


def test_public_api_is_what_the_docs_say():
    import metasym.learning.engine as engine

    for name in ("RunConfig", "fit", "Problem", "register_problem", "TaskSource",
                 "ArrayTaskSource", "Learner", "load_run", "compare_run", "learned_sharing"):
        assert name in engine.__all__ and hasattr(engine, name)
    src = textwrap.dedent(engine.__doc__ or "")
    assert "fit" in src and "Problem" in src
