"""The README cannot drift: every console block in it is run and compared with what it shows.

Convention (also stated in the README's HTML comment at the top of "Examples"):

- a ```` ```console ```` block is a terminal session: a line ``$ COMMAND`` is run, and the
  lines after it, up to the next ``$`` line, are its output (stdout and stderr together,
  as a terminal shows them);
- a line ``...`` stands for any number of output lines (the demo's block shows only the
  end of its output);
- fields that vary between runs (:data:`VARIABLE_FIELDS`: durations, rates, the JSON
  ``seconds``) are replaced by a placeholder on both sides before comparing; everything
  else must be equal, character for character (trailing spaces aside);
- commands without output to check (minutes of training) go in ```` ```bash ```` blocks,
  which are not run.

The blocks run in README order in one scratch folder (later ones read runs written by
earlier ones: ``compare runs/d4``), never in the repository; ``metasym`` there is this
interpreter's ``python -m metasym``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

#: Fields that may differ between runs, as (placeholder, regex). Nothing else may.
VARIABLE_FIELDS: tuple[tuple[str, str], ...] = (
    ("<rate>", r"\b\d+ tasks/s"),
    ("<seconds>", r"\b\d+(?:\.\d+)? (?:ms|s)\b"),
    ("<json-seconds>", r'"seconds": [0-9.eE+-]+'),
)
ELLIPSIS = "..."
MARK = "@@readme-command-done@@"
#: The whole README session must finish in this many seconds (about 30 s on 2 cores).
TIMEOUT = 300


@dataclass
class Command:
    line: int       # README line number of the ``$`` line
    command: str
    expected: list[str]


@dataclass
class Block:
    line: int       # README line number of the opening fence
    commands: list[Command]

    @property
    def id(self) -> str:
        first = self.commands[0].command.split()
        return f"L{self.line}-" + "-".join(first[:2])


def parse_console_blocks(text: str) -> list[Block]:
    """The README's ```console blocks, each a list of commands with their shown output."""
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        if lines[i].strip() != "```console":
            i += 1
            continue
        start, i = i + 1, i + 1
        commands: list[Command] = []
        while i < len(lines) and lines[i].strip() != "```":
            line = lines[i]
            if line.startswith("$ "):
                commands.append(Command(i + 1, line[2:], []))
            elif not commands:
                raise ValueError(f"README line {i + 1}: a console block must start with a "
                                 f"'$ command' line, got {line!r}")
            else:
                commands[-1].expected.append(line)
            i += 1
        if commands:
            blocks.append(Block(start, commands))
        i += 1
    return blocks


def normalise(line: str) -> str:
    """A line with every variable field replaced by its placeholder."""
    for placeholder, pattern in VARIABLE_FIELDS:
        line = re.sub(pattern, placeholder, line)
    return line.rstrip()


def _trim(lines: list[str]) -> list[str]:
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def matches(expected: list[str], actual: list[str]) -> bool:
    """Whether the output ``actual`` is what the README shows (``...`` = any lines)."""
    exp = [normalise(x) for x in _trim(expected)]
    act = [normalise(x) for x in _trim(actual)]
    pattern = "".join("(?:.*\n)*?" if x == ELLIPSIS else re.escape(x + "\n") for x in exp)
    return re.fullmatch(pattern, "".join(x + "\n" for x in act)) is not None


def diff(expected: list[str], actual: list[str]) -> str:
    import difflib

    return "\n".join(difflib.unified_diff([normalise(x) for x in _trim(expected)],
                                          [normalise(x) for x in _trim(actual)],
                                          "README", "actual output", lineterm=""))


