"""A run folder that cannot lie (issue 17): metrics.jsonl must be exactly the rows the run
wrote up to its checkpoint, the checkpoint is bound to its run by the config digest and a
consistent step, config.json must carry its digest, torchrun ranks must agree, and an old
run left aside by a killed --overwrite is named by every command that meets it."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from metasym.cli import main
from metasym.errors import MetasymError
from metasym.learning.engine.checkpoint import CHECKPOINT, read_checkpoint
from metasym.learning.engine.distributed import disagreement
from metasym.learning.engine.runfolder import eval_steps, lock_folder, read_history

TINY = ["--tasks", "120", "--eval-every", "4", "--eval-tasks", "10", "--quiet",
        "--threads", "1", "--checkpoint-every", "3"]


def _err(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def _snapshot(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``a``: 10 steps (rows 0, 4, 8, 10: the last is off the every-4 schedule), then
    extended to 14 (rows 12, 14); ``a10``: a copy of it at 10 steps; ``b``: ``a10``'s
    settings with another seed."""
    root = tmp_path_factory.mktemp("binding")
    a, b = root / "a", root / "b"
    assert main(["train", *TINY, "--steps", "10", "--out", str(a)]) == 0
    shutil.copytree(a, root / "a10")
    assert main(["train", "--resume", str(a), "--steps", "14", "--quiet"]) == 0
    assert main(["train", *TINY, "--steps", "10", "--seed", "5", "--out", str(b)]) == 0
    return root


def _copy(runs: Path, tmp_path: Path, name: str = "a") -> Path:
    run = tmp_path / "r"
    shutil.copytree(runs / name, run)
    return run


def _refused_everywhere(capsys, run: Path, words: list[str], commands=None) -> None:
    """``train --resume``, ``compare`` and ``discover`` refuse ``run`` in one line holding
    ``words``, with exit status 2, changing nothing."""
    before = _snapshot(run)
    capsys.readouterr()
    for argv in commands or (["train", "--resume", str(run), "--steps", "30", "--quiet"],
                             ["compare", str(run), "--tasks", "5"], ["discover", str(run)]):
        assert main(argv) == 2, argv
        err = _err(capsys)
        for w in words:
            assert w in err, (argv, err)
    assert _snapshot(run) == before


