"""PNG figures with matplotlib's object API (``matplotlib.figure.Figure``): works without
a display and never changes the user's backend (no ``matplotlib.use``, no pyplot state);
files are written atomically, never through a link (:func:`save_figure`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metasym.errors import MetasymError
from metasym.files import os_error_words

__all__ = ["plot_pattern", "plot_cayley", "ensure_parent", "save_figure", "new_figure"]


def ensure_parent(path: str | Path) -> Path:
    """Create the parent folder of ``path``; one-line error if that is impossible."""
    p = Path(path)
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        reason = os_error_words(e)
        if isinstance(e, FileExistsError):  # a file, or a link that leads nowhere, in the way
            try:
                os.stat(p.parent)
                reason = "it exists and is not a folder"
            except OSError as e2:
                reason = os_error_words(e2)
        raise MetasymError(f"cannot create folder for {p}: {reason}") from None
    return p


def new_figure(**kw):
    """A ``matplotlib.figure.Figure`` not registered with pyplot (no backend change)."""
    from matplotlib.figure import Figure

    return Figure(**kw)


def _cmap(name: str):
    import matplotlib

    return matplotlib.colormaps[name]


def save_figure(fig, path: str | Path, dpi: int = 110) -> Path:
    """Write ``fig`` as PNG atomically (a link at ``path`` is replaced, not followed);
    one-line :class:`~metasym.errors.MetasymError` when it cannot be written."""
    from metasym.files import atomic_write

    path = Path(path)
    try:
        return atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=dpi, format="png"))
    except (OSError, ValueError) as e:
        raise MetasymError(f"cannot write {path}: {getattr(e, 'strerror', None) or e}") from None


def _label_image(labels: np.ndarray) -> np.ma.MaskedArray:
    return np.ma.masked_less(labels, 0)


def plot_pattern(pattern, path: str | Path, title: str | None = None,
                 max_basis_columns: int = 400) -> Path:
    """Draw a sharing pattern: the ``m x n`` label matrix (one colour per shared
    parameter, white where fixed to zero) and, when small enough, the 0/1 matrix ``U``."""
    path = ensure_parent(path)
    labels = pattern.labels
    m, n = labels.shape
    k = pattern.dimension
    show_u = k <= max_basis_columns and m * n <= 20_000
    fig = new_figure(figsize=(11 if show_u else 6, 5))
    axes = fig.subplots(1, 2 if show_u else 1, squeeze=False)
    ax = axes[0, 0]
    cmap = _cmap("tab20" if k <= 20 else "nipy_spectral").with_extremes(bad="white")
    ax.imshow(_label_image(labels), cmap=cmap, interpolation="nearest", aspect="auto")
    ax.set_title(f"sharing pattern ({m}x{n}, {k} parameters)")
    ax.set_xlabel("input index x")
    ax.set_ylabel("output index y")
    if show_u:
        ax2 = axes[0, 1]
        ax2.imshow(pattern.basis(dtype=np.int8), cmap="Greys", interpolation="nearest",
                   aspect="auto")
        ax2.set_title(f"U ({m * n} x {k}, 0/1)")
        ax2.set_xlabel("parameter")
        ax2.set_ylabel("row-major index y*n + x")
    fig.suptitle(title or pattern.description or "sharing pattern")
    fig.tight_layout()
    return save_figure(fig, path)


def plot_cayley(graph, path: str | Path, title: str = "") -> Path:
    """Draw a Cayley graph (edges coloured by generator)."""
    import networkx as nx

    path = ensure_parent(path)
    fig = new_figure(figsize=(7, 7))
    ax = fig.subplots()
    pos = nx.kamada_kawai_layout(graph) if graph.number_of_nodes() <= 200 else \
        nx.spring_layout(graph, seed=0)
    from matplotlib.lines import Line2D

    gens = sorted({d["generator"] for _, _, d in graph.edges(data=True)})
    colors = _cmap("tab10")
    handles = []
    for i, g in enumerate(gens):
        edges = [(u, v) for u, v, d in graph.edges(data=True) if d["generator"] == g]
        label = graph.edges[edges[0]]["label"]
        nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, edge_color=[colors(i % 10)],
                               arrows=True, arrowsize=8, width=1.2)
        handles.append(Line2D([], [], color=colors(i % 10), label=f"s{g} = {label}"))
    small = graph.number_of_nodes() <= 30
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=180 if small else 20,
                           node_color="#dddddd", edgecolors="k")
    if small:
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    if handles:
        ax.legend(handles=handles, loc="upper right", fontsize=8)
    ax.set_title(title or graph.name)
    ax.axis("off")
    return save_figure(fig, path)
