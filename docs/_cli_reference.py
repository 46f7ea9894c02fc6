"""Write the command-line reference from metasym's own argument parser."""

from __future__ import annotations

import argparse
from pathlib import Path


def write_cli_reference(path: Path) -> None:
    from metasym.cli import build_parser

    parser = build_parser()
    parser.prog = "metasym"
    lines = ["# Command-line reference", "",
             "Generated from `metasym.cli.build_parser()` when the docs are built.", "",
             "```text", parser.format_help().rstrip(), "```", ""]
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for action in subs:
        for name, sub in action.choices.items():
            sub.prog = f"metasym {name}"
            lines += [f"## `metasym {name}`", "", "```text", sub.format_help().rstrip(), "```", ""]
            nested = [a for a in sub._actions if isinstance(a, argparse._SubParsersAction)]
            for inner in nested:
                for inner_name, inner_sub in inner.choices.items():
                    inner_sub.prog = f"metasym {name} {inner_name}"
                    lines += [f"### `metasym {name} {inner_name}`", "", "```text",
                              inner_sub.format_help().rstrip(), "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
