"""Actions of finite groups on finite sets, as validated homomorphisms into Sym(X)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from sympy.combinatorics import Permutation, PermutationGroup
from sympy.combinatorics.util import _distribute_gens_by_base, _orbits_transversals_from_bsgs

from metasym._limits import time_limit
from metasym.errors import MismatchError, NotAHomomorphismError, SpecError, TooLargeError
from metasym.groups._perm import as_array, bfs_enumerate, format_cycles, inverse
from metasym.groups.finite_group import FiniteGroup

__all__ = [
    "GroupAction",
    "natural",
    "regular",
    "trivial",
    "tensor",
    "direct_sum",
    "restrict",
    "orbit_labels",
    "ACTION_DEGREE_LIMIT",
]

#: Most points of an action, and most generator-image entries (``n_generators * degree``)
#: it stores (int64: 80 MB per 10^7 entries). Tensor products reach it fast.
ACTION_DEGREE_LIMIT = 10_000_000
ACTION_CELLS = 40_000_000


def _check_size(degree: int, n_generators: int, what: str) -> None:
    if degree > ACTION_DEGREE_LIMIT or degree * max(n_generators, 1) > ACTION_CELLS:
        raise TooLargeError(f"{what} on {degree} points ({n_generators} generator images) is "
                            f"above the limit of {ACTION_DEGREE_LIMIT} points and "
                            f"{ACTION_CELLS} stored image entries")


class GroupAction:
    r"""A left action of a finite group ``G`` on ``X = {0, ..., degree-1}``.

    Given by the images :math:`\pi(s) \in \mathrm{Sym}(X)` of ``G``'s generators ``s`` (in
    the order of ``group.generators``). It defines a homomorphism exactly when the
    *graph group* :math:`\Gamma = \langle (s, \pi(s)) \rangle \le G \times \mathrm{Sym}(X)`
    has order :math:`|G|` (its projection to ``G`` is then injective); this is checked
    by Schreier-Sims, never by listing elements, and images that break a relation of
    ``G`` are rejected with :class:`~metasym.errors.NotAHomomorphismError`.

    The permutation matrix is :math:`\rho(g) e_x = e_{g\cdot x}`, so
    :math:`\rho(gh) = \rho(g)\rho(h)` in the product convention of
    :class:`~metasym.groups.FiniteGroup`.

    Parameters
    ----------
    group
        The acting group.
    images
        One permutation of ``X`` per generator of ``group``.
    name
        Spec string relative to ``group`` (see :func:`metasym.groups.parse_action`);
        ``perm:DEGREE:CYCLES;...`` when omitted.
    validate
        Check the homomorphism property (the built-in constructors skip it: they are
        homomorphisms by construction).

    Examples
    --------
    >>> from metasym.groups import cyclic, parse_action
    >>> act = parse_action("tensor(natural,natural)", cyclic(3))
    >>> act.degree, act.n_orbits
    (9, 3)
    """

    __slots__ = ("_group", "_images", "_name", "__dict__")

    def __init__(self, group: FiniteGroup, images: Sequence[Permutation | Sequence[int]],
                 name: str | None = None, *, degree: int | None = None,
                 validate: bool = True) -> None:
        if not isinstance(group, FiniteGroup):
            raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
        if isinstance(images, (str, bytes)) or not hasattr(images, "__len__"):
            raise TypeError(f"images must be a sequence of permutations, got "
                            f"{type(images).__name__}")
        if degree is not None:
            if isinstance(degree, bool) or not isinstance(degree, (int, np.integer)):
                raise TypeError(f"degree must be an integer, got {degree!r}")
            _check_size(int(degree), group.n_generators, "an action")
        if len(images) != group.n_generators:
            raise MismatchError(f"{group.spec} has {group.n_generators} generators but "
                                f"{len(images)} images were given")
        if degree is None:
            if not images:
                raise SpecError("the degree must be given for an action of a trivial group")
            degree = as_array(images[0]).size
        arrays = [as_array(p, degree) for p in images]
        if degree < 1:
            raise SpecError("an action needs at least one point")
        self._group = group
        arr = np.array(arrays, dtype=np.int64).reshape(len(arrays), degree)
        arr.setflags(write=False)
        self._images = arr
        if name is None:
            name = "perm:{}:{}".format(degree, ";".join(format_cycles(a) for a in arr) or "()")
        self._name = name
        if validate:
            self.check_homomorphism()

    # ----- value object ----------------------------------------------------------------
    @property
    def group(self) -> FiniteGroup:
        return self._group

    @property
    def degree(self) -> int:
        """:math:`|X|`."""
        return int(self._images.shape[1])

    @property
    def spec(self) -> str:
        """Spec relative to the group: ``parse_action(a.spec, a.group) == a``."""
        return self._name

    @property
    def generator_images(self) -> np.ndarray:
        """``(n_generators, degree)`` image arrays, read-only."""
        return self._images

    @cached_property
    def _key(self) -> tuple:
        return (self._group, self.degree, self._images.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GroupAction) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        return f"GroupAction({self._group.spec!r}, {self._name!r}, degree={self.degree})"

    def __reduce__(self):
        return (_rebuild_action, (self._group, self._images.tolist(), self._name, self.degree))

    def __add__(self, other: GroupAction) -> GroupAction:
        return direct_sum(self, other)

    def __mul__(self, other: GroupAction) -> GroupAction:
        return tensor(self, other)

    # ----- homomorphism ----------------------------------------------------------------
    @cached_property
    def _graph_group(self) -> tuple[list[int], list[dict[int, np.ndarray]], int]:
        """Base, transversals and order of the graph group, with base points in G's part."""
        d = self._group.degree
        gens = [Permutation(np.concatenate([g, a + d]).tolist())
                for g, a in zip(self._group.generator_arrays, self._images)]
        if not gens:
            return [], [], 1
        gamma = PermutationGroup(gens)
        try:
            with time_limit(f"checking the action {_clip(self._name)} of "
                            f"{_clip(self._group.spec)}"):
                # no prescribed base: sympy extends it by the first point a residue moves,
                # which lies in G's part (points 0..d-1) unless the residue acts only on X,
                # i.e. unless the images are not a homomorphism (then ``image`` says so).
                # Prescribing all d points made Schreier-Sims quadratic in d (2.3 GB and
                # 6 s for rotoflips:60).
                base, strong = gamma.schreier_sims_incremental()
        except MemoryError:
            raise TooLargeError(f"checking the action {_clip(self._name)} of "
                                f"{_clip(self._group.spec)} ({d + self.degree} points) ran out "
                                "of memory") from None
        dist = _distribute_gens_by_base(base, strong)
        transversals = _orbits_transversals_from_bsgs(base, dist, transversals_only=True)
        tr = [{pt: np.asarray(u.array_form, dtype=np.int64) for pt, u in t.items()}
              for t in transversals]
        order = 1
        for t in tr:
            order *= len(t)
        return list(base), tr, order

    def check_homomorphism(self) -> None:
        """Raise :class:`NotAHomomorphismError` unless the images define a homomorphism."""
        order = self._graph_group[2]
        if order != self._group.order:
            raise NotAHomomorphismError(
                f"the images break a relation of {self._group.spec}: the pairs "
                f"(generator, image) generate a group of order {order}, not {self._group.order}"
            )

    def image(self, g: Permutation | Sequence[int] | np.ndarray) -> np.ndarray:
        r"""The image :math:`\pi(g)` of any element ``g`` of the group, as an image array.

        Sifts ``g`` through a stabiliser chain of the graph group whose base lies in
        ``G``'s points (polynomial; no enumeration).
        """
        d = self._group.degree
        h = as_array(g, d)
        if self._name == "natural":
            if not self._group.contains(h):
                raise MismatchError(f"{format_cycles(h)} is not an element of {self._group.spec}")
            return h
        base, transversals, _ = self._graph_group
        acc = np.arange(d + self.degree, dtype=np.int64)
        rest = h.copy()
        for b, t in zip(base, transversals):
            if b >= d:  # the base left G's points: the kernel of Γ -> G is not trivial
                raise NotAHomomorphismError(f"{self._name} is not a homomorphism of "
                                            f"{self._group.spec}: pi(g) is not determined by g")
            u = t.get(int(rest[b]))
            if u is None:
                raise MismatchError(f"{format_cycles(h)} is not an element of {self._group.spec}")
            acc = acc[u]  # acc ∘ u
            rest = inverse(u[:d])[rest]  # u^{-1} ∘ rest
        if not np.array_equal(rest, np.arange(d)):
            raise MismatchError(f"{format_cycles(h)} is not an element of {self._group.spec}")
        return acc[d:] - d

    # ----- structure -------------------------------------------------------------------
    def element_images(self) -> np.ndarray:
        """:math:`\\pi(g)` for every element ``g``, as an ``(order, degree)`` array in the
        order of ``group.element_arrays`` (refuses large groups, like ``elements()``)."""
        G = self._group
        G.check_enumerable("listing the action's elements", extra_degree=self.degree)
        d = G.degree
        combined = np.concatenate([G.generator_arrays, self._images + d], axis=1)
        arr = bfs_enumerate(combined, d + self.degree, G.order, key_width=d)
        if len(arr) != G.order:  # only possible if the images were not a homomorphism
            raise NotAHomomorphismError(f"{self._name} is not a homomorphism of {G.spec}")
        return arr[:, d:] - d

    @cached_property
    def orbit_labels(self) -> np.ndarray:
        """Orbit id of each point (canonical: numbered by first appearance)."""
        return orbit_labels(self._images, self.degree)

    @property
    def n_orbits(self) -> int:
        return int(self.orbit_labels.max()) + 1

    @property
    def is_transitive(self) -> bool:
        return self.n_orbits == 1

    def matrices(self) -> np.ndarray:
        """Generator permutation matrices, ``(n_generators, degree, degree)`` int64, with
        ``M[s][s(x), x] = 1``."""
        n = self.degree
        out = np.zeros((len(self._images), n, n), dtype=np.int64)
        for k, a in enumerate(self._images):
            out[k, a, np.arange(n)] = 1
        return out


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _rebuild_action(group, images, name, degree):
    return GroupAction(group, images, name, degree=degree, validate=False)


