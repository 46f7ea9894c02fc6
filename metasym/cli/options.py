"""Reusable argparse ``type=`` functions that range-check numeric options.

Each returns the parsed value or raises :class:`argparse.ArgumentTypeError`, which the
``metasym`` parser turns into one line on stderr and exit status 2. Numbers must be
written with ASCII characters (Python's ``int()``/``float()`` would also read Arabic-Indic
or full-width digits), be at most :data:`MAX_OPTION_LENGTH` characters long, and floats
must be finite::

    p.add_argument("--steps", type=positive_int)
    p.add_argument("--seed", type=seed, default=0)
    p.add_argument("--tol", type=positive_float)
    p.add_argument("--lr", type=float_range(0.0, 10.0, low_open=True))
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Callable

__all__ = [
    "MAX_OPTION_LENGTH",
    "SEED_MAX",
    "parse_int",
    "parse_float",
    "int_range",
    "float_range",
    "positive_int",
    "nonnegative_int",
    "positive_float",
    "nonnegative_float",
    "finite_float",
    "seed",
    "layer_shape",
]

#: Longest numeric option accepted (also keeps clear of Python's int-string limit).
MAX_OPTION_LENGTH = 64
#: Largest seed (seeds are 32-bit so that numpy, torch and the standard library agree).
SEED_MAX = 2**32 - 1

_INT = re.compile(r"[+-]?[0-9]+", re.ASCII)
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?", re.ASCII)


def _text(value: str, kind: str) -> str:
    if not isinstance(value, str):  # defaults are not passed through type=
        raise argparse.ArgumentTypeError(f"expected {kind}, got {value!r}")
    text = value.strip()
    if len(text) > MAX_OPTION_LENGTH:
        raise argparse.ArgumentTypeError(f"expected {kind}, got {len(text)} characters")
    return text


def parse_int(value: str) -> int:
    """An integer written with ASCII digits (optional sign; no ``_``, no ``1e3``)."""
    text = _text(value, "an integer")
    if not _INT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected an integer, got {value!r}")
    return int(text)


def parse_float(value: str) -> float:
    """A finite float written with ASCII characters (``nan`` and ``inf`` refused)."""
    text = _text(value, "a number")
    if not _FLOAT.fullmatch(text):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value!r}")
    x = float(text)
    if not math.isfinite(x):  # e.g. 1e999
        raise argparse.ArgumentTypeError(f"expected a finite number, got {value!r}")
    return x


def int_range(low: int | None = None, high: int | None = None, name: str = "") -> Callable[[str], int]:
    """A ``type=`` for integers in ``[low, high]`` (either bound may be ``None``)."""
    def check(value: str) -> int:
        x = parse_int(value)
        if (low is not None and x < low) or (high is not None and x > high):
            raise argparse.ArgumentTypeError(f"must be {_bounds(low, high)}, got {x}")
        return x

    check.__name__ = name or f"int_range({low}, {high})"
    return check


def float_range(low: float | None = None, high: float | None = None, *, low_open: bool = False,
                high_open: bool = False, name: str = "") -> Callable[[str], float]:
    """A ``type=`` for finite floats in the interval from ``low`` to ``high`` (closed
    unless ``low_open``/``high_open``; either bound may be ``None``)."""
    def check(value: str) -> float:
        x = parse_float(value)
        bad = ((low is not None and (x < low or (low_open and x == low)))
               or (high is not None and (x > high or (high_open and x == high))))
        if bad:
            raise argparse.ArgumentTypeError(
                f"must be {_bounds(low, high, low_open, high_open)}, got {value.strip()}")
        return x

    check.__name__ = name or f"float_range({low}, {high})"
    return check


def _bounds(low, high, low_open: bool = False, high_open: bool = False) -> str:
    def num(x) -> str:
        return str(x) if isinstance(x, int) else f"{x:g}"

    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {num(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {num(high)}")
    return " and ".join(parts) if parts else "a number"


positive_int = int_range(1, name="positive_int")
nonnegative_int = int_range(0, name="nonnegative_int")
positive_float = float_range(0.0, low_open=True, name="positive_float")
nonnegative_float = float_range(0.0, name="nonnegative_float")
finite_float = float_range(name="finite_float")
seed = int_range(0, SEED_MAX, name="seed")


def layer_shape(value: str) -> str:
    """``MxN`` with positive ASCII integers (returned unchanged for the library parser)."""
    text = _text(value, "a shape MxN")
    mt = re.fullmatch(r"([0-9]{1,7})[xX]([0-9]{1,7})", text, flags=re.ASCII)
    if not mt or int(mt.group(1)) < 1 or int(mt.group(2)) < 1:
        raise argparse.ArgumentTypeError(f"bad shape {value!r}: expected MxN with positive "
                                         "integers (outputs x inputs), e.g. 68x70")
    return text
