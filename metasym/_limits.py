"""Limits for exact computations: time limits for work whose cost is hard to predict from
the input (Schreier-Sims on unusual generating sets), and a memory budget for arrays whose
size is known before they are allocated. Both stop with a one-line
:class:`~metasym.errors.TooLargeError` that says how to raise the limit; nothing hangs and
nothing is killed by the operating system half way.
"""

from __future__ import annotations

import math
import os
import re
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from metasym.envvars import MAX_MEMORY, MAX_SECONDS, env_value
from metasym.errors import SpecError, TooLargeError

__all__ = ["time_limit", "default_seconds", "memory_budget", "check_memory", "parse_bytes",
           "format_bytes", "MEMORY_FRACTION", "FALLBACK_MEMORY"]

#: Share of the available memory one computation may plan to use by default.
MEMORY_FRACTION = 0.5
#: Budget assumed when the available memory cannot be read (no ``/proc/meminfo``).
FALLBACK_MEMORY = 4 * 2**30

#: Requests this small pass :func:`check_memory` without reading the available memory.
_ALWAYS_FITS = 64 * 2**20

_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def default_seconds() -> float:
    """Seconds allowed for one such computation: ``METASYM_TIME_LIMIT`` or 60 (a malformed
    value is a one-line :class:`~metasym.errors.EnvironmentVariableError`)."""
    value = env_value("METASYM_TIME_LIMIT")
    return 60.0 if value is None else float(value)


@contextmanager
def time_limit(what: str, seconds: float | None = None) -> Iterator[None]:
    """Raise :class:`TooLargeError` naming ``what`` if the block runs past ``seconds``.

    Uses ``SIGALRM`` (main thread on POSIX); elsewhere the block runs unguarded.
    ``seconds`` must be a number > 0 (``inf``: no limit); ``None`` reads
    ``METASYM_TIME_LIMIT``.
    """
    seconds = default_seconds() if seconds is None else seconds
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or math.isnan(seconds) or seconds <= 0:
        raise ValueError(f"time limit must be a number of seconds > 0, got {seconds!r}")
    if seconds > MAX_SECONDS:  # setitimer overflows past ~1e8 s: beyond this, no limit
        yield
        return
    usable = (hasattr(signal, "setitimer")
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


def parse_bytes(text: str) -> int:
    """Bytes from ``"123456"``, ``"512M"``, ``"4G"``, ``"1.5GiB"`` (binary units K, M, G, T;
    case and a trailing ``B`` / ``iB`` are ignored).

    >>> parse_bytes("4G"), parse_bytes("512mb"), parse_bytes("1000")
    (4294967296, 536870912, 1000)
    """
    mt = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([kmgt]?)(?:i?b)?\s*", str(text),
                      re.IGNORECASE | re.ASCII)
    nbytes = float(mt.group(1)) * _UNITS[mt.group(2).upper()] if mt else math.nan
    if not math.isfinite(nbytes) or nbytes > MAX_MEMORY:  # 400 digits: float inf
        raise SpecError(f"bad memory size {str(text)[:40]!r}: expected bytes or a number with "
                        "K, M, G or T (e.g. 4G), at most 1 EiB")
    return int(nbytes)


def format_bytes(nbytes: float) -> str:
    """``"1.5 GiB"`` style, for messages."""
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= size:
            return f"{nbytes / size:.1f} {unit}"
    return f"{int(nbytes)} B"


def _available_memory() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo``, lowered to what a cgroup (v2) limit leaves;
    ``None`` where neither can be read."""
    avail = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        avail = None
    try:  # a container's limit can be far below the machine's free memory
        with open("/sys/fs/cgroup/memory.max") as f:
            limit = f.read().strip()
        with open("/sys/fs/cgroup/memory.current") as f:
            used = int(f.read().strip())
        if limit != "max":
            left = max(int(limit) - used, 0)
            avail = left if avail is None else min(avail, left)
    except (OSError, ValueError):
        pass
    return avail


def memory_budget() -> int:
    """Bytes one computation may plan to allocate.

    ``METASYM_MEMORY_LIMIT`` (bytes, or with a suffix: ``4G``, ``512M``) if set; else
    :data:`MEMORY_FRACTION` of the available memory (``MemAvailable`` in ``/proc/meminfo``,
    or what a cgroup limit leaves, whichever is smaller); else :data:`FALLBACK_MEMORY`.
    Read at every call, so a changed environment variable takes effect at once.
    """
    value = env_value("METASYM_MEMORY_LIMIT")
    if value is not None:
        return int(value)
    avail = _available_memory()
    return FALLBACK_MEMORY if avail is None else int(avail * MEMORY_FRACTION)


def check_memory(nbytes: float, what: str) -> None:
    """Raise :class:`TooLargeError` (one line, before anything is allocated) if ``what``
    would need more than :func:`memory_budget` bytes.

    The message reads, for example: ``a test array needs about 2.0 MiB of memory, more
    than the budget of 1.0 MiB (METASYM_MEMORY_LIMIT=1M; raise it, e.g.
    METASYM_MEMORY_LIMIT=3M)``: the suggested value is a quarter above the need.
    """
    if nbytes <= _ALWAYS_FITS and os.environ.get("METASYM_MEMORY_LIMIT") is None:
        return  # small: not worth reading /proc at every call
    budget = memory_budget()
    if nbytes <= budget:
        return
    env = os.environ.get("METASYM_MEMORY_LIMIT", "").strip()
    source = (f"METASYM_MEMORY_LIMIT={env}" if env
              else f"{MEMORY_FRACTION:.0%} of the available memory")
    raise TooLargeError(f"{what} needs about {format_bytes(nbytes)} of memory, more than the "
                        f"budget of {format_bytes(budget)} ({source}; raise it, e.g. "
                        f"METASYM_MEMORY_LIMIT={_suggested_limit(nbytes)})")


def _suggested_limit(nbytes: float) -> str:
    """A ``METASYM_MEMORY_LIMIT`` value a quarter above ``nbytes``, in whole MiB or GiB
    (always more than the need, so more than the budget that refused it)."""
    want = nbytes * 1.25
    if want < 2 ** 30:
        return f"{math.ceil(want / 2 ** 20)}M"
    return f"{math.ceil(want / 2 ** 30)}G"
