"""Reliability, third round (issue 17): inputs that are not regular files refused before
reading; file-system refusals (link loops, names too long, deep JSON, decompression bombs,
object arrays) in one line; miniImageNet names that leave ``images/`` refused."""

from __future__ import annotations

import contextlib
import os
import signal
import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

from metasym.cli import main
from metasym.errors import MetasymError
from metasym.files import open_regular, read_json_file, read_text_file

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--tasks", "200", "--eval-every", "5", "--eval-tasks", "20", "--quiet",
        "--threads", "1"]


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """Fail (instead of hanging the suite) if the block blocks, e.g. on a FIFO."""
    def expired(signum, frame):
        raise AssertionError(f"blocked for more than {seconds} s")

    old = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run(capsys, *argv: str) -> tuple[int, str]:
    """Run the CLI; return the exit status and its stderr, checked to be one line."""
    with deadline():
        code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    if code != 0:
        assert err.count("\n") == 1 and "Traceback" not in err, err
    return code, err


# ----- B. inputs that are not regular files ----------------------------------------------------
def _hostile(kind: str, tmp_path: Path) -> Path:
    if kind == "fifo":
        path = tmp_path / "fifo.npz"
        os.mkfifo(path)
        return path
    if kind == "folder":
        path = tmp_path / "folder.npz"
        path.mkdir()
        return path
    if kind == "link-to-dev-zero":
        path = tmp_path / "zero.npz"
        path.symlink_to("/dev/zero")
        return path
    return Path(kind)


HOSTILE = ["fifo", "/dev/zero", "/dev/urandom", "folder", "link-to-dev-zero"]
WORDS = {"fifo": "pipe (FIFO)", "/dev/zero": "character device",
         "/dev/urandom": "character device", "folder": "a folder",
         "link-to-dev-zero": "character device"}


@pytest.mark.parametrize("kind", HOSTILE)
@pytest.mark.parametrize("argv", [
    ["train", "--data", "{p}", "--steps", "2", "--quiet", "--out", "{out}"],
    ["train", "--problem", "rank1", "--data", "{p}", "--steps", "2", "--quiet", "--out", "{out}"],
    ["discover", "--U", "{p}", "--shape", "3x3"],
    ["discover", "--pattern", "{p}"],
])
def test_file_options_refuse_what_is_not_a_regular_file(tmp_path, capsys, kind, argv):
    if kind.startswith("/dev/") and not Path(kind).exists():
        pytest.skip(f"no {kind}")
    path = _hostile(kind, tmp_path)
    t0 = time.perf_counter()
    code, err = run(capsys, *[a.format(p=path, out=tmp_path / "run") for a in argv])
    assert code == 2 and str(path) in err and WORDS[kind] in err and "not a regular file" in err
    assert time.perf_counter() - t0 < 10  # refused before reading: no 9 GB, no hang
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("kind", HOSTILE)
def test_open_regular_and_text_readers(tmp_path, kind):
    if kind.startswith("/dev/") and not Path(kind).exists():
        pytest.skip(f"no {kind}")
    path = _hostile(kind, tmp_path)
    with deadline():
        for read in (open_regular, read_text_file, read_json_file):
            with pytest.raises(MetasymError, match="not a regular file"):
                read(path)


def test_text_files_are_read_under_a_size_limit(tmp_path):
    path = tmp_path / "big.json"
    path.write_text("[" + "0," * 1000 + "0]")
    assert len(read_json_file(path)) == 1001
    with pytest.raises(MetasymError, match="larger than 100 bytes"):
        read_text_file(path, max_bytes=100)
    path.write_bytes(b"\xff\xfe")
    with pytest.raises(MetasymError, match="not UTF-8"):
        read_text_file(path)
    with pytest.raises(MetasymError, match="no such file"):
        read_text_file(tmp_path / "missing")


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    assert main(["train", *TINY, "--steps", "5", "--out", str(out)]) == 0
    return out


@pytest.mark.parametrize("name", ["config.json", "checkpoint.safetensors", "final.json",
                                  "metrics.jsonl"])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "folder"])
