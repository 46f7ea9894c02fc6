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

**Groups too large to list** (``method="search"``; what ``"auto"`` uses above order
:data:`CHARACTER_ORDER_LIMIT`): Dixon-Schneider from the generators (Schneider 1990,
"Dixon's character table algorithm revisited"), never holding the group:

1'. Classes by random search over sympy's base and strong generating set
    (:mod:`metasym.groups.conjugacy_search`): uniform random elements and powers sorted by
    cycle type, class sizes :math:`|G|/|C_G(z)|`, Galois conjugates :math:`z^u` tested
    exactly, stop when the sizes add up to :math:`|G|` (which proves every class found).
2'. Only the *columns* of class matrices that the splitting needs:
    :math:`a_{ijk} = |C_j|\,\#\{x \in C_i : x z_j \in C_k\}/|C_k|` (the class
    equation :math:`a_{ijk}|C_k| = \#\{(x, y) \in C_i \times C_j : xy \in C_k\}`),
    so a class :math:`C_i` is walked once (breadth-first under conjugation) for all the
    pivot columns ``j`` of the spaces still to split, and the class of each product is
    identified by fixed points of a few powers, plus exact ranks in the stabiliser chain
    inside cycle types shared by several classes. Classes are taken smallest first; a
    class is skipped where the Galois action proves its matrix constant on a space
    (:math:`\omega_\chi(C_{i^u}) = \omega_{\chi^{\sigma_u}}(C_i)`: the Galois image of a
    class already used, or a class fixed by the :math:`\sigma_u` that swaps the two
    characters of a plane).
3'. Then steps 3-5 above on those columns (the same prime rule, power maps identified
    the same way). Memory: the chain (:math:`O(b\,n\,d)` for a base of ``b`` points),
    the class being walked (``(size, d)`` arrays in levels) and a bitmap of one byte per
    group element while walking (orders up to ``conjugacy_search.BITMAP_LIMIT``, else
    sorted ranks), plus 8 bytes per element of the classes that share a cycle type with
    others; never ``|G| x d``.

Limits (one-line :class:`~metasym.errors.TooLargeError` before or early in the work):
:data:`CHARACTER_CLASS_LIMIT` classes (the search stops at the 201st),
:data:`SEARCH_DEGREE_LIMIT` points, order :data:`SEARCH_ORDER_LIMIT`, symmetric groups of
degree 16 or more and alternating groups of degree 19 or more (over 200 classes), and the
search's own budget (``conjugacy_search.SAMPLE_LIMIT`` random elements,
``ENUMERATED_CLASS_LIMIT`` enumerated class elements).

Measured with ``OMP_NUM_THREADS=1 python bench/characters_generic.py --gap --repeats 3``
(2 cores shared with other work, load 4-5; GAP 4.12's ``Irr(CharacterTable(G))`` on the
same generators, its ``Runtime()``, which is CPU time; metasym: the table's wall
``seconds`` and its CPU time, each in a fresh process; ranges over the repeats; peak
resident memory of the process up to the table, of which about 110 MB is Python with
numpy and sympy imported)::

    group        order      classes  GAP s      metasym s  (CPU s)     peak MB
    M11              7,920    10     0.37-0.42  0.04-0.06  (0.03-0.04)  113
    S7 x C2         10,080    30     0.10-0.13  0.18-0.28  (0.12-0.19)  116
    PSL(2,31)       14,880    18     0.58-0.69  0.31-0.45  (0.20-0.30)  126
    S4 wr S3        82,944    65     0.68-0.73  0.62-0.69  (0.61-0.69)  130
    M12             95,040    15     0.40-0.43  0.09-0.16  (0.09-0.14)  134
    PSU(3,5)       126,000    14     0.58-0.63  0.58-0.72  (0.58-0.71)  167
    PSL(2,64)      262,080    65     15.8-17.3  6.1-6.3    (5.9-6.1)    190
    PSL(3,5)       372,000    30     8.07-9.03  0.92-1.01  (0.88-0.91)  166
    M22            443,520    12     0.21-0.25  0.42-0.52  (0.41-0.50)  168
    PSL(2,125)     976,500    65     133.5      34.0       (24.3)       204
    M23         10,200,960    17     5.18       13.4       (8.6)        325

