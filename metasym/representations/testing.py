r"""Test helpers shipped for users: hypothesis strategies for groups and actions, and
:func:`assert_equivariant`.

hypothesis is imported only when a strategy is built, so this module (and
:func:`assert_equivariant`) works without it.

Examples
--------
>>> from metasym.groups import cyclic, natural
>>> from metasym.representations import sharing_pattern
>>> P = sharing_pattern(natural(cyclic(4)), natural(cyclic(4)))
>>> assert_equivariant(P.random_weight(0), P)
>>> assert_equivariant([[1.0, 0, 0, 0]] * 4, P)  # doctest: +ELLIPSIS
Traceback (most recent call last):
AssertionError: W is not equivariant: worst generator 0 = (0 1 2 3) has max |...| = 1 > atol = ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from metasym.errors import MismatchError
from metasym.groups import (
    FiniteGroup,
    GroupAction,
    abelian,
    alternating,
    canonical_labels,
    cyclic,
    dihedral,
    direct_product,
    direct_sum,
    from_generators,
    klein_four,
    natural,
    quaternion,
    regular,
    restrict,
    rotations,
    rotoflips,
    symmetric,
    tensor,
    translations,
    trivial,
)
from metasym.groups._perm import format_cycles, inverse

__all__ = ["finite_groups", "group_actions", "group_and_actions", "assert_equivariant",
           "named_groups", "pair_orbit_labels_graph", "brute_force_pair_orbits"]


def _st():
    try:
        from hypothesis import strategies as st
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("metasym.representations.testing strategies need hypothesis: "
                          "pip install hypothesis") from e
    return st


def named_groups(max_order: int = 5040) -> list[FiniteGroup]:
    """Every named family with small parameters (degree at most 9), order <= max_order."""
    groups = ([cyclic(n) for n in range(1, 9)] + [dihedral(n) for n in range(1, 7)]
              + [symmetric(n) for n in range(1, 6)] + [alternating(n) for n in range(1, 6)]
              + [klein_four(), quaternion(), abelian(2, 2), abelian(2, 3), abelian(2, 2, 2),
                 abelian(3, 4), translations(2, 3), translations(3, 3), translations(1, 4),
                 rotations(1), rotations(2), rotations(3), rotoflips(2), rotoflips(3)])
    return [G for G in groups if G.order <= max_order]


def finite_groups(max_degree: int = 7, max_order: int = 720, *, products: bool = True):
    r"""Strategy for finite groups: random generator sets in :math:`S_n`
    (:math:`n \le` ``max_degree``, up to 3 generators), every named family with small
    parameters (see :func:`named_groups`), and direct products of two such groups.

    ``max_order`` bounds every group without filtering: a random group that comes out
    larger is replaced by the cyclic group of its first generator (then the trivial
    group), a product that is too large by its first factor. ``max_degree`` bounds the
    random generator sets; named groups have degree at most 9, products up to twice that.
    Shrinks towards small degrees and few generators.
    """
    st = _st()

    def shrink_to_fit(G: FiniteGroup) -> FiniteGroup:
        if G.order <= max_order:
            return G
        first = from_generators(G.generator_arrays[:1], G.degree)
        return first if first.order <= max_order else from_generators([], G.degree)

    def random_generated(lo: int, hi: int, max_gens: int):
        return st.integers(lo, max(lo, hi)).flatmap(
            lambda n: st.lists(st.permutations(list(range(n))), min_size=1,
                               max_size=max_gens).map(
                lambda gens, n=n: shrink_to_fit(from_generators(gens, n))))

    random_groups = random_generated(2, max_degree, 3)
    named = st.sampled_from(named_groups(max_order))
    if not products:
        return st.one_of(named, random_groups)

    def product(pair: tuple[FiniteGroup, FiniteGroup]) -> FiniteGroup:
        G, H = pair
        return direct_product(G, H) if G.order * H.order <= max_order else G

    small = st.one_of(st.sampled_from(named_groups(min(max_order, 12))),
                      random_generated(2, min(4, max_degree), 2))
    return st.one_of(named, random_groups, st.tuples(small, small).map(product))


def _relabel(action: GroupAction, sigma: list[int]) -> GroupAction:
    """The same action with points renamed by ``sigma`` (conjugation): a ``perm:`` spec."""
    sig = np.asarray(sigma, dtype=np.int64)
    sinv = inverse(sig)
    images = [sig[a[sinv]] for a in action.generator_images]
    return GroupAction(action.group, images, degree=action.degree, validate=False)


def group_actions(group: FiniteGroup, *, max_degree: int = 64, regular_max_order: int = 24):
    """Strategy for actions of ``group``: natural, regular (when the order is at most
    ``regular_max_order``), trivial on 1-3 points, relabelled copies (``perm:`` specs),
    and tensor products and direct sums of those (degree at most ``max_degree``; an
    oversized combination is replaced by its first factor).
    """
    st = _st()
    leaves = [st.just(natural(group)), st.integers(1, 3).map(lambda n: trivial(group, n))]
    if group.order <= regular_max_order:
        leaves.append(st.just(regular(group)))
    leaf = st.one_of(*leaves)

    def relabelled(a: GroupAction):
        return st.permutations(list(range(a.degree))).map(lambda s: _relabel(a, s))

    leaf = st.one_of(leaf, leaf.flatmap(relabelled))

    def combine(args: tuple[str, GroupAction, GroupAction]) -> GroupAction:
        kind, a, b = args
        if kind == "tensor":
            return tensor(a, b) if a.degree * b.degree <= max_degree else a
        return direct_sum(a, b) if a.degree + b.degree <= max_degree else a

    pair = st.tuples(st.sampled_from(["tensor", "sum"]), leaf, leaf).map(combine)
    return st.one_of(leaf, pair)


def group_and_actions(max_degree: int = 6, max_order: int = 120, *, max_action_degree: int = 48):
    """Strategy for ``(group, in_action, out_action)``: a group from
    :func:`finite_groups` and two of its actions from :func:`group_actions`; in about a
    quarter of the draws the group is replaced by a subgroup (the one generated by the
    first generator) and both actions by their restrictions to it.
    """
    st = _st()

    def draw_actions(G: FiniteGroup):
        acts = group_actions(G, max_degree=max_action_degree)
        both = st.tuples(acts, acts)

        def maybe_restrict(args):
            restrict_it, (a, b) = args
            if not restrict_it or G.n_generators < 2:
                return (G, a, b)
            H = from_generators(G.generator_arrays[:1], G.degree)
            return (H, restrict(a, H), restrict(b, H))

        return st.tuples(st.sampled_from([False, False, False, True]), both).map(maybe_restrict)

    return finite_groups(max_degree=max_degree, max_order=max_order).flatmap(draw_actions)


def pair_orbit_labels_graph(in_images: np.ndarray, out_images: np.ndarray) -> np.ndarray:
    r"""Orbits on pairs :math:`Y \times X` by a pair graph: the oracle (and former
    implementation) that :func:`~metasym.representations.pair_orbit_labels` is tested
    against.

    The orbits of :math:`G` on pairs are the connected components of the graph with an
    edge :math:`(y, x) \to (s\,y, s\,x)` for each generator ``s`` (a group generated by
    ``S`` has the same orbits as the relation generated by ``S``). Time
    :math:`O(|S| m n)`, memory about 40 bytes per pair: for tests and benchmarks only.

    Returns ``(m, n)`` int64 canonical labels.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    in_images = np.asarray(in_images, dtype=np.int64)
    out_images = np.asarray(out_images, dtype=np.int64)
    k, n = in_images.shape
    m = out_images.shape[1]
    if out_images.shape[0] != k:
        raise MismatchError("input and output actions have different numbers of generators")
    N = m * n
    if k == 0 or N == 0:
        return np.arange(N, dtype=np.int64).reshape(m, n)
    idx = np.int32 if N < 2**31 else np.int64
    # row p = y*n + x of the graph holds its k images s_out(y)*n + s_in(x), laid out
    # directly in CSR order (no sorting, no transposes)
    cols = np.empty((m, n, k), dtype=idx)
    for s in range(k):
        np.add(out_images[s].astype(idx)[:, None] * idx(n), in_images[s].astype(idx)[None, :],
               out=cols[:, :, s])
    indptr = np.arange(0, k * N + 1, k, dtype=idx)
    graph = sp.csr_matrix((np.ones(k * N, dtype=np.int8), cols.reshape(-1), indptr),
                          shape=(N, N))
    _, labels = connected_components(graph, directed=True, connection="weak")
    return canonical_labels(labels).reshape(m, n)


