"""Symmetry discovery: clustering a learned U, automorphism groups of patterns,
identification with verified isomorphisms, partial symmetries, and `metasym discover`."""

from __future__ import annotations

import itertools
import json
import math
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metasym.cli import main
from metasym.discovery import automorphism_group, compare_groups, pattern_graph, verify_with_sympy
from metasym.discovery.clustering import pattern_from_U, pattern_from_weights
from metasym.discovery.identify import check_isomorphism, find_isomorphism, identify
from metasym.discovery.partial import cyclic_embedding, partial_shifts, partial_symmetries
from metasym.groups import (
    FiniteGroup,
    abelian,
    cyclic,
    dihedral,
    direct_product,
    natural,
    parse_action,
    parse_group,
    regular,
    trivial,
)
from metasym.representations import SharingPattern, conv1d, sharing_pattern
from metasym.representations.testing import group_and_actions, named_groups


# ----- helpers ------------------------------------------------------------------------
def brute_force_count(labels: np.ndarray) -> int:
    """Number of pairs (sigma_Y, sigma_X) with labels[sY(y), sX(x)] == labels[y, x]."""
    m, n = labels.shape
    px = np.array(list(itertools.permutations(range(n))))
    count = 0
    for sy in itertools.permutations(range(m)):
        rows = labels[list(sy)]  # rows[y] = labels[sy(y)]
        # all input permutations at once: rows[:, px] has shape (m, |Sym(n)|, n)
        count += int(np.all(rows[:, px] == labels[:, None, :], axis=(0, 2)).sum())
    return count


def is_regular(action) -> bool:
    return action.is_transitive and action.degree == action.group.order


def is_faithful(action) -> bool:
    return FiniteGroup(action.generator_images, action.degree).order == action.group.order


# ----- automorphism groups ------------------------------------------------------------
@given(group_and_actions(max_degree=5, max_order=60, max_action_degree=12))
def test_discovered_group_contains_image_of_G(gaa):
    G, a_in, a_out = gaa
    P = sharing_pattern(a_in, a_out)
    found = automorphism_group(P)
    # every generator of G acts as a label-preserving pair: the image of G is inside
    for sx, sy in zip(a_in.generator_images, a_out.generator_images):
        assert found.contains((sy, sx))
    relation = compare_groups(found, a_in, a_out)
    assert relation in ("equal", "supergroup")
    assert found.explained  # the orbits of G refine the orbits of Aut: both are the labels
    # theorem (docs/discovery.md): regular on one side and faithful on the other => equal
    if (is_regular(a_in) and is_faithful(a_out)) or (is_regular(a_out) and is_faithful(a_in)):
        assert relation == "equal"
    if a_in.degree <= 4 and a_out.degree <= 4:
        assert found.order == brute_force_count(P.labels)


@settings(max_examples=40)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.data())
def test_order_matches_brute_force_on_random_labels(m, n, k, data):
    flat = data.draw(st.lists(st.integers(-1, k - 1), min_size=m * n, max_size=m * n))
    labels = np.array(flat).reshape(m, n)
    found = automorphism_group(labels)
    assert found.order == brute_force_count(SharingPattern(labels).labels)
    for sy, sx in found.generator_pairs():  # every generator really preserves the labels
        assert np.array_equal(found.pattern.labels[np.ix_(sy, sx)], found.pattern.labels)


def test_degenerate_patterns_are_huge_products_without_enumeration():
    found = automorphism_group(np.zeros((30, 40), dtype=int))  # one parameter
    assert found.order == math.factorial(30) * math.factorial(40)
    assert identify(found.group, order=found.order).name == "product(symmetric:30,symmetric:40)"
    empty = automorphism_group(-np.ones((5, 6), dtype=int))
    assert empty.order == math.factorial(5) * math.factorial(6)
    # two isolated (all -1) rows and columns permute freely among themselves
    lab = -np.ones((5, 5), dtype=int)
    lab[:3, :3] = sharing_pattern(natural(cyclic(3)), natural(cyclic(3))).labels
    assert automorphism_group(lab).order == 3 * 2 * 2


