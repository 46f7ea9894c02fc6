"""Seeded hostile tries of every class of issue 17, with their outcomes counted.

Each try is one hostile or careless input (a stream as a file, a malformed environment
variable, a link loop, a name too long, nested JSON, a decompression bomb, an object
array, a tampered run folder -- metrics cut, rows duplicated or swapped, a foreign
checkpoint, the digest removed, the step edited, a hidden replaced folder --, a folder
name that is not UTF-8, ranks that disagree, sizes far too large, a structureless layer
for ``discover``, a resume that cannot finish) and is classified as:

* **good**: a correct result, or one ``MetasymError`` line / exit status 2 with one stderr
  line, and nothing of the user's changed (run folders compared byte for byte);
* **data loss**: a refused command changed the run folder;
* **silent wrong**: exit 0 (or a result) where the input must have been refused;
* **traceback**: any other exception, or more than one stderr line;
* **blow-up**: past the alarm (``HANG_SECONDS``) or a ``MemoryError``.

The counts per class and in total are printed in pytest's terminal summary (the hook is
in ``tests/conftest.py``), whenever this module ran; every class must end with only good
outcomes (the last test checks it). ``FUZZ17_TRIES=N`` multiplies the random tries per
class (default 1: about 200 tries, a quarter of a minute on 2 cores); the ``slow`` test
runs the random classes again with 4x.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import struct
import zlib
from collections import Counter, defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from metasym.cli import main
from metasym.errors import MetasymError

#: outcome counts per class: COUNTS[cls][outcome]
COUNTS: dict[str, Counter] = defaultdict(Counter)
OUTCOMES = ("good", "data loss", "silent wrong", "traceback", "blow-up")
HANG_SECONDS = 60
SCALE = max(1, int(os.environ.get("FUZZ17_TRIES", "1") or 1))
TINY = ["--tasks", "120", "--eval-every", "4", "--eval-tasks", "10", "--quiet",
        "--threads", "1", "--checkpoint-every", "3"]


class _Hung(BaseException):
    """The alarm fired (a BaseException: no handler in metasym can swallow it)."""


@contextmanager
def _alarm(seconds: float = HANG_SECONDS):
    def expired(signum, frame):
        raise _Hung()

    prev = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, prev)


def summary_lines() -> list[str]:
    """The counts, one line per class and a total (also used by conftest's summary)."""
    if not COUNTS:
        return []
    total: Counter = Counter()
    lines = ["issue-17 fuzz (class: tries; good / data loss / silent wrong / tracebacks / "
             "blow-ups):"]
    for cls in sorted(COUNTS):
        c = COUNTS[cls]
        total.update(c)
        lines.append(f"  {cls}: {sum(c.values())}; " + " / ".join(str(c[o]) for o in OUTCOMES))
    lines.append(f"  total: {sum(total.values())}; " + " / ".join(str(total[o]) for o in OUTCOMES))
    return lines


def _snapshot(folder: Path) -> dict[str, str]:
    if not folder.exists():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.name != ".metasym-lock"}


def cli(cls: str, capsys, argv: list[str], *, refuse: bool | None, watch: Path | None = None,
        words: tuple[str, ...] = ()) -> str:
    """Run ``metasym argv`` and record the outcome under ``cls``. ``refuse``: True (must
    be one line, exit 2), False (must succeed), None (either). ``watch``: a folder that a
    refusal must leave byte for byte as it was."""
    before = _snapshot(watch) if watch is not None else None
    capsys.readouterr()
    outcome, err = "good", ""
    try:
        with _alarm():
            code = main([a if isinstance(a, str) else str(a) for a in argv])
        err = capsys.readouterr().err
        if code not in (0, 1, 2) or (code == 2 and (err.count("\n") != 1 or "Traceback" in err)):
            outcome = "traceback"
        elif code == 0 and refuse is True:
            outcome = "silent wrong"
        elif code != 0 and refuse is False:
            outcome = "silent wrong"
        elif code == 2 and not all(w in err for w in words):
            outcome = "silent wrong"  # refused, but not for the reason the input has
        elif code == 2 and watch is not None and _snapshot(watch) != before:
            outcome = "data loss"
    except _Hung:
        outcome = "blow-up"
    except MemoryError:
        outcome = "blow-up"
    except SystemExit as e:  # argparse: usage errors are exit 2 with a usage line
        outcome = "good" if e.code == 2 and refuse is not False else "traceback"
    except BaseException:  # noqa: BLE001  (anything else reaching the user is a traceback)
        outcome = "traceback"
    COUNTS[cls][outcome] += 1
    assert outcome == "good", (cls, argv, outcome, err)
    return err


