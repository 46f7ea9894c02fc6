"""Few-shot image data: ImageClasses, the glyph data set (determinism, split, cache), the
Omniglot and miniImageNet loaders on tiny generated folders, statistics and the sample
grid."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import metasym
from metasym.errors import MetasymError
from metasym.learning.data import glyphs as fd
from metasym.learning.data.classes import ImageClasses, dataset_statistics, plot_samples
from metasym.learning.data.glyphs import (
    GLYPH_BACKGROUND_ALPHABETS,
    GLYPH_EVALUATION_ALPHABETS,
    glyph_cache_path,
    glyph_dataset,
)
from metasym.learning.data.loaders import load_miniimagenet, load_omniglot

TINY = {"max_alphabets": 1, "max_classes_per_alphabet": 3, "images_per_class": 4}


@pytest.fixture(scope="module")
def tiny():
    return glyph_dataset(seed=0, cache_dir=False, **TINY)


# ----- ImageClasses ------------------------------------------------------------------------------
def _classes(n_per=(2, 3), shape=(5, 5)):
    labels = np.repeat(np.arange(len(n_per)), n_per).astype(np.int64)
    images = np.arange(len(labels) * shape[0] * shape[1], dtype=np.uint8).reshape(
        len(labels), *shape)
    names = tuple(f"A/character{k + 1:02d}" for k in range(len(n_per)))
    return ImageClasses(images, labels, names, ("A",) * len(n_per))


def test_image_classes_helpers():
    c = _classes()
    assert c.n_classes == 2 and c.n_images == 5 and c.image_size == (5, 5)
    assert c.images_of(1).shape == (3, 5, 5)
    np.testing.assert_array_equal(c.images_of(0), c.images[:2])
    s = c.summary()
    assert s == {"classes": 2, "images": 5, "alphabets": 1, "images_per_class_min": 2,
                 "images_per_class_max": 3, "image_size": [5, 5], "channels": 1}
    assert not c.images.flags.writeable and not c.labels.flags.writeable
    with pytest.raises(MetasymError, match="out of range"):
        c.images_of(2)


@pytest.mark.parametrize("change, message", [
    ({"images": np.zeros((2, 4, 4), np.float32)}, "uint8"),
    ({"images": np.zeros((2, 4, 4, 2), np.uint8)}, "shape"),
    ({"labels": np.array([0, 1], np.int32)}, "int64"),
    ({"labels": np.array([0, 2], np.int64)}, "0..1"),
    ({"labels": np.array([0, 0], np.int64)}, "no images"),
    ({"alphabets": ("A",)}, "alphabets"),
    ({"class_names": ("x", "x")}, "distinct"),
    ({"descriptions": ("only one",)}, "descriptions"),
])
def test_image_classes_validation(change, message):
    kw = {"images": np.zeros((2, 4, 4), np.uint8), "labels": np.array([0, 1], np.int64),
          "class_names": ("a", "b"), "alphabets": ("A", "A")}
    kw.update(change)
    with pytest.raises(MetasymError, match=message):
        ImageClasses(**kw)


# ----- the glyph data set ------------------------------------------------------------------------
def test_glyph_shapes_and_dtypes(tiny):
    bg, ev = tiny
    for c in (bg, ev):
        assert c.images.dtype == np.uint8 and c.images.shape[1:] == (28, 28)
        assert c.labels.dtype == np.int64
        assert c.n_classes == 3 and c.n_images == 12
        np.testing.assert_array_equal(c.class_counts(), [4, 4, 4])
        assert len(c.descriptions) == c.n_classes
        assert all(d.startswith("U+") for d in c.descriptions)
        for k in range(c.n_classes):
            ims = c.images_of(k)
            assert (ims.reshape(len(ims), -1).max(axis=1) > 50).all()  # ink in every image
            # background is black: the corners are (nearly) empty
            assert ims[:, 0, 0].max() < 30
    assert bg.alphabet_names == (GLYPH_BACKGROUND_ALPHABETS[0],)
    assert ev.alphabet_names == (GLYPH_EVALUATION_ALPHABETS[0],)
    assert bg.class_names[0] == f"{GLYPH_BACKGROUND_ALPHABETS[0]}/character01"


def test_glyph_images_of_a_class_differ(tiny):
    bg, _ = tiny
    ims = bg.images_of(0).reshape(4, -1).astype(int)
    assert len({im.tobytes() for im in bg.images_of(0)}) == 4
    assert np.abs(ims[0] - ims[1]).mean() > 1


def test_glyph_deterministic_under_seed(tiny):
    bg, ev = tiny
    bg2, ev2 = glyph_dataset(seed=0, cache_dir=False, **TINY)
    np.testing.assert_array_equal(bg.images, bg2.images)
    np.testing.assert_array_equal(ev.images, ev2.images)
    np.testing.assert_array_equal(bg.labels, bg2.labels)
    assert bg.class_names == bg2.class_names and ev.descriptions == ev2.descriptions


def test_glyph_seeds_differ(tiny):
    bg, _ = tiny
    bg1, _ = glyph_dataset(seed=1, cache_dir=False, **TINY)
    assert bg1.class_names == bg.class_names  # the characters do not depend on the seed
    assert not np.array_equal(bg1.images, bg.images)


def test_glyph_small_build_is_part_of_a_larger_one(tiny):
    """Randomness per (seed, code point): the first characters of a bigger build are the
    same images."""
    bg, _ = tiny
    bigger, _ = glyph_dataset(seed=0, cache_dir=False, max_alphabets=1,
                              max_classes_per_alphabet=5, images_per_class=4)
    np.testing.assert_array_equal(bigger.images[:12], bg.images)


def test_glyph_split_is_disjoint(tiny):
    assert not set(GLYPH_BACKGROUND_ALPHABETS) & set(GLYPH_EVALUATION_ALPHABETS)
    assert len(GLYPH_BACKGROUND_ALPHABETS) + len(GLYPH_EVALUATION_ALPHABETS) == len(
        fd.GLYPH_ALPHABETS)
    bg, ev = tiny
    assert not set(bg.alphabets) & set(ev.alphabets)
    assert dataset_statistics(bg, ev)["shared_alphabets"] == []


def test_glyph_argument_errors():
    for kw in ({"seed": -1}, {"size": 4}, {"images_per_class": 0}, {"min_glyphs": 0},
               {"max_alphabets": 0}, {"size": 28.0}, {"seed": True}):
        with pytest.raises(MetasymError, match="must be an integer"):
            glyph_dataset(cache_dir=False, **kw)


def test_glyph_other_size():
    bg, ev = glyph_dataset(seed=0, size=20, cache_dir=False, max_alphabets=1,
                           max_classes_per_alphabet=1, images_per_class=2)
    assert bg.images.shape == (2, 20, 20) and ev.images.shape == (2, 20, 20)


# ----- the cache ---------------------------------------------------------------------------------
def test_cache_round_trip_and_rebuild(tmp_path, tiny):
    path = glyph_cache_path(seed=0, cache_dir=tmp_path, **TINY)
    assert path.parent == tmp_path and path.name.startswith("glyphs-v")
    assert "seed0" in path.name and "size28" in path.name
    bg, ev = glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    assert path.is_file()
    np.testing.assert_array_equal(bg.images, tiny[0].images)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left
    # a second call reads the file (it is not rebuilt: the file is unchanged)
    stamp = path.stat().st_mtime_ns
    bg2, ev2 = glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(ev2.images, ev.images)
    assert bg2.class_names == bg.class_names and bg2.descriptions == bg.descriptions
    # a corrupt file is rebuilt, not trusted
    path.write_bytes(b"not a zip file")
    bg3, _ = glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(bg3.images, bg.images)
    assert fd._read_cache(path, _meta()) is not None


def _meta():
    return {"version": fd.GLYPH_DATASET_VERSION, "seed": 0, "size": 28,
            "images_per_class": TINY["images_per_class"], "min_glyphs": 20,
            "max_alphabets": TINY["max_alphabets"],
            "max_classes_per_alphabet": TINY["max_classes_per_alphabet"],
            **fd._environment()}


def test_cache_with_other_settings_is_rebuilt(tmp_path, tiny):
    path = glyph_cache_path(seed=0, cache_dir=tmp_path, **TINY)
    glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    arrays = dict(np.load(path))
    meta = json.loads(str(arrays["meta"]))
    meta["freetype"] = "0.0.0"  # written by another FreeType
    arrays["meta"] = np.array(json.dumps(meta))
    arrays["bg_images"] = np.zeros_like(arrays["bg_images"])
    np.savez(path, **arrays)
    assert fd._read_cache(path, _meta()) is None
    bg, _ = glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(bg.images, tiny[0].images)
    # a truncated file too
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert fd._read_cache(path, _meta()) is None
    bg, _ = glyph_dataset(seed=0, cache_dir=tmp_path, **TINY)
    np.testing.assert_array_equal(bg.images, tiny[0].images)


def test_cache_dir_resolution(tmp_path, monkeypatch):
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "a"))
    assert fd.default_cache_dir() == tmp_path / "a"
    monkeypatch.delenv("METASYM_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert fd.default_cache_dir() == tmp_path / "xdg" / "metasym"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert fd.default_cache_dir() == tmp_path / "home" / ".cache" / "metasym"
    # the default is used when cache_dir is None
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "env"))
    glyph_dataset(seed=0, cache_dir=None, max_alphabets=1, max_classes_per_alphabet=1,
                  images_per_class=1)
    assert len(list((tmp_path / "env").glob("glyphs-v*.npz"))) == 1


def test_cache_never_inside_the_package(monkeypatch):
    package = Path(metasym.__file__).resolve().parent
    for folder in (package, package / "learning" / "cache"):
        with pytest.raises(MetasymError, match="inside the metasym package"):
            glyph_dataset(cache_dir=folder, **TINY)
        monkeypatch.setenv("METASYM_CACHE_DIR", str(folder))
        with pytest.raises(MetasymError, match="inside the metasym package"):
            glyph_dataset(**TINY)
        monkeypatch.delenv("METASYM_CACHE_DIR")
    assert not list(package.rglob("glyphs-v*.npz"))


def test_unwritable_cache_warns_and_returns(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.warns(UserWarning, match="not cached"):
        bg, _ = glyph_dataset(seed=0, cache_dir=blocker / "sub", max_alphabets=1,
                              max_classes_per_alphabet=1, images_per_class=1)
    assert bg.n_images == 1


def test_import_is_torch_free():
    code = ("import sys, metasym.learning.data.glyphs as m; "
            "assert 'torch' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "ok"


# ----- loaders -----------------------------------------------------------------------------------
def _png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def _omniglot(root: Path) -> None:
    rng = np.random.default_rng(0)
    for split, alphabets in (("images_background", ("Alpha", "Beta")),
                             ("images_evaluation", ("Gamma",))):
        for a in alphabets:
            for c in (1, 2):
                for d in (1, 2, 3):
                    im = np.full((12, 12), 255, np.uint8)  # white paper
                    im[rng.integers(0, 12, 5), rng.integers(0, 12, 5)] = 0  # black ink
                    _png(root / split / a / f"character{c:02d}" / f"{c:02d}_{d:02d}.png", im)


def test_load_omniglot(tmp_path):
    _omniglot(tmp_path)
    bg, ev = load_omniglot(tmp_path, size=8)
    assert bg.n_classes == 4 and ev.n_classes == 2
    assert bg.images.shape == (12, 8, 8) and bg.images.dtype == np.uint8
    assert bg.class_names == ("Alpha/character01", "Alpha/character02",
                              "Beta/character01", "Beta/character02")
    assert bg.alphabet_names == ("Alpha", "Beta") and ev.alphabet_names == ("Gamma",)
    np.testing.assert_array_equal(bg.class_counts(), [3, 3, 3, 3])
    # inverted: the white paper is dark, ink is bright
    full, _ = load_omniglot(tmp_path, size=12)
    assert np.median(full.images) == 0 and full.images.max() == 255
    assert not set(bg.alphabets) & set(ev.alphabets)


def test_load_omniglot_expands_home(tmp_path, monkeypatch):
    _omniglot(tmp_path / "data")
    monkeypatch.setenv("HOME", str(tmp_path))
    bg, _ = load_omniglot("~/data", size=8)
    assert bg.n_classes == 4


def test_load_omniglot_mixed_sizes(tmp_path):
    _omniglot(tmp_path)
    _png(tmp_path / "images_background" / "Alpha" / "character01" / "big.png",
         np.full((30, 20), 255, np.uint8))
    bg, _ = load_omniglot(tmp_path, size=10)
    assert bg.images.shape[1:] == (10, 10) and bg.class_counts()[0] == 4


def test_load_omniglot_errors(tmp_path):
    with pytest.raises(MetasymError, match="no such folder"):
        load_omniglot(tmp_path / "missing")
    (tmp_path / "images_background").mkdir()
    with pytest.raises(MetasymError, match="images_evaluation: no such folder"):
        load_omniglot(tmp_path)
    _omniglot(tmp_path)
    empty = tmp_path / "images_evaluation" / "Gamma" / "character03"
    empty.mkdir()
    with pytest.raises(MetasymError, match="character03: no images"):
        load_omniglot(tmp_path)
    empty.rmdir()
    bad = tmp_path / "images_evaluation" / "Gamma" / "character01" / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(MetasymError, match="broken.png: not a readable image"):
        load_omniglot(tmp_path)
    with pytest.raises(MetasymError, match="size"):
        load_omniglot(tmp_path, size=0)


def _rgb(rng, h=10, w=10):
    return rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def test_load_miniimagenet_folders(tmp_path):
    rng = np.random.default_rng(1)
    for split, classes in (("train", ("n01", "n02")), ("val", ("n03",)), ("test", ("n04",))):
        for c in classes:
            for i in range(3):
                _png(tmp_path / split / c / f"{c}_{i}.png", _rgb(rng, 10 + i, 12))  # mixed sizes
    out = load_miniimagenet(tmp_path, size=6)
    assert set(out) == {"train", "val", "test"}
    tr = out["train"]
    assert tr.images.shape == (6, 6, 6, 3) and tr.images.dtype == np.uint8
    assert tr.class_names == ("n01", "n02") and tr.alphabets == ("train", "train")
    assert tr.summary()["channels"] == 3
    assert out["test"].n_classes == 1


def test_load_miniimagenet_csv(tmp_path):
    rng = np.random.default_rng(2)
    for split, classes in (("train", ("n01", "n02")), ("val", ("n03",)), ("test", ("n04",))):
        rows = ["filename,label"]
        for c in classes:
            for i in range(2):
                name = f"{c}{i:04d}.png"
                _png(tmp_path / "images" / name, _rgb(rng))
                rows.append(f"{name},{c}")
        (tmp_path / f"{split}.csv").write_text("\n".join(rows) + "\n")
    out = load_miniimagenet(tmp_path, size=4)
    assert out["train"].class_names == ("n01", "n02")
    assert out["train"].images.shape == (4, 4, 4, 3)
    np.testing.assert_array_equal(out["val"].labels, [0, 0])
    # errors: a listed file is missing; a bad header; no images folder
    (tmp_path / "images" / "n040001.png").unlink()
    with pytest.raises(MetasymError, match="n040001.png: listed in test.csv but missing"):
        load_miniimagenet(tmp_path)
    (tmp_path / "val.csv").write_text("file,class\nx.png,n03\n")
    with pytest.raises(MetasymError, match="val.csv: expected a header"):
        load_miniimagenet(tmp_path)


def test_load_miniimagenet_errors(tmp_path):
    with pytest.raises(MetasymError, match="no such folder"):
        load_miniimagenet(tmp_path / "missing")
    with pytest.raises(MetasymError, match="neither train/"):
        load_miniimagenet(tmp_path)
    for s in ("train", "val", "test"):
        (tmp_path / s / "n01").mkdir(parents=True)
    with pytest.raises(MetasymError, match="n01: no images"):
        load_miniimagenet(tmp_path)
    for s in ("train", "val", "test"):
        (tmp_path / s / "n01" / "x.png").write_text("not an image")
    with pytest.raises(MetasymError, match="x.png: not a readable image"):
        load_miniimagenet(tmp_path)
    for name in ("train.csv", "val.csv", "test.csv"):
        (tmp_path / name).write_text("filename,label\n")
    with pytest.raises(MetasymError, match="images: no such folder"):
        load_miniimagenet(tmp_path)


# ----- statistics and plots ----------------------------------------------------------------------
def test_dataset_statistics(tiny):
    bg, ev = tiny
    st = dataset_statistics(bg, ev)
    assert st["total"] == {"alphabets": 2, "classes": 6, "images": 24}
    assert st["background"]["characters_per_alphabet"] == {GLYPH_BACKGROUND_ALPHABETS[0]: 3}
    assert st["evaluation"]["images_per_class_min"] == 4
    json.dumps(st)  # plain numbers


def test_plot_samples(tmp_path, tiny):
    bg, _ = tiny
    out = plot_samples(bg, tmp_path / "sub" / "grid.png", n_classes=2, per_class=3)
    assert out.is_file() and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rgb = ImageClasses(np.zeros((2, 4, 4, 3), np.uint8), np.array([0, 1], np.int64),
                       ("a", "b"), ("A", "B"))
    assert plot_samples(rgb, tmp_path / "rgb.png", n_classes=5, per_class=2).is_file()
    with pytest.raises(MetasymError, match="n_classes"):
        plot_samples(bg, tmp_path / "x.png", n_classes=0)


# ----- the full data set -------------------------------------------------------------------------
@pytest.mark.slow
def test_full_glyph_dataset_targets(tmp_path):
    bg, ev = glyph_dataset(seed=0, cache_dir=tmp_path)
    st = dataset_statistics(bg, ev)
    assert st["total"]["alphabets"] >= 20
    assert st["total"]["classes"] >= 1200
    for c in (bg, ev):
        assert c.summary()["images_per_class_min"] == 16
        assert c.summary()["images_per_class_max"] == 16
        assert c.image_size == (28, 28)
    assert set(bg.alphabet_names) <= set(GLYPH_BACKGROUND_ALPHABETS)
    assert set(ev.alphabet_names) <= set(GLYPH_EVALUATION_ALPHABETS)
    assert st["shared_alphabets"] == []
    # no two characters of an alphabet look the same (mean images differ)
    for c in (bg, ev):
        means = np.stack([c.images_of(k).mean(axis=0) for k in range(c.n_classes)])
        assert len({m.tobytes() for m in means}) == c.n_classes


# ----- sizes checked before allocating (issue 17) --------------------------------------------
@pytest.mark.parametrize("flags,named", [
    (["--image-size", "20000"], "--image-size 20000"),
    (["--ways", "100000"], "--ways 100000"),
    (["--channels", "1000000"], "--channels 1000000"),
    (["--queries", "10000000"], "--queries 10000000"),
    (["--shots", "100000000"], "--shots 100000000"),
])
def test_fewshot_sizes_refused_before_any_data(tmp_path, flags, named):
    """`train --problem glyphs --image-size 20000` grew past 5.5 GB before failing. Every
    size option is now checked from the options alone: one line naming the options and
    the estimate, exit 2, before a glyph is rendered (the cache folder stays empty) and
    before the run folder or the network exist."""
    cache = tmp_path / "cache"
    env = {**__import__("os").environ, "METASYM_CACHE_DIR": str(cache),
           "METASYM_MEMORY_LIMIT": "8G", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "metasym", "train", "--problem", "glyphs",
                           "--steps", "1", "--threads", "1", "--out", str(tmp_path / "run"),
                           *flags], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert named in lines[0] and "needs about" in lines[0]
    assert "METASYM_MEMORY_LIMIT=8G" in lines[0]
    assert not (tmp_path / "run").exists()
    assert not cache.exists() or not any(cache.rglob("*.npz"))


def test_glyph_and_loader_sizes_refused_before_reading(tmp_path, monkeypatch):
    """The data sets check their own memory from their sizes: the glyph set before a
    glyph is rendered, Omniglot and miniImageNet after listing the files and before
    reading an image; the message names the size and the count."""
    monkeypatch.setenv("METASYM_MEMORY_LIMIT", "1M")
    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MetasymError, match=r"glyph data set at --image-size 5000 .*needs about"):
        glyph_dataset(size=5000)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").rglob("*.npz"))
    _omniglot(tmp_path / "omni")
    with pytest.raises(MetasymError, match=r"18 images at --image-size 400 needs about"):
        load_omniglot(tmp_path / "omni", size=400)
    assert load_omniglot(tmp_path / "omni", size=8)[0].n_images == 12  # small sizes pass
    rng = np.random.default_rng(0)
    for split in ("train", "val", "test"):
        name = f"{split}.png"
        _png(tmp_path / "mini" / "images" / name, _rgb(rng))
        (tmp_path / "mini" / f"{split}.csv").write_text(f"filename,label\n{name},n0\n")
    with pytest.raises(MetasymError, match=r"3 images at --image-size 400 needs about"):
        load_miniimagenet(tmp_path / "mini", size=400)
    assert load_miniimagenet(tmp_path / "mini", size=8)["train"].n_images == 1


@pytest.mark.parametrize("flags,words", [
    (["--ways", "20", "--glyph-alphabets", "1", "--glyph-characters", "6"],
     "--ways 20: an episode needs 20 classes, but the glyph set has at most 6 per split"),
    (["--shots", "5", "--queries", "12"], "--shots 5 + --queries 12 = 17 images per class"),
])
def test_glyph_class_counts_checked_before_building(tmp_path, capsys, monkeypatch, flags, words):
    """Episodes the glyph set cannot hold are refused from the options, before the set is
    rendered (minutes on a first build), not after."""
    from metasym.cli import main

    monkeypatch.setenv("METASYM_CACHE_DIR", str(tmp_path / "cache"))
    assert main(["train", "--problem", "glyphs", "--steps", "1", "--quiet", "--out",
                 str(tmp_path / "run"), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert not (tmp_path / "cache").exists() and not (tmp_path / "run").exists()
