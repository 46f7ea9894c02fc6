"""Exact parameter-sharing patterns: the orbits of a group on index pairs."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from metasym._limits import check_memory
from metasym.errors import MetasymError, MismatchError, SpecError, TooLargeError
from metasym.groups import GroupAction, canonical_labels
from metasym.npzfile import read_npz
from metasym.representations._args import check_cells, integer, real_array
from metasym.representations._args import rng as rng_arg

__all__ = [
    "SharingPattern",
    "sharing_pattern",
    "pair_orbit_labels",
    "pattern_memory",
    "as_permutation_action",
    "band_support",
    "parse_support",
    "DENSE_BASIS_LIMIT",
    "PAIR_LIMIT",
]

#: Largest number of entries of a dense ``U`` (``m*n*k``) built without ``sparse=True``.
DENSE_BASIS_LIMIT = 200_000_000
#: Largest number of index pairs ``m*n`` a pattern may have. At the limit a pattern takes
#: 4-6 bytes per pair (under 1.2 GiB peak) and 1.5-9 s on a 2-core machine (measured, see
#: ``docs/benchmarks.md``); the memory budget (``metasym._limits.memory_budget``) is
#: checked as well.
PAIR_LIMIT = 200_000_000

#: Scratch elements one vectorised step may touch (bounds every temporary array) ...
_CHUNK = 1 << 23


def _chunk(m: int, n: int) -> int:
    """... and at most 1/32 of the pairs (a step holds about 20 bytes per element, so
    scratch stays under 1 byte per pair), or 1024: below that, Python overhead per step
    would dominate."""
    return max(1, min(_CHUNK, max((m * n) // 32, 1024)))


def as_permutation_action(rep: Any) -> GroupAction:
    """The :class:`~metasym.groups.GroupAction` behind a permutation representation (or
    the action itself); :class:`MismatchError` for anything else."""
    if isinstance(rep, GroupAction):
        return rep
    action = getattr(rep, "action", None)
    if isinstance(action, GroupAction):
        return action
    raise MismatchError(
        f"expected a permutation representation or group action, got {type(rep).__name__}"
        " (for linear representations use metasym.representations.equivariant_basis)")


# ----- pair orbits from generators ---------------------------------------------------------
def _cycles(p: np.ndarray) -> tuple[np.ndarray, ...]:
    r"""Cycle decomposition of a permutation array, vectorised (pointer doubling,
    :math:`O(N \log L)` for longest cycle :math:`L`).

    Returns ``(cmin, pos, start, order, length)``: ``cmin[x]`` is the smallest point of the cycle
    of ``x``, ``pos[x]`` the ``j`` with ``x = p^j(cmin[x])``, and ``order`` lists the
    points cycle by cycle (cycles by their smallest point, each from it in order
    ``c, p(c), p^2(c), ...``), the cycle of ``c`` starting at ``start[c]`` (defined where
    ``c`` is a cycle minimum) with ``length[c]`` points.
    """
    N = p.size
    cmin = np.arange(N)
    q = p.copy()
    while True:  # window [0, 2^r) of the cycle from x: stable iff it covers every cycle
        nxt = np.minimum(cmin, cmin[q])
        if np.array_equal(nxt, cmin):
            break
        cmin = nxt
        q = q[q]
    # list ranking backwards along p: dist to the cycle minimum
    inv = np.empty(N, dtype=np.intp)
    inv[p] = np.arange(N)
    is_min = cmin == np.arange(N)
    pos = (~is_min).astype(np.intp)
    ptr = np.where(is_min, np.arange(N), inv)
    while not np.all(is_min[ptr]):
        pos = pos + pos[ptr]
        ptr = ptr[ptr]
    lengths = np.bincount(cmin, minlength=N)
    start = np.cumsum(lengths) - lengths
    order = np.empty(N, dtype=np.intp)
    order[start[cmin] + pos] = np.arange(N)
    return cmin, pos, start, order, lengths


#: Vectorised work (elements) below which a Python step of the chain fill is not worth
#: it: chains are then filled by cycle arithmetic instead (see :func:`_fill_new_columns`).
_STEP_MIN_WORK = 512


def _walk(cyc: tuple, seen: np.ndarray, frontier: np.ndarray):
    r"""Walk the cycles of one generator ``s`` (on ``X``) through ``frontier``.

    Each point ``z`` first met on such a cycle is reached from the last already seen
    point ``a`` before it on the cycle: :math:`z = s^j a` with :math:`j \ge 1`, which
    makes :math:`t_z = s^j t_a` (a tree whose edges are ``s``-steps). The points ``x``
    with :math:`s x` seen before the walk are the non-tree edges ``(x, s)``: only they can
    give non-trivial Schreier generators.

    Returns ``(z, a, j, nontree_x)``.
    """
    cmin, pos, start, order, length = cyc
    touched = np.unique(cmin[frontier])
    lens = length[touched]
    total = int(lens.sum())
    seg = np.cumsum(lens) - lens                     # segment starts in the concatenation
    segrep = np.repeat(seg, lens)
    lenrep = np.repeat(lens, lens)
    within = np.arange(total) - segrep               # j of the point on its cycle
    pts = order[np.repeat(start[touched], lens) + within]
    sa = seen[pts]
    g = np.where(sa, np.arange(total), -1)
    ff = np.maximum.accumulate(g)                    # last seen index so far (any segment)
    last = np.maximum.reduceat(g, seg)               # last seen index of each segment
    wrap = ff < segrep                               # before the first seen point: wraps
    anc = np.where(wrap, np.repeat(last, lens), ff)
    steps = np.arange(total) - anc + np.where(wrap, lenrep, 0)
    new = ~sa
    seen_idx = np.flatnonzero(sa)
    pred = np.where(within[seen_idx] == 0, seen_idx + lenrep[seen_idx] - 1, seen_idx - 1)
    return pts[new], pts[anc[new]], steps[new], pts[pred]


def _fill_new_columns(L: np.ndarray, z: np.ndarray, a: np.ndarray, j: np.ndarray,
                      s_out: np.ndarray, cyc_out: Any) -> Any:
    r"""Write :math:`t_z^{-1}` (on ``Y``) into column ``z`` for :math:`z = s^j a`:
    :math:`t_z^{-1} = t_a^{-1} s^{-j}`, i.e. ``L[:, z] = L[s^{-j}(w), a]``.

    Long chains (few, deep) are stepped: ``col = col[s^{-1}]`` per step, vectorised over
    the chains, buffered so that columns are written in blocks. Many short chains (or a
    tiny ``Y``) use :math:`s^{-j}(w)` from the cycles of ``s`` on ``Y`` instead, with no
    Python loop over ``j``. Returns the cycle decomposition of ``s_out`` if it computed it.
    """
    m = L.shape[0]
    jmax = int(j.max())
    if z.size * m < _STEP_MIN_WORK * jmax:
        if cyc_out is None:
            cyc_out = _cycles(s_out)
        cmin, pos, start, order, length = cyc_out
        st, ln, ps = start[cmin][:, None], length[cmin][:, None], pos[:, None]
        c = max(1, _chunk(m, L.shape[1]) // m)
        for i in range(0, z.size, c):
            sl = slice(i, i + c)
            P = order[st + (ps - j[None, sl]) % ln]          # s^{-j}(w), (m, c)
            L[:, z[sl]] = L[P, a[None, sl]]
        return cyc_out
    s_inv = np.empty(m, dtype=np.intp)
    s_inv[s_out] = np.arange(m)
    chains, chain_of = np.unique(a, return_inverse=True)   # one chain per anchor
    ell = np.bincount(chain_of)                              # chain length = its largest j
    corder = np.argsort(-ell, kind="stable")
    rank = np.empty_like(corder)
    rank[corder] = np.arange(corder.size)
    cb = max(1, _chunk(m, L.shape[1]) // m)
    r_of = rank[chain_of]
    by_chain = np.argsort(r_of, kind="stable")
    bounds = np.searchsorted(r_of[by_chain], np.arange(0, corder.size + cb, cb))
    for g, r0 in enumerate(range(0, corder.size, cb)):
        sel = by_chain[bounds[g]:bounds[g + 1]]
        zs = z[sel][np.lexsort((r_of[sel], j[sel]))]   # by step, then by chain rank
        ells = ell[corder[r0:r0 + cb]]              # non-increasing
        active = np.searchsorted(-ells, -np.arange(1, int(ells[0]) + 1), side="right")
        cur = np.ascontiguousarray(L[:, chains[corder[r0:r0 + cb]]].T)   # (chains, m)
        # the write buffer may hold 1/16 of the pairs: fewer, larger column writes
        room = max(_chunk(m, L.shape[1]), min(m * L.shape[1] // 16, 1 << 18))
        cap = max(cur.shape[0], min(room // m, zs.size))
        buf = np.empty((cap, m), dtype=L.dtype)
        fill, done = 0, 0
        for na in active:
            if fill + na > cap:   # flush: columns in sorted order for locality
                _write_columns(L, zs[done - fill:done], buf[:fill])
                cur = cur.copy()
                fill = 0
            out = buf[fill:fill + na]
            np.take(cur[:na], s_inv, axis=1, out=out)
            cur = out
            fill += na
            done += na
        _write_columns(L, zs[done - fill:done], buf[:fill])
    return cyc_out


def _write_columns(L: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> None:
    """``L[:, cols] = rows.T``, columns in increasing order (fewer cache misses)."""
    if not cols.size:
        return
    o = np.argsort(cols)
    cols, rows = cols[o], rows[o]
    if cols[-1] - cols[0] == cols.size - 1:  # a run of columns: a slice is 3x faster
        L[:, cols[0]:cols[-1] + 1] = rows.T
    else:  # scattered columns: a few rows at a time stay in cache (2x faster)
        step = max(16, (1 << 15) // cols.size)
        for r0 in range(0, L.shape[0], step):
            L[r0:r0 + step, cols] = rows[:, r0:r0 + step].T


def _input_orbits(in_images: np.ndarray, cycles: list | None = None) -> tuple[int, np.ndarray]:
    """Orbits of the generators on ``X``: (count, label per point); any numbering of the
    orbits will do. With the generators' cycle decompositions (``cycles``), a few rounds
    of "smallest point of my cycle" usually settle it without building a graph; else (or
    if they do not settle) connected components on ``n`` nodes, never on pairs."""
    if cycles is not None:
        lab = np.arange(in_images.shape[1])
        for _ in range(8):
            before = lab
            for cmin, _, start, order, length in cycles:
                heads = np.flatnonzero(length)              # cycle minima, in order
                low = np.minimum.reduceat(lab[order], start[heads])
                lab = low[np.searchsorted(heads, cmin)]
            if np.array_equal(lab, before):  # stable under every generator: orbits
                roots = lab == np.arange(lab.size)
                return int(roots.sum()), np.cumsum(roots)[lab] - 1
    k, n = in_images.shape
    graph = sp.csr_matrix((np.ones(k * n, dtype=np.int8),
                           (np.tile(np.arange(n), k), in_images.ravel())), shape=(n, n))
    count, comp = connected_components(graph, directed=True, connection="weak")
    return count, comp.astype(np.intp, copy=False)


def _merge(lab: np.ndarray | None, size: int, ra: np.ndarray, rb: np.ndarray):
    """Join classes ``ra[i]`` and ``rb[i]`` of a partition of ``size`` classes; returns
    the new class of every old class (composed with ``lab``) and the new count."""
    graph = sp.csr_matrix((np.ones(ra.size, dtype=np.int8), (ra, rb)), shape=(size, size))
    count, comp = connected_components(graph, directed=True, connection="weak")
    comp = comp.astype(np.int32 if size < 2**31 else np.int64)
    return (comp if lab is None else comp[lab]), count


def _row_blocks(m: int, n: int, width: int) -> range:
    """Row-block starts for blocks of about 64K entries (at most the scratch bound) of
    ``width`` columns: what one vectorised step then touches stays in cache (a row-major
    array is read row by row, which is many times faster than gathering its columns)."""
    return range(0, m, max(1, min(1 << 16, _chunk(m, n)) // max(width, 1)))


def _sift_schreier(L: np.ndarray, xs: np.ndarray, sxs: np.ndarray, s_out: np.ndarray,
                   base: np.ndarray | None, lab: np.ndarray | None, count: int, size: int,
                   idx_t: Any) -> tuple[np.ndarray | None, int]:
    r"""Join the classes that the Schreier generators of the non-tree edges ``(x, s)``
    (``x`` in ``xs``, :math:`s x` in ``sxs``) relate: :math:`t_x^{-1} w \sim
    t_{sx}^{-1} s w`, i.e. ``L[w, x] ~ L[s(w), sx]``, read by row blocks. A generator
    that joins nothing (the usual case once the partition is found) costs a comparison
    only. ``lab`` maps nodes to classes (``None``: identity); returns it and the count."""
    m, n = L.shape
    step = _row_blocks(m, n, xs.size).step
    full_rows = 4 * xs.size >= n           # copying whole rows beats a 2-D gather then
    joins_a: list[np.ndarray] = []
    joins_b: list[np.ndarray] = []
    held = 0

    def merge() -> None:  # a union-find step costs O(size): batch the joins found
        nonlocal lab, count, held
        if held:
            lab, count = _merge(lab, size if lab is None else count,
                                np.concatenate(joins_a), np.concatenate(joins_b))
            joins_a.clear()
            joins_b.clear()
            held = 0

    if base is not None:
        base = base.astype(idx_t)
    for r0 in range(0, m, step):
        a = np.take(L[r0:r0 + step], xs, axis=1).astype(idx_t, copy=False)
        rows = s_out[r0:r0 + step]
        b = (np.take(L[rows], sxs, axis=1) if full_rows
             else L[rows[:, None], sxs[None, :]]).astype(idx_t, copy=False)
        if base is not None:
            a += base
            b += base
        if lab is not None:
            a, b = lab[a], lab[b]
        diff = a != b
        if diff.any():
            joins_a.append(a[diff])
            joins_b.append(b[diff])
            held += joins_a[-1].size
            if held >= max(size if lab is None else count, _chunk(m, n)):
                merge()
    merge()
    return lab, count


def _apply_classes(L: np.ndarray, cols: np.ndarray, base: np.ndarray,
                   lab: np.ndarray | None, offset: int) -> None:
    """``L[y, x] = offset + lab[base[x] + L[y, x]]`` for the columns ``cols`` (sorted),
    in place, by row blocks (``lab`` ``None``: identity)."""
    m, n = L.shape
    everything = cols.size == n
    b = base if everything else base[cols]
    step = _row_blocks(m, n, cols.size).step
    for r0 in range(0, m, step):
        blk = L[r0:r0 + step]
        v = blk if everything else np.take(blk, cols, axis=1)
        if lab is None:
            v = v + (b + offset).astype(L.dtype)
        else:
            v = lab[v + b]
            v += L.dtype.type(offset)
        if everything:
            blk[...] = v
        else:
            blk[:, cols] = v


def _pair_orbit_ids(in_images: np.ndarray, out_images: np.ndarray) -> tuple[np.ndarray, int]:
    r"""Orbit ids (not yet canonical) of :math:`G` on :math:`Y \times X` and their count.

    Per orbit :math:`O` of :math:`G` on :math:`X`, with base point :math:`x_0 = \min O`:

    1. a spanning tree of :math:`O` by generator steps gives transversal elements
       :math:`t_x` (:math:`t_x x_0 = x`); column ``x`` of the result temporarily holds
       :math:`t_x^{-1}` on ``Y`` (:func:`_walk`, :func:`_fill_new_columns`);
    2. the stabiliser :math:`G_{x_0}` is generated by the Schreier generators
       :math:`\sigma = t_{sx}^{-1} s\, t_x` (non-tree edges only; Schreier's lemma). Its
       orbits on ``Y`` are the classes of the relation :math:`y \sim \sigma y`; with
       :math:`y = t_x^{-1} w` the edge is :math:`(t_x^{-1} w,\ t_{sx}^{-1} s w)`: two
       gathers from columns ``x`` and ``sx``. Each Schreier generator is sifted against
       the current partition (a vectorised comparison); only those that join classes
       cost a union-find step;
    3. :math:`(y, x)` and :math:`(t_x^{-1} y, x_0)` are in one orbit, so the label of
       :math:`(y, x)` is the class of :math:`t_x^{-1} y`: one gather per column, in place.

    Orbits on ``X`` with few points are handled together (classes indexed by
    ``(orbit, y)``), so no Python loop runs per point. Time :math:`O(|S| m n)` at worst
    (the Schreier generators), usually :math:`O(mn)`; memory: the ``int32`` result and
    :math:`O(|S|(m+n))` besides bounded scratch.
    """
    k, n = in_images.shape
    m = out_images.shape[1]
    L = np.empty((m, n), dtype=np.int32)
    if m == 0 or n == 0:
        return L, 0
    if k == 0:  # every pair is its own orbit
        step = _row_blocks(m, n, n).step
        for r0 in range(0, m, step):
            L[r0:r0 + step] = np.arange(r0 * n, min(r0 + step, m) * n,
                                        dtype=np.int32).reshape(-1, n)
        return L, m * n
    cyc_in: list[Any] = [_cycles(p) for p in in_images]
    n_orb, comp = _input_orbits(in_images, cyc_in)
    points = np.argsort(comp, kind="stable")        # by orbit, then by point
    starts = np.searchsorted(comp[points], np.arange(n_orb + 1))
    bases = points[starts[:-1]]                      # x0 = smallest point of each orbit
    L[:, bases] = np.arange(m, dtype=np.int32)[:, None]       # t_{x0} = identity
    seen = np.zeros(n, dtype=bool)
    seen[bases] = True
    cyc_out: list[Any] = [None] * k
    pending: list[list[np.ndarray]] = [[bases] for _ in range(k)]
    nontree: list[list[np.ndarray]] = [[] for _ in range(k)]
    while any(pending):
        for s in range(k):
            if not pending[s]:
                continue
            frontier = np.concatenate(pending[s])
            pending[s] = []
            z, a, j, nt = _walk(cyc_in[s], seen, frontier)
            nontree[s].append(nt)
            if z.size:
                seen[z] = True
                cyc_out[s] = _fill_new_columns(L, z, a, j, out_images[s], cyc_out[s])
                for t in range(k):
                    if t != s:
                        pending[t].append(z)
    del cyc_in, cyc_out, seen, pending  # keep the peak low for the sifting below
    # a point fixed by every generator has G_x0 = G: its column is the orbits of G on Y,
    # the same for all such points (filled at the end, no Schreier generators)
    fixed = bases[np.diff(starts) == 1]
    if fixed.size:
        moving = np.diff(starts) > 1
        renumber = np.full(n_orb, -1, dtype=np.intp)
        renumber[moving] = np.arange(int(moving.sum()))
        n_orb = int(moving.sum())
        comp = renumber[comp]                                   # -1 on fixed points
        points = points[comp[points] >= 0]
        points = points[np.argsort(comp[points], kind="stable")]
        starts = np.searchsorted(comp[points], np.arange(n_orb + 1))
    # Schreier generators, batched by input orbit; class of (orbit o, y) is node
    # (o - o0) * m + y within the batch starting at orbit o0
    # each batch reads the whole of L once per generator (its columns are scattered),
    # so batches are as large as the scratch bound allows
    per_batch = max(1, _chunk(m, n) // m)
    bounds_at = np.arange(0, n_orb + per_batch, per_batch)
    edges = []
    for s in range(k):
        xs = np.concatenate(nontree[s])
        nontree[s] = []
        xs = xs[comp[xs] >= 0]
        xs = xs[np.lexsort((xs, comp[xs]))]      # by orbit, then by point (locality)
        edges.append((xs, np.searchsorted(comp[xs], bounds_at)))
    point_bounds = starts[np.minimum(bounds_at, n_orb)]
    idx_t = np.int32 if per_batch * m < 2**31 else np.int64
    offset = 0
    for b, o0 in enumerate(bounds_at[:-1]):
        size = min(per_batch, n_orb - o0) * m
        lab, count = None, size
        for s in range(k):
            xs_all, bounds = edges[s]
            xs = xs_all[bounds[b]:bounds[b + 1]]
            if xs.size:
                lab, count = _sift_schreier(L, xs, in_images[s][xs], out_images[s],
                                            None if size == m else (comp[xs] - o0) * m,
                                            lab, count, size, idx_t)
        pts = points[point_bounds[b]:point_bounds[b + 1]]
        if not (lab is None and offset == 0 and n_orb == 1):  # else: labels already there
            _apply_classes(L, np.sort(pts), ((comp - o0) * m).astype(idx_t), lab, offset)
        offset += count
    if fixed.size:
        n_y, orbit_y = _input_orbits(out_images)
        ids = (offset + n_y * np.arange(fixed.size)).astype(L.dtype)
        step = _row_blocks(m, n, fixed.size).step
        for r0 in range(0, m, step):
            L[r0:r0 + step, fixed] = orbit_y[r0:r0 + step, None].astype(L.dtype) + ids
        offset += n_y * fixed.size
    return L, offset


def _canonicalise(L: np.ndarray, count: int) -> None:
    """Renumber ids in ``[0, count)`` (``-1`` kept) of ``L`` in place by first appearance
    in row-major order: one pass over row blocks with an ``int32`` table of ``count``
    entries; :math:`O(mn)`, nothing is sorted."""
    m, n = L.shape
    if L.size == 0:
        return
    if count == L.size:  # every entry its own orbit: ids are positions among free entries
        flat, total, step = L.reshape(-1), 0, _chunk(m, n)
        for i in range(0, flat.size, step):    # by blocks: cumsum's cast buffer is small
            blk = flat[i:i + step]
            free = blk >= 0
            np.cumsum(free, dtype=L.dtype, out=blk)
            blk += L.dtype.type(total - 1)
            total = int(blk[-1]) + 1
            np.copyto(blk, -1, where=~free)
        return
    # table[id + 1] is the new id; -2 marks ids not met yet, table[0] = -1 keeps -1
    table = np.full(count + 1, -2, dtype=L.dtype)
    table[0] = -1
    rank = table[1:]
    has_negative = int(L.min()) < 0
    # blocks of about 64K entries: the lookups, the check and the copy stay in cache
    rows = min(m, _row_blocks(m, n, n).step)
    buf = np.empty(rows * n, dtype=L.dtype)
    shift = np.empty(rows * n, dtype=L.dtype) if has_negative else None
    nxt = 0
    # blocks grow from one row: new ids tend to come early, and a small block keeps the
    # scatter-min below to the entries that are really new
    r0, step = 0, 1
    while r0 < m:
        blk = L[r0:r0 + step].reshape(-1)
        r0, step = r0 + step, min(2 * step, rows)
        out = buf[:blk.size]
        key = np.add(blk, 1, out=shift[:blk.size]) if has_negative else blk
        np.take(table if has_negative else rank, key, out=out)
        # (once every id has its number, no block can bring news: skip the check)
        if nxt < count and out.min() < -1:  # a reduction: cheaper than a mask
            # first occurrence of each new id with one scatter-min (no sort): every code
            # (position - size - 3) is below the -2 of an id not met yet
            pos = np.flatnonzero(out == -2)
            ids = blk[pos]
            code = (pos - (blk.size + 3)).astype(L.dtype)
            np.minimum.at(rank, ids, code)
            ids = ids[rank[ids] == code]          # one winner per id, in row-major order
            rank[ids] = np.arange(nxt, nxt + ids.size, dtype=L.dtype)
            nxt += ids.size
            np.take(table if has_negative else rank, key, out=out)
        blk[:] = out


def _max_orbits(in_images: np.ndarray, out_images: np.ndarray) -> int:
    r"""An upper bound on the number of orbits on pairs, from the generators alone: only
    pairs of points fixed by every generator are orbits of size 1, so
    :math:`K \le F_Y F_X + (mn - F_Y F_X)/2`."""
    m, n = out_images.shape[1], in_images.shape[1]
    f_in = int(np.all(in_images == np.arange(n), axis=0).sum()) if len(in_images) else n
    f_out = int(np.all(out_images == np.arange(m), axis=0).sum()) if len(out_images) else m
    fixed = f_in * f_out
    return fixed + (m * n - fixed) // 2


def pattern_memory(in_images: np.ndarray, out_images: np.ndarray, *,
                   support: bool = False) -> int:
    r"""Bytes :func:`pair_orbit_labels` (``support``: :func:`sharing_pattern` with a
    support mask) needs at most: the ``int32`` labels (4 per pair), the renumbering table
    (4 per orbit, bounded by ``_max_orbits``), per-point arrays
    (:math:`O(|S|(m+n))`) and bounded scratch; a support mask adds 2 bytes per pair
    (the mask and its complement)."""
    k, n = np.shape(in_images)
    m = np.shape(out_images)[1]
    pairs = m * n
    orbits = _max_orbits(in_images, out_images)
    # all orbits single pairs: no table, a mask (1 byte per pair) and its complement
    est = 4 * pairs + (2 * pairs if orbits == pairs else 4 * (orbits + 1))
    est += 48 * (k + 2) * (m + n) + 32 * _chunk(m, n)
    if support:
        est += 2 * pairs
    return est


def pair_orbit_labels(in_images: np.ndarray, out_images: np.ndarray) -> np.ndarray:
    r"""Canonical orbit labels of the diagonal action on pairs :math:`Y \times X`.

    The orbits of :math:`G` on pairs are found from generators without a pair graph:
    for each orbit :math:`O` of :math:`G` on :math:`X` with base point :math:`x_0`, the
    pairs :math:`(y, x_0)` fall into orbits exactly as :math:`y` does under the
    stabiliser :math:`G_{x_0}`, and :math:`(y, x) = t_x \cdot (t_x^{-1} y, x_0)` for any
    :math:`t_x` with :math:`t_x x_0 = x`. So

    .. math:: \mathrm{label}(y, x) = \mathrm{class}_{G_{x_0}}\!\left(t_x^{-1} y\right),

    with :math:`t_x` composed from generator steps and :math:`G_{x_0}` generated by
    Schreier generators (see ``_pair_orbit_ids``). No group element beyond those is
    ever formed, and no object has one entry per pair except the result.

    Cost: :math:`O(mn)` for most actions (at worst :math:`O(|S| m n)`, the Schreier
    generators), memory 4 bytes per pair plus 4 per orbit plus :math:`O(|S|(m+n))`.

    Parameters
    ----------
    in_images, out_images
        ``(n_generators, n)`` and ``(n_generators, m)`` generator image arrays of left
        actions: ``in_images[s][x]`` is :math:`s \cdot x`.

    Returns
    -------
    numpy.ndarray
        ``(m, n)`` int32 labels numbered by first appearance in row-major order.

    Raises
    ------
    TooLargeError
        Above :data:`PAIR_LIMIT` pairs, or when :func:`pattern_memory` exceeds the memory
        budget (``metasym._limits.memory_budget``, ``METASYM_MEMORY_LIMIT``).

    Examples
    --------
    >>> import numpy as np
    >>> shift = np.array([[1, 2, 0]])   # the cyclic group of order 3 on 3 points
    >>> pair_orbit_labels(shift, shift).tolist()
    [[0, 1, 2], [2, 0, 1], [1, 2, 0]]
    """
    in_images, out_images = _check_images(in_images, out_images)
    L, count = _pair_orbit_ids(in_images, out_images)
    _canonicalise(L, count)
    return L


def _check_images(in_images: Any, out_images: Any, *,
                  support: bool = False) -> tuple[np.ndarray, np.ndarray]:
    in_images = np.asarray(in_images, dtype=np.intp)
    out_images = np.asarray(out_images, dtype=np.intp)
    if in_images.ndim != 2 or out_images.ndim != 2:
        raise MismatchError("generator images must be (n_generators, degree) arrays")
    k, n = in_images.shape
    m = out_images.shape[1]
    if out_images.shape[0] != k:
        raise MismatchError("input and output actions have different numbers of generators")
    if m * n > PAIR_LIMIT:
        raise TooLargeError(f"{m} x {n} = {m * n} index pairs exceeds the limit {PAIR_LIMIT}")
    check_memory(pattern_memory(in_images, out_images, support=support),
                 f"the {m} x {n} sharing pattern")
    return in_images, out_images


def band_support(m: int, n: int, width: int, offset: int = 0) -> np.ndarray:
    r"""Support of a "valid" convolution: entry :math:`(y, x)` is free iff
    :math:`0 \le x - y - \text{offset} < \text{width}` (output ``y`` reads inputs
    ``y+offset .. y+offset+width-1``)."""
    m, n = integer(m, "band_support m", 1), integer(n, "band_support n", 1)
    width, offset = integer(width, "band width"), integer(offset, "band offset")
    if width < 1:
        raise SpecError(f"band width must be at least 1, got {width}")
    check_cells(m, n, "band_support")
    d = np.arange(n)[None, :] - np.arange(m)[:, None] - offset
    return (d >= 0) & (d < width)


def parse_support(spec: Any, m: int, n: int) -> np.ndarray | None:
    """A support mask from ``None``, a boolean ``(m, n)`` array, or ``band:K`` /
    ``band:K:OFFSET``."""
    if spec is None:
        return None
    if isinstance(spec, str):
        mt = re.fullmatch(r"\s*band\s*:\s*([0-9]{1,7})\s*(?::\s*(-?[0-9]{1,7})\s*)?", spec,
                          flags=re.ASCII)
        if not mt:
            raise SpecError(f"bad support spec {spec!r}: expected band:K or band:K:OFFSET")
        return band_support(m, n, int(mt.group(1)), int(mt.group(2) or 0))
    mask = np.asarray(spec)
    if mask.shape != (m, n):
        raise MismatchError(f"support mask has shape {mask.shape}, expected {(m, n)}")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise SpecError("support mask must be boolean (or 0/1)")
        mask = mask.astype(bool)
    return mask


class SharingPattern:
    r"""An ``m x n`` parameter-sharing pattern: entry ``(i, j)`` holds the id of the
    parameter it shares, ``-1`` where the entry is fixed to zero.

    Ids are canonical (numbered by first appearance in row-major order), so equal
    partitions are equal arrays; equality and hashing use the labels alone. The basis
    ``U`` (``mn x k``) maps parameters to :math:`\mathrm{vec}(W)` with row-major vec:
    ``W = (U @ v).reshape(m, n)``. Labels are stored as ``int32`` (``int64`` only for
    patterns of :math:`2^{31}` entries or more), so a pattern costs 4 bytes per entry.
    ``canonical=True`` trusts that the labels are canonical and takes the array over
    without a copy (it becomes read-only).

    For a pattern computed from group actions (:func:`sharing_pattern`) the span of ``U``
    is the space of equivariant maps :math:`\rho_Y(g) W = W \rho_X(g)`; the actions are
    kept in :attr:`in_action` / :attr:`out_action` for equivariance checks.

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> P = sharing_pattern(natural(cyclic(3)), natural(cyclic(3)))
    >>> P.labels.tolist()
    [[0, 1, 2], [2, 0, 1], [1, 2, 0]]
    >>> P.dimension
    3
    """

    __slots__ = ("_labels", "in_action", "out_action", "description", "_sizes")

    def __init__(self, labels: np.ndarray, in_action: GroupAction | None = None,
                 out_action: GroupAction | None = None, description: str = "",
                 *, canonical: bool = False) -> None:
        arr = np.asarray(labels)
        if arr.ndim != 2:
            raise MismatchError(f"labels must be a 2-D array, got shape {arr.shape}")
        if not np.issubdtype(arr.dtype, np.integer):
            raise MismatchError(f"labels must be integers, got dtype {arr.dtype}")
        if not canonical and arr.size and arr.min() < -1:  # (trusted: skip the pass)
            raise MismatchError("labels must be >= -1 (-1 marks entries outside the support)")
        # the dtype depends on the size alone, so equal patterns hash alike
        dtype = np.int32 if arr.size < 2**31 else np.int64
        arr = (arr if canonical else canonical_labels(arr)).astype(dtype, copy=False)
        arr.setflags(write=False)
        self._labels = arr
        if in_action is not None and in_action.degree != arr.shape[1]:
            raise MismatchError(f"input action degree {in_action.degree} != {arr.shape[1]} columns")
        if out_action is not None and out_action.degree != arr.shape[0]:
            raise MismatchError(f"output action degree {out_action.degree} != {arr.shape[0]} rows")
        self.in_action = in_action
        self.out_action = out_action
        self.description = description
        self._sizes = None

    # ----- value object ----------------------------------------------------------------
    @property
    def labels(self) -> np.ndarray:
        """``(m, n)`` int32 label matrix (read-only)."""
        return self._labels

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self._labels.shape)  # type: ignore[return-value]

    @property
    def dimension(self) -> int:
        """Number of free parameters ``k`` (= number of orbits meeting the support)."""
        return int(self._labels.max()) + 1 if self._labels.size else 0

    @property
    def support(self) -> np.ndarray:
        """Boolean mask of free entries."""
        return self._labels >= 0

    @property
    def orbit_sizes(self) -> np.ndarray:
        """Number of entries sharing each parameter, ``(k,)``."""
        if self._sizes is None:
            lab = self._labels[self._labels >= 0]
            self._sizes = np.bincount(lab, minlength=self.dimension)
        return self._sizes

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, SharingPattern) and self.shape == other.shape
                and np.array_equal(self._labels, other._labels))

    def __hash__(self) -> int:
        return hash((self.shape, self._labels.tobytes()))

    def __repr__(self) -> str:
        desc = f", {self.description!r}" if self.description else ""
        return f"SharingPattern(shape={self.shape}, dimension={self.dimension}{desc})"

    # ----- the basis U -------------------------------------------------------------------
    def basis(self, *, sparse: bool = False, orthonormal: bool = False,
              dtype: Any = None) -> np.ndarray | sp.csr_matrix:
        r"""The sharing matrix ``U`` of shape ``(m*n, k)``: column ``c`` is the indicator
        of orbit ``c`` (row-major vec), scaled by :math:`1/\sqrt{|\text{orbit}|}` when
        ``orthonormal``. Dense int64 (0/1) by default, float64 when orthonormal;
        ``sparse=True`` gives a ``scipy.sparse.csr_matrix`` with one entry per free entry.
        """
        m, n = self.shape
        k = self.dimension
        if dtype is None:
            dtype = np.float64 if orthonormal else np.int64
        item = np.dtype(dtype).itemsize
        # index arrays: rows (int64), cols, values and their float temporaries, at most
        # one of each per entry; scipy's COO -> CSR conversion holds two copies
        per_entry = 16 + 2 * max(item, 8)
        if sparse:
            check_memory(2 * m * n * per_entry, f"a sparse {m * n} x {k} sharing basis")
        else:
            if m * n * k > DENSE_BASIS_LIMIT:
                raise TooLargeError(
                    f"a dense U would have {m * n} x {k} = {m * n * k} entries (limit "
                    f"{DENSE_BASIS_LIMIT}); use basis(sparse=True) or the labels")
            check_memory(m * n * k * item + m * n * per_entry,
                         f"a dense {m * n} x {k} sharing basis (use basis(sparse=True) or "
                         "the labels)")
        flat = self._labels.ravel()
        rows = np.flatnonzero(flat >= 0)
        cols = flat[rows]
        vals = (1.0 / np.sqrt(self.orbit_sizes[cols]) if orthonormal
                else np.ones(rows.size)).astype(dtype)
        if sparse:
            return sp.csr_matrix((vals, (rows, cols)), shape=(m * n, k))
        U = np.zeros((m * n, k), dtype=dtype)
        U[rows, cols] = vals
        return U

    def to_torch(self, *, dtype: Any = None, sparse: bool = False, orthonormal: bool = False,
                 device: Any = None):
        """``U`` as a torch tensor (float32 by default; sparse COO on request)."""
        import torch  # lazily: this layer must not need torch

        dtype = dtype or torch.float32
        if not isinstance(dtype, torch.dtype):
            raise TypeError(f"dtype must be a torch.dtype such as torch.float32, got {dtype!r}")
        if device is not None:
            try:
                device = torch.device(device)
            except (RuntimeError, TypeError, ValueError):
                raise ValueError(f"device must be a torch device such as 'cpu' or 'cuda:0', "
                                 f"got {device!r}") from None
        try:
            if sparse:
                coo = self.basis(sparse=True, orthonormal=orthonormal, dtype=np.float64).tocoo()
                idx = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.long)
                return torch.sparse_coo_tensor(idx, torch.as_tensor(coo.data, dtype=dtype),
                                               coo.shape, device=device).coalesce()
            U = self.basis(orthonormal=orthonormal, dtype=np.float64)
            return torch.as_tensor(U, dtype=dtype, device=device)
        except (RuntimeError, AssertionError) as e:  # an unavailable device, a bad dtype
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise MetasymError(f"cannot build U on device {device} with dtype {dtype}: "
                               f"{msg[:200]}") from None

    def weight(self, v: np.ndarray) -> np.ndarray:
        """``W = (U v).reshape(m, n)`` computed from the labels (no ``U`` is built).
        ``v`` may carry leading batch dimensions: ``(..., k) -> (..., m, n)``."""
        v = np.asarray(v)
        if v.ndim == 0 or not (np.issubdtype(v.dtype, np.number)
                               or np.issubdtype(v.dtype, np.bool_)):
            raise TypeError(f"v must be a numeric array of shape (..., {self.dimension}), "
                            f"got {type(v).__name__} of dtype {v.dtype} and shape {v.shape}")
        if v.shape[-1] != self.dimension:
            raise MismatchError(f"expected {self.dimension} parameters, got {v.shape[-1]}")
        lab = self._labels
        W = v[..., np.maximum(lab, 0)]
        return np.where(lab >= 0, W, np.zeros((), dtype=W.dtype))

    def random_weight(self, rng: np.random.Generator | int | None = None,
                      batch: tuple[int, ...] = ()) -> np.ndarray:
        """A weight in the span with i.i.d. standard normal parameters."""
        rng = rng_arg(rng)
        if not isinstance(batch, tuple) or any(isinstance(b, bool) or not isinstance(
                b, (int, np.integer)) or b < 0 for b in batch):
            raise TypeError(f"batch must be a tuple of non-negative integers, got {batch!r}")
        return self.weight(rng.standard_normal(batch + (self.dimension,)))

    # ----- projection and equivariance ---------------------------------------------------
    def project(self, W: np.ndarray) -> np.ndarray:
        r"""Orthogonal projection onto the span: average ``W`` over each orbit, zero
        outside the support. For a pattern of group actions this equals the Reynolds
        operator :math:`\frac{1}{|G|}\sum_g \rho_Y(g) W \rho_X(g)^{-1}`. Accepts
        ``(..., m, n)`` of real numbers (an object, string or complex array is a
        ``TypeError`` saying so)."""
        W = real_array(W, "W")
        W = W.astype(np.result_type(W.dtype, np.float64), copy=False)
        if W.shape[-2:] != self.shape:
            raise MismatchError(f"W has shape {W.shape[-2:]}, pattern is {self.shape}")
        lab = self._labels.ravel()
        keep = lab >= 0
        flatW = W.reshape(-1, lab.size)[:, keep]
        k = self.dimension
        batch = flatW.shape[0]
        ids = lab[keep][None, :] + k * np.arange(batch)[:, None]
        sums = np.bincount(ids.ravel(), weights=flatW.ravel(), minlength=batch * k)
        means = sums.reshape(batch, k) / np.maximum(self.orbit_sizes, 1)
        out = np.zeros((batch, lab.size), dtype=W.dtype)
        out[:, keep] = means[:, lab[keep]]
        # NaN/inf outside the support would otherwise vanish: propagate it to the whole
        # projection of that matrix (a projection of a non-finite W is not finite)
        bad = ~np.isfinite(W.reshape(batch, lab.size)).all(axis=1)
        if bad.any():
            out[bad] = np.nan
        return out.reshape(W.shape)

    def _require_actions(self) -> tuple[GroupAction, GroupAction]:
        if self.in_action is None or self.out_action is None:
            raise MetasymError("this pattern carries no group actions (built from labels, a "
                               "restriction or a learned U): equivariance is undefined")
        return self.in_action, self.out_action

    def equivariance_error(self, W: np.ndarray, reduce: str = "mean") -> float:
        r"""Relative equivariance error of ``W`` under the pattern's actions:
        :math:`\|\rho_Y(s) W - W \rho_X(s)\|_F / \|W\|_F`, averaged (``reduce="mean"``) or
        maximised (``"max"``) over the generators ``s``. Zero for ``W`` in the span of a
        pattern without support mask; NaN when ``W`` has a NaN or infinite entry (so
        :meth:`is_equivariant` is then false)."""
        a_in, a_out = self._require_actions()
        if reduce not in ("mean", "max"):
            raise ValueError(f"reduce must be 'mean' or 'max', got {reduce!r}")
        W = real_array(W, "W").astype(np.float64, copy=False)
        if W.shape != self.shape:
            raise MismatchError(f"W has shape {W.shape}, pattern is {self.shape}")
        if not np.isfinite(W).all():
            return float("nan")
        norm = np.linalg.norm(W)
        errs = []
        for s_in, s_out in zip(a_in.generator_images, a_out.generator_images):
            # (rho_Y(s) W)[s(y), x] = W[y, x];  (W rho_X(s))[y, x] = W[y, s(x)]
            left = np.empty_like(W)
            left[s_out, :] = W
            right = W[:, s_in]
            errs.append(np.linalg.norm(left - right) / norm if norm > 0 else 0.0)
        if not errs:
            return 0.0
        return float(np.max(errs) if reduce == "max" else np.mean(errs))

    def is_equivariant(self, W: np.ndarray, atol: float | None = None) -> bool:
        """Whether :meth:`equivariance_error` (max over generators) is at most ``atol``
        (default: ``100 * eps`` of ``W``'s float dtype, 1e-12 for integers)."""
        if atol is None:
            dt = real_array(W, "W").dtype
            atol = 100 * np.finfo(dt).eps if np.issubdtype(dt, np.floating) else 1e-12
        return self.equivariance_error(W, reduce="max") <= atol

    # ----- derived patterns --------------------------------------------------------------
    def restrict(self, rows: Any = None, cols: Any = None, description: str = "") -> SharingPattern:
        """The sub-pattern on the given rows / columns (index arrays or slices),
        renumbered canonically. The result carries no actions."""
        lab = self._labels
        try:
            if rows is not None:
                lab = lab[rows, :]
            if cols is not None:
                lab = lab[:, cols]
        except IndexError as e:
            raise ValueError(f"rows/cols must be slices or integer/boolean index arrays "
                             f"within the pattern's shape {self.shape}: {e}") from None
        if lab.ndim != 2:
            raise ValueError(f"rows/cols must keep two dimensions, got shape {lab.shape}")
        return SharingPattern(lab, description=description or self.description)

    def with_support(self, support: Any) -> SharingPattern:
        """Entries outside ``support`` (mask or ``band:K``) fixed to zero."""
        mask = parse_support(support, *self.shape)
        lab = np.where(mask, self._labels, -1)
        return SharingPattern(lab, self.in_action, self.out_action, self.description)

    # ----- files -------------------------------------------------------------------------
    def save(self, path: str | Path, *, dense_limit: int = 10_000_000) -> dict:
        """Write ``labels`` and ``U`` in ``.npz`` format to exactly ``path`` (atomically; a
        link at ``path`` is replaced, never written through; no suffix is added). ``U`` is
        dense 0/1 when it has at most ``dense_limit`` entries, else stored sparse as
        ``U_rows``/``U_cols``/``U_shape`` (the labels determine it). Returns what was
        written, with the ``path``."""
        if not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
        m, n = self.shape
        k = self.dimension
        data: dict[str, np.ndarray] = {"labels": self._labels}
        info = {"U": "dense"}
        if m * n * k <= dense_limit:
            data["U"] = self.basis(dtype=np.int8)
        else:
            U = self.basis(sparse=True, dtype=np.int8).tocoo()
            data.update(U_rows=U.row.astype(np.int64), U_cols=U.col.astype(np.int64),
                        U_shape=np.array(U.shape, dtype=np.int64))
            info["U"] = f"sparse (dense would have {m * n * k} entries > {dense_limit})"
        from metasym.files import atomic_write

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: numpy would append ".npz" to a name
                np.savez_compressed(f, **data)

        info["path"] = str(atomic_write(path, write))  # exactly this path; links replaced
        return info

    @classmethod
    def load(cls, path: str | Path) -> SharingPattern:
        """Read a pattern saved by :meth:`save` (no pickles are ever loaded)."""
        labels = read_npz(path, required=("labels",), ndims={"labels": 2},
                          kinds={"labels": "iu"})["labels"]
        try:
            return cls(labels)
        except MetasymError as e:
            raise MetasymError(f"{path}: {e}") from None


def sharing_pattern(rep_in: Any, rep_out: Any, support: Any = None) -> SharingPattern:
    r"""The exact sharing pattern of equivariant linear maps :math:`X \to Y`.

    :math:`W` satisfies :math:`\rho_Y(g) W = W \rho_X(g)` for all :math:`g` iff
    :math:`W_{g y, g x} = W_{y x}`, i.e. :math:`W` is constant on the orbits of
    :math:`G` on :math:`Y \times X`; the orbit indicators are a basis (:math:`U^G`).
    Computed from generators only (see :func:`pair_orbit_labels`).

    Parameters
    ----------
    rep_in, rep_out
        Permutation representations (or group actions) of the same group.
    support
        Optional mask (or ``"band:K"``): entries outside are fixed to zero (locality).

    Examples
    --------
    >>> from metasym.groups import symmetric, natural
    >>> sharing_pattern(natural(symmetric(4)), natural(symmetric(4))).dimension
    2
    """
    a_in, a_out = as_permutation_action(rep_in), as_permutation_action(rep_out)
    if a_in.group != a_out.group:
        raise MismatchError(f"input and output are actions of different groups: "
                            f"{a_in.group.spec} and {a_out.group.spec}")
    images = _check_images(a_in.generator_images, a_out.generator_images,
                           support=support is not None)
    desc = f"{a_in.group.spec}: {a_in.spec} -> {a_out.spec}"
    mask = None
    if support is not None:  # parsed first: a bad spec fails before the work
        mask = parse_support(support, a_out.degree, a_in.degree)
        desc += " (with support)"
    labels, count = _pair_orbit_ids(*images)
    if mask is not None:
        labels[~mask] = -1
    _canonicalise(labels, count)
    return SharingPattern(labels, a_in, a_out, desc, canonical=True)
