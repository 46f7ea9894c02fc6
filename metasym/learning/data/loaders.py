"""Loaders of the real few-shot data sets, read from folders the user has: Omniglot
(background and evaluation alphabets) and miniImageNet (train/val/test folders or the
split files). Images are resized with Pillow; nothing is downloaded.
"""

from __future__ import annotations

import csv
import io
import os
import warnings
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np

from metasym.errors import MetasymError
from metasym.files import open_regular, read_text_file
from metasym.learning.data.classes import ImageClasses
from metasym.learning.limits import check_integer

__all__ = ["load_omniglot", "load_miniimagenet", "MAX_IMAGE_PIXELS"]

#: Most pixels (width x height) of one image of a data-set folder, checked from the header
#: before decoding (Omniglot's images are 105 x 105, miniImageNet's originals at most a few
#: megapixels).
MAX_IMAGE_PIXELS = 40_000_000

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


def _is_image(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in _IMAGE_SUFFIXES and not p.name.startswith(".")


def _read_image(path: Path, mode: str, size: int | tuple[int, int]) -> np.ndarray:
    """One image as uint8 in ``mode`` ("L" or "RGB"), resized (Lanczos) to ``size``.

    Only regular files are opened (:func:`metasym.files.open_regular`); an image whose
    header declares more than :data:`MAX_IMAGE_PIXELS` pixels (a decompression bomb, or
    simply far too large for a few-shot data set) is refused from the header, before it is
    decoded, and so are Pillow's own decompression-bomb warnings and errors."""
    from PIL import Image, UnidentifiedImageError

    hw = (size, size) if isinstance(size, int) else size
    try:
        with warnings.catch_warnings(), open_regular(path, "an image file") as fh:
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fh) as im:
                w, h = im.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise MetasymError(f"{path}: an image of {w} x {h} pixels, above the "
                                       f"limit of {MAX_IMAGE_PIXELS} pixels (a decompression "
                                       "bomb, or far too large for a few-shot data set)")
                im = im.convert(mode)
                if im.size != (hw[1], hw[0]):
                    im = im.resize((hw[1], hw[0]), Image.Resampling.LANCZOS)
                return np.asarray(im, dtype=np.uint8).copy()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{path}: refused as a decompression bomb ({msg[:200]})") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as e:
        if isinstance(e, MetasymError):
            raise
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise MetasymError(f"{path}: not a readable image ({msg[:200]})") from None
    except MemoryError:
        raise MetasymError(f"{path}: not enough memory to decode this image") from None


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _check_size(size: Any) -> int:
    return check_integer("size", size, 1)


def load_omniglot(root: str | Path, *, size: int = 28) -> tuple[ImageClasses, ImageClasses]:
    """The Omniglot folders as ``(background, evaluation)``.

    Expects ``root/images_background/ALPHABET/characterNN/*.png`` and
    ``root/images_evaluation/...`` (the layout of the official zip files, unpacked).
    Images are read as grey, inverted (strokes bright on black, like
    :func:`glyph_dataset`) and resized to ``size x size`` (Lanczos). Class names are
    ``ALPHABET/characterNN``; classes and images are in sorted order.
    """
    root = Path(root).expanduser()
    size = _check_size(size)
    if not root.is_dir():
        raise MetasymError(f"{root}: no such folder (expected the Omniglot root with "
                           "images_background/ and images_evaluation/)")
    splits = ("images_background", "images_evaluation")
    for split in splits:
        if not (root / split).is_dir():
            raise MetasymError(f"{root / split}: no such folder (Omniglot layout: "
                               f"{split}/ALPHABET/characterNN/*.png)")
    listed = []  # every file first: the memory is checked before any image is read
    for split in splits:
        folder = root / split
        chars = []
        for alphabet in _subfolders(folder):
            for char in _subfolders(alphabet):
                files = sorted(p for p in char.iterdir() if _is_image(p))
                if not files:
                    raise MetasymError(f"{char}: no images in this character folder")
                chars.append((alphabet, char, files))
        if not chars:
            raise MetasymError(f"{folder}: no ALPHABET/character folders")
        listed.append(chars)
    _check_images_memory(sum(len(f) for chars in listed for _, _, f in chars), size, 1, root)
    out = []
    for chars in listed:
        groups = [(alphabet.name, f"{alphabet.name}/{char.name}",
                   [255 - _read_image(p, "L", size) for p in files])
                  for alphabet, char, files in chars]
        out.append(ImageClasses.from_groups(groups))
    return out[0], out[1]


