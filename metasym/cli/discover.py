"""``metasym discover``: the symmetry group a (learned) sharing pattern actually has."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from metasym.cli.options import layer_shape, positive_float
from metasym.errors import MetasymError, TooLargeError

__all__ = ["register", "discover", "run_discover"]

#: Generators listed in the output (the rest are counted).
SHOW_GENERATORS = 12


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "discover", help="name the symmetry group of a (learned) sharing pattern",
        description="Cluster a learned U into a sharing pattern (or read a pattern), compute "
        "the automorphism group of its coloured bipartite graph (generators, order), name it "
        "with a verified isomorphism, compare it with a reference group, and report partial "
        "symmetries (shifts, a padded cyclic group) when no global group explains the "
        "sharing. Groups act on outputs then inputs (point m + x is input x).")
    p.add_argument("run", nargs="?", metavar="RUN_DIR",
                   help="a `metasym train` run folder (msr-fc, msr-conv, a user network): its "
                   "learned U is clustered")
    p.add_argument("--pattern", metavar="PATH.npz", help=".npz with `labels` "
                   "(as written by `metasym sharing --save`)")
    p.add_argument("--U", dest="U", metavar="PATH.npz", help=".npz with `U` (m*n x k; needs "
                   "--shape or an array `shape`/`labels` in the file) or `W` (tasks x m x n)")
    p.add_argument("--shape", metavar="MxN", type=layer_shape,
                   help="layer shape for --U: outputs x inputs")
    p.add_argument("--layer", metavar="NAME", help="RUN_DIR: which layer's sharing matrix "
                   "(runs of networks with several MSR layers)")
    p.add_argument("--tol", type=positive_float, help="clustering tolerance, > 0 "
                   "(default: automatic)")
    p.add_argument("--against", metavar="GROUP_SPEC", help="reference group, e.g. rotoflips:3 "
                   "(default for an equivariant run: the run's group)")
    p.add_argument("--in", dest="action_in", default="natural",
                   help="reference input action (natural)")
    p.add_argument("--out", dest="action_out", default="natural",
                   help="reference output action (natural)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--cayley", metavar="PATH.png", help="draw the Cayley graph of the group")
    p.set_defaults(func=run_discover)


def _load(args: argparse.Namespace):
    from metasym.discovery import io

    given = [x for x in (args.run, args.pattern, args.U) if x]
    if len(given) != 1:
        raise MetasymError("give exactly one of RUN_DIR, --pattern PATH.npz, --U PATH.npz")
    if args.shape and not args.U:
        raise MetasymError("--shape only applies to --U")
    if args.layer and not args.run:
        raise MetasymError("--layer only applies to RUN_DIR")
    if args.pattern:
        return io.load_pattern_file(args.pattern)
    if args.U:
        return io.load_U_file(args.U, io.parse_shape(args.shape) if args.shape else None)
    return io.load_run(args.run, args.layer)


def discover(pattern: Any, reference: tuple[str, str, str] | None = None
             ) -> tuple[dict[str, Any], Any]:
    """Automorphism group, identification, comparison and partial symmetries of a
    pattern. Returns ``(JSON-ready dict, DiscoveredSymmetry)``."""
    from metasym.discovery.automorphisms import automorphism_group, compare_groups
    from metasym.discovery.identify import identify
    from metasym.discovery.partial import partial_symmetries
    from metasym.groups import parse_action, parse_group

    m, n = pattern.shape
    t0 = time.perf_counter()
    found = automorphism_group(pattern)
    t_search = time.perf_counter() - t0
    ident = identify(found.group, order=found.order)
    gens = found.generator_strings()
    explained = found.explained
    info: dict[str, Any] = {
        "shape": [m, n],
        "parameters": pattern.dimension,
        "fixed_zero_entries": int((pattern.labels < 0).sum()),
        "points": f"outputs 0..{m - 1}, inputs {m}..{m + n - 1} (input x is point m + x)",
        "order": found.order,
        "abelian": found.group.is_abelian,
        "n_generators": len(gens),
        "generators": gens[:SHOW_GENERATORS],
        "base": list(found.base),
        "basic_orbit_sizes": list(found.basic_orbit_sizes),
        "identified_as": ident.name,
        "aliases": ident.aliases,
        "isomorphism": ident.isomorphism,
        "identification": ident.verified,
        "invariants": ident.invariants,
        "explains_pattern": explained,
        "search_seconds": round(t_search, 4),
        "search_nodes": found.stats["search_nodes"],
        "relation_to_reference": None,
        "reference": None,
    }
    if not explained:
        info["partial_symmetries"] = partial_symmetries(pattern)
    if reference is not None:
        spec, a_in, a_out = reference
        G = parse_group(spec)
        act_in, act_out = parse_action(a_in, G), parse_action(a_out, G)
        info["relation_to_reference"] = compare_groups(found, act_in, act_out)
        info["reference"] = {"group": spec, "in": a_in, "out": a_out, "order": G.order}
    return info, found


def run_discover(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json

    src = _load(args)
    info: dict[str, Any] = {"source": src.path, "source_kind": src.kind}
    if src.notes:
        info["notes"] = list(src.notes)
    if src.kind == "pattern":
        pattern = src.pattern
    else:
        from metasym.discovery.clustering import pattern_from_U, pattern_from_weights

        if src.kind == "weights":
            pattern, cinfo = pattern_from_weights(src.matrix, tol=args.tol)
        else:
            pattern, cinfo = pattern_from_U(src.matrix, src.shape, tol=args.tol)
        info["tolerance"] = cinfo["tolerance"]
        info["confidence"] = cinfo["separation"]
        info["clustering"] = {k: cinfo[k] for k in ("rank", "clusters", "zero_entries",
                                                    "scale", "ranks_tried", "contrast",
                                                    "null_contrast", "null_samples",
                                                    "threshold", "significant")}
        info["clustering"]["confidence_meaning"] = (
            "separation: smallest distance between clusters / largest single-linkage step "
            "inside a cluster (whitened rows of U); above ~10 is clear, below ~3 doubtful")
        info["significance"] = cinfo["significance"]
        if not cinfo["significant"]:
            info["structure_found"] = False
            info["result"] = ("no sharing structure found: the clustering is no better "
                              "than structureless (Gaussian) data of the same shape gives")
            if args.json:
                print_json(info)
            else:
                _print_clustering(info)
                print(f"result     {info['result']}")
                print(f"           ({info['significance']})")
            return 0
    info["structure_found"] = True
    assert pattern is not None
    reference = None
    if args.against:
        reference = (args.against, args.action_in, args.action_out)
    elif src.reference is not None:
        reference = src.reference
        info["reference_source"] = "the run's config"
    result, found = discover(pattern, reference)
    info.update(result)
    if args.cayley is not None:
        info["cayley"] = _cayley(found.group, args.cayley, found.order)
    if args.json:
        print_json(info)
        return 0
    _print(info)
    return 0


def _cayley(G, path: str, order: int) -> str:
    from metasym.groups import FiniteGroup
    from metasym.plotting import plot_cayley

    if order > 2000:
        raise TooLargeError(f"a Cayley graph of {order} elements is too large to draw (limit 2000)")
    if Path(path).suffix.lower() != ".png":
        raise MetasymError(f"--cayley must end in .png, got {path!r}")
    G = FiniteGroup(G.generator_arrays, G.degree, order=order)
    plot_cayley(G.cayley_graph(), path, title=f"Cayley graph of the discovered group (order {order})")
    return str(path)


def _clip(cycles: str, limit: int = 90) -> str:
    """Long cycle notation shortened for the terminal (``--json`` keeps it whole)."""
    if len(cycles) <= limit:
        return cycles
    return cycles[:limit].rsplit(")", 1)[0] + ") ... (--json for all)"


def _print_clustering(info: dict[str, Any]) -> None:
    print(f"source     {info['source']} ({info['source_kind']})")
    for note in info.get("notes", []):
        print(f"note       {note}")
    if "tolerance" in info:
        c = info["clustering"]
        conf = info["confidence"]
        conf_text = "n/a" if conf is None else f"{conf:.3g}"
        print(f"clustering tolerance {info['tolerance']:.3g}, confidence (separation) "
              f"{conf_text}, rank {c['rank']}, {c['clusters']} parameters, "
              f"{c['zero_entries']} fixed zeros")


def _print(info: dict[str, Any]) -> None:
    m, n = info["shape"]
    _print_clustering(info)
    if "significance" in info:
        print(f"significant {info['significance']}")
    print(f"pattern    {m} x {n}, {info['parameters']} parameters, "
          f"{info['fixed_zero_entries']} fixed zeros")
    print(f"group      order {info['order']}, {'abelian' if info['abelian'] else 'non-abelian'}, "
          f"{info['n_generators']} generators (on outputs | inputs), found in "
          f"{info['search_seconds']:.3f} s")
    for g in info["generators"]:
        print(f"             out {_clip(g['out'])}  |  in {_clip(g['in'])}")
    if info["n_generators"] > len(info["generators"]):
        print(f"             ... {info['n_generators'] - len(info['generators'])} more")
    name = info["identified_as"]
    alias = f"  (also: {', '.join(info['aliases'])})" if info["aliases"] else ""
    print(f"identified {name or 'not identified'}{alias}")
    print(f"           {info['identification']}")
    for row in info["isomorphism"][:6]:
        where = f" on points {row['on_points']}" if "on_points" in row else ""
        print(f"             {_clip(row['generator'])} -> {_clip(row['image'])}{where}")
    inv = info["invariants"]
    if "element_orders" in inv:
        print("invariants element orders " + "  ".join(f"{k}:{v}" for k, v in
                                                      inv["element_orders"].items())
              + f"; centre size {inv['centre_size']}")
    print(f"explains   {'yes' if info['explains_pattern'] else 'no'}: each parameter is "
          f"{'one orbit' if info['explains_pattern'] else 'NOT one orbit'} of the group on "
          "(output, input) pairs")
    ps = info.get("partial_symmetries")
    if ps:
        print(f"partial    constant diagonals: {'yes' if ps['constant_diagonals'] else 'no'}"
              + (f" {ps['diagonals']}" if ps["constant_diagonals"] else ""))
        print(f"           {ps['n_shifts']} partial shifts (y+a, x+b) preserve every entry "
              f"where both ends exist; smallest: {ps['shifts']}")
        if ps["embedding"]:
            print(f"           smallest group: {ps['embedding']['statement']}")
        elif str(ps.get("embedding_search", "")).startswith("stopped"):
            print(f"           cyclic embedding: search {ps['embedding_search']}")
    if info["reference"]:
        ref = info["reference"]
        src = f" ({info['reference_source']})" if "reference_source" in info else ""
        print(f"reference  {ref['group']} (order {ref['order']}), {ref['in']} -> {ref['out']}"
              f"{src}: the found group is {_relation_words(info['relation_to_reference'])}")
    if info.get("cayley"):
        print(f"cayley     {info['cayley']}")


def _relation_words(rel: str) -> str:
    return {"equal": "EQUAL to its image",
            "subgroup": "a proper SUBGROUP of its image",
            "supergroup": "a proper SUPERGROUP of its image (the pattern has more symmetry)",
            "incomparable": "INCOMPARABLE with its image"}[rel]
