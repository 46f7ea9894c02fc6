"""Pinned outputs of tiny training runs, recorded before the training loops were merged
into one engine (``tests/learning/data/pinned_runs.json``): the engine must reproduce the
metrics, final figures and config of every problem kind under the same seeds.

Regenerate (only when a change of numbers is intended, and say so in the commit)::

    python tests/learning/test_pinned_runs.py --write [NAME ...]
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from metasym.cli import main

PINS = Path(__file__).parent / "data" / "pinned_runs.json"

_TINY_GLYPHS = ["--glyph-alphabets", "1", "--glyph-characters", "6"]

#: (name, argv after `train --out DIR --quiet`): every problem kind, fast and generic paths
CASES = [
    ("rank1-msr", ["--problem", "rank1", "--steps", "20", "--tasks", "120", "--eval-every",
                   "10", "--eval-tasks", "16", "--checkpoint-every", "7"]),
    ("rank2-mamlconv", ["--problem", "rank2", "--model", "maml-conv", "--steps", "12",
                        "--tasks", "80", "--eval-every", "6", "--eval-tasks", "10"]),
    ("rank1-mamlfc-2inner", ["--problem", "rank1", "--model", "maml-fc", "--steps", "6",
                             "--tasks", "60", "--eval-every", "3", "--eval-tasks", "8",
                             "--inner-steps", "2", "--first-order"]),
    ("equivariant-d4", ["--problem", "equivariant", "--group", "dihedral:4", "--in",
                        "natural", "--out-action", "natural", "--steps", "15", "--tasks",
                        "100", "--eval-every", "5", "--eval-tasks", "12"]),
    ("equivariant-oracle", ["--problem", "equivariant", "--group", "cyclic:5", "--in",
                            "natural", "--out-action", "regular",
                            "--model", "oracle", "--steps", "8", "--tasks", "50",
                            "--eval-every", "4", "--eval-tasks", "10"]),
    ("c4-msrconv", ["--problem", "c4", "--model", "msr-conv", "--image-size", "8",
                    "--fields", "1", "--tasks", "40", "--steps", "10", "--eval-every", "5",
                    "--eval-tasks", "8"]),
    ("d4-oracle", ["--problem", "d4", "--model", "oracle", "--image-size", "7", "--fields",
                   "2", "--tasks", "30", "--steps", "6", "--eval-every", "3",
                   "--eval-tasks", "6"]),
    ("rot8-square", ["--problem", "rot8", "--model", "msr-conv-square", "--image-size", "9",
                     "--fields", "1", "--tasks", "30", "--steps", "6", "--eval-every", "3",
                     "--eval-tasks", "6", "--inner-steps", "2"]),
    # few-shot: a tiny glyph set (one alphabet of 6 characters, built in a private cache)
    ("glyphs-msr-rot90", ["--problem", "glyphs", "--model", "msr", "--augment", "rot90",
                          "--channels", "8", "--blocks", "2", "--ways", "3", "--queries", "2",
                          "--tasks-per-step", "2", "--steps", "4", "--test-episodes", "6",
                          "--eval-tasks", "4", "--eval-every", "2", *_TINY_GLYPHS]),
    ("glyphs-oracle-flip", ["--problem", "glyphs", "--model", "oracle", "--augment", "flip",
                            "--channels", "8", "--blocks", "2", "--ways", "2", "--queries",
                            "2", "--tasks-per-step", "2", "--steps", "3", "--test-episodes",
                            "4", "--eval-tasks", "4", "--eval-every", "3", *_TINY_GLYPHS]),
]

#: runs whose `metasym compare --json` output is pinned too
COMPARED = ("rank1-msr", "equivariant-d4", "c4-msrconv", "rot8-square", "glyphs-msr-rot90",
            "glyphs-oracle-flip")

#: keys whose values depend on the clock, the machine or the code version
_VOLATILE = {"seconds", "train_seconds", "tasks_per_second", "steps_per_second",
             "data_seconds", "torch", "threads", "run"}


def _strip(d):
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in _VOLATILE}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


def run_case(tmp: Path, name: str, argv: list[str]) -> dict:
    out = tmp / name
    rc = main(["train", "--out", str(out), "--quiet", *argv])
    assert rc == 0, name
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    final = json.loads((out / "final.json").read_text())
    config = json.loads((out / "config.json").read_text())
    answer = {}
    if (out / "answer.npz").is_file():
        with np.load(out / "answer.npz") as z:
            answer = {k: [list(z[k].shape), float(np.abs(z[k]).sum())
                          if z[k].dtype.kind in "fiu" else str(z[k])] for k in sorted(z.files)}
    res = {"metrics": _strip(rows), "final": _strip(final), "config": _strip(config),
           "answer": answer}
    if name in COMPARED:
        import contextlib
        import io

        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            assert main(["compare", str(out), "--json", "--tasks", "8"]) == 0
        res["compare"] = _strip(json.loads(buf.getvalue()))
    return res


def _close(a, b, path: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        assert set(a) == set(b), f"{path}: keys {sorted(set(a) ^ set(b))} differ"
        for k in a:
            _close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and isinstance(b, (int, float)):
        # float32 training on the same kind of machine: equal up to summation order; figures
        # that are float32 rounding noise around zero (an exact oracle's invariance error,
        # ~1e-7, which changes with the thread count) agree to float32's resolution of 1
        assert math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6), f"{path}: {a} != {b}"
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"


def _subset(got: dict, pinned: dict, path: str) -> None:
    """``final.json`` and ``config.json`` may gain keys (the engine records more, e.g. the
    world size of image runs); every pinned key keeps its value. Keys pinned as null (a
    field of another problem kind, recorded by the old per-kind configs) may be absent."""
    for k, v in pinned.items():
        if v is None and k not in got:
            continue
        assert k in got, f"{path} lost {k}"
        _close(got[k], v, f"{path}.{k}")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """The glyph set of the few-shot cases is built in a temporary folder, never the
    user's cache."""
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "cache"))


@pytest.mark.parametrize("name,argv", CASES, ids=[c[0] for c in CASES])
def test_pinned_run(tmp_path, name, argv):
    pinned = json.loads(PINS.read_text())[name]
    got = run_case(tmp_path, name, argv)
    for part in ("metrics", "answer"):
        _close(got[part], pinned[part], f"{name}.{part}")
    _subset(got["final"], pinned["final"], f"{name}.final")
    if name in COMPARED:  # compare may report more; every pinned figure keeps its value
        _subset(got["compare"], pinned["compare"], f"{name}.compare")
    _subset(got["config"], pinned["config"], f"{name}.config")


if __name__ == "__main__" and "--write" in sys.argv:
    # `--write NAME ...` rewrites only the named cases; plain `--write` all of them
    import os
    import tempfile

    names = sys.argv[sys.argv.index("--write") + 1:] or [n for n, _ in CASES]
    pins = json.loads(PINS.read_text()) if PINS.is_file() else {}
    with tempfile.TemporaryDirectory() as d:
        os.environ["METASYM_CACHE_DIR"] = str(Path(d) / "cache")
        pins.update({n: run_case(Path(d), n, a) for n, a in CASES if n in names})
    PINS.write_text(json.dumps({n: pins[n] for n, _ in CASES if n in pins}, indent=1) + "\n")
    print(f"wrote {PINS}: {', '.join(names)}")
