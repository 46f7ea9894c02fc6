"""Hostile input (issue 6): hypothesis fuzzing of the spec parsers, the file loaders and
the command line. Contract: a result that is right, or a one-line
:class:`~metasym.errors.MetasymError` (CLI: exit status 0/1/2, one stderr line) -- never
another exception, never a hang (each input runs under an alarm), nothing executed from a
file. The number of inputs tried per entry point is printed at the end of the module
(``ci`` profile: 25 examples per test; ``HYPOTHESIS_PROFILE=dev`` or ``-m slow`` for more).
"""

from __future__ import annotations

import io
import os
import signal
import zipfile
from collections import Counter
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from metasym.errors import MetasymError
from metasym.groups import FiniteGroup, GroupAction, parse_action, parse_group
from metasym.representations import SharingPattern, parse_support

TRIED: Counter = Counter()
CODES: Counter = Counter()
HANG_SECONDS = 20


@pytest.fixture(scope="module", autouse=True)
def _report_and_limits(request):
    old = os.environ.get("METASYM_TIME_LIMIT")
    os.environ["METASYM_TIME_LIMIT"] = "5"  # the groups layer stops long computations
    yield
    if old is None:
        os.environ.pop("METASYM_TIME_LIMIT", None)
    else:
        os.environ["METASYM_TIME_LIMIT"] = old
    line = "fuzz inputs tried: " + ", ".join(f"{k} {v}" for k, v in sorted(TRIED.items())) + \
        f" (total {sum(TRIED.values())}); CLI exit codes: " + \
        ", ".join(f"{k}: {v}" for k, v in sorted(CODES.items()))
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n" + line)


@contextmanager
def no_hang(what: str, seconds: float = HANG_SECONDS):
    """Fail (not error out as a MetasymError) if the block runs past ``seconds``."""
    def expired(signum, frame):
        raise AssertionError(f"{what} hung for more than {seconds} s")

    prev = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, prev)


def expect(fn, *args, name: str):
    """Call ``fn``: return its result, or None when it raised a MetasymError."""
    TRIED[name] += 1
    try:
        with no_hang(name):
            return fn(*args)
    except MetasymError as e:
        assert str(e) and "\n" not in str(e).strip(), repr(e)
        return None


# ----- spec strings ---------------------------------------------------------------------------
NUMS = ["0", "1", "2", "3", "4", "5", "6", "-1", "10000000", "99999999999999999999"]
TOKENS = ["cyclic", "dihedral", "symmetric", "alternating", "klein", "quaternion", "abelian",
          "translations", "rotations", "rotoflips", "product", "perm", "natural", "regular",
          "trivial", "tensor", "sum", "band", ":", "(", ")", ",", ";", "x", " ", "(0 1)",
          "(0 1 2)", "(1 0)", "(0 0)", "()", *NUMS]
spec_text = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(TOKENS), max_size=12).map("".join),
    st.builds(lambda f, n: f"{f}:{n}", st.sampled_from(TOKENS[:12]), st.sampled_from(NUMS)),
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(spec_text)
def test_fuzz_parse_group(spec):
    G = expect(parse_group, spec, name="parse_group")
    if G is not None:  # no silent wrong answer: a valid group whose spec round-trips
        assert isinstance(G, FiniteGroup) and G.degree >= 1
        assert parse_group(G.spec) == G


GROUPS = {g: parse_group(g) for g in ("cyclic:4", "dihedral:3", "klein", "product(cyclic:2,"
                                      "cyclic:3)")}


@given(spec_text, st.sampled_from(sorted(GROUPS)))
def test_fuzz_parse_action(spec, group):
    G = GROUPS[group]
    a = expect(parse_action, spec, G, name="parse_action")
    if a is not None:
        assert isinstance(a, GroupAction) and a.group == G
        assert parse_action(a.spec, G) == a


@given(st.one_of(spec_text, st.from_regex(r"band:-?\d{1,9}(:-?\d{1,9})?", fullmatch=True),
                 hnp.arrays(st.sampled_from([bool, np.int8, np.float64]),
                            hnp.array_shapes(max_dims=3, max_side=5))),
       st.integers(1, 6), st.integers(1, 6))
def test_fuzz_parse_support(spec, m, n):
    mask = expect(parse_support, spec, m, n, name="parse_support")
    if mask is not None:
        assert mask.shape == (m, n) and mask.dtype == bool


