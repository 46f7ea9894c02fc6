"""Reading and writing files safely.

**Reading.** Every file metasym reads from a path the user gives (``--data``, ``--U``,
``--pattern``, run folders, data-set folders, caches) is opened with
:func:`open_regular`, which refuses anything that is not a regular file -- a FIFO such as
``<(zcat ...)``, ``/dev/zero``, ``/dev/urandom``, a socket, a folder -- in one line
*before reading a byte* (it is opened non-blocking, so a FIFO without a writer cannot
hang it, and checked with ``fstat`` on the open descriptor, so nothing can be swapped in
between the check and the read). Text files are read with :func:`read_text_file`, under a
size limit.

**Writing.** Atomically, through links never, with the user's umask.

Every file metasym writes (run files, ``--save``, ``--plot``, ``--cayley``) goes through
:func:`atomic_write`: the content is written to a temporary file in the target folder,
flushed and ``fsync``-ed, and renamed over the path with ``os.replace``. A crash
leaves the old file or the new one, never a torn one, and a symbolic link at the path is
replaced by the new file (its target is never written through).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from metasym.errors import MetasymError, WriteError

__all__ = ["atomic_write", "atomic_write_text", "fsync_dir", "current_umask", "open_regular",
           "check_regular_file", "read_text_file", "read_json_file", "path_errors", "write_error", "check_name_lengths", "file_kind", "os_error_words",
           "MAX_TEXT_BYTES"]

#: Largest text file (``config.json``, ``final.json``, ``metrics.jsonl``, split CSVs) read
#: by :func:`read_text_file` unless told otherwise.
MAX_TEXT_BYTES = 256 * 2**20


def file_kind(mode: int) -> str:
    """Words for the kind of file ``mode`` (an ``st_mode``) is, for messages."""
    for test, words in ((stat.S_ISREG, "a regular file"), (stat.S_ISDIR, "a folder"),
                        (stat.S_ISFIFO, "a pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a regular file"


def os_error_words(e: OSError) -> str:
    """A short reason for an ``OSError`` (``too many levels of symbolic links``, ``file
    name too long``, ...), for one-line messages."""
    if e.errno == errno.ELOOP:
        return "a loop of symbolic links"
    if e.errno == errno.ENAMETOOLONG:
        return "a name longer than the file system allows"
    return (e.strerror or str(e) or type(e).__name__).lower()


def check_name_lengths(path: str | Path) -> None:
    """Raise ``OSError(ENAMETOOLONG)`` if a component of ``path`` is longer than the file
    system of its nearest existing folder allows (``NAME_MAX``, 255 bytes if unknown), so
    that nothing is created before the name is found too long."""
    path = Path(path)
    base = Path(path.anchor or ".")
    limit = 255
    with contextlib.suppress(OSError, ValueError, AttributeError):
        limit = os.pathconf(base, "PC_NAME_MAX")
    for part in path.parts:
        if part != path.anchor and len(os.fsencode(part)) > limit:
            raise OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG), str(path))


@contextmanager
def path_errors(path: str | Path, doing: str) -> Iterator[None]:
    """Turn what the operating system says about a path inside the block -- a loop of
    symbolic links (``OSError`` ``ELOOP``, or the ``RuntimeError`` of Python 3.11's
    ``Path.resolve``), a name longer than the file system allows (``ENAMETOOLONG``), no
    permission, ... -- into one :class:`~metasym.errors.MetasymError`: ``PATH: cannot
    DOING (REASON)``."""
    try:
        yield
    except MetasymError:
        raise
    except OSError as e:
        raise MetasymError(f"{path}: cannot {doing} ({os_error_words(e)})") from None
    except RuntimeError as e:
        if "symlink loop" not in str(e).lower():
            raise
        raise MetasymError(f"{path}: cannot {doing} (a loop of symbolic links)") from None


def open_regular(path: str | Path, what: str = "a file") -> BinaryIO:
    """Open ``path`` for reading in binary mode, refusing, before anything is read,
    whatever is not a regular file (links are followed).

    A FIFO, a character or block device (``/dev/zero``, ``/dev/urandom``), a socket or a
    folder is one :class:`~metasym.errors.MetasymError`: ``PATH: a pipe (FIFO), not a
    regular file; expected WHAT``. The file is first ``stat``-ed (devices are never even
    opened), then opened with ``O_NONBLOCK`` (opening a FIFO cannot block) and checked
    again with ``fstat`` on the descriptor that will be read, so the answer holds for what
    is read. Missing files and files that cannot be opened are one line too."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise MetasymError(f"{path}: no such file (expected {what})") from None
    except OSError as e:
        raise MetasymError(f"{path}: cannot be read ({os_error_words(e)})") from None
    except ValueError as e:  # an embedded NUL
        raise MetasymError(f"{path!r}: not a usable file name ({e})") from None
    if not stat.S_ISREG(mode):
        raise MetasymError(f"{path}: {file_kind(mode)}, not a regular file; expected {what}")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise MetasymError(f"{path}: no such file (expected {what})") from None
    except OSError as e:
        raise MetasymError(f"{path}: cannot be read ({os_error_words(e)})") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):  # swapped between the two checks
            raise MetasymError(f"{path}: {file_kind(mode)}, not a regular file; expected {what}")
        if flags & getattr(os, "O_NONBLOCK", 0):
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular_file(path: str | Path, what: str = "a file") -> Path:
    """Raise what :func:`open_regular` raises unless ``path`` is a readable regular file;
    returns ``path``. For readers that need a file name (they open it themselves)."""
    with open_regular(path, what):
        pass
    return Path(path)


