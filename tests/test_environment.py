"""Environment variables (issue 17): every METASYM_* variable metasym reads is parsed
strictly by one function, documented, and refused in one line when malformed."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from metasym import _limits
from metasym.cli import main
from metasym.envvars import VARIABLES, check_environment, env_value
from metasym.errors import EnvironmentVariableError, MetasymError

ROOT = Path(__file__).resolve().parents[1]


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    if code != 0:
        assert err.count("\n") == 1 and "Traceback" not in err, err
    return code, err


BAD_VALUES = {
    "METASYM_TIME_LIMIT": ["inf", "1e300", "soon", "0", "-5", "nan", "", "  ", "1e3", "+5",
                           "\u0663", "60s", "9" * 400, "20000000"],
    "METASYM_MEMORY_LIMIT": ["inf", "1e300", "soon", "0", "-5", "nan", "", "4X", "9" * 400,
                             "2000000T", "0.1"],
    "METASYM_CACHE_DIR": ["", "   "],
}


@pytest.mark.parametrize("name, value", [(n, v) for n, vs in BAD_VALUES.items() for v in vs])
def test_malformed_environment_variables_are_one_line(capsys, monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    code, err = run(capsys, "group", "cyclic:3")  # a command that does not need the variable
    assert code == 2
    assert name in err and "accepts" in err and "refused" in err
    with pytest.raises(EnvironmentVariableError, match=name):
        env_value(name)


def test_cache_dir_that_is_a_file_is_refused(tmp_path, monkeypatch, capsys):
    (tmp_path / "f").write_text("x")
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "f"))
    code, err = run(capsys, "group", "cyclic:3")
    assert code == 2 and "METASYM_CACHE_DIR" in err and "not a folder" in err
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "new"))  # need not exist yet
    assert env_value("METASYM_CACHE_DIR") == tmp_path / "new"


@pytest.mark.parametrize("name, value, expected", [
    ("METASYM_TIME_LIMIT", "60", 60.0), ("METASYM_TIME_LIMIT", " 2.5 ", 2.5),
    ("METASYM_TIME_LIMIT", ".5", 0.5), ("METASYM_TIME_LIMIT", "10000000", 1e7),
    ("METASYM_MEMORY_LIMIT", "4G", 4 * 2**30), ("METASYM_MEMORY_LIMIT", "512MiB", 512 * 2**20),
    ("METASYM_MEMORY_LIMIT", "1000", 1000), ("METASYM_MEMORY_LIMIT", "1.5k", 1536),
])
def test_good_environment_values(monkeypatch, name, value, expected):
    monkeypatch.setenv(name, value)
    assert env_value(name) == expected
    check_environment()


def test_unset_variables_give_the_defaults(monkeypatch):
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)
        assert env_value(name) is None
    assert _limits.default_seconds() == 60.0
    assert _limits.memory_budget() > 0


def test_time_limit_variable_is_used_and_checked(monkeypatch):
    monkeypatch.setenv("METASYM_TIME_LIMIT", "0.2")
    t0 = time.perf_counter()
    with pytest.raises(MetasymError, match="longer than 0.2 s"), _limits.time_limit("spinning"):
        while time.perf_counter() - t0 < 10:
            pass
    assert time.perf_counter() - t0 < 5
    for bad in ("inf", "1e300", "0"):  # was: OverflowError from setitimer / no limit at all
        monkeypatch.setenv("METASYM_TIME_LIMIT", bad)
        with pytest.raises(EnvironmentVariableError), _limits.time_limit("x"):
            pass


def test_memory_limit_variable_is_used_and_checked(monkeypatch):
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "1M")
    with pytest.raises(MetasymError, match="METASYM_MEMORY_LIMIT=1M"):
        _limits.check_memory(2**21, "a test array")
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "0")  # was: taken, refusing everything
    with pytest.raises(EnvironmentVariableError, match="METASYM_MEMORY_LIMIT"):
        _limits.check_memory(10, "a small array")
    with pytest.raises(MetasymError, match="memory size"):  # 400 digits: was OverflowError
        _limits.parse_bytes("9" * 400)


def test_explicit_time_limits_are_checked():
    for bad in (0, -1, float("nan"), "5", True):
        with pytest.raises(ValueError, match="time limit"), _limits.time_limit("x", bad):
            pass
    with _limits.time_limit("x", float("inf")):  # no limit, no OverflowError
        pass


def test_every_metasym_variable_is_declared_and_documented():
    """Every METASYM_* name in the package is declared (so parsed strictly); every
    declared one is documented with what it accepts."""
    used = set()
    for path in (ROOT / "metasym").rglob("*.py"):
        used |= set(re.findall(r"METASYM_[A-Z_]+[A-Z]", path.read_text()))
    assert used <= set(VARIABLES), used - set(VARIABLES)
    for path in (ROOT / "metasym").rglob("*.py"):
        if path.name == "envvars.py":
            continue
        text = path.read_text()
        for bad in re.findall(r"(?:float|int)\(os\.environ[^)]*METASYM_\w+", text):
            raise AssertionError(f"{path}: {bad} (use metasym.envvars.env_value)")
    doc = (ROOT / "docs" / "reliability.md").read_text()
    section = doc.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    for name, var in VARIABLES.items():
        assert f"`{name}`" in section, name
        assert var.default.split(",")[0] in section or var.default.split()[0] in section


