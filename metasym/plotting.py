"""PNG figures with matplotlib's object API (``matplotlib.figure.Figure``): works without
a display and never changes the user's backend (no ``matplotlib.use``, no pyplot state);
files are written atomically, never through a link (:func:`save_figure`)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from metasym.errors import MetasymError
from metasym.files import os_error_words

__all__ = ["plot_pattern", "plot_cayley", "ensure_parent", "save_figure", "new_figure",
           "label_colours", "label_rgb", "integer_ticks"]


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


def label_colours(k: int) -> np.ndarray:
    """``(k, 4)`` RGBA: the colour of each parameter id of a sharing pattern (``tab10`` up
    to 10 ids, ``tab20`` up to 20, ``nipy_spectral`` spread over ``k`` above)."""
    if k <= 10:
        return _cmap("tab10")(np.arange(k))
    if k <= 20:
        return _cmap("tab20")(np.arange(k))
    return _cmap("nipy_spectral")(np.linspace(0.0, 1.0, k))


def label_rgb(labels: np.ndarray) -> np.ndarray:
    """An RGBA image of a label matrix: :func:`label_colours` per id, white where ``-1``
    (fixed zero), so panels with the same ids have the same colours."""
    labels = np.asarray(labels)
    k = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else 1
    colours = np.vstack([label_colours(k), [1.0, 1.0, 1.0, 1.0]])
    return colours[np.where(labels < 0, k, labels)]


def _label_image(labels: np.ndarray) -> np.ma.MaskedArray:
    return np.ma.masked_less(labels, 0)


def integer_ticks(ax) -> None:
    """Only integer ticks on both axes (index axes: no 2.5th row)."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def plot_pattern(pattern, path: str | Path, title: str | None = None,
                 max_basis_columns: int = 400) -> Path:
    """Draw a sharing pattern: the ``m x n`` label matrix (one colour per shared
    parameter, keyed by a legend up to 12 parameters, white where fixed to zero) and,
    when small enough, the 0/1 matrix ``U`` (black = 1). Index axes have integer ticks."""
    from matplotlib.patches import Patch

    path = ensure_parent(path)
    labels = pattern.labels
    m, n = labels.shape
    k = pattern.dimension
    show_u = k <= max_basis_columns and m * n <= 20_000
    fig = new_figure(figsize=(11 if show_u else 6, 5.6), layout="constrained")
    axes = fig.subplots(1, 2 if show_u else 1, squeeze=False)
    ax = axes[0, 0]
    ax.imshow(label_rgb(labels), interpolation="nearest", aspect="auto")
    ax.set_title(f"sharing pattern ({m}x{n}, {k} parameters)")
    ax.set_xlabel("input index x")
    ax.set_ylabel("output index y")
    integer_ticks(ax)
    colours = label_colours(max(k, 1))
    handles = [Patch(facecolor=colours[j], edgecolor="k", label=str(j)) for j in range(min(k, 12))]
    if (labels < 0).any():
        handles.append(Patch(facecolor="white", edgecolor="k", label="fixed zero"))
    note = f" (first 12 of {k})" if k > 12 else ""
    if show_u:
        ax2 = axes[0, 1]
        ax2.imshow(pattern.basis(dtype=np.int8), cmap="Greys", vmin=0, vmax=1,
                   interpolation="nearest", aspect="auto")
        ax2.set_title(f"U ({m * n} x {k}, 0/1: black = 1)")
        ax2.set_xlabel("parameter")
        ax2.set_ylabel("row-major index y*n + x")
        integer_ticks(ax2)
    fig.legend(handles=handles, loc="outside lower center", ncols=min(13, len(handles)),
               fontsize=8, title=f"colour = parameter id{note}", title_fontsize=8)
    fig.suptitle(title or pattern.description or "sharing pattern")
    return save_figure(fig, path)


def plot_cayley(graph, path: str | Path, title: str = "", max_key: int = 48) -> Path:
    """Draw a Cayley graph (edges coloured by generator, keyed by a legend) with a key
    from node numbers to elements (cycle notation, the nodes' ``perm`` attribute) beside
    it; above ``max_key`` elements the caption says where the key is instead."""
    import networkx as nx
    from matplotlib.lines import Line2D

    path = ensure_parent(path)
    n_nodes = graph.number_of_nodes()
    perms = [graph.nodes[v].get("perm", "?") for v in graph.nodes]
    keyed = n_nodes <= max_key
    width = max((len(f"{v}: {p}") for v, p in zip(graph.nodes, perms)), default=10)
    key_width = min(6.0, 0.075 * width + 0.6) if keyed else 0.0
    fig = new_figure(figsize=(7 + key_width, 7), layout="constrained")
    if keyed:
        ax, kax = fig.subplots(1, 2, width_ratios=[7, key_width])
    else:
        ax, kax = fig.subplots(), None
    pos = nx.kamada_kawai_layout(graph) if n_nodes <= 200 else nx.spring_layout(graph, seed=0)
    gens = sorted({d["generator"] for _, _, d in graph.edges(data=True)})
    colors = _cmap("tab10")
    handles = []
    for i, g in enumerate(gens):
        edges = [(u, v) for u, v, d in graph.edges(data=True) if d["generator"] == g]
        label = graph.edges[edges[0]]["label"]
        nx.draw_networkx_edges(graph, pos, edgelist=edges, ax=ax, edge_color=[colors(i % 10)],
                               arrows=True, arrowsize=8, width=1.2)
        short = label if len(label) <= 40 else label[:37].rsplit(" ", 1)[0] + " ...)"
        handles.append(Line2D([], [], color=colors(i % 10), label=f"s{g} = {short}"))
    small = n_nodes <= 30
    nx.draw_networkx_nodes(graph, pos, ax=ax, node_size=180 if small else 20,
                           node_color="#dddddd", edgecolors="k")
    if small:
        nx.draw_networkx_labels(graph, pos, ax=ax, font_size=7)
    if handles:
        fig.legend(handles=handles, loc="outside lower center", fontsize=8,
                   ncols=min(3, len(handles)), title="edge g -> g s, colour = generator s",
                   title_fontsize=8)
    ax.set_title(title or graph.name)
    ax.axis("off")
    if kax is not None:
        kax.axis("off")
        kax.set_title("node = element", fontsize=9)
        kax.text(0.0, 1.0, "\n".join(f"{v:>{len(str(n_nodes - 1))}}: {p}"
                                      for v, p in zip(graph.nodes, perms)),
                 family="monospace", fontsize=7 if n_nodes <= 24 else 5.5, va="top",
                 ha="left", transform=kax.transAxes, in_layout=False)
    else:
        ax.set_title(f"{title or graph.name}\n{n_nodes} nodes, numbered in the order of "
                     "FiniteGroup.element_arrays;\nthe .graphml output gives each node's "
                     "element (attribute perm)", fontsize=9)
    return save_figure(fig, path)
