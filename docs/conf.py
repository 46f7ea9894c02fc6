"""Sphinx configuration for metasym (built by `make docs`, warnings are errors)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from _cli_reference import write_cli_reference  # noqa: E402

import metasym  # noqa: E402

project = "metasym"
author = "the metasym developers"
copyright = "2026, the metasym developers"
release = metasym.__version__

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # copies the MathJax 3 that its wheel ships into _static/mathjax (no CDN)
    "sphinx-mathjax-offline",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "examples", "**.ipynb_checkpoints", "sg_execution_times.rst"]
myst_enable_extensions = ["dollarmath", "colon_fence"]
myst_heading_anchors = 3
numpydoc_show_class_members = False
numpydoc_validation_checks: set[str] = set()
autodoc_default_options = {"members": True, "undoc-members": False}
autosummary_generate = False
suppress_warnings = ["config.cache"]

# Formulas are typeset in the browser by the MathJax copied into the built site, so the
# docs read the same with no network. The SVG output draws glyphs as paths and needs no
# web fonts (file:// pages in some browsers refuse fonts from a parent folder).
# `docs/check_offline.py` (run by `make docs-check`) checks that no page loads anything
# from the network and typesets every formula with that same MathJax.
# (sphinx-mathjax-offline sets its CHTML build when it loads; `setup` below sets this one.)
MATHJAX_PATH = "mathjax/tex-svg.js"

html_theme = "pydata_sphinx_theme"
html_title = "metasym"
html_theme_options = {"navigation_with_keys": False, "show_toc_level": 2}
# The left "Section Navigation" lists the pages below the current top-level page (the API
# reference's modules, the examples); a top-level page with none gets no empty left column.
html_sidebars = {
    page.stem: []
    for page in HERE.glob("*.md")
    if page.stem != "index" and "{toctree}" not in page.read_text(encoding="utf-8")
}
# the theme vendors its fonts and scripts (nothing is loaded from a CDN)
html_static_path: list[str] = []

# Examples: sphinx-gallery runs them (METASYM_DOCS_FAST=1 makes them tiny) and keeps figures.
sphinx_gallery_conf = {
    "examples_dirs": "examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "plot_gallery": os.environ.get("METASYM_DOCS_RUN_EXAMPLES", "1") == "1",
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "within_subsection_order": "FileNameSortKey",
    # its timing page loads jQuery and DataTables from CDNs
    "write_computation_times": False,
}

# The CLI reference is generated from the argument parser, so it cannot drift.
write_cli_reference(HERE / "_generated" / "cli.md")

# Cross-references are checked (nitpicky). Targets in other projects cannot be resolved
# offline (no intersphinx inventories are fetched), so only those are ignored.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(numpy|np|sympy|scipy|networkx|nx|torch|collections|pathlib|fractions|"
               r"typing|matplotlib|hypothesis|argparse|dataclasses|safetensors)(\..*)?"),
    (r"py:class", r"(optional|array_like|array-like|callable|iterable|sequence|int|float|"
                  r"str|bool|dict|list|tuple|None|object|any|Any|Module|Tensor)"),
    # numpydoc splits generic annotations such as ``dict[str, int]`` at the comma
    (r"py:class", r".*[\[\]].*"),
    # private helpers that appear in signatures but are not part of the API
    (r"py:.*", r"metasym(\.\w+)*\._\w+"),
]


def _resolve_by_name(app, env, node, contnode):
    """Resolve ``metasym.groups.FiniteGroup`` or a bare ``FiniteGroup`` to where it is
    documented (objects are documented in their defining modules, re-exported elsewhere)."""
    from sphinx.util.nodes import make_refnode

    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not (target.startswith("metasym.") or "." not in target):
        return None
    name = target.rsplit(".", 1)[-1]
    objects = env.get_domain("py").objects
    hits = [k for k in objects if k.startswith("metasym.") and k.rsplit(".", 1)[-1] == name]
    if len(hits) != 1:
        return None
    entry = objects[hits[0]]
    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode,
                        hits[0])


def setup(app):
    app.config.mathjax_path = MATHJAX_PATH
    app.connect("missing-reference", _resolve_by_name)