def run_session(blocks: list[Block], cwd: Path) -> dict[int, list[str]]:
    """Run every command in one bash, in ``cwd``; the output of each (by README line)."""
    bindir = cwd / ".bin"
    bindir.mkdir()
    shim = bindir / "metasym"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m metasym \"$@\"\n")
    shim.chmod(0o755)
    script = ["exec 2>&1"]
    order = [c for b in blocks for c in b.commands]
    for c in order:
        script += [c.command, f"__rc=$?; echo; echo {MARK}; (exit $__rc)"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("METASYM_")}
    env.update(PATH=f"{bindir}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1",
               OMP_NUM_THREADS="1", COLUMNS="100")
    proc = subprocess.run(["bash", "-c", "\n".join(script)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=TIMEOUT)
    parts = proc.stdout.split(MARK + "\n")
    assert len(parts) == len(order) + 1, proc.stdout[-2000:]
    out = {}
    for c, part in zip(order, parts):
        lines = part.split("\n")
        if lines[-1:] == [""]:
            lines = lines[:-1]
        if lines[-1:] == [""]:  # the echo before the mark
            lines = lines[:-1]
        out[c.line] = lines
    return out


BLOCKS = parse_console_blocks(README.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("readme")
    before = set(os.listdir(ROOT))
    t0 = time.perf_counter()
    outputs = run_session(BLOCKS, cwd)
    seconds = time.perf_counter() - t0
    assert set(os.listdir(ROOT)) == before, "a README command wrote into the repository"
    return outputs, seconds, cwd


def test_readme_has_console_blocks():
    commands = [c.command for b in BLOCKS for c in b.commands]
    assert len(BLOCKS) >= 8 and any(c.startswith("metasym demo") for c in commands)
    assert all(c.startswith(("metasym ", "echo ")) for c in commands), commands


@pytest.mark.parametrize("block", BLOCKS, ids=[b.id for b in BLOCKS])
def test_readme_block_output(session, block):
    outputs = session[0]
    for c in block.commands:
        assert matches(c.expected, outputs[c.line]), (
            f"README line {c.line}: `{c.command}` prints something else now; update the "
            f"README (or VARIABLE_FIELDS if the field really varies):\n"
            + diff(c.expected, outputs[c.line]))


def test_readme_examples_write_only_into_the_scratch_runs_folder(session):
    cwd = session[2]
    made = {p.name for p in cwd.iterdir()} - {".bin"}
    assert made <= {"runs"}, made  # every file the examples write is under runs/
    # the two figures of the sharing/group examples are two files, not one overwritten
    assert (cwd / "runs/d4.png").is_file() and (cwd / "runs/d4-cayley.png").is_file()


def test_an_edited_block_fails(session):
    """The comparison is not vacuous: editing a shown figure makes it fail, while a
    different duration or rate (a declared variable field) does not."""
    outputs = session[0]
    block = next(b for b in BLOCKS if b.commands[0].command.startswith("metasym train"))
    train = block.commands[0]
    actual = outputs[train.line]
    assert matches(train.expected, actual)
    line = next(i for i, x in enumerate(train.expected) if "test MSE" in x)
    edited = list(train.expected)
    edited[line] = re.sub(r"\d\.\d{4}", "9.9999", edited[line], count=1)
    assert edited != train.expected and not matches(edited, actual)
    dropped = list(train.expected)
    dropped[line] = dropped[line].split(";")[0]  # e.g. a field the README lacks
    assert not matches(dropped, actual)
    timing = next(i for i, x in enumerate(train.expected) if "tasks/s" in x)
    retimed = list(train.expected)
    retimed[timing] = re.sub(r"\d+ tasks/s", "1 tasks/s", re.sub(r"in [0-9.]+ s", "in 99.9 s",
                                                                   retimed[timing]))
    assert retimed != train.expected and matches(retimed, actual)
    assert not matches(train.expected + ["an extra line"], actual)


def test_ellipsis_matches_any_lines_only_where_written():
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"])
    assert matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["a", "...", "z"], ["a", "b", "y"])
    assert not matches(["a", "z"], ["a", "b", "z"])


def test_readme_session_is_quick(session):
    assert session[1] < 120, f"the README's commands took {session[1]:.0f} s"


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_python_section_starts_from_generators_and_runs():
    text = README.read_text(encoding="utf-8")
    section = text[text.index("### From Python"):]
    block = python_blocks(section)[0]
    assert block.lstrip().startswith("from metasym.groups import from_generators")
    ns: dict = {}
    exec(compile(block, "README.md (From Python)", "exec"), ns)  # noqa: S102
    # what the block's comments say
    assert (ns["G"].order, ns["G"].spec) == (8, "perm:4:(0 1 2 3);(0 3)(1 2)")
    assert ns["P"].dimension == 3 and list(ns["P"].labels[0]) == [0, 1, 2, 1]
    assert ns["U"].shape == (16, 3) and set(ns["U"].ravel().tolist()) == {0, 1}
    assert ns["P"].equivariance_error(ns["W"]) == 0.0
    for line in block.splitlines():
        if "# 15" in line:
            assert eval(line.split("#")[0], ns) == 15  # noqa: S307
        if "conv1d(70, 3).dimension" in line:
            assert eval(line.split("#")[0], ns) == 3  # noqa: S307
