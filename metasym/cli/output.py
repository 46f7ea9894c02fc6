"""What every ``metasym`` command shares: the usage error and JSON printing."""

from __future__ import annotations

import json
import math
from typing import Any

from metasym.errors import MetasymError

__all__ = ["UsageError", "print_json", "json_ready", "fmt", "format_table", "print_checks",
           "check_status"]


class UsageError(MetasymError):
    """Bad command-line usage."""


def json_ready(obj: Any) -> Any:
    """``obj`` with non-finite floats as ``None``, keys as strings, tuples as lists and
    numpy/torch scalars as Python numbers (so every JSON reader can parse it)."""
    if hasattr(obj, "to_json") and callable(obj.to_json):
        obj = obj.to_json()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return json_ready(obj.item())
    return obj


def print_json(obj: Any) -> None:
    """JSON to stdout (``NaN``/``inf`` written as null so every reader can parse it)."""
    print(json.dumps(json_ready(obj), indent=2, sort_keys=False))


def fmt(x: Any, digits: int = 4) -> str:
    """A table cell: ``n/a`` for ``None``, floats to ``digits`` places."""
    if x is None:
        return "n/a"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def format_table(rows: list[tuple[str, ...]] | list[list[str]], *, header: bool = True,
                 indent: str = "", rule: bool = True) -> list[str]:
    """Plain-text table lines: every column as wide as its longest cell (long labels
    widen their column instead of pushing the rest out of line); the first row is the
    header, underlined with dashes when ``rule``."""
    rows = [[str(c) for c in r] for r in rows]
    if not rows:
        return []
    widths = [max(len(r[j]) for r in rows if j < len(r)) for j in range(max(map(len, rows)))]
    lines = [indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    if header and rule:
        lines.insert(1, indent + "  ".join("-" * w for w in widths))
    return lines


def check_status(row: dict) -> str:
    """``pass``, ``fail`` or ``skipped`` for a check's ``to_dict()``."""
    status = row.get("status")
    if status:
        return str(status)
    return "pass" if row.get("passed") else "fail"


def _short(value: Any, limit: int = 40) -> str:
    if isinstance(value, float):
        s = f"{value:.3g}"
    else:
        s = "-" if value is None else str(value)
    return s if len(s) <= limit else s[: limit - 3] + "..."


def print_checks(rows: list[dict], *, indent: str = "") -> int:
    """Print checks (``CheckResult.to_dict()`` rows) as every checker's report does
    (``verify``, ``characters --check``, ``tour``): a table check / expected / found /
    result, the detail of each check that did not pass, then ``N passed, M failed[, K
    skipped]``. Returns the number of failures."""
    table = [("check", "expected", "found", "result")]
    table += [(str(r["name"]), _short(r.get("expected")), _short(r.get("found")),
               check_status(r)) for r in rows]
    for line in format_table(table, indent=indent):
        print(line)
    for r in rows:
        if check_status(r) != "pass" and r.get("detail"):
            print(f"{indent}  {r['name']}: {r['detail']}")
    n_pass = sum(check_status(r) == "pass" for r in rows)
    n_fail = sum(check_status(r) == "fail" for r in rows)
    n_skip = sum(check_status(r) == "skipped" for r in rows)
    print(f"{indent}{n_pass} passed, {n_fail} failed" + (f", {n_skip} skipped" if n_skip else ""))
    return n_fail
