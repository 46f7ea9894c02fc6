r"""The offline glyph data set: few-shot classes in Omniglot's layout, rendered from the
fonts that ship inside matplotlib (real Omniglot and miniImageNet folders are read by
:mod:`metasym.learning.data.loaders`).

**The glyph data set** (:func:`glyph_dataset`) stands in for Omniglot when there is no
network: it is built on first use from the fonts that ship inside matplotlib and cached in
the user's cache folder. Omniglot has *alphabets*, *characters* and *drawers* (20 people
drew each character); here

* an **alphabet** is a Unicode script or block the fonts cover well (Latin, Greek,
  Cyrillic, Armenian, Georgian, Hebrew, Arabic, Canadian syllabics, Tifinagh, Braille, ...;
  :data:`GLYPH_ALPHABETS`), with letters only (categories ``Lu``, ``Ll``, ``Lt``, ``Lo``;
  symbols ``So``/``Sm`` for the symbol sets), no combining marks, spaces or
  punctuation, no glyph with an empty bitmap and no glyph that renders like another of
  its alphabet; an alphabet keeps at most :data:`MAX_CHARACTERS_PER_ALPHABET` characters
  (evenly spaced in code-point order) and is dropped below ``min_glyphs``;
* a **character** is one code point;
* the **drawers** are the font faces that have the glyph (DejaVu Sans, Serif and Sans Mono
  and STIX General, each upright, bold, slanted and bold slanted: :data:`GLYPH_FACES`),
  cycled in a seeded order when fewer than ``images_per_class`` faces have it, and every
  image gets its own random distortion: output pixel :math:`p` (from the centre) samples
  the rendered glyph at :math:`q = M p + t`, with
  :math:`M = R(\theta)\,\begin{pmatrix}1 & h\\0 & 1\end{pmatrix}
  \operatorname{diag}(s_x, s_y)`, :math:`\theta \sim U(\pm 8^\circ)`,
  :math:`s_x = s a`, :math:`s_y = s / a`, :math:`s \sim U(0.88, 1.12)`,
  :math:`a \sim U(0.94, 1.06)`, shear
  :math:`h \sim U(\pm 0.15)`, a shift of up to 5% of the side; an elastic displacement
  field :math:`q \mathrel{+}= \alpha\, (G_\sigma * u) / \mathrm{rms}` (``u`` uniform noise,
  :math:`\sigma` = 10% of the side, :math:`\alpha` = 1.5% of the side); and a stroke-width
  change (grey dilation or erosion by a disc of radius -1 to +2 pixels at the rendering
  resolution).

A glyph is rendered with matplotlib's ``FT2Font`` at ``oversample`` times the target
resolution (``oversample = max(2, ceil(112 / size))``: 4 for 28 x 28), placed in a
per-alphabet frame (from the alphabet's glyph extents in DejaVu Sans, so lower and upper
case, dots and Braille cells keep their size and position), distorted, and averaged over ``oversample x oversample`` blocks (box-filter
anti-aliasing). Strokes are bright (255) on black (0), as in the inverted Omniglot that
:func:`~metasym.learning.data.loaders.load_omniglot` returns.

The **split** into background (meta-training) and evaluation (meta-test) alphabets is
fixed by name (:data:`GLYPH_BACKGROUND_ALPHABETS`, :data:`GLYPH_EVALUATION_ALPHABETS`),
like Omniglot's, so no alphabet is in both.

**Reproducibility.** Every random number of a character comes from a generator seeded by
``(seed, code point)``: the same seed gives identical arrays, and a small build
(``max_alphabets``, ``max_classes_per_alphabet``) holds exactly the images of the same
characters in a full build. Rendering depends on matplotlib's fonts and FreeType; both
versions are recorded in the cache file and a cache from other versions is rebuilt.

**Cache.** ``glyphs-v{version}-seed{seed}-size{size}-n{images_per_class}-min{min_glyphs}
[-a{max_alphabets}][-c{max_classes_per_alphabet}].npz`` in ``cache_dir``, else
``$METASYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/metasym``, else ``~/.cache/metasym``; never
inside the package. It is written atomically and read without unpickling; a corrupt file
or one whose recorded settings do not match is rebuilt.

Nothing here imports torch.
"""


