"""Permutation helpers on numpy arrays (image arrays: ``p[x]`` is the image of ``x``).

Composition here is function composition: ``compose(f, g)[x] = f[g[x]]`` (apply ``g`` first).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from sympy.combinatorics import Permutation

from metasym.errors import SpecError, TooLargeError

__all__ = [
    "as_array",
    "compose",
    "inverse",
    "format_cycles",
    "parse_cycles",
    "bfs_enumerate",
    "permutation_orders",
]


def as_array(p: Permutation | Sequence[int] | np.ndarray, degree: int | None = None) -> np.ndarray:
    """Image array (int64) of a permutation given as sympy object, list or array."""
    if isinstance(p, Permutation):
        arr = np.asarray(p.array_form, dtype=np.int64)
        if degree is not None and arr.size < degree:
            arr = np.concatenate([arr, np.arange(arr.size, degree, dtype=np.int64)])
    else:
        if isinstance(p, (str, bytes)) or p is None or isinstance(p, bool):
            raise TypeError(f"a permutation must be a sympy Permutation or a sequence of "
                            f"integers, got {type(p).__name__}")
        try:
            arr = np.asarray(p, dtype=np.int64).reshape(-1)
        except OverflowError:
            raise SpecError("a permutation entry does not fit in 64 bits") from None
    if degree is not None and arr.size != degree:
        raise SpecError(f"permutation has degree {arr.size}, expected {degree}")
    # bijectivity by counting (O(n)); np.unique sorts or hashes and is far slower
    if arr.size and (arr.min() < 0 or arr.max() >= arr.size
                     or not (np.bincount(arr, minlength=arr.size) == 1).all()):
        shown = arr[:20].tolist()
        more = f" ... ({arr.size} entries)" if arr.size > 20 else ""
        raise SpecError(f"not a permutation of 0..{arr.size - 1}: {shown}{more}")
    return arr


def compose(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """``f ∘ g`` (apply ``g`` first, then ``f``)."""
    return f[g]


def inverse(p: np.ndarray) -> np.ndarray:
    """Inverse image array."""
    inv = np.empty_like(p)
    inv[p] = np.arange(p.size, dtype=p.dtype)
    return inv


def cycles(p: np.ndarray) -> list[list[int]]:
    """Every cycle of ``p`` (fixed points included), each from its least point, in order
    of those points.

    >>> cycles(np.array([1, 2, 0, 4, 3, 5]))
    [[0, 1, 2], [3, 4], [5]]
    """
    seen = np.zeros(p.size, dtype=bool)
    out = []
    for start in range(p.size):
        if seen[start]:
            continue
        cycle = [start]
        seen[start] = True
        x = int(p[start])
        while x != start:
            cycle.append(x)
            seen[x] = True
            x = int(p[x])
        out.append(cycle)
    return out


def format_cycles(p: np.ndarray) -> str:
    """Disjoint-cycle notation with fixed points left out, ``()`` for the identity.

    >>> format_cycles(np.array([1, 2, 0, 4, 3]))
    '(0 1 2)(3 4)'
    """
    return "".join("(" + " ".join(map(str, c)) + ")" for c in cycles(p) if len(c) > 1) or "()"


def parse_cycles(text: str, degree: int) -> np.ndarray:
    """Parse disjoint-cycle notation such as ``(0 1 2)(3 4)`` (or ``()``) on ``0..degree-1``.

    Cycles must be disjoint: ``(0 1)(1 2)`` is rejected, since products of overlapping
    cycles are read in opposite orders by different authors.
    """
    s = text.strip()
    p = np.arange(degree, dtype=np.int64)
    if s in ("", "()"):
        if s == "":
            raise SpecError("empty permutation: write () for the identity")
        return p
    used: set[int] = set()
    i = 0
    while i < len(s):
        if s[i].isspace():
            i += 1
            continue
        if s[i] != "(":
            raise SpecError(f"bad cycle notation {text!r}: expected '(' at position {i}")
        j = s.find(")", i)
        if j < 0:
            raise SpecError(f"bad cycle notation {text!r}: unclosed '('")
        body = s[i + 1 : j].replace(",", " ").split()
        if not body:
            raise SpecError(f"bad cycle notation {text!r}: empty cycle inside a product")
        # ASCII digits only: int() also reads "٣", "３", "+3" and "1_0"
        if not all(t.isascii() and t.isdigit() for t in body):
            raise SpecError(f"bad cycle notation {text!r}: points must be integers "
                            "written with the digits 0-9")
        if any(len(t) > 7 for t in body):
            raise SpecError(f"bad cycle notation {text!r}: a point above {degree - 1}")
        pts = [int(t) for t in body]
        for x in pts:
            if not 0 <= x < degree:
                raise SpecError(f"point {x} in {text!r} is outside 0..{degree - 1}")
            if x in used:
                raise SpecError(f"point {x} appears twice in {text!r}: cycles must be disjoint")
            used.add(x)
        for a, b in zip(pts, pts[1:] + pts[:1]):
            p[a] = b
        i = j + 1
    return p


def bfs_enumerate(generators: Iterable[np.ndarray], degree: int, limit: int,
                  key_width: int | None = None) -> np.ndarray:
    """All elements of the group generated by ``generators`` in breadth-first order.

    Starts at the identity; from each element ``e`` (in queue order) visits ``s ∘ e`` for
    each generator ``s`` in order (left multiplication). ``key_width`` uses only the first
    ``key_width`` points to tell elements apart (valid when those points determine the
    element, e.g. the group part of an element of a graph group).

    Raises :class:`TooLargeError` as soon as more than ``limit`` elements are found.
    """
    gens = [np.asarray(g, dtype=np.int64) for g in generators]
    width = degree if key_width is None else key_width
    dtype = np.int32 if degree < 2**31 else np.int64
    ident = np.arange(degree, dtype=dtype)
    seen = {ident[:width].tobytes()}
    out = [ident]
    head = 0
    gens_c = [g.astype(dtype) for g in gens]
    while head < len(out):
        e = out[head]
        head += 1
        for s in gens_c:
            new = s[e]
            key = new[:width].tobytes()
            if key not in seen:
                seen.add(key)
                out.append(new)
                if len(out) > limit:
                    raise TooLargeError(
                        f"group has more than {limit} elements: enumeration refused "
                        "(use generator-based methods instead)"
                    )
    return np.stack(out).astype(np.int64)


def permutation_orders(perms: np.ndarray, chunk_cells: int = 4_000_000) -> np.ndarray:
    """Order (lcm of the cycle lengths) of each row of an ``(N, degree)`` image array.

    Vectorised and polynomial: each point's cycle is labelled by its smallest point with
    pointer doubling (``ceil(log2 degree)`` rounds of ``L = min(L, L[P]); P = P[P]``),
    then the cycle lengths are counted and combined with ``lcm``. :math:`O(N d \\log d)`
    time, rows processed in chunks of at most ``chunk_cells`` entries. The result must fit
    in int64 (true for elements of any group small enough to enumerate: an element's
    order divides the group's).
    """
    perms = np.asarray(perms, dtype=np.int64)
    if perms.ndim != 2:
        raise ValueError(f"perms must be a 2-D image array, got shape {perms.shape}")
    N, d = perms.shape
    out = np.ones(N, dtype=np.int64)
    if N == 0 or d <= 1:
        return out
    rounds = max(1, int(d - 1).bit_length())
    rows_per_chunk = max(1, chunk_cells // d)
    for lo in range(0, N, rows_per_chunk):
        P = perms[lo:lo + rows_per_chunk]
        n = len(P)
        L = np.broadcast_to(np.arange(d, dtype=np.int64), (n, d)).copy()
        for _ in range(rounds):
            L = np.minimum(L, np.take_along_axis(L, P, axis=1))
            P = np.take_along_axis(P, P, axis=1)
        keys = np.unique((np.arange(n, dtype=np.int64)[:, None] * d + L).ravel(),
                         return_counts=True)
        rows = keys[0] // d
        sizes = keys[1]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[lo + rows[starts]] = np.lcm.reduceat(sizes, starts)
    return out
