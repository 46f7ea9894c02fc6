"""The ``metasym`` command: thin wrappers that parse, call the library, print or save.

User mistakes (bad specs, mismatched degrees, files that cannot be read, groups too large
for an operation) end with one line on stderr and exit status 2, never a traceback.
Subcommands of the learning layer are registered by :mod:`metasym.learning.commands`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from metasym.errors import MetasymError

__all__ = ["main", "build_parser", "UsageError"]

EXIT_OK, EXIT_FAILED_CHECK, EXIT_USAGE = 0, 1, 2


class UsageError(MetasymError):
    """Bad command-line usage."""


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit status 2)."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message}")


def print_json(obj) -> None:
    """JSON to stdout (``NaN``/``inf`` written as null so every reader can parse it)."""
    print(json.dumps(_clean(obj), indent=2, sort_keys=False))


def _clean(obj):
    import math

    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item) and getattr(obj, "ndim", 1) == 0:
        return _clean(obj.item())
    return obj


def build_parser() -> argparse.ArgumentParser:
    from metasym import __version__, commands_core
    from metasym.discovery import commands as discovery_commands

    parser = _Parser(prog="metasym", description="Meta-learning symmetries by "
                     "reparameterization, group theory first.")
    parser.add_argument("--version", action="version", version=f"metasym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    commands_core.register(sub)
    discovery_commands.register(sub)
    import importlib
    import importlib.util

    # the learning layer (torch) registers its own subcommands when it is present
    try:
        present = importlib.util.find_spec("metasym.learning.commands") is not None
    except ModuleNotFoundError:
        present = False
    if present:
        importlib.import_module("metasym.learning.commands").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return int(func(args) or 0)
    except MetasymError as e:
        msg = str(e).replace("\n", " ")
        print(f"metasym: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("metasym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
