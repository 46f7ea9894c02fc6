"""Progress bars: one helper, shown only where someone can watch them.

Every ``tqdm`` bar in metasym comes from :func:`progress_bar`. A bar is drawn only when it
is wanted *and* stderr is a terminal: redirected to a file or a pipe (a log, CI), a bar
would be hundreds of kilobytes of ``\\r`` lines. ``show="always"`` (``--progress`` on the
command line) draws it anyway::

    with progress_bar(total=1000, show=True, desc="rank1 msr-fc", unit="step") as bar:
        bar.update(1)
"""

from __future__ import annotations

import sys
from typing import Any, Literal

__all__ = ["progress_bar", "wants_bar", "Show"]

#: ``False``: never; ``True``: on a terminal only; ``"always"``: even when redirected.
Show = bool | Literal["always"]


def wants_bar(show: Show, stream: Any = None) -> bool:
    """Whether a bar is drawn: ``show == "always"``, or ``show`` and ``stream`` (default
    ``sys.stderr``) is a terminal."""
    if show == "always":
        return True
    if not show:
        return False
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(total: int, show: Show = True, **kw: Any) -> Any:
    """A ``tqdm`` bar on stderr, disabled unless :func:`wants_bar`; ``kw`` goes to tqdm."""
    from tqdm import tqdm

    kw.setdefault("dynamic_ncols", True)
    return tqdm(total=total, file=sys.stderr, disable=not wants_bar(show), **kw)
