"""Reading what ``metasym discover`` works on: pattern files, ``U`` files, run folders.

Every file is read with ``np.load(allow_pickle=False)``; anything unreadable or
malformed raises :class:`~metasym.errors.MetasymError` with one line naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metasym.errors import MetasymError
from metasym.npzfile import read_npz
from metasym.representations import SharingPattern

__all__ = ["Source", "load_pattern_file", "load_U_file", "load_run", "parse_shape"]


@dataclass
class Source:
    """What was read: a pattern, or a matrix to cluster (``U`` ``(m*n, k)``, or weights
    ``(T, m, n)``), plus a reference group from a run's config when there is one."""

    kind: str  # "pattern" | "U" | "weights"
    path: str
    pattern: SharingPattern | None = None
    matrix: np.ndarray | None = None
    shape: tuple[int, int] | None = None
    reference: tuple[str, str, str] | None = None  # (group, in action, out action)
    notes: list[str] = field(default_factory=list)


def parse_shape(text: str) -> tuple[int, int]:
    """``"68x70"`` -> ``(68, 70)`` (outputs x inputs)."""
    mt = re.fullmatch(r"\s*([0-9]{1,7})\s*[xX]\s*([0-9]{1,7})\s*", text or "")  # ASCII only
    if not mt or int(mt.group(1)) < 1 or int(mt.group(2)) < 1:
        raise MetasymError(f"bad shape {text!r}: expected MxN (outputs x inputs), e.g. 68x70")
    return int(mt.group(1)), int(mt.group(2))


def _npz(path: str | Path) -> dict[str, np.ndarray]:
    return read_npz(path)


def load_pattern_file(path: str | Path) -> Source:
    """An ``.npz`` with ``labels`` (as written by ``metasym sharing --save``)."""
    return Source("pattern", str(path), pattern=SharingPattern.load(path))


def load_U_file(path: str | Path, shape: tuple[int, int] | None = None) -> Source:
    """An ``.npz`` with ``U`` (``(m*n, k)``) or ``W`` (adapted weights ``(T, m, n)``).

    For ``U`` the layer shape comes from ``shape``, else an array ``shape`` (two
    integers) or ``labels`` (``(m, n)``) in the file."""
    data = _npz(path)
    if "W" in data and "U" not in data:
        W = np.asarray(data["W"])
        if W.ndim != 3 or W.dtype.kind not in "biuf":  # complex: never drop a part silently
            raise MetasymError(f"{path}: W must be a real (tasks, m, n) array, got shape "
                               f"{W.shape}, dtype {W.dtype}")
        return Source("weights", str(path), matrix=W.astype(np.float64),
                      shape=(int(W.shape[1]), int(W.shape[2])))
    if "U" not in data:
        raise MetasymError(f"{path}: no 'U' array (nor 'W') in the file; found "
                           f"{', '.join(sorted(data)) or 'nothing'}")
    U = np.asarray(data["U"])
    if U.ndim != 2 or U.dtype.kind not in "biuf":  # complex: never drop a part silently
        raise MetasymError(f"{path}: U must be a real 2-D (m*n, k) array, got shape {U.shape}, "
                           f"dtype {U.dtype}")
    if shape is None:
        if "shape" in data:
            sh = np.asarray(data["shape"]).ravel()
            if sh.size != 2 or not np.issubdtype(sh.dtype, np.integer) or (sh < 1).any():
                raise MetasymError(f"{path}: 'shape' must hold two positive integers")
            shape = (int(sh[0]), int(sh[1]))
        elif "labels" in data and np.asarray(data["labels"]).ndim == 2:
            shape = tuple(int(v) for v in data["labels"].shape)  # type: ignore[assignment]
        else:
            raise MetasymError(f"{path}: the layer shape is unknown: pass --shape MxN or store "
                               "an array 'shape' = [m, n] in the file")
    m, n = shape
    if U.shape[0] != m * n:
        raise MetasymError(f"{path}: U has {U.shape[0]} rows, but a {m}x{n} layer needs {m * n}")
    return Source("U", str(path), matrix=U.astype(np.float64), shape=(m, n))


def load_run(run_dir: str | Path, layer: str | None = None) -> Source:
    """The learned sharing matrix of a ``metasym train`` run folder, any problem kind.

    The engine's :func:`~metasym.learning.engine.learned_sharing` asks the run's problem
    kind where its sharing lives: an MSR-FC layer's ``U``, an MSR-Conv run's kernel-sharing
    block (``|G| x k^2``), every MSR layer of a user's network (``layer`` picks one; the
    only one by default). The run's group and actions, when it has them, become the
    reference. An unfinished run is read at its checkpoint, with a note saying so."""
    from metasym.learning.engine import learned_sharing

    run = Path(run_dir)
    found, record = learned_sharing(run)
    names = [s.layer for s in found]
    if layer is None:
        if len(found) != 1:
            raise MetasymError(f"{run}: the run has {len(found)} learned sharing matrices "
                               f"({', '.join(names)}); choose one with --layer")
        chosen = found[0]
    else:
        hits = [s for s in found if s.layer == layer or (layer == "model" and s.layer == "")]
        if not hits:
            raise MetasymError(f"{run}: no layer {layer!r}; the run's sharing matrices are "
                               f"{', '.join(names)}")
        chosen = hits[0]
    notes = list(chosen.notes)
    status = record.status_note()
    if status:
        notes.insert(0, status)
    U = np.asarray(chosen.matrix, dtype=np.float64)
    if not np.isfinite(U).all():
        raise MetasymError(f"{run}: the learned U of layer {chosen.layer} holds NaN or infinity")
    return Source("U", str(run) if layer is None else f"{run} (layer {chosen.layer})",
                  matrix=U, shape=tuple(chosen.shape), reference=chosen.reference,
                  notes=notes)


def _read_checkpoint_U(path: Path, rows: int) -> np.ndarray:
    if not path.is_file():
        raise MetasymError(f"{path}: missing (was training interrupted?)")
    from metasym.files import open_regular

    with open_regular(path, "a safetensors checkpoint") as f:  # by bytes: any file name
        data = f.read()
    try:
        from safetensors.numpy import load

        state: dict[str, Any] = load(data)
    except Exception as e:  # safetensors raises its own error types
        raise MetasymError(f"{path}: cannot read checkpoint ({str(e).splitlines()[0]})") from None
    hits = [k for k, v in state.items() if (k == "U" or k.endswith(".U")) and v.ndim == 2
            and v.shape[0] == rows]
    if len(hits) != 1:
        raise MetasymError(f"{path}: expected one 2-D tensor named U with {rows} rows, found "
                           f"{hits or 'none'}")
    return np.asarray(state[hits[0]], dtype=np.float64)
