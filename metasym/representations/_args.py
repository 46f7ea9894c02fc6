"""Argument checks shared by the public constructors of this layer: integers that are
really integers (not bools or floats), and sizes checked before anything is allocated."""

from __future__ import annotations

import numpy as np

from metasym.errors import SpecError, TooLargeError

__all__ = ["PATTERN_CELL_LIMIT", "integer", "check_cells", "seed", "rng", "real_array"]

#: Most entries ``m * n`` of a sharing pattern built by a named constructor (the full
#: pattern it is cut from included). Measured on a 2-core machine: ``conv1d(5000, 3)``
#: (25 million cells) takes about 5 s and 1.3 GB; ``conv2d(64, 64, 3)`` (16.8 million
#: cells) about 5 s and 1.6 GB.
PATTERN_CELL_LIMIT = 25_000_000


def integer(value: object, name: str, minimum: int | None = None) -> int:
    """``value`` as an int; TypeError for anything but an integer (bools and floats
    included), :class:`SpecError` below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}")
    if minimum is not None and value < minimum:
        raise SpecError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def seed(value: object, name: str = "seed") -> int:
    """A seed for ``numpy.random.default_rng``: a non-negative integer."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a non-negative integer, got {type(value).__name__} "
                        f"{value!r}")
    if value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value}")
    return int(value)


def rng(value: object, name: str = "rng") -> np.random.Generator:
    """``numpy.random.default_rng(value)`` for ``None``, a seed or a Generator, with an
    error naming ``name`` otherwise."""
    if value is None or isinstance(value, np.random.Generator):
        return np.random.default_rng(value)
    return np.random.default_rng(seed(value, name))


def check_cells(m: int, n: int, what: str, limit: int = PATTERN_CELL_LIMIT) -> None:
    """Refuse an ``m x n`` pattern above ``limit`` entries, before allocating it."""
    if m * n > limit:
        raise TooLargeError(f"{what} needs a {m} x {n} pattern ({m * n} entries), above "
                            f"the limit of {limit}")


_KIND_WORDS = {"b": "bool", "i": "integer", "u": "unsigned integer", "f": "float",
               "c": "complex", "O": "object", "U": "string", "S": "bytes", "M": "datetime",
               "m": "timedelta", "V": "structured"}


def real_array(value: object, name: str) -> np.ndarray:
    """``value`` as a numpy array of real numbers (bool, integer or float dtype, kept as
    given); a ``TypeError`` naming ``name`` and the dtype for anything else -- object
    arrays (``None``, strings, mixed Python objects), ragged lists, strings, complex
    numbers, datetimes."""
    try:
        arr = np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise TypeError(f"{name} must be an array of real numbers, got "
                        f"{type(value).__name__} that numpy cannot read as one ({msg[:120]})") \
            from None
    if arr.dtype.kind not in "biuf":
        words = _KIND_WORDS.get(arr.dtype.kind, str(arr.dtype))
        raise TypeError(f"{name} must be an array of real numbers (bool, integer or float), "
                        f"got dtype {arr.dtype} ({words})")
    return arr
