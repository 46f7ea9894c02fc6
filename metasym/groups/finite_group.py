"""Finite permutation groups as immutable value objects."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from functools import cached_property

import networkx as nx
import numpy as np
from sympy.combinatorics import Permutation, PermutationGroup

from metasym._limits import time_limit
from metasym.errors import MismatchError, SpecError, TooLargeError
from metasym.groups._perm import (
    as_array,
    bfs_enumerate,
    format_cycles,
    inverse,
    permutation_orders,
)

__all__ = ["FiniteGroup", "ELEMENT_LIMIT", "CONJUGACY_LIMIT", "DEGREE_LIMIT",
           "GENERATOR_CELLS", "format_order"]

#: Largest number of points of a group built by any public constructor or spec. Measured
#: on a 2-core machine: ``symmetric(10**6)`` builds in about 0.1 s and ``metasym group
#: rotoflips:1000`` (10^6 points, with element orders and conjugacy classes) finishes in
#: a few seconds using well under 1 GB.
DEGREE_LIMIT = 1_000_000
#: Largest ``n_generators * degree`` stored for one group (int64 entries: 800 MB).
GENERATOR_CELLS = 100_000_000
#: Orders above ``10**ORDER_DIGITS`` are printed in scientific notation (or as ``n!``),
#: never converted to decimal digits in full.
ORDER_DIGITS = 50

#: Largest order for which :meth:`FiniteGroup.elements` (and everything that sums over the
#: group, such as Burnside counts) will enumerate the group.
ELEMENT_LIMIT = 100_000
#: Largest value of ``order * degree`` that enumeration may hold in memory (int64 entries).
ENUMERATION_CELLS = 50_000_000
#: Largest order for which conjugacy classes are computed.
CONJUGACY_LIMIT = 20_000


class FiniteGroup:
    r"""A finite group given by generating permutations of ``{0, ..., degree-1}``.

    The group is the defining (faithful) permutation representation it is built from; it
    wraps :class:`sympy.combinatorics.PermutationGroup` for order, membership and
    Schreier-Sims, and exposes numpy image arrays for fast work.

    **Convention.** Elements are permutations ``g`` with ``g(x)`` the image of ``x``. The
    product is composition of functions, :math:`(gh)(x) = g(h(x))` (apply ``h`` first).
    sympy's ``p*q`` applies ``p`` first, so ``G.product(g, h) == h * g`` in sympy terms.
    With this product every action below is a *left* action,
    :math:`\rho(gh) = \rho(g)\rho(h)`.

    Equality and hashing are structural: same degree and the same generator list.

    Parameters
    ----------
    generators
        Generating permutations (sympy ``Permutation`` or image lists). Identity
        generators are dropped; an empty list gives the trivial group.
    degree
        Number of points acted on.
    name
        Spec string of the group (see :func:`metasym.groups.parse_group`); derived from
        the generators when omitted.

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> G = cyclic(4)
    >>> G.order, G.degree, G.is_abelian
    (4, 4, True)
    >>> G.spec
    'cyclic:4'
    """

    __slots__ = ("_degree", "_gens", "_name", "_known_order", "__dict__")

    def __init__(self, generators: Sequence[Permutation | Sequence[int]], degree: int,
                 name: str | None = None, *, order: int | None = None,
                 alt_sym: str | None = None,
                 factors: Sequence[FiniteGroup] = ()) -> None:
        if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)) or degree < 1:
            raise SpecError(f"degree must be a positive integer, got {degree!r}")
        if degree > DEGREE_LIMIT:
            raise TooLargeError(f"a group on {degree} points exceeds the limit of "
                                f"{DEGREE_LIMIT} points")
        if isinstance(generators, (str, bytes)) or not hasattr(generators, "__iter__"):
            raise TypeError("generators must be a sequence of permutations, got "
                            f"{type(generators).__name__}")
        if hasattr(generators, "__len__") and len(generators) * int(degree) > GENERATOR_CELLS:
            raise TooLargeError(f"{len(generators)} generators on {degree} points exceed the "
                                f"limit of {GENERATOR_CELLS} stored entries")
        if order is not None and (isinstance(order, bool)
                                  or not isinstance(order, (int, np.integer)) or order < 1):
            raise SpecError(f"order must be a positive integer, got {order!r}")
        if alt_sym not in (None, "symmetric", "alternating"):
            raise SpecError(f"alt_sym must be None, 'symmetric' or 'alternating', got {alt_sym!r}")
        # identity generators add nothing and would make specs ambiguous: dropped
        arrays = tuple(a for a in (as_array(g, int(degree)) for g in generators)
                       if not np.array_equal(a, np.arange(int(degree))))
        self._degree = int(degree)
        # int64 image bytes: cheap to hash and compare even at degree 10^6
        self._gens = tuple(np.ascontiguousarray(a, dtype=np.int64).tobytes() for a in arrays)
        if name is None:
            name = "perm:{}:{}".format(self._degree,
                                       ";".join(format_cycles(a) for a in arrays) or "()")
        self._name = name
        # named constructors know their order; it spares Schreier-Sims on big groups
        self._known_order = None if order is None else int(order)
        # named constructors of S_n / A_n certify it: the order n! (or n!/2) is then
        # computed only when asked for (10^6! takes seconds and has 5.5 million digits)
        self._kind = alt_sym
        # a direct product's order is the product of its factors' (computed lazily)
        self._factors = tuple(factors)

    # ----- identity -------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """Spec string; ``parse_group(G.spec) == G``."""
        return self._name

    @property
    def degree(self) -> int:
        """Number of points of the defining permutation representation."""
        return self._degree

    @cached_property
    def generator_arrays(self) -> np.ndarray:
        """Generators as an ``(n_generators, degree)`` int64 array of images (read-only)."""
        arr = np.frombuffer(b"".join(self._gens), dtype=np.int64).reshape(
            len(self._gens), self._degree).copy()
        arr.setflags(write=False)
        return arr

    @cached_property
    def generators(self) -> tuple[Permutation, ...]:
        """Generators as sympy permutations."""
        return tuple(Permutation(g.tolist()) for g in self.generator_arrays)

    @property
    def n_generators(self) -> int:
        return len(self._gens)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, FiniteGroup) and self._degree == other._degree
                and self._gens == other._gens)

    def __hash__(self) -> int:
        return hash((self._degree, self._gens))

    def __repr__(self) -> str:
        return (f"FiniteGroup({_short(self._name)!r}, order={self.order_text}, "
                f"degree={self._degree})")

    def __reduce__(self):
        return (_rebuild_group, (self.generator_arrays.tolist(), self._degree, self._name,
                                 self._known_order, self._kind, self._factors))

    # ----- sympy-backed structure -----------------------------------------------------
    @cached_property
    def sympy_group(self) -> PermutationGroup:
        """The underlying :class:`sympy.combinatorics.PermutationGroup`."""
        gens = list(self.generators) or [Permutation(self._degree - 1)]
        return PermutationGroup(gens)

    @cached_property
    def order(self) -> int:
        """:math:`|G|`: known for named groups; otherwise the symmetric or alternating
        group is recognised first (sympy's one-sided Monte Carlo test, whose "yes" is
        certain), else Schreier-Sims (stopped with an error past the time limit)."""
        if self._known_order is not None:
            return self._known_order
        if self._kind is not None:
            return math.factorial(self._degree) // (2 if self._kind == "alternating" else 1)
        if self._factors:
            return math.prod(f.order for f in self._factors)
        if self.alt_sym is not None:
            return math.factorial(self._degree) // (2 if self.alt_sym == "alternating" else 1)
        on_support = self._alt_sym_on_support()
        if on_support is not None:
            return on_support
        with time_limit(f"computing the order of {_short(self._name)}"):
            return int(self.sympy_group.order())

    @cached_property
    def log10_order(self) -> float:
        r""":math:`\log_{10} |G|`, without computing :math:`|G|` for a named
        :math:`S_n` / :math:`A_n` (from :math:`\ln \Gamma(n+1)`)."""
        if self._kind is not None and self._known_order is None:
            lg = math.lgamma(self._degree + 1) / math.log(10)
            return lg - (math.log10(2) if self._kind == "alternating" and self._degree > 1
                         else 0.0)
        if self._factors and self._known_order is None:
            return math.fsum(f.log10_order for f in self._factors)
        return _log10_int(self.order)

    def order_exceeds(self, limit: int) -> bool:
        """Whether the order exceeds ``limit``; cheap for huge named groups."""
        if (self._kind is not None or self._factors) and self._known_order is None:
            bound = math.log10(max(limit, 1))
            if self.log10_order > bound + 1:
                return True
            if self.log10_order < bound - 1:
                return False
        return self.order > limit

    @property
    def order_text(self) -> str:
        """The order for people: decimal up to 10^50, else ``n!`` (for S_n / A_n) or
        scientific notation; never formats a huge integer in full."""
        return format_order(self)

    def _alt_sym_on_support(self) -> int | None:
        """Order when the group is all of Sym/Alt of the points it moves (they form one
        orbit); cheap to recognise, while Schreier-Sims on such groups can take minutes."""
        g = self.generator_arrays
        if not len(g):
            return None
        moved = np.flatnonzero((g != np.arange(self._degree)).any(axis=0))
        if moved.size < 8 or moved.size == self._degree:
            return None
        relabel = np.full(self._degree, -1, dtype=np.int64)
        relabel[moved] = np.arange(moved.size)
        restricted = FiniteGroup([relabel[a[moved]] for a in g], int(moved.size))
        kind = restricted.alt_sym
        if kind is None:
            return None
        return math.factorial(int(moved.size)) // (2 if kind == "alternating" else 1)

    @cached_property
    def alt_sym(self) -> str | None:
        """``"symmetric"`` or ``"alternating"`` when the group is all of
        :math:`S_n` / :math:`A_n` on its points (certain), else ``None``."""
        n = self._degree
        if self._kind is not None:
            return self._kind
        if self._factors and self._known_order is None:
            return None  # a product of two or more non-trivial factors is not S_n / A_n
        if self._known_order is not None:
            # compare sizes before computing n! (seconds for n = 10^6)
            if abs(_log10_int(self._known_order) - math.lgamma(n + 1) / math.log(10)) > 1:
                return None
            full = math.factorial(n)
            if self._known_order == full:
                return "symmetric"
            if n > 2 and 2 * self._known_order == full:
                return "alternating"
            return None
        if n < 8 or not self._gens:
            return None
        with time_limit(f"recognising {_short(self._name)} as Sym/Alt"):
            if not self.sympy_group.is_alt_sym():
                return None
        odd = any(Permutation(g.tolist()).is_odd for g in self.generator_arrays)
        return "symmetric" if odd else "alternating"

    @cached_property
    def is_abelian(self) -> bool:
        """Whether all generators commute (which decides commutativity of the group)."""
        g = self.generator_arrays
        return all(np.array_equal(g[i][g[j]], g[j][g[i]])
                   for i in range(len(g)) for j in range(i + 1, len(g)))

    @cached_property
    def identity(self) -> Permutation:
        return Permutation(self._degree - 1)

    def product(self, g: Permutation, h: Permutation) -> Permutation:
        """:math:`gh`, the map ``x -> g(h(x))`` (apply ``h`` first)."""
        return h * g

    def inverse(self, g: Permutation) -> Permutation:
        """:math:`g^{-1}`."""
        return ~g

    def contains(self, g: Permutation | Sequence[int]) -> bool:
        """Whether ``g`` is an element of the group (sympy's sifting)."""
        arr = as_array(g, self._degree)
        perm = Permutation(arr.tolist())
        if self.alt_sym == "symmetric":
            return True
        if self.alt_sym == "alternating":
            return perm.is_even
        with time_limit(f"testing membership in {_short(self._name)}"):
            return bool(self.sympy_group.contains(perm))

    def is_subgroup_of(self, other: FiniteGroup) -> bool:
        """Whether every element of this group lies in ``other`` (same points)."""
        if other.degree != self._degree:
            raise MismatchError(f"degrees differ: {self._degree} vs {other.degree}")
        return all(other.contains(g) for g in self.generator_arrays)

    def same_elements(self, other: FiniteGroup) -> bool:
        """Whether both groups are the same set of permutations (generators may differ)."""
        return (other.degree == self._degree and self.order == other.order
                and self.is_subgroup_of(other))

    # ----- enumeration (refuses large groups) -----------------------------------------
    def check_enumerable(self, what: str = "this operation", extra_degree: int = 0) -> None:
        """Raise :class:`TooLargeError` if enumerating the group would pass the limits."""
        if self.order_exceeds(ELEMENT_LIMIT):
            raise TooLargeError(
                f"{what} must list all {self.order_text} elements of {_short(self._name)}, "
                f"above the limit of {ELEMENT_LIMIT} elements; use generator-based methods "
                "(sharing patterns, orders) instead")
        cells = self.order * (self._degree + extra_degree)
        if cells > ENUMERATION_CELLS:
            raise TooLargeError(
                f"{what} must hold {self.order} elements x {self._degree + extra_degree} "
                f"points = {cells} entries, above the limit of {ENUMERATION_CELLS}; use "
                "generator-based methods (sharing patterns, orders) instead")

    @cached_property
    def element_arrays(self) -> np.ndarray:
        """All elements as an ``(order, degree)`` array, identity first, in breadth-first
        order of the Cayley graph (from each element, left-multiply by each generator in
        turn). Refuses above :data:`ELEMENT_LIMIT`.
        """
        self.check_enumerable("listing the elements")
        with time_limit(f"listing the elements of {_short(self._name)}"):
            arr = bfs_enumerate(self.generator_arrays, self._degree, self.order)
        arr.setflags(write=False)
        return arr

    def elements(self) -> tuple[Permutation, ...]:
        """All elements as sympy permutations, in the order of :attr:`element_arrays`."""
        return tuple(Permutation(list(map(int, a))) for a in self.element_arrays)

    @cached_property
    def _element_index(self) -> dict[bytes, int]:
        return {a.tobytes(): i for i, a in enumerate(self.element_arrays)}

    def element_index(self, g: Permutation | Sequence[int] | np.ndarray) -> int:
        """Position of ``g`` in :attr:`element_arrays`."""
        key = as_array(g, self._degree).tobytes()
        try:
            return self._element_index[key]
        except KeyError:
            raise MismatchError(f"{format_cycles(as_array(g))} is not an element of {self._name}") from None

    def element_orders(self) -> np.ndarray:
        r"""Order of each element of :attr:`element_arrays` (lcm of its cycle lengths),
        computed from the cycle structure with numpy in :math:`O(|G|\, d \log d)`."""
        elems = self.element_arrays
        with time_limit(f"computing element orders of {_short(self._name)}"):
            return permutation_orders(elems)

    def element_order_histogram(self) -> dict[int, int]:
        """``{element order: number of elements of that order}``."""
        return dict(sorted(Counter(self.element_orders().tolist()).items()))

    @cached_property
    def conjugacy_class_indices(self) -> tuple[tuple[int, ...], ...]:
        """Conjugacy classes as tuples of indices into :attr:`element_arrays`.

        Each class is the orbit of an element under conjugation by the generators
        (closing under generators suffices), found by breadth-first search:
        :math:`O(|G| \\cdot \\#\\text{generators})` compositions. The class of the identity
        comes first; classes are ordered by their first element.
        """
        if self.order_exceeds(CONJUGACY_LIMIT):
            raise TooLargeError(f"conjugacy classes are computed for groups of order at most "
                                f"{CONJUGACY_LIMIT}; {_short(self._name)} has order "
                                f"{self.order_text}")
        elems = self.element_arrays
        with time_limit(f"computing conjugacy classes of {_short(self._name)}"):
            return self._conjugacy_classes(elems)

    def _conjugacy_classes(self, elems: np.ndarray) -> tuple[tuple[int, ...], ...]:
        index = self._element_index
        gens = [(g, inverse(g)) for g in self.generator_arrays]
        cls = np.full(len(elems), -1, dtype=np.int64)
        classes: list[tuple[int, ...]] = []
        for start in range(len(elems)):
            if cls[start] >= 0:
                continue
            cid = len(classes)
            cls[start] = cid
            members, queue = [start], [start]
            while queue:
                x = elems[queue.pop()]
                for g, gi in gens:
                    j = index[g[x[gi]].tobytes()]  # g x g^{-1}
                    if cls[j] < 0:
                        cls[j] = cid
                        members.append(j)
                        queue.append(j)
            classes.append(tuple(sorted(members)))
        return tuple(classes)

    def conjugacy_classes(self) -> tuple[tuple[Permutation, ...], ...]:
        """Conjugacy classes as tuples of sympy permutations."""
        elems = self.elements()
        return tuple(tuple(elems[i] for i in c) for c in self.conjugacy_class_indices)

    def cayley_graph(self) -> nx.DiGraph:
        """Right Cayley graph: a node per element (``0..order-1`` in the order of
        :attr:`element_arrays`, attribute ``perm`` in cycle notation), an edge
        :math:`g \\to g s` for each generator ``s``, with attributes ``generator`` (its
        index) and ``label`` (its cycle notation). Left multiplication acts on this
        graph by automorphisms.
        """
        elems = self.element_arrays
        with time_limit(f"building the Cayley graph of {_short(self._name)}"):
            return self._cayley_graph(elems)

    def _cayley_graph(self, elems: np.ndarray) -> nx.DiGraph:
        index = self._element_index
        graph = nx.DiGraph(name=self._name)
        for i, a in enumerate(elems):
            graph.add_node(i, perm=format_cycles(a))
        for gi, s in enumerate(self.generator_arrays):
            label = format_cycles(s)
            for i, a in enumerate(elems):
                j = index[a[s].tobytes()]  # g s: apply s first, then g
                if graph.has_edge(i, j):
                    graph.edges[i, j]["generator"] = f"{graph.edges[i, j]['generator']},{gi}"
                    graph.edges[i, j]["label"] += "," + label
                else:
                    graph.add_edge(i, j, generator=str(gi), label=label)
        return graph


def _short(text: str, limit: int = 80) -> str:
    """A spec shortened for messages."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _log10_int(n: int) -> float:
    """log10 of a positive integer of any size (no decimal conversion)."""
    n = int(n)
    if n.bit_length() < 1000:
        return math.log10(n)
    shift = n.bit_length() - 64
    return math.log10(n >> shift) + shift * math.log10(2)


def format_order(group: FiniteGroup) -> str:
    """A group's order as text: decimal up to ``10**ORDER_DIGITS``; above, ``n!`` /
    ``n!/2`` for a named symmetric / alternating group, else ``about 1.23e+456``."""
    lg = group.log10_order
    if lg < ORDER_DIGITS:
        return str(group.order)
    kind = group._kind or (group.alt_sym if group._known_order is not None else None)
    mant = 10 ** (lg - math.floor(lg))
    sci = f"{mant:.2f}e+{int(math.floor(lg))}"
    if kind == "symmetric":
        return f"{group.degree}! (about {sci})"
    if kind == "alternating":
        return f"{group.degree}!/2 (about {sci})"
    return f"about {sci}"


def _rebuild_group(gens, degree, name, order, kind=None, factors=()):
    return FiniteGroup(gens, degree, name, order=order, alt_sym=kind, factors=factors)
