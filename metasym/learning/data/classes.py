"""Labelled image classes (:class:`ImageClasses`): one split of a few-shot data set, as
the glyph set and the Omniglot/miniImageNet loaders return it; its statistics and a grid
of samples. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from metasym.errors import MetasymError
from metasym.learning.limits import check_integer

__all__ = ["ImageClasses", "dataset_statistics", "plot_samples"]


@dataclass(frozen=True, eq=False)
class ImageClasses:
    """One split of a labelled image set: images, their class ids and the class names.

    Parameters
    ----------
    images
        ``uint8`` array ``(n_images, H, W)`` (grey) or ``(n_images, H, W, 3)`` (RGB).
    labels
        ``int64`` array ``(n_images,)`` of class ids ``0 .. C-1``; every class has at least
        one image.
    class_names
        ``C`` names, e.g. ``"Greek/character07"``.
    alphabets
        ``C`` group names, one per class (the script of a character; the split name for
        miniImageNet).
    descriptions
        Optional free text per class (for glyphs: the code point and its Unicode name);
        empty or ``C`` entries.

    The arrays are stored read-only (views of the given ones).
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    alphabets: tuple[str, ...]
    descriptions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if images.dtype != np.uint8:
            raise MetasymError(f"images must be uint8, got {images.dtype}")
        if not (images.ndim == 3 or (images.ndim == 4 and images.shape[3] == 3)):
            raise MetasymError(f"images must be (n, H, W) or (n, H, W, 3), got shape "
                               f"{images.shape}")
        if labels.dtype != np.int64 or labels.shape != (images.shape[0],):
            raise MetasymError(f"labels must be int64 of shape ({images.shape[0]},), got "
                               f"{labels.dtype} {labels.shape}")
        names = tuple(str(s) for s in self.class_names)
        alphabets = tuple(str(s) for s in self.alphabets)
        descriptions = tuple(str(s) for s in self.descriptions)
        c = len(names)
        if len(alphabets) != c:
            raise MetasymError(f"{c} class names but {len(alphabets)} alphabets")
        if descriptions and len(descriptions) != c:
            raise MetasymError(f"{c} class names but {len(descriptions)} descriptions")
        if labels.size and (labels.min() < 0 or labels.max() >= c):
            raise MetasymError(f"labels must lie in 0..{c - 1}")
        counts = np.bincount(labels, minlength=c) if c else np.zeros(0, np.int64)
        if c and counts.min() == 0:
            raise MetasymError(f"class {names[int(np.argmin(counts))]} has no images")
        if len(set(names)) != c:
            raise MetasymError("class names must be distinct")
        images = images.view()
        images.flags.writeable = False
        labels = labels.view()
        labels.flags.writeable = False
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "class_names", names)
        object.__setattr__(self, "alphabets", alphabets)
        object.__setattr__(self, "descriptions", descriptions)

    @property
    def n_classes(self) -> int:
        """Number of classes ``C``."""
        return len(self.class_names)

    @property
    def n_images(self) -> int:
        """Number of images."""
        return int(self.images.shape[0])

    @property
    def image_size(self) -> tuple[int, int]:
        """``(H, W)``."""
        return int(self.images.shape[1]), int(self.images.shape[2])

    @property
    def alphabet_names(self) -> tuple[str, ...]:
        """The distinct alphabets, in order of first appearance."""
        return tuple(dict.fromkeys(self.alphabets))

    def images_of(self, class_id: int) -> np.ndarray:
        """The images of one class, in stored order (read-only)."""
        if not 0 <= int(class_id) < self.n_classes:
            raise MetasymError(f"class id {class_id} out of range 0..{self.n_classes - 1}")
        return self.images[self.labels == int(class_id)]

    def class_counts(self) -> np.ndarray:
        """Images per class, ``(C,)``."""
        return np.bincount(self.labels, minlength=self.n_classes)

    def summary(self) -> dict[str, Any]:
        """Plain numbers: classes, images, alphabets, images per class (min, max), image
        size ``[H, W]`` and channels (1 or 3)."""
        counts = self.class_counts()
        return {
            "classes": self.n_classes,
            "images": self.n_images,
            "alphabets": len(self.alphabet_names),
            "images_per_class_min": int(counts.min()) if counts.size else 0,
            "images_per_class_max": int(counts.max()) if counts.size else 0,
            "image_size": list(self.image_size),
            "channels": 3 if self.images.ndim == 4 else 1,
        }

    def split_alphabets(self, every: int = 4) -> tuple[ImageClasses, ImageClasses]:
        """Split by alphabet into ``(kept, held_out)``: every ``every``-th alphabet (in
        order of first appearance, starting with the ``every``-th) is held out. A
        validation split of a background set: whole alphabets, as the evaluation split is.

        >>> import numpy as np
        >>> c = ImageClasses(np.zeros((4, 2, 2), np.uint8), np.arange(4),
        ...                  ["a0", "b0", "c0", "d0"], ["A", "B", "C", "D"])
        >>> [x.alphabet_names for x in c.split_alphabets(2)]
        [('A', 'C'), ('B', 'D')]
        """
        every = check_integer("every", every, 2)
        names = self.alphabet_names
        held = set(names[every - 1::every])
        if not held or len(held) == len(names):
            raise MetasymError(f"cannot hold out every {every}th of {len(names)} alphabet(s)")
        return self._subset(lambda a: a not in held), self._subset(lambda a: a in held)

    def _subset(self, keep: Any) -> ImageClasses:
        classes = [k for k, a in enumerate(self.alphabets) if keep(a)]
        new_id = np.full(self.n_classes, -1, np.int64)
        new_id[classes] = np.arange(len(classes))
        rows = np.flatnonzero(new_id[self.labels] >= 0)
        return ImageClasses(self.images[rows], new_id[self.labels[rows]],
                            tuple(self.class_names[k] for k in classes),
                            tuple(self.alphabets[k] for k in classes),
                            tuple(self.descriptions[k] for k in classes)
                            if self.descriptions else ())

    @classmethod
    def from_groups(cls, groups: Sequence[tuple[str, str, list[np.ndarray]]],
                    descriptions: Sequence[str] = ()) -> ImageClasses:
        """Classes from ``(alphabet, class name, images)`` triples, in class-id order."""
        images, labels = [], []
        for k, (_, _, ims) in enumerate(groups):
            images.extend(ims)
            labels.extend([k] * len(ims))
        arr = np.stack(images) if images else np.zeros((0, 1, 1), np.uint8)
        return cls(arr, np.asarray(labels, np.int64), tuple(g[1] for g in groups),
                   tuple(g[0] for g in groups), tuple(descriptions))


