"""Files the commands write: exactly the path given (no suffix added), never through a
link, one-line refusals for empty names and folders."""

from __future__ import annotations

import json

import pytest

from metasym.cli import main
from metasym.representations import SharingPattern


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return err


def test_save_writes_exactly_the_given_path_and_reports_it(tmp_path, capsys):
    out = tmp_path / "x.txt"
    assert main(["sharing", "--group", "cyclic:4", "--save", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["saved"] == str(out) and out.is_file()
    assert not (tmp_path / "x.txt.npz").exists()
    assert SharingPattern.load(out).dimension == 4


@pytest.mark.parametrize("flag, cmd", [("--save", ["sharing", "--group", "cyclic:4"]),
                                       ("--plot", ["sharing", "--group", "cyclic:4"]),
                                       ("--cayley", ["group", "cyclic:4"])])
def test_empty_names_and_folders_are_refused(tmp_path, capsys, flag, cmd):
    assert main([*cmd, flag, ""]) == 2
    _one_line(capsys)
    target = tmp_path / ("d.png" if flag != "--save" else "d")
    target.mkdir()
    assert main([*cmd, flag, str(target)]) == 2
    assert "directory" in _one_line(capsys) or "must end" in capsys.readouterr().err


@pytest.mark.parametrize("flag, name, cmd", [
    ("--save", "p.npz", ["sharing", "--group", "cyclic:4"]),
    ("--plot", "p.png", ["sharing", "--group", "cyclic:4"]),
    ("--cayley", "c.png", ["group", "cyclic:4"]),
    ("--cayley", "c.graphml", ["group", "cyclic:4"]),
])
def test_links_are_replaced_never_written_through(tmp_path, capsys, flag, name, cmd):
    target = tmp_path / "precious.txt"
    target.write_text("keep")
    link = tmp_path / name
    link.symlink_to(target)
    assert main([*cmd, flag, str(link)]) == 0
    assert target.read_text() == "keep"
    assert not link.is_symlink() and link.stat().st_size > 0
