"""What every ``metasym`` command shares: the usage error and JSON printing."""

from __future__ import annotations

import json
import math
from typing import Any

from metasym.errors import MetasymError

__all__ = ["UsageError", "print_json", "json_ready", "fmt"]


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