def test_the_metrics_of_an_extended_run_are_its_evaluation_schedule(runs):
    rows = [json.loads(x) for x in (runs / "a" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [0, 4, 8, 10, 12, 14]
    assert eval_steps(14, 4, [10, 14]) == [0, 4, 8, 10, 12, 14]
    assert eval_steps(9, 4, [10]) == [0, 4, 8]  # a checkpoint covers only its own rows
    assert [r["step"] for r in read_history(runs / "a", 14, 4, [10, 14])] == [
        0, 4, 8, 10, 12, 14]
    with pytest.raises(MetasymError, match="line 4: step 10 is not one of the run's"):
        read_history(runs / "a", 14, 4, [14])  # without its record of the extension
    _, meta = read_checkpoint(runs / "a" / CHECKPOINT)
    assert json.loads(meta["evals"]) == [10, 14] and meta["step"] == "14"
    assert meta["digest"] == json.loads((runs / "a" / "config.json").read_text())["digest"]


def _lines(run: Path) -> list[str]:
    return (run / "metrics.jsonl").read_text().splitlines(keepends=True)


@pytest.mark.parametrize("damage, words", [
    ("first row deleted", ["line 1: step 4", "row for step 0 is missing"]),
    ("emptied", ["holds no rows", "missing: steps 0, 4, 8, 10, 12, 14"]),
    ("deleted", ["missing, but the checkpoint at step 14"]),
    ("every row duplicated", ["line 2: step 0 again"]),
    ("cut at a line boundary", ["ends after line 4 (step 10)", "missing: steps 12, 14"]),
    ("off-schedule row deleted", ["line 4: step 12", "row for step 10 is missing"]),
    ("a row moved off the schedule", ["line 2: step 5 is not one of the run's evaluation"]),
    ("a row swapped", ["line 2: step 8", "row for step 4 is missing"]),
    ("a damaged line among the rows", ["line 3 is not a metrics row"]),
    ("rows after the last one repeated", ["line 7: step 12 again"]),
    ("torn line followed by rows", ["line 7 is not a metrics row", "rows follow it"]),
])
def test_metrics_that_are_not_what_the_run_wrote_are_refused(runs, tmp_path, capsys, damage,
                                                            words):
    run = _copy(runs, tmp_path)
    lines = _lines(run)
    path = run / "metrics.jsonl"
    if damage == "deleted":
        path.unlink()
    else:
        new = {
            "first row deleted": lines[1:],
            "emptied": [],
            "every row duplicated": [x for line in lines for x in (line, line)],
            "cut at a line boundary": lines[:4],
            "off-schedule row deleted": lines[:3] + lines[4:],
            "a row moved off the schedule": [lines[0], lines[1].replace('"step": 4', '"step": 5'),
                                             *lines[2:]],
            "a row swapped": [lines[0], lines[2], lines[1], *lines[3:]],
            "a damaged line among the rows": lines[:2] + [lines[2][:15] + "\n"] + lines[3:],
            "rows after the last one repeated": lines + [lines[4]],
            "torn line followed by rows": lines + ['{"step": 15, "te\n', lines[5]],
        }[damage]
        path.write_text("".join(new))
    _refused_everywhere(capsys, run, [str(path), *words])


def test_rows_after_the_checkpoint_and_a_torn_last_line_are_dropped_on_resume(runs, tmp_path):
    run = _copy(runs, tmp_path, "a10")  # checkpoint at 10 (rows 0, 4, 8, 10)
    later = json.loads(_lines(run)[-1]) | {"step": 12}
    with open(run / "metrics.jsonl", "a") as f:  # what a crash after the checkpoint leaves
        f.write(json.dumps(later) + "\n" + '{"step": 16, "test_')
    assert main(["train", "--resume", str(run), "--steps", "14", "--quiet"]) == 0
    rows = [json.loads(x) for x in _lines(run)]
    ref = [json.loads(x) for x in _lines(runs / "a")]
    for r in rows + ref:
        r.pop("seconds")
    assert rows == ref  # bitwise the run extended without the crash


# ----- the checkpoint bound to its run ---------------------------------------------------------
def _rewrite_checkpoint(run: Path, **meta_changes) -> None:
    from safetensors.torch import save_file

    tensors, meta = read_checkpoint(run / CHECKPOINT)
    for k, v in meta_changes.items():
        if v is None:
            meta.pop(k, None)
        else:
            meta[k] = v
    save_file(tensors, str(run / CHECKPOINT), metadata=meta)


def test_another_runs_checkpoint_is_refused_naming_the_field(runs, tmp_path, capsys):
    run = _copy(runs, tmp_path, "a10")
    shutil.copy(runs / "b" / CHECKPOINT, run / CHECKPOINT)  # another seed, same step
    _refused_everywhere(capsys, run, ["belongs to another run", "seed 5 (config.json: 0)"])


@pytest.mark.parametrize("changes, words", [
    ({"step": "-5"}, ["step -5 is outside the run's 0..14 steps"]),
    ({"step": "15"}, ["step 15 is outside the run's 0..14 steps"]),
    ({"step": "12"}, ["at step 12, but final.json says the run finished at step 14"]),
    ({"step": "lots"}, ["corrupt checkpoint metadata"]),
    ({"evals": "[4]"}, ["corrupt checkpoint metadata", "off the schedule"]),
    ({"digest": None}, ["carries no run digest", "metasym train --out NEW"]),
    ({"digest": "0123456789abcdef"}, ["belongs to another run"]),
])
def test_checkpoint_metadata_inconsistent_with_the_run_is_refused(runs, tmp_path, capsys,
                                                                  changes, words):
    run = _copy(runs, tmp_path)
    _rewrite_checkpoint(run, **changes)
    _refused_everywhere(capsys, run, [str(run / CHECKPOINT), *words])


def test_an_earlier_checkpoint_of_the_same_run_disagrees_with_final_json(runs, tmp_path,
                                                                         capsys):
    run = _copy(runs, tmp_path)
    shutil.copy(runs / "a10" / CHECKPOINT, run / CHECKPOINT)  # step 10; final.json says 14
    _refused_everywhere(capsys, run, ["at step 10, but final.json says", "step 14"])
    (run / "final.json").unlink()  # unfinished at 10: its rows are 0..10, later ones dropped
    assert main(["train", "--resume", str(run), "--steps", "14", "--quiet"]) == 0


def test_a_checkpoint_at_a_negative_step_rewrites_nothing(runs, tmp_path, capsys):
    run = _copy(runs, tmp_path, "a10")
    (run / "final.json").unlink()
    _rewrite_checkpoint(run, step="-5")
    _refused_everywhere(capsys, run, ["step -5 is outside"],
                        [["train", "--resume", str(run), "--steps", "25", "--quiet"]])


def test_a_config_without_its_digest_is_an_error(runs, tmp_path, capsys):
    run = _copy(runs, tmp_path)
    cfg = json.loads((run / "config.json").read_text())
    del cfg["digest"]
    cfg["seed"] = 7  # an edit the digest would have caught
    (run / "config.json").write_text(json.dumps(cfg))
    _refused_everywhere(capsys, run, ["config.json: no digest", "before run folders carried"])


# ----- an old run left aside by a killed --overwrite -------------------------------------------
def test_an_old_run_left_aside_is_named_by_every_command(runs, tmp_path, capsys):
    run = _copy(runs, tmp_path)
    aside = tmp_path / ".r.replaced-0badc0de"
    shutil.copytree(runs / "a10", aside)  # what a kill after the move leaves
    capsys.readouterr()
    commands = [["train", *TINY, "--steps", "4", "--out", str(run), "--overwrite"],
                ["train", "--resume", str(run), "--steps", "30", "--quiet"],
                ["compare", str(run), "--tasks", "5"], ["discover", str(run)]]
    before = _snapshot(run)
    for argv in commands:
        assert main(argv) == 2, argv
        err = _err(capsys)
        assert str(aside) in err and f"mv {aside} {run}" in err, (argv, err)
    assert _snapshot(run) == before and aside.is_dir()
    # killed before the new folder was made: a new run of that name is refused too
    shutil.rmtree(run)
    assert main(["train", *TINY, "--steps", "4", "--out", str(run)]) == 2
    assert "interrupted" in _err(capsys) and not run.exists()
    os.replace(aside, run)  # the restore the message gives
    assert main(["compare", str(run), "--tasks", "5"]) == 0


def test_a_run_being_replaced_says_to_wait(runs, tmp_path, capsys):
    run = _copy(runs, tmp_path)
    shutil.copytree(runs / "a10", tmp_path / ".r.replaced-12345678")
    lock = lock_folder(run)  # as the --overwrite under way holds it
    try:
        capsys.readouterr()
        assert main(["compare", str(run), "--tasks", "5"]) == 2
        assert "being replaced by another metasym process" in _err(capsys)
    finally:
        lock.release()


# ----- torchrun ranks must agree ---------------------------------------------------------------
def test_disagreement_names_each_differing_flag():
    msg = disagreement([{"seed": 0, "k": 3, "steps": 10}, {"seed": 7, "k": 3, "steps": 10},
                        {"seed": 0, "k": 3, "steps": 12}])
    assert "--seed (0 on ranks 0,2; 7 on rank 1)" in msg
    assert "--steps (10 on ranks 0,1; 12 on rank 2)" in msg and "--k" not in msg
    assert "3 torchrun processes disagree" in msg and "\n" not in msg


AGREE = """
import sys, torch.distributed as dist
from metasym.errors import MetasymError
from metasym.learning.engine.distributed import World
rank, store = int(sys.argv[1]), sys.argv[2]
dist.init_process_group("gloo", init_method="file://" + store, rank=rank, world_size=2)
world = World(rank, 2)
for fields in ({"seed": 0, "k": 3}, {"seed": 0, "k": 3 + rank}, {"seed": 7 * rank, "k": 3}):
    try:
        world.agree(fields)
        print("agree")
    except MetasymError as e:
        print(e)
dist.destroy_process_group()
"""


def _clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")}
    return env | {"OMP_NUM_THREADS": "1",
                  "GLOO_SOCKET_IFNAME": env.get("GLOO_SOCKET_IFNAME", "lo")}


def test_two_gloo_ranks_agree_or_name_the_field(tmp_path):
    script = tmp_path / "agree.py"
    script.write_text(AGREE)
    procs = [subprocess.Popen([sys.executable, str(script), str(r), str(tmp_path / "store")],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=_clean_env()) for r in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outs]
    for out, _ in outs:  # both ranks reach the same verdicts
        lines = out.splitlines()
        assert lines[0] == "agree", lines
        assert "disagree on --k (3 on rank 0; 4 on rank 1)" in lines[1], lines
        assert "disagree on --seed (0 on rank 0; 7 on rank 1)" in lines[2], lines
    assert outs[0][0] == outs[1][0]


RANKS = """
import os, sys
from metasym.cli import main
extra = sys.argv[2:] if os.environ["RANK"] == "1" else []
sys.exit(main(["train", "--tasks", "120", "--steps", "10", "--eval-every", "5",
               "--eval-tasks", "10", "--tasks-per-step", "4", "--quiet", "--threads", "1",
               "--out", sys.argv[1], *extra]))
"""


def test_torchrun_ranks_with_different_flags_refuse_in_one_line(tmp_path):
    """Rank 1 started with another --seed, --steps and --k: one line on each rank naming
    them, no run folder, no hang, no gloo traceback."""
    script = tmp_path / "ranks.py"
    script.write_text(RANKS)
    out = tmp_path / "run"
    res = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node",
                          "2", "--standalone", "--monitor_interval", "0.2", str(script),
                          str(out), "--seed", "7", "--steps", "30", "--k", "2"],
                         capture_output=True, text=True, timeout=120, env=_clean_env())
    assert res.returncode != 0
    # both ranks write to one stderr at the same moment: their lines may run together
    mine = re.findall(r"metasym: error: .*?launch again", res.stderr)
    assert len(mine) == 2 and mine[0] == mine[1], res.stderr[-3000:]
    for flag in ("--seed (0 on rank 0; 7 on rank 1)", "--steps (10 on rank 0; 30 on rank 1)",
                 "--k (null on rank 0; 2 on rank 1)"):
        assert flag in mine[0], mine[0]
    assert "gloo" not in res.stderr.lower() and not out.exists()


