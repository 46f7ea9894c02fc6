"""Time limits for exact computations whose cost is hard to predict from the input
(Schreier-Sims on unusual generating sets): they stop with a clear error, never hang."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from metasym.errors import TooLargeError

__all__ = ["time_limit", "default_seconds"]


def default_seconds() -> float:
    """Seconds allowed for one such computation: ``METASYM_TIME_LIMIT`` or 60."""
    try:
        return float(os.environ.get("METASYM_TIME_LIMIT", "60"))
    except ValueError:
        return 60.0


@contextmanager
def time_limit(what: str, seconds: float | None = None) -> Iterator[None]:
    """Raise :class:`TooLargeError` naming ``what`` if the block runs past ``seconds``.

    Uses ``SIGALRM`` (main thread on POSIX); elsewhere the block runs unguarded.
    """
    seconds = default_seconds() if seconds is None else seconds
    usable = (hasattr(signal, "setitimer") and seconds > 0
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _expired(signum, frame):
        raise TooLargeError(f"{what} took longer than {seconds:g} s and was stopped "
                            "(raise METASYM_TIME_LIMIT to allow more)")

    previous = signal.signal(signal.SIGALRM, _expired)
    old_timer = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if old_timer[0] > 0:  # an outer limit was running: restore what is left of it
            signal.setitimer(signal.ITIMER_REAL, max(old_timer[0], 1e-3))