from __future__ import annotations

import json
import math
import os
import sys
import time
import unicodedata
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from metasym.envvars import env_value
from metasym.errors import MetasymError
from metasym.learning.data.classes import ImageClasses
from metasym.learning.limits import check_integer

__all__ = [
    "GlyphAlphabet",
    "GLYPH_ALPHABETS",
    "GLYPH_BACKGROUND_ALPHABETS",
    "GLYPH_EVALUATION_ALPHABETS",
    "GLYPH_FACES",
    "GLYPH_DATASET_VERSION",
    "MAX_CHARACTERS_PER_ALPHABET",
    "IMAGES_PER_CLASS",
    "glyph_dataset",
    "glyph_cache_path",
    "default_cache_dir",
]


# ----- the glyph data set: alphabets, faces, split ---------------------------------------------
@dataclass(frozen=True)
class GlyphAlphabet:
    """An alphabet of the glyph data set: a name, Unicode code-point ranges (inclusive) and
    which general categories count as its characters."""

    name: str
    ranges: tuple[tuple[int, int], ...]
    categories: tuple[str, ...] = ("Lu", "Ll", "Lt", "Lo")

    def candidates(self) -> list[int]:
        """Code points of the ranges in the allowed categories (before font coverage)."""
        out = []
        for a, b in self.ranges:
            for c in range(a, b + 1):
                if unicodedata.category(chr(c)) in self.categories:
                    out.append(c)
        return out


_SYMBOLS = ("So", "Sm")

#: Every alphabet of the glyph data set, background ones first (Unicode block ranges).
GLYPH_ALPHABETS: tuple[GlyphAlphabet, ...] = (
    # background (meta-training)
    GlyphAlphabet("Latin", ((0x0000, 0x00FF),)),
    GlyphAlphabet("Latin_Extended-A", ((0x0100, 0x017F),)),
    GlyphAlphabet("IPA_Extensions", ((0x0250, 0x02AF),)),
    GlyphAlphabet("Greek", ((0x0370, 0x03FF),)),
    GlyphAlphabet("Cyrillic", ((0x0400, 0x04FF),)),
    GlyphAlphabet("Armenian", ((0x0530, 0x058F),)),
    GlyphAlphabet("Hebrew", ((0x0590, 0x05FF),)),
    GlyphAlphabet("Arabic", ((0x0600, 0x06FF),)),
    GlyphAlphabet("Mkhedruli_(Georgian)", ((0x10D0, 0x10FF),)),
    GlyphAlphabet("Canadian_Aboriginal_Syllabics", ((0x1400, 0x167F),)),
    GlyphAlphabet("Ogham", ((0x1680, 0x169F),)),
    GlyphAlphabet("Tifinagh", ((0x2D30, 0x2D7F),)),
    GlyphAlphabet("Lao", ((0x0E80, 0x0EFF),)),
    GlyphAlphabet("Braille", ((0x2800, 0x28FF),), _SYMBOLS),
    GlyphAlphabet("Tai_Xuan_Jing", ((0x1D300, 0x1D35F),), _SYMBOLS),
    GlyphAlphabet("Box_Drawing", ((0x2500, 0x257F),), _SYMBOLS),
    # evaluation (meta-test)
    GlyphAlphabet("Latin_Extended-B", ((0x0180, 0x024F),)),
    GlyphAlphabet("Latin_Extended_Additional", ((0x1E00, 0x1EFF),)),
    GlyphAlphabet("Phonetic_Extensions", ((0x1D00, 0x1D7F),)),
    GlyphAlphabet("Greek_Extended", ((0x1F00, 0x1FFF),)),
    GlyphAlphabet("Cyrillic_Supplement", ((0x0500, 0x052F),)),
    GlyphAlphabet("Arabic_Presentation_Forms-B", ((0xFE70, 0xFEFF),)),
    GlyphAlphabet("Asomtavruli_(Georgian)", ((0x10A0, 0x10CF),)),
    GlyphAlphabet("Nuskhuri_(Georgian)", ((0x2D00, 0x2D2F),)),
    GlyphAlphabet("NKo", ((0x07C0, 0x07FF),)),
    GlyphAlphabet("Lisu", ((0xA4D0, 0xA4FF),)),
    GlyphAlphabet("Old_Italic", ((0x10300, 0x1032F),)),
    GlyphAlphabet("Yijing_Hexagrams", ((0x4DC0, 0x4DFF),), _SYMBOLS),
)