def call(cls: str, fn, *args, refuse: bool | None, **kwargs):
    """The library counterpart of :func:`cli`: a result, or one MetasymError line."""
    outcome, result = "good", None
    try:
        with _alarm():
            result = fn(*args, **kwargs)
        if refuse is True:
            outcome = "silent wrong"
    except _Hung:
        outcome = "blow-up"
    except MemoryError:
        outcome = "blow-up"
    except (MetasymError, TypeError, ValueError) as e:  # one line naming what is wrong
        if "\n" in str(e).strip():
            outcome = "traceback"
        elif refuse is False:
            outcome = "silent wrong"
    except BaseException:  # noqa: BLE001
        outcome = "traceback"
    COUNTS[cls][outcome] += 1
    assert outcome == "good", (cls, fn, outcome)
    return result


# ----- a finished tiny run, copied per try ----------------------------------------------------
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """``a``: rank1, 10 steps (metrics rows 0, 4, 8, 10); ``b``: the same with seed 5."""
    root = tmp_path_factory.mktemp("fuzz17")
    assert main(["train", *TINY, "--steps", "10", "--out", str(root / "a")]) == 0
    assert main(["train", *TINY, "--steps", "10", "--seed", "5", "--out", str(root / "b")]) == 0
    return root


def _copy(runs: Path, tmp: Path, name: str = "a", as_name: str = "r") -> Path:
    dst = tmp / as_name
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(runs / name, dst)
    return dst


def _rows(run: Path) -> list[str]:
    return (run / "metrics.jsonl").read_text().splitlines(keepends=True)


def _commands(run: Path) -> list[list]:
    return [["train", "--resume", run, "--steps", "14", "--quiet"],
            ["compare", run, "--tasks", "5"], ["discover", run]]


def _tamper_metrics(rng: random.Random, run: Path) -> str:
    """One damaging edit of metrics.jsonl (rows 0, 4, 8, 10, all covered by the
    checkpoint at step 10): every one of them must be refused."""
    rows = _rows(run)
    kind = rng.choice(["cut", "drop-first", "drop-middle", "dup-all", "dup-one", "swap",
                       "empty", "delete", "off-schedule", "garbage-line"])
    if kind == "cut":
        rows = rows[:rng.randrange(1, len(rows))]
    elif kind == "drop-first":
        rows = rows[1:]
    elif kind == "drop-middle":
        del rows[rng.randrange(1, len(rows) - 1)]
    elif kind == "dup-all":
        rows = [r for r in rows for _ in (0, 1)]
    elif kind == "dup-one":
        i = rng.randrange(len(rows) - 1)
        rows.insert(i, rows[i])
    elif kind == "swap":
        i = rng.randrange(len(rows) - 1)
        rows[i], rows[i + 1] = rows[i + 1], rows[i]
    elif kind == "empty":
        rows = []
    elif kind == "off-schedule":
        row = json.loads(rows[1])
        row["step"] = 5
        rows[1] = json.dumps(row) + "\n"
    elif kind == "garbage-line":
        rows[rng.randrange(len(rows) - 1)] = "{not json\n"
    if kind == "delete":
        (run / "metrics.jsonl").unlink()
    else:
        (run / "metrics.jsonl").write_text("".join(rows))
    return kind


def _tamper_checkpoint(rng: random.Random, run: Path, runs: Path) -> str:
    kind = rng.choice(["foreign", "step", "no-digest", "edited-config", "hidden-replaced"])
    if kind == "foreign":
        shutil.copy(runs / "b" / "checkpoint.safetensors", run / "checkpoint.safetensors")
    elif kind == "step":
        from safetensors.torch import load_file, save_file

        t = load_file(str(run / "checkpoint.safetensors"))
        from metasym.learning.engine.checkpoint import read_checkpoint

        _, meta = read_checkpoint(run / "checkpoint.safetensors")
        meta["step"] = str(rng.choice([-5, 3, 11, 9, 10**6]))
        save_file(t, str(run / "checkpoint.safetensors"), metadata=meta)
    elif kind in ("no-digest", "edited-config"):
        cfg = json.loads((run / "config.json").read_text())
        if kind == "no-digest":
            cfg.pop("digest")
        else:
            cfg[rng.choice(["seed", "data_seed", "inner_lr"])] = 7
        (run / "config.json").write_text(json.dumps(cfg))
    elif kind == "hidden-replaced":
        shutil.copytree(run, run.parent / f".{run.name}.replaced-0badc0de")
    return kind


