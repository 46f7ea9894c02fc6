"""Exceptions raised for user mistakes.

Every error a user can cause by bad input derives from :class:`MetasymError`; the command
line turns it into one line on stderr and exit status 2 (never a traceback).
"""

from __future__ import annotations

__all__ = [
    "MetasymError",
    "SpecError",
    "NotAHomomorphismError",
    "TooLargeError",
    "MismatchError",
    "EnvironmentVariableError",
    "WriteError",
    "did_you_mean",
]


def did_you_mean(word: str, choices) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``choices`` to a mistyped ``word``
    (``difflib.get_close_matches``), or ``""`` when none is close."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=2, cutoff=0.6)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


class MetasymError(ValueError):
    """Base class of all errors caused by bad input."""


class SpecError(MetasymError):
    """A spec string (group, action, support) is malformed or unknown."""


class NotAHomomorphismError(MetasymError):
    """Generator images do not define a homomorphism (they break a relation of the group)."""


class TooLargeError(MetasymError):
    """An operation would enumerate a group or build a matrix beyond a documented limit."""


class MismatchError(MetasymError):
    """Objects that must agree (groups, degrees, shapes) do not."""


class WriteError(MetasymError, OSError):
    """A file could not be written (a full disk, a file-size limit, an I/O error); ``path``
    is the file. The old content of ``path``, if any, is intact (writes are atomic). Also
    an ``OSError``, so code that catches those still does."""

    def __init__(self, path: object, message: str) -> None:
        super().__init__(message)
        self.path = path

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class EnvironmentVariableError(SpecError):
    """A ``METASYM_*`` environment variable holds a malformed value (see
    ``metasym.envvars``)."""