def _check_images_memory(count: int, size: int, channels: int, root: Path) -> None:
    """Refuse, before any image is read, a data set whose ``count`` images resized to
    ``size x size`` would not fit (``uint8``, held twice while the classes are stacked)."""
    from metasym._limits import check_memory

    check_memory(2.0 * count * size * size * channels,
                 f"{root}: {count:,} images at --image-size {size}")


def _image_in(images_dir: Path, name: str, csv_path: Path, line: int) -> Path:
    """``images_dir / name`` for a file name of a split CSV, refusing names that would
    leave ``images_dir`` (absolute, ``..``, a drive, a NUL): only relative names of files
    inside the folder are read."""
    pure = PurePosixPath(name)
    win = PureWindowsPath(name)
    bad = (not name or "\0" in name or pure.is_absolute() or win.is_absolute()
           or bool(win.drive) or ".." in pure.parts or ".." in win.parts)
    if bad:
        raise MetasymError(f"{csv_path}: line {line} names {name[:200]!r}, which is not a file "
                           f"inside {images_dir} (absolute names and '..' are refused)")
    return images_dir / name


def _read_split_csv(path: Path) -> list[tuple[str, str, int]]:
    text = read_text_file(path, "a split file 'filename,label'")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise MetasymError(f"{path}: not a CSV file ({e})") from None
    if not rows or [c.strip() for c in rows[0][:2]] != ["filename", "label"]:
        raise MetasymError(f"{path}: expected a header 'filename,label'")
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise MetasymError(f"{path}: line {n} is not 'filename,label'")
        out.append((row[0].strip(), row[1].strip(), n))
    if not out:
        raise MetasymError(f"{path}: no rows after the header")
    return out


def load_miniimagenet(root: str | Path, *, size: int = 84) -> dict[str, ImageClasses]:
    """miniImageNet as ``{"train": ..., "val": ..., "test": ...}`` (RGB ``uint8``,
    ``(n, size, size, 3)``).

    Two layouts are understood: a folder per class under ``root/train``, ``root/val`` and
    ``root/test``; or the split files ``train.csv``, ``val.csv``, ``test.csv`` (header
    ``filename,label``) next to an ``images/`` folder (Ravi & Larochelle's release). Images
    of any size are resized to ``size x size`` (Lanczos). Classes are in sorted order
    (folder layout) or order of first appearance (CSV layout); the class's group
    (``alphabets``) is the split name. A CSV name that would leave ``images/`` (an
    absolute path, ``..``) is refused with its line number.
    """
    root = Path(root).expanduser()
    size = _check_size(size)
    if not root.is_dir():
        raise MetasymError(f"{root}: no such folder (expected the miniImageNet root)")
    splits = ("train", "val", "test")
    out: dict[str, ImageClasses] = {}
    if all((root / f"{s}.csv").is_file() for s in splits):
        images_dir = root / "images"
        if not images_dir.is_dir():
            raise MetasymError(f"{images_dir}: no such folder (the CSV layout keeps the "
                               "images there)")
        rows = {s: _read_split_csv(root / f"{s}.csv") for s in splits}
        _check_images_memory(sum(len(r) for r in rows.values()), size, 3, root)
        for s in splits:
            by_class: dict[str, list[np.ndarray]] = {}
            for name, label, line in rows[s]:
                path = _image_in(images_dir, name, root / f"{s}.csv", line)
                if not os.path.lexists(path):
                    raise MetasymError(f"{path}: listed in {s}.csv but missing")
                by_class.setdefault(label, []).append(_read_image(path, "RGB", size))
            out[s] = ImageClasses.from_groups([(s, label, ims) for label, ims in by_class.items()])
        return out
    if all((root / s).is_dir() for s in splits):
        listed: dict[str, list[tuple[Path, list[Path]]]] = {}
        for s in splits:
            listed[s] = []
            for cls in _subfolders(root / s):
                files = sorted(p for p in cls.iterdir() if _is_image(p))
                if not files:
                    raise MetasymError(f"{cls}: no images in this class folder")
                listed[s].append((cls, files))
            if not listed[s]:
                raise MetasymError(f"{root / s}: no class folders")
        _check_images_memory(sum(len(f) for v in listed.values() for _, f in v), size, 3, root)
        for s in splits:
            out[s] = ImageClasses.from_groups(
                [(s, cls.name, [_read_image(p, "RGB", size) for p in files])
                 for cls, files in listed[s]])
        return out
    raise MetasymError(f"{root}: neither train/ val/ test/ folders nor train.csv, val.csv, "
                       "test.csv with images/")
