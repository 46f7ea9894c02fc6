r"""Random image augmentations for few-shot meta-training (applied to query sets; the
caller decides which images to augment).

An :class:`Augmentation` is a frozen value parsed from a short spec
(``"flip,rot90,rotate:30,crop:0.8"``, :meth:`Augmentation.parse`) and applied to a batch
``(N, C, H, W)`` with a CPU :class:`torch.Generator`. Every image gets its own independent
transform, composed in the order **crop, rotate, rot90, flip, vflip**:

.. math:: y = V^{u} F^{f}\, R_{90}^{q}\, \mathrm{Rot}_\alpha\, \mathrm{Crop}_{b}(x),

* ``crop`` (area fraction ``c``): a random resized crop in torchvision's
  ``RandomResizedCrop`` convention -- area fraction :math:`s \sim U[c, 1]`, aspect ratio
  :math:`r = w/h` with :math:`\log r \sim U[\log\tfrac34, \log\tfrac43]`,
  :math:`w = \sqrt{s H W r}`, :math:`h = \sqrt{s H W / r}` pixels, up to 10 tries for a
  box that fits, else the centred fallback box -- resized back to ``H x W``. Unlike
  torchvision the box is continuous (sizes and position are not rounded to whole pixels)
  and its position is uniform over the places it fits. As the resampling fills with
  zeros (for the rotation), output pixels on the border of a box that touches the image
  border blend in a little of the zero fill (weight at most :math:`(1 - w/W)/2`);
* ``rotate`` (``a`` degrees): a rotation about the image centre by
  :math:`\alpha \sim U[-a, a]`, positive = counter-clockwise as displayed (row 0 at the
  top), the same sense as :func:`torch.rot90`; zero fill outside the image;
* ``rot90``: :math:`q \sim U\{0, 1, 2, 3\}` quarter turns, exactly
  ``torch.rot90(x, q, (-2, -1))`` (square images only);
* ``flip``: :math:`f \sim U\{0, 1\}`, exactly ``x.flip(-1)`` (left-right, as
  ``np.fliplr``);
* ``vflip``: :math:`u \sim U\{0, 1\}`, exactly ``x.flip(-2)`` (up-down, as ``np.flipud``).

Crop and rotate are one affine resampling: output pixel :math:`p` (normalised coordinates
of :func:`torch.nn.functional.affine_grid`, ``align_corners=False``) reads the input at

.. math:: \theta\,(p, 1)^\top = D\, S^{-1} R(-\alpha) S\, p + t, \qquad
          S = \mathrm{diag}(W/2, H/2),\ D = \mathrm{diag}(w/W, h/H),

with :math:`t` the crop box's centre; one batched ``affine_grid`` + ``grid_sample``
(bilinear, zero padding) for the whole batch. ``rot90`` and ``flip`` are index
operations, never interpolated, as are ``flip`` and ``vflip``: the output pixels are
exactly permuted input pixels, and these transforms generate the pixel-grid group named
by :meth:`Augmentation.group_name` (``flip`` and ``vflip`` = C2, ``klein`` = both flips,
``c4`` = C4, ``d4`` = D4; the names of
:func:`metasym.representations.steerable.kernel_group`).

**Randomness.** All random numbers are drawn on the CPU from the given generator
(:meth:`Augmentation.draw`), only for the active parts, in the order crop, rotate, rot90,
flip, vflip, then moved to the images' device: the same generator state gives the same output
on any device. :meth:`Augmentation.apply` applies a given :class:`AugmentationDraw`, so
tests (and callers) can set the parameters by hand.

Parsing needs no torch; torch is imported when a batch is transformed.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metasym.errors import MismatchError, SpecError

if TYPE_CHECKING:  # pragma: no cover
    from torch import Generator, Tensor

__all__ = [
    "AUGMENTATION_NAMES",
    "DEFAULT_ROTATE",
    "DEFAULT_CROP",
    "Augmentation",
    "AugmentationDraw",
    "exact_group_order",
]

#: The augmentations, in the order of a canonical spec.
AUGMENTATION_NAMES = ("flip", "vflip", "rot90", "rotate", "crop")
#: Degrees for ``rotate`` given without a value.
DEFAULT_ROTATE = 30.0
#: Smallest area fraction for ``crop`` given without a value.
DEFAULT_CROP = 0.8
#: Tries for a crop box that fits before the centred fallback (as torchvision).
CROP_TRIES = 10
_LOG_RATIO = (math.log(3 / 4), math.log(4 / 3))
_MAX_SPEC_LENGTH = 1000
# ASCII decimal only: float() would also accept "1_0", "３０", "nan", "inf"
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_GROUP_ORDERS = {None: 1, "flip": 2, "vflip": 2, "klein": 4, "c4": 4, "d4": 8}


def exact_group_order(name: str | None) -> int:
    """Order of the exact pixel-grid group named by :meth:`Augmentation.group_name`.

    ``"flip"`` and ``"vflip"`` 2, ``"klein"`` and ``"c4"`` 4, ``"d4"`` 8, ``None`` (no
    exact transform) 1.

    >>> [exact_group_order(n) for n in (None, "flip", "vflip", "klein", "c4", "d4")]
    [1, 2, 2, 4, 4, 8]
    """
    if name not in _GROUP_ORDERS:
        raise SpecError(f"unknown exact augmentation group {name!r}: use flip, vflip, klein, "
                        "c4, d4 or None")
    return _GROUP_ORDERS[name]


def _format_number(x: float) -> str:
    s = repr(float(x))  # shortest text that round-trips
    return s[:-2] if s.endswith(".0") else s


def _check_rotate(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: rotate must be a number of degrees, got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0 <= v <= 180):
        raise SpecError(f"{where}: rotate must be a finite angle in (0, 180] degrees "
                        f"(0 = off), got {value!r}")
    return v


def _check_crop(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(f"{where}: crop must be an area fraction in (0, 1] or None, "
                        f"got {value!r}")
    v = float(value)
    if not (math.isfinite(v) and 0 < v <= 1):
        raise SpecError(f"{where}: crop must be a finite area fraction in (0, 1], got {value!r}")
    return v


@dataclass(frozen=True)
class AugmentationDraw:
    """The random parameters of one batch (CPU tensors, one row per image; ``None`` for an
    inactive augmentation).

    Attributes
    ----------
    box
        ``(N, 4)`` float64 crop boxes ``(x0, y0, w, h)`` as fractions of the width and
        height (``x0`` from the left, ``y0`` from the top); ``(0, 0, 1, 1)`` is the whole
        image.
    angle
        ``(N,)`` float64 rotation angles in degrees (positive = counter-clockwise).
    quarter_turns
        ``(N,)`` int64 in ``0..3``: ``torch.rot90(x, q, (-2, -1))``.
    flip
        ``(N,)`` bool: flip left-right.
    vflip
        ``(N,)`` bool: flip up-down.
    """

    box: Tensor | None = None
    angle: Tensor | None = None
    quarter_turns: Tensor | None = None
    flip: Tensor | None = None
    vflip: Tensor | None = None


@dataclass(frozen=True)
class Augmentation:
    """Random per-image augmentations; see the module docstring for the exact maths.

    Parameters
    ----------
    flip
        Flip left-right with probability 1/2.
    rot90
        Rotate by a uniform number of quarter turns (0, 1, 2, 3), as :func:`torch.rot90`
        on the last two dimensions.
    rotate
        Rotate by an angle uniform in ``[-rotate, rotate]`` degrees (bilinear, zero fill);
        ``0 < rotate <= 180``, or 0 for off.
    crop
        Random resized crop with area fraction uniform in ``[crop, 1]``
        (``0 < crop <= 1``), or ``None`` for off.
    vflip
        Flip up-down with probability 1/2.

    Examples
    --------
    >>> a = Augmentation.parse("crop, flip, rotate")
    >>> a.spec()
    'flip,rotate:30,crop:0.8'
    >>> Augmentation.parse(a.spec()) == a
    True
    >>> Augmentation.parse("rot90,flip").group_name(), Augmentation.parse(None).active
    ('d4', False)
    >>> Augmentation.parse("crop,flip,vflip,rotate").group_name()
    'klein'
    """

    flip: bool = False
    rot90: bool = False
    rotate: float = 0.0
    crop: float | None = None
    vflip: bool = False

    def __post_init__(self) -> None:
        for name in ("flip", "vflip", "rot90"):
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise SpecError(f"Augmentation: {name} must be True or False, got {v!r}")
        object.__setattr__(self, "rotate", _check_rotate(self.rotate, "Augmentation"))
        object.__setattr__(self, "crop", _check_crop(self.crop, "Augmentation"))

    # ----- text ----------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | None) -> Augmentation:
        """Parse a comma-separated spec: ``flip``, ``vflip``, ``rot90``, ``rotate[:DEGREES]``
        (default 30), ``crop[:FRACTION]`` (default 0.8), in any order, each at most once.

        ``None``, ``""`` and ``"none"`` mean no augmentation. Names are case-insensitive
        and spaces around items are ignored. A bad spec raises
        :class:`~metasym.errors.SpecError` naming the bad item.
        """
        if text is None:
            return cls()
        if not isinstance(text, str):
            raise SpecError(f"augmentation spec must be a string or None, got "
                            f"{type(text).__name__}")
        if len(text) > _MAX_SPEC_LENGTH:
            raise SpecError(f"augmentation spec is longer than {_MAX_SPEC_LENGTH} characters")
        if not text.strip():
            return cls()
        items = [item.strip() for item in text.split(",")]
        where = f"bad augmentation spec {text!r}"
        if [i.lower() for i in items] == ["none"]:
            return cls()
        kw: dict[str, object] = {}
        for item in items:
            name, sep, value = (s.strip() for s in item.partition(":"))
            key = name.lower()
            if not item:
                raise SpecError(f"{where}: empty item (two commas, or a comma at an end)")
            if key == "none":
                raise SpecError(f"{where}: " + ("'none' takes no value" if len(items) == 1 else
                                "'none' cannot be combined with other augmentations"))
            if key not in AUGMENTATION_NAMES:
                raise SpecError(f"{where}: unknown augmentation {name!r}; known: "
                                f"{', '.join(AUGMENTATION_NAMES)}")
            if key in kw:
                raise SpecError(f"{where}: {key!r} is given more than once")
            if key in ("flip", "vflip", "rot90"):
                if sep:
                    raise SpecError(f"{where}: {key} takes no value, got {item!r}")
                kw[key] = True
                continue
            if not sep:
                kw[key] = DEFAULT_ROTATE if key == "rotate" else DEFAULT_CROP
                continue
            if not _NUMBER.fullmatch(value):
                raise SpecError(f"{where}: {item!r}: {value!r} is not a finite decimal number")
            number = float(value)
            if key == "rotate" and not 0 < number <= 180:
                raise SpecError(f"{where}: {item!r}: the angle must be in (0, 180] degrees")
            if key == "crop" and not 0 < number <= 1:
                raise SpecError(f"{where}: {item!r}: the area fraction must be in (0, 1]")
            kw[key] = number
        return cls(**kw)

    def spec(self) -> str:
        """Canonical spec (``flip,vflip,rot90,rotate:X,crop:Y``; ``"none"`` when
        inactive); ``Augmentation.parse(a.spec()) == a``."""
        parts = []
        if self.flip:
            parts.append("flip")
        if self.vflip:
            parts.append("vflip")
        if self.rot90:
            parts.append("rot90")
        if self.rotate:
            parts.append(f"rotate:{_format_number(self.rotate)}")
        if self.crop is not None:
            parts.append(f"crop:{_format_number(self.crop)}")
        return ",".join(parts) or "none"

    def __str__(self) -> str:
        return self.spec()

    # ----- structure -----------------------------------------------------------------
    @property
    def active(self) -> bool:
        """Whether any augmentation is on."""
        return (self.flip or self.vflip or self.rot90 or self.rotate > 0
                or self.crop is not None)

    def group_name(self) -> str | None:
        """The exact pixel-grid group generated by the exact transforms (``flip``,
        ``vflip``, ``rot90``): ``"flip"`` or ``"vflip"`` (C2), ``"klein"`` (both flips,
        with the half turn), ``"c4"`` (quarter turns), ``"d4"`` (quarter turns and a
        flip), or ``None`` when none is on. ``rotate`` and ``crop`` are ignored: an
        interpolated rotation or a rescaling has no exact finite group on the pixel grid."""
        if self.rot90:
            return "d4" if self.flip or self.vflip else "c4"
        if self.flip and self.vflip:
            return "klein"
        if self.flip:
            return "flip"
        if self.vflip:
            return "vflip"
        return None

    def exact_transforms(self) -> dict[str, Callable[[Tensor], Tensor]]:
        """Deterministic generators of :meth:`group_name`'s group, for equivariance tests.

        ``{"flip": x -> x.flip(-1), "vflip": x -> x.flip(-2), "rot90": x ->
        torch.rot90(x, 1, (-2, -1))}`` restricted to the active ones: an empty dict when
        none is on (the trivial group has no generators).
        """
        out: dict[str, Callable[[Tensor], Tensor]] = {}
        if self.flip:
            out["flip"] = _flip
        if self.vflip:
            out["vflip"] = _vflip
        if self.rot90:
            out["rot90"] = _rot90
        return out

    # ----- randomness ----------------------------------------------------------------
    def draw(self, n: int, height: int, width: int, generator: Generator) -> AugmentationDraw:
        """Draw the parameters of ``n`` images of ``height x width`` pixels from
        ``generator`` (a CPU :class:`torch.Generator`), only for the active parts, in the
        order crop, rotate, rot90, flip, vflip."""
        import torch

        _check_generator(generator)
        for what, v in (("n", n), ("height", height), ("width", width)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if what == "n" else 1):
                raise MismatchError(f"augmentation draw: {what} must be a "
                                    f"{'non-negative' if what == 'n' else 'positive'} "
                                    f"integer, got {v!r}")
        box = angle = turns = flip = vflip = None
        f64 = torch.float64
        if self.crop is not None:
            box = _draw_boxes(n, height, width, self.crop, generator)
        if self.rotate > 0:
            u = torch.rand(n, generator=generator, dtype=f64)
            angle = (2 * u - 1) * self.rotate
        if self.rot90:
            turns = torch.randint(0, 4, (n,), generator=generator, dtype=torch.int64)
        if self.flip:
            flip = torch.randint(0, 2, (n,), generator=generator, dtype=torch.int64) == 1
        if self.vflip:
            vflip = torch.randint(0, 2, (n,), generator=generator, dtype=torch.int64) == 1
        return AugmentationDraw(box, angle, turns, flip, vflip)

    def __call__(self, images: Tensor, generator: Generator) -> Tensor:
        """Augment each image of ``images`` ``(N, C, H, W)`` (floating point, any device)
        independently; returns a new tensor of the same shape, dtype and device.
        Deterministic given the generator's state."""
        n, _, h, w = _check_images(images)
        return self.apply(images, self.draw(n, h, w, generator))

    def apply(self, images: Tensor, draw: AugmentationDraw) -> Tensor:
        """Apply given parameters (a :class:`AugmentationDraw`; its ``None`` fields are
        skipped) to ``images`` ``(N, C, H, W)``: crop + rotate as one bilinear resampling,
        then exact quarter turns and flips (left-right, then up-down)."""
        import torch

        n, _, h, w = _check_images(images)
        for name in ("box", "angle", "quarter_turns", "flip", "vflip"):
            t = getattr(draw, name)
            if t is not None and (t.ndim < 1 or t.shape[0] != n):
                raise MismatchError(f"augmentation draw: {name} has {t.shape[0] if t.ndim else 0}"
                                    f" rows for {n} images")
        if draw.quarter_turns is not None and h != w:
            raise MismatchError(f"rot90 needs square images, got {h} x {w}")
        out = images.clone()
        if n == 0:
            return out
        if draw.box is not None or draw.angle is not None:
            out = _resample(out, draw.box, draw.angle)
        if draw.quarter_turns is not None:
            turns = draw.quarter_turns.to(torch.int64)
            for q in (1, 2, 3):
                idx = torch.nonzero(turns == q).flatten().to(out.device)
                if idx.numel():
                    out[idx] = torch.rot90(out[idx], q, (-2, -1))
        for flips, dim in ((draw.flip, -1), (draw.vflip, -2)):
            if flips is not None:
                idx = torch.nonzero(flips.to(torch.bool)).flatten().to(out.device)
                if idx.numel():
                    out[idx] = out[idx].flip(dim)
        return out


