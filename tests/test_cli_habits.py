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


def test_tour_json(tmp_path, capsys):
    import json

    code, out, _ = run(capsys, "tour", "--group", "cyclic:4", "--dir", str(tmp_path), "--json")
    info = json.loads(out)
    assert code == 0 and info["group"] == "cyclic:4" and info["dimension"] == 4
    assert info["checks_failed"] == 0 and len(info["checks"]) >= 10
    assert info["labels"][0] == [0, 1, 2, 3] and (tmp_path / "sharing.png").is_file()


def _report_tail(out: str) -> list[str]:
    lines = out.splitlines()
    start = max(i for i, x in enumerate(lines) if x.startswith("check "))
    return lines[start:]


def test_every_checker_reports_in_one_layout(tmp_path, capsys):
    _, verify, _ = run(capsys, "verify", "--group", "quaternion")
    _, chars, _ = run(capsys, "characters", "quaternion", "--check")
    _, tour, _ = run(capsys, "tour", "--group", "quaternion", "--dir", str(tmp_path))
    for out in (verify, chars, tour):
        tail = _report_tail(out)
        assert tail[0].split() == ["check", "expected", "found", "result"]
        assert set(tail[1]) <= {"-", " "}
        assert tail[-1].endswith(" passed, 0 failed"), tail[-1]
        n = int(tail[-1].split()[0])
        assert len(tail) == n + 3 and all(x.rstrip().endswith("pass") for x in tail[2:-1])
        # columns line up: "expected" starts at the same place in every row
        col = tail[0].index("expected")
        assert all(x[col - 2:col] == "  " and x[col] != " " for x in tail[2:-1])
    char_rows = _report_tail(chars)[2:-1]
    assert {x.split()[0] for x in char_rows} <= {x.split()[0] for x in _report_tail(verify)}


def test_tables_align_with_long_labels(capsys):
    from metasym.cli.learn import print_comparison
    from metasym.cli.output import format_table

    lines = format_table([("name", "value"), ("a" * 50, "1"), ("b", "22")])
    assert len({x.index(y) for x, y in zip([lines[0], lines[2], lines[3]],
                                            ["value", "1", "22"])}) == 1

    class Result:
        run, problem, model, answer, notes = "r", "p", "m", None, []
        rows = [("short", 1.0), ("a label much longer than thirty-eight characters", 2.0)]

    print_comparison(Result())
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len({len(x) - len(x.split()[-1]) for x in rows}) == 1, rows


def test_every_command_that_prints_a_result_has_json():
    from metasym.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    missing = [name for name, p in sub.choices.items()
               if not any("--json" in a.option_strings for a in p._actions)]
    assert missing == [], missing
