r"""Conjugacy classes of a permutation group without listing the group.

:class:`StabChain` is a numpy copy of sympy's base and strong generating set (Schreier-Sims):
the base :math:`B = (b_1, \dots, b_m)` and, per level, a transversal :math:`U_j` of the
basic stabiliser :math:`G^{(j)} = G_{b_1, \dots, b_{j-1}}` on the orbit :math:`\Delta_j`
of :math:`b_j`. Every element is uniquely :math:`g = u_1 u_2 \cdots u_m`
(:math:`u_j \in U_j`, function composition), which gives

* uniform random elements (one random coset representative per level),
* an exact **rank** :math:`g \mapsto (i_1, \dots, i_m) \mapsto \sum_j i_j \prod_{l>j}
  |\Delta_l|` in :math:`[0, |G|)` read from the images of the base alone
  (:math:`O(m^2)` per element, vectorised),
* exact membership of arbitrary permutations (sifting).

:class:`ClassSearch` finds the classes :math:`C_1 = \{1\}, \dots, C_r` by random search:

1. Uniform random elements (and the powers of every representative, and its products
   with central elements) are sorted into *buckets* by cycle type (a class invariant,
   vectorised by pointer doubling).
2. A new cycle type is a new class; its size is :math:`|G|/|C_G(z)|`, with
   :math:`|C_G(z)| = |G \cap C_{S_n}(z)|` counted by sifting the listed
   :math:`C_{S_n}(z)` when it is small, else sympy's centraliser (a backtrack search:
   milliseconds on up to 40 points, seconds on 126), or, above 40 points, the class is
   walked (below) and counted. The Galois conjugates :math:`z^u`
   (:math:`\gcd(u, o) = 1`) share the cycle type; :math:`z^u \sim z` is decided exactly
   (below) for enough ``u`` to know the subgroup :math:`K = \{u : z^u \sim z\}`, and
   one new class is added per coset of ``K``.
3. The search stops when the class sizes add up to :math:`|G|` (then every class is
   found, and no bucket holds an undiscovered class). If it stalls (random elements
   bring no new cycle type), random elements of known cycle types are tested against
   the classes of their bucket (their ranks looked up in the enumerated classes, or the
   centraliser order and then the exact conjugacy test).

**Exact conjugacy test** :math:`y \sim_G z` for elements of one cycle type: a fixed
:math:`h_0 \in S_n` with :math:`h_0 z h_0^{-1} = y` (cycles matched in order) turns the
question into whether the coset :math:`h_0 C_{S_n}(z)` meets ``G``;
:math:`C_{S_n}(z) = \prod_l C_l \wr S_{m_l}` (``m_l`` cycles of length ``l``) is listed
when it has at most :data:`SYMMETRIC_CENTRALISER_LIMIT` elements and sifted through the
chain in one vectorised pass. Above that, the class of ``z`` is enumerated (breadth-first
under conjugation by the generators, visited elements kept as sorted ranks: 8 bytes per
element) and ``y`` looked up by its rank.

**Walking a class** (its elements, for class multiplication coefficients, or its size):
breadth-first under conjugation by the generators, level by level as ``(count, d)``
arrays; visited elements are marked by rank in a bitmap of one byte per group element
(orders up to :data:`BITMAP_LIMIT`, else kept as sorted ranks).

**Identifying** the class of many elements (class multiplication coefficients, power
maps): the bucket from the fixed points of a few powers :math:`x^k` (``k`` chosen once so
that they tell the group's cycle types apart: exact, since every element's cycle type is
one of them), and inside buckets that hold several classes the ranks of the elements are
looked up in the enumerated classes of the bucket (all but its largest class, which is
what remains). Memory: 8 bytes per element of those enumerated classes, plus the chain
(:math:`O(m\,n\,d)` for ``n`` points); never an array of the whole group.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np
from sympy import primefactors
from sympy.combinatorics import Permutation

from metasym.errors import TooLargeError
from metasym.groups._perm import cycles
from metasym.groups.finite_group import FiniteGroup

__all__ = ["StabChain", "ClassSearch", "FoundClass", "cycle_counts", "fixed_point_signature",
           "symmetric_centraliser_order", "SYMMETRIC_CENTRALISER_LIMIT",
           "ENUMERATED_CLASS_LIMIT", "SAMPLE_LIMIT", "BITMAP_LIMIT", "WALK_LIMIT",
           "SYMPY_CENTRALISER_DEGREE"]

#: Largest :math:`|C_{S_n}(z)| \cdot n` (entries) listed for a conjugacy test or a
#: centraliser order (else the class is enumerated, or sympy's centraliser is used).
SYMMETRIC_CENTRALISER_LIMIT = 1_000_000
#: Largest number of elements of enumerated classes held (as 8-byte ranks).
ENUMERATED_CLASS_LIMIT = 20_000_000
#: Largest number of entries (points x elements, one or two bytes each) of enumerated
#: classes kept to be walked again without the breadth-first search.
KEPT_CELLS = 20_000_000
#: Largest class walked to learn its size or to test membership by ranks.
WALK_LIMIT = 300_000
#: Above this degree a class is walked for its size rather than asking sympy's
#: centraliser (seconds per call at degree ~100).
SYMPY_CENTRALISER_DEGREE = 40
#: Largest order for which walks through a class mark visited elements in a bitmap of
#: one byte per group element (above: sorted arrays of ranks, slower).
BITMAP_LIMIT = 50_000_000
#: Random elements drawn before the search gives up.
SAMPLE_LIMIT = 400_000


class StabChain:
    """Base, transversals and ranks of a permutation group (see the module docstring).

    Parameters
    ----------
    group
        The group; sympy's Schreier-Sims gives the base and strong generating set.
    """

    def __init__(self, group: FiniteGroup) -> None:
        S = group.sympy_group
        S.schreier_sims()
        d = group.degree
        self.degree = d
        self.base = np.array([int(b) for b in S.base], dtype=np.int64)
        self.sizes: list[int] = []
        self.U: list[np.ndarray] = []       # (|Delta_j|, d) transversal elements
        self.Uinv_flat: list[np.ndarray] = []  # inverses, flattened for gathers
        self.pos: list[np.ndarray] = []     # point -> index in Delta_j, -1 outside
        for j, tr in enumerate(S.basic_transversals):
            pts = sorted(int(x) for x in tr)
            U = np.empty((len(pts), d), dtype=np.int64)
            for i, x in enumerate(pts):
                a = tr[x].array_form
                U[i, :len(a)] = a
                U[i, len(a):] = np.arange(len(a), d)
            Uinv = np.empty_like(U)
            np.put_along_axis(Uinv, U, np.broadcast_to(np.arange(d), U.shape), axis=1)
            pos = np.full(d, -1, dtype=np.int64)
            pos[pts] = np.arange(len(pts))
            if not (U[:, self.base[j]] == np.array(pts)).all():  # pragma: no cover
                raise ArithmeticError("a transversal element does not map the base point")
            self.sizes.append(len(pts))
            self.U.append(U)
            self.Uinv_flat.append(Uinv.ravel())
            self.pos.append(pos)
        self.order = math.prod(self.sizes)
        self.generators = np.asarray(group.generator_arrays, dtype=np.int64)

    @property
    def length(self) -> int:
        return len(self.sizes)

    def random(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` uniformly random elements, ``(n, degree)``."""
        out = np.broadcast_to(np.arange(self.degree, dtype=np.int64), (n, self.degree)).copy()
        for j in range(self.length - 1, -1, -1):
            idx = rng.integers(0, self.sizes[j], size=n)
            out = np.take_along_axis(self.U[j][idx], out, axis=1)  # u_j o (u_{j+1} ...)
        return out

    def rank(self, base_images: np.ndarray) -> np.ndarray:
        """Exact ranks in ``[0, |G|)`` of group elements given by their images of the base
        (``(n, m)``); the elements must lie in the group (see :meth:`contains`)."""
        R = np.array(base_images, dtype=np.int64).reshape(-1, self.length)
        rank = np.zeros(len(R), dtype=np.int64)
        d = self.degree
        for j in range(self.length):
            i = self.pos[j][R[:, j]]
            rank = rank * self.sizes[j] + i
            if j + 1 < self.length:
                R[:, j + 1:] = self.Uinv_flat[j][i[:, None] * d + R[:, j + 1:]]
        return rank

    def contains(self, perms: np.ndarray) -> np.ndarray:
        r"""Whether each row of ``perms`` (``(n, degree)``) is an element: the images of
        the base are sifted (a base image outside a basic orbit rejects), then the one
        element :math:`u_1 \cdots u_m` of ``G`` with those base images is compared with
        the row on every point."""
        g = np.asarray(perms, dtype=np.int64)
        R = g[:, self.base].copy()
        ok = np.ones(len(g), dtype=bool)
        idx = []
        d = self.degree
        for j in range(self.length):
            i = self.pos[j][R[:, j]]
            ok &= i >= 0
            i = np.maximum(i, 0)
            idx.append(i)
            if j + 1 < self.length:
                R[:, j + 1:] = self.Uinv_flat[j][i[:, None] * d + R[:, j + 1:]]
        sel = np.flatnonzero(ok)
        if not sel.size:
            return ok
        if not self.length:
            ok[sel] = (g[sel] == np.arange(d)).all(axis=1)
            return ok
        h = self.U[-1][idx[-1][sel]]
        for j in range(self.length - 2, -1, -1):
            h = np.take_along_axis(self.U[j][idx[j][sel]], h, axis=1)
        ok[sel] = (h == g[sel]).all(axis=1)
        return ok

    def rank_elements(self, perms: np.ndarray) -> np.ndarray:
        """:meth:`rank` of full permutations."""
        return self.rank(np.asarray(perms)[:, self.base])