def test_read_history_is_the_one_reader_for_resume(runs):
    """The non-writing ranks of a resumed torchrun read the history the same way."""
    with pytest.raises(MetasymError, match="missing, but the checkpoint"):
        read_history(runs / "nope", 0, 4)
    assert [r["step"] for r in read_history(runs / "a10", 10, 4, [10])] == [0, 4, 8, 10]


# ----- run folders whose names are not valid UTF-8 (issue 17) ---------------------------------
def test_run_folder_name_not_utf8(runs, tmp_path, capsys):
    """A folder named b'run\\xff' (not valid UTF-8: Python sees it as 'run\\udcff') is
    read like any other: compare, discover and --resume work (compare used to call its
    checkpoint truncated: safetensors takes names as UTF-8); an error about it names it
    with the byte shown as \\xff, one line."""
    from metasym.learning.engine.checkpoint import read_checkpoint

    name = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), b"run\xff"))
    shutil.copytree(runs / "a10", name)
    tensors, meta = read_checkpoint(os.path.join(name, CHECKPOINT))
    assert meta["step"] == "10" and tensors
    capsys.readouterr()
    assert main(["compare", name, "--tasks", "5"]) == 0
    out, err = capsys.readouterr()
    assert "truncated" not in out + err and err == ""
    assert main(["discover", name]) == 0
    assert capsys.readouterr().err == ""
    assert main(["train", "--resume", name, "--steps", "12", "--quiet"]) == 0
    assert json.loads(Path(name, "final.json").read_text())["steps"] == 12
    capsys.readouterr()
    os.remove(os.path.join(name, "metrics.jsonl"))
    assert main(["compare", name, "--tasks", "5"]) == 2
    err = _err(capsys)
    assert "run\\xff" in err and "\\udc" not in err
    # a name that is not UTF-8 in a subprocess whose streams are strict UTF-8: no
    # UnicodeEncodeError, the same one line
    env = {**os.environ, "PYTHONIOENCODING": "utf-8", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "metasym", "compare", os.fsencode(name),
                           "--tasks", "5"], capture_output=True, env=env, timeout=300)
    assert proc.returncode == 2 and b"Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.count(b"\n") == 1 and b"run\\xff" in proc.stderr
