r"""Exact character tables of finite permutation groups (the Burnside-Dixon method).

:func:`character_table` computes the irreducible complex characters of any group the
groups layer builds, with **exact** values (:class:`~metasym.representations.cyclotomic.Cyclotomic`
numbers), its conjugacy classes, degrees, Frobenius-Schur indicators and power maps.

**Method** (Dixon 1967, "High speed computation of group characters"; the modular form
of Burnside's algorithm):

1. Enumerate the group (numpy image arrays, refused above
   :data:`CHARACTER_ORDER_LIMIT` elements) and its conjugacy classes
   :math:`C_1 = \{1\}, \dots, C_r`.
2. Class multiplication coefficients
   :math:`a_{ijk} = \#\{x \in C_i : x^{-1} z_k \in C_j\}` for a fixed
   :math:`z_k \in C_k`: one vectorised pass over the group per class, elements looked up
   by a hash of their images on a base, verified exactly: :math:`O(r\,|G|\,b)` for a base of
   size ``b``.
3. The central characters :math:`\omega_\chi(C_k) = |C_k|\chi(z_k)/\chi(1)` are the
   common eigenvectors of the class matrices :math:`(M_i)_{jk} = a_{ijk}`. They are
   found over :math:`\mathbb{F}_p` for the smallest prime :math:`p \equiv 1 \pmod e`
   (``e`` the exponent of ``G``) with :math:`p > 2\sqrt{|G|}`, :math:`p > 1000` and
   :math:`p > 8r^2` (so that a random combination rarely has repeated eigenvalues), by
   splitting
   :math:`\mathbb{F}_p^r` into eigenspaces (characteristic polynomial by Hessenberg
   reduction, roots by evaluation at every point of :math:`\mathbb{F}_p`), first for
   a random combination of the :math:`M_i`, then for each :math:`M_i` until every
   space is a line. When the eigenvalues are distinct (the usual case) the
   eigenvectors come from the Hessenberg form by back substitution,
   :math:`O(r^3)`; otherwise from nullspaces, :math:`O(r^3)` per eigenvalue. Roots
   cost :math:`O(r p)` per split.
4. The degree from :math:`\sum_k |C_k|\,|\chi(z_k)|^2 = |G|` (mod ``p``; :math:`\chi(1)
   < p/2` makes it unique), then :math:`\chi(z_k) \bmod p`.
5. Exact values from power maps: the multiplicity of the eigenvalue
   :math:`\zeta_o^t` of :math:`\rho(z_k)` (``o`` the order of :math:`z_k`) is
   :math:`m_t = \frac1o\sum_{j<o}\chi(z_k^j)\,\zeta_o^{-jt}`, an integer in
   :math:`[0, \chi(1)]`, so it is read exactly from its residue mod ``p``; then
   :math:`\chi(z_k) = \sum_t m_t \zeta_o^t`.

Every step is exact; :func:`metasym.representations.theorems.check_character_table`
verifies the result (orthogonality exactly, and more). Measured on 2 shared cores: order
960 (35 classes) 0.03 s, 7,920 (M11, 10 classes) 0.11 s, 10,080 (30 classes) 0.4 s,
17,280 (55 classes) 0.9 s; memory is the enumerated group plus an ``r^3`` array.

Rows: the trivial character first, then by degree (ties by the exact values). Columns:
the identity first, then the classes in the order of
:attr:`~metasym.groups.FiniteGroup.conjugacy_class_indices`. (Symmetric and alternating
groups and direct products are computed first by
:mod:`~metasym.representations.symmetric_characters`, without enumeration: columns by
cycle type, ``ConjugacyClass.index`` -1.)
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import numpy as np

from metasym.errors import MetasymError, TooLargeError
from metasym.groups import CONJUGACY_LIMIT, FiniteGroup
from metasym.groups._perm import format_cycles
from metasym.representations.cyclotomic import (
    Cyclotomic,
    is_prime,
    matmul_mod,
    primitive_root_of_unity,
)

__all__ = [
    "CharacterTable",
    "ConjugacyClass",
    "character_table",
    "ElementLookup",
    "CHARACTER_ORDER_LIMIT",
    "CHARACTER_CLASS_LIMIT",
]

#: Largest group order whose character table is computed (the group is enumerated).
CHARACTER_ORDER_LIMIT = CONJUGACY_LIMIT
#: Largest number of conjugacy classes (the class coefficients are an r^3 array).
CHARACTER_CLASS_LIMIT = 200


@dataclass(frozen=True)
class ConjugacyClass:
    """One conjugacy class: its size, a representative and the order of its elements.

    Attributes
    ----------
    size
        Number of elements.
    representative
        Image tuple of the representative (its first element in the order of
        ``group.element_arrays``).
    element_order
        Order of every element of the class.
    index
        Position of the representative in ``group.element_arrays``; ``-1`` in tables
        built without enumerating the group
        (:mod:`~metasym.representations.symmetric_characters`).
    """

    size: int
    representative: tuple[int, ...]
    element_order: int
    index: int

    @property
    def cycles(self) -> str:
        """The representative in cycle notation."""
        return format_cycles(np.asarray(self.representative, dtype=np.int64))

    def to_json(self) -> dict[str, Any]:
        return {"size": self.size, "representative": self.cycles,
                "element_order": self.element_order}


class ElementLookup:
    """Exact positions of permutations in ``group.element_arrays``, vectorised.

    Elements are told apart by their images of a base (a set of points whose images
    determine the element; sympy's Schreier-Sims base, or every point for small
    degrees). Rows are hashed to int64 by a random linear form and found by binary
    search; every hit is then compared entry by entry, so a wrong answer is impossible
    (a permutation outside the group raises).
    """

    def __init__(self, group: FiniteGroup) -> None:
        self.elements = group.element_arrays
        if group.degree <= 32 or group.order == 1:
            base = list(range(group.degree))
        else:
            base = [int(b) for b in group.sympy_group.base] or [0]
        self.base = np.array(base, dtype=np.int64)
        rows = self.elements[:, self.base]
        rng = np.random.default_rng(20240531)
        for _ in range(8):
            self._w = rng.integers(1, 2**62, size=len(base), dtype=np.int64)
            keys = self._keys(rows)
            order = np.argsort(keys, kind="stable")
            sorted_keys = keys[order]
            if not (sorted_keys[1:] == sorted_keys[:-1]).any():
                break
        else:  # pragma: no cover - 8 colliding random hashes
            raise ArithmeticError("could not hash the group elements without collisions")
        self._order, self._sorted = order, sorted_keys

    def _keys(self, rows: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return rows @ self._w  # wraps modulo 2^64: a hash, checked below

    def find_on_base(self, rows: np.ndarray) -> np.ndarray:
        """Indices of the elements whose images of :attr:`base` are ``rows``."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1, self.base.size)
        pos = np.searchsorted(self._sorted, self._keys(rows))
        idx = self._order[np.minimum(pos, len(self._order) - 1)]
        ok = (self.elements[idx][:, self.base] == rows).all(axis=1)
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise MetasymError(f"a permutation with base images {rows[bad].tolist()} is not "
                               "an element of the group")
        return idx

    def find(self, perms: np.ndarray) -> np.ndarray:
        """Indices of full permutations ``perms`` (``(k, degree)``)."""
        perms = np.asarray(perms, dtype=np.int64)
        idx = self.find_on_base(perms[:, self.base])
        if not (self.elements[idx] == perms).all():
            raise MetasymError("a permutation is not an element of the group")
        return idx


