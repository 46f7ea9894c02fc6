"""Hostile input, second round: the spec parsers (non-ASCII digits, deep nesting, huge
numbers), every option of the commands in ``metasym.cli.core`` and
``metasym.cli.discover``, the ``.npz`` reader (crafted headers and bodies) and the public
constructors of groups and representations.

Contract: a right result, or (CLI) exit status 2 with exactly one stderr line, or
(Python) a :class:`~metasym.errors.MetasymError`, ``TypeError`` or ``ValueError`` with a
one-line message -- never another exception, never a traceback, and never longer than
:data:`HANG_SECONDS` (each input runs under an alarm). At the end the module prints, per
entry point, the inputs tried, the faults injected (inputs built to be wrong) and the
outcomes.
"""

from __future__ import annotations

import io
import os
import zipfile
from collections import Counter, defaultdict

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.lib import format as npformat
from test_fuzz import no_hang  # one alarm helper for both fuzz files

from metasym.errors import MetasymError

HANG_SECONDS = 20
TRIED: Counter = Counter()
FAULTS: Counter = Counter()
OUTCOMES: dict[str, Counter] = defaultdict(Counter)
ALLOWED = (MetasymError, TypeError, ValueError)


@pytest.fixture(scope="module", autouse=True)
def _report_and_limits(request):
    old = os.environ.get("METASYM_TIME_LIMIT")
    os.environ["METASYM_TIME_LIMIT"] = "5"
    yield
    if old is None:
        os.environ.pop("METASYM_TIME_LIMIT", None)
    else:
        os.environ["METASYM_TIME_LIMIT"] = old
    lines = ["library fuzz (entry point: inputs tried, faults injected, outcomes):"]
    for k in sorted(TRIED):
        outcome = ", ".join(f"{o} {c}" for o, c in sorted(OUTCOMES[k].items()))
        lines.append(f"  {k}: {TRIED[k]} tried, {FAULTS[k]} faults injected; {outcome}")
    lines.append(f"  total {sum(TRIED.values())} tried, {sum(FAULTS.values())} faults")
    capman = request.config.pluginmanager.getplugin("capturemanager")
    with capman.global_and_fixture_disabled():
        print("\n" + "\n".join(lines))


def call(name: str, fn, *args, fault: bool = False, **kwargs):
    """Run ``fn``; return its result or None after an allowed one-line error."""
    TRIED[name] += 1
    FAULTS[name] += bool(fault)
    try:
        with no_hang(name):
            out = fn(*args, **kwargs)
    except ALLOWED as e:
        msg = str(e)
        assert msg and "\n" not in msg.strip(), repr(e)
        OUTCOMES[name][type(e).__name__] += 1
        return None
    OUTCOMES[name]["ok"] += 1
    return out


# ----- spec parsers -------------------------------------------------------------------------
DIGITS_BAD = ["\u0663", "\uff13", "\u0967", "\u00b2", "\u2163", "\U0001d7d1", "\u0e53"]
FAMILIES = ["cyclic", "dihedral", "symmetric", "alternating", "abelian", "translations",
            "rotations", "rotoflips", "perm", "product", "klein", "quaternion"]
number = st.one_of(st.integers(0, 12).map(str), st.sampled_from(DIGITS_BAD),
                   st.sampled_from(["-1", "+3", "1_0", "3.0", "1e3", "10000000", "9" * 40,
                                    "0x10", " 3", ""]),
                   st.lists(st.sampled_from(["1", "2", *DIGITS_BAD]), min_size=1,
                            max_size=3).map("".join))


def _nest(kind: str, depth: int, leaf: str) -> str:
    return f"{kind}(" * depth + leaf + f",{leaf})" * depth


group_spec = st.one_of(
    st.builds(lambda f, n: f"{f}:{n}", st.sampled_from(FAMILIES), number),
    st.builds(lambda a, b: f"abelian:{a}x{b}", number, number),
    st.builds(lambda n, c: f"perm:{n}:({c} 1)", number, number),
    st.builds(lambda d: _nest("product", d, "cyclic:2"), st.integers(1, 2000)),
    st.text(max_size=20),
)