#: Background (meta-training) alphabets of the glyph data set.
GLYPH_BACKGROUND_ALPHABETS: tuple[str, ...] = tuple(a.name for a in GLYPH_ALPHABETS[:16])
#: Evaluation (meta-test) alphabets of the glyph data set.
GLYPH_EVALUATION_ALPHABETS: tuple[str, ...] = tuple(a.name for a in GLYPH_ALPHABETS[16:])

#: The font faces (files in ``matplotlib.get_data_path()/fonts/ttf``), in drawer order.
GLYPH_FACES: tuple[str, ...] = (
    "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf",
    "DejaVuSans-BoldOblique.ttf", "DejaVuSerif.ttf", "DejaVuSerif-Bold.ttf",
    "DejaVuSerif-Italic.ttf", "DejaVuSerif-BoldItalic.ttf", "DejaVuSansMono.ttf",
    "DejaVuSansMono-Bold.ttf", "DejaVuSansMono-Oblique.ttf", "DejaVuSansMono-BoldOblique.ttf",
    "STIXGeneral.ttf", "STIXGeneralBol.ttf", "STIXGeneralItalic.ttf", "STIXGeneralBolIta.ttf",
)

#: Bump when the rendering or the selection changes (it is part of the cache file name).
GLYPH_DATASET_VERSION = 1
#: Most characters kept per alphabet (Omniglot's largest alphabets have 55 or so).
MAX_CHARACTERS_PER_ALPHABET = 55
#: Images rendered per character unless asked otherwise.
IMAGES_PER_CLASS = 16

_FRAME = 0.74  # the alphabet's frame fills this fraction of the image side
_DUPLICATE_TOLERANCE = 24  # two clean renders match if no pixel differs by more (of 255)


# ----- cache location --------------------------------------------------------------------------
def default_cache_dir() -> Path:
    """``$METASYM_CACHE_DIR``, else ``$XDG_CACHE_HOME/metasym``, else
    ``~/.cache/metasym``."""
    env = env_value("METASYM_CACHE_DIR")  # strict: an empty value or a file is refused
    if env is not None:
        return env
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg).expanduser() / "metasym"
    return Path.home() / ".cache" / "metasym"


def _package_dir() -> Path:
    import metasym

    return Path(metasym.__file__).resolve().parent


def _check_outside_package(folder: Path) -> Path:
    folder = Path(folder).expanduser()
    resolved = folder.resolve()
    if resolved == _package_dir() or _package_dir() in resolved.parents:
        raise MetasymError(f"cache folder {folder} is inside the metasym package; choose "
                           "another (cache_dir or METASYM_CACHE_DIR)")
    return folder


def _glyph_key(seed: int, size: int, images_per_class: int, min_glyphs: int,
               max_alphabets: int | None, max_classes: int | None) -> str:
    key = (f"glyphs-v{GLYPH_DATASET_VERSION}-seed{seed}-size{size}-n{images_per_class}"
           f"-min{min_glyphs}")
    if max_alphabets is not None:
        key += f"-a{max_alphabets}"
    if max_classes is not None:
        key += f"-c{max_classes}"
    return key