def cycle_counts(perms: np.ndarray) -> np.ndarray:
    r"""Cycle type of each row as ``(n, degree + 1)`` counts: entry ``l`` is the number of
    points on cycles of length ``l``. Pointer doubling labels each point's cycle by its
    smallest point in :math:`\lceil\log_2 d\rceil` rounds: :math:`O(n\,d\log d)`, on
    flat int32 indices (10x faster than int64 gathers here)."""
    P = np.asarray(perms)
    n, d = P.shape
    it = np.int32 if n * (d + 1) < 2**31 else np.int64
    offs = (np.arange(n, dtype=it) * d)[:, None]
    G = (P.astype(it) + offs).ravel()  # global indices: P composed with itself is G[G]
    L = np.tile(np.arange(d, dtype=it), n)
    for _ in range(max(1, int(d - 1).bit_length())):
        np.minimum(L, L[G], out=L)
        G = G[G]
    flat = (L.reshape(n, d) + offs).ravel()
    length = np.bincount(flat, minlength=n * d)[flat].astype(it)  # cycle length per point
    cells = (length.reshape(n, d) + (np.arange(n, dtype=it) * (d + 1))[:, None]).ravel()
    return np.bincount(cells, minlength=n * (d + 1)).reshape(n, d + 1)


def fixed_point_signature(perms: np.ndarray, ks: list[int]) -> np.ndarray:
    r"""Number of fixed points of :math:`x^k` for each row ``x`` and each ``k`` in ``ks``
    (``(n, len(ks))``): powers by repeated squaring on flat int32 indices.
    :math:`\mathrm{fix}(x^k) = \sum_{l | k} (\text{points on cycles of length } l)`, so
    for ``ks`` the divisors of the exponent this determines the cycle type; a few ``k``
    usually tell a group's cycle types apart, at a fraction of :func:`cycle_counts`."""
    P = np.asarray(perms)
    n, d = P.shape
    it = np.int32 if n * d < 2**31 else np.int64
    G = (P.astype(it) + (np.arange(n, dtype=it) * d)[:, None]).ravel()
    ident = np.arange(n * d, dtype=it)
    squares = [G]
    for _ in range(1, max(ks).bit_length()):
        squares.append(squares[-1][squares[-1]])
    out = np.empty((n, len(ks)), dtype=np.int64)
    for t, k in enumerate(ks):
        cur = None
        for j in range(k.bit_length()):
            if k >> j & 1:
                cur = squares[j] if cur is None else squares[j][cur]
        out[:, t] = (cur == ident).reshape(n, d).sum(axis=1)
    return out