def brute_force_pair_orbits(a_in: GroupAction, a_out: GroupAction) -> np.ndarray:
    """Orbits of :math:`G` on :math:`Y \\times X` by listing every element (the naive
    oracle; refuses groups too large to enumerate). ``(m, n)`` int64 canonical labels."""
    ein, eout = a_in.element_images(), a_out.element_images()
    m, n = a_out.degree, a_in.degree
    labels = np.full((m, n), -1, dtype=np.int64)
    next_id = 0
    for y in range(m):
        for x in range(n):
            if labels[y, x] < 0:
                labels[eout[:, y], ein[:, x]] = next_id
                next_id += 1
    return canonical_labels(labels)


def _matrices(rep: Any) -> tuple[list[np.ndarray], bool]:
    """Generator matrices (or image arrays) and whether they are permutations."""
    if isinstance(rep, GroupAction):
        return list(rep.generator_images), True
    action = getattr(rep, "action", None)
    if isinstance(action, GroupAction):
        return list(action.generator_images), True
    from metasym.representations.linear import LinearRepresentation

    if isinstance(rep, LinearRepresentation):
        return list(rep.generator_matrices()), False
    raise MismatchError(f"cannot read a representation from {type(rep).__name__}")


def assert_equivariant(W: Any, pattern_or_reps: Any, atol: float | None = None) -> None:
    r"""Assert that :math:`\rho_Y(s) W = W \rho_X(s)` for every generator ``s``.

    Parameters
    ----------
    W
        ``(m, n)`` or ``(..., m, n)`` array (numpy, list, or a torch tensor).
    pattern_or_reps
        A :class:`~metasym.representations.SharingPattern` built from actions, or a pair
        ``(rep_in, rep_out)`` of group actions, permutation or linear representations.
    atol
        Largest allowed ``max |rho_Y(s) W - W rho_X(s)|``. Default: ``0`` for integer
        ``W`` and permutation representations, else ``100 * eps * max(1, max|W|)``
        times the dimension for linear representations, with ``eps`` of ``W``'s float
        dtype (float32 stays float32).

    Raises
    ------
    AssertionError
        Naming the worst generator and its error.
    """
    if hasattr(W, "detach"):  # torch tensor, without importing torch
        W = W.detach().cpu().numpy()
    W = np.asarray(W)
    if isinstance(pattern_or_reps, tuple) and len(pattern_or_reps) == 2:
        rep_in, rep_out = pattern_or_reps
    else:
        rep_in = getattr(pattern_or_reps, "in_action", None)
        rep_out = getattr(pattern_or_reps, "out_action", None)
        if rep_in is None or rep_out is None:
            raise MismatchError("give a pattern built from group actions or a pair "
                                "(rep_in, rep_out)")
    mats_in, perm_in = _matrices(rep_in)
    mats_out, perm_out = _matrices(rep_out)
    group = rep_in.group
    if rep_out.group != group:
        raise MismatchError(f"representations of different groups: {group.spec} and "
                            f"{rep_out.group.spec}")
    n = len(mats_in[0]) if mats_in else getattr(rep_in, "degree", W.shape[-1])
    m = len(mats_out[0]) if mats_out else getattr(rep_out, "degree", W.shape[-2])
    if W.ndim < 2 or W.shape[-2:] != (m, n):
        raise MismatchError(f"W has shape {W.shape}, expected (..., {m}, {n})")
    if W.dtype == object or not (np.issubdtype(W.dtype, np.number)
                                 or np.issubdtype(W.dtype, np.bool_)):
        raise TypeError(f"W must be a numeric array, got dtype {W.dtype}")
    if np.issubdtype(W.dtype, np.inexact) and not np.isfinite(W).all():
        bad = int((~np.isfinite(W)).sum())
        raise AssertionError(f"W is not equivariant: it has {bad} NaN or infinite entries")
    floating = np.issubdtype(W.dtype, np.floating)
    if atol is None:
        if not floating and perm_in and perm_out:
            atol = 0.0
        else:
            eps = np.finfo(W.dtype if floating else np.float64).eps
            scale = max(1.0, float(np.abs(W).max(initial=0.0)))
            dim = 1 if (perm_in and perm_out) else max(m, n)
            atol = float(100 * eps * scale * dim)
    errors = []
    for A, B in zip(mats_in, mats_out):
        left = W[..., inverse(B), :] if perm_out else np.matmul(B, W)
        right = W[..., :, A] if perm_in else np.matmul(W, A)
        diff = np.abs(left - right)
        errors.append(float(diff.max(initial=0.0)))
    if not errors:
        return
    worst = int(np.argmax(errors))
    if errors[worst] > atol:
        gen = format_cycles(group.generator_arrays[worst])
        others = ", ".join(f"{e:.3g}" for e in errors)
        msg = (f"W is not equivariant: worst generator {worst} = {gen} has max "
               f"|rho_Y(s) W - W rho_X(s)| = {errors[worst]:.3g} > atol = {atol:.3g}")
        if len(errors) > 1:
            msg += f" (errors per generator: {others})"
        raise AssertionError(msg)