def _flip(x: Tensor) -> Tensor:
    return x.flip(-1)


def _vflip(x: Tensor) -> Tensor:
    return x.flip(-2)


def _rot90(x: Tensor) -> Tensor:
    import torch

    return torch.rot90(x, 1, (-2, -1))


def _check_generator(generator: object) -> None:
    import torch

    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if generator.device.type != "cpu":
        raise MismatchError(f"the augmentation generator must be on the CPU, got "
                            f"{generator.device}")


def _check_images(images: object) -> tuple[int, int, int, int]:
    import torch

    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}")
    if images.ndim != 4:
        raise MismatchError(f"images must have shape (N, C, H, W), got {tuple(images.shape)}")
    if not images.is_floating_point():
        raise MismatchError(f"images must be floating point, got {images.dtype}")
    n, c, h, w = images.shape
    return int(n), int(c), int(h), int(w)


def _draw_boxes(n: int, height: int, width: int, crop: float, generator: Generator) -> Tensor:
    """``(n, 4)`` boxes ``(x0, y0, w, h)`` in fractions: torchvision's RandomResizedCrop
    sampling (area, log-aspect; first of :data:`CROP_TRIES` tries that fits, else the
    centred fallback), with continuous sizes and a continuous uniform position."""
    import torch

    f64 = torch.float64
    area = height * width * (crop + (1 - crop) * torch.rand(n, CROP_TRIES, generator=generator,
                                                            dtype=f64))
    lo, hi = _LOG_RATIO
    ratio = torch.exp(lo + (hi - lo) * torch.rand(n, CROP_TRIES, generator=generator, dtype=f64))
    pos = torch.rand(n, 2, generator=generator, dtype=f64)
    w = torch.sqrt(area * ratio)
    h = torch.sqrt(area / ratio)
    fits = (w <= width) & (h <= height)
    first = torch.argmax(fits.to(torch.int64), dim=1)  # first try that fits (0 if none)
    rows = torch.arange(n)
    w, h, ok = w[rows, first], h[rows, first], fits.any(dim=1)
    # fallback (torchvision): the whole image, or the largest centred box within the ratios
    in_ratio = width / height
    if in_ratio < 3 / 4:
        fw, fh = float(width), width / (3 / 4)
    elif in_ratio > 4 / 3:
        fw, fh = height * (4 / 3), float(height)
    else:
        fw, fh = float(width), float(height)
    w = torch.where(ok, w, torch.full_like(w, fw))
    h = torch.where(ok, h, torch.full_like(h, fh))
    u = torch.where(ok[:, None], pos, torch.full_like(pos, 0.5))
    wf, hf = (w / width).clamp(max=1), (h / height).clamp(max=1)
    return torch.stack([u[:, 0] * (1 - wf), u[:, 1] * (1 - hf), wf, hf], dim=1)


