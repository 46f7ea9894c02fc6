"""Reading ``.npz`` archives safely: nothing is unpickled, nothing is decompressed before
it is known to fit, only regular files are opened (a FIFO or ``/dev/zero`` is refused
before a byte is read: :func:`metasym.files.open_regular`), and every problem with a file (missing, truncated, not a zip, an
unsupported compression, a bare ``.npy``, a missing array, an array of the wrong layout,
more data than allowed) is one :class:`~metasym.errors.MetasymError` that names the file.

**Headers first.** Each array's ``.npy`` header (shape, dtype, order) is read from its zip
member, decompressing only the few hundred bytes of the header, and checked against the
expected layout (names, dimensions, dtype kinds) and the byte budget ``max_bytes``
*before* any array data is decompressed: a 3 MB archive that would expand to gigabytes,
or a header declaring shape ``(10**6, 20, 1, 10**6)``, is refused in one line. Object
dtypes (which need pickle) are refused.
"""

from __future__ import annotations

import math
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.lib import format as npformat

from metasym.errors import MetasymError, TooLargeError
from metasym.files import open_regular

__all__ = ["read_npz", "read_npz_headers", "ArrayHeader", "MAX_NPZ_BYTES", "MAX_NPZ_MEMBERS"]

#: Default budget for the decompressed arrays of one archive, in bytes (2 GiB).
MAX_NPZ_BYTES = 2 * 1024**3
#: Most members an archive may have.
MAX_NPZ_MEMBERS = 10_000
_NPY_MAGIC = b"\x93NUMPY"


class ArrayHeader:
    """What an ``.npy`` header declares: ``shape``, ``dtype``, ``fortran_order``, and
    ``nbytes`` (exact, as a Python int: no overflow for absurd shapes)."""

    __slots__ = ("name", "shape", "dtype", "fortran_order", "nbytes")

    def __init__(self, name: str, shape: tuple[int, ...], dtype: np.dtype,
                 fortran_order: bool) -> None:
        self.name, self.shape, self.dtype = name, tuple(int(s) for s in shape), dtype
        self.fortran_order = bool(fortran_order)
        self.nbytes = math.prod(self.shape) * int(dtype.itemsize)

    def __repr__(self) -> str:
        return f"ArrayHeader({self.name!r}, shape={self.shape}, dtype={self.dtype})"


def _check_args(required: Sequence[str], ndims: Mapping[str, object] | None,
                kinds: Mapping[str, str] | None, max_bytes: int) -> None:
    if isinstance(required, str):
        raise TypeError(f"required must be a sequence of names, not a string ({required!r})")
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
        raise ValueError(f"max_bytes must be a non-negative integer, got {max_bytes!r}")
    for arg, value in (("ndims", ndims), ("kinds", kinds)):
        if value is not None and not isinstance(value, Mapping):
            raise TypeError(f"{arg} must be a mapping from array name, got "
                            f"{type(value).__name__}")


def read_npz_headers(path: str | Path) -> dict[str, ArrayHeader]:
    """The ``.npy`` headers of every array of an archive, without decompressing data.

    Raises :class:`~metasym.errors.MetasymError` (naming the file) for anything that is
    not a readable ``.npz`` archive of plain (non-object) arrays.
    """
    path = Path(path)
    with _errors(path), open_regular(path, "an .npz archive") as fh:
        start = fh.read(len(_NPY_MAGIC))
        if start == _NPY_MAGIC:
            raise MetasymError(f"{path}: a single .npy array, not an .npz archive")
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            return _headers(path, zf)


def _headers(path: Path, zf: zipfile.ZipFile) -> dict[str, ArrayHeader]:
    infos = zf.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise TooLargeError(f"{path}: {len(infos)} members, above the limit of "
                            f"{MAX_NPZ_MEMBERS}")
    out: dict[str, ArrayHeader] = {}
    for info in infos:
        if info.is_dir():
            continue
        name = _name(info.filename)
        with zf.open(info) as fp:
            try:
                version = npformat.read_magic(fp)
                if version == (1, 0):
                    shape, fortran, dtype = npformat.read_array_header_1_0(fp)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npformat.read_array_header_2_0(fp)
                else:
                    raise ValueError(f"unsupported .npy version {version}")
            except (ValueError, SyntaxError, TypeError, EOFError) as e:
                msg = str(e).splitlines()[0] if str(e) else type(e).__name__
                raise MetasymError(f"{path}: member {info.filename!r} is not a .npy array "
                                   f"({msg[:200]})") from None
        if dtype.hasobject:
            raise MetasymError(f"{path}: array {name!r} has an object dtype ({dtype}), not "
                               "readable without pickle (never used): only plain arrays "
                               "are read")
        if any(s < 0 for s in shape):
            raise MetasymError(f"{path}: array {name!r} declares a negative shape {shape}")
        out[name] = ArrayHeader(name, shape, dtype, fortran)
    return out