def _signature_of_counts(counts: np.ndarray, ks: list[int]) -> np.ndarray:
    """:func:`fixed_point_signature` computed from cycle types (rows of counts)."""
    c = np.asarray(counts)
    ls = np.arange(c.shape[1])
    return np.stack([c[:, [l_ for l_ in ls[1:] if k % l_ == 0]].sum(axis=1) for k in ks],
                    axis=1)


def _separating_powers(counts: np.ndarray, e: int) -> list[int]:
    """Few ``k`` (divisors of ``e``, smallest first) whose fixed-point counts tell the
    cycle types ``counts`` (distinct rows) apart."""
    divisors = [k for k in range(1, e + 1) if e % k == 0]
    ks: list[int] = []
    n_groups = 1
    for k in divisors:
        sig = _signature_of_counts(counts, ks + [k])
        groups = np.unique(sig, axis=0).shape[0]
        if groups > n_groups:
            ks.append(k)
            n_groups = groups
        if n_groups == len(counts):
            break
    if n_groups != len(counts):  # pragma: no cover - the divisors of e always separate
        raise ArithmeticError("fixed points of powers do not separate the cycle types")
    return ks or [1]


def _orders(counts: np.ndarray) -> np.ndarray:
    """Element orders (lcm of the cycle lengths) from :func:`cycle_counts` rows."""
    ls = np.arange(counts.shape[1], dtype=np.int64)
    out = np.ones(len(counts), dtype=np.int64)
    for l_ in range(2, counts.shape[1]):
        has = counts[:, l_] > 0
        if has.any():
            out[has] = np.lcm(out[has], ls[l_])
    return out


