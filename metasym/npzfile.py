"""Reading ``.npz`` archives safely: nothing is unpickled, and every problem with a file
(missing, truncated, not a zip, an unsupported compression, a bare ``.npy``, a missing
array) is one :class:`~metasym.errors.MetasymError` that names the file."""

from __future__ import annotations

import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from metasym.errors import MetasymError

__all__ = ["read_npz"]


def read_npz(path: str | Path, required: Sequence[str] = (), what: str = "") -> dict[str, np.ndarray]:
    """All arrays of an ``.npz`` archive, loaded with ``allow_pickle=False``.

    Parameters
    ----------
    path
        The file.
    required
        Names that must be present (a one-line error lists what was found otherwise).
    what
        What the archive should hold, for the error messages (e.g. ``"x and y"``).
    """
    path = Path(path)
    try:
        f = np.load(path, allow_pickle=False)
        if not isinstance(f, np.lib.npyio.NpzFile):
            expected = f" with {what}" if what else ""
            raise MetasymError(f"{path}: a single .npy array, not an .npz archive{expected}")
        with f:
            missing = [k for k in required if k not in f.files]
            if missing:
                raise MetasymError(f"{path}: missing array(s) {', '.join(missing)} "
                                   f"(found: {', '.join(f.files) or 'none'})")
            return {k: f[k] for k in f.files}
    except MetasymError:
        raise
    except FileNotFoundError:
        raise MetasymError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MetasymError(f"{path}: is a directory, expected an .npz file") from None
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile,
            NotImplementedError, RuntimeError, zlib.error) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{path}: not a readable .npz file ({msg})") from None
