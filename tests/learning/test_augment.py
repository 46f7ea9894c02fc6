"""Query-set augmentations: the spec grammar, exact flips / quarter turns (checked against
numpy), crop and rotation (checked against a pixel-space numpy bilinear oracle), the crop
sampling convention, determinism and per-image independence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from metasym.errors import MismatchError, SpecError
from metasym.learning.data.augment import (
    AUGMENTATION_NAMES,
    Augmentation,
    AugmentationDraw,
    exact_group_order,
)
from metasym.representations.steerable import kernel_group


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


# ----- numpy oracles -----------------------------------------------------------------------
def _exact_oracle(img: np.ndarray, turns: int, flip: bool) -> np.ndarray:
    """rot90 (np.rot90 on the last two axes) ``turns`` times, then fliplr."""
    out = np.rot90(img, turns, axes=(-2, -1))
    return out[..., ::-1] if flip else out


def _all_exact(img: np.ndarray, rot90: bool, flip: bool) -> list[np.ndarray]:
    return [_exact_oracle(img, q, f) for q in (range(4) if rot90 else [0])
            for f in ((False, True) if flip else (False,))]


def _affine_oracle(img: np.ndarray, box, angle_deg: float) -> np.ndarray:
    """Crop ``box`` = (x0, y0, w, h) fractions, resize back, then rotate by ``angle_deg``
    counter-clockwise about the centre; bilinear, zero outside; in pixel coordinates
    (pixel centres at integer + 0.5)."""
    C, H, W = img.shape
    x0, y0, wf, hf = box
    a = math.radians(angle_deg)
    i, j = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    x, y = j + 0.5 - W / 2, i + 0.5 - H / 2           # output pixel, from the centre, y down
    xr = math.cos(a) * x - math.sin(a) * y            # where the rotation takes it from
    yr = math.sin(a) * x + math.cos(a) * y
    xs = (x0 + wf / 2 - 0.5) * W + wf * xr            # and where the crop takes that from
    ys = (y0 + hf / 2 - 0.5) * H + hf * yr
    col, row = xs + W / 2 - 0.5, ys + H / 2 - 0.5     # pixel-index coordinates
    c0, r0 = np.floor(col).astype(int), np.floor(row).astype(int)
    out = np.zeros_like(img)
    for dr in (0, 1):
        for dc in (0, 1):
            r, c = r0 + dr, c0 + dc
            wgt = (1 - np.abs(row - r)) * (1 - np.abs(col - c))
            inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
            out += np.where(inside, wgt, 0.0) * img[:, np.clip(r, 0, H - 1), np.clip(c, 0, W - 1)]
    return out


def _torchvision_boxes(n: int, h: int, w: int, crop: float):
    """torchvision's RandomResizedCrop.get_params, without the rounding to whole pixels:
    area fractions and aspect ratios of the boxes that fit, and which draws fell back."""
    rng = np.random.default_rng(0)
    areas, ratios, full = [], [], np.zeros(n, bool)
    for k in range(n):
        for _ in range(10):
            area = h * w * rng.uniform(crop, 1)
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw, ch = math.sqrt(area * ratio), math.sqrt(area / ratio)
            if cw <= w and ch <= h:
                areas.append(area / (h * w))
                ratios.append(cw / ch)
                break
        else:
            full[k] = True
    return np.array(areas), np.array(ratios), full


def _blob(n: int, size: int, sigma: float, channels: int = 1) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) + 0.5 - size / 2
    g = torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma ** 2))
    return g.expand(n, channels, size, size).clone()


# ----- spec ----------------------------------------------------------------------------------
@pytest.mark.parametrize("text, canonical", [
    (None, "none"), ("", "none"), ("  ", "none"), ("none", "none"), (" NONE ", "none"),
    ("flip", "flip"), ("rot90", "rot90"), ("rot90, flip", "flip,rot90"),
    ("rotate", "rotate:30"), ("crop", "crop:0.8"), ("crop:0.5,rotate:45", "rotate:45,crop:0.5"),
    ("flip,rot90,rotate:30,crop", "flip,rot90,rotate:30,crop:0.8"),
    ("Rotate:180", "rotate:180"), ("crop:1", "crop:1"), ("rotate:1e-3", "rotate:0.001"),
    ("rotate : 12.5 , crop : .25", "rotate:12.5,crop:0.25"),
])
def test_parse_examples(text, canonical):
    a = Augmentation.parse(text)
    assert a.spec() == canonical == str(a)
    assert Augmentation.parse(canonical) == a
    assert a.active == (canonical != "none")


def test_parse_values_and_defaults():
    a = Augmentation.parse("crop,flip,rotate")
    assert a == Augmentation(flip=True, rotate=30.0, crop=0.8)
    assert (a.flip, a.rot90, a.rotate, a.crop) == (True, False, 30.0, 0.8)
    assert Augmentation.parse("crop:0.8") == Augmentation(crop=0.8)
    assert Augmentation.parse(None) == Augmentation() and not Augmentation().active


@given(st.booleans(), st.booleans(),
       st.one_of(st.just(0.0), st.floats(min_value=1e-9, max_value=180)),
       st.one_of(st.none(), st.floats(min_value=1e-9, max_value=1)),
       st.randoms(use_true_random=False))
def test_spec_round_trip(flip, rot90, rotate, crop, rnd):
    a = Augmentation(flip=flip, rot90=rot90, rotate=rotate, crop=crop)
    assert Augmentation.parse(a.spec()) == a
    items = a.spec().split(",")
    rnd.shuffle(items)  # order does not matter
    assert Augmentation.parse(" , ".join(items)) == a


@pytest.mark.parametrize("text, named", [
    ("foo", "'foo'"), ("flip,mirror", "'mirror'"), ("flip,flip", "'flip'"),
    ("rotate:10,rotate:20", "'rotate'"), ("crop,crop:0.5", "'crop'"),
    ("rotate:nan", "nan"), ("rotate:inf", "inf"), ("rotate:-inf", "inf"), ("crop:nan", "nan"),
    ("rotate:0", "rotate:0"), ("rotate:-5", "rotate:-5"), ("rotate:180.5", "rotate:180.5"),
    ("rotate:1e400", "1e400"), ("crop:0", "crop:0"), ("crop:-0.5", "crop:-0.5"),
    ("crop:1.01", "crop:1.01"), ("crop:abc", "abc"), ("rotate:", "rotate:"),
    ("rotate:1_0", "1_0"), ("rotate:\uff13\uff10", "\uff13\uff10"), ("flip:1", "flip:1"),
    ("rot90:2", "rot90:2"), ("none,flip", "none"), ("flip,none", "none"), ("none:1", "none"),
    ("flip,", "empty"), (",flip", "empty"), ("flip,,rot90", "empty"),
    ("flip\nrot90", "'flip\\nrot90'"),
])
def test_parse_errors_are_one_line_spec_errors(text, named):
    with pytest.raises(SpecError) as info:
        Augmentation.parse(text)
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("bad augmentation spec")
    assert named in msg


def test_parse_rejects_non_strings_and_huge_specs():
    for bad in (3, ["flip"], b"flip"):
        with pytest.raises(SpecError, match="must be a string"):
            Augmentation.parse(bad)
    with pytest.raises(SpecError, match="longer than"):
        Augmentation.parse("flip," * 1000)


@pytest.mark.parametrize("kw", [dict(rotate=200), dict(rotate=-1), dict(rotate=float("nan")),
                                dict(crop=0), dict(crop=1.5), dict(crop=float("inf")),
                                dict(flip=1), dict(rot90="yes"), dict(rotate="30"),
                                dict(crop=True)])
def test_constructor_validates(kw):
    with pytest.raises(SpecError) as info:
        Augmentation(**kw)
    assert "\n" not in str(info.value)


# ----- exact group -----------------------------------------------------------------------------
@pytest.mark.parametrize("flip, vflip, rot90, name", [
    (False, False, False, None), (True, False, False, "flip"), (False, True, False, "vflip"),
    (True, True, False, "klein"), (False, False, True, "c4"), (True, False, True, "d4"),
    (False, True, True, "d4"), (True, True, True, "d4")])
def test_group_name_order_and_exact_transforms(flip, vflip, rot90, name):
    aug = Augmentation(flip=flip, vflip=vflip, rot90=rot90, rotate=10.0, crop=0.9)
    assert aug.group_name() == name  # rotate and crop are ignored by the group
    order = exact_group_order(name)
    assert order == {None: 1, "flip": 2, "vflip": 2, "klein": 4, "c4": 4, "d4": 8}[name]
    if name is not None:
        assert kernel_group(name, 3).order == order
    T = aug.exact_transforms()
    assert sorted(T) == sorted(k for k, on in (("flip", flip), ("vflip", vflip),
                                               ("rot90", rot90)) if on)
    # the transforms act as np.fliplr / np.flipud / np.rot90 and generate a group of that
    # order (the orbit of a generic image has |G| points)
    x = torch.randn(2, 5, 5, generator=_gen(1), dtype=torch.float64)
    if "flip" in T:
        np.testing.assert_array_equal(T["flip"](x).numpy(), x.numpy()[..., ::-1])
    if "vflip" in T:
        np.testing.assert_array_equal(T["vflip"](x).numpy(), x.numpy()[..., ::-1, :])
    if "rot90" in T:
        np.testing.assert_array_equal(T["rot90"](x).numpy(), np.rot90(x.numpy(), 1, (-2, -1)))
    seen, frontier = {x.numpy().tobytes()}, [x]
    while frontier:
        y = frontier.pop()
        for t in T.values():
            z = t(y)
            if z.numpy().tobytes() not in seen:
                seen.add(z.numpy().tobytes())
                frontier.append(z)
    assert len(seen) == order
    # the kernel group permutes a 3x3 grid exactly as the transforms move an image
    if name is not None:
        grid = np.arange(9.0).reshape(1, 3, 3)
        images = {torch.as_tensor(grid).numpy().tobytes()}
        frontier = [torch.as_tensor(grid)]
        while frontier:
            y = frontier.pop()
            for t in T.values():
                z = t(y)
                if z.numpy().tobytes() not in images:
                    images.add(z.numpy().tobytes())
                    frontier.append(z)
        # content at pixel p goes to g[p]: the moved index grid reads argsort(g)
        perms = {tuple(np.argsort(g)) for g in kernel_group(name, 3).element_arrays}
        assert {tuple(np.frombuffer(b).astype(int)) for b in images} == perms


def test_vflip_draws_match_the_outputs():
    aug = Augmentation(vflip=True, flip=True)
    x = torch.randn(64, 1, 5, 5, generator=_gen(7))
    y = aug(x, _gen(8))
    d = aug.draw(64, 5, 5, _gen(8))
    for i in range(64):
        want = x[i].flip(-1) if d.flip[i] else x[i]
        want = want.flip(-2) if d.vflip[i] else want
        assert torch.equal(y[i], want)
    assert 0 < int(d.vflip.sum()) < 64 and 0 < int(d.flip.sum()) < 64


def test_exact_group_order_rejects_unknown():
    with pytest.raises(SpecError, match="'c8'"):
        exact_group_order("c8")


# ----- flip and rot90: exact permutations -----------------------------------------------------
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("spec", ["flip", "rot90", "flip,rot90"])
def test_exact_augmentations_permute_pixels(spec, channels):
    aug = Augmentation.parse(spec)
    n = 200
    x = torch.randn(n, channels, 6, 6, generator=_gen(2))
    y = aug(x, _gen(3))
    assert y.shape == x.shape and y.dtype == x.dtype and y.data_ptr() != x.data_ptr()
    draw = aug.draw(n, 6, 6, _gen(3))  # the same generator state: the same parameters
    xs, ys = x.numpy(), y.numpy()
    hits = np.zeros(8, int)
    for i in range(n):
        cands = _all_exact(xs[i], aug.rot90, aug.flip)
        match = [k for k, c in enumerate(cands) if np.array_equal(ys[i], c)]
        assert len(match) == 1, i  # bit-exact, and exactly one of the |G| transforms
        q = int(draw.quarter_turns[i]) if aug.rot90 else 0
        f = bool(draw.flip[i]) if aug.flip else False
        np.testing.assert_array_equal(ys[i], _exact_oracle(xs[i], q, f))
        hits[match[0]] += 1
    order = exact_group_order(aug.group_name())
    counts = hits[:order]
    assert counts.sum() == n and (counts > 0).all()  # every transform (all 4 turns) occurs
    p = 1 / order  # and about uniformly: within 5 binomial standard deviations
    assert (np.abs(counts - n * p) < 5 * math.sqrt(n * p * (1 - p))).all(), counts


def test_flip_and_rot90_are_independent_per_image():
    """Identical images get independent transforms: all 8 (turn, flip) pairs occur, and
    the draws agree with the pair of each output."""
    aug = Augmentation(flip=True, rot90=True)
    d = aug.draw(400, 4, 4, _gen(5))
    pairs = d.quarter_turns * 2 + d.flip.long()
    counts = torch.bincount(pairs, minlength=8)
    assert (counts > 20).all(), counts
    # independence of flip and turn: flip frequency is similar for every turn
    for q in range(4):
        fr = d.flip[d.quarter_turns == q].double().mean().item()
        assert 0.3 < fr < 0.7


# ----- rotate and crop: one bilinear resampling ------------------------------------------------
@pytest.mark.parametrize("spec, shape", [("rotate:180", (5, 2, 8, 8)), ("rotate:45", (3, 1, 6, 10)),
                                          ("crop:0.3", (5, 3, 8, 8)), ("crop:0.5", (4, 1, 7, 12)),
                                          ("rotate:90,crop:0.4", (6, 3, 9, 9))])
def test_resampling_matches_numpy_oracle(spec, shape):
    aug = Augmentation.parse(spec)
    x = torch.randn(*shape, generator=_gen(6), dtype=torch.float64)
    d = aug.draw(shape[0], shape[2], shape[3], _gen(7))
    y = aug.apply(x, d)
    assert torch.equal(aug(x, _gen(7)), y)  # __call__ = apply(draw) with the same state
    for i in range(shape[0]):
        box = d.box[i].tolist() if d.box is not None else (0.0, 0.0, 1.0, 1.0)
        angle = float(d.angle[i]) if d.angle is not None else 0.0
        np.testing.assert_allclose(y[i].numpy(), _affine_oracle(x[i].numpy(), box, angle),
                                   atol=1e-10)


def test_rotation_sense_and_order_crop_then_rotate():
    """A 90-degree rotation is torch.rot90 (same sense), and crop comes before rotate."""
    x = torch.randn(3, 2, 8, 8, generator=_gen(8), dtype=torch.float64)
    aug = Augmentation(rotate=90.0, crop=0.5)
    turn = AugmentationDraw(angle=torch.tensor([90.0, -90.0, 180.0], dtype=torch.float64))
    y = aug.apply(x, turn)
    for i, q in enumerate((1, -1, 2)):
        torch.testing.assert_close(y[i], torch.rot90(x[i], q, (-2, -1)), atol=1e-12, rtol=0)
    box = torch.tensor([[0.1, 0.4, 0.5, 0.6]] * 3, dtype=torch.float64)
    cropped = aug.apply(x, AugmentationDraw(box=box))
    both = aug.apply(x, AugmentationDraw(box=box, angle=turn.angle))
    for i, q in enumerate((1, -1, 2)):
        torch.testing.assert_close(both[i], torch.rot90(cropped[i], q, (-2, -1)), atol=1e-12,
                                   rtol=0)
    # rotating first would differ (the box is off-centre and not square)
    assert not torch.allclose(both[0], aug.apply(torch.rot90(x[:1], 1, (-2, -1)),
                                                 AugmentationDraw(box=box[:1]))[0])


def test_tiny_rotation_is_almost_identity():
    x = torch.randn(8, 3, 10, 10, generator=_gen(9), dtype=torch.float64)
    y = Augmentation(rotate=1e-4)(x, _gen(10))
    assert y.shape == x.shape
    err = (y - x).abs().max().item()
    assert 0 < err < 1e-4 * 10 * x.abs().max().item()  # moved, by much less than a pixel


def test_rotation_preserves_a_centred_blob():
    """A rotationally symmetric centred blob far from the border: any rotation keeps its
    mass and centroid, and barely changes it (interpolation only)."""
    x = _blob(64, 16, sigma=2.0)
    y = Augmentation(rotate=180.0)(x, _gen(11))
    mass_x, mass_y = x.sum((1, 2, 3)), y.sum((1, 2, 3))
    assert torch.allclose(mass_y, mass_x, rtol=0.02)
    r = torch.arange(16, dtype=torch.float64) + 0.5 - 8
    cx = (y.sum((1, 2)) * r).sum(-1) / mass_y
    cy = (y.sum((1, 3)) * r).sum(-1) / mass_y
    assert cx.abs().max() < 0.05 and cy.abs().max() < 0.05
    assert (y - x).abs().max() < 0.05
    # and a thin off-centre bar does move: rotation is not the identity
    bar = torch.zeros(64, 1, 16, 16, dtype=torch.float64)
    bar[:, :, 7:9, 2:14] = 1
    moved = Augmentation(rotate=180.0)(bar, _gen(11))
    assert (moved - bar).abs().amax((1, 2, 3)).min() > 0.01
    assert torch.allclose(moved.sum((1, 2, 3)), bar.sum((1, 2, 3)), rtol=0.05)


def test_crop_boxes_follow_the_random_resized_crop_convention():
    for h, w, crop in ((8, 8, 0.3), (6, 12, 0.5), (10, 10, 0.9), (12, 5, 0.2)):
        d = Augmentation(crop=crop).draw(2000, h, w, _gen(12))
        x0, y0, wf, hf = d.box.unbind(1)
        assert ((x0 >= 0) & (y0 >= 0) & (x0 + wf <= 1 + 1e-12) & (y0 + hf <= 1 + 1e-12)).all()
        area = wf * hf
        ratio = (wf * w) / (hf * h)
        # the fallback after 10 misses: torchvision's centred box (whole image unless the
        # image's own aspect ratio is outside [3/4, 4/3]: then as wide as 4/3 allows)
        fw, fh = (min(1.0, h * 4 / 3 / w), min(1.0, w * 4 / 3 / h))
        full = ((wf - fw).abs() < 1e-12) & ((hf - fh).abs() < 1e-12) \
            & ((x0 - (1 - fw) / 2).abs() < 1e-12) & ((y0 - (1 - fh) / 2).abs() < 1e-12)
        fitted = ~full
        assert ((area[fitted] >= crop - 1e-12) & (area[fitted] <= 1)).all()
        assert ((ratio[fitted] >= 3 / 4 - 1e-12) & (ratio[fitted] <= 4 / 3 + 1e-12)).all()
        # the distribution is torchvision's (continuous): compare with a plain-numpy
        # simulation of its rejection loop
        ref_area, ref_ratio, ref_full = _torchvision_boxes(20000, h, w, crop)
        assert abs(full.double().mean().item() - ref_full.mean()) < 0.03
        for got, ref in ((area[fitted], ref_area), (ratio[fitted].log(), np.log(ref_ratio))):
            for q in (0.1, 0.5, 0.9):
                assert abs(got.quantile(q).item() - np.quantile(ref, q)) < 0.04, (h, w, crop, q)
    # crop = 1: no box of area 1 and another aspect fits, so the whole image, exactly
    d = Augmentation(crop=1.0).draw(50, 8, 8, _gen(13))
    assert torch.equal(d.box, torch.tensor([[0.0, 0.0, 1.0, 1.0]] * 50, dtype=torch.float64))
    x = torch.randn(50, 2, 8, 8, generator=_gen(14), dtype=torch.float64)
    torch.testing.assert_close(Augmentation(crop=1.0)(x, _gen(13)), x, atol=1e-12, rtol=0)


def test_smaller_crops_zoom_in():
    """A centred blob's mass grows when zooming in, more for smaller crop fractions; and
    outputs stay within the range of the input (and the zero fill)."""
    x = _blob(300, 16, sigma=2.0, channels=3)
    means = []
    for crop in (1.0, 0.8, 0.3):
        y = Augmentation(crop=crop)(x, _gen(15))
        assert y.shape == x.shape and y.dtype == x.dtype
        assert y.min() >= 0 and y.max() <= x.max() + 1e-12
        assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 0], y[:, 2])  # same box
        means.append((y.sum((1, 2, 3)) / x.sum((1, 2, 3))).mean().item())
    assert abs(means[0] - 1) < 1e-9
    assert 1.05 < means[1] < means[2]


# ----- determinism, shapes, devices, errors -------------------------------------------------
ALL = "flip,rot90,rotate:30,crop:0.5"


def test_deterministic_and_independent():
    x = torch.randn(1, 3, 8, 8, generator=_gen(16)).expand(32, 3, 8, 8).contiguous()
    aug = Augmentation.parse(ALL)
    a, b = aug(x, _gen(17)), aug(x, _gen(17))
    assert torch.equal(a, b)
    assert not torch.equal(a, aug(x, _gen(18)))
    # identical inputs get different transforms
    assert not any(torch.allclose(a[i], a[j], atol=1e-6)
                   for i in range(32) for j in range(i + 1, 32))
    # the generator advances: two calls in a row differ
    g = _gen(17)
    assert not torch.equal(aug(x, g), aug(x, g))


@pytest.mark.parametrize("shape", [(1, 1, 8, 8), (1, 3, 8, 8), (5, 1, 9, 9), (4, 3, 7, 7)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_dtypes_and_device(shape, dtype):
    x = torch.rand(*shape, generator=_gen(19), dtype=dtype)
    for spec in ("flip", "rot90", "rotate:20", "crop", ALL):
        y = Augmentation.parse(spec)(x, _gen(20))
        assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
        assert torch.isfinite(y).all() and y.min() >= 0 and y.max() <= 1 + 1e-6


def test_half_precision_and_empty_batch():
    x = torch.rand(3, 2, 8, 8, generator=_gen(21))
    y16 = Augmentation.parse(ALL)(x.half(), _gen(22))
    assert y16.dtype == torch.float16
    y32 = Augmentation.parse(ALL)(x.half().float(), _gen(22))
    torch.testing.assert_close(y16.float(), y32, atol=2e-3, rtol=0)
    empty = torch.zeros(0, 1, 8, 8)
    assert Augmentation.parse(ALL)(empty, _gen(0)).shape == empty.shape


def test_no_augmentation_is_identity_and_draws_nothing():
    x = torch.randn(4, 3, 6, 6, generator=_gen(23))
    g = _gen(24)
    state = g.get_state()
    y = Augmentation()(x, g)
    assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    assert torch.equal(g.get_state(), state)


def test_call_errors():
    aug = Augmentation(rot90=True)
    with pytest.raises(MismatchError, match="square images, got 6 x 8"):
        aug(torch.zeros(2, 1, 6, 8), _gen())
    Augmentation(flip=True, rotate=10.0, crop=0.5)(torch.zeros(2, 1, 6, 8), _gen())  # fine
    with pytest.raises(MismatchError, match=r"\(N, C, H, W\), got \(1, 6, 6\)"):
        aug(torch.zeros(1, 6, 6), _gen())
    with pytest.raises(MismatchError, match="floating point, got torch.int64"):
        aug(torch.zeros(1, 1, 6, 6, dtype=torch.int64), _gen())
    with pytest.raises(TypeError, match="torch.Tensor"):
        aug(np.zeros((1, 1, 6, 6)), _gen())
    with pytest.raises(TypeError, match="torch.Generator"):
        aug(torch.zeros(1, 1, 6, 6), 0)
    with pytest.raises(MismatchError, match="3 rows for 2 images"):
        aug.apply(torch.zeros(2, 1, 6, 6), AugmentationDraw(quarter_turns=torch.zeros(3)))


def test_names():
    assert AUGMENTATION_NAMES == ("flip", "vflip", "rot90", "rotate", "crop")