def test_pattern_can_have_more_symmetry_than_its_group():
    G = cyclic(4)
    P = sharing_pattern(trivial(G, 3), natural(G))  # label depends on the input only
    found = automorphism_group(P)
    assert found.order == 24  # all of Sym(4) on the outputs
    assert compare_groups(found, trivial(G, 3), natural(G)) == "supergroup"
    assert identify(found.group, order=24).name == "symmetric:4"


def test_sympy_closure_agrees_and_graph_is_bipartite_coloured():
    P = sharing_pattern(natural(dihedral(5)), regular(dihedral(5)))
    found = automorphism_group(P)
    assert found.order == 10 and verify_with_sympy(found)
    g = pattern_graph(P)
    assert g.number_of_nodes() == 15 and g.number_of_edges() == 50
    assert {d["label"] for _, _, d in g.edges(data=True)} == set(range(P.dimension))


# ----- identification -----------------------------------------------------------------
EXPECTED = {"dihedral:3": "dihedral:3", "symmetric:3": "dihedral:3", "rotoflips:3": "dihedral:4",
            "translations:2x3": "cyclic:6", "abelian:2x3": "cyclic:6", "klein": "klein",
            "quaternion": "quaternion", "alternating:4": "alternating:4",
            "symmetric:5": "symmetric:5", "translations:3x3": "abelian:3x3",
            "rotations:3": "cyclic:4", "abelian:2x2x2": "abelian:2x2x2"}


@pytest.mark.parametrize("spec", sorted(EXPECTED))
def test_identify_named_groups_with_verified_isomorphism(spec):
    G = parse_group(spec)
    ident = identify(G)
    assert ident.name == EXPECTED[spec]
    C = parse_group(ident.name)
    images = find_isomorphism(C, G)
    assert images is not None
    check_isomorphism(C, G, images)  # homomorphism + bijective, independently re-checked


def test_identify_where_sympy_is_isomorphic_is_wrong():
    # sympy 1.14 says cyclic(6) and C2 x C3 are not isomorphic; they are (CRT)
    from sympy.combinatorics.homomorphisms import is_isomorphic

    G = abelian(2, 3)
    assert is_isomorphic(cyclic(6).sympy_group, G.sympy_group) is False
    images = find_isomorphism(cyclic(6), G)
    assert images is not None and np.array_equal(images[0][images[0]], images[0][images[0]])
    check_isomorphism(cyclic(6), G, images)
    assert identify(G).name == "cyclic:6"


def test_non_isomorphic_groups_have_no_isomorphism():
    assert find_isomorphism(dihedral(4), parse_group("quaternion")) is None
    assert find_isomorphism(cyclic(4), parse_group("klein")) is None


def test_identify_all_small_named_groups():
    for G in named_groups(120):
        name = identify(G).name
        assert name is not None, G.spec
        assert find_isomorphism(parse_group(name) if name != "trivial" else cyclic(1), G) \
            is not None or name == "trivial"


def test_identify_direct_product_acting_diagonally():
    G = direct_product(dihedral(3), cyclic(2))
    P = sharing_pattern(regular(G), regular(G))  # regular on both sides: Aut = G exactly
    found = automorphism_group(P)
    assert found.order == 12
    name = identify(found.group, order=12).name
    assert name in ("dihedral:6", "product(dihedral:3,cyclic:2)")  # D6 = D3 x C2


# ----- clustering ---------------------------------------------------------------------
CLUSTER_CASES = [("dihedral:4", "natural", "natural"), ("cyclic:6", "natural", "regular"),
                 ("symmetric:4", "natural", "natural"), ("rotoflips:3", "natural", "natural")]


@pytest.mark.parametrize("spec,a_in,a_out", CLUSTER_CASES)
@pytest.mark.parametrize("noise", [0.0, 1e-3, 1e-2])
def test_clustering_recovers_pattern_under_noise_and_change_of_basis(spec, a_in, a_out, noise):
    G = parse_group(spec)
    P = sharing_pattern(parse_action(a_in, G), parse_action(a_out, G))
    rng = np.random.default_rng(zlib.crc32(f"{spec}{a_out}{noise}".encode()))
    k = P.dimension
    U = P.basis().astype(float) @ rng.normal(size=(k, k)) * 123.0  # scale and mix
    U += noise * np.abs(U).max() * rng.normal(size=U.shape)
    rec, info = pattern_from_U(U, P.shape)
    assert rec == P
    assert info["separation"] > (10 if noise <= 1e-3 else 1.5) and info["tolerance"] > 0