# ----- files ------------------------------------------------------------------------------------
class Evil:
    """Unpickling this would run code: loaders must never unpickle."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/metasym-fuzz-pwned",))


def _npz_bytes(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _valid_npz() -> bytes:
    rng = np.random.default_rng(0)
    return _npz_bytes({"x": rng.standard_normal((4, 3, 1, 5)),
                       "y": rng.standard_normal((4, 3, 1, 4))})


VALID = _valid_npz()
arrays = hnp.arrays(st.sampled_from([np.float32, np.float64, np.int64, np.uint8, bool,
                                     np.complex64, "U3"]),
                    hnp.array_shapes(min_dims=0, max_dims=5, min_side=0, max_side=4),
                    elements=None)
file_bytes = st.one_of(
    st.binary(max_size=300),
    st.builds(lambda cut: VALID[:cut], st.integers(0, len(VALID))),  # truncated
    st.builds(lambda pos, b: VALID[:pos] + bytes([b]) + VALID[pos + 1:],  # one byte flipped
              st.integers(0, len(VALID) - 1), st.integers(0, 255)),
    st.dictionaries(st.sampled_from(["x", "y", "w", "labels", "U", "W", "shape", "z"]),
                    arrays, max_size=4).map(_npz_bytes),
)


def _write(tmp_dir: Path, data: bytes, name: str = "f.npz") -> Path:
    p = tmp_dir / name
    p.write_bytes(data)
    return p


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@given(file_bytes)
def test_fuzz_load_npz(fuzz_dir, data):
    from metasym.learning.data.tasks import load_npz

    ts = expect(load_npz, _write(fuzz_dir, data), name="load_npz")
    if ts is not None:
        assert ts.x.dtype == ts.y.dtype == np.float32
        assert ts.x.shape[:2] == ts.y.shape[:2] and ts.n_tasks >= 2 and ts.n_examples >= 2
        assert np.isfinite(ts.x).all() and np.isfinite(ts.y).all()
        assert 1 <= ts.n_train < ts.n_tasks


@given(file_bytes)
def test_fuzz_sharing_pattern_load(fuzz_dir, data):
    P = expect(SharingPattern.load, _write(fuzz_dir, data), name="SharingPattern.load")
    if P is not None:  # canonical labels: loading its own save gives the same pattern
        P.save(fuzz_dir / "again.npz")
        assert SharingPattern.load(fuzz_dir / "again.npz") == P


@given(file_bytes)
def test_fuzz_discovery_files(fuzz_dir, data):
    from metasym.discovery.io import load_pattern_file, load_U_file

    p = _write(fuzz_dir, data)
    expect(load_U_file, p, name="discovery.load_U_file")
    expect(load_pattern_file, p, name="discovery.load_pattern_file")


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory):
    from metasym.learning import RunConfig as TrainConfig
    from metasym.learning import fit as train

    out = tmp_path_factory.mktemp("ck") / "run"
    train(TrainConfig(steps=3, n_tasks=40, eval_every=3, eval_tasks=5), out, progress=False)
    return out, (out / "checkpoint.safetensors").read_bytes()


@given(st.data())
def test_fuzz_checkpoint_files(checkpoint_bytes, fuzz_dir, data):
    from metasym.learning.engine.checkpoint import read_checkpoint

    _, good = checkpoint_bytes
    blob = data.draw(st.one_of(
        st.binary(max_size=200),
        st.builds(lambda cut: good[:cut], st.integers(0, len(good) - 1)),
        st.builds(lambda pos, b: good[:pos] + bytes([b]) + good[pos + 1:],
                  st.integers(0, min(len(good) - 1, 400)), st.integers(0, 255))))
    expect(read_checkpoint, _write(fuzz_dir, blob, "c.safetensors"), name="read_checkpoint")


def test_loaders_never_unpickle(tmp_path):
    marker = Path("/tmp/metasym-fuzz-pwned")
    marker.unlink(missing_ok=True)
    evil = np.array([Evil()], dtype=object)
    for name in ("x", "labels", "U"):
        p = tmp_path / f"{name}.npz"
        np.savez(p, **{name: evil, "y": evil})  # np.savez pickles object arrays
        from metasym.discovery.io import load_U_file
        from metasym.learning.data.tasks import load_npz

        for fn in (load_npz, SharingPattern.load, load_U_file):
            with pytest.raises(MetasymError, match=str(p)):
                fn(p)
    assert not marker.exists()


def test_zip_bomb_like_member_count_is_fine(tmp_path):
    p = tmp_path / "many.npz"
    with zipfile.ZipFile(p, "w") as z:
        for i in range(200):
            z.writestr(f"a{i}.npy", b"\x93NUMPY garbage")
    from metasym.learning.data.tasks import load_npz

    with pytest.raises(MetasymError, match="missing array"):
        load_npz(p)


# ----- the command line ---------------------------------------------------------------------------
SUBS = ["group", "sharing", "verify", "discover", "train", "compare", "nonsense", "--version"]
FLAGS = ["--group", "--in", "--out", "--support", "--json", "--k", "--steps", "--model",
         "--problem", "--data", "--tasks-per-step", "--inner-steps", "--support",
         "--eval-every", "--eval-tasks", "--device", "--threads", "--seed", "--data-seed",
         "--resume",
         "--checkpoint-every", "--chunk-size", "--clip-grad", "--outer-lr", "--pattern",
         "--U", "--shape", "--tol", "--against", "--overwrite", "--first-order", "--bogus"]
VALUES = [*NUMS, "cyclic:4", "dihedral:3", "klein", "natural", "regular", "trivial:2",
          "band:2", "rank1", "equivariant", "msr-fc", "maml-fc", "oracle", "cpu", "cuda",
          "nan", "inf", "-0.5", "1e30", "3x4", "runs/x", "f.npz", "", "--", "-"]
argv_st = st.tuples(st.sampled_from(SUBS),
                    st.lists(st.one_of(st.sampled_from(FLAGS), st.sampled_from(VALUES),
                                       st.text(max_size=8)), max_size=8))


def _cli(argv):
    from metasym.cli import main

    try:
        return main(argv)
    except SystemExit as e:  # --help / --version
        return e.code


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(argv_st)
def test_fuzz_command_line(tmp_path, capsys, monkeypatch, args):
    monkeypatch.chdir(tmp_path)
    sub, rest = args
    argv = [sub, *rest]
    if sub == "train":  # keep every training run tiny, whatever came before
        argv += ["--steps", "2", "--tasks", "40", "--eval-tasks", "5", "--quiet"]
        if "--out" not in rest and "--resume" not in rest:
            argv += ["--out", "runs/fuzz"]
    TRIED["metasym CLI"] += 1
    with no_hang(f"metasym {' '.join(argv)}"):
        rc = _cli(argv)
    err = capsys.readouterr().err
    CODES[rc] += 1
    assert rc in (0, 1, 2, None), (argv, rc, err)
    assert "Traceback" not in err
    if rc == 2:
        assert err.startswith("metasym") and err.count("\n") == 1, (argv, err)


wild_int = st.one_of(st.integers(-(2**70), 2**70), st.integers(-3, 3))
wild_float = st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr),
                       st.sampled_from(["nan", "inf", "-inf", "1e308", "-0.0", "0"]))
numeric_flag = st.one_of(
    st.tuples(st.sampled_from(["--seed", "--data-seed", "--eval-every", "--checkpoint-every",
                               "--chunk-size", "--eval-tasks"]), wild_int.map(str)),
    st.tuples(st.sampled_from(["--inner-lr", "--outer-lr", "--clip-grad"]), wild_float),
    st.tuples(st.sampled_from(["--threads", "--k", "--inner-steps", "--support",
                               "--tasks-per-step"]),
              st.sampled_from(["-1", "0", "1", "2", "3", "19", "20", "100000", str(2**64)])),
)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(numeric_flag, min_size=1, max_size=3))
def test_fuzz_train_numeric_flags(tmp_path, capsys, monkeypatch, flags):
    """Every numeric flag of ``metasym train`` with hostile values (huge, negative, nan)."""
    monkeypatch.chdir(tmp_path)
    argv = ["train", *[x for pair in flags for x in pair], "--steps", "2", "--tasks", "40",
            "--eval-tasks", "5", "--quiet", "--overwrite", "--out", "runs/f"]
    TRIED["metasym train numeric flags"] += 1
    with no_hang(f"metasym {' '.join(argv)}"):
        rc = _cli(argv)
    err = capsys.readouterr().err
    CODES[rc] += 1
    assert rc in (0, 2), (argv, rc, err)
    assert "Traceback" not in err
    if rc == 2:
        assert err.startswith("metasym") and err.count("\n") == 1, (argv, err)


@pytest.mark.slow
@settings(max_examples=500)
@given(spec_text)
def test_fuzz_parse_group_heavy(spec):
    test_fuzz_parse_group.hypothesis.inner_test(spec)


@pytest.mark.slow
@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file_bytes)
def test_fuzz_load_npz_heavy(fuzz_dir, data):
    test_fuzz_load_npz.hypothesis.inner_test(fuzz_dir, data)


@pytest.mark.slow
@settings(max_examples=500, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file_bytes)
def test_fuzz_pattern_and_discovery_files_heavy(fuzz_dir, data):
    test_fuzz_sharing_pattern_load.hypothesis.inner_test(fuzz_dir, data)
    test_fuzz_discovery_files.hypothesis.inner_test(fuzz_dir, data)


@pytest.mark.slow
@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                   HealthCheck.too_slow])
@given(argv_st)
def test_fuzz_command_line_heavy(tmp_path_factory, capsys, monkeypatch, args):
    test_fuzz_command_line.hypothesis.inner_test(tmp_path_factory.mktemp("cli"), capsys,
                                                 monkeypatch, args)
