"""What every table of ``metasym reproduce`` shares: writing its Markdown and JSON."""

from __future__ import annotations

import json
from typing import Any

from metasym.files import atomic_write_text

__all__ = ["write_table"]


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