def test_clustering_conv_support_spare_columns_and_weights():
    P = conv1d(30, 3)
    rng = np.random.default_rng(0)
    U = np.hstack([P.basis() @ rng.normal(size=(3, 3)), 1e-4 * rng.normal(size=(28 * 30, 2))])
    rec, info = pattern_from_U(U, P.shape)
    assert rec == P and info["zero_entries"] == 28 * 30 - 28 * 3 and info["rank"] == 3
    W = P.weight(rng.normal(size=(40, 3))) + 1e-5 * rng.normal(size=(40, 28, 30))
    rec, _ = pattern_from_weights(W)
    assert rec == P


def test_clustering_rejects_bad_input():
    from metasym.errors import MetasymError

    with pytest.raises(MetasymError):
        pattern_from_U(np.ones((5, 2)), (2, 3))
    with pytest.raises(MetasymError):
        pattern_from_U(np.full((6, 2), np.nan), (2, 3))


# ----- partial symmetries -------------------------------------------------------------
def test_conv1d_partial_symmetries():
    P = conv1d(70, 3)
    found = automorphism_group(P)
    assert found.order == 1 and not found.explained  # the boundary kills global shifts
    shifts = partial_shifts(P)
    assert shifts[0] == (1, 1) and all(a == b for a, b in shifts)
    emb = cyclic_embedding(P)
    assert emb is not None and emb["group"] == "cyclic:70" and emb["output_offset"] == 0
    # independent check of the claim: Z_70 orbits, restricted and cut, give the pattern
    C = cyclic(70)
    full = sharing_pattern(natural(C), natural(C)).labels[:68]
    assert SharingPattern(np.where(P.labels >= 0, full, -1)) == P
    info = partial_symmetries(P)
    assert info["constant_diagonals"] and info["diagonals"] == {"0": 0, "1": 1, "2": 2}


def test_non_toeplitz_pattern_has_no_cyclic_embedding():
    lab = np.array([[0, 1], [1, 2]])  # diagonal x - y = 0 holds two labels
    assert cyclic_embedding(SharingPattern(lab)) is None


# ----- the command --------------------------------------------------------------------
def run_json(capsys, *argv):
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if code == 0 else err)


def test_command_pattern_d4_against_rotoflips(capsys, tmp_path):
    path = tmp_path / "p.npz"
    assert main(["sharing", "--group", "rotoflips:3", "--save", str(path)]) == 0
    capsys.readouterr()
    code, info = run_json(capsys, "discover", "--pattern", str(path), "--against", "rotoflips:3")
    assert code == 0
    assert info["order"] == 8 and info["identified_as"] == "dihedral:4"
    assert info["relation_to_reference"] == "equal"
    code, info = run_json(capsys, "discover", "--pattern", str(path), "--against", "cyclic:9")
    assert info["relation_to_reference"] == "incomparable"
    code, info = run_json(capsys, "discover", "--pattern", str(path), "--against", "rotations:3")
    assert info["relation_to_reference"] == "supergroup"


def test_command_U_file_conv_and_cayley(capsys, tmp_path):
    P = conv1d(20, 3)
    rng = np.random.default_rng(1)
    path = tmp_path / "u.npz"
    np.savez(path, U=P.basis() @ rng.normal(size=(3, 3)))
    code, info = run_json(capsys, "discover", "--U", str(path), "--shape", "18x20")
    assert code == 0 and info["order"] == 1 and "tolerance" in info and "confidence" in info
    assert info["partial_symmetries"]["embedding"]["group"] == "cyclic:20"
    path2 = tmp_path / "u2.npz"
    Q = sharing_pattern(natural(cyclic(5)), natural(cyclic(5)))
    np.savez(path2, U=Q.basis() @ rng.normal(size=(5, 5)), labels=Q.labels)
    png = tmp_path / "c.png"
    code = main(["discover", "--U", str(path2), "--cayley", str(png)])
    out, _ = capsys.readouterr()
    assert code == 0 and "cyclic:5" in out and png.stat().st_size > 1000


