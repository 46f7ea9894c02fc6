r"""Name a permutation group, with an isomorphism that is constructed and verified.

For a group :math:`D` and a candidate named group :math:`C` (generators :math:`s_j`), an
isomorphism is given by images :math:`t_j \in D` of the :math:`s_j`. It is verified, not
guessed:

1. :math:`s_j \mapsto t_j` extends to a homomorphism :math:`C \to D`: checked by
   :class:`~metasym.groups.GroupAction` validation (the graph group
   :math:`\langle (s_j, t_j) \rangle` has order :math:`|C|`, by Schreier-Sims);
2. it is bijective: :math:`|\langle t_j \rangle| = |C| = |D|` (so the kernel is trivial
   and the image, a subgroup of :math:`D`, is all of it).

Cheap invariants prune candidates first: order, commutativity, the element-order
histogram and the centre size. Images are searched with :math:`t_1` up to conjugacy (an
inner automorphism of :math:`D` moves any solution to one with :math:`t_1` a class
representative) and pairs pruned by the orders of :math:`t_i t_j`. sympy's
``is_isomorphic`` is never used (it gives wrong answers in sympy 1.14).

A group that is the direct product of its restrictions to its orbits (for instance
:math:`\mathrm{Sym}(Y) \times \mathrm{Sym}(X)` of a pattern with a single parameter) is
named factor by factor; a factor that is the full symmetric or alternating group of its
orbit is recognised by its order (known exactly from the stabiliser chain), without
enumeration.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from metasym.errors import MetasymError, NotAHomomorphismError, TooLargeError
from metasym.groups import (
    FiniteGroup,
    GroupAction,
    abelian,
    alternating,
    cyclic,
    dihedral,
    direct_product,
    klein_four,
    quaternion,
    symmetric,
)
from metasym.groups._perm import bfs_enumerate, format_cycles

__all__ = ["Identification", "identify", "group_invariants", "find_isomorphism",
           "candidate_groups", "IDENTIFY_LIMIT"]

#: Largest order identified abstractly (elements are enumerated).
IDENTIFY_LIMIT = 20_000
#: Most image tuples tried per candidate.
MAX_TRIES = 20_000


@dataclass
class Identification:
    """Result of :func:`identify`.

    ``name`` is a group spec (``dihedral:4``, ``product(symmetric:3,symmetric:4)``) or
    ``None``; ``aliases`` other names of the same abstract group
    (``rotoflips`` for ``dihedral:4``, ``translations:HxW`` for a product of two cyclic
    groups); ``isomorphism`` maps each generator of the named group (cycle notation on
    its own points) to its image in the identified group; ``verified`` says how.
    """

    name: str | None
    aliases: list[str] = field(default_factory=list)
    isomorphism: list[dict[str, str]] = field(default_factory=list)
    verified: str = ""
    invariants: dict[str, Any] = field(default_factory=dict)
    candidates_checked: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "aliases": self.aliases, "isomorphism": self.isomorphism,
                "verified": self.verified, "invariants": self.invariants,
                "candidates_checked": self.candidates_checked}


# ----- invariants ---------------------------------------------------------------------
def _perm_orders(E: np.ndarray) -> np.ndarray:
    """Order of each row permutation of ``E`` (lcm of cycle lengths), vectorised."""
    N, d = E.shape
    orders = np.ones(N, dtype=np.int64)
    ident = np.arange(d)
    P = E.copy()
    k = 1
    todo = ~np.all(P == ident, axis=1)
    while todo.any():
        k += 1
        idx = np.flatnonzero(todo)
        P[idx] = np.take_along_axis(E[idx], P[idx], axis=1)
        done = np.all(P[idx] == ident, axis=1)
        orders[idx[done]] = k
        todo[idx[done]] = False
    return orders


def _perm_order(g: np.ndarray) -> int:
    """Order of one permutation (the groups layer's cycle-structure computation)."""
    from metasym.groups._perm import permutation_orders

    return int(permutation_orders(np.asarray(g, dtype=np.int64)[None, :])[0])


class _Enumerated:
    """A small group's elements with their orders (and lazily its classes and centre)."""

    def __init__(self, G: FiniteGroup) -> None:
        if G.order > IDENTIFY_LIMIT:
            raise TooLargeError(f"identification enumerates the group; order {G.order} is above "
                                f"{IDENTIFY_LIMIT}")
        self.G = G
        self.E = bfs_enumerate(G.generator_arrays, G.degree, G.order)
        self.orders = _perm_orders(self.E)
        self.index = {e.tobytes(): i for i, e in enumerate(self.E)}

    def histogram(self) -> dict[int, int]:
        return dict(sorted(Counter(self.orders.tolist()).items()))

    def centre_size(self) -> int:
        E = self.E
        central = np.ones(len(E), dtype=bool)
        for s in self.G.generator_arrays:
            central &= np.all(E[:, s] == s[E], axis=1)  # e∘s == s∘e
        return int(central.sum())

    def class_representatives(self) -> list[int]:
        """One element index per conjugacy class (orbits of conjugation by generators)."""
        gens = [(s, np.argsort(s)) for s in self.G.generator_arrays]
        cls = np.full(len(self.E), -1)
        reps = []
        for start in range(len(self.E)):
            if cls[start] >= 0:
                continue
            reps.append(start)
            cls[start] = start
            queue = [start]
            while queue:
                x = self.E[queue.pop()]
                for s, si in gens:
                    j = self.index[s[x[si]].tobytes()]
                    if cls[j] < 0:
                        cls[j] = start
                        queue.append(j)
        return reps


def group_invariants(G: FiniteGroup) -> dict[str, Any]:
    """Order, commutativity and, when the order is at most :data:`IDENTIFY_LIMIT`, the
    element-order histogram and the centre size."""
    inv: dict[str, Any] = {"order": G.order, "abelian": G.is_abelian}
    if G.order <= IDENTIFY_LIMIT:
        en = _enumerated(G)
        inv["element_orders"] = {str(k): v for k, v in en.histogram().items()}
        inv["centre_size"] = en.centre_size()
    return inv


@lru_cache(maxsize=256)
def _enumerated(G: FiniteGroup) -> _Enumerated:
    return _Enumerated(G)


# ----- candidates ---------------------------------------------------------------------
def _abelian_types(n: int) -> Iterator[tuple[int, ...]]:
    """Invariant factors (n1 | n2 | ...) of every abelian group of order n."""
    def partitions(k: int, largest: int | None = None) -> Iterator[list[int]]:
        largest = k if largest is None else largest
        if k == 0:
            yield []
            return
        for first in range(min(k, largest), 0, -1):
            for rest in partitions(k - first, first):
                yield [first] + rest

    primes = Counter()
    x, p = n, 2
    while p * p <= x:
        while x % p == 0:
            primes[p] += 1
            x //= p
        p += 1
    if x > 1:
        primes[x] += 1
    per_prime = [[(p, part) for part in partitions(e)] for p, e in primes.items()]
    for combo in itertools.product(*per_prime):
        width = max((len(part) for _, part in combo), default=0)
        factors = [1] * width
        for p, part in combo:
            for i, e in enumerate(part):  # largest exponents go to the largest factor
                factors[width - 1 - i] *= p ** e
        yield tuple(f for f in factors if f > 1) or (1,)


def _small_named() -> list[tuple[str, FiniteGroup]]:
    out = [(f"cyclic:{n}", cyclic(n)) for n in range(2, 13)]
    out += [(f"dihedral:{n}", dihedral(n)) for n in range(3, 7)]
    out += [("symmetric:4", symmetric(4)), ("alternating:4", alternating(4)),
            ("symmetric:5", symmetric(5)), ("alternating:5", alternating(5)),
            ("quaternion", quaternion()), ("klein", klein_four())]
    return out


def candidate_groups(order: int, is_abelian: bool) -> Iterator[tuple[str, FiniteGroup, list[str]]]:
    """Named groups of the given order: ``(spec, group, aliases)``."""
    if is_abelian:
        for factors in _abelian_types(order):
            if len(factors) == 1:
                aliases = ["rotations (C4 on a grid)"] if order == 4 else []
                yield f"cyclic:{order}", cyclic(order), aliases
            elif factors == (2, 2):
                yield "klein", klein_four(), ["abelian:2x2", "dihedral:2", "translations:2x2"]
            else:
                spec = "abelian:" + "x".join(map(str, factors))
                aliases = ([f"translations:{factors[0]}x{factors[1]}"]
                           if len(factors) == 2 else [])
                yield spec, abelian(*factors), aliases
        return
    if order % 2 == 0 and order >= 6:
        aliases = ["rotoflips (D4 on a grid)"] if order == 8 else []
        if order == 6:
            aliases = ["symmetric:3"]
        yield f"dihedral:{order // 2}", dihedral(order // 2), aliases
    if order == 8:
        yield "quaternion", quaternion(), []
    for k in range(4, 9):
        if math.factorial(k) == order:
            yield f"symmetric:{k}", symmetric(k), []
        if k >= 4 and math.factorial(k) // 2 == order:
            yield f"alternating:{k}", alternating(k), []
    # non-abelian direct products of two small named groups
    small = _small_named()
    seen: set[str] = set()
    for (na, A), (nb, B) in itertools.combinations_with_replacement(small, 2):
        if A.order * B.order != order or (A.is_abelian and B.is_abelian):
            continue
        spec = f"product({na},{nb})"
        if spec not in seen:
            seen.add(spec)
            yield spec, direct_product(A, B), []


# ----- isomorphisms -------------------------------------------------------------------
def find_isomorphism(C: FiniteGroup, D: FiniteGroup, *, max_tries: int = MAX_TRIES
                     ) -> list[np.ndarray] | None:
    r"""Images :math:`t_j \in D` of the generators of ``C`` defining an isomorphism
    :math:`C \to D`, verified (homomorphism by :class:`~metasym.groups.GroupAction`
    validation, bijection by order), or ``None`` if none exists (or ``max_tries`` image
    tuples were tried)."""
    if C.order != D.order or C.is_abelian != D.is_abelian:
        return None
    if C.n_generators == 0:
        return [] if D.order == 1 else None
    en = _enumerated(D)
    s = list(C.generator_arrays)
    s_ord = [_perm_order(x) for x in s]
    pair_ord = {(i, j): _perm_order(s[i][s[j]]) for i in range(len(s)) for j in range(i)}
    commute = {(i, j): bool(np.array_equal(s[i][s[j]], s[j][s[i]]))
               for i in range(len(s)) for j in range(i)}
    reps = set(en.class_representatives())
    pools = [np.flatnonzero(en.orders == o) for o in s_ord]
    pools[0] = np.array([i for i in pools[0] if i in reps], dtype=np.int64)
    tries = 0

    def extend(chosen: list[int]) -> list[np.ndarray] | None:
        nonlocal tries
        j = len(chosen)
        if j == len(s):
            tries += 1
            images = [en.E[i] for i in chosen]
            if _verify(C, D, images):
                return images
            return None
        for cand in pools[j]:
            if tries >= max_tries:
                return None
            t = en.E[cand]
            ok = True
            for i, ci in enumerate(chosen):
                u = en.E[ci]
                if (np.array_equal(u[t], t[u]) != commute[(j, i)]
                        or _perm_order(t[u]) != pair_ord[(j, i)]):
                    ok = False
                    break
            if ok:
                res = extend(chosen + [int(cand)])
                if res is not None:
                    return res
        return None

    return extend([])


def _verify(C: FiniteGroup, D: FiniteGroup, images: list[np.ndarray]) -> bool:
    """Homomorphism (graph-group order) and bijectivity (image order) of s_j -> t_j."""
    try:
        GroupAction(C, images, degree=D.degree, validate=True)
    except NotAHomomorphismError:
        return False
    return FiniteGroup(images, D.degree).order == C.order


# ----- identification -----------------------------------------------------------------
def _orbits(G: FiniteGroup) -> list[np.ndarray]:
    from metasym.groups.actions import orbit_labels

    lab = orbit_labels(np.asarray(G.generator_arrays), G.degree)
    return [np.flatnonzero(lab == c) for c in range(int(lab.max()) + 1)]


def _exact_order(G: FiniteGroup) -> int:
    """``|G|`` without sympy's slow deterministic Schreier-Sims: randomised Schreier-Sims
    gives a certain *lower* bound (its transversals are made of group elements); when
    it reaches :math:`k!` (or :math:`k!/2` for even generators) that is exact, else the
    incremental (deterministic) algorithm decides, under the time limit."""
    from sympy.combinatorics import PermutationGroup
    from sympy.combinatorics.util import (
        _distribute_gens_by_base,
        _orbits_transversals_from_bsgs,
    )

    from metasym._limits import time_limit

    if G._known_order is not None:
        return G._known_order
    if G.n_generators == 0:
        return 1
    P = PermutationGroup(list(G.generators))

    def chain_order(base, strong) -> int:
        dist = _distribute_gens_by_base(base, strong)
        trans = _orbits_transversals_from_bsgs(base, dist, transversals_only=True)
        return math.prod(len(t) for t in trans)

    k = G.degree
    top = math.factorial(k)
    if all(p.is_even for p in G.generators):
        top //= 2
    with time_limit(f"computing the order of a group of degree {k}"):
        if k > 8:
            try:
                lower = chain_order(*P.schreier_sims_random(consec_succ=10))
            except IndexError:  # sympy 1.14 fails on some chains of length 1
                lower = 0
            if lower == top:
                return lower
        return chain_order(*P.schreier_sims_incremental())


def _restrict(G: FiniteGroup, pts: np.ndarray) -> FiniteGroup:
    pos = np.full(G.degree, -1)
    pos[pts] = np.arange(pts.size)
    F = FiniteGroup([pos[g[pts]] for g in G.generator_arrays], int(pts.size))
    return FiniteGroup(F.generator_arrays, F.degree, order=_exact_order(F))


def _sym_alt(G: FiniteGroup, o: np.ndarray, F: FiniteGroup) -> Identification | None:
    """``G`` moving only the points ``o`` (restriction ``F``): all of Sym/Alt there?"""
    k = o.size
    for fam, cons, size in (("symmetric", symmetric, math.factorial(k)),
                            ("alternating", alternating, math.factorial(k) // 2)):
        # k = 3 is left to the abstract search, which names S3 = D3 "dihedral:3"
        if k >= 4 and F.order == size:
            C = cons(k)
            images = []
            for sgen in C.generator_arrays:
                full = np.arange(G.degree)
                full[o] = o[sgen]
                images.append(full)
            return Identification(
                f"{fam}:{k}", [], _iso_rows(C, images),
                f"order {size} = |{fam}({k})| on its {k} moved points, so it is all of "
                f"{fam}({k}) there (the point bijection is the isomorphism)",
                group_invariants(G) if G.order <= IDENTIFY_LIMIT else
                {"order": G.order, "abelian": G.is_abelian})
    return None


def identify(G: FiniteGroup, *, order: int | None = None) -> Identification:
    """Identify ``G`` among the named groups, with a verified isomorphism.

    Raises TypeError unless ``G`` is a :class:`~metasym.groups.FiniteGroup`.

    Parameters
    ----------
    G
        The group (e.g. ``DiscoveredSymmetry.group``).
    order
        ``|G|`` when known (spares Schreier-Sims).

    Examples
    --------
    >>> from metasym.groups import rotoflips
    >>> identify(rotoflips(3)).name
    'dihedral:4'
    """
    if not isinstance(G, FiniteGroup):
        raise TypeError(f"G must be a FiniteGroup, got {type(G).__name__}")
    if order is not None and G._known_order is None:
        G = FiniteGroup(G.generator_arrays, G.degree, order=order)
    elif G._known_order is None:
        G = FiniteGroup(G.generator_arrays, G.degree, order=_exact_order(G))
    small = G.order <= IDENTIFY_LIMIT
    inv = group_invariants(G) if small else {"order": G.order, "abelian": G.is_abelian}
    if G.order == 1:
        return Identification("trivial", ["cyclic:1"], [], "order 1", inv)
    orbits = [o for o in _orbits(G) if o.size > 1]
    if not (small and G.is_abelian):  # abelian groups are named by invariant factors
        factors = [_restrict(G, o) for o in orbits]
        moving = [(o, F) for o, F in zip(orbits, factors) if F.n_generators]
        if len(moving) == 1:
            found = _sym_alt(G, *moving[0])
            if found is not None:
                return found
        # a direct product of its orbit restrictions: name the factors one by one
        if len(moving) > 1 and math.prod(F.order for _, F in moving) == G.order:
            parts = [identify(F) for _, F in moving]
            if all(p.name for p in parts):
                iso = []
                for (o, _), p in zip(moving, parts):
                    pts = (f"{int(o[0])}..{int(o[-1])}" if o.size == o[-1] - o[0] + 1
                           else str(o.tolist()))
                    iso.extend({**row, "on_points": pts} for row in p.isomorphism)
                return Identification(
                    "product(" + ",".join(p.name for p in parts) + ")", [], iso,
                    "direct product of its restrictions to its orbits (orders multiply to "
                    "|G|); factors: " + "; ".join(p.verified for p in parts), inv)
    if not small:
        return Identification(None, [], [], f"order above {IDENTIFY_LIMIT}: not identified",
                              inv)
    checked = []
    for spec, C, aliases in candidate_groups(G.order, G.is_abelian):
        if group_invariants(C) != {**inv, "order": C.order}:
            checked.append(f"{spec} (invariants differ)")
            continue
        images = find_isomorphism(C, G)
        if images is None:
            checked.append(f"{spec} (no isomorphism)")
            continue
        checked.append(spec)
        return Identification(spec, aliases, _iso_rows(C, images),
                              "isomorphism constructed and verified (homomorphism by "
                              "graph-group order, bijective by image order)", inv, checked)
    return Identification(None, [], [], "no named candidate matched", inv, checked)


def _iso_rows(C: FiniteGroup, images: list[np.ndarray]) -> list[dict[str, str]]:
    return [{"generator": format_cycles(s), "image": format_cycles(np.asarray(t))}
            for s, t in zip(C.generator_arrays, images)]


def check_isomorphism(C: FiniteGroup, D: FiniteGroup, images: list[np.ndarray]) -> None:
    """Raise :class:`~metasym.errors.MetasymError` unless ``s_j -> images[j]`` is an
    isomorphism ``C -> D`` (images must lie in ``D``)."""
    if not all(D.contains(t) for t in images):
        raise MetasymError("an image is not an element of the target group")
    if C.order != D.order or not _verify(C, D, images):
        raise MetasymError("the images do not define an isomorphism")