def _power(z: np.ndarray, k: int) -> np.ndarray:
    """``z^k`` for ``k >= 0`` by repeated squaring."""
    out = np.arange(z.size, dtype=np.int64)
    base = z.copy()
    while k:
        if k & 1:
            out = base[out]
        base = base[base]
        k >>= 1
    return out


def _cycles(z: np.ndarray) -> list[list[int]]:
    """Cycles of ``z`` (fixed points included), sorted by length, each from its least point."""
    return sorted(cycles(z), key=len)


def symmetric_centraliser_order(counts: np.ndarray) -> int:
    r""":math:`|C_{S_n}(z)| = \prod_l l^{m_l} m_l!` from a :func:`cycle_counts` row."""
    out = 1
    for l_, pts in enumerate(np.asarray(counts).tolist()):
        if l_ and pts:
            m = pts // l_
            out *= l_**m * math.factorial(m)
    return out


def _symmetric_centraliser(z: np.ndarray) -> np.ndarray:
    r"""All of :math:`C_{S_n}(z)` as an ``(count, n)`` array: per cycle length ``l`` a
    permutation of the ``m_l`` cycles and a rotation of each (vectorised)."""
    import itertools

    d = z.size
    by_len: dict[int, list[list[int]]] = {}
    for c in _cycles(z):
        by_len.setdefault(len(c), []).append(c)
    out = np.arange(d, dtype=np.int64)[None, :]
    for l_, cycs in by_len.items():
        C = np.array(cycs, dtype=np.int64)  # (m, l): C[j, t] = z^t(C[j, 0])
        m = len(cycs)
        P = np.array(list(itertools.permutations(range(m))), dtype=np.int64)  # (m!, m)
        R = np.indices((l_,) * m, dtype=np.int64).reshape(m, -1).T  # (l^m, m) rotations
        t = np.arange(l_, dtype=np.int64)
        cyc = np.broadcast_to(P[:, None, :, None], (len(P), len(R), m, l_))
        at = (t[None, None, None, :] + R[None, :, :, None]) % l_
        M = C[cyc, np.broadcast_to(at, cyc.shape)].reshape(-1, m * l_)
        new = np.repeat(out, len(M), axis=0)
        new[:, C.ravel()] = np.tile(M, (len(out), 1))
        out = new
    return out