# ----- the classes --------------------------------------------------------------------------
def test_run_folder_tampering(runs, tmp_path, capsys):
    rng = random.Random(17)
    for _ in range(10 * SCALE):
        run = _copy(runs, tmp_path)
        kind = _tamper_metrics(rng, run)
        for argv in _commands(run):
            cli("run folder: metrics.jsonl", capsys, argv, refuse=True, watch=run)
        assert kind
    for _ in range(10 * SCALE):
        run = _copy(runs, tmp_path)
        for p in tmp_path.glob(".r.replaced-*"):
            shutil.rmtree(p)
        _tamper_checkpoint(rng, run, runs)
        for argv in _commands(run):
            cli("run folder: checkpoint/config", capsys, argv, refuse=True, watch=run)
        for p in tmp_path.glob(".r.replaced-*"):
            shutil.rmtree(p)
    # harmless edits are accepted: a torn last line, rows after the checkpoint
    run = _copy(runs, tmp_path)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 11, "torn')
    cli("run folder: harmless", capsys, ["compare", run, "--tasks", "5"], refuse=False)
    cli("run folder: harmless", capsys, ["train", "--resume", run, "--steps", "12", "--quiet"],
        refuse=False)


def test_non_utf8_names(runs, tmp_path, capsys):
    for raw in (b"run\xff", b"\xfe\xfdrun", b"r\xc3(un"):
        name = os.fsdecode(os.path.join(os.fsencode(str(tmp_path)), raw))
        shutil.copytree(runs / "a", name)
        cli("non-UTF-8 names", capsys, ["compare", name, "--tasks", "5"], refuse=False)
        cli("non-UTF-8 names", capsys, ["discover", name], refuse=False)
        os.remove(os.path.join(name, "metrics.jsonl"))
        err = cli("non-UTF-8 names", capsys, ["compare", name, "--tasks", "5"], refuse=True,
                  watch=Path(name))
        assert "\\udc" not in err


def test_streams_and_file_system(tmp_path, capsys):
    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    (tmp_path / "dir.npz").mkdir()
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    streams = [fifo, tmp_path / "dir.npz"] + [Path(p) for p in ("/dev/zero", "/dev/urandom")
                                              if Path(p).exists()]
    for p in streams:
        for argv in (["train", "--data", p, "--steps", "2", "--quiet", "--out", tmp_path / "o"],
                     ["discover", "--U", p, "--shape", "3x3"], ["discover", "--pattern", p]):
            cli("streams as input", capsys, argv, refuse=True)
    for out in (tmp_path / "loop" / "run", tmp_path / ("x" * 300), tmp_path / "loop"):
        cli("link loops, long names", capsys,
            ["train", *TINY, "--steps", "2", "--out", out], refuse=True)
        cli("link loops, long names", capsys, ["compare", out], refuse=True)


def test_environment_variables(capsys, monkeypatch):
    rng = random.Random(5)
    bad = ["inf", "1e300", "soon", "0", "-5", "nan", "", " ", "9" * 400, "٣", "1e3", "+5",
           "0x10", "5s", "-0", "1_000"]
    for _ in range(SCALE):
        for var in ("METASYM_TIME_LIMIT", "METASYM_MEMORY_LIMIT"):
            for value in rng.sample(bad, min(len(bad), 8 * SCALE)):
                monkeypatch.setenv(var, value)
                cli("environment variables", capsys, ["group", "cyclic:3"], refuse=True,
                    words=(var,))
                monkeypatch.delenv(var)
    monkeypatch.setenv("METASYM_CACHE_DIR", "")
    cli("environment variables", capsys, ["group", "cyclic:3"], refuse=True,
        words=("METASYM_CACHE_DIR",))


def test_nested_json_and_bombs(tmp_path, capsys):
    for depth in (100, 5_000, 200_000):
        run = tmp_path / f"n{depth}"
        run.mkdir()
        (run / "config.json").write_text("[" * depth + "]" * depth)
        cli("nested JSON", capsys, ["compare", run], refuse=True, watch=run)
    from PIL import Image

    for w, h in ((200_000, 200_000), (10_000, 10_000), (7_000, 7_000)):
        root = tmp_path / f"omni{w}"
        for split, alphabet in (("images_background", "A"), ("images_evaluation", "B")):
            folder = root / split / alphabet / "character01"
            folder.mkdir(parents=True)
            Image.new("L", (12, 12), 255).save(folder / "01.png")
        bomb = root / "images_evaluation" / "B" / "character01" / "02.png"
        Image.new("L", (1, 1)).save(bomb)
        data = bytearray(bomb.read_bytes())
        data[16:24] = struct.pack(">II", w, h)
        data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
        bomb.write_bytes(bytes(data))
        from metasym.learning.data.loaders import load_omniglot

        call("decompression bombs", load_omniglot, root, size=8, refuse=True)