def orbit_labels(images: np.ndarray, n: int) -> np.ndarray:
    """Canonical orbit labels of the points ``0..n-1`` under generator images ``(k, n)``:
    the connected components of the graph ``x -- s(x)``."""
    if len(images) == 0:
        return np.arange(n, dtype=np.int64)
    rows = np.tile(np.arange(n, dtype=np.int64), len(images))
    graph = sp.csr_matrix((np.ones(rows.size, dtype=np.int8), (rows, images.ravel())),
                          shape=(n, n))
    _, labels = connected_components(graph, directed=True, connection="weak")
    return canonical_labels(labels)


def canonical_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber labels by order of first appearance in row-major order; ``-1`` (outside a
    support) is kept. Two labelings of the same partition give equal arrays.

    >>> canonical_labels(np.array([[5, 5, -1], [2, 7, 5]])).tolist()
    [[0, 0, -1], [1, 2, 0]]
    """
    arr = np.asarray(labels)
    flat = arr.ravel().astype(np.int64, copy=False)
    valid = flat >= 0
    out = np.full(flat.shape, -1, dtype=np.int64)
    if not valid.any():
        return out.reshape(arr.shape)
    pos = np.flatnonzero(valid)
    vals = flat[pos]
    if vals.max() < 4 * vals.size:  # dense ids: O(N) first-occurrence table
        first = np.full(int(vals.max()) + 1, -1, dtype=np.int64)
        # reversed assignment: the last write wins, so each id keeps its first position
        first[vals[::-1]] = pos[::-1]
        used = np.flatnonzero(first >= 0)
        order = used[np.argsort(first[used], kind="stable")]
        rank = np.full(first.size, -1, dtype=np.int64)
        rank[order] = np.arange(order.size)
        out[pos] = rank[vals]
    else:
        uniq, firstpos, inv = np.unique(vals, return_index=True, return_inverse=True)
        rank = np.empty(len(uniq), dtype=np.int64)
        rank[np.argsort(firstpos, kind="stable")] = np.arange(len(uniq))
        out[pos] = rank[inv]
    return out.reshape(arr.shape)


# ----- built-in actions ----------------------------------------------------------------
def natural(group: FiniteGroup) -> GroupAction:
    """The defining action of ``group`` on its ``degree`` points."""
    if not isinstance(group, FiniteGroup):
        raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
    return GroupAction(group, group.generator_arrays, "natural", degree=group.degree,
                       validate=False)


def regular(group: FiniteGroup) -> GroupAction:
    r"""Left multiplication :math:`g \cdot h = gh` on the elements, indexed as in
    ``group.element_arrays`` (identity first). Degree :math:`|G|`; enumerates the group."""
    if not isinstance(group, FiniteGroup):
        raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
    G = group
    G.check_enumerable("the regular action")
    elems = G.element_arrays
    index = G._element_index
    images = [[index[s[e].tobytes()] for e in elems] for s in G.generator_arrays]
    return GroupAction(G, images, "regular", degree=G.order, validate=False)


def trivial(group: FiniteGroup, n: int = 1) -> GroupAction:
    """Every element fixes each of ``n`` points."""
    if not isinstance(group, FiniteGroup):
        raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"trivial action needs an integer number of points, got {n!r}")
    if n < 1:
        raise SpecError(f"trivial action needs a positive number of points, got {n!r}")
    _check_size(int(n), group.n_generators, f"trivial action of {group.spec}")
    ident = np.arange(int(n))
    return GroupAction(group, [ident] * group.n_generators, f"trivial:{int(n)}",
                       degree=int(n), validate=False)


def _same_group(actions: Sequence[GroupAction]) -> FiniteGroup:
    if not actions:
        raise SpecError("need at least one action")
    for a in actions:
        if not isinstance(a, GroupAction):
            raise TypeError(f"expected GroupAction arguments, got {type(a).__name__}")
    G = actions[0].group
    for a in actions[1:]:
        if a.group != G:
            raise MismatchError(f"actions of different groups: {G.spec} and {a.group.spec}")
    return G


def tensor(*actions: GroupAction) -> GroupAction:
    r"""Product action on :math:`X_1 \times \cdots \times X_k`, the tuple
    :math:`(x_1, \dots, x_k)` indexed row-major (for two: ``a * |B| + b``)."""
    G = _same_group(actions)
    if len(actions) < 2:
        raise SpecError("tensor needs at least two actions")
    _check_size(int(np.prod([a.degree for a in actions], dtype=object)), G.n_generators,
                "the tensor product")
    images = actions[0].generator_images
    degree = actions[0].degree
    for a in actions[1:]:
        # explicit width: reshape(k, -1) fails for a group without generators (k = 0)
        images = (images[:, :, None] * a.degree + a.generator_images[:, None, :]).reshape(
            len(images), degree * a.degree)
        degree *= a.degree
    name = "tensor(" + ",".join(a.spec for a in actions) + ")"
    return GroupAction(G, images, name, degree=degree, validate=False)


def direct_sum(*actions: GroupAction) -> GroupAction:
    """Action on the disjoint union; the first summand's points come first."""
    G = _same_group(actions)
    if len(actions) < 2:
        raise SpecError("sum needs at least two actions")
    _check_size(sum(a.degree for a in actions), G.n_generators, "the direct sum")
    parts, offset = [], 0
    for a in actions:
        parts.append(a.generator_images + offset)
        offset += a.degree
    images = np.concatenate(parts, axis=1) if G.n_generators else np.zeros((0, offset), int)
    name = "sum(" + ",".join(a.spec for a in actions) + ")"
    return GroupAction(G, images, name, degree=offset, validate=False)


def restrict(action: GroupAction, subgroup: FiniteGroup) -> GroupAction:
    """Restriction of ``action`` to a subgroup (a group on the same points whose
    generators lie in ``action.group``); its spec is the explicit ``perm:`` form."""
    if not isinstance(action, GroupAction):
        raise TypeError(f"action must be a GroupAction, got {type(action).__name__}")
    if not isinstance(subgroup, FiniteGroup):
        raise TypeError(f"subgroup must be a FiniteGroup, got {type(subgroup).__name__}")
    G = action.group
    if subgroup.degree != G.degree:
        raise MismatchError(f"subgroup acts on {subgroup.degree} points, {G.spec} on {G.degree}")
    if not subgroup.is_subgroup_of(G):
        raise MismatchError(f"{subgroup.spec} is not a subgroup of {G.spec}")
    images = [action.image(s) for s in subgroup.generator_arrays]
    if action.spec == "natural":
        return natural(subgroup)
    return GroupAction(subgroup, images, degree=action.degree, validate=False)