def _is_fault(spec: str) -> bool:
    return any(c in spec for c in DIGITS_BAD) or not spec.isascii()


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(group_spec)
def test_fuzz_parse_group_hostile(spec):
    from metasym.groups import FiniteGroup, parse_group

    G = call("parse_group", parse_group, spec, fault=_is_fault(spec) or "product(" * 33 in spec)
    if G is not None:
        assert isinstance(G, FiniteGroup) and spec.isascii()
        assert not any(c in spec for c in DIGITS_BAD)
        assert G.degree <= 10**6 and parse_group(G.spec) == G


action_spec = st.one_of(
    st.builds(lambda n: f"trivial:{n}", number),
    st.builds(lambda d, k: _nest(k, d, "natural"), st.integers(1, 2000),
              st.sampled_from(["sum", "tensor"])),
    st.builds(lambda n: f"perm:{n}:(0 1)", number),
    st.sampled_from(["natural", "regular", "tensor(natural,natural,natural,natural)"]),
    st.text(max_size=20),
)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(action_spec, st.sampled_from(["cyclic:4", "dihedral:3", "cyclic:300"]),
       st.sampled_from([None, "group", 3, True]))
def test_fuzz_parse_action_hostile(spec, group, wrong_group):
    from metasym.groups import GroupAction, parse_action, parse_group

    G = parse_group(group)
    target = G if wrong_group is None else wrong_group
    a = call("parse_action", parse_action, spec, target,
             fault=_is_fault(spec) or wrong_group is not None)
    if a is not None:
        assert isinstance(a, GroupAction) and spec.isascii() and wrong_group in (None, "group")


@given(st.one_of(st.builds(lambda a, b: f"band:{a}:{b}", number, number),
                 st.builds(lambda a: f"band:{a}", number), st.text(max_size=10)))
def test_fuzz_parse_support_hostile(spec):
    from metasym.representations import parse_support

    mask = call("parse_support", parse_support, spec, 4, 5, fault=_is_fault(spec))
    if mask is not None:
        assert mask.shape == (4, 5) and spec.isascii()


# ----- every option of group / sharing / verify / tour / discover -----------------------------
HOSTILE = ["-1", "0", "nan", "inf", "-inf", "1e999", "\u0663", "\uff11", "9" * 5000, "",
           " ", "1.5", "+0", "0x1", "--", "cyclic:\u0663", "product(" * 40, "band:\u0662"]
OPTIONS = {
    "group": {"spec": ["cyclic:4", "rotoflips:2", "symmetric:30", "perm:3:(0 1)"],
              "--cayley": ["{tmp}/c.png", "{tmp}/c.graphml", "{tmp}/c.txt"],
              "--json": None},
    "sharing": {"--group": ["cyclic:3", "dihedral:3"], "--in": ["natural", "regular"],
                "--out": ["natural", "trivial:2"], "--support": ["band:2", "band:1:1"],
                "--save": ["{tmp}/p.npz"], "--plot": ["{tmp}/p.png"], "--json": None},
    "verify": {"--group": ["cyclic:3", "klein"], "--in": ["natural"], "--out": ["natural"],
               "--seed": ["0", "7", "4294967295"], "--json": None},
    "tour": {"--group": ["cyclic:3"], "--in": ["natural"], "--out": ["natural"],
             "--dir": ["{tmp}/tour"]},
    "discover": {"--pattern": ["{tmp}/pattern.npz", "{tmp}/bomb.npz", "{tmp}/obj.npz"],
                 "--U": ["{tmp}/U.npz", "{tmp}/noise.npz", "{tmp}/zero.npz",
                         "{tmp}/bomb.npz"],
                 "--shape": ["4x4", "3x3"], "--tol": ["0.1", "1e-3"],
                 "--against": ["dihedral:4", "cyclic:4"], "--in": ["natural"],
                 "--out": ["natural"], "--json": None, "--cayley": ["{tmp}/d.png"]},
}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    from metasym.groups import dihedral, natural
    from metasym.representations import sharing_pattern

    d = tmp_path_factory.mktemp("fuzzcli")
    P = sharing_pattern(natural(dihedral(4)), natural(dihedral(4)))
    P.save(d / "pattern.npz")
    rng = np.random.default_rng(0)
    np.savez(d / "U.npz", U=P.basis() @ rng.standard_normal((3, 3)))
    np.savez(d / "noise.npz", U=rng.standard_normal((16, 3)))
    np.savez(d / "zero.npz", U=np.zeros((16, 3)))
    np.savez(d / "obj.npz", labels=np.array([None, 1], dtype=object))
    with zipfile.ZipFile(d / "bomb.npz", "w") as z:
        z.writestr("U.npy", _header((10**6, 20, 1, 10**6)) + b"\0" * 32)
        z.writestr("labels.npy", _header((10**6, 10**6), "<i8") + b"\0" * 32)
    return d