def _matching(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    """``h`` with ``h z h^-1 = y`` in :math:`S_n` (same cycle type; cycles matched in
    order of length)."""
    h = np.empty(z.size, dtype=np.int64)
    for cz, cy in zip(_cycles(z), _cycles(y)):
        h[cz] = cy
    return h


@dataclass
class FoundClass:
    """A class found by :class:`ClassSearch`."""

    rep: np.ndarray
    size: int
    order: int
    bucket: bytes
    ranks: np.ndarray | None = None  # sorted ranks of all its elements, when enumerated


@dataclass
class _Bucket:
    counts: np.ndarray
    classes: list[int] = field(default_factory=list)
    enumerated: bool = False  # every class but ``rest`` has its ranks (or is central)
    rest: int = -1  # the class left over when the others do not match


class ClassSearch:
    """Conjugacy classes by random search (see the module docstring).

    Parameters
    ----------
    group
        A permutation group.
    max_classes
        Stop with :class:`~metasym.errors.TooLargeError` past this many classes.
    seed
        Seed of the random elements (the classes found do not depend on it; their
        representatives and order do).
    """

    def __init__(self, group: FiniteGroup, seed: int = 0,
                 max_classes: int | None = None) -> None:
        self.group = group
        self.max_classes = max_classes
        self.chain = StabChain(group)
        self.order = self.chain.order
        self.degree = group.degree
        self.rng = np.random.default_rng(seed)
        self.classes: list[FoundClass] = []
        self.buckets: dict[bytes, _Bucket] = {}
        self.total = 0
        self._w = np.random.default_rng(12345).integers(1, 2**62, size=self.degree + 1,
                                                        dtype=np.int64)
        self.samples = 0
        self.enumerated_elements = 0
        gens = self.chain.generators
        self._gens = [(g, np.argsort(g)) for g in gens]
        self._abelian = group.is_abelian
        self._centre: list[int] = []
        self._sc_cache: tuple[bytes, np.ndarray] = (b"", np.zeros(0))
        self._ks: list[int] = [1]
        # elements of enumerated classes, kept for later walks (uint8/uint16/int32)
        self._kept: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self._kept_cells = 0
        self._small_dtype = (np.uint8 if self.degree <= 256 else
                             np.uint16 if self.degree <= 65536 else np.int32)
        self._walked: dict[bytes, np.ndarray] = {}  # ranks of classes walked for their size
        self._index: tuple[np.ndarray, list[_Bucket], np.ndarray, np.ndarray] | None = None

    # ----- invariants ---------------------------------------------------------------------
    def _keys(self, counts: np.ndarray) -> list[bytes]:
        return [c.tobytes() for c in counts]

    def _sym_centraliser(self, z: np.ndarray, counts: np.ndarray) -> np.ndarray | None:
        """:math:`C_{S_n}(z)` listed, or ``None`` above the limit (cached for one ``z``)."""
        if symmetric_centraliser_order(counts) * self.degree > SYMMETRIC_CENTRALISER_LIMIT:
            return None
        key = z.tobytes()
        if self._sc_cache[0] != key:
            self._sc_cache = (key, _symmetric_centraliser(z))
        return self._sc_cache[1]

    def _centraliser_order(self, z: np.ndarray, counts: np.ndarray | None = None) -> int:
        r""":math:`|C_G(z)|`: ``|G|`` for central elements; else
        :math:`|G \cap C_{S_n}(z)|` by sifting the listed :math:`C_{S_n}(z)` when it is
        small; else sympy's centraliser (a backtrack search) on few points; else the
        class is walked (up to :data:`WALK_LIMIT` elements, its ranks kept), and
        sympy's centraliser only past that."""
        if self._abelian:
            return self.order
        gens = self.chain.generators
        if all(np.array_equal(g[z], z[g]) for g in gens):
            return self.order
        if counts is None:
            counts = cycle_counts(z[None, :])[0]
        sc = self._sym_centraliser(z, counts)
        if sc is not None:
            return int(self.chain.contains(sc).sum())
        if self.degree > SYMPY_CENTRALISER_DEGREE:
            ranks = []
            total = 0
            for _, r in self.walk_class(z):
                ranks.append(r)
                total += r.size
                if total > WALK_LIMIT:
                    break
            else:
                self._walked[z.tobytes()] = np.sort(np.concatenate(ranks))
                return self.order // total
        C = self.group.sympy_group.centralizer(Permutation(z.tolist()))
        return int(C.order())

    # ----- conjugacy ------------------------------------------------------------------------
    def _enumerate(self, k: int) -> np.ndarray:
        """Sorted ranks of all elements of class ``k`` (breadth-first under conjugation)."""
        c = self.classes[k]
        if c.ranks is not None:
            return c.ranks
        if self.enumerated_elements + c.size > ENUMERATED_CLASS_LIMIT:
            raise TooLargeError(
                f"telling classes of one cycle type apart needs {self.enumerated_elements + c.size} "
                f"enumerated class elements, above the limit of {ENUMERATED_CLASS_LIMIT}")
        ranks = self._walked.pop(c.rep.tobytes(), None)
        if ranks is None:
            # keep the elements too (compactly) when small: the class matrices walk
            # these classes again
            keep = c.size * self.degree <= KEPT_CELLS - self._kept_cells
            parts, rs = [], []
            for X, r in self.walk_class(c.rep):
                rs.append(r)
                if keep:
                    parts.append(X.astype(self._small_dtype))
            ranks = np.concatenate(rs)
            if keep:
                self._kept[c.rep.tobytes()] = (np.concatenate(parts), ranks)
                self._kept_cells += c.size * self.degree
            ranks = np.sort(ranks)
        if ranks.size != c.size:  # pragma: no cover - exact counting
            raise ArithmeticError(f"class of size {c.size} enumerated with {ranks.size} elements")
        c.ranks = ranks
        self.enumerated_elements += c.size
        return ranks

    def walk_class(self, z: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """The class of ``z``, level by level of the breadth-first search under
        conjugation by the generators: yields ``(elements, ranks)`` chunks, each element
        once. Visited elements are marked in a bitmap over the ranks (one byte per group
        element, for orders up to :data:`BITMAP_LIMIT`), else kept as sorted ranks
        (8 bytes per class element)."""
        kept = self._kept.get(np.asarray(z, dtype=np.int64).tobytes())
        if kept is not None:
            X, R = kept
            step = max(1, 1_000_000 // self.degree)
            for lo in range(0, len(X), step):
                yield X[lo:lo + step].astype(np.int64), R[lo:lo + step]
            return
        chain = self.chain
        B = chain.base
        front = z[None, :].astype(np.int64)
        r0 = chain.rank_elements(front)
        if self.order <= BITMAP_LIMIT:
            seen_map = np.zeros(self.order, dtype=bool)
            seen_map[r0] = True
            yield front, r0
            while len(front):
                parts, ranks = [], []
                for g, gin in self._gens:
                    # (g x g^-1)(b) = g[x[g^-1[b]]]; one generator never maps two
                    # elements to one, so marking after each generator removes repeats
                    r = chain.rank(g[front[:, gin[B]]])
                    new = ~seen_map[r]
                    if new.any():
                        r = r[new]
                        seen_map[r] = True
                        parts.append(g[front[new][:, gin]])
                        ranks.append(r)
                if not parts:
                    return
                front = np.concatenate(parts)
                yield front, np.concatenate(ranks)
            return
        seen = r0
        yield front, seen
        while len(front):
            cand_r, cand_src, cand_gen = [], [], []
            for gi, (g, gin) in enumerate(self._gens):
                imgs = g[front[:, gin[B]]]
                cand_r.append(chain.rank(imgs))
                cand_src.append(np.arange(len(front)))
                cand_gen.append(np.full(len(front), gi))
            r = np.concatenate(cand_r)
            src = np.concatenate(cand_src)
            gen = np.concatenate(cand_gen)
            r, first = np.unique(r, return_index=True)
            new = ~np.isin(r, seen, assume_unique=True)
            r, first = r[new], first[new]
            if not r.size:
                return
            src, gen = src[first], gen[first]
            nxt = np.empty((r.size, self.degree), dtype=np.int64)
            for gi, (g, gin) in enumerate(self._gens):
                sel = gen == gi
                if sel.any():
                    nxt[sel] = g[front[src[sel]][:, gin]]
            seen = np.union1d(seen, r)
            front = nxt
            yield front, r

    def _conjugate(self, k: int, y: np.ndarray) -> bool:
        """Whether ``y`` (of the cycle type of class ``k``) is conjugate to its rep."""
        c = self.classes[k]
        if c.ranks is not None:
            r = self.chain.rank_elements(y[None, :])[0]
            i = np.searchsorted(c.ranks, r)
            return bool(i < c.ranks.size and c.ranks[i] == r)
        counts = self.buckets[c.bucket].counts
        sc = (self._sym_centraliser(c.rep, counts)
              if symmetric_centraliser_order(counts) < 4 * c.size else None)
        if sc is not None:
            cand = _matching(c.rep, y)[sc]  # h0 o c for c in C_Sn(z)
            return bool(self.chain.contains(cand).any())
        self._enumerate(k)
        return self._conjugate(k, y)

    # ----- adding classes ---------------------------------------------------------------------
    def _add(self, z: np.ndarray, counts: np.ndarray, key: bytes, size: int | None = None,
             ) -> int:
        if size is None:
            size = self.order // self._centraliser_order(z, counts)
        if self.max_classes is not None and len(self.classes) >= self.max_classes:
            raise TooLargeError(f"{self.group.spec[:80]} has more than {self.max_classes} "
                                "conjugacy classes, above the limit for character tables")
        o = int(_orders(counts[None, :])[0])
        b = self.buckets.setdefault(key, _Bucket(counts))
        self.classes.append(FoundClass(z.copy(), size, o, key))
        k = len(self.classes) - 1
        b.classes.append(k)
        self.total += size
        if size == 1:
            self._centre.append(k)
        return k

    def _new_class(self, z: np.ndarray, counts: np.ndarray, key: bytes,
                   size: int | None = None) -> list[int]:
        """Add the class of ``z`` (known to be new) and its Galois conjugates."""
        k0 = self._add(z, counts, key, size)
        o = self.classes[k0].order
        added = [k0]
        if o <= 2:
            return added
        units = [u for u in range(1, o) if math.gcd(u, o) == 1]
        in_K = {1}
        out_K: set[int] = set()
        for u in units:
            if u in in_K or u in out_K:
                continue
            if self._abelian or self.classes[k0].size == 1:
                conj = False
            else:
                conj = self._conjugate(k0, _power(z, u))
            if conj:  # close K under multiplication
                K = set(in_K)
                frontier = [u]
                while frontier:
                    a = frontier.pop()
                    for x in list(K):
                        y = a * x % o
                        if y not in K:
                            K.add(y)
                            frontier.append(y)
                in_K = K
                out_K = {a * x % o for a in out_K for x in in_K}
            else:
                out_K |= {u * x % o for x in in_K}
        # one class per coset of K (K is complete now: every unit was decided)
        done = set(in_K)
        for u in units:
            if u in done:
                continue
            done |= {u * x % o for x in in_K}
            added.append(self._add(_power(z, u), counts, key, self.classes[k0].size))
        return added

    def _classify_known(self, y: np.ndarray, key: bytes) -> int | None:
        """Class of ``y`` among the known classes of its bucket, or ``None`` if new: the
        known classes are enumerated (ranks) when small enough, else compared by
        centraliser order and the exact conjugacy test."""
        b = self.buckets[key]
        cands = list(b.classes)
        if len(cands) == 1 and b.enumerated:
            return cands[0]
        zc = None
        r = None
        for k in cands:
            c = self.classes[k]
            if c.size == 1 or self._abelian:
                if np.array_equal(c.rep, y):
                    return k
                continue
            if c.ranks is not None or c.size <= WALK_LIMIT:
                R = self._enumerate(k)
                if r is None:
                    r = self.chain.rank_elements(y[None, :])[0]
                i = np.searchsorted(R, r)
                if i < R.size and R[i] == r:
                    return k
                continue
            if zc is None:
                zc = self.order // self._centraliser_order(y, b.counts)
            if zc == c.size and self._conjugate(k, y):
                return k
        return None

    # ----- the search ------------------------------------------------------------------------
    def run(self) -> list[FoundClass]:
        """Find every class (stops when the sizes add up to the order)."""
        ident = np.arange(self.degree, dtype=np.int64)
        c0 = cycle_counts(ident[None, :])[0]
        self._add(ident, c0, c0.tobytes(), 1)
        stale, batch, careful = 0, 32, False
        queue: list[np.ndarray] = []
        while self.total < self.order:
            if self.samples > SAMPLE_LIMIT:
                raise TooLargeError(
                    f"the random search for conjugacy classes found classes covering "
                    f"{self.total} of {self.order} elements after {SAMPLE_LIMIT} random "
                    "elements (limit SAMPLE_LIMIT)")
            Y = self.chain.random(batch, self.rng) if not queue else np.array(queue)
            from_queue = bool(queue)
            queue = []
            self.samples += len(Y) if not from_queue else 0
            counts = cycle_counts(Y)
            keys = self._keys(counts)
            found_new = False
            for i, key in enumerate(keys):
                if self.total >= self.order:
                    break
                if key not in self.buckets:
                    new = self._new_class(Y[i], counts[i], key)
                    found_new = True
                elif careful:
                    if self._classify_known(Y[i], key) is not None:
                        continue
                    new = self._new_class(Y[i], counts[i], key)
                    found_new = True
                else:
                    continue
                # candidates: powers of the new representatives, times central elements
                for k in new:
                    z = self.classes[k].rep
                    o = self.classes[k].order
                    for q in primefactors(o):
                        queue.append(_power(z, q))
                    for c in self._centre:
                        queue.append(self.classes[c].rep[z])
                    if self.classes[k].size == 1:
                        queue.extend(self.classes[j].rep[z] for j in range(len(self.classes))
                                     if j != k)
            if from_queue:
                continue
            stale = 0 if found_new else stale + len(Y)
            batch = min(4096 if not careful else 64, batch * 2)
            missing = self.order - self.total
            if missing and not careful and stale > min(50_000, max(2048, 4 * self.order // missing)):
                careful = True  # unseen classes may share a cycle type with known ones
                batch = 64
        self._finish()
        return self.classes

    def _finish(self) -> None:
        """Make every bucket with several classes identifiable: enumerate all its classes
        but the largest."""
        if self.total != self.order:  # pragma: no cover
            raise ArithmeticError("class sizes do not add up to the group order")
        for b in self.buckets.values():
            ks = sorted(b.classes, key=lambda k: self.classes[k].size)
            b.rest = ks[-1]
            for k in ks[:-1]:
                if self.classes[k].size > 1:
                    self._enumerate(k)
            b.enumerated = True

    # ----- identification ----------------------------------------------------------------------
    def identify(self, Y: np.ndarray) -> np.ndarray:
        """Class index (into :attr:`classes`) of every row of ``Y`` (group elements)."""
        Y = np.asarray(Y, dtype=np.int64)
        if not len(Y):
            return np.zeros(0, dtype=np.int64)
        hashes, blist, canon, single = self._bucket_index()
        sig = fixed_point_signature(Y, self._ks)
        h = sig @ self._w[:sig.shape[1]]
        at = np.minimum(np.searchsorted(hashes, h), hashes.size - 1)
        if not (hashes[at] == h).all() or not (sig == canon[at]).all():
            raise ArithmeticError("an element of an unknown cycle type")  # pragma: no cover
        out = single[at].copy()
        for u in np.unique(at[out < 0]).tolist():
            rows = np.flatnonzero(at == u)
            b = blist[u]
            rest = rows
            others = [k for k in b.classes if k != b.rest]
            for k in others:
                if self.classes[k].size == 1:
                    hit = (Y[rest] == self.classes[k].rep).all(axis=1)
                    out[rest[hit]] = k
                    rest = rest[~hit]
            if rest.size:
                r = self.chain.rank_elements(Y[rest])
                for k in others:
                    R = self.classes[k].ranks
                    if R is None or not rest.size:
                        continue
                    i = np.minimum(np.searchsorted(R, r), R.size - 1)
                    hit = R[i] == r
                    out[rest[hit]] = k
                    rest, r = rest[~hit], r[~hit]
            out[rest] = b.rest
        return out

    def _bucket_index(self) -> tuple[np.ndarray, list[_Bucket], np.ndarray, np.ndarray]:
        """Buckets sorted by the hash of their fixed-point signature (see
        :func:`fixed_point_signature`; the powers ``k`` chosen to tell the cycle types of
        the group apart, distinct hashes checked): the hashes, the buckets, their
        signatures, and their class when it is alone (else -1)."""
        if self._index is None:
            blist = list(self.buckets.values())
            counts = np.array([b.counts for b in blist], dtype=np.int64)
            e = math.lcm(*(self.classes[b.classes[0]].order for b in blist))
            self._ks = _separating_powers(counts, e)
            canon = _signature_of_counts(counts, self._ks)
            h = canon @ self._w[:canon.shape[1]]
            order = np.argsort(h)
            if np.unique(h).size != h.size:  # pragma: no cover - a 64-bit collision
                raise ArithmeticError("two cycle types with the same hash")
            blist = [blist[i] for i in order]
            single = np.array([b.classes[0] if len(b.classes) == 1 else -1 for b in blist],
                              dtype=np.int64)
            self._index = (h[order], blist, canon[order], single)
        return self._index
