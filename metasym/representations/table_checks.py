r"""Exact checks of large character tables from the table alone (no group element listed).

:func:`metasym.representations.theorems.check_character_table` decides the orthogonality
relations exactly by mapping every value to :math:`\mathbb{F}_q` under all
:math:`\varphi(E)` embeddings of :math:`\mathbb{Q}(\zeta_E)` (``E`` the lcm of all
conductors) with one prime ``q`` above twice a bound on the sums. Two things stop that at
the sizes of ``symmetric:20`` or ``alternating:20``: the sums reach :math:`|G| \approx 2.4
\cdot 10^{18}` (``q`` no longer fits the int64 products), and :math:`A_{20}`'s values
need :math:`E = 4{,}849{,}845`, :math:`\varphi(E) = 1{,}658{,}880` embeddings. This module
is the fallback it uses then:

* **Column orthogonality** :math:`\sum_i \chi_i(z_k)\overline{\chi_i(z_l)} =
  \delta_{kl}|G|/|C_k|`, column block by column block: columns are grouped by the
  conductor :math:`n_k` of their values, and a pair of groups is decided in
  :math:`\mathbb{Q}(\zeta_F)`, :math:`F = \operatorname{lcm}(n_k, n_l)` (the only field
  its sums live in), under all :math:`\varphi(F)` embeddings, **modulo several primes**
  :math:`q_j \equiv 1 \pmod F` whose product :math:`Q` exceeds twice a bound ``B`` on
  :math:`|\sigma(s)|` for every embedding :math:`\sigma` into :math:`\mathbb{C}` (the sum
  of the L1 norms of the products, plus the target). This is exact: a sum ``s`` whose
  images all vanish lies in :math:`q_j\mathbb{Z}[\zeta_F]` for every ``j`` (``q_j`` splits
  completely), hence in :math:`Q\,\mathbb{Z}[\zeta_F]`; were it non-zero, its norm would be
  a multiple of :math:`Q^{\varphi(F)}` while :math:`|N(s)| \le B^{\varphi(F)} <
  Q^{\varphi(F)}`. The primes are small enough
  (:math:`r (q-1)^2 < 2^{53}`) for exact float64 matrix products (BLAS), else int64.
* **Row orthogonality** follows exactly: for a square table
  :math:`X^*X = |G| D^{-1}` (``D`` the class sizes) is equivalent to
  :math:`X D X^* = |G| I` (each says :math:`X^{-1} = |G|^{-1} D X^*`). When
  :math:`\varphi(E)` is small the rows are also checked directly, multi-modularly.
* **Square roots of 1** for the Frobenius-Schur count: for :math:`S_n` and :math:`A_n`
  the closed form :math:`\sum_k n!/(k!\,(n-2k)!\,2^k)` (``k`` even for :math:`A_n`),
  independent of the table; otherwise the table's classes of elements of order 1 or 2.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from metasym.representations.cyclotomic import (
    euler_phi,
    evaluation_matrix,
    is_prime,
    matmul_mod,
    primitive_root_of_unity,
)

__all__ = ["orthogonality_multimodular", "square_roots_of_one", "indicator_sums",
           "decompose_by_traces", "power_basis_cells", "ROW_EMBEDDING_CELLS",
           "POWER_BASIS_CELLS"]

#: Largest ``rows * classes * phi(E)`` images held to check the rows directly (beyond it
#: the rows follow from the columns).
ROW_EMBEDDING_CELLS = 20_000_000


def _primes(F: int, bound: int, qmax: int) -> list[int]:
    """Primes ``q = 1 (mod F)`` below ``qmax`` (largest first) whose product exceeds
    ``2 * bound``; primes up to ``2^31`` when ``qmax`` leaves none."""
    out: list[int] = []
    prod = 1
    for limit in (qmax, 2**31):
        q = (limit - 1) // F * F + 1
        while prod <= 2 * bound and q > F:
            if is_prime(q) and q not in out:
                out.append(q)
                prod *= q
            q -= F
        if prod > 2 * bound:
            return out
    raise ArithmeticError(f"not enough primes = 1 mod {F} for a bound of {bound}")


def _mm(a: np.ndarray, b: np.ndarray, q: int) -> np.ndarray:
    """``a @ b mod q`` exactly: float64 BLAS when ``k (q-1)^2 < 2^53``, else int64."""
    k = a.shape[-1]
    if k * (q - 1) ** 2 < 2**53:
        return np.rint(a.astype(np.float64) @ b.astype(np.float64)).astype(np.int64) % q
    return matmul_mod(a, b, q)


class _Coordinates:
    """Every value's conductor and power-basis coordinates, grouped by conductor once
    (``coefs[n]`` rows, ``pos[i, k]`` the row of value ``(i, k)`` in its group)."""

    def __init__(self, values: Any, r: int, c: int) -> None:
        self.cond = np.array([[v.conductor for v in row] for row in values],
                             dtype=np.int64).reshape(r, c)
        self.pos = np.zeros((r, c), dtype=np.int64)
        self.coefs: dict[int, np.ndarray] = {}
        for n in np.unique(self.cond).tolist():
            where = np.argwhere(self.cond == n)
            self.pos[where[:, 0], where[:, 1]] = np.arange(len(where))
            self.coefs[n] = np.array([values[i][k].coefficients for i, k in where.tolist()],
                                     dtype=np.int64).reshape(len(where), euler_phi(n))

    def images(self, cols: Any, F: int, q: int, conjugate: bool) -> np.ndarray:
        """Images mod ``q`` of the values in columns ``cols`` (conductors dividing ``F``)
        under the ``phi(F)`` embeddings :math:`\\zeta_F \\mapsto \\omega^t`:
        ``(rows, len(cols), phi(F))``."""
        omega = primitive_root_of_unity(F, q)
        ts = np.array([t for t in range(1, F + 1) if math.gcd(t, F) == 1],
                      dtype=np.int64) % F
        exps = (-ts) % F if conjugate else ts
        cond, pos = self.cond[:, cols], self.pos[:, cols]
        out = np.zeros(cond.shape + (ts.size,), dtype=np.int64)
        for n in np.unique(cond).tolist():
            m = cond == n
            C = self.coefs[n][pos[m]] % q
            out[m] = matmul_mod(C, evaluation_matrix(n, F, q, omega, exps), q)
        return out


def _float_bound(x: float) -> int:
    return int(math.ceil(x * (1 + 1e-9))) + 1


def orthogonality_multimodular(table: Any) -> tuple[tuple[int, str], tuple[int | None, str], str]:
    r"""Failures of column and row orthogonality, exactly (see the module docstring):
    ``((bad columns, first), (bad rows or None, first), how)``; ``None`` rows means
    they were not counted directly (they hold iff the columns do)."""
    values = table.values
    r, c = len(values), len(table.classes)
    N = int(table.group.order)
    sizes = [int(cl.size) for cl in table.classes]
    coords = _Coordinates(values, r, c)
    cond = coords.cond
    L1 = np.array([[sum(abs(x) for x in v.coefficients) for v in row] for row in values],
                  dtype=np.float64).reshape(r, c)
    col_n = [math.lcm(1, *cond[:, k].tolist()) for k in range(c)]
    groups: dict[int, list[int]] = {}
    for k, n in enumerate(col_n):
        groups.setdefault(n, []).append(k)
    keys = sorted(groups)
    qmax = math.isqrt(2**53 // max(r, 1))
    bad = np.zeros((c, c), dtype=bool)
    n_primes = set()
    for gi, a in enumerate(keys):
        for b in keys[gi:]:
            ka, kb = groups[a], groups[b]
            F = math.lcm(a, b)
            bound = _float_bound(float((L1[:, ka].T @ L1[:, kb]).max(initial=0.0)) + N)
            qs = _primes(F, bound, qmax)
            n_primes.add(len(qs))
            want = np.zeros((len(ka), len(kb)), dtype=object)
            for x, k in enumerate(ka):
                for y, m in enumerate(kb):
                    if k == m:
                        want[x, y] = N // sizes[k] if N % sizes[k] == 0 else None
            block_bad = np.zeros((len(ka), len(kb)), dtype=bool)
            for x, k in enumerate(ka):
                if N % sizes[k]:
                    block_bad[x, [y for y, m in enumerate(kb) if m == k]] = True
            for q in qs:
                A = coords.images(ka, F, q, False)
                B = coords.images(kb, F, q, True)
                w = np.array([[0 if v is None else v % q for v in row] for row in want],
                             dtype=np.int64).reshape(len(ka), len(kb))
                for t in range(A.shape[2]):
                    block_bad |= _mm(A[:, :, t].T, B[:, :, t], q) != w
            bad[np.ix_(ka, kb)] |= block_bad
            bad[np.ix_(kb, ka)] |= block_bad.T
    pairs = [(i, j) for i, j in np.argwhere(bad) if i <= j]
    cols = (len(pairs), f"{pairs[0][0] + 1} and {pairs[0][1] + 1}" if pairs else "")
    E = math.lcm(1, *col_n)
    phiE = euler_phi(E)
    if r * c * phiE <= ROW_EMBEDDING_CELLS:
        rows = _rows_direct(coords, E, L1, N, sizes)
        how_rows = "rows checked directly"
    else:
        rows = (None, "")
        how_rows = (f"rows follow from the columns (square table; phi({E}) = {phiE} "
                    "embeddings not listed)")
    how = (f"exact: column blocks by conductor, each in its own cyclotomic field under all "
           f"embeddings, modulo {max(n_primes, default=1)} prime(s) with product above "
           f"twice the coordinate bound (CRT); {how_rows}")
    return cols, rows, how


def _rows_direct(coords: _Coordinates, E: int, L1: np.ndarray, N: int,
                 sizes: list[int]) -> tuple[int, str]:
    r, c = L1.shape
    sz = np.array([float(s) for s in sizes])
    bound = _float_bound(float(((L1 * sz[None, :]) @ L1.T).max(initial=0.0)) + N)
    qs = _primes(E, bound, math.isqrt(2**53 // max(c, 1)))
    bad = np.zeros((r, r), dtype=bool)
    for q in qs:
        A = coords.images(slice(None), E, q, False)
        B = coords.images(slice(None), E, q, True)
        s = np.array([x % q for x in sizes], dtype=np.int64)
        want = (N % q) * np.eye(r, dtype=np.int64)
        for t in range(A.shape[2]):
            bad |= _mm(A[:, :, t] * s[None, :] % q, B[:, :, t].T, q) != want
    pairs = [(i, j) for i, j in np.argwhere(bad) if i <= j]
    return len(pairs), (f"{pairs[0][0] + 1} and {pairs[0][1] + 1}" if pairs else "")


def square_roots_of_one(table: Any) -> tuple[int, str]:
    r""":math:`\#\{g : g^2 = 1\}` without listing the group: ``(count, how)``."""
    G = table.group
    kind = G._kind or (G.alt_sym if G._known_order is not None else None)
    n = G.degree
    if kind in ("symmetric", "alternating") and not G._factors:
        step = 2 if kind == "alternating" else 1
        total = sum(math.factorial(n) // (math.factorial(k) * math.factorial(n - 2 * k) * 2**k)
                    for k in range(0, n // 2 + 1, step))
        return total, (f"closed form for {'A' if step == 2 else 'S'}_{n}: sum over k "
                       "of n!/(k! (n-2k)! 2^k), independent of the table")
    # each representative's square checked on the permutation itself (not the table's
    # recorded element order), so the count is independent of the table
    ident = np.arange(n)
    total = 0
    for cl in table.classes:
        rep = np.asarray(cl.representative, dtype=np.int64)
        if np.array_equal(rep[rep], ident):
            total += int(cl.size)
    return total, ("the sizes of the classes whose representative squares to 1 "
                   f"(the {G.order_text} elements are not listed)")


def indicator_sums(table: Any) -> list[int | None]:
    r""":math:`\sum_k |C_k|\chi_i(z_k^2)` per row as an exact Python integer, or ``None``
    where the sum is not a rational integer. Rational values are summed as Python integers;
    the others are grouped by value (few per row) and added in the power basis of one
    field with Python-integer coordinates (class sizes such as :math:`22!/z_\mu` exceed
    int64)."""
    from metasym.representations.cyclotomic import reduce_power_basis

    squares = [pm[2 % len(pm)] for pm in table.power_maps]
    sizes = [int(cl.size) for cl in table.classes]
    out: list[int | None] = []
    for row in table.values:
        rational, other = 0, {}
        for k, s in enumerate(sizes):
            v = row[squares[k]]
            if v.is_rational:
                rational += s * v.coefficients[0]
            else:  # grouped by value: few distinct irrationalities per row
                other[v] = other.get(v, 0) + s
        if not other:
            out.append(rational)
            continue
        n = math.lcm(*(v.conductor for v in other))
        acc = [0] * euler_phi(n)
        acc[0] = rational
        for v, s in other.items():
            lifted = np.zeros(n, dtype=np.int64)
            lifted[np.arange(len(v.coefficients)) * (n // v.conductor)] = v.coefficients
            for j, x in enumerate(reduce_power_basis(lifted, n).tolist()):
                acc[j] += s * x
        out.append(acc[0] if not any(acc[1:]) else None)
    return out


# ----- decompositions without the power basis ------------------------------------------------------
#: Largest ``rows * classes * phi(E)`` entries of
#: :attr:`~metasym.representations.characters.CharacterTable.power_basis` built to
#: decompose a character; above it :func:`decompose_by_traces` is used.
POWER_BASIS_CELLS = 20_000_000


def power_basis_cells(table: Any) -> int:
    """Entries the table's power basis would hold: ``rows * classes * phi(E)``."""
    E = math.lcm(1, *(v.conductor for row in table.values for v in row))
    return len(table.values) * len(table.classes) * euler_phi(E)