@st.composite
def cli_args(draw):
    sub = draw(st.sampled_from(sorted(OPTIONS)))
    opts = OPTIONS[sub]
    argv, faults = [sub], 0
    if "spec" in opts:
        argv.append(draw(st.sampled_from(opts["spec"] + HOSTILE)))
    for flag in draw(st.lists(st.sampled_from([k for k in opts if k != "spec"]),
                              unique=True, max_size=len(opts))):
        values = opts[flag]
        if values is None:
            argv.append(flag)
            continue
        if draw(st.integers(0, 2)) == 0:  # a hostile value for this option
            argv += [flag, draw(st.one_of(st.sampled_from(HOSTILE), st.text(max_size=6)))]
            faults += 1
        else:
            argv += [flag, draw(st.sampled_from(values))]
    if draw(st.integers(0, 4)) == 0:
        argv.append(draw(st.sampled_from(["--bogus", "-x", "extra"])))
        faults += 1
    return argv, faults


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
          max_examples=max(settings().max_examples, 60))
@given(cli_args())
def test_fuzz_core_and_discover_options(files, capsys, monkeypatch, args):
    from metasym.cli import main

    monkeypatch.chdir(files)  # hostile values of --save/--plot/--dir are relative paths
    argv, faults = args
    argv = [a.replace("{tmp}", str(files)) for a in argv]
    name = f"metasym {argv[0]}"
    TRIED[name] += 1
    FAULTS[name] += faults > 0
    with no_hang(" ".join(argv)[:200]):
        try:
            rc = main(argv)
        except SystemExit as e:  # --help
            rc = e.code
    out, err = capsys.readouterr()
    OUTCOMES[name][f"exit {rc}"] += 1
    assert rc in (0, 1, 2), (argv, rc, err)
    assert "Traceback" not in err
    if rc == 2:
        assert err.startswith("metasym") and err.count("\n") == 1, (argv, err)
    else:
        assert err == "", (argv, err)


# ----- the .npz reader with crafted headers and bodies -----------------------------------------
def _header(shape, descr="<f8", fortran=False) -> bytes:
    b = io.BytesIO()
    npformat.write_array_header_1_0(b, {"descr": descr, "fortran_order": fortran,
                                        "shape": tuple(shape)})
    return b.getvalue()


descr_st = st.sampled_from(["<f8", "<i8", "|b1", "<c16", "|O", "<U3", "|V8", "<f2", ">i4"])
shape_st = st.lists(st.one_of(st.integers(0, 5), st.integers(10**5, 10**7)), max_size=4)


@st.composite
def crafted_npz(draw):
    members, faults = [], 0
    for i in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(["U", "labels", "W", "x", f"a{i}"]))
        if any(m[0] == name + ".npy" for m in members):
            continue
        shape, descr = draw(shape_st), draw(descr_st)
        body_kind = draw(st.sampled_from(["exact", "short", "long", "garbage", "none"]))
        header = _header(shape, descr) if body_kind != "garbage" else draw(st.binary(max_size=40))
        n = int(np.prod(shape, dtype=object)) * np.dtype(descr).itemsize
        body = {"exact": b"\0" * n if n <= 10**5 else b"\0" * 16, "short": b"\0" * 3,
                "long": b"\0" * 256, "garbage": b"", "none": b""}[body_kind]
        faults += body_kind != "exact" or n > 10**5 or descr == "|O"
        members.append((name + ".npy", header + body))
    buf = io.BytesIO()
    compression = draw(st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED]))
    with zipfile.ZipFile(buf, "w", compression=compression) as z:
        for name, data in members:
            z.writestr(name, data)
    data = buf.getvalue()
    cut = draw(st.one_of(st.none(), st.integers(0, max(len(data) - 1, 0))))
    if cut is not None:
        data, faults = data[:cut], faults + 1
    return data, faults


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(crafted_npz(), st.sampled_from([None, 10**4, 10**6]),
       st.sampled_from([None, {"U": 2}, {"labels": (2,)}]),
       st.sampled_from([None, {"U": "f", "labels": "iu"}]))