def glyph_cache_path(*, seed: int = 0, size: int = 28, images_per_class: int = IMAGES_PER_CLASS,
                     cache_dir: str | Path | None = None, min_glyphs: int = 20,
                     max_alphabets: int | None = None,
                     max_classes_per_alphabet: int | None = None) -> Path:
    """Where :func:`glyph_dataset` keeps (or would keep) the set with these settings."""
    folder = _check_outside_package(Path(cache_dir) if cache_dir is not None
                                    else default_cache_dir())
    return folder / (_glyph_key(seed, size, images_per_class, min_glyphs, max_alphabets,
                                max_classes_per_alphabet) + ".npz")


# ----- rendering -------------------------------------------------------------------------------
def _font_dir() -> Path:
    import matplotlib

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _environment() -> dict[str, str]:
    import matplotlib
    from matplotlib import ft2font

    return {"matplotlib": matplotlib.__version__,
            "freetype": str(getattr(ft2font, "__freetype_version__", "?"))}


class _Renderer:
    """Loads the faces once; renders clean glyphs into ``side x side`` float canvases."""

    def __init__(self, side: int) -> None:
        from matplotlib import ft2font

        self.side = side
        self._flags = ft2font.LoadFlags.NO_HINTING
        self.fonts = []
        self.charmaps = []
        for name in GLYPH_FACES:
            path = _font_dir() / name
            if not path.is_file():  # pragma: no cover - matplotlib always ships them
                continue
            font = ft2font.FT2Font(str(path))
            self.fonts.append(font)
            self.charmaps.append(set(font.get_charmap()))

    def faces_of(self, code: int) -> list[int]:
        return [i for i, cm in enumerate(self.charmaps) if code in cm]

    def metrics(self, face: int, code: int, ppem: float = 64.0) -> tuple[float, ...] | None:
        """Ink box ``(left, right, bottom, top)`` in em, left relative to the middle of the
        advance, bottom/top relative to the baseline (``None`` if there is no ink)."""
        font = self.fonts[face]
        font.set_size(ppem, 72)
        g = font.load_char(code, flags=self._flags)
        xmin, ymin, xmax, ymax = (v / 64.0 / ppem for v in g.bbox)
        if xmax <= xmin or ymax <= ymin:
            return None
        mid = g.linearHoriAdvance / 65536.0 / ppem / 2
        return xmin - mid, xmax - mid, ymin, ymax

    def render(self, face: int, code: int, frame: tuple[float, float, float]) -> np.ndarray:
        """The glyph on a ``side x side`` float32 canvas in [0, 1]; ``frame = (cx, cy,
        half)`` in em maps to the central ``_FRAME`` of the canvas; a glyph that would
        stick out is shrunk about the frame centre until it fits."""
        cx, cy, half = frame
        side = self.side
        ppem = _FRAME * side / (2 * half)
        box = self.metrics(face, code)
        canvas = np.zeros((side, side), np.float32)
        if box is None:
            return canvas
        left, right, bottom, top = box
        reach = max(abs(left - cx), abs(right - cx), abs(top - cy), abs(bottom - cy))
        limit = 0.48 * side / ppem  # keep a 2% margin inside the canvas
        if reach > limit:
            ppem *= limit / reach
        font = self.fonts[face]
        font.set_size(ppem, 72)
        g = font.load_char(code, flags=self._flags)
        font.set_text(chr(code), 0.0, flags=self._flags)
        font.draw_glyphs_to_bitmap(antialiased=True)
        bitmap = np.asarray(font.get_image(), dtype=np.float32) / 255.0
        if bitmap.size == 0:
            return canvas
        xmin, _, _, ymax = (v / 64.0 for v in g.bbox)
        mid = g.linearHoriAdvance / 65536.0 / 2
        x0 = int(round(side / 2 + xmin - mid - cx * ppem))
        y0 = int(round(side / 2 - ymax + cy * ppem))
        h, w = bitmap.shape
        ys, xs = max(0, -y0), max(0, -x0)
        ye, xe = min(h, side - y0), min(w, side - x0)
        if ye > ys and xe > xs:
            canvas[y0 + ys:y0 + ye, x0 + xs:x0 + xe] = bitmap[ys:ye, xs:xe]
        return canvas