def test_object_arrays():
    from metasym.groups import cyclic, natural
    from metasym.representations import sharing_pattern

    P = sharing_pattern(natural(cyclic(4)), natural(cyclic(4)))
    for arr in (np.empty((4, 4), dtype=object), np.full((4, 4), "a"),
                np.ones((4, 4), dtype=complex), np.array([[1, 2], [3]], dtype=object)):
        for fn in (P.project, P.equivariance_error, P.is_equivariant):
            call("object arrays", fn, arr, refuse=True)


def test_rank_disagreement():
    from metasym.learning.engine.distributed import disagreement

    rng = random.Random(3)
    for _ in range(20 * SCALE):
        base = {"seed": 0, "steps": 20, "k": 4, "model": "msr-fc", "problem": "rank1"}
        ranks = [dict(base) for _ in range(rng.randrange(2, 6))]
        field = rng.choice(sorted(base))
        ranks[rng.randrange(len(ranks))][field] = rng.choice([7, 99, "maml", None])
        line = call("rank disagreement", disagreement, ranks, refuse=False)
        if not (line and "\n" not in line and field in line.replace("-", "_")):
            COUNTS["rank disagreement"]["good"] -= 1
            COUNTS["rank disagreement"]["silent wrong"] += 1
            raise AssertionError(f"{field} not named: {line!r}")


def test_sizes(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "cache"))
    rng = random.Random(11)
    flags = [("--image-size", 20_000), ("--image-size", 5_000), ("--ways", 100_000),
             ("--channels", 1_000_000), ("--queries", 10**7), ("--shots", 10**8),
             ("--blocks", 10**6)]
    for flag, value in rng.sample(flags, min(len(flags), 4 * SCALE)):
        cli("sizes (few-shot)", capsys, ["train", "--problem", "glyphs", "--steps", "1",
                                         "--threads", "1", "--quiet", "--out",
                                         tmp_path / "fs", flag, str(value)],
            refuse=True, words=(flag,))
        assert not (tmp_path / "fs").exists()
    monkeypatch.setenv("METASYM_TIME_LIMIT", "2")
    for group, a_in, a_out in (("alternating:6", "regular", "regular"),
                               ("symmetric:40", "tensor(natural,natural)",
                                "tensor(natural,natural)")):
        cli("sizes (generation)", capsys, ["train", "--problem", "equivariant", "--group", group,
                                           "--in", a_in, "--out-action", a_out, "--steps", "1",
                                           "--threads", "1", "--quiet", "--out",
                                           tmp_path / "eq"], refuse=True)


def test_discover_structureless(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("METASYM_TIME_LIMIT", "60")
    rng = np.random.default_rng(4)
    for _ in range(5 * SCALE):
        n = int(rng.integers(5, 31))
        k = int(rng.choice([n, n * n, 3]))
        f = tmp_path / "u.npz"
        np.savez(f, U=rng.standard_normal((n * n, k)), shape=np.array([n, n]))
        err = cli("discover structureless", capsys, ["discover", "--U", f, "--json"],
                  refuse=False)
        assert err == ""


def test_failed_resume_changes_nothing(runs, tmp_path, capsys, monkeypatch):
    from metasym.learning.engine import checkpoint as ck

    for _ in range(2 * SCALE):
        run = _copy(runs, tmp_path)
        monkeypatch.setattr(ck, "all_finite", lambda *a: False)
        cli("failed resume", capsys, ["train", "--resume", run, "--steps", "14", "--quiet"],
            refuse=True, watch=run)
        monkeypatch.undo()


@pytest.mark.slow
def test_larger_run(runs, tmp_path, capsys, monkeypatch):
    """The random classes again with 4x the tries (``pytest -m slow``)."""
    global SCALE
    old, SCALE = SCALE, SCALE * 4
    try:
        test_run_folder_tampering(runs, tmp_path, capsys)
        test_rank_disagreement()
        test_discover_structureless(tmp_path, capsys, monkeypatch)
    finally:
        SCALE = old


def test_every_class_was_tried_and_good():
    """Runs last in the module: every class ran, and every outcome was good."""
    for cls, c in COUNTS.items():
        assert set(c) <= {"good"}, (cls, dict(c))
    assert sum(sum(c.values()) for c in COUNTS.values()) >= 150
