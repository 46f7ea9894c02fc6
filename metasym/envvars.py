"""The environment variables metasym reads, parsed strictly in one place.

Every ``METASYM_*`` variable the package reads is declared in :data:`VARIABLES` (name,
meaning, accepted values, default) and read with :func:`env_value`, which parses it with
the variable's own strict parser: a malformed value (``inf``, ``1e300``, ``soon``, ``0``,
``-5``, ``nan``, an empty string, non-ASCII digits, a thousand digits) is one
:class:`~metasym.errors.EnvironmentVariableError` naming the variable, the value and what
it accepts -- never an ``OverflowError``, never a silent default. The ``metasym`` command
checks every declared variable before it does anything (:func:`check_environment`), so a
bad value is refused even by a command that would not have read it.

Values are read at every call (a changed variable takes effect at once); an unset
variable gives ``None`` and the caller's default applies.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from metasym.errors import EnvironmentVariableError

__all__ = ["EnvVar", "VARIABLES", "env_value", "check_environment", "parse_seconds",
           "parse_memory", "parse_folder", "MAX_SECONDS", "MAX_MEMORY", "MAX_ENV_LENGTH"]

#: Longest value accepted for a numeric variable (characters).
MAX_ENV_LENGTH = 64
#: Largest ``METASYM_TIME_LIMIT`` in seconds (about 115 days; ``setitimer`` takes it).
MAX_SECONDS = 10_000_000.0
#: Largest ``METASYM_MEMORY_LIMIT`` in bytes (1 EiB).
MAX_MEMORY = 2**60

_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+", re.ASCII)
_BYTES = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)\s*([kmgt]?)(?:i?b)?", re.ASCII | re.IGNORECASE)
_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


class _Refused(Exception):
    """Raised by a parser; :func:`env_value` turns it into the one-line error."""


def _numeric_text(text: str) -> str:
    text = text.strip()
    if not text:
        raise _Refused("it is empty (unset it for the default)")
    if len(text) > MAX_ENV_LENGTH:
        raise _Refused(f"it is {len(text)} characters long")
    return text


def parse_seconds(text: str) -> float:
    """Seconds: a plain decimal number (``30``, ``2.5``), > 0 and at most
    :data:`MAX_SECONDS`; no exponent, sign, unit, ``inf`` or ``nan``."""
    text = _numeric_text(text)
    if not _NUMBER.fullmatch(text):
        raise _Refused("it is not a plain decimal number")
    x = float(text)
    if not (math.isfinite(x) and 0 < x <= MAX_SECONDS):
        raise _Refused("it is out of range")
    return x


def parse_memory(text: str) -> int:
    """Bytes: a number, optionally with a binary unit ``K``, ``M``, ``G`` or ``T`` (case and
    a trailing ``B`` / ``iB`` ignored: ``4G``, ``512MiB``, ``1000000``); at least 1 byte and
    at most :data:`MAX_MEMORY`."""
    text = _numeric_text(text)
    mt = _BYTES.fullmatch(text)
    if not mt:
        raise _Refused("it is not a size")
    nbytes = float(mt.group(1)) * _UNITS[mt.group(2).upper()]
    if not (math.isfinite(nbytes) and 1 <= nbytes <= MAX_MEMORY):
        raise _Refused("it is out of range")
    return int(nbytes)


def parse_folder(text: str) -> Path:
    """A folder name (need not exist yet; ``~`` is expanded); not empty, and not an
    existing file that is not a folder."""
    if not text.strip():
        raise _Refused("it is empty (unset it for the default)")
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise _Refused("it exists and is not a folder")
    return path


@dataclass(frozen=True)
class EnvVar:
    """One environment variable: its ``name``, what it ``means``, the values it
    ``accepts`` (words for messages and docs), its ``default`` (words) and its ``parse``
    function."""

    name: str
    means: str
    accepts: str
    default: str
    parse: Callable[[str], Any]


#: Every ``METASYM_*`` variable the package reads (docs/reliability.md lists the same).
VARIABLES: dict[str, EnvVar] = {v.name: v for v in (
    EnvVar("METASYM_TIME_LIMIT",
           "seconds one group computation, discovery (clustering, automorphism search) or "
           "task generation may run (or is estimated to take) before it is stopped or "
           "refused with one line",
           f"a plain decimal number of seconds, > 0 and at most {MAX_SECONDS:.0f} (e.g. 60 "
           "or 2.5)", "60", parse_seconds),
    EnvVar("METASYM_MEMORY_LIMIT",
           "bytes one sharing pattern, basis, task set, data set or few-shot step may plan "
           "to allocate",
           "bytes, or a number with K, M, G or T (binary units; e.g. 4G, 512M), at least 1 "
           "byte and at most 1 EiB",
           "half of the available memory", parse_memory),
    EnvVar("METASYM_CACHE_DIR",
           "the folder of the rendered glyph data set's cache",
           "a folder name (created when needed), not empty and not an existing file",
           "$XDG_CACHE_HOME/metasym, else ~/.cache/metasym", parse_folder),
)}


def env_value(name: str) -> Any:
    """The parsed value of the declared variable ``name``, or ``None`` when it is unset.

    Raises :class:`~metasym.errors.EnvironmentVariableError` (one line: the variable, its
    value, what it accepts) when the value is malformed."""
    var = VARIABLES[name]
    raw = os.environ.get(name)
    if raw is None:
        return None
    try:
        return var.parse(raw)
    except _Refused as e:
        shown = raw if len(raw) <= 40 else raw[:37] + "..."
        raise EnvironmentVariableError(
            f"environment variable {name}={shown!r} refused: {e}; {name} accepts "
            f"{var.accepts} (unset: {var.default})") from None


def check_environment() -> None:
    """Parse every declared variable that is set; the first malformed one raises."""
    for name in VARIABLES:
        env_value(name)