def test_run_folder_files_that_are_not_regular_are_refused(tmp_path, capsys, finished_run,
                                                           name, kind):
    import shutil

    run_dir = tmp_path / "r"
    shutil.copytree(finished_run, run_dir)
    (run_dir / name).unlink()
    if kind == "fifo":
        os.mkfifo(run_dir / name)
    elif kind == "folder":
        (run_dir / name).mkdir()
    else:
        (run_dir / name).symlink_to(kind)
    commands = [["compare", run_dir, "--tasks", "5"], ["discover", run_dir],
                ["train", "--resume", run_dir, "--steps", "10", "--quiet"]]
    for argv in commands:
        code, err = run(capsys, *argv)  # never blocks (deadline), never a traceback
        if name == "metrics.jsonl" and argv[0] != "train":
            continue  # compare and discover do not read the metrics
        assert code == 2, (argv, err)
        assert name in err and "not a regular file" in err, (argv, err)


def test_miniimagenet_image_that_is_a_fifo_is_refused(tmp_path):
    from metasym.learning.data.loaders import load_miniimagenet

    _miniimagenet_csv(tmp_path)
    (tmp_path / "images" / "n010000.png").unlink()
    os.mkfifo(tmp_path / "images" / "n010000.png")
    with deadline(), pytest.raises(MetasymError, match="n010000.png: a pipe"):
        load_miniimagenet(tmp_path, size=4)


