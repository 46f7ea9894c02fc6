r"""The symmetry group a sharing pattern actually has: colour-preserving automorphisms of
its coloured bipartite graph, found generator by generator (never listing elements).

For an ``m x n`` label matrix :math:`L` (``-1`` = fixed zero) the group is

.. math:: \mathrm{Aut}(L) = \{(\sigma_Y, \sigma_X) \in \mathrm{Sym}(Y) \times \mathrm{Sym}(X)
          : L_{\sigma_Y(y), \sigma_X(x)} = L_{y, x} \ \forall y, x\},

every permutation pair that keeps each parameter id (and each fixed zero) in place. It
is returned as a permutation group on the disjoint union :math:`Y \sqcup X`, **outputs
first**: point ``y`` is output ``y`` (``0 <= y < m``), point ``m + x`` is input ``x``.

Algorithm (individualisation-refinement with a stabiliser chain, as in nauty/bliss but
plain NumPy): colour refinement (1-dimensional Weisfeiler-Leman on the edge-coloured
complete bipartite graph, ``-1`` being one more edge colour) gives an equitable partition;
a base :math:`b_1, b_2, \dots` is chosen by individualising the first vertex of the first
non-singleton cell until the partition is discrete. Then, from the deepest level up, for
each vertex ``w`` of the cell of :math:`b_i` that is not yet in the orbit of :math:`b_i`
under the group found so far, one automorphism fixing :math:`b_1..b_{i-1}` and sending
:math:`b_i \mapsto w` is searched for (refine, try the cell-by-cell bijection, else branch);
a failed ``w`` rules out its whole orbit. Each level's basic orbit is therefore exact and
:math:`|\mathrm{Aut}| = \prod_i |\Delta_i|`; the generators found form a strong generating
set. Huge groups (``Sym(Y) x Sym(X)`` for a pattern with one parameter) cost one search
per base point.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from metasym._limits import time_limit
from metasym.errors import MismatchError
from metasym.groups import FiniteGroup, GroupAction
from metasym.groups._perm import format_cycles, inverse
from metasym.representations import SharingPattern, pair_orbit_labels

__all__ = [
    "DiscoveredSymmetry",
    "automorphism_group",
    "pattern_graph",
    "compare_groups",
    "reference_image",
    "verify_with_sympy",
]


def pattern_graph(pattern: SharingPattern | np.ndarray) -> nx.Graph:
    """The coloured bipartite graph of a pattern: nodes ``("out", y)`` and ``("in", x)``
    (attribute ``side``), an edge per supported entry with attribute ``label`` (its
    parameter id). Isolated nodes are rows/columns entirely outside the support."""
    labels = _labels(pattern)
    m, n = labels.shape
    g = nx.Graph()
    g.add_nodes_from((("out", y) for y in range(m)), side="out")
    g.add_nodes_from((("in", x) for x in range(n)), side="in")
    ys, xs = np.nonzero(labels >= 0)
    g.add_edges_from((("out", int(y)), ("in", int(x)), {"label": int(labels[y, x])})
                     for y, x in zip(ys, xs))
    return g


def _labels(pattern: SharingPattern | np.ndarray) -> np.ndarray:
    if isinstance(pattern, SharingPattern):
        return pattern.labels
    return SharingPattern(np.asarray(pattern)).labels


# ----- colour refinement --------------------------------------------------------------
def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64 finaliser on uint64 arrays (wrapping arithmetic): a fixed hash."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


class _Refiner:
    """Joint colour refinement of several colourings of the same pattern graph.

    A colouring is an int64 array over the ``m + n`` points. A point's new colour is a
    hash of its old colour and of the multiset of (edge colour, neighbour colour) pairs
    over the other side (a sum of hashed pairs: no sorting). Any fixed function of that
    signature is invariant under automorphisms, so a hash collision could only make the
    partition coarser (less pruning), never wrong: every automorphism the search returns
    is checked entry by entry anyway.

    Refining a batch uses one hash-to-colour table for all its members, so equal colours
    mean the same thing in each: two colourings are *compatible* (an isomorphism may map
    one onto the other) only if every colour class has the same size in both.
    """

    def __init__(self, labels: np.ndarray) -> None:
        # edge colours >= 0 (0 = fixed zero), pre-hashed once
        self.L = labels.astype(np.uint64) + np.uint64(1)
        self.LT = np.ascontiguousarray(self.L.T)
        self.m, self.n = labels.shape
        self.refinements = 0

    def _signature(self, own: np.ndarray, other: np.ndarray, L: np.ndarray) -> np.ndarray:
        pair = _mix(L * np.uint64(0x100000001B3) + _mix(other.astype(np.uint64))[None, :])
        return _mix(pair.sum(axis=1, dtype=np.uint64) ^ _mix(own.astype(np.uint64)
                                                            + np.uint64(0x5851F42D)))

    def refine(self, cols: list[np.ndarray]) -> list[np.ndarray] | None:
        m, n = self.m, self.n
        cur = [np.asarray(c, dtype=np.int64) for c in cols]
        n_cells = len(np.unique(cur[0]))
        while True:
            self.refinements += 1
            hy = np.concatenate([self._signature(c[:m], c[m:], self.L) for c in cur])
            hx = np.concatenate([self._signature(c[m:], c[:m], self.LT) for c in cur])
            _, iy = np.unique(hy, return_inverse=True)
            _, ix = np.unique(hx, return_inverse=True)
            iy, ix = iy.reshape(-1), ix.reshape(-1)
            off = int(iy.max()) + 1 if m else 0
            new = [np.concatenate([iy[j * m:(j + 1) * m], ix[j * n:(j + 1) * n] + off])
                   for j in range(len(cur))]
            hist0 = np.bincount(new[0], minlength=off + int(ix.max()) + 1)
            for c in new[1:]:
                if not np.array_equal(np.bincount(c, minlength=hist0.size), hist0):
                    return None
            cells = int(np.count_nonzero(hist0))
            cur = new
            if cells == n_cells:
                return cur
            n_cells = cells


def _individualise(c: np.ndarray, v: int) -> np.ndarray:
    out = c.copy()
    out[v] = int(c.max()) + 1
    return out


def _target_cell(c: np.ndarray) -> tuple[int, np.ndarray] | None:
    """The first non-singleton cell (smallest colour id) and its points, or None."""
    counts = np.bincount(c)
    big = np.flatnonzero(counts > 1)
    if big.size == 0:
        return None
    colour = int(big[0])
    return colour, np.flatnonzero(c == colour)


class _Search:
    def __init__(self, labels: np.ndarray) -> None:
        self.labels = labels
        self.m, self.n = labels.shape
        self.ref = _Refiner(labels)
        self.nodes = 0

    def is_aut(self, perm: np.ndarray) -> bool:
        m = self.m
        # colours never mix outputs and inputs, so perm maps Y to Y and X to X
        sy, sx = perm[:m], perm[m:] - m
        return bool(np.array_equal(self.labels[np.ix_(sy, sx)], self.labels))

    def find(self, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
        """An automorphism mapping colouring ``a`` onto ``b`` (refined, compatible)."""
        self.nodes += 1
        # the cell-by-cell bijection in point order: succeeds at once when all cells are
        # interchangeable (e.g. Sym(Y) x Sym(X)), so huge groups cost no branching
        oa, ob = np.argsort(a, kind="stable"), np.argsort(b, kind="stable")
        perm = np.empty_like(oa)
        perm[oa] = ob
        if self.is_aut(perm):
            return perm
        tc = _target_cell(a)
        if tc is None:
            return None
        colour, cell_a = tc
        v = int(cell_a[0])
        a2 = _individualise(a, v)
        for w in np.flatnonzero(b == colour):
            pair = self.ref.refine([a2, _individualise(b, int(w))])
            if pair is None:
                continue
            found = self.find(*pair)
            if found is not None:
                return found
        return None


def _orbit(point: int, gens: list[np.ndarray]) -> np.ndarray:
    seen = {point}
    queue = [point]
    while queue:
        p = queue.pop()
        for g in gens:
            q = int(g[p])
            if q not in seen:
                seen.add(q)
                queue.append(q)
    return np.fromiter(sorted(seen), dtype=np.int64)


@dataclass(frozen=True)
class _Level:
    base_point: int
    transversal: dict[int, np.ndarray]  # orbit point u -> element t with t(base) = u


@dataclass(eq=False)
class DiscoveredSymmetry:
    r"""The automorphism group of a sharing pattern, with a stabiliser chain.

    Attributes
    ----------
    pattern
        The pattern (``m x n``).
    group
        :class:`~metasym.groups.FiniteGroup` on the ``m + n`` points of
        :math:`Y \sqcup X`, outputs first (point ``m + x`` is input ``x``); its order is
        known from the chain (no Schreier-Sims needed).
    out_action, in_action
        Its projections to :math:`\mathrm{Sym}(Y)` and :math:`\mathrm{Sym}(X)`, as
        :class:`~metasym.groups.GroupAction` objects.
    base, basic_orbit_sizes
        The base :math:`b_1, \dots` and the sizes :math:`|\Delta_i|`; the order is their
        product.
    strong_generators
        Image arrays on ``m + n`` points (the group's generators).
    explained
        Whether each parameter's entries form a single orbit of the group on pairs, i.e.
        the group alone reproduces the pattern (False for a valid convolution: its
        sharing comes from partial symmetries, see :mod:`metasym.discovery.partial`).
    stats
        Search statistics: ``seconds``, ``search_nodes``, ``refinements``.
    """

    pattern: SharingPattern
    group: FiniteGroup
    out_action: GroupAction
    in_action: GroupAction
    base: tuple[int, ...]
    basic_orbit_sizes: tuple[int, ...]
    strong_generators: tuple[np.ndarray, ...]
    levels: tuple[_Level, ...] = field(repr=False)
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def order(self) -> int:
        return math.prod(self.basic_orbit_sizes)

    @property
    def shape(self) -> tuple[int, int]:
        return self.pattern.shape

    def generator_pairs(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Generators as pairs ``(sigma_Y, sigma_X)`` of image arrays."""
        m = self.shape[0]
        return [(g[:m].copy(), g[m:] - m) for g in self.strong_generators]

    def contains(self, perm: np.ndarray | tuple[np.ndarray, np.ndarray]) -> bool:
        """Whether a permutation of the ``m + n`` points (or a pair ``(sigma_Y,
        sigma_X)``) is in the group: sifted through the stabiliser chain."""
        m, n = self.shape
        if isinstance(perm, tuple):
            g = np.concatenate([np.asarray(perm[0]), np.asarray(perm[1]) + m]).astype(np.int64)
        else:
            g = np.asarray(perm, dtype=np.int64)
        if g.shape != (m + n,):
            raise MismatchError(f"expected a permutation of {m + n} points, got shape {g.shape}")
        for lev in self.levels:
            t = lev.transversal.get(int(g[lev.base_point]))
            if t is None:
                return False
            g = inverse(t)[g]  # t^{-1} g fixes the base point
        return bool(np.array_equal(g, np.arange(m + n)))

    @property
    def explained(self) -> bool:
        lab = self.pattern.labels
        orbits = pair_orbit_labels(self.in_action.generator_images,
                                   self.out_action.generator_images)
        orbits = np.where(lab >= 0, orbits, -1)
        return SharingPattern(orbits) == self.pattern

    def generator_strings(self) -> list[dict[str, str]]:
        """Generators in cycle notation, per side."""
        return [{"out": format_cycles(sy), "in": format_cycles(sx)}
                for sy, sx in self.generator_pairs()]


def automorphism_group(pattern: SharingPattern | np.ndarray, *,
                       seconds: float | None = None) -> DiscoveredSymmetry:
    r"""Generators and order of the colour-preserving automorphism group of a pattern.

    Parameters
    ----------
    pattern
        A :class:`~metasym.representations.SharingPattern` or an ``(m, n)`` label array.
    seconds
        Time limit of the search (default ``METASYM_TIME_LIMIT`` or 60 s); past it a
        :class:`~metasym.errors.TooLargeError` is raised.

    Returns
    -------
    DiscoveredSymmetry

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> from metasym.representations import sharing_pattern
    >>> P = sharing_pattern(natural(cyclic(5)), natural(cyclic(5)))
    >>> automorphism_group(P).order
    5
    >>> import numpy as np
    >>> automorphism_group(np.zeros((3, 4), dtype=int)).order   # Sym(3) x Sym(4)
    144
    """
    if not isinstance(pattern, SharingPattern):
        pattern = SharingPattern(np.asarray(pattern))
    labels = pattern.labels
    m, n = labels.shape
    t0 = time.perf_counter()
    with time_limit(f"searching the automorphisms of a {m}x{n} pattern", seconds):
        search = _Search(labels)
        root = search.ref.refine([np.concatenate([np.zeros(m, np.int64), np.ones(n, np.int64)])])
        assert root is not None
        # the base: individualise the first point of the first non-singleton cell until
        # the partition is discrete; remember each level's partition and target cell
        path: list[tuple[int, np.ndarray, np.ndarray]] = []
        c = root[0]
        while (tc := _target_cell(c)) is not None:
            colour, cell = tc
            b = int(cell[0])
            path.append((b, c, cell))
            c = search.ref.refine([_individualise(c, b)])[0]
        gens_at: list[list[np.ndarray]] = [[] for _ in path]
        for i in range(len(path) - 1, -1, -1):
            b, ci, cell = path[i]
            a0 = _individualise(ci, b)
            deeper = [g for lev in gens_at[i:] for g in lev]
            orbit = set(_orbit(b, deeper).tolist())
            failed: set[int] = set()
            for w in cell.tolist():
                if w in orbit or w in failed:
                    continue
                # both sides refined together from the same partition: shared colour ids
                pair = search.ref.refine([a0, _individualise(ci, w)])
                g = None if pair is None else search.find(*pair)
                if g is None:
                    # reachable images form unions of orbits of the group found so far
                    failed.update(_orbit(w, deeper).tolist())
                    continue
                gens_at[i].append(g)
                deeper.append(g)
                orbit = set(_orbit(b, deeper).tolist())
    strong = [g for lev in gens_at for g in lev]
    # transversals (Schreier trees) for membership tests, from the deepest level's gens up
    levels = []
    for i, (b, _, _) in enumerate(path):
        gens = [g for lev in gens_at[i:] for g in lev]
        trans = {b: np.arange(m + n, dtype=np.int64)}
        queue = [b]
        while queue:
            p = queue.pop()
            for g in gens:
                q = int(g[p])
                if q not in trans:
                    trans[q] = g[trans[p]]  # g ∘ t_p maps b to q
                    queue.append(q)
        levels.append(_Level(b, trans))
    sizes = tuple(len(lev.transversal) for lev in levels)
    order = math.prod(sizes)
    group = FiniteGroup(strong, m + n, order=order)
    out_images = [g[:m] for g in group.generator_arrays]
    in_images = [g[m:] - m for g in group.generator_arrays]
    out_action = GroupAction(group, out_images, degree=m, validate=False)
    in_action = GroupAction(group, in_images, degree=n, validate=False)
    stats = {"seconds": time.perf_counter() - t0, "search_nodes": search.nodes,
             "refinements": search.ref.refinements}
    return DiscoveredSymmetry(pattern, group, out_action, in_action,
                              tuple(b for b, _, _ in path), sizes,
                              tuple(np.asarray(g) for g in group.generator_arrays),
                              tuple(levels), stats)


def verify_with_sympy(found: DiscoveredSymmetry, seconds: float | None = None) -> bool:
    """Close the base and strong generating set under sympy's Schreier-Sims and check that
    it gives the same order (an independent check of the search)."""
    from sympy.combinatorics import Permutation, PermutationGroup
    from sympy.combinatorics.util import _distribute_gens_by_base, _orbits_transversals_from_bsgs

    if not found.strong_generators:
        return found.order == 1
    gens = [Permutation(g.tolist()) for g in found.strong_generators]
    with time_limit("verifying the automorphism group with sympy", seconds):
        base, strong = PermutationGroup(gens).schreier_sims_incremental(
            base=list(found.base), gens=gens)
        dist = _distribute_gens_by_base(base, strong)
        trans = _orbits_transversals_from_bsgs(base, dist, transversals_only=True)
    return math.prod(len(t) for t in trans) == found.order


# ----- comparison with a reference group ----------------------------------------------
def reference_image(in_action: GroupAction, out_action: GroupAction) -> FiniteGroup:
    r"""The image of a group in :math:`\mathrm{Sym}(Y) \times \mathrm{Sym}(X)` (outputs
    first): generated by :math:`(\pi_Y(s), \pi_X(s))` for the group's generators ``s``."""
    if in_action.group != out_action.group:
        raise MismatchError(f"actions of different groups: {in_action.group.spec} and "
                            f"{out_action.group.spec}")
    m = out_action.degree
    gens = [np.concatenate([a, b + m]) for a, b in zip(out_action.generator_images,
                                                        in_action.generator_images)]
    return FiniteGroup(gens, m + in_action.degree)


def compare_groups(found: DiscoveredSymmetry, in_action: GroupAction,
                   out_action: GroupAction) -> str:
    r"""How the discovered group relates to a reference group acting on the same indices.

    The reference is mapped into :math:`\mathrm{Sym}(Y) \times \mathrm{Sym}(X)` through
    its action images (:func:`reference_image`); both are then permutation groups on the
    same ``m + n`` points.

    Returns
    -------
    str
        ``"equal"``, ``"subgroup"`` (the found group is a proper subgroup of the
        reference image), ``"supergroup"`` (it properly contains it) or
        ``"incomparable"``.
    """
    if not isinstance(found, DiscoveredSymmetry):
        raise TypeError(f"found must be a DiscoveredSymmetry, got {type(found).__name__}")
    for name, a in (("in_action", in_action), ("out_action", out_action)):
        if not isinstance(a, GroupAction):
            raise TypeError(f"{name} must be a GroupAction, got {type(a).__name__}")
    m, n = found.shape
    if (out_action.degree, in_action.degree) != (m, n):
        raise MismatchError(f"reference acts on {out_action.degree} outputs and "
                            f"{in_action.degree} inputs; the pattern is {m} x {n}")
    ref = reference_image(in_action, out_action)
    ref_in_found = all(found.contains(g) for g in ref.generator_arrays)
    found_in_ref = all(ref.contains(g) for g in found.strong_generators)
    if ref_in_found and found_in_ref:
        return "equal"
    if found_in_ref:
        return "subgroup"
    if ref_in_found:
        return "supergroup"
    return "incomparable"
