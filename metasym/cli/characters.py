"""``metasym characters``: the exact character table of a group."""

from __future__ import annotations

import argparse

__all__ = ["register", "run_characters"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "characters", help="exact character table of a finite group",
        description="Conjugacy classes (size, representative, element order), the "
        "irreducible characters with exact cyclotomic values (E(n) = exp(2 pi i/n)), their "
        "degrees and Frobenius-Schur indicators (1 real, 0 complex, -1 quaternionic). "
        "Groups of order up to 20000 are enumerated (Burnside-Dixon modulo a prime). Larger "
        "ones are never listed: symmetric and alternating groups by their combinatorics "
        "(Murnaghan-Nakayama, up to 1100 classes, e.g. symmetric:20), direct products by "
        "tensoring their factors' tables, other groups by random search for classes over a "
        "stabiliser chain, then Dixon-Schneider (limits: 200 classes, 1000 points).")
    p.add_argument("spec", help="group spec, e.g. alternating:5 or "
                   "'perm:11:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5)'")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--method", choices=("auto", "structured", "enumerate", "search"),
                   default="auto",
                   help="structured (symmetric/alternating groups and products, no listing), "
                   "enumerate the group (order <= 20000), search for classes from the "
                   "generators without listing it, or auto (enumerate up to order 20000; "
                   "above, structured where it applies, else search; default)")
    p.add_argument("--decompose", metavar="ACTION", action="append", default=[],
                   help="multiplicities of the irreducibles in the permutation "
                   "representation of an action spec (natural, regular, tensor(natural,"
                   "natural), ...); repeatable")
    p.add_argument("--check", action="store_true",
                   help="also check orthogonality and the other theorems (exit 1 on failure)")
    p.set_defaults(func=run_characters)


def run_characters(args: argparse.Namespace) -> int:
    from metasym._limits import time_limit
    from metasym.cli.output import print_json
    from metasym.groups import parse_group
    from metasym.representations.characters import character_table

    G = parse_group(args.spec)
    with time_limit(f"computing the character table of {G.spec[:80]}"):
        T = character_table(G, method=getattr(args, "method", "auto"))
    checks = None
    if args.check:
        from metasym.representations.theorems import check_character_table

        checks = check_character_table(T)
    failed = bool(checks) and any(r.failed for r in checks)
    decomposed = []
    if args.decompose:
        from metasym.groups import parse_action

        for spec in args.decompose:
            action = parse_action(spec, G)
            decomposed.append({"action": action.spec, "degree": action.degree,
                               "multiplicities": T.multiplicities(action)})
    if args.json:
        info = T.to_json()
        if decomposed:
            info["decompositions"] = decomposed
        if checks is not None:
            info["checks"] = [r.to_dict() for r in checks]
        print_json(info)
        return 1 if failed else 0
    print(f"group    {G.spec} (order {G.order}, {T.n_classes} classes)")
    print(f"method   {T.method}, {T.seconds:.3f} s")
    print()
    print(T.format())
    print()
    names = T.class_names()
    print("class representatives:")
    for name, c in zip(names, T.classes):
        print(f"  {name:<6} {c.cycles}")
    print()
    kind = {1: "real", 0: "complex", -1: "quaternionic"}
    print("indicators  " + "  ".join(f"X.{i + 1}:{kind[v]}" for i, v in
                                      enumerate(T.indicators)))
    print("values: E(n) = exp(2 pi i/n)")
    for d in decomposed:
        terms = " + ".join(f"{m}*X.{i + 1}" if m > 1 else f"X.{i + 1}"
                           for i, m in enumerate(d["multiplicities"]) if m)
        print(f"{d['action']} (degree {d['degree']}) = {terms}")
    if checks is not None:  # the layout of every checker's report (as `metasym verify`)
        from metasym.cli.output import print_checks

        print()
        print_checks([r.to_dict() for r in checks])
    return 1 if failed else 0
