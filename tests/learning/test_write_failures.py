"""A full disk or a file-size limit while ``train`` writes (issue 17): one line naming the
file that could not be written and saying what is intact; the run stays resumable, and an
``--overwrite`` puts the old run back."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from metasym.cli import main
from metasym.learning.engine.runfolder import RunFolder, checkpoint_step

TINY = ["--tasks", "200", "--eval-every", "5", "--eval-tasks", "20", "--quiet",
        "--threads", "1", "--checkpoint-every", "5"]

#: Above ``answer.npz`` and a step-0 checkpoint of the tiny rank1 run, below a checkpoint
#: that holds Adam's state (checked in the test).
LIMIT = 150_000


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.iterdir()) if p.is_file() and p.name != ".metasym-lock"}


def _limited(tmp_path: Path, *commands: list[str]) -> list[tuple[int, str]]:
    """Run ``main(argv)`` for each command in one subprocess whose files may not grow past
    LIMIT bytes (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail with EFBIG)."""
    script = textwrap.dedent(f"""
        import io, json, resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({LIMIT}, {LIMIT}))
        from metasym.cli import main
        out = []
        for argv in json.loads(sys.argv[1]):
            err, sys.stderr = sys.stderr, io.StringIO()
            try:
                code = main(argv)
            finally:
                text, sys.stderr = sys.stderr.getvalue(), err
            out.append([code, text])
        print(json.dumps(out))
    """)
    import json

    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-c", script, json.dumps(commands)], cwd=tmp_path,
                          capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return [tuple(r) for r in json.loads(proc.stdout.strip().splitlines()[-1])]


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "win32", reason="POSIX only")
def test_file_size_limit_during_train_resume_and_overwrite(tmp_path):
    run = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "10", "--out", str(run)]) == 0
    assert (run / "checkpoint.safetensors").stat().st_size > LIMIT > (run / "answer.npz").stat().st_size
    before = _digests(run)
    results = _limited(tmp_path, ["train", "--resume", "r", "--steps", "20", "--quiet"],
                       ["train", *TINY, "--steps", "10", "--out", "r", "--overwrite"],
                       ["train", *TINY, "--steps", "10", "--out", "new"])
    for code, err in results:
        assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
        assert "checkpoint.safetensors: could not be written (file too large)" in err, err
    resume_err, overwrite_err, new_err = (err for _, err in results)
    assert "r is intact: its checkpoint at step 10 is complete" in resume_err
    assert "`metasym train --resume r`" in resume_err
    assert "r is intact: the run it held before --overwrite was put back" in overwrite_err
    # the checkpoint and answer are byte for byte the old ones; no temporary files left
    after = _digests(run)
    for name in ("checkpoint.safetensors", "answer.npz"):
        assert after[name] == before[name]
    assert not [p for p in run.iterdir() if p.name.endswith(".tmp")]
    assert not [p for p in tmp_path.iterdir() if ".replaced-" in p.name]
    # a new run keeps its step-0 checkpoint (small: no optimiser state yet) and says so
    assert "new is intact: its checkpoint at step 0 is complete" in new_err
    assert checkpoint_step(tmp_path / "new") == 0
    # with space again, the interrupted resume continues
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 0
    assert checkpoint_step(run) == 20 and (run / "final.json").is_file()


def test_disk_full_in_the_middle_of_a_run_is_one_line_and_resumable(tmp_path, capsys,
                                                                      monkeypatch):
    real = RunFolder.open_metrics

    class FillingDisk:
        """metrics.jsonl on a disk that is full once the row of step 15 comes."""

        def __init__(self, f):
            self._f = f

        def write(self, text):
            if '"step": 15' in text:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self._f.write(text)

        def __getattr__(self, name):
            return getattr(self._f, name)

    def open_on_a_filling_disk(self, append):
        self.metrics_file = FillingDisk(real(self, append))
        return self.metrics_file

    monkeypatch.setattr(RunFolder, "open_metrics", open_on_a_filling_disk)
    run = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "20", "--out", str(run)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "metrics.jsonl: could not be written (no space left on device)" in err
    assert "is intact: its checkpoint at step 10 is complete" in err
    monkeypatch.setattr(RunFolder, "open_metrics", real)
    assert main(["train", "--resume", str(run), "--quiet"]) == 0
    rows = [line for line in (run / "metrics.jsonl").read_text().splitlines() if line]
    assert [__import__("json").loads(r)["step"] for r in rows] == [0, 5, 10, 15, 20]


def _all_bytes(folder: Path) -> dict[str, bytes]:
    """Every file of the folder (hidden ones too, the lock excepted), by content."""
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())
            if p.is_file() and p.name != ".metasym-lock"}


@pytest.mark.skipif(not hasattr(os, "mkfifo") or sys.platform == "win32", reason="POSIX only")
@pytest.mark.parametrize("finished", [True, False])
def test_failed_resume_leaves_the_folder_byte_for_byte(tmp_path, finished):
    """Issue 17: a resume that could not write (RLIMIT_FSIZE) had already rewritten
    config.json (the new --steps) and removed final.json. A resume is now staged: its
    files go to hidden `.NAME.resume` names and replace the run's only once its first
    checkpoint is complete, so after the failure every file -- config.json, final.json,
    metrics.jsonl, the checkpoint -- is byte for byte what it was, and nothing is left
    beside them. The same resume with space continues normally."""
    run = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "10", "--out", str(run)]) == 0
    if not finished:  # an interrupted run: no final.json, a torn last metrics line
        (run / "final.json").unlink()
        with open(run / "metrics.jsonl", "a") as f:
            f.write('{"step": 1')
    before = _all_bytes(run)
    assert ("final.json" in before) is finished
    (code, err), = _limited(tmp_path, ["train", "--resume", "r", "--steps", "20", "--quiet"])
    assert code == 2 and err.count("\n") == 1 and "could not be written" in err, err
    assert "r/checkpoint.safetensors: could not be written (file too large)" in err, err
    assert "r is intact: its checkpoint at step 10 is complete" in err
    assert _all_bytes(run) == before  # config.json, final.json, metrics.jsonl, checkpoint
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 0
    after = _all_bytes(run)
    assert set(after) == set(before) | {"final.json"}  # no staging file left
    assert [__import__("json").loads(r)["step"] for r in
            after["metrics.jsonl"].decode().splitlines()] == [0, 5, 10, 15, 20]
    assert __import__("json").loads(after["config.json"])["steps"] == 20


def test_resume_killed_before_its_commit_is_invisible(tmp_path, capsys, monkeypatch):
    """A resume that dies between its staged writes and its first checkpoint (here: a
    non-finite loss at its first step) changes nothing; the staging files are removed,
    and a later resume ignores any that a SIGKILL would have left."""
    from metasym.learning.engine import checkpoint as ck

    run = tmp_path / "r"
    assert main(["train", *TINY, "--steps", "10", "--out", str(run)]) == 0
    before = _all_bytes(run)
    monkeypatch.setattr(ck, "all_finite", lambda *a: False)
    capsys.readouterr()
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 2
    assert "non-finite" in capsys.readouterr().err
    assert _all_bytes(run) == before
    monkeypatch.undo()
    (run / ".metrics.jsonl.resume").write_text('{"step": 999}\n')  # a SIGKILL's leftover
    (run / ".config.json.resume").write_text("{}")
    assert main(["train", "--resume", str(run), "--steps", "20", "--quiet"]) == 0
    assert not [p.name for p in run.iterdir() if p.name.endswith(".resume")]
    assert [__import__("json").loads(r)["step"] for r in
            (run / "metrics.jsonl").read_text().splitlines()] == [0, 5, 10, 15, 20]
