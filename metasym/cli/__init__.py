"""The ``metasym`` command: thin wrappers that parse, call the library, print or save.

User mistakes (bad specs, mismatched degrees, files that cannot be read, groups too large
for an operation) end with one line on stderr and exit status 2, never a traceback.

The command modules live here, above every layer: :mod:`metasym.cli.core` (``group``,
``sharing``, ``verify``, ``tour``), :mod:`metasym.cli.discover` (``discover``) and
:mod:`metasym.cli.learn` (``train``, ``compare``, ``reproduce``, ``demo``). Building the
parser imports neither torch nor sympy, so ``metasym --help`` and ``--version`` are fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
from collections.abc import Callable, Sequence

from metasym.cli.output import UsageError, print_json
from metasym.envvars import check_environment
from metasym.errors import MetasymError, did_you_mean
from metasym.files import os_error_words

__all__ = ["main", "build_parser", "UsageError", "print_json", "COMMAND_MODULES"]

EXIT_OK, EXIT_FAILED_CHECK, EXIT_USAGE = 0, 1, 2

#: Modules whose ``register(subparsers)`` adds subcommands, in ``--help`` order.
COMMAND_MODULES = ("metasym.cli.core", "metasym.cli.characters", "metasym.cli.discover",
                   "metasym.cli.learn")


_INVALID_CHOICE = re.compile(r"invalid choice: '(?P<word>.*?)' \(choose from (?P<choices>.*)\)$")


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are one line on stderr (exit status 2), prefixed once with
    ``metasym: error:`` (and the subcommand), with a "did you mean" for a mistyped choice."""

    def error(self, message: str):  # type: ignore[override]
        found = _INVALID_CHOICE.search(message)
        if found:
            choices = re.findall(r"'([^']*)'", found["choices"])
            after_word = found.end("word") + 1  # the hint goes after the quoted word
            message = (message[:after_word] + did_you_mean(found["word"], choices)
                       + message[after_word:])
        where = self.prog.removeprefix("metasym").strip()  # "train" for `metasym train`
        raise UsageError(f"{where}: {message}" if where else message)


def build_parser() -> argparse.ArgumentParser:
    """The ``metasym`` argument parser with every subcommand."""
    from metasym import __version__

    parser = _Parser(prog="metasym", description="Meta-learning symmetries by "
                     "reparameterization, group theory first.")
    parser.add_argument("--version", action="version", version=f"metasym {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def shown(text: str) -> str:
    r"""``text`` safe to print on any stream: a file name that is not valid UTF-8 reaches
    Python as lone surrogates (``os.fsdecode``, ``surrogateescape``); they are shown as the
    bytes they stand for, ``\xff``, and anything else that is not printable UTF-8 is
    backslash-escaped. Never raises.

    >>> shown("run\udcff/config.json")
    'run\\xff/config.json'
    """
    data = text.encode("utf-8", "surrogateescape") if isinstance(text, str) else bytes(text)
    return data.decode("utf-8", "backslashreplace")


def _safe_streams() -> None:
    """stdout/stderr never raise UnicodeEncodeError on a file name (e.g. under
    ``PYTHONIOENCODING=utf-8``, which makes them strict): strict becomes
    ``backslashreplace``."""
    for stream in (sys.stdout, sys.stderr):
        if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError, AttributeError):
                pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``metasym`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    _safe_streams()
    try:
        check_environment()  # a malformed METASYM_* variable: one line, before any work
        parser = build_parser()
        args = parser.parse_args(argv)
        func: Callable[[argparse.Namespace], int] = args.func
        return int(func(args) or 0)
    except MetasymError as e:
        msg = shown(str(e)).replace("\n", " ")
        print(f"metasym: error: {msg}", file=sys.stderr)
        return EXIT_USAGE
    except MemoryError:
        print("metasym: error: out of memory (the input is too large for this machine)",
              file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("metasym: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
    except OSError as e:  # last resort: what the file system said, in one line
        where = f"{shown(os.fsdecode(e.filename))}: " if e.filename else ""
        print(f"metasym: error: {where}{shown(os_error_words(e))}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as e:
        if "symlink loop" not in str(e).lower():  # Python 3.11's Path.resolve
            raise
        print(f"metasym: error: {shown(str(e))} (a loop of symbolic links)", file=sys.stderr)
        return EXIT_USAGE
