"""What every table of ``metasym reproduce`` shares: an output folder that a rerun
continues (finished runs kept, unfinished ones resumed from their checkpoints), and
writing the table's Markdown and JSON."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from metasym.errors import MetasymError
from metasym.files import atomic_write_text, path_errors, read_json_file

__all__ = ["open_table", "run_once", "write_table"]


def open_table(out: str | Path, kind: str, *, overwrite: bool = False) -> Any:
    """The output folder of a table: new; replaced (``overwrite``); or, when ``out`` is
    already a folder of this kind of table, the same folder continued -- :func:`run_once`
    then keeps its finished runs and resumes the others."""
    with path_errors(out, "use it as the output folder"):
        return _open_table(Path(out), kind, overwrite)


def _open_table(out: Path, kind: str, overwrite: bool) -> Any:
    from metasym.learning.engine.runfolder import (
        MARKER,
        FolderLock,
        OutputFolder,
        prepare_output,
    )

    path = Path(out)
    marker = path / MARKER
    if not overwrite and path.is_dir() and not path.is_symlink() and marker.is_file():
        try:
            recorded = read_json_file(marker, "a metasym marker", max_bytes=2**16).get("metasym")
        except (MetasymError, AttributeError):
            recorded = None
        if recorded != kind:
            raise MetasymError(f"{path} holds a metasym {recorded or 'output'}, not {kind}; "
                               "choose another --out, or --overwrite to replace it")
        return OutputFolder(path, FolderLock(path).acquire(), None)
    return prepare_output(path, overwrite=overwrite, kind=kind, resume_hint=False)


def run_once(cfg: Any, path: Path, row: Callable[[Path, dict[str, Any]], dict[str, Any]], *,
             source: Any = None, progress: bool = True) -> dict[str, Any]:
    """Train ``cfg`` into ``path`` unless it has been, and return its table row.

    The row (``row(path, final_json)``) is stored beside the run as ``NAME.row.json`` and
    reused by a rerun; a finished run without one is read back; a run with a checkpoint
    is resumed (a finished one too, when ``cfg`` asks for more steps); anything else in
    ``path`` is replaced. A run whose settings differ from
    ``cfg`` is refused in one line (the table's settings changed: ``--overwrite``)."""
    from metasym.learning.engine import fit
    from metasym.learning.engine.runfolder import CHECKPOINT, read_run

    saved = path.parent / f"{path.name}.row.json"
    record = None
    if (path / "config.json").is_file():
        record = read_run(path, need_checkpoint=False)
        bad = cfg.conflicts(record.config)
        if bad:
            raise MetasymError(f"{path} was trained with other settings ({'; '.join(bad)}); "
                               "rerun with --overwrite to start the table afresh")
    if record is not None and record.finished and record.config.steps > cfg.steps:
        raise MetasymError(f"{path} was trained for {record.config.steps} steps, more than "
                           f"{cfg.steps}; rerun with --overwrite to start the table afresh")
    if record is not None and record.finished and record.config.steps == cfg.steps:
        if saved.is_file():
            try:
                return read_json_file(saved, "a table row")
            except MetasymError:
                pass  # rebuilt below
        final = record.final
    else:
        resume = record is not None and (path / CHECKPOINT).is_file()
        final = fit(cfg, path, source=source, progress=progress, resume=resume,
                    overwrite=not resume).to_json()
    out = row(path, final)
    atomic_write_text(saved, json.dumps(out, indent=1) + "\n")
    return out


def write_table(folder: Any, name: str, markdown: str, result: dict[str, Any]) -> dict[str, Any]:
    """Write ``name.md`` and ``name.json`` into a table's output folder (atomically), mark
    it complete and return ``result`` with the Markdown and the file names."""
    md_path, json_path = folder.path / f"{name}.md", folder.path / f"{name}.json"
    atomic_write_text(md_path, markdown)
    atomic_write_text(json_path, json.dumps(result, indent=2) + "\n")
    folder.commit()
    folder.release()
    return result | {"markdown": markdown,
                     "files": {"markdown": str(md_path), "json": str(json_path)}}
