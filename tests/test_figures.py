"""Figures a reader can read: named axes, colour keys, colorbars, integer index ticks."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import metasym.plotting as plotting


@pytest.fixture
def captured(monkeypatch):
    """The figures the plotting functions save (still written, so sizes can be read)."""
    figs = []
    real = plotting.save_figure

    def save(fig, path, dpi=110):
        figs.append(fig)
        return real(fig, path, dpi)

    monkeypatch.setattr(plotting, "save_figure", save)
    return figs


def _texts(fig) -> str:
    parts = [t.get_text() for t in fig.texts]
    for ax in fig.axes:
        parts += [ax.get_xlabel(), ax.get_ylabel(), ax.get_title()]
        parts += [t.get_text() for t in ax.texts]
        if ax.get_legend():
            parts += [t.get_text() for t in ax.get_legend().get_texts()]
    for leg in fig.legends:
        parts += [t.get_text() for t in leg.get_texts()] + [leg.get_title().get_text()]
    if fig._suptitle is not None:
        parts.append(fig._suptitle.get_text())
    return "\n".join(parts)


def test_sharing_plot_has_integer_ticks_and_a_colour_key(tmp_path, captured):
    from metasym.groups import parse_action, parse_group
    from metasym.representations import sharing_pattern

    G = parse_group("cyclic:6")
    P = sharing_pattern(parse_action("natural", G), parse_action("natural", G), support="band:3")
    plotting.plot_pattern(P, tmp_path / "p.png")
    (fig,) = captured
    for ax in fig.axes:
        for ticks in (ax.get_xticks(), ax.get_yticks()):
            assert len(ticks) and np.all(np.asarray(ticks) == np.round(ticks)), ticks
    text = _texts(fig)
    assert "input index x" in text and "output index y" in text
    assert "colour = parameter id" in text and "fixed zero" in text and "\n2\n" in text


def test_cayley_nodes_are_keyed(tmp_path, captured):
    from metasym.groups import parse_group

    G = parse_group("dihedral:4")
    plotting.plot_cayley(G.cayley_graph(), tmp_path / "c.png", title="D4")
    text = _texts(captured[0])
    assert "node = element" in text and "0: ()" in text
    assert all(f"{i}: " in text for i in range(8))
    assert "colour = generator" in text


def test_cayley_without_room_for_a_key_says_where_it_is(tmp_path, captured):
    from metasym.groups import parse_group

    plotting.plot_cayley(parse_group("cyclic:60").cayley_graph(), tmp_path / "c.png")
    assert "attribute perm" in _texts(captured[0])


def test_compare_figure_has_axes_legend_and_colorbar(tmp_path, captured):
    from metasym.learning.comparison.regression import plot_comparison

    labels = np.full((6, 8), -1)
    for i in range(6):
        labels[i, i:i + 3] = [0, 1, 2]
    W = np.where(labels >= 0, labels - 1.0, 0.0)
    result = SimpleNamespace(
        arrays={"shape": (6, 8), "exact": labels, "recovered": labels, "adapted_example": W},
        figures={"subspace_distance": 0.01, "partition_ari": 1.0},
        problem="rank1", model="msr-fc")
    plot_comparison(result, tmp_path / "c.png")
    (fig,) = captured
    text = _texts(fig)
    assert text.count("output row") >= 6 and text.count("input column") >= 6
    assert "parameter 0" in text and "parameter 2" in text and "fixed zero" in text
    bars = [ax for ax in fig.axes if "weight value" in ax.get_ylabel()]
    assert len(bars) == 1 and "symmetric" in bars[0].get_ylabel()
    lo, hi = bars[0].get_ylim()
    assert lo == pytest.approx(-hi) and hi == pytest.approx(1.0)
    assert (tmp_path / "c.png").stat().st_size < 200_000


def test_image_bank_figure_has_named_columns_and_one_scale(tmp_path, captured):
    from metasym.learning.comparison.images import plot_image_comparison

    rng = np.random.default_rng(0)
    result = SimpleNamespace(
        arrays={"order": 4, "kernel": 3, "true": rng.normal(size=(8, 9)),
                "adapted": 2 * rng.normal(size=(8, 9))},
        figures={"subspace_distance": 0.1, "equivariance_error": 0.2},
        problem="c4", model="msr-conv")
    plot_image_comparison(result, tmp_path / "i.png")
    (fig,) = captured
    text = _texts(fig)
    assert all(f"channel {c}" in text for c in range(4)) and "adapted" in text
    images = [im for ax in fig.axes for im in ax.images]
    assert len(images) == 8 and len({im.get_clim() for im in images}) == 1
    assert any("one scale" in ax.get_ylabel() for ax in fig.axes)