def dataset_statistics(background: ImageClasses, evaluation: ImageClasses) -> dict[str, Any]:
    """Counts of a background/evaluation pair: per split the alphabets, characters
    (classes) and images, images per class, image size, and per alphabet its characters;
    plus the totals and the alphabets found in both splits (should be none)."""

    def split(c: ImageClasses) -> dict[str, Any]:
        per = {a: 0 for a in c.alphabet_names}
        for a in c.alphabets:
            per[a] += 1
        return {**c.summary(), "alphabet_names": list(per), "characters_per_alphabet": per}

    bg, ev = split(background), split(evaluation)
    return {
        "background": bg,
        "evaluation": ev,
        "total": {"alphabets": bg["alphabets"] + ev["alphabets"],
                  "classes": bg["classes"] + ev["classes"],
                  "images": bg["images"] + ev["images"]},
        "shared_alphabets": sorted(set(background.alphabets) & set(evaluation.alphabets)),
    }


def plot_samples(classes: ImageClasses, path: str | Path, *, n_classes: int = 10,
                 per_class: int = 8, seed: int = 0, dpi: int = 100) -> Path:
    """A PNG grid of samples: one row per class (``n_classes`` drawn with ``seed``, spread
    over the alphabets), ``per_class`` images each, the class name on the left."""
    from metasym.plotting import ensure_parent, new_figure, save_figure

    n_classes = check_integer("n_classes", n_classes, 1)
    per_class = check_integer("per_class", per_class, 1)
    if classes.n_classes == 0:
        raise MetasymError("no classes to plot")
    rng = np.random.default_rng(seed)
    # one class from each alphabet in turn (in a seeded order), so the rows show variety
    by_alphabet: dict[str, list[int]] = {}
    for k, a in enumerate(classes.alphabets):
        by_alphabet.setdefault(a, []).append(k)
    pools = [list(rng.permutation(v)) for v in by_alphabet.values()]
    pools = [pools[i] for i in rng.permutation(len(pools))]
    chosen: list[int] = []
    while len(chosen) < min(n_classes, classes.n_classes):
        for pool in pools:
            if pool and len(chosen) < n_classes:
                chosen.append(int(pool.pop()))
    path = ensure_parent(path)
    colour = classes.images.ndim == 4
    fig = new_figure(figsize=(1.0 + 0.5 * per_class + 2.2, 0.55 * len(chosen) + 0.3))
    axes = fig.subplots(len(chosen), per_class, squeeze=False)
    for row, k in enumerate(chosen):
        ims = classes.images_of(k)
        pick = rng.choice(len(ims), size=min(per_class, len(ims)), replace=False)
        for col in range(per_class):
            ax = axes[row, col]
            ax.set_axis_off()
            if col < len(pick):
                ax.imshow(ims[pick[col]], cmap=None if colour else "gray", vmin=0, vmax=255,
                          interpolation="nearest")
        axes[row, 0].text(-0.15, 0.5, classes.class_names[k], transform=axes[row, 0].transAxes,
                          ha="right", va="center", fontsize=7)
    fig.subplots_adjust(left=0.3, right=0.99, top=0.99, bottom=0.01, wspace=0.05,
                        hspace=0.08)
    return save_figure(fig, path, dpi=dpi)