def _mobius(n: int) -> int:
    out, m, p = 1, n, 2
    while p * p <= m:
        if m % p == 0:
            m //= p
            if m % p == 0:
                return 0
            out = -out
        p += 1
    return -out if m > 1 else out


def _normalised_trace(v: Any) -> Any:
    r""":math:`\mathrm{Tr}_{\mathbb{Q}(\zeta_n)/\mathbb{Q}}(v)/\varphi(n)`, the same in every
    field containing ``v``: :math:`\zeta_n^j \mapsto \mu(n/g)/\varphi(n/g)`,
    :math:`g = \gcd(n, j)`."""
    from fractions import Fraction

    n = v.conductor
    if n == 1:
        return v.coefficients[0]
    total = Fraction(0)
    for j, c in enumerate(v.coefficients):
        if c:
            m = n // math.gcd(n, j)
            total += Fraction(c * _mobius(m), euler_phi(m))
    return total


def decompose_by_traces(table: Any, character: Any) -> list[int]:
    r"""Multiplicities of the irreducibles in an integer-valued class function, exactly,
    without the power basis of :math:`\mathbb{Q}(\zeta_E)` (for tables whose ``E`` is
    large, e.g. :math:`A_{20}`).

    For a rational class function :math:`f`, :math:`\langle f, \chi^\sigma\rangle =
    \sigma\langle f, \chi\rangle`, so the normalised trace (the average over the Galois
    conjugates) of :math:`\langle f, \chi_i\rangle` is computed value by value. If ``f``
    is a character these are its multiplicities; the result is then verified exactly,
    column by column (each column in its own small field):
    :math:`\sum_i m_i \chi_i(z_k) = f(z_k)`. A class function that is not a character
    fails one of the two and raises :class:`~metasym.errors.MetasymError`.
    """
    from fractions import Fraction

    from metasym.errors import MetasymError

    w = [int(x) * int(c.size) for x, c in zip(character, table.classes)]
    N = int(table.group.order)
    mult = []
    for i, row in enumerate(table.values):
        s = sum((_normalised_trace(v) * wk for v, wk in zip(row, w) if wk), Fraction(0))
        q = s / N
        if q.denominator != 1 or q < 0:
            raise MetasymError(f"not a character: its inner product with X.{i + 1} is "
                               f"not a non-negative integer (trace {q})")
        mult.append(int(q))
    for k, fk in enumerate(character):
        rational, irrational = 0, None
        for m, row in zip(mult, table.values):
            if not m:
                continue
            v = row[k]
            if v.is_rational:
                rational += m * v.coefficients[0]
            else:
                irrational = v * m if irrational is None else irrational + v * m
        ok = (rational == int(fk)) if irrational is None else (
            irrational + rational == int(fk))
        if not ok:
            raise MetasymError(f"not a character: the multiplicities from the traces do "
                               f"not give its value at class {k + 1}")
    return mult
