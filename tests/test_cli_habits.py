"""CLI habits: one error prefix, "did you mean", progress bars only on a terminal."""

from __future__ import annotations

import io

import pytest

from metasym.cli import main
from metasym.errors import did_you_mean
from metasym.progress import progress_bar, wants_bar


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, needle", [
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'"),
    (["shring"], "invalid choice: 'shring' (did you mean 'sharing'?)"),
    (["train", "--problem", "rnak1"], "train: argument --problem: invalid choice: 'rnak1' "
                                      "(did you mean 'rank1'"),
    (["group", "dihedrl:4"], "unknown group family 'dihedrl' (did you mean 'dihedral'?)"),
    (["sharing", "--group", "cyclic:4", "--in", "naturl"],
     "unknown action 'naturl' (did you mean 'natural'?)"),
    (["sharing", "--group", "cyclic:4", "--bogus"], "unrecognized arguments: --bogus"),
])
def test_one_error_prefix_and_did_you_mean(capsys, argv, needle):
    code, _, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metasym: error: "), err
    assert lines[0].count("metasym") == 1, lines[0]  # not "metasym: error: metasym: ..."
    assert needle in lines[0], lines[0]


def test_did_you_mean_only_when_close():
    assert did_you_mean("dihedrl", ["cyclic", "dihedral"]) == " (did you mean 'dihedral'?)"
    assert did_you_mean("zzzzzz", ["cyclic", "dihedral"]) == ""


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_bar_only_on_a_terminal_or_when_forced():
    assert wants_bar(True, _Stream(True)) is True
    assert wants_bar(True, _Stream(False)) is False       # redirected: no bar
    assert wants_bar("always", _Stream(False)) is True    # --progress
    assert wants_bar(False, _Stream(True)) is False       # --quiet / --json
    assert wants_bar(True, object()) is False             # no isatty at all


def test_redirected_training_writes_no_bar(tmp_path, capsys):
    # pytest's captured stderr is not a terminal: a run without --quiet draws nothing
    code, out, err = run(capsys, "train", "--problem", "rank1", "--steps", "3",
                         "--tasks", "40", "--eval-every", "3", "--out", str(tmp_path / "r"))
    assert code == 0 and "\r" not in err and "step/s" not in err and err == "", err
    assert "3 steps in" in out


def test_progress_flag_forces_the_bar(tmp_path, capsys):
    code, _, err = run(capsys, "train", "--problem", "rank1", "--steps", "3", "--tasks", "40",
                       "--eval-every", "3", "--progress", "--out", str(tmp_path / "r"))
    assert code == 0 and "rank1 msr-fc" in err and "3/3" in err, err


def test_progress_bar_helper_disabled_writes_nothing(capsys):
    with progress_bar(5, False, desc="x") as bar:
        bar.update(5)
    assert capsys.readouterr().err == ""
