"""``metasym group``, ``metasym sharing`` and ``metasym verify``."""

from __future__ import annotations

import argparse
import time
from fractions import Fraction
from pathlib import Path

from metasym.cli.options import SEED_MAX, seed
from metasym.cli.output import check_status, print_checks
from metasym.errors import MetasymError, TooLargeError

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("group", help="describe a finite group given by its spec",
                       description="Order, degree, generators, commutativity, conjugacy "
                       "classes and element orders of a group spec such as dihedral:4.")
    p.add_argument("spec", help="group spec, e.g. cyclic:8, rotoflips:5, perm:4:(0 1);(2 3)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--cayley", metavar="PATH", help="write the Cayley graph (.png or .graphml)")
    p.set_defaults(func=run_group)

    p = sub.add_parser("sharing", help="exact parameter-sharing pattern U^G of a pair of actions",
                       description="The orbits of the group on (output, input) index pairs: "
                       "the ground-truth sharing matrix of all equivariant linear maps.")
    p.add_argument("--group", required=True, help="group spec")
    p.add_argument("--in", dest="action_in", default="natural", help="input action (natural)")
    p.add_argument("--out", dest="action_out", default="natural", help="output action (natural)")
    p.add_argument("--support", help="locality mask: band:K (output y reads inputs y..y+K-1)")
    p.add_argument("--save", metavar="PATH.npz", help="write labels and U to .npz")
    p.add_argument("--plot", metavar="PATH.png", help="draw the pattern and U")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_sharing)

    p = sub.add_parser("verify", help="check the representation theorems for a group",
                       description="Dimension = orbits = Burnside = character inner product, "
                       "equivariance of the basis, MSR representability, Frobenius "
                       "reciprocity, Reynolds projection, homomorphism. Exit 1 if any fails.")
    p.add_argument("--group", required=True, help="group spec")
    p.add_argument("--in", dest="action_in", default="natural", help="input action (natural)")
    p.add_argument("--out", dest="action_out", default="natural", help="output action (natural)")
    p.add_argument("--seed", type=seed, default=0,
                   help=f"seed of the random test vectors, 0..{SEED_MAX} (0)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run_verify)

    p = sub.add_parser("tour", help="a short tour: a group, its sharing pattern, the theorems",
                       description="Prints a group, its exact sharing pattern and the theorem "
                       "checks, and writes a PNG of U^G (the first part of `metasym demo`).")
    p.add_argument("--group", default="rotoflips:3", help="group spec (rotoflips:3)")
    p.add_argument("--in", dest="action_in", default="natural", help="input action (natural)")
    p.add_argument("--out", dest="action_out", default="natural", help="output action (natural)")
    p.add_argument("--dir", default="runs/tour", help="folder for the PNG (runs/tour)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_tour_command)


def _tour_command(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json

    summary = run_tour(args.dir, args.group, args.action_in, args.action_out,
                       quiet=args.json)
    if args.json:
        print_json(summary)
    return 1 if summary["checks_failed"] else 0


# ----- group ----------------------------------------------------------------------------
def describe_group(G) -> dict:
    """A JSON-ready description of a group; enumeration-based figures are null with a
    reason above the limits."""
    from metasym.groups import CONJUGACY_LIMIT, ELEMENT_LIMIT, format_cycles

    info: dict = {
        "group": G.spec,
        "order": json_order(G),
        "order_text": G.order_text,
        "log10_order": round(G.log10_order, 6),
        "degree": G.degree,
        "generators": [format_cycles(g) for g in G.generator_arrays],
        "abelian": G.is_abelian,
    }
    try:
        info["conjugacy_classes"] = len(G.conjugacy_class_indices)
    except TooLargeError:
        info["conjugacy_classes"] = None
        info["conjugacy_classes_reason"] = f"order above {CONJUGACY_LIMIT}"
    try:
        info["element_orders"] = {str(k): v for k, v in G.element_order_histogram().items()}
    except TooLargeError:
        info["element_orders"] = None
        info["element_orders_reason"] = f"order above {ELEMENT_LIMIT}: not enumerated"
    return info


def json_order(G) -> int | str:
    """The order for JSON: an integer up to 10^50, else its text (``1000000! (about
    8.26e+5565708)``); a huge integer is never converted to decimal."""
    return G.order if G.log10_order < 50 else G.order_text


def _clip(text: str, limit: int = 200) -> str:
    """Long cycle notation shortened for the terminal (``--json`` keeps it whole)."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " ...) (--json for all)"


def run_group(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json
    from metasym.groups import parse_group

    G = parse_group(args.spec)
    info = describe_group(G)
    if args.cayley is not None:
        info["cayley"] = _write_cayley(G, args.cayley)
    if args.json:
        print_json(info)
        return 0
    print(f"group      {info['group']}")
    print(f"order      {info['order_text']}")
    print(f"degree     {info['degree']}")
    print(f"generators {'  '.join(_clip(g) for g in info['generators']) or '(none)'}")
    print(f"abelian    {'yes' if info['abelian'] else 'no'}")
    cc = info["conjugacy_classes"]
    print(f"classes    {cc if cc is not None else 'not computed (' + info['conjugacy_classes_reason'] + ')'}")
    eo = info["element_orders"]
    if eo is None:
        print(f"orders     not computed ({info['element_orders_reason']})")
    else:
        print("orders     " + "  ".join(f"{k}:{v}" for k, v in eo.items())
              + "   (element order: count)")
    if args.cayley is not None:
        print(f"cayley     {info['cayley']}")
    return 0


def _write_cayley(G, path: str) -> str:
    from metasym.plotting import ensure_parent, plot_cayley

    if G.order_exceeds(2000):
        raise TooLargeError(f"a Cayley graph of {G.order_text} elements is too large to draw "
                            "(limit 2000)")
    suffix = Path(path).suffix.lower()
    if suffix not in (".png", ".graphml"):
        raise MetasymError(f"--cayley must end in .png or .graphml, got {path!r}")
    graph = G.cayley_graph()
    if suffix == ".graphml":
        import networkx as nx

        from metasym.files import atomic_write

        try:
            atomic_write(ensure_parent(path), lambda tmp: nx.write_graphml(graph, tmp))
        except OSError as e:
            raise MetasymError(f"cannot write {path}: {e.strerror}") from None
    else:
        plot_cayley(graph, path, title=f"Cayley graph of {G.spec}")
    return str(path)


# ----- sharing --------------------------------------------------------------------------
def _burnside(a_in, a_out) -> tuple[object, str | None]:
    import numpy as np

    from metasym.representations.theorems import burnside_count

    value, reason = burnside_count(a_in, a_out)
    if value is None:
        return None, reason
    if isinstance(value, Fraction) and value.denominator == 1:
        value = value.numerator
    return (int(value) if isinstance(value, (int, np.integer)) else str(value)), None


def run_sharing(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json
    from metasym.groups import parse_action, parse_group
    from metasym.representations import sharing_pattern

    G = parse_group(args.group)
    a_in = parse_action(args.action_in, G)
    a_out = parse_action(args.action_out, G)
    t0 = time.perf_counter()
    pattern = sharing_pattern(a_in, a_out, support=args.support)
    seconds = time.perf_counter() - t0
    burnside, reason = _burnside(a_in, a_out)
    info: dict = {
        "group": G.spec,
        "order": json_order(G),
        "in": a_in.spec,
        "out": a_out.spec,
        "in_degree": a_in.degree,
        "out_degree": a_out.degree,
        "support": args.support,
        "dimension": pattern.dimension,
        "burnside": burnside,
        "seconds": round(seconds, 6),
    }
    if reason:
        info["burnside_reason"] = reason
    if args.support and burnside is not None:
        info["burnside_note"] = "Burnside counts all orbits; the support keeps only some"
    if args.save is not None:
        from metasym.plotting import ensure_parent

        try:
            saved = pattern.save(ensure_parent(args.save))
        except OSError as e:
            raise MetasymError(f"cannot write {args.save}: {e.strerror}") from None
        info["saved"] = saved["path"]
        info["saved_U"] = saved["U"]
    if args.plot is not None:
        from metasym.plotting import plot_pattern

        plot_pattern(pattern, args.plot, title=f"{G.spec}: {a_in.spec} -> {a_out.spec}")
        info["plot"] = args.plot
    if args.json:
        print_json(info)
        return 0
    print(f"group      {G.spec} (order {G.order_text})")
    print(f"maps       {a_in.spec} (degree {a_in.degree}) -> {a_out.spec} (degree {a_out.degree})"
          + (f", support {args.support}" if args.support else ""))
    print(f"dimension  {pattern.dimension}   (orbits on output x input pairs, "
          f"computed in {seconds:.4f} s)")
    if burnside is None:
        print(f"burnside   not computed ({reason})")
    else:
        note = "  (all orbits; the support keeps fewer)" if args.support else ""
        print(f"burnside   {burnside}{note}")
    if pattern.shape[0] * pattern.shape[1] <= 144:
        print("labels (output rows x input columns; -1 = fixed zero):")
        width = max(2, len(str(pattern.dimension - 1)) + 1)
        for row in pattern.labels:
            print("  " + " ".join(f"{v:>{width}d}" for v in row))
    if args.save is not None:
        print(f"saved      {info['saved']} (labels, U {info['saved_U']})")
    if args.plot is not None:
        print(f"plot       {args.plot}")
    return 0


# ----- verify ---------------------------------------------------------------------------
def run_verify(args: argparse.Namespace) -> int:
    from metasym.cli.output import print_json
    from metasym.groups import parse_action, parse_group
    from metasym.representations.theorems import run_checks

    G = parse_group(args.group)
    a_in = parse_action(args.action_in, G)
    a_out = parse_action(args.action_out, G)
    results = run_checks(a_in, a_out, seed=args.seed)
    rows = [r.to_dict() for r in results]
    failed = [r for r in rows if _status(r) == "fail"]
    if args.json:
        print_json({"group": G.spec, "order": json_order(G), "in": a_in.spec, "out": a_out.spec,
                    "checks": rows, "passed": not failed})
        return 1 if failed else 0
    print(f"{G.spec} (order {G.order_text}): {a_in.spec} (degree {a_in.degree}) -> "
          f"{a_out.spec} (degree {a_out.degree})")
    print_checks(rows)
    return 1 if failed else 0


_status = check_status


# ----- tour (the part of `metasym demo` that needs no torch) -----------------------------
def run_tour(out_dir: str | Path, group_spec: str = "rotoflips:3", action_in: str = "natural",
             action_out: str = "natural", *, quiet: bool = False) -> dict:
    """Print a group, its exact sharing pattern and the theorem checks; write a PNG of
    ``U^G``. Returns a summary (used by ``metasym demo`` and ``tour --json``: the group's
    description, the pattern's labels, the PNG, every check); ``quiet`` prints nothing."""
    import contextlib
    import io

    if quiet:
        with contextlib.redirect_stdout(io.StringIO()):
            return run_tour(out_dir, group_spec, action_in, action_out)
    from metasym.groups import parse_action, parse_group
    from metasym.plotting import plot_pattern
    from metasym.representations import sharing_pattern
    from metasym.representations.theorems import run_checks

    out = Path(out_dir)
    G = parse_group(group_spec)
    a_in, a_out = parse_action(action_in, G), parse_action(action_out, G)
    print(f"== 1. the group {G.spec}")
    run_group(argparse.Namespace(spec=group_spec, json=False, cayley=None))
    print(f"\n== 2. its exact sharing pattern, {a_in.spec} -> {a_out.spec}")
    t0 = time.perf_counter()
    pattern = sharing_pattern(a_in, a_out)
    seconds = time.perf_counter() - t0
    print(f"{pattern.shape[0]} x {pattern.shape[1]} weights, {pattern.dimension} free "
          f"parameters (orbits on pairs), computed in {seconds * 1e3:.2f} ms")
    width = len(str(pattern.dimension - 1)) + 1
    for row in pattern.labels:
        print("  " + " ".join(f"{v:>{width}d}" for v in row))
    png = plot_pattern(pattern, out / "sharing.png",
                       title=f"U^G of {G.spec}: {a_in.spec} -> {a_out.spec}")
    print(f"wrote {png}")
    print("\n== 3. the theorems, checked")
    results = run_checks(a_in, a_out, seed=0)
    rows = [r.to_dict() for r in results]
    failed = print_checks(rows)
    return {"group": G.spec, "in": a_in.spec, "out": a_out.spec,
            "group_info": describe_group(G), "shape": list(pattern.shape),
            "dimension": pattern.dimension, "seconds": round(seconds, 6),
            "labels": pattern.labels.tolist(), "plot": str(png), "checks": rows,
            "checks_failed": failed}