def _layout_errors(path: Path, headers: Mapping[str, ArrayHeader],
                   ndims: Mapping[str, object] | None, kinds: Mapping[str, str] | None) -> None:
    for key, want in (ndims or {}).items():
        h = headers.get(key)
        if h is None:
            continue
        allowed = (want,) if isinstance(want, int) else tuple(want)  # type: ignore[arg-type]
        if len(h.shape) not in allowed:
            expect = " or ".join(str(a) for a in allowed)
            raise MetasymError(f"{path}: array {key!r} has {len(h.shape)} dimensions "
                               f"{h.shape}, expected {expect}")
    for key, want in (kinds or {}).items():
        h = headers.get(key)
        if h is not None and h.dtype.kind not in want:
            raise MetasymError(f"{path}: array {key!r} has dtype {h.dtype}, expected kind "
                               f"{'/'.join(want)} ({_kind_words(want)})")


def _kind_words(kinds: str) -> str:
    words = {"b": "bool", "i": "int", "u": "unsigned", "f": "float", "c": "complex"}
    return ", ".join(words.get(k, k) for k in kinds)


def read_npz(path: str | Path, required: Sequence[str] = (), what: str = "", *,
             ndims: Mapping[str, int | Sequence[int]] | None = None,
             kinds: Mapping[str, str] | None = None,
             max_bytes: int = MAX_NPZ_BYTES) -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, loaded with ``allow_pickle=False`` after their
    headers passed every check.

    Parameters
    ----------
    path
        The file.
    required
        Names that must be present (a one-line error lists what was found otherwise).
    what
        What the archive should hold, for the error messages (e.g. ``"x and y"``).
    ndims
        ``{name: allowed number(s) of dimensions}`` for arrays that must have a layout.
    kinds
        ``{name: allowed dtype kinds}``, numpy kind letters such as ``"fiu"`` (float,
        signed, unsigned integer) or ``"b"`` (bool).
    max_bytes
        Most bytes all arrays together may take once decompressed (default
        :data:`MAX_NPZ_BYTES`); checked from the headers before anything is
        decompressed.

    Raises
    ------
    MetasymError
        Any problem with the file (one line naming it); :class:`TooLargeError` when the
        arrays would pass ``max_bytes``.
    """
    _check_args(required, ndims, kinds, max_bytes)
    path = Path(path)
    with _errors(path), open_regular(path, "an .npz archive") as fh:
        start = fh.read(len(_NPY_MAGIC))
        if start == _NPY_MAGIC:
            expected = f" with {what}" if what else ""
            raise MetasymError(f"{path}: a single .npy array, not an .npz archive{expected}")
        fh.seek(0)
        with zipfile.ZipFile(fh) as zf:
            names = [_name(i.filename) for i in zf.infolist() if not i.is_dir()]
            missing = [k for k in required if k not in names]
            if missing:
                shown = ", ".join(names[:20]) + (f" ... ({len(names)} in all)"
                                                 if len(names) > 20 else "")
                raise MetasymError(f"{path}: missing array(s) {', '.join(missing)} "
                                   f"(found: {shown or 'none'})")
            headers = _headers(path, zf)
            _layout_errors(path, headers, ndims, kinds)
            total = sum(h.nbytes for h in headers.values())
            if total > max_bytes:
                big = max(headers.values(), key=lambda h: h.nbytes)
                raise TooLargeError(
                    f"{path}: the arrays would take {_size(total)} once decompressed "
                    f"(largest {big.name!r}, shape {big.shape}, {big.dtype}), above the "
                    f"limit of {_size(max_bytes)}")
            out = {}
            for info in zf.infolist():
                if info.is_dir():
                    continue
                name = _name(info.filename)
                with zf.open(info) as fp:
                    arr = npformat.read_array(fp, allow_pickle=False)
                if arr.shape != headers[name].shape:
                    raise MetasymError(f"{path}: array {name!r} is truncated")
                out[name] = arr
            return out


def _name(member: str) -> str:
    return member[:-4] if member.endswith(".npy") else member


def _size(n: int) -> str:
    for unit, f in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= f:
            return f"{n / f:.3g} {unit}"
    return f"{n} bytes"


class _errors:
    """Turn every way reading a file can fail into one MetasymError naming it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, e, tb) -> bool:
        if e is None or isinstance(e, MetasymError):
            return False
        path = self.path
        if isinstance(e, FileNotFoundError):
            raise MetasymError(f"{path}: no such file") from None
        if isinstance(e, IsADirectoryError):
            raise MetasymError(f"{path}: is a directory, expected an .npz file") from None
        if isinstance(e, MemoryError):
            raise TooLargeError(f"{path}: not enough memory to read it") from None
        if isinstance(e, (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile,
                          NotImplementedError, RuntimeError, zlib.error, OverflowError)):
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise MetasymError(f"{path}: not a readable .npz file ({msg[:200]})") from None
        return False