@pytest.mark.parametrize("setup,args,message", [
    ("garbage", ["--pattern", "{f}"], "not a readable"),
    ("nolabels", ["--pattern", "{f}"], "missing array(s) labels"),
    ("nou", ["--U", "{f}", "--shape", "2x2"], "no 'U'"),
    ("u", ["--U", "{f}"], "shape is unknown"),
    ("u", ["--U", "{f}", "--shape", "3x3"], "rows"),
    ("u", ["--U", "{f}", "--shape", "two"], "bad shape"),
    ("missing", ["--pattern", "{f}"], "no such file"),
    ("u", [], "exactly one"),
    ("u", ["{f}", "--U", "{f}"], "exactly one"),
    ("rundir", ["{d}"], "config.json"),
])
def test_command_bad_inputs_one_line_exit_2(capsys, tmp_path, setup, args, message):
    f = tmp_path / "x.npz"
    if setup == "garbage":
        f.write_bytes(b"not a zip file")
    elif setup == "nolabels":
        np.savez(f, other=np.zeros(3))
    elif setup == "nou":
        np.savez(f, V=np.zeros((4, 1)))
    elif setup == "u":
        np.savez(f, U=np.zeros((4, 1)))
    argv = ["discover"] + [a.format(f=f, d=tmp_path) for a in args]
    code = main(argv)
    _, err = capsys.readouterr()
    assert code == 2 and message in err and err.count("\n") == 1


def test_checkpoint_fallback_reads_U(tmp_path):
    from safetensors.numpy import save_file

    from metasym.discovery.io import _read_checkpoint_U

    U = np.arange(12, dtype=np.float32).reshape(6, 2)
    save_file({"model.U": U, "model.v": np.zeros(2, np.float32)}, str(tmp_path / "c.st"))
    assert np.array_equal(_read_checkpoint_U(tmp_path / "c.st", 6), U)


@pytest.mark.slow
def test_discover_names_group_of_trained_runs(capsys, tmp_path):
    """The issue's bar: after `metasym train --problem equivariant`, discover names the
    group from the learned U alone (cyclic and dihedral)."""
    pytest.importorskip("torch")
    for spec, name in (("cyclic:6", "cyclic:6"), ("dihedral:4", "dihedral:4")):
        run = tmp_path / spec.replace(":", "")
        assert main(["train", "--problem", "equivariant", "--group", spec, "--in", "natural",
                     "--out-action", "natural", "--steps", "1500", "--tasks", "2000",
                     "--eval-every", "500", "--threads", "1", "--out", str(run),
                     "--json"]) == 0
        capsys.readouterr()
        code, info = run_json(capsys, "discover", str(run))
        assert code == 0 and info["identified_as"] == name
        assert info["relation_to_reference"] == "equal"


@pytest.mark.parametrize("graph", ["petersen", "hypercube", "paley"])
def test_order_matches_networkx_matcher_on_symmetric_graphs(graph):
    """Adjacency (+ a diagonal colour) as a pattern: Aut is the graph's automorphism group
    (the diagonal forces sigma_Y = sigma_X); counted independently with VF2."""
    import networkx as nx
    from networkx.algorithms.isomorphism import GraphMatcher

    g = {"petersen": nx.petersen_graph(), "hypercube": nx.hypercube_graph(3),
         "paley": nx.paley_graph(13).to_undirected()}[graph]
    g = nx.convert_node_labels_to_integers(g)
    A = nx.to_numpy_array(g).astype(int) + 2 * np.eye(g.number_of_nodes(), dtype=int)
    count = sum(1 for _ in GraphMatcher(g, g).isomorphisms_iter())
    assert automorphism_group(A).order == count


def test_partial_symmetries_search_is_under_the_time_limit():
    """The cyclic-embedding search is quadratic in the side (9 s for 100 x 100): under a
    tiny time limit it is reported as stopped, and the rest of the answer is kept."""
    import numpy as np

    from metasym.discovery.partial import partial_symmetries
    from metasym.representations import SharingPattern

    i, j = np.indices((100, 100))
    P = SharingPattern(j - i + 100)
    info = partial_symmetries(P, seconds=0.05)
    assert info["constant_diagonals"] and info["embedding"] is None
    assert info["embedding_search"].startswith("stopped:") and "METASYM_TIME_LIMIT" in \
        info["embedding_search"]
    small = partial_symmetries(SharingPattern((j - i + 100)[:12, :12]))
    assert small["embedding"] is not None and small["embedding_search"] == "complete"