# ----- C. one-line refusals from the file system -----------------------------------------------
@pytest.fixture
def loops(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("self").symlink_to("self")
    Path("a").symlink_to("b")
    Path("b").symlink_to("a")
    return tmp_path


LONG = "n" * 300  # longer than NAME_MAX (255) on every common file system


@pytest.mark.parametrize("out", ["self/run", "a/run", "a/x/y", LONG, f"ok/{LONG}/run"])
def test_out_through_a_link_loop_or_too_long_is_one_line(loops, capsys, out):
    code, err = run(capsys, "train", *TINY, "--steps", "2", "--out", out)
    assert code == 2
    assert "loop of symbolic links" in err or "longer than the file system allows" in err
    assert sorted(p.name for p in loops.iterdir()) == ["a", "b", "self"]  # nothing created


@pytest.mark.parametrize("argv", [
    ["reproduce", "table1", "--steps", "1", "--out", "{o}"],
    ["demo", "--steps", "1", "--out", "{o}"],
    ["train", "--resume", "{o}"],
    ["compare", "{o}"],
    ["discover", "{o}"],
    ["sharing", "--group", "cyclic:3", "--save", "{o}/x.npz"],
    ["sharing", "--group", "cyclic:3", "--save", "{o}.npz"],
])
@pytest.mark.parametrize("o", ["self/x", LONG])
def test_other_commands_with_link_loops_or_long_names(loops, capsys, argv, o):
    code, err = run(capsys, *[a.format(o=o) for a in argv])
    assert code == 2, err


@pytest.mark.parametrize("argv", [["compare", "{r}"], ["discover", "{r}"],
                                  ["train", "--resume", "{r}"]])
def test_deeply_nested_config_is_one_line(tmp_path, capsys, argv):
    run_dir = tmp_path / "deep"
    run_dir.mkdir()
    (run_dir / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    code, err = run(capsys, *[a.format(r=run_dir) for a in argv])
    assert code == 2 and "config.json" in err and "nested too deeply" in err


def _png_declaring(path: Path, width: int, height: int) -> None:
    """A valid 1x1 grey PNG whose header then declares ``width x height`` (a few bytes on
    disk, billions of pixels once decoded)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (1, 1)).save(path)
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))


def _omniglot(root: Path, bad: tuple[int, int] | None = None) -> Path:
    from PIL import Image

    for split, alphabet in (("images_background", "Alpha"), ("images_evaluation", "Beta")):
        for c in (1, 2):
            folder = root / split / alphabet / f"character{c:02d}"
            folder.mkdir(parents=True)
            for d in (1, 2):
                Image.new("L", (12, 12), 255).save(folder / f"{c:02d}_{d:02d}.png")
    target = root / "images_evaluation" / "Beta" / "character02" / "02_03.png"
    if bad is not None:
        _png_declaring(target, *bad)
    return target


@pytest.mark.parametrize("size, words", [
    ((200_000, 200_000), "decompression bomb"),  # Pillow's DecompressionBombError
    ((10_000, 10_000), "decompression bomb"),    # Pillow's DecompressionBombWarning
    ((7_000, 7_000), "above the limit"),         # metasym's own limit, from the header
])
def test_oversized_omniglot_image_is_one_line_naming_it(tmp_path, size, words):
    from metasym.learning.data.loaders import load_omniglot

    target = _omniglot(tmp_path, size)
    assert target.stat().st_size < 200
    t0 = time.perf_counter()
    with pytest.raises(MetasymError, match=words) as e:
        load_omniglot(tmp_path, size=8)
    assert str(target) in str(e.value) and "\n" not in str(e.value)
    assert time.perf_counter() - t0 < 10  # refused from the header, never decoded


def test_oversized_omniglot_image_from_the_cli(tmp_path, capsys):
    target = _omniglot(tmp_path / "omni", (200_000, 200_000))
    code, err = run(capsys, "train", "--problem", "omniglot", "--data", tmp_path / "omni",
                    "--steps", "1", "--quiet", "--out", tmp_path / "run")
    assert code == 2 and str(target) in err and "decompression bomb" in err


def test_project_refuses_object_and_non_real_arrays():
    from metasym.groups import cyclic, natural
    from metasym.representations import sharing_pattern

    P = sharing_pattern(natural(cyclic(5)), natural(cyclic(5)))
    W = np.arange(25.0).reshape(5, 5)
    assert P.project(W).shape == (5, 5) and P.project(W.astype(bool)).dtype == np.float64
    for bad, words in [(W.astype(object), "object"), (np.full((5, 5), "a"), "string"),
                       (W.astype(complex), "complex"), ([[None] * 5] * 5, "object"),
                       ([[1, 2], [3]], "cannot read")]:
        for call in (P.project, P.equivariance_error, P.is_equivariant):
            with pytest.raises(TypeError, match=words):
                call(bad)


@pytest.mark.parametrize("array", [np.ones((9, 2), complex), np.full((9, 2), "x")])
def test_discover_with_non_real_U_is_one_line(tmp_path, capsys, array):
    path = tmp_path / "u.npz"
    np.savez(path, U=array)
    code, err = run(capsys, "discover", "--U", path, "--shape", "3x3")
    assert code == 2 and "u.npz" in err


# ----- D. miniImageNet names that leave images/ ------------------------------------------------
def _miniimagenet_csv(root: Path, extra: str | None = None) -> None:
    from PIL import Image

    (root / "images").mkdir(parents=True)
    for split, classes in (("train", ("n01", "n02")), ("val", ("n03",)), ("test", ("n04",))):
        rows = ["filename,label"]
        for c in classes:
            for i in range(2):
                Image.new("RGB", (6, 6)).save(root / "images" / f"{c}{i:04d}.png")
                rows.append(f"{c}{i:04d}.png,{c}")
        if extra is not None and split == "val":
            rows.append(f"{extra},n03")
        (root / f"{split}.csv").write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("name", ["../outside.png", "/ABS/outside.png", "sub/../../outside.png",
                                  "..", "C:\\outside.png", "..\\outside.png"])
def test_miniimagenet_csv_names_leaving_images_are_refused(tmp_path, name):
    from PIL import Image

    from metasym.learning.data.loaders import load_miniimagenet

    root = tmp_path / "mini"
    outside = tmp_path / "outside.png"
    Image.new("RGB", (6, 6), (255, 0, 0)).save(outside)  # readable, so only the rule stops it
    name = name.replace("/ABS/", f"{tmp_path}/")
    _miniimagenet_csv(root, name)
    with pytest.raises(MetasymError, match=r"val.csv: line 4 names .* not a file inside"):
        load_miniimagenet(root, size=4)


def test_miniimagenet_csv_names_in_subfolders_are_read(tmp_path):
    from PIL import Image

    from metasym.learning.data.loaders import load_miniimagenet

    root = tmp_path / "mini"
    _miniimagenet_csv(root, "sub/n03extra.png")
    (root / "images" / "sub").mkdir()
    Image.new("RGB", (6, 6)).save(root / "images" / "sub" / "n03extra.png")
    out = load_miniimagenet(root, size=4)
    assert out["val"].images.shape[0] == 3
