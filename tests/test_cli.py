"""The core commands: group, sharing, verify; and the one-line error contract."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from metasym.cli import main
from metasym.groups import parse_action, parse_group
from metasym.representations import SharingPattern, sharing_pattern


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, *argv: str) -> tuple[int, dict]:
    code, out, _ = run(capsys, *argv, "--json")
    return code, json.loads(out)


def test_group_json(capsys):
    code, info = run_json(capsys, "group", "dihedral:4")
    assert code == 0
    assert info["order"] == 8 and info["degree"] == 4 and info["abelian"] is False
    assert info["conjugacy_classes"] == 5
    assert info["element_orders"] == {"1": 1, "2": 5, "4": 2}


def test_group_large_reports_reason(capsys):
    code, info = run_json(capsys, "group", "symmetric:12")
    assert code == 0 and info["order"] == 479001600
    assert info["conjugacy_classes"] is None and "conjugacy_classes_reason" in info


@pytest.mark.parametrize("suffix", ["png", "graphml"])
def test_group_cayley(capsys, tmp_path, suffix):
    path = tmp_path / f"c.{suffix}"
    code, _, _ = run(capsys, "group", "quaternion", "--cayley", str(path))
    assert code == 0 and path.stat().st_size > 0
    if suffix == "graphml":
        import networkx as nx

        g = nx.read_graphml(path)
        assert g.number_of_nodes() == 8 and g.number_of_edges() == 16


def test_sharing_json_matches_library(capsys, tmp_path):
    npz = tmp_path / "p.npz"
    png = tmp_path / "p.png"
    code, info = run_json(capsys, "sharing", "--group", "dihedral:4", "--in", "natural",
                          "--out", "regular", "--save", str(npz), "--plot", str(png))
    assert code == 0
    G = parse_group("dihedral:4")
    expected = sharing_pattern(parse_action("natural", G), parse_action("regular", G))
    for key in ("group", "order", "in_degree", "out_degree", "dimension", "burnside", "seconds"):
        assert key in info
    assert info["dimension"] == expected.dimension == 4  # Frobenius: |X| = 4
    assert info["burnside"] == 4
    assert (info["in_degree"], info["out_degree"]) == (4, 8)
    with np.load(npz, allow_pickle=False) as f:
        assert np.array_equal(f["labels"], expected.labels)
        U = f["U"]
    assert U.shape == (32, 4) and np.array_equal(U, expected.basis())
    assert SharingPattern.load(npz) == expected
    assert png.stat().st_size > 1000


def test_sharing_support_band(capsys):
    code, info = run_json(capsys, "sharing", "--group", "cyclic:10", "--support", "band:3")
    assert code == 0 and info["dimension"] == 3 and info["burnside"] == 10


def test_sharing_burnside_null_for_huge_group(capsys):
    code, info = run_json(capsys, "sharing", "--group", "symmetric:20", "--in",
                          "tensor(natural,natural)", "--out", "tensor(natural,natural)")
    assert code == 0 and info["dimension"] == 15
    assert info["burnside"] is None and info["burnside_reason"]


def test_sharing_large_U_saved_sparse(capsys, tmp_path):
    npz = tmp_path / "big.npz"
    code, info = run_json(capsys, "sharing", "--group", "translations:12x12", "--save", str(npz))
    assert code == 0 and info["dimension"] == 144
    with np.load(npz, allow_pickle=False) as f:  # 144^2 * 144 entries > 10^6: dense is fine
        assert "labels" in f.files


def test_sharing_text(capsys):
    code, out, _ = run(capsys, "sharing", "--group", "cyclic:3")
    assert code == 0 and "dimension  3" in out and "burnside   3" in out


def test_verify_passes(capsys):
    code, out, _ = run(capsys, "verify", "--group", "dihedral:3")
    assert code == 0 and "0 failed" in out
    code, info = run_json(capsys, "verify", "--group", "cyclic:4", "--in", "natural",
                          "--out", "regular")
    assert code == 0 and info["passed"] is True and len(info["checks"]) >= 5


@pytest.mark.parametrize("argv, needle", [
    (["group", "cyclic:"], "expected a non-negative integer"),
    (["group", "cyclc:4"], "unknown group family"),
    (["group", "perm:3:(0 1)(1 2)"], "disjoint"),
    (["group", "perm:3:(0 5)"], "outside"),
    (["group", "cyclic:99999999999"], "too large"),
    (["sharing", "--group", "cyclic:4", "--in", "perm:3:(0 1 2)"], "relation"),
    (["sharing", "--group", "dihedral:4", "--in", "perm:4:(0 1);(0 1 2 3)"], "relation"),
    (["sharing", "--group", "cyclic:4", "--in", "tensor(natural)"], "at least two"),
    (["sharing", "--group", "cyclic:4", "--support", "band:x"], "support"),
    (["sharing", "--group", "symmetric:10", "--in", "regular"], "limit"),
    (["sharing"], "required"),
    (["nope"], "invalid choice"),
])
def test_bad_input_is_one_line_exit_2(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("metasym: error:"), err
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err


def test_entry_point_no_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "metasym", "group", "dihedral:x"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1