def _downsample(canvas: np.ndarray, factor: int) -> np.ndarray:
    """Mean over ``factor x factor`` blocks of the last two axes."""
    *lead, h, w = canvas.shape
    return canvas.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def _disc(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius * radius + radius


def _upsample_matrix(n: int, factor: int) -> np.ndarray:
    """``(n * factor, n)`` linear interpolation from ``n`` pixel centres to
    ``n * factor`` (edge values held)."""
    u = (np.arange(n * factor) + 0.5) / factor - 0.5
    u = np.clip(u, 0, n - 1)
    lo = np.minimum(np.floor(u).astype(int), n - 2) if n > 1 else np.zeros(len(u), int)
    frac = u - lo
    mat = np.zeros((n * factor, n))
    rows = np.arange(n * factor)
    mat[rows, lo] += 1 - frac
    if n > 1:
        mat[rows, lo + 1] += frac
    return mat


def _distort(canvases: np.ndarray, rng: np.random.Generator, size: int,
             factor: int) -> np.ndarray:
    """Stroke width, affine jitter and elastic distortion of ``(k, S, S)`` canvases, then
    box downsampling to ``(k, size, size)`` floats in [0, 1]."""
    from scipy import ndimage

    k, side, _ = canvases.shape
    # every random number is drawn here, in a fixed order
    radius = rng.integers(-1, 3, size=k)
    theta = np.deg2rad(rng.uniform(-8.0, 8.0, size=k))
    scale = rng.uniform(0.88, 1.12, size=k)
    aspect = rng.uniform(0.94, 1.06, size=k)
    shear = rng.uniform(-0.15, 0.15, size=k)
    shift = rng.uniform(-0.05, 0.05, size=(k, 2)) * side
    noise = rng.uniform(-1.0, 1.0, size=(k, 2, size, size))

    smooth = ndimage.gaussian_filter(noise, sigma=(0, 0, 0.1 * size, 0.1 * size),
                                     mode="reflect")
    rms = np.sqrt((smooth ** 2).mean(axis=(2, 3), keepdims=True)) + 1e-12
    up = _upsample_matrix(size, factor)  # linear interpolation to the fine grid, (S, n)
    field = up @ (smooth / rms) @ up.T * (0.015 * side)

    centre = (side - 1) / 2.0
    grid = np.mgrid[0:side, 0:side].astype(np.float64) - centre  # (2, S, S): rows, cols
    out = np.empty((k, size, size), np.float64)
    for i in range(k):
        img = canvases[i]
        r = int(radius[i])
        if r > 0:
            img = ndimage.grey_dilation(img, footprint=_disc(r))
        elif r < 0:
            img = ndimage.grey_erosion(img, footprint=_disc(-r))
        c, s = math.cos(theta[i]), math.sin(theta[i])
        rot = np.array([[c, -s], [s, c]])
        m = rot @ np.array([[1.0, shear[i]], [0.0, 1.0]]) @ np.diag(
            [scale[i] * aspect[i], scale[i] / aspect[i]])
        coords = np.einsum("ab,bhw->ahw", m, grid) + centre + shift[i][:, None, None]
        coords += field[i]
        warped = ndimage.map_coordinates(img, coords, order=1, mode="constant", cval=0.0)
        out[i] = _downsample(warped, factor)
    return np.clip(out, 0.0, 1.0)


def _oversample(size: int) -> int:
    return max(2, math.ceil(112 / size))


# ----- building --------------------------------------------------------------------------------
def _alphabet_frame(renderer: _Renderer, codes: Sequence[int]) -> tuple[float, float, float]:
    """``(cx, cy, half)`` in em: a square around the 2nd..98th percentile ink extents of the
    alphabet in its reference face (the face that has most of its characters)."""
    counts = [sum(c in cm for c in codes) for cm in renderer.charmaps]
    ref = int(np.argmax(counts))
    boxes = [b for c in codes if c in renderer.charmaps[ref]
             and (b := renderer.metrics(ref, c)) is not None]
    arr = np.array(boxes)
    left, bottom = np.percentile(arr[:, 0], 2), np.percentile(arr[:, 2], 2)
    right, top = np.percentile(arr[:, 1], 98), np.percentile(arr[:, 3], 98)
    half = max(right - left, top - bottom, 1e-3) / 2
    return (left + right) / 2, (bottom + top) / 2, half


def _select_characters(renderer: _Renderer, alphabet: GlyphAlphabet, size: int,
                       frame: tuple[float, float, float]) -> list[int]:
    """The alphabet's characters: covered by a face, ink in the clean render (at the
    output size, in the first face that has the glyph), not a duplicate of an earlier one
    (same first face, no pixel differing by more than ``_DUPLICATE_TOLERANCE`` of 255); at
    most MAX_CHARACTERS_PER_ALPHABET, evenly spaced in code-point order."""
    from scipy.spatial.distance import cdist

    factor = _oversample(size)
    kept: list[int] = []
    by_face: dict[int, list[tuple[int, np.ndarray]]] = {}
    for code in alphabet.candidates():
        faces = renderer.faces_of(code)
        if not faces:
            continue
        img = _to_uint8(_downsample(renderer.render(faces[0], code, frame), factor))
        if img.max() < 32:  # empty (or nearly: no visible ink at this size)
            continue
        by_face.setdefault(faces[0], []).append((code, img.astype(np.float32).ravel()))
    for items in by_face.values():
        vecs = np.stack([v for _, v in items])
        dist = cdist(vecs, vecs, "chebyshev")
        for i, (code, _) in enumerate(items):
            if not np.any(dist[i, :i] <= _DUPLICATE_TOLERANCE):
                kept.append(code)
    kept.sort()
    if len(kept) > MAX_CHARACTERS_PER_ALPHABET:
        idx = np.linspace(0, len(kept) - 1, MAX_CHARACTERS_PER_ALPHABET).round().astype(int)
        kept = [kept[i] for i in idx]
    return kept


def _render_character(renderer: _Renderer, code: int, frame: tuple[float, float, float],
                      seed: int, size: int, n: int) -> np.ndarray:
    rng = np.random.default_rng([seed, code])
    faces = renderer.faces_of(code)
    order = rng.permutation(len(faces))
    drawers = [faces[order[i % len(faces)]] for i in range(n)]
    clean = {f: renderer.render(f, code, frame) for f in set(drawers)}
    canvases = np.stack([clean[f] for f in drawers])
    return _to_uint8(_distort(canvases, rng, size, _oversample(size)))


def _build_glyphs(seed: int, size: int, images_per_class: int, min_glyphs: int,
                  max_alphabets: int | None, max_classes: int | None,
                  progress: bool) -> tuple[ImageClasses, ImageClasses]:
    renderer = _Renderer(size * _oversample(size))
    splits: dict[str, list[tuple[str, str, list[np.ndarray]]]] = {"bg": [], "ev": []}
    descriptions: dict[str, list[str]] = {"bg": [], "ev": []}
    used = {"bg": 0, "ev": 0}
    start = time.perf_counter()
    for alphabet in GLYPH_ALPHABETS:
        split = "bg" if alphabet.name in GLYPH_BACKGROUND_ALPHABETS else "ev"
        if max_alphabets is not None and used[split] >= max_alphabets:
            continue
        codes = [c for c in alphabet.candidates() if renderer.faces_of(c)]
        if len(codes) < min_glyphs:
            continue
        frame = _alphabet_frame(renderer, codes)
        chars = _select_characters(renderer, alphabet, size, frame)
        if len(chars) < min_glyphs:
            continue
        if max_classes is not None:
            chars = chars[:max_classes]
        used[split] += 1
        for j, code in enumerate(chars, start=1):
            ims = _render_character(renderer, code, frame, seed, size, images_per_class)
            splits[split].append((alphabet.name, f"{alphabet.name}/character{j:02d}",
                                  list(ims)))
            descriptions[split].append(
                f"U+{code:04X} {unicodedata.name(chr(code), '?')}")
        if progress:
            print(f"glyphs: {alphabet.name}: {len(chars)} characters "
                  f"({time.perf_counter() - start:.1f} s)", file=sys.stderr, flush=True)
    return (ImageClasses.from_groups(splits["bg"], descriptions["bg"]),
            ImageClasses.from_groups(splits["ev"], descriptions["ev"]))


def _to_arrays(prefix: str, classes: ImageClasses) -> dict[str, np.ndarray]:
    return {f"{prefix}_images": np.asarray(classes.images),
            f"{prefix}_labels": np.asarray(classes.labels),
            f"{prefix}_class_names": np.array(classes.class_names, dtype=str),
            f"{prefix}_alphabets": np.array(classes.alphabets, dtype=str),
            f"{prefix}_descriptions": np.array(classes.descriptions, dtype=str)}


def _from_arrays(prefix: str, arrays: dict[str, np.ndarray]) -> ImageClasses:
    return ImageClasses(arrays[f"{prefix}_images"], arrays[f"{prefix}_labels"],
                        tuple(arrays[f"{prefix}_class_names"].tolist()),
                        tuple(arrays[f"{prefix}_alphabets"].tolist()),
                        tuple(arrays[f"{prefix}_descriptions"].tolist()))


def _read_cache(path: Path, meta: dict[str, Any]) -> tuple[ImageClasses, ImageClasses] | None:
    """The cached split pair, or ``None`` when the file is missing, unreadable, or was
    written with other settings or other fonts."""
    from metasym.npzfile import read_npz

    if not path.is_file():
        return None
    names = [f"{p}_{k}" for p in ("bg", "ev")
             for k in ("images", "labels", "class_names", "alphabets", "descriptions")]
    try:
        arrays = read_npz(path, required=["meta", *names])
        stored = json.loads(str(arrays["meta"]))
        if stored != meta:
            return None
        bg, ev = _from_arrays("bg", arrays), _from_arrays("ev", arrays)
    except (MetasymError, ValueError, KeyError, TypeError):
        return None
    size = meta["size"]
    if bg.image_size != (size, size) or ev.image_size != (size, size):
        return None
    if set(bg.alphabets) & set(ev.alphabets):
        return None
    return bg, ev


def _write_cache(path: Path, meta: dict[str, Any], bg: ImageClasses,
                 ev: ImageClasses) -> None:
    from metasym.files import atomic_write

    arrays = {"meta": np.array(json.dumps(meta, sort_keys=True)),
              **_to_arrays("bg", bg), **_to_arrays("ev", ev)}

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(path, write)


def glyph_memory(size: int, images_per_class: int = IMAGES_PER_CLASS, max_alphabets: int | None = None,
                 max_classes_per_alphabet: int | None = None) -> tuple[int, float]:
    """``(images, bytes)``: at most how many images the glyph data set has and the bytes
    of building or reading it (the ``uint8`` images twice, plus one character's float
    canvases at the oversampled resolution and its distortion fields), from the sizes
    alone."""
    alphabets = len(GLYPH_ALPHABETS)
    if max_alphabets is not None:
        alphabets = min(alphabets, 2 * max_alphabets)
    chars = MAX_CHARACTERS_PER_ALPHABET
    if max_classes_per_alphabet is not None:
        chars = min(chars, max_classes_per_alphabet)
    n = alphabets * chars * images_per_class
    fine = float(size * _oversample(size)) ** 2
    work = images_per_class * (fine * 8 * 4 + float(size) ** 2 * 8 * 8) + fine * 8 * 5
    return n, n * float(size) ** 2 * 2 + work


def _check_glyph_memory(size: int, images_per_class: int, max_alphabets: int | None,
                        max_classes: int | None) -> None:
    from metasym._limits import check_memory

    n, nbytes = glyph_memory(size, images_per_class, max_alphabets, max_classes)
    check_memory(nbytes, f"the glyph data set at --image-size {size} (up to {n:,} images)")


def glyph_dataset(*, seed: int = 0, size: int = 28, images_per_class: int = IMAGES_PER_CLASS,
                  cache_dir: str | Path | None | bool = None, min_glyphs: int = 20,
                  progress: bool = False, max_alphabets: int | None = None,
                  max_classes_per_alphabet: int | None = None,
                  ) -> tuple[ImageClasses, ImageClasses]:
    """The glyph data set (see the module docstring): ``(background, evaluation)``.

    Parameters
    ----------
    seed
        Seeds every distortion (per character: ``(seed, code point)``); same seed,
        identical arrays.
    size
        Image side in pixels (28 like the usual downsampled Omniglot).
    images_per_class
        Images ("drawers") per character.
    cache_dir
        Folder of the cache file; ``None``: :func:`default_cache_dir`; ``False``: build in
        memory, read and write no cache. Never inside the package.
    min_glyphs
        Alphabets with fewer usable characters are left out.
    progress
        Print one line per alphabet on stderr while building.
    max_alphabets, max_classes_per_alphabet
        Small builds (for tests): at most this many alphabets per split (the first ones of
        :data:`GLYPH_ALPHABETS`) and characters per alphabet (the first ones of the full
        selection).

    Returns
    -------
    tuple of ImageClasses
        Background and evaluation splits, ``uint8`` images ``(n, size, size)``, bright
        strokes on black; no alphabet is in both.
    """
    seed = check_integer("seed", seed, 0)
    size = check_integer("size", size, 8)
    images_per_class = check_integer("images_per_class", images_per_class, 1)
    min_glyphs = check_integer("min_glyphs", min_glyphs, 1)
    if max_alphabets is not None:
        max_alphabets = check_integer("max_alphabets", max_alphabets, 1)
    if max_classes_per_alphabet is not None:
        max_classes_per_alphabet = check_integer("max_classes_per_alphabet",
                                              max_classes_per_alphabet, 1)
    _check_glyph_memory(size, images_per_class, max_alphabets, max_classes_per_alphabet)
    meta = {"version": GLYPH_DATASET_VERSION, "seed": seed, "size": size,
            "images_per_class": images_per_class, "min_glyphs": min_glyphs,
            "max_alphabets": max_alphabets, "max_classes_per_alphabet": max_classes_per_alphabet,
            **_environment()}
    path = None
    if cache_dir is not False:
        path = glyph_cache_path(seed=seed, size=size, images_per_class=images_per_class,
                                cache_dir=None if cache_dir in (None, True) else cache_dir,
                                min_glyphs=min_glyphs, max_alphabets=max_alphabets,
                                max_classes_per_alphabet=max_classes_per_alphabet)
        cached = _read_cache(path, meta)
        if cached is not None:
            return cached
    bg, ev = _build_glyphs(seed, size, images_per_class, min_glyphs, max_alphabets,
                           max_classes_per_alphabet, progress)
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_cache(path, meta, bg, ev)
        except (OSError, MetasymError) as e:
            warnings.warn(f"glyph data set not cached at {path}: {e}", stacklevel=2)
    return bg, ev