def test_fuzz_read_npz_crafted(tmp_path, crafted, max_bytes, ndims, kinds):
    from metasym.npzfile import MAX_NPZ_BYTES, read_npz

    data, faults = crafted
    f = tmp_path / "crafted.npz"
    f.write_bytes(data)
    limit = MAX_NPZ_BYTES if max_bytes is None else max_bytes
    arrays = call("read_npz", read_npz, f, fault=faults > 0, ndims=ndims, kinds=kinds,
                  max_bytes=limit)
    if arrays is not None:
        assert sum(a.nbytes for a in arrays.values()) <= limit
        assert all(a.dtype != object for a in arrays.values())
        for k, want in (ndims or {}).items():
            if k in arrays:
                assert arrays[k].ndim in ((want,) if isinstance(want, int) else want)
        for k, want in (kinds or {}).items():
            if k in arrays:
                assert arrays[k].dtype.kind in want


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(crafted_npz())
def test_fuzz_pattern_and_U_loaders_crafted(tmp_path, crafted):
    from metasym.discovery.io import load_U_file
    from metasym.representations import SharingPattern

    data, faults = crafted
    f = tmp_path / "crafted.npz"
    f.write_bytes(data)
    call("SharingPattern.load", SharingPattern.load, f, fault=faults > 0)
    call("discovery.load_U_file", load_U_file, f, (4, 4), fault=faults > 0)


# ----- public constructors ---------------------------------------------------------------------
WILD = st.one_of(st.integers(-3, 12), st.sampled_from([10**7, 10**12, 2**63, -(2**63)]),
                 st.sampled_from([None, True, False, 2.0, 3.5, float("nan"), "3", b"3", [3],
                                  np.int64(4), np.float64(4.0), object()]))


def _constructors():
    import metasym.groups as g
    import metasym.representations as r
    from metasym.discovery.clustering import pattern_from_U

    G = g.cyclic(4)
    return {
        "cyclic": lambda a, b: g.cyclic(a),
        "dihedral": lambda a, b: g.dihedral(a),
        "symmetric": lambda a, b: g.symmetric(a),
        "alternating": lambda a, b: g.alternating(a),
        "abelian": lambda a, b: g.abelian(a, b),
        "translations": lambda a, b: g.translations(a, b),
        "rotations": lambda a, b: g.rotations(a),
        "rotoflips": lambda a, b: g.rotoflips(a),
        "from_generators": lambda a, b: g.from_generators([[1, 0]] if b == 2 else a, b),
        "FiniteGroup": lambda a, b: g.FiniteGroup([], a, order=b),
        "trivial": lambda a, b: g.trivial(G, a),
        "GroupAction": lambda a, b: g.GroupAction(G, [a], degree=b),
        "conv1d": lambda a, b: r.conv1d(a, b),
        "conv2d": lambda a, b: r.conv2d(a, a, b),
        "locally_connected1d": lambda a, b: r.locally_connected1d(a, b),
        "band_support": lambda a, b: r.band_support(a, a, b),
        "lifting_conv_pattern": lambda a, b: r.lifting_conv_pattern(g.rotations(3), a),
        "group_conv_pattern": lambda a, b: r.group_conv_pattern(g.rotations(3), a, b),
        "SteerableKernels": lambda a, b: r.SteerableKernels(a, kernel=b),
        "SharingPattern": lambda a, b: r.SharingPattern(np.full((2, 2), a)),
        "pattern_from_U": lambda a, b: pattern_from_U(np.ones((4, 2)), (a, b)),
    }


CONSTRUCTORS = _constructors()


def _sane(x) -> bool:
    return (isinstance(x, (int, np.integer)) and not isinstance(x, bool) and 0 <= x <= 12)


@settings(suppress_health_check=[HealthCheck.too_slow],
          max_examples=max(settings().max_examples * 4, 100))
@given(st.sampled_from(sorted(CONSTRUCTORS)), WILD, WILD)
def test_fuzz_public_constructors(name, a, b):
    call(name, CONSTRUCTORS[name], a, b, fault=not (_sane(a) and _sane(b)))