(``method="search"`` throughout; the last two once each, ``--only PSL2_125 M23
--repeats 1``. ``"auto"`` enumerates the first three: M11 0.10-0.11 s, S7 x C2 0.24 s,
PSL(2,31) 0.40-0.48 s. The theorem checks build every value's images in a common
cyclotomic field, :math:`r^2\varphi(E)` integers: PSL(2,125) peaks at 529 MB with them.)

Rows: the trivial character first, then by degree (ties by the exact values). Columns:
the identity first, then the classes in the order of
:attr:`~metasym.groups.FiniteGroup.conjugacy_class_indices` (enumeration), or by element
order, larger classes first (search). Symmetric and alternating groups and direct products
above order :data:`CHARACTER_ORDER_LIMIT` (or with ``method="structured"``) are computed
by :mod:`~metasym.representations.symmetric_characters`, without enumeration: columns by
cycle type, ``ConjugacyClass.index`` -1.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
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
    "CHARACTER_METHODS",
    "STRUCTURED_METHODS",
    "SEARCH_DEGREE_LIMIT",
    "SEARCH_ORDER_LIMIT",
]

#: Largest group order whose character table is computed (the group is enumerated).
CHARACTER_ORDER_LIMIT = CONJUGACY_LIMIT
#: Largest number of conjugacy classes (the class coefficients are an r^3 array).
CHARACTER_CLASS_LIMIT = 200
#: ``method=`` values of :func:`character_table`.
CHARACTER_METHODS = ("auto", "structured", "enumerate", "search")
#: Largest degree for the search method (arrays of class elements are ``(n, degree)``).
SEARCH_DEGREE_LIMIT = 1_000
#: Largest order for the search method (ranks are int64; enumerated classes of cycle types
#: shared by several classes hold 8 bytes per element).
SEARCH_ORDER_LIMIT = 10**12
#: Entries per block of products ``x z_j`` identified at once (8 MB as int64).
CLASS_PRODUCT_CELLS = 1_000_000


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
        Position of the representative in ``group.element_arrays``; ``-1`` when the
        table was computed without listing the group (``method="search"`` or
        ``"structured"``, :mod:`~metasym.representations.symmetric_characters`).
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
        ``group.element_arrays``) read at the class representatives (a table computed
        without listing the group looks its representatives up in the listing)."""
        return [character[c.index if c.index >= 0 else
                          self.group.element_index(np.asarray(c.representative))]
                for c in self.classes]


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
    r"""All roots in F_p, ascending: in closed form for degree 1 and 2 and for
    :math:`(x - \lambda)^k` (an eigenspace that does not split), else by evaluation at
    every point (chunks of 2^20)."""
    c = [int(v) % p for v in poly]
    while len(c) > 1 and c[-1] == 0:
        c.pop()
    k = len(c) - 1
    if k >= 1:
        inv = pow(c[-1], -1, p)
        c = [v * inv % p for v in c]
        if k == 1:
            return [(-c[0]) % p]
        lam = (-c[k - 1]) * pow(k, -1, p) % p if k < p else None
        if lam is not None and all(c[j] == math.comb(k, j) * pow(-lam, k - j, p) % p
                                   for j in range(k)):
            return [lam]
        if k == 2 and p > 2:
            r = _sqrt_mod((c[1] * c[1] - 4 * c[0]) % p, p)
            if r is None:
                return []
            half = pow(2, -1, p)
            return sorted({(-c[1] + r) * half % p, (-c[1] - r) * half % p})
    out: list[int] = []
    for lo in range(0, p, 1 << 20):
        x = np.arange(lo, min(p, lo + (1 << 20)), dtype=np.int64)
        val = np.zeros_like(x)
        for coef in poly[::-1]:
            val = (val * x + int(coef)) % p
        out.extend(int(v) for v in x[val == 0])
    return out


def _sqrt_mod(a: int, p: int) -> int | None:
    """A square root of ``a`` modulo the odd prime ``p`` (Tonelli-Shanks), or ``None``."""
    a %= p
    if a == 0:
        return 0
    if pow(a, (p - 1) // 2, p) != 1:
        return None
    q, s = p - 1, 0
    while q % 2 == 0:
        q //= 2
        s += 1
    z = 2
    while pow(z, (p - 1) // 2, p) != p - 1:
        z += 1
    m, c, t, r = s, pow(z, q, p), pow(a, q, p), pow(a, (q + 1) // 2, p)
    while t != 1:
        i, t2 = 0, t
        while t2 != 1:
            t2 = t2 * t2 % p
            i += 1
        b = pow(c, 1 << (m - i - 1), p)
        m, c, t, r = i, b * b % p, t * b * b % p, r * b % p
    return r


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
#: Methods that build a table from a group's structure without listing it, tried in order
#: by ``method="structured"`` (and by ``"auto"`` above :data:`CHARACTER_ORDER_LIMIT`): each
#: takes the group and returns its table, or ``None`` when it does not apply.
#: :mod:`~metasym.representations.symmetric_characters` (symmetric and alternating groups,
#: direct products) registers itself when imported, which the package does; the
#: registration keeps this module below the structured methods, which build on its classes.
STRUCTURED_METHODS: list[Callable[[FiniteGroup], CharacterTable | None]] = []


def character_table(group: FiniteGroup, *, seed: int = 0,
                    method: str = "auto") -> CharacterTable:
    r"""The exact character table of ``group`` (see the module docstring for the method).

    Parameters
    ----------
    group
        A :class:`~metasym.groups.FiniteGroup` with at most
        :data:`CHARACTER_CLASS_LIMIT` classes: of order at most
        :data:`CHARACTER_ORDER_LIMIT` to be enumerated, or on at most
        :data:`SEARCH_DEGREE_LIMIT` points for the search method.
    seed
        Seed of the random combinations of class matrices and, for the search method, of
        the random elements. The table does not depend on it; with ``method="search"`` the
        class representatives and the column order may.
    method
        ``"enumerate"``: list the group (Burnside-Dixon, the classes in the order of
        :attr:`~metasym.groups.FiniteGroup.conjugacy_class_indices`, each
        :attr:`ConjugacyClass.index` a position in ``group.element_arrays``);
        ``"search"``: Dixon-Schneider from the generators without listing the group
        (indices ``-1``); ``"structured"``: symmetric and alternating groups by
        Murnaghan-Nakayama, direct products by tensoring their factors' tables
        (:mod:`~metasym.representations.symmetric_characters`; refused for other groups);
        ``"auto"`` (default): enumerate up to order :data:`CHARACTER_ORDER_LIMIT`; above
        it, structured where it applies, else search.

    Raises
    ------
    TooLargeError
        Above the limits (classes, order to enumerate, ``order * degree`` cells,
        degree or order for the search), in one line naming the limit.
    MetasymError
        An unknown ``method``.

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> T = character_table(cyclic(3))
    >>> T.strings()
    [['1', '1', '1'], ['1', 'E(3)^2', 'E(3)'], ['1', 'E(3)', 'E(3)^2']]
    >>> T.indicators
    (1, 0, 0)

    M11 from its two generators, without listing its 7,920 elements:

    >>> from metasym.groups import parse_group
    >>> M11 = parse_group("perm:11:(0 1 2 3 4 5 6 7 8 9 10);(2 6 10 7)(3 9 4 5)")
    >>> U = character_table(M11, method="search")
    >>> U.degrees, sorted(U.class_sizes)
    ((1, 10, 10, 10, 11, 16, 16, 44, 45, 55), [1, 165, 440, 720, 720, 990, 990, 990, 1320, 1584])
    """
    if method not in CHARACTER_METHODS:
        raise MetasymError(f"unknown character table method {method!r}; choose one of "
                           f"{', '.join(CHARACTER_METHODS)}")
    if method == "structured" or method == "auto" and group.order_exceeds(
            CHARACTER_ORDER_LIMIT):
        # S_n, A_n and direct products by their structure (no enumeration); groups small
        # enough to list keep the enumerating method's classes and column order under "auto"
        for structured_method in STRUCTURED_METHODS:
            structured = structured_method(group)
            if structured is not None:
                return structured
        if method == "structured":
            raise MetasymError(f"{_short(group.spec)} is not recognised as a symmetric or "
                               "alternating group on its points or a direct product built "
                               "by the groups layer; use method 'auto'")
    t0 = time.perf_counter()
    G = group
    if method == "search" or method == "auto" and G.order_exceeds(CHARACTER_ORDER_LIMIT):
        return _character_table_search(G, seed, t0)
    if G.order > CHARACTER_ORDER_LIMIT:
        raise TooLargeError(f"character tables by enumeration are computed for groups of "
                            f"order at most {CHARACTER_ORDER_LIMIT}; {_short(G.spec)} has "
                            f"order {G.order} (use method='search' or 'auto')")
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

    classes = [ConjugacyClass(int(sizes[k]), tuple(int(x) for x in elems[reps[k]]),
                              orders[k], int(reps[k])) for k in range(r)]
    return _assemble(G, classes, W, p, e, power_maps, inverse_class,
                     f"Burnside-Dixon modulo p = {p} (exponent {e})", t0)


def _assemble(G: FiniteGroup, classes: list[ConjugacyClass], W: np.ndarray, p: int, e: int,
              power_maps: list[list[int]], inverse_class: list[int], method: str,
              t0: float) -> CharacterTable:
    r"""The table from the central characters mod ``p`` (rows of ``W``, normalised to 1
    at the identity class, column 0): degrees, values mod ``p``, exact values from the
    power maps, row order, Frobenius-Schur indicators (steps 4-5 of the module
    docstring)."""
    N = G.order
    r = len(classes)
    sizes = np.array([c.size for c in classes], dtype=np.int64)
    orders = [c.element_order for c in classes]

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
    table = CharacterTable(
        G, classes, [values[i] for i in rows], [degrees[i] for i in rows], [0] * r,
        power_maps, method=method)

    # Frobenius-Schur indicators: nu |G| = sum_k |C_k| chi(z_k^2), an integer in
    # {-|G|, 0, |G|}, read from the values mod p (p is odd and prime to |G|, so the three
    # residues differ; the theorem checks recompute it exactly in cyclotomics). The
    # common power basis of all values (r^2 phi(E) integers) is not built here.
    squares = [pm[2 % len(pm)] for pm in power_maps]
    S = (X[rows][:, squares] * (sizes % p)[None, :] % p).sum(axis=1) % p
    by_residue = {0: 0, N % p: 1, (-N) % p: -1}
    if any(int(v) not in by_residue for v in S):
        raise ArithmeticError("a Frobenius-Schur indicator is not in {-1, 0, 1}")
    return table.replace(indicators=tuple(by_residue[int(v)] for v in S),
                         seconds=time.perf_counter() - t0)


def _check_search_limits(G: FiniteGroup) -> None:
    """One-line refusals, before any work, of groups out of reach of the search method."""
    if G.alt_sym == "symmetric" and G.degree >= 16 or G.alt_sym and G.degree >= 19:
        # S_n has p(n) classes (p(16) = 231), A_n at least p(n)/2 (p(19) = 490)
        raise TooLargeError(f"{_short(G.spec)} is the {G.alt_sym} group of degree "
                            f"{G.degree}, with more than {CHARACTER_CLASS_LIMIT} conjugacy "
                            "classes (the limit for character tables)")
    if G.degree > SEARCH_DEGREE_LIMIT:
        raise TooLargeError(f"character tables from generators are computed for groups on "
                            f"at most {SEARCH_DEGREE_LIMIT} points; {_short(G.spec)} acts on "
                            f"{G.degree}")
    if G.order_exceeds(SEARCH_ORDER_LIMIT):
        raise TooLargeError(f"character tables from generators are computed for groups of "
                            f"order at most {SEARCH_ORDER_LIMIT:.0e}; {_short(G.spec)} has "
                            f"order {G.order_text}")


def _character_table_search(G: FiniteGroup, seed: int, t0: float) -> CharacterTable:
    r"""Dixon-Schneider from generators: classes by random search, class matrices of the
    smallest classes only, as many as the splitting needs (see the module docstring)."""
    from metasym.groups.conjugacy_search import ClassSearch

    _check_search_limits(G)
    search = ClassSearch(G, seed=seed, max_classes=CHARACTER_CLASS_LIMIT)
    found = search.run()
    r = len(found)
    N = search.order
    # columns: the identity, then by element order, larger classes first, cycle type
    perm = sorted(range(r), key=lambda k: (found[k].order, -found[k].size,
                                           found[k].bucket, k))
    new_of_old = np.empty(r, dtype=np.int64)
    new_of_old[perm] = np.arange(r)
    reps = np.array([found[k].rep for k in perm], dtype=np.int64).reshape(r, G.degree)
    sizes = np.array([found[k].size for k in perm], dtype=np.int64)
    orders = [found[k].order for k in perm]

    def identify(Y: np.ndarray) -> np.ndarray:
        return new_of_old[search.identify(Y)]

    # power maps: the class of z_k^j for j < o(z_k), all identified at once
    powers = []
    for k in range(r):
        cur = np.arange(G.degree, dtype=np.int64)
        for _ in range(orders[k]):
            powers.append(cur)
            cur = reps[k][cur]
        if not np.array_equal(cur, powers[-orders[k]]):  # pragma: no cover
            raise ArithmeticError("a representative does not have its element order")
    ids = identify(np.array(powers)).tolist()
    power_maps, at = [], 0
    for k in range(r):
        power_maps.append(ids[at:at + orders[k]])
        at += orders[k]
    e = math.lcm(*orders)
    inverse_class = [pm[-1] if len(pm) > 1 else k for k, pm in enumerate(power_maps)]
    p = _choose_prime(e, N, r)

    columns: dict[int, dict[int, np.ndarray]] = {}

    def add_columns(i: int, js: list[int]) -> None:
        r"""Columns ``j`` of the class matrix of ``C_i`` mod ``p``:
        :math:`a_{ijk} = |C_j|\,\#\{x \in C_i : x z_j \in C_k\}/|C_k|` (``C_i`` walked
        once for all ``js``; the division is checked to be exact)."""
        counts = np.zeros((len(js), r), dtype=np.int64)
        Z = reps[js]  # (m, d)
        step = max(1, CLASS_PRODUCT_CELLS // max(1, len(js) * G.degree))
        for X, _ in search.walk_class(reps[i]):
            for lo in range(0, len(X), step):
                x = X[lo:lo + step]
                prod = x[:, Z]  # (len(x), len(js), d): x o z_j
                cls = identify(prod.reshape(-1, G.degree)).reshape(len(x), len(js))
                counts += np.bincount((np.arange(len(js))[None, :] * r + cls).ravel(),
                                      minlength=len(js) * r).reshape(len(js), r)
        if not (counts.sum(axis=1) == sizes[i]).all():  # pragma: no cover - exact counting
            raise ArithmeticError(f"products with class {i} do not add up to its size")
        num = sizes[js][:, None] * counts  # |C_j| #{x : x z_j in C_k}
        if (num % sizes[None, :]).any():  # pragma: no cover - exact theory
            raise ArithmeticError("a class multiplication coefficient is not an integer")
        cols = columns.setdefault(i, {})
        for t, j in enumerate(js):
            cols[j] = (num[t] // sizes) % p

    rng = np.random.default_rng(seed)
    galois = _galois_permutations(power_maps, orders, e)
    stab_cache: dict[bytes, list[tuple[np.ndarray, bool]]] = {}
    spaces = [(np.eye(r, dtype=np.int64), list(range(r)))]
    used: list[int] = []
    strict = True  # skip classes proven useless (below); off again if the classes run out
    while any(B.shape[0] > 1 for B, _ in spaces):
        todo = [(B, piv) for B, piv in spaces if B.shape[0] > 1]
        stabs = []
        for B, piv in todo:
            key = B.tobytes()
            if key not in stab_cache:
                stab_cache[key] = _galois_stabiliser(B, piv, galois, p)
            stabs.append(stab_cache[key])
        helps: dict[int, list[int]] = {}
        for i in sorted(set(range(1, r)) - set(used), key=lambda k: (sizes[k], k)):
            helps[i] = [t for t, (B, piv) in enumerate(todo) if not strict or not _useless(
                i, B, piv, stabs[t], columns, used)]
            if helps[i]:
                break
        else:
            if not strict:  # pragma: no cover - exact theory: all class matrices separate
                raise ArithmeticError("the class matrices did not separate the characters")
            strict = False
            continue
        add_columns(i, sorted({j for t in helps[i] for j in todo[t][1]}))
        used.append(i)
        coeffs = {t: int(rng.integers(1, p)) for t in used}
        new = [(B, piv) for B, piv in spaces if B.shape[0] == 1]
        for t, (B, piv) in enumerate(todo):
            if t not in helps[i]:
                new.append((B, piv))
                continue
            A = np.zeros((r, r), dtype=np.int64)  # only the pivot columns are read
            for c in used:
                if all(j in columns[c] for j in piv):
                    A[:, piv] = (A[:, piv] + coeffs[c] * np.stack(
                        [columns[c][j] for j in piv], axis=1)) % p
            new.extend(_split(B, piv, A, p))
        spaces = new
    spaces.sort(key=lambda sp: sp[1])  # a fixed order of the lines (by pivot)
    W = np.array([B[0] * pow(int(B[0, 0]), -1, p) % p for B, _ in spaces], dtype=np.int64)
    classes = [ConjugacyClass(int(sizes[k]), tuple(int(x) for x in reps[k]), orders[k], -1)
               for k in range(r)]
    return _assemble(G, classes, W, p, e, power_maps, inverse_class,
                     f"Dixon-Schneider modulo p = {p} (exponent {e}; classes by random "
                     f"search, columns of {len(used)} class matrices)", t0)


def _galois_permutations(power_maps: list[list[int]], orders: list[int], e: int,
                         limit: int = 20_000) -> np.ndarray:
    r"""The distinct permutations :math:`k \mapsto` (class of :math:`z_k^u`) of the
    columns, for the units ``u`` modulo the exponent ``e`` (all of them when
    :math:`\varphi(e) \le` ``limit``, else the first ``limit``), the identity excluded.
    :math:`\sigma_u` (:math:`\zeta \mapsto \zeta^u`) maps a central character
    :math:`\omega_\chi` to :math:`\omega_{\chi^{\sigma_u}} = \omega_\chi \circ` this
    permutation."""
    r = len(orders)
    units = [u for u in range(1, e + 1) if math.gcd(u, e) == 1][:limit]
    o = np.array(orders, dtype=np.int64)
    pm = np.zeros((r, int(o.max())), dtype=np.int64)
    for k, row in enumerate(power_maps):
        pm[k, :len(row)] = row
    idx = np.array(units, dtype=np.int64)[:, None] % o[None, :]
    perms = np.unique(pm[np.arange(r)[None, :], idx], axis=0)
    return perms[(perms != np.arange(r)).any(axis=1)]


def _galois_stabiliser(B: np.ndarray, piv: list[int], galois: np.ndarray, p: int,
                       ) -> list[tuple[np.ndarray, bool]]:
    """The Galois permutations that map the row space of ``B`` (reduced echelon form,
    pivot columns ``piv``) to itself, each with whether it moves some vector of it: a
    row ``v`` lies in the space iff ``v = v[piv] B`` (mod ``p``)."""
    if not len(galois):
        return []
    Bg = B[:, galois].transpose(1, 0, 2)  # (perms, k, r): the rows of B permuted
    inside = (np.einsum("gkj,jr->gkr", Bg[:, :, piv] % p, B) % p == Bg).all(axis=(1, 2))
    moved = (Bg != B[None]).any(axis=(1, 2))
    return [(galois[t], bool(moved[t])) for t in np.flatnonzero(inside)]


def _useless(i: int, B: np.ndarray, piv: list[int], stab: list[tuple[np.ndarray, bool]],
             columns: dict[int, dict[int, np.ndarray]], used: list[int]) -> bool:
    r"""Whether the class matrix of ``C_i`` is proven constant on the space ``B`` (so it
    cannot split it), by the Galois action: with :math:`\omega_\chi(C_{i^u}) =
    \omega_{\chi^{\sigma_u}}(C_i)`,

    * ``i = t^u`` for a class ``t`` already used on this space (constant there) and
      :math:`\sigma_u` mapping the space to itself;
    * the space is a plane moved by :math:`\sigma_u` (it holds :math:`\chi` and
      :math:`\chi^{\sigma_u}`) and :math:`i^u = i`.
    """
    done = [t for t in used if all(j in columns.get(t, {}) for j in piv)]
    for g, moves in stab:
        if any(g[t] == i for t in done):
            return True
        if moves and B.shape[0] == 2 and g[i] == i:
            return True
    return False


@lru_cache(maxsize=100_000)
def _from_roots(o: int, m: tuple[int, ...]) -> Cyclotomic:
    return Cyclotomic.from_roots(o, m)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."