def _resample(images: Tensor, box: Tensor | None, angle: Tensor | None) -> Tensor:
    """One bilinear ``affine_grid`` + ``grid_sample`` for crop (then) rotation."""
    import torch
    import torch.nn.functional as F

    n, _, height, width = images.shape
    f64 = torch.float64
    if angle is None:
        angle = torch.zeros(n, dtype=f64)
    a = torch.deg2rad(angle.to(f64).cpu())
    cos, sin = torch.cos(a), torch.sin(a)
    # S^{-1} R(-alpha) S with S = diag(W/2, H/2): a rotation in pixel units
    m = torch.stack([torch.stack([cos, -sin * (height / width)], -1),
                     torch.stack([sin * (width / height), cos], -1)], -2)  # (n, 2, 2)
    if box is None:
        t = torch.zeros(n, 2, dtype=f64)
    else:
        b = box.to(f64).cpu()
        m = b[:, 2:, None] * m  # D = diag(w/W, h/H) on the left
        t = 2 * (b[:, :2] + b[:, 2:] / 2) - 1
    theta = torch.cat([m, t[:, :, None]], dim=2)
    work = images if images.dtype in (torch.float32, torch.float64) else images.float()
    theta = theta.to(device=images.device, dtype=work.dtype)
    grid = F.affine_grid(theta, list(work.shape), align_corners=False)
    out = F.grid_sample(work, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.to(images.dtype)
