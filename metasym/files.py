"""Writing files safely: atomically, through links never, with the user's umask.

Every file metasym writes (run files, ``--save``, ``--plot``, ``--cayley``) goes through
:func:`atomic_write`: the content is written to a temporary file in the target folder,
flushed and ``fsync``-ed, and renamed over the path with ``os.replace``. A crash
leaves the old file or the new one, never a torn one, and a symbolic link at the path is
replaced by the new file (its target is never written through).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from metasym.errors import MetasymError

__all__ = ["atomic_write", "atomic_write_text", "fsync_dir", "current_umask"]


def current_umask() -> int:
    """The process umask (read without changing it for longer than one call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_dir(folder: str | Path) -> None:
    """``fsync`` a folder, so a rename inside it survives a crash (no-op where folders
    cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Create or replace ``path`` atomically: ``write(tmp_name)`` fills a temporary file in
    the same folder, which is fsync-ed, given the mode the umask allows (``0666 & ~umask``,
    as ``open`` would) and renamed over ``path``; then the folder is fsync-ed.

    A link at ``path`` is replaced, not followed. An existing folder at ``path`` or a
    missing or read-only parent folder is one :class:`~metasym.errors.MetasymError`.
    Returns ``path``."""
    path = Path(path)
    if str(path) in ("", "."):
        raise MetasymError("no file name given")
    if path.is_dir() and not path.is_symlink():
        raise MetasymError(f"{path} is a directory, not a file name")
    parent = path.parent
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except FileNotFoundError:
        raise MetasymError(f"{path}: the folder {parent} does not exist") from None
    except OSError as e:
        raise MetasymError(f"{path}: cannot write in {parent} ({e.strerror})") from None
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~current_umask())  # mkstemp makes 0600 whatever the umask
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    fsync_dir(parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` for a text file (UTF-8)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