class CharacterTable:
    r"""The character table of a finite group: exact values, classes, degrees,
    Frobenius-Schur indicators and power maps.

    Built by :func:`character_table` (or directly from its parts, e.g. to test the
    theorem checks on a corrupted table: no validation happens here). Treat it as
    immutable: :meth:`replace` makes a modified copy.

    Attributes
    ----------
    group
        The group.
    classes
        :class:`ConjugacyClass` per column (identity first).
    values
        ``values[i][k]`` = :math:`\chi_i(z_k)` as a :class:`Cyclotomic` (exact).
    degrees
        :math:`\chi_i(1)`.
    indicators
        Frobenius-Schur indicators :math:`\nu(\chi_i) = \frac1{|G|}\sum_g \chi_i(g^2)`:
        ``1`` (realisable over the reals), ``0`` (not real-valued), ``-1`` (real-valued
        but not realisable over the reals: quaternionic).
    power_maps
        ``power_maps[k][j]`` = class of :math:`z_k^j` for ``j < element_order``.
    method, seconds
        How it was computed (the prime used) and how long it took.

    Examples
    --------
    >>> from metasym.groups import symmetric
    >>> T = character_table(symmetric(3))
    >>> T.degrees, T.indicators
    ((1, 1, 2), (1, 1, 1))
    >>> [[str(v) for v in row] for row in T.values]
    [['1', '1', '1'], ['1', '-1', '1'], ['2', '0', '-1']]
    >>> [(c.size, c.representative, c.element_order) for c in T.classes]
    [(1, (0, 1, 2), 1), (3, (1, 0, 2), 2), (2, (1, 2, 0), 3)]
    """

    def __init__(self, group: FiniteGroup, classes: Sequence[ConjugacyClass],
                 values: Sequence[Sequence[Cyclotomic]], degrees: Sequence[int],
                 indicators: Sequence[int], power_maps: Sequence[Sequence[int]], *,
                 method: str = "", seconds: float = 0.0) -> None:
        self.group = group
        self.classes = tuple(classes)
        self.values = tuple(tuple(row) for row in values)
        self.degrees = tuple(int(d) for d in degrees)
        self.indicators = tuple(int(v) for v in indicators)
        self.power_maps = tuple(tuple(int(c) for c in pm) for pm in power_maps)
        self.method = method
        self.seconds = float(seconds)

    # ----- value object -----------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return (isinstance(other, CharacterTable) and self.group == other.group
                and self.values == other.values and self.classes == other.classes)

    def __hash__(self) -> int:
        return hash((self.group, self.values))

    def __repr__(self) -> str:
        return (f"CharacterTable({self.group.spec!r}, order={self.group.order}, "
                f"classes={len(self.classes)})")

    def replace(self, **changes: Any) -> CharacterTable:
        """A copy with some parts replaced (``values``, ``degrees``, ...)."""
        parts = dict(group=self.group, classes=self.classes, values=self.values,
                     degrees=self.degrees, indicators=self.indicators,
                     power_maps=self.power_maps, method=self.method, seconds=self.seconds)
        parts.update(changes)
        return CharacterTable(parts.pop("group"), **{k: parts[k] for k in (
            "classes", "values", "degrees", "indicators", "power_maps")},
            method=parts["method"], seconds=parts["seconds"])

    # ----- views ------------------------------------------------------------------------
    @property
    def order(self) -> int:
        return self.group.order

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def class_sizes(self) -> tuple[int, ...]:
        return tuple(c.size for c in self.classes)

    @cached_property
    def inverse_classes(self) -> tuple[int, ...]:
        """Class of :math:`z_k^{-1}` for each ``k`` (read from the power maps)."""
        return tuple(pm[-1] if len(pm) > 1 else k for k, pm in enumerate(self.power_maps))

    def complex_values(self) -> np.ndarray:
        """The table as a complex128 array (a float view of the exact values)."""
        return np.array([[complex(v) for v in row] for row in self.values],
                        dtype=np.complex128).reshape(len(self.values), len(self.classes))

    def strings(self) -> list[list[str]]:
        """Values as strings in GAP's ``E(n)`` power-basis notation (see
        :mod:`metasym.representations.cyclotomic`)."""
        return [[str(v) for v in row] for row in self.values]

    def to_json(self) -> dict[str, Any]:
        return {
            "group": self.group.spec,
            "order": self.group.order,
            "classes": [c.to_json() for c in self.classes],
            "degrees": list(self.degrees),
            "indicators": list(self.indicators),
            "notation": "E(n) = exp(2*pi*i/n); each value in the power basis 1, E(n), ..., "
                        "E(n)^(phi(n)-1) of its smallest cyclotomic field",
            "class_names": self.class_names(),
            "table": self.strings(),
            "method": self.method,
            "seconds": round(self.seconds, 6),
        }

    def format(self) -> str:
        """The table as aligned text (classes as columns)."""
        head = [["", *self.class_names()],
                ["size", *[str(c.size) for c in self.classes]]]
        body = [[f"X.{i + 1}", *row] for i, row in enumerate(self.strings())]
        rows = head + body
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        lines.insert(2, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def class_names(self) -> list[str]:
        """ATLAS-style names: element order, then a letter among the classes of that
        order (``1a``, ``2a``, ``2b``, ``3a``, ...), in column order."""
        return [f"{c.element_order}{_letter(k, self)}" for k, c in enumerate(self.classes)]

    # ----- class functions ----------------------------------------------------------------
    def inner_product(self, phi: Sequence[Any], psi: Sequence[Any]) -> Cyclotomic | Any:
        r""":math:`\langle\varphi,\psi\rangle = \frac1{|G|}\sum_k |C_k|\,\varphi(z_k)
        \overline{\psi(z_k)}` for class functions given per class (integers or
        :class:`Cyclotomic`); returns an ``int`` or :class:`fractions.Fraction` when the
        result is rational, else the exact numerator over ``|G|`` as a string."""
        from fractions import Fraction

        total = Cyclotomic.integer(0)
        for c, a, b in zip(self.classes, phi, psi):
            total = total + _cyc(a) * _cyc(b).conjugate() * c.size
        if not total.is_rational:
            return f"({total})/{self.order}"
        q = Fraction(int(total), self.order)
        return int(q) if q.denominator == 1 else q

    def decompose(self, character: Sequence[Any]) -> list[int]:
        r"""Multiplicities :math:`\langle\chi, \chi_i\rangle` of each irreducible in a
        character given per class (e.g. ``PermutationRepresentation.class_character()``
        reordered to these classes, or :meth:`class_character`). Raises
        :class:`~metasym.errors.MetasymError` when some multiplicity is not a
        non-negative integer (not a character)."""
        ints = _as_integers(character)
        if ints is not None and len(ints) == self.n_classes:
            from metasym.representations import table_checks as tc  # large E (chars-sym)

            if tc.power_basis_cells(self) > tc.POWER_BASIS_CELLS:
                return tc.decompose_by_traces(self, ints.tolist())
        if ints is not None and len(ints) == self.n_classes:  # fast path: one tensordot
            E, P = self.power_basis
            w = np.array([c.size for c in self.classes], dtype=np.int64) * ints
            S = np.tensordot(P, w, axes=([1], [0]))  # (rows, phi(E)): sum_k w_k chi_i(z_k)
            out = []
            for i, coords in enumerate(S):
                if (coords[1:] != 0).any() or coords[0] % self.order or coords[0] < 0:
                    shown = (f"{coords[0]}/{self.order}" if not (coords[1:] != 0).any()
                             else "not rational")
                    raise MetasymError(f"not a character: its inner product with X.{i + 1} "
                                       f"is {shown}")
                out.append(int(coords[0]) // self.order)
            return out
        out = []
        for i, row in enumerate(self.values):
            m = self.inner_product(character, row)
            if not isinstance(m, int) or m < 0:
                raise MetasymError(f"not a character: its inner product with X.{i + 1} is {m}")
            out.append(m)
        return out

    @cached_property
    def power_basis(self) -> tuple[int, np.ndarray]:
        r"""``(E, P)``: every value in one field :math:`\mathbb{Q}(\zeta_E)`, ``E`` the lcm
        of the conductors, as an int64 array ``(rows, classes, phi(E))`` of power-basis
        coordinates (for fast exact linear algebra over the table)."""
        from metasym.representations.cyclotomic import embed_power_basis, euler_phi

        E = math.lcm(1, *(v.conductor for row in self.values for v in row))
        r, c = len(self.values), len(self.classes)
        P = np.zeros((r, c, euler_phi(E)), dtype=np.int64)
        by_n: dict[int, list[tuple[int, int]]] = {}
        for i, row in enumerate(self.values):
            for k, v in enumerate(row):
                by_n.setdefault(v.conductor, []).append((i, k))
        for n, where in by_n.items():
            coords = np.array([self.values[i][k].coefficients for i, k in where],
                              dtype=np.int64)
            idx = tuple(np.array(where).T)
            P[idx] = embed_power_basis(coords, n, E)
        P.setflags(write=False)
        return E, P

    def multiplicities(self, rep: Any) -> list[int]:
        r"""How often each irreducible occurs in a representation:
        :math:`m_i = \langle\chi_\rho, \chi_i\rangle`.

        ``rep`` is a :class:`~metasym.groups.GroupAction`,
        :class:`~metasym.representations.PermutationRepresentation` or
        :class:`~metasym.representations.LinearRepresentation` of this group. Its
        character is read at the class representatives only: fixed points for actions;
        for linear representations :math:`\mathrm{tr}\,\rho(z_k)` with :math:`\rho(z_k)`
        multiplied along a word in the generators (no enumeration). Exact for rational
        representations; for float ones the multiplicities are rounded and must lie
        within ``1e-6`` of integers (else :class:`~metasym.errors.MetasymError`).

        Examples
        --------
        >>> from metasym.groups import symmetric, natural
        >>> T = character_table(symmetric(4))
        >>> T.multiplicities(natural(symmetric(4)))        # trivial + standard
        [1, 0, 0, 1, 0]
        """
        from metasym.groups import GroupAction
        from metasym.representations.linear import LinearRepresentation
        from metasym.representations.permutation import PermutationRepresentation

        if isinstance(rep, PermutationRepresentation):
            rep = rep.action
        if getattr(rep, "group", None) != self.group:
            raise MetasymError(f"the representation is not of {self.group.spec}")
        if isinstance(rep, GroupAction):
            imgs = [rep.image(np.asarray(c.representative)) for c in self.classes]
            chi = [int((np.asarray(a) == np.arange(rep.degree)).sum()) for a in imgs]
            return self.decompose(chi)
        if not isinstance(rep, LinearRepresentation):
            raise MetasymError(f"cannot decompose a {type(rep).__name__}")
        if rep.is_rational:
            chi = [sum(np.diagonal(rep.element_matrix(np.asarray(c.representative),
                                                      exact=True)))
                   for c in self.classes]
            from fractions import Fraction

            if any(Fraction(x).denominator != 1 for x in chi):  # pragma: no cover
                raise MetasymError("a character value is not an integer")
            return self.decompose([int(x) for x in chi])
        chi = np.array([np.trace(rep.element_matrix(np.asarray(c.representative),
                                                    exact=False)) for c in self.classes])
        X = self.complex_values()
        m = (X.conj() * (chi * np.array(self.class_sizes))[None, :]).sum(axis=1) / self.order
        err = float(np.abs(m - np.round(m.real)).max(initial=0.0))
        if err > 1e-6 or (np.round(m.real) < 0).any():
            raise MetasymError(f"multiplicities are not non-negative integers (error {err:.3g})")
        return [int(x) for x in np.round(m.real)]

    def class_character(self, character: Sequence[Any]) -> list[Any]:
        """Values of a character given per element (in the order of
        ``group.element_arrays``) read at the class representatives (located in the
        enumerated group when a structured table did not record them: ``index`` -1)."""
        return [character[c.index if c.index >= 0 else
                          self.group.element_index(c.representative)] for c in self.classes]


def _letter(k: int, T: CharacterTable) -> str:
    """ATLAS-style class names: element order, then a letter among classes of that order."""
    o = T.classes[k].element_order
    same = [j for j, c in enumerate(T.classes) if c.element_order == o]
    pos = same.index(k)
    return "abcdefghijklmnopqrstuvwxyz"[pos] if pos < 26 else f"_{pos}"


def _as_integers(values: Sequence[Any]) -> np.ndarray | None:
    """``values`` as int64 when every one is an exact integer, else ``None``."""
    out = []
    for x in values:
        if isinstance(x, Cyclotomic):
            if not x.is_rational:
                return None
            out.append(int(x))
        elif isinstance(x, (int, np.integer)):
            out.append(int(x))
        elif isinstance(x, (float, np.floating)) and float(x) == round(float(x)):
            out.append(int(round(float(x))))
        else:
            return None
    return np.array(out, dtype=np.int64)


def _cyc(x: Any) -> Cyclotomic:
    if isinstance(x, Cyclotomic):
        return x
    if isinstance(x, (float, np.floating)) and float(x) != round(float(x)):
        raise MetasymError(f"class function value {x!r} is not an exact integer")
    return Cyclotomic.integer(int(round(float(x))) if isinstance(x, (float, np.floating))
                              else int(x))


# ----- arithmetic mod p -------------------------------------------------------------------
#: Smallest prime used: a random combination of class matrices then has distinct
#: few repeated eigenvalues mod p (about ``r^2/(2p)`` expected collisions), so few splits.
MIN_PRIME = 1_000


def _choose_prime(e: int, order: int, n_classes: int = 1) -> int:
    """Smallest prime ``p = 1 (mod e)`` with ``p > 2 sqrt(order)``, ``p > MIN_PRIME`` and
    ``p > 8 r^2`` (``r`` classes: then a random combination of the class matrices has
    a repeated eigenvalue with probability below about 1/16)."""
    p = e + 1
    floor = max(MIN_PRIME, 8 * n_classes**2)
    while p * p <= 4 * order or p <= floor or not is_prime(p):
        p += e
    return p


def _rref(M: np.ndarray, p: int) -> tuple[np.ndarray, list[int]]:
    """Reduced row echelon form mod ``p`` and the pivot columns."""
    A = np.array(M, dtype=np.int64) % p
    rows, cols = A.shape
    piv: list[int] = []
    r = 0
    for c in range(cols):
        if r == rows:
            break
        nz = np.flatnonzero(A[r:, c])
        if not nz.size:
            continue
        s = r + int(nz[0])
        if s != r:
            A[[r, s]] = A[[s, r]]
        A[r] = A[r] * pow(int(A[r, c]), -1, p) % p
        f = A[:, c].copy()
        f[r] = 0
        rows_nz = np.flatnonzero(f)
        if rows_nz.size:
            A[rows_nz] = (A[rows_nz] - np.outer(f[rows_nz], A[r]) % p) % p
        piv.append(c)
        r += 1
    return A[:r], piv


def _left_nullspace(R: np.ndarray, p: int) -> np.ndarray:
    """Rows ``c`` with ``c R = 0`` mod ``p``."""
    E, piv = _rref(R.T, p)
    n = R.shape[0]
    free = [j for j in range(n) if j not in piv]
    out = np.zeros((len(free), n), dtype=np.int64)
    for t, f in enumerate(free):
        out[t, f] = 1
        for i, c in enumerate(piv):
            out[t, c] = (-E[i, f]) % p
    return out


def _hessenberg(A: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """``(H, T)`` with ``H = T^-1 A T`` upper Hessenberg mod ``p`` (Gaussian similarity)."""
    H = np.array(A, dtype=np.int64) % p
    n = H.shape[0]
    T = np.eye(n, dtype=np.int64)
    for m in range(1, n - 1):
        nz = np.flatnonzero(H[m:, m - 1])
        if not nz.size:
            continue
        i = m + int(nz[0])
        if i != m:
            H[[i, m]] = H[[m, i]]
            H[:, [i, m]] = H[:, [m, i]]
            T[:, [i, m]] = T[:, [m, i]]
        inv = pow(int(H[m, m - 1]), -1, p)
        u = H[m + 1:, m - 1] * inv % p
        if u.any():
            H[m + 1:] = (H[m + 1:] - np.outer(u, H[m]) % p) % p
            H[:, m] = (H[:, m] + (H[:, m + 1:] * u[None, :] % p).sum(axis=1)) % p
            T[:, m] = (T[:, m] + (T[:, m + 1:] * u[None, :] % p).sum(axis=1)) % p
    return H, T


def _charpoly(H: np.ndarray, p: int) -> np.ndarray:
    """Characteristic polynomial mod ``p`` (lowest degree first) of an upper Hessenberg
    matrix (Hessenberg's recurrence, Cohen's Algorithm 2.2.9)."""
    n = H.shape[0]
    polys = [np.array([1], dtype=np.int64)]
    for m in range(1, n + 1):
        prev = polys[-1]
        cur = np.zeros(m + 1, dtype=np.int64)
        cur[1:] = prev
        cur[:m] = (cur[:m] - H[m - 1, m - 1] * prev) % p
        t = 1
        for i in range(1, m):
            t = t * int(H[m - i, m - i - 1]) % p
            if t == 0:
                break
            coef = t * int(H[m - i - 1, m - 1]) % p
            if coef:
                q = polys[m - i - 1]
                cur[:q.size] = (cur[:q.size] - coef * q) % p
        polys.append(cur % p)
    return polys[-1]


def _hessenberg_eigenvectors(H: np.ndarray, lams: list[int], p: int) -> np.ndarray | None:
    """Right eigenvectors (columns) of an unreduced upper Hessenberg ``H`` for the
    eigenvalues ``lams``, by back substitution (all at once); ``None`` if ``H`` is
    reduced (a zero subdiagonal entry) or a vector fails its check."""
    n = H.shape[0]
    sub = np.diagonal(H, -1)
    if (sub == 0).any():
        return None
    lam = np.array(lams, dtype=np.int64)
    Y = np.zeros((n, lam.size), dtype=np.int64)
    Y[n - 1] = 1
    for i in range(n - 1, 0, -1):
        # row i: H[i, i-1] y[i-1] + sum_{j >= i} (H - lam)[i, j] y[j] = 0
        acc = (H[i, i:, None] * Y[i:] % p).sum(axis=0) % p
        acc = (acc - lam * Y[i] % p) % p
        Y[i - 1] = (-acc) % p * pow(int(H[i, i - 1]), -1, p) % p
    check = ((H[0, :, None] * Y % p).sum(axis=0) - lam * Y[0]) % p
    return Y if not check.any() else None


def _roots(poly: np.ndarray, p: int) -> list[int]:
    """All roots in F_p, by evaluation at every point (chunks of 2^20)."""
    out: list[int] = []
    for lo in range(0, p, 1 << 20):
        x = np.arange(lo, min(p, lo + (1 << 20)), dtype=np.int64)
        val = np.zeros_like(x)
        for c in poly[::-1]:
            val = (val * x + int(c)) % p
        out.extend(int(v) for v in x[val == 0])
    return out


def _split(B: np.ndarray, piv: list[int], A: np.ndarray, p: int) -> list[tuple[np.ndarray, list[int]]]:
    """Split the invariant row space of ``B`` (RREF) into eigenspaces of ``x -> x A``."""
    k = B.shape[0]
    R = ((B @ A) % p)[:, piv]
    H, T = _hessenberg(R.T, p)  # left eigenvectors of R = right eigenvectors of R^T
    roots = _roots(_charpoly(H, p), p)
    if len(roots) == k:  # distinct eigenvalues: every eigenspace is a line
        Y = _hessenberg_eigenvectors(H, roots, p)
        if Y is not None:
            C = matmul_mod(T, Y, p).T  # rows: left eigenvectors of R
            return [_rref(matmul_mod(C[t:t + 1], B, p), p) for t in range(k)]
    spaces, total = [], 0
    for lam in roots:
        C = _left_nullspace((R - lam * np.eye(k, dtype=np.int64)) % p, p)
        if C.shape[0]:
            total += C.shape[0]
            spaces.append(_rref((C @ B) % p, p))
    if total != k:
        raise ArithmeticError(f"class matrices are not diagonalisable mod {p} "
                              f"({total} of {k} dimensions found)")
    return spaces


# ----- the table ----------------------------------------------------------------------------
def character_table(group: FiniteGroup, *, seed: int = 0) -> CharacterTable:
    r"""The exact character table of ``group`` (see the module docstring for the method).

    Parameters
    ----------
    group
        Any :class:`~metasym.groups.FiniteGroup` of order at most
        :data:`CHARACTER_ORDER_LIMIT` with at most :data:`CHARACTER_CLASS_LIMIT` classes.
    seed
        Seed of the random combination of class matrices (the result does not depend on it).

    Raises
    ------
    TooLargeError
        Above the limits (order, classes, or ``order * degree`` cells to enumerate).

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> T = character_table(cyclic(3))
    >>> T.strings()
    [['1', '1', '1'], ['1', 'E(3)^2', 'E(3)'], ['1', 'E(3)', 'E(3)^2']]
    >>> T.indicators
    (1, 0, 0)
    """
    # chars-sym hook: S_n, A_n and direct products by their structure (no enumeration)
    from metasym.representations.symmetric_characters import structured_character_table

    structured = structured_character_table(group)
    if structured is not None:
        return structured
    t0 = time.perf_counter()
    G = group
    if G.order > CHARACTER_ORDER_LIMIT:
        raise TooLargeError(f"character tables are computed for groups of order at most "
                            f"{CHARACTER_ORDER_LIMIT}; {_short(G.spec)} has order {G.order}")
    G.check_enumerable("the character table")
    class_idx = G.conjugacy_class_indices
    r = len(class_idx)
    if r > CHARACTER_CLASS_LIMIT:
        raise TooLargeError(f"{_short(G.spec)} has {r} conjugacy classes, above the limit of "
                            f"{CHARACTER_CLASS_LIMIT} for character tables")
    N = G.order
    elems = G.element_arrays
    lookup = ElementLookup(G)
    base = lookup.base
    cls = np.empty(N, dtype=np.int64)
    for k, c in enumerate(class_idx):
        cls[list(c)] = k
    sizes = np.array([len(c) for c in class_idx], dtype=np.int64)
    reps = [c[0] for c in class_idx]

    # power maps and element orders (powers of each representative, looked up at once)
    power_maps: list[list[int]] = []
    orders: list[int] = []
    for idx in reps:
        g = elems[idx]
        powers = [np.arange(G.degree, dtype=np.int64)]
        cur = g
        while not np.array_equal(cur, powers[0]):
            powers.append(cur)
            cur = g[cur]
        orders.append(len(powers))
        power_maps.append(cls[lookup.find_on_base(np.stack(powers)[:, base])].tolist())
    e = math.lcm(*orders)
    inverse_class = [pm[-1] if len(pm) > 1 else k for k, pm in enumerate(power_maps)]

    # class multiplication coefficients a[i, j, k] = #{x in C_i : x^-1 z_k in C_j}
    inv = np.empty_like(elems)
    np.put_along_axis(inv, elems, np.broadcast_to(np.arange(G.degree), elems.shape), axis=1)
    a = np.zeros((r, r, r), dtype=np.int64)
    for k in range(r):
        z = elems[reps[k]]
        y = lookup.find_on_base(inv[:, z[base]])  # x^-1 z on the base points
        a[:, :, k] = np.bincount(cls * r + cls[y], minlength=r * r).reshape(r, r)
    if not (a.sum(axis=1) == sizes[:, None]).all():  # pragma: no cover - exact counting
        raise ArithmeticError("class coefficients do not add up to the class sizes")

    # simultaneous eigenvectors (row vectors w with w A_i = omega_i w, A_i = M_i^T)
    p = _choose_prime(e, N, r)
    A = np.transpose(a, (0, 2, 1)) % p  # A[i][k, j] = a[i, j, k]
    rng = np.random.default_rng(seed)
    spaces = [(np.eye(r, dtype=np.int64), list(range(r)))]
    if r > 1:
        coeffs = rng.integers(0, p, size=r)
        combo = np.zeros((r, r), dtype=np.int64)
        for i in range(r):
            combo = (combo + int(coeffs[i]) * A[i]) % p
        spaces = _split(*spaces[0], combo, p)
        for _ in range(3):  # a few more random combinations on what is not split yet
            if all(B.shape[0] == 1 for B, _ in spaces):
                break
            coeffs = rng.integers(0, p, size=r)
            combo = np.zeros((r, r), dtype=np.int64)
            for i in range(r):
                combo = (combo + int(coeffs[i]) * A[i]) % p
            new = []
            for B, piv in spaces:
                new.extend([(B, piv)] if B.shape[0] == 1 else _split(B, piv, combo, p))
            spaces = new
        order_of_use = list(np.argsort(-sizes, kind="stable"))
        for i in order_of_use:
            if all(B.shape[0] == 1 for B, _ in spaces):
                break
            new = []
            for B, piv in spaces:
                new.extend([(B, piv)] if B.shape[0] == 1 else _split(B, piv, A[i], p))
            spaces = new
    if len(spaces) != r or any(B.shape[0] != 1 for B, _ in spaces):
        raise ArithmeticError("the class matrices did not separate the characters")
    W = np.array([B[0] * pow(int(B[0, 0]), -1, p) % p for B, _ in spaces], dtype=np.int64)

    # degrees and values mod p
    inv_sizes = np.array([pow(int(s), -1, p) for s in sizes], dtype=np.int64)
    S = (W * W[:, inverse_class] % p * inv_sizes[None, :] % p).sum(axis=1) % p
    degrees = []
    for s in S.tolist():
        d2 = N * pow(int(s), -1, p) % p
        d = next((d for d in range(1, math.isqrt(N) + 1) if d * d % p == d2), None)
        if d is None:  # pragma: no cover - exact theory
            raise ArithmeticError(f"no degree squares to {d2} mod {p}")
        degrees.append(d)
    X = np.array(degrees, dtype=np.int64)[:, None] * W % p * inv_sizes[None, :] % p

    # exact values from the eigenvalue multiplicities
    z = primitive_root_of_unity(e, p)
    values: list[list[Cyclotomic]] = [[None] * r for _ in range(r)]  # type: ignore[list-item]
    for k in range(r):
        o = orders[k]
        zo = pow(z, e // o, p)
        jt = np.outer(np.arange(o), np.arange(o)) % o
        F = np.array([pow(zo, (o - x) % o, p) for x in range(o)], dtype=np.int64)[jt]
        chi_pow = X[:, power_maps[k]]  # (r, o): chi(z_k^j)
        m = matmul_mod(chi_pow, F, p) * pow(o, -1, p) % p  # m[i, t]
        deg = np.array(degrees)[:, None]
        if (m > deg).any() or not (m.sum(axis=1) == deg[:, 0]).all():
            raise ArithmeticError(f"eigenvalue multiplicities out of range at class {k}")
        for i in range(r):
            values[i][k] = _from_roots(o, tuple(m[i].tolist()))

    # rows: trivial first, then by degree, ties by the exact values
    def key(i: int):
        trivial = all(v == 1 for v in values[i])
        return (not trivial, degrees[i], [(v.conductor, v.coefficients) for v in values[i]])

    rows = sorted(range(r), key=key)
    classes = [ConjugacyClass(int(sizes[k]), tuple(int(x) for x in elems[reps[k]]),
                              orders[k], int(reps[k])) for k in range(r)]
    table = CharacterTable(
        G, classes, [values[i] for i in rows], [degrees[i] for i in rows], [0] * r,
        power_maps, method=f"Burnside-Dixon modulo p = {p} (exponent {e})")

    # Frobenius-Schur indicators, exactly: nu |G| = sum_k |C_k| chi(z_k^2)
    squares = [pm[2 % len(pm)] for pm in power_maps]
    _, P = table.power_basis
    S = np.tensordot(P[:, squares, :], sizes, axes=([1], [0]))  # (rows, phi(E))
    if (S[:, 1:] != 0).any() or (S[:, 0] % N).any() or (np.abs(S[:, 0]) > N).any():
        raise ArithmeticError("a Frobenius-Schur indicator is not in {-1, 0, 1}")
    return table.replace(indicators=tuple(int(x) // N for x in S[:, 0]),
                         seconds=time.perf_counter() - t0)


@lru_cache(maxsize=100_000)
def _from_roots(o: int, m: tuple[int, ...]) -> Cyclotomic:
    return Cyclotomic.from_roots(o, m)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