def read_text_file(path: str | Path, what: str = "a text file", *,
                   max_bytes: int = MAX_TEXT_BYTES, errors: str = "strict") -> str:
    """The UTF-8 text of the regular file ``path`` (see :func:`open_regular`), refused in
    one line when it is larger than ``max_bytes``, cannot be read or (with
    ``errors="strict"``) is not UTF-8."""
    path = Path(path)
    with open_regular(path, what) as f:
        try:
            data = f.read(max_bytes + 1)
        except OSError as e:
            raise MetasymError(f"{path}: cannot be read ({os_error_words(e)})") from None
    if len(data) > max_bytes:
        raise MetasymError(f"{path}: larger than {max_bytes} bytes, too large for {what}")
    try:
        return data.decode("utf-8", errors=errors)
    except UnicodeDecodeError as e:
        raise MetasymError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start}); "
                           f"expected {what}") from None


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


def read_json_file(path: str | Path, what: str = "a JSON file", *,
                   max_bytes: int = MAX_TEXT_BYTES) -> object:
    """The JSON value of the regular file ``path`` (:func:`read_text_file`); a corrupt
    file, or one nested so deeply that the parser would recurse past Python's limit, is
    one :class:`~metasym.errors.MetasymError` (``PATH: corrupt JSON (...)``)."""
    path = Path(path)
    text = read_text_file(path, what, max_bytes=max_bytes)
    try:
        return json.loads(text)
    except RecursionError:
        raise MetasymError(f"{path}: corrupt JSON (nested too deeply); expected {what}") \
            from None
    except ValueError as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{path}: corrupt JSON ({msg[:200]}); expected {what}") from None


def write_error(path: str | Path, e: BaseException) -> WriteError:
    """The one-line :class:`~metasym.errors.WriteError` for ``path`` that could not be
    written because of ``e`` (``ENOSPC``, ``EFBIG``, ...)."""
    if not isinstance(e, OSError):  # e.g. safetensors: "I/O error: ... (os error 27)"
        code = re.search(r"os error (\d+)", str(e))
        if code:
            e = OSError(int(code.group(1)), os.strerror(int(code.group(1))))
    reason = (os_error_words(e) if isinstance(e, OSError)
              else (str(e).splitlines() or [type(e).__name__])[0][:200])
    return WriteError(path, f"{path}: could not be written ({reason})")


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
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, OSError) and not isinstance(e, WriteError):
            raise write_error(path, e) from None  # a full disk, a file-size limit (EFBIG)
        raise
    fsync_dir(parent)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` for a text file (UTF-8)."""
    return atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
