r"""Character tables by combinatorics: symmetric and alternating groups, direct products.

No group element is listed: the classes, their sizes and representatives, the power maps
and the exact values come from partitions. The result is a normal
:class:`~metasym.representations.characters.CharacterTable` of the given group (its class
representatives are actual permutations of the group's points), so every consumer of
tables (the theorem checks, decompositions, the command line) works unchanged.
:func:`~metasym.representations.characters.character_table` calls
:func:`structured_character_table` first and falls back to the generic method.

**Symmetric groups** :math:`S_n` (a group the groups layer built as ``symmetric:n``, or
any group recognised as all of :math:`S_n` on its ``n`` points):

* classes are the cycle types :math:`\mu \vdash n`, of size :math:`n!/z_\mu` with
  :math:`z_\mu = \prod_i i^{m_i} m_i!` (:math:`m_i` parts equal to ``i``), elements of
  order :math:`\operatorname{lcm}(\mu)`; the representative has the cycles
  :math:`(0\,1 \dots \mu_1-1)(\mu_1 \dots)\cdots`;
* the irreducibles :math:`\chi^\lambda`, :math:`\lambda \vdash n`, by the
  Murnaghan-Nakayama rule
  :math:`\chi^\lambda(\mu) = \sum_{\xi} (-1)^{\mathrm{ht}(\xi)} \chi^{\lambda\setminus\xi}
  (\mu \setminus \mu_1)` over the rim hooks :math:`\xi` of length :math:`\mu_1`. The rule
  is run as matrix products: :math:`R_{m,r}` (partitions of ``m`` by partitions of
  ``m - r``, entries :math:`\pm1` where a rim hook of length ``r`` is removed; found on
  beta-sets, a hook being a bead moved ``r`` places down past ``h`` beads, sign
  :math:`(-1)^h`) is built once for all ``m <= n`` and ``r``, and a column is
  :math:`R_{n,\mu_1} R_{n-\mu_1,\mu_2} \cdots [1]`, smallest parts first, memoised on the
  parts used (exact int64; the values are bounded by the degrees);
* degrees by the hook length formula :math:`f^\lambda = n!/\prod h(x)`, checked against
  the value at the identity; Frobenius-Schur indicators are all 1 (every representation of
  :math:`S_n` is realised over :math:`\mathbb{Q}`).

**Alternating groups** :math:`A_n` by restriction from :math:`S_n`: the class of an even
cycle type :math:`\mu` splits into two classes of :math:`A_n` iff its parts are distinct
and odd (representatives ``z`` and ``(0 1) z (0 1)``); :math:`\chi^\lambda` and
:math:`\chi^{\lambda'}` restrict to the same irreducible when :math:`\lambda \ne
\lambda'`, and a self-conjugate :math:`\lambda = \lambda'` gives two irreducibles of
degree :math:`f^\lambda/2` that differ only on the two classes of type :math:`h(\lambda)`
(the diagonal hook lengths), where they are

.. math:: \frac{\varepsilon \pm \sqrt{\varepsilon q}}{2}, \qquad
   q = \prod_i h_i, \quad \varepsilon = (-1)^{(n-k)/2}

(:math:`k` diagonal hooks; Frobenius, see James and Kerber, *The representation theory of
the symmetric group*, 2.5.13); elsewhere they take :math:`\chi^\lambda/2`. The square root
is an exact :class:`~metasym.representations.cyclotomic.Cyclotomic`: with
:math:`\varepsilon q = s^2 d`, ``d`` squarefree (:math:`d \equiv 1 \bmod 4`), the
quadratic Gauss sum :math:`\sqrt d = \sum_{a=1}^{|d|} \left(\frac{a}{|d|}\right)
\zeta_{|d|}^a` (Jacobi symbol), squared and compared with ``d`` exactly before use.
Power maps of split classes: :math:`z^j` lies in the class of ``z`` iff the permutation
:math:`x \mapsto jx` of each cycle (the conjugator from ``z`` to :math:`z^j`) is even
overall. Indicators: 1 for restrictions, and for the split pairs 1 when
:math:`\varepsilon = 1` (real values) else 0.

**Direct products** built by the groups layer
(:func:`~metasym.groups.direct_product`, ``product(...)`` specs) get the tensor product of
their factors' tables, each factor by the best method (recursively): classes are tuples of
classes (representatives side by side on the factors' points, sizes multiply, orders take
the lcm), values and indicators multiply, power maps act factor-wise.

Measured (2 shared cores, ``nice -n 19``; see ``docs/theory.md``): ``symmetric:20`` (627
classes) in about 2 s, ``alternating:20`` in about 3 s.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from functools import cache, lru_cache
from typing import Any

import numpy as np
import scipy.sparse as sp

from metasym.errors import TooLargeError
from metasym.groups import FiniteGroup
from metasym.representations.characters import (
    STRUCTURED_METHODS,
    CharacterTable,
    ConjugacyClass,
)
from metasym.representations.cyclotomic import Cyclotomic

__all__ = [
    "structured_character_table",
    "symmetric_character_table",
    "alternating_character_table",
    "product_character_table",
    "partitions",
    "conjugate_partition",
    "hook_lengths",
    "hook_length_degree",
    "murnaghan_nakayama",
    "class_size",
    "symmetric_class_representative",
    "quadratic_surd",
    "STRUCTURED_CLASS_LIMIT",
]

Partition = tuple[int, ...]

#: Largest number of classes (rows and columns) of a table built here: the table holds
#: ``r^2`` exact values (``symmetric:22`` has 1002 classes, about 0.2 GB).
STRUCTURED_CLASS_LIMIT = 1_100


# ----- partitions -----------------------------------------------------------------------------
@cache
def partitions(n: int) -> tuple[Partition, ...]:
    """All partitions of ``n`` (parts non-increasing), in reverse lexicographic order:
    ``(n,)`` first, ``(1,) * n`` last.

    >>> partitions(4)
    ((4,), (3, 1), (2, 2), (2, 1, 1), (1, 1, 1, 1))
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    out: list[Partition] = []

    def rec(rest: int, largest: int, prefix: tuple[int, ...]) -> None:
        if rest == 0:
            out.append(prefix)
            return
        for part in range(min(rest, largest), 0, -1):
            rec(rest - part, part, prefix + (part,))

    rec(n, n, ())
    return tuple(out)


def conjugate_partition(lam: Sequence[int]) -> Partition:
    r"""The conjugate :math:`\lambda'` (transpose of the Young diagram).

    >>> conjugate_partition((3, 1))
    (2, 1, 1)
    """
    lam = tuple(lam)
    return tuple(sum(1 for p in lam if p > i) for i in range(lam[0] if lam else 0))


def hook_lengths(lam: Sequence[int]) -> list[list[int]]:
    r"""Hook length :math:`h(i, j) = \lambda_i - j + \lambda'_j - i - 1` of every box."""
    conj = conjugate_partition(lam)
    return [[lam[i] - j + conj[j] - i - 1 for j in range(lam[i])] for i in range(len(lam))]


def hook_length_degree(lam: Sequence[int]) -> int:
    r"""The degree :math:`f^\lambda = n!/\prod_{x} h(x)` (hook length formula).

    >>> hook_length_degree((2, 1)), hook_length_degree((3, 2, 1))
    (2, 16)
    """
    n = sum(lam)
    prod = math.prod(h for row in hook_lengths(lam) for h in row)
    deg, rem = divmod(math.factorial(n), prod)
    if rem:  # pragma: no cover - a theorem
        raise ArithmeticError(f"hook lengths of {tuple(lam)} do not divide {n}!")
    return deg


def _diagonal_hooks(lam: Partition) -> Partition:
    """Hook lengths on the diagonal (distinct odd parts when ``lam`` is self-conjugate)."""
    conj = conjugate_partition(lam)
    return tuple(lam[i] + conj[i] - 2 * i - 1 for i in range(len(lam)) if lam[i] > i)


def class_size(mu: Sequence[int]) -> int:
    r""":math:`n!/z_\mu`, the number of permutations of cycle type ``mu``.

    >>> class_size((2, 1, 1)), class_size((3, 1))
    (6, 8)
    """
    n = sum(mu)
    z = 1
    for part in set(mu):
        m = list(mu).count(part)
        z *= part ** m * math.factorial(m)
    return math.factorial(n) // z


def symmetric_class_representative(mu: Sequence[int]) -> tuple[int, ...]:
    """Image tuple of the permutation with cycles ``(0 1 .. mu_1-1)(mu_1 ..)...``."""
    img, start = [], 0
    for part in mu:
        img.extend(start + (i + 1) % part for i in range(part))
        start += part
    return tuple(img)


# ----- Murnaghan-Nakayama -----------------------------------------------------------------------
def _rim_hook_removals(lam: Partition, lengths: Sequence[int] | None = None):
    r"""Yield ``(r, kappa, sign)`` for every rim hook of ``lam`` (of a length in
    ``lengths``, default all): removing it (length ``r``) leaves ``kappa`` with sign
    :math:`(-1)^{\text{height}}`. On the beta-set :math:`\beta_i = \lambda_i + k - 1 - i`,
    a rim hook is a bead moved from ``b`` to an empty ``b - r >= 0``; its height is the
    number of beads strictly in between."""
    k = len(lam)
    beta = [lam[i] + k - 1 - i for i in range(k)]
    asc = beta[::-1]
    occupied = set(beta)
    shift = list(range(k - 1, -1, -1))
    rs = range(1, (beta[0] if beta else 0) + 1) if lengths is None else lengths
    for i, b in enumerate(beta):
        for r in rs:
            target = b - r
            if target < 0 or target in occupied:
                continue
            between = bisect_left(asc, b) - bisect_right(asc, target)
            # bead b (index i) moves to target, below the `between` beads after it
            new = beta[:i] + beta[i + 1:i + 1 + between] + [target] + beta[i + 1 + between:]
            kappa = tuple(x - s for x, s in zip(new, shift) if x > s)
            yield r, kappa, -1 if between % 2 else 1


def _needed_lengths(m: int, n: int) -> list[int]:
    """Hook lengths ``r`` whose matrix ``R[(m, r)]`` the columns of :math:`S_n` use: parts
    are applied smallest first, so a part ``r`` reaching the partial sum ``m`` is followed
    by parts of at least ``r`` (``m = n`` or ``n - m >= r``)."""
    return list(range(1, m + 1)) if m == n else list(range(1, min(m, n - m) + 1))


def _bead_keys(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    r"""``(betas, keys)`` for the partitions of ``m`` on an abacus of ``n`` beads:
    :math:`\beta_i = \lambda_i + n - 1 - i` and the bitmask of the occupied positions."""
    parts = np.zeros((len(partitions(m)), n), dtype=np.int64)
    for i, lam in enumerate(partitions(m)):
        parts[i, :len(lam)] = lam
    betas = parts + np.arange(n - 1, -1, -1)[None, :]
    keys = (np.int64(1) << betas).sum(axis=1)
    return betas, keys


@lru_cache(maxsize=8)
def _removal_matrices(n: int) -> dict[tuple[int, int], Any]:
    r"""Sparse int64 ``R[(m, r)]`` (``p(m) x p(m - r)``, CSR) for the pairs
    :func:`_needed_lengths` lists, vectorised on an abacus of ``n`` beads (the same for
    every ``m``, so a partition keeps its key when a hook is removed): a hook of length
    ``r`` moves a bead from ``b`` to an empty ``b - r``, with sign :math:`(-1)^h`, ``h``
    the beads strictly in between (prefix sums of the occupancy). Checked against
    :func:`_rim_hook_removals` in the tests."""
    if n > 30:  # keys are bitmasks of 2n positions
        raise TooLargeError(f"the symmetric-group method handles n <= 30, got {n}")
    abacus = {m: _bead_keys(m, n) for m in range(n + 1)}
    order = {m: np.argsort(k) for m, (_, k) in abacus.items()}
    out: dict[tuple[int, int], Any] = {}
    for m in range(1, n + 1):
        betas, keys = abacus[m]
        p = betas.shape[0]
        occ = np.zeros((p, m + n), dtype=np.int64)
        np.put_along_axis(occ, betas, 1, axis=1)
        cum = np.cumsum(occ, axis=1)
        rows = np.broadcast_to(np.arange(p)[:, None], betas.shape)
        for r in _needed_lengths(m, n):
            t = betas - r
            ok = t >= 0
            ok[ok] = occ[rows[ok], t[ok]] == 0
            i, b, tt = rows[ok], betas[ok], t[ok]
            between = cum[i, b - 1] - cum[i, tt]
            new = keys[i] - (np.int64(1) << b) + (np.int64(1) << tt)
            _, k2 = abacus[m - r]
            pos = np.searchsorted(k2, new, sorter=order[m - r])
            j = order[m - r][np.minimum(pos, k2.size - 1)]
            if (k2[j] != new).any():  # pragma: no cover - a hook removal is a partition
                raise ArithmeticError(f"a rim hook removal left no partition of {m - r}")
            out[(m, r)] = sp.csr_matrix((np.where(between % 2, -1, 1), (i, j)),
                                        shape=(p, k2.size), dtype=np.int64)
    return out


def _mn_columns(n: int, mus: Sequence[Partition]) -> np.ndarray:
    """``X[i, k] = chi^{lambda_i}(mu_k)`` (``lambda_i`` in :func:`partitions` order)."""
    R = _removal_matrices(n)
    memo: dict[tuple[int, ...], np.ndarray] = {(): np.ones(1, dtype=np.int64)}
    X = np.empty((len(partitions(n)), len(mus)), dtype=np.int64)
    for k, mu in enumerate(mus):
        parts = sorted(mu)  # smallest first: shared prefixes are memoised
        done = 0
        while tuple(parts[:done + 1]) in memo and done < len(parts):
            done += 1
        v = memo[tuple(parts[:done])]
        size = sum(parts[:done])
        for j in range(done, len(parts)):
            size += parts[j]
            v = R[(size, parts[j])] @ v
            memo[tuple(parts[:j + 1])] = v
        X[:, k] = v
    return X


def murnaghan_nakayama(lam: Sequence[int], mu: Sequence[int]) -> int:
    r""":math:`\chi^\lambda(\mu)`, the irreducible character of :math:`S_n` indexed by
    ``lam`` at a permutation of cycle type ``mu`` (exact integer).

    >>> murnaghan_nakayama((2, 1), (3,)), murnaghan_nakayama((3, 1, 1), (1, 1, 1, 1, 1))
    (-1, 6)
    """
    lam, mu = tuple(sorted(lam, reverse=True)), tuple(sorted(mu, reverse=True))
    n = sum(lam)
    if sum(mu) != n:
        raise ValueError(f"{lam} and {mu} are partitions of different numbers")
    i = partitions(n).index(lam)
    return int(_mn_columns(n, [mu])[i, 0])


# ----- exact quadratic surds ---------------------------------------------------------------------
def _jacobi(a: int, m: int) -> int:
    """Jacobi symbol ``(a/m)`` for odd ``m > 0``."""
    a %= m
    out = 1
    while a:
        while a % 2 == 0:
            a //= 2
            if m % 8 in (3, 5):
                out = -out
        a, m = m, a
        if a % 4 == 3 and m % 4 == 3:
            out = -out
        a %= m
    return out if m == 1 else 0


def _squarefree(x: int) -> tuple[int, int]:
    """``(s, d)`` with ``x = s^2 d``, ``d`` squarefree (keeps the sign)."""
    sign, x = (-1 if x < 0 else 1), abs(x)
    s, d, q = 1, 1, 2
    while q * q <= x:
        while x % (q * q) == 0:
            x //= q * q
            s *= q
        if x % q == 0:
            x //= q
            d *= q
        q += 1
    return s, sign * d * x


@cache
def _sqrt_squarefree(d: int) -> Cyclotomic:
    """An exact square root of a squarefree ``d = 1 (mod 4)`` (quadratic Gauss sum)."""
    if d == 1:
        return Cyclotomic.integer(1)
    m = abs(d)
    root = Cyclotomic.from_roots(m, [0] + [_jacobi(a, m) for a in range(1, m)])
    if root * root != Cyclotomic.integer(d):  # pragma: no cover - a theorem
        raise ArithmeticError(f"the Gauss sum for {d} does not square to it")
    return root


def quadratic_surd(eps: int, q: int) -> tuple[Cyclotomic, Cyclotomic]:
    r"""The two values :math:`(\varepsilon \pm \sqrt{\varepsilon q})/2` (exact; an
    algebraic integer since :math:`\varepsilon q \equiv 1 \bmod 4`).

    >>> [str(v) for v in quadratic_surd(1, 5)]
    ['-E(5)^2-E(5)^3', '-E(5)-E(5)^4']
    >>> [str(v) for v in quadratic_surd(-1, 3)]
    ['E(3)', 'E(3)^2']
    """
    x = eps * q
    if x % 4 != 1:
        raise ValueError(f"{eps} * {q} is not 1 mod 4")
    s, d = _squarefree(x)
    if d % 4 != 1:  # pragma: no cover - follows from x = 1 mod 4 with s odd
        raise ArithmeticError(f"squarefree part {d} of {x} is not 1 mod 4")
    out = []
    for sign in (1, -1):
        v = Cyclotomic.integer(eps) + _sqrt_squarefree(d) * (sign * s)
        if any(c % 2 for c in v.coefficients):  # pragma: no cover - a theorem
            raise ArithmeticError(f"({eps} + sqrt({x}))/2 is not an algebraic integer")
        out.append(Cyclotomic(v.conductor, tuple(c // 2 for c in v.coefficients)))
    return out[0], out[1]


# ----- helpers shared by the tables -------------------------------------------------------------
_INT_CACHE: dict[int, Cyclotomic] = {}


def _int(v: int) -> Cyclotomic:
    c = _INT_CACHE.get(v)
    if c is None:
        c = Cyclotomic.integer(v) if abs(v) < 2 else _integer(v)
        if len(_INT_CACHE) < 1_000_000:
            _INT_CACHE[v] = c
    return c


def _integer(v: int) -> Cyclotomic:
    """The rational integer ``v`` as a :class:`Cyclotomic`, built directly: conductor 1,
    coefficients ``(v,)`` are already canonical (what ``Cyclotomic.integer`` returns)."""
    c = Cyclotomic.__new__(Cyclotomic)
    c._n, c._c = 1, (int(v),)
    return c


def _as_cyclotomic(X: np.ndarray) -> list[list[Cyclotomic]]:
    """An integer matrix as rows of shared :class:`Cyclotomic` objects (one per value)."""
    uniq, inv = np.unique(X, return_inverse=True)
    objs = np.empty(uniq.size, dtype=object)
    objs[:] = [_int(int(u)) for u in uniq]
    return objs[inv.reshape(X.shape)].tolist()


def _row_order(values: Sequence[Sequence[Cyclotomic]], degrees: Sequence[int],
               labels: Sequence[tuple] | None = None) -> list[int]:
    """Rows as :func:`~metasym.representations.characters.character_table` orders them:
    the trivial character first, then by degree; ties by ``labels`` (partitions in
    :func:`partitions` order, as GAP lists them) or else by the exact values."""
    def key(i: int):
        trivial = all(v == 1 for v in values[i])
        tie = labels[i] if labels is not None else [(v.conductor, v.coefficients)
                                                    for v in values[i]]
        return (not trivial, degrees[i], tie)

    return sorted(range(len(values)), key=key)


def _check_classes(what: str, spec: str, r: int) -> None:
    if r > STRUCTURED_CLASS_LIMIT:
        raise TooLargeError(f"{spec[:80]} has {r} conjugacy classes, above the limit of "
                            f"{STRUCTURED_CLASS_LIMIT} for {what} (the table holds r^2 exact "
                            "values)")


@cache
def _n_partitions(n: int) -> int:
    """p(n) by Euler's pentagonal recurrence (no listing)."""
    p = [1] + [0] * n
    for m in range(1, n + 1):
        total, k = 0, 1
        while True:
            for g in (k * (3 * k - 1) // 2, k * (3 * k + 1) // 2):
                if g > m:
                    break
                total += (-1) ** (k + 1) * p[m - g]
            if k * (3 * k - 1) // 2 > m:
                break
            k += 1
        p[m] = total
    return p[n]


def _power_type(mu: Partition, j: int) -> Partition:
    """Cycle type of :math:`z^j` for ``z`` of type ``mu``."""
    out: list[int] = []
    for part in mu:
        g = math.gcd(part, j)
        out.extend([part // g] * g)
    return tuple(sorted(out, reverse=True))


def _multiplier_is_odd(part: int, j: int) -> bool:
    """Whether ``x -> j x (mod part)`` is an odd permutation (``gcd(j, part) = 1``)."""
    seen = [False] * part
    cycles = 0
    for x in range(part):
        if not seen[x]:
            cycles += 1
            while not seen[x]:
                seen[x] = True
                x = x * j % part
    return (part - cycles) % 2 == 1


def _is_kind(group: FiniteGroup, kind: str) -> bool:
    """Whether ``group`` is all of :math:`S_n` (``kind="symmetric"``) or :math:`A_n` on its
    ``n`` points: the groups layer's record, else the order (``n!`` or ``n!/2``)."""
    n = group.degree
    if group._kind == kind or group.alt_sym == kind:
        return True
    if n <= 2 and kind == "alternating":
        return group.order == 1
    if n > 1000:
        return False
    return group.order == math.factorial(n) // (2 if kind == "alternating" else 1)


# ----- symmetric groups ---------------------------------------------------------------------------
def symmetric_character_table(group: FiniteGroup) -> CharacterTable:
    r"""The character table of ``group``, which must be all of :math:`S_n` on its ``n``
    points (see the module docstring: Murnaghan-Nakayama, hook lengths).

    Columns: the cycle types in :func:`partitions` order reversed (the identity
    :math:`1^n` first). Rows: trivial first, then by degree.

    Examples
    --------
    >>> from metasym.groups import symmetric
    >>> T = symmetric_character_table(symmetric(4))
    >>> T.class_sizes, T.degrees
    ((1, 6, 3, 8, 6), (1, 1, 2, 3, 3))
    """
    t0 = time.perf_counter()
    n = group.degree
    if not _is_kind(group, "symmetric"):
        raise ValueError(f"{group.spec[:80]} is not the symmetric group on its points")
    _check_classes("the symmetric-group method", group.spec, _n_partitions(n))
    lams = partitions(n)
    mus = lams[::-1]
    X = _mn_columns(n, mus)
    degrees = [hook_length_degree(lam) for lam in lams]
    if X[:, 0].tolist() != degrees:  # pragma: no cover - two theorems agree
        raise ArithmeticError("hook-length degrees differ from the Murnaghan-Nakayama values")
    index = {mu: k for k, mu in enumerate(mus)}
    classes, power_maps = [], []
    for mu in mus:
        o = math.lcm(*mu)
        classes.append(ConjugacyClass(class_size(mu), symmetric_class_representative(mu), o, -1))
        by_gcd: dict[int, int] = {}  # z^j depends on j through gcd(j, o) only
        pm = []
        for j in range(o):
            d = math.gcd(j, o)
            if d not in by_gcd:
                by_gcd[d] = index[_power_type(mu, d)]
            pm.append(by_gcd[d])
        power_maps.append(pm)
    values = _as_cyclotomic(X)
    rows = _row_order(values, degrees, [(i,) for i in range(len(lams))])
    return CharacterTable(
        group, classes, [values[i] for i in rows], [degrees[i] for i in rows],
        [1] * len(rows), power_maps,
        method=f"symmetric group S_{n}: Murnaghan-Nakayama rule, hook length formula",
        seconds=time.perf_counter() - t0)


# ----- alternating groups --------------------------------------------------------------------------
def _alternating_class_count(n: int) -> int:
    """Classes of :math:`A_n` without building them: even types, split ones twice."""
    if n < 2:
        return 1
    return sum(2 if len(set(mu)) == len(mu) and all(p % 2 for p in mu) else 1
               for mu in partitions(n) if (n - len(mu)) % 2 == 0)


def alternating_character_table(group: FiniteGroup) -> CharacterTable:
    r"""The character table of ``group``, which must be all of :math:`A_n` on its ``n``
    points (restriction from :math:`S_n`, split classes and characters: see the module
    docstring).

    Columns: the even cycle types (identity first), a split type as two adjacent columns
    (the canonical representative, then its conjugate by ``(0 1)``). Rows: trivial first,
    then by degree.

    Examples
    --------
    >>> from metasym.groups import alternating
    >>> T = alternating_character_table(alternating(5))
    >>> T.degrees, T.class_sizes
    ((1, 3, 3, 4, 5), (1, 15, 20, 12, 12))
    >>> sorted(str(v) for v in T.values[1])
    ['-1', '-E(5)-E(5)^4', '-E(5)^2-E(5)^3', '0', '3']
    """
    t0 = time.perf_counter()
    n = group.degree
    if not _is_kind(group, "alternating"):
        raise ValueError(f"{group.spec[:80]} is not the alternating group on its points")
    if n < 3:  # the trivial group (on 1 or 2 points)
        cls = ConjugacyClass(1, tuple(range(n)), 1, -1)
        return CharacterTable(group, [cls], [[_int(1)]], [1], [1], [[0]],
                              method=f"alternating group A_{n} (trivial)",
                              seconds=time.perf_counter() - t0)
    _check_classes("the alternating-group method", group.spec, _alternating_class_count(n))
    lams = partitions(n)
    even = [mu for mu in lams[::-1] if (n - len(mu)) % 2 == 0]
    X = _mn_columns(n, even)
    col_of = {mu: k for k, mu in enumerate(even)}

    def splits(mu: Partition) -> bool:
        return len(set(mu)) == len(mu) and all(p % 2 for p in mu)

    # columns of A_n: (type, half) with half 0 (canonical rep) or 1 (conjugate by (0 1))
    columns: list[tuple[Partition, int]] = []
    for mu in even:
        columns.extend([(mu, 0), (mu, 1)] if splits(mu) else [(mu, 0)])
    where = {c: k for k, c in enumerate(columns)}
    classes, power_maps = [], []
    for mu, half in columns:
        rep = list(symmetric_class_representative(mu))
        if half:  # (0 1) z (0 1): swap the labels 0 and 1 (both in the first cycle)
            swap = {0: 1, 1: 0}
            rep = [swap.get(rep[swap.get(x, x)], rep[swap.get(x, x)]) for x in range(n)]
        size = class_size(mu) // (2 if splits(mu) else 1)
        o = math.lcm(*mu)
        classes.append(ConjugacyClass(size, tuple(rep), o, -1))
        pm = []
        by_gcd: dict[int, int] = {}
        for j in range(o):
            d = math.gcd(j, o)
            if d == 1 and splits(mu):  # z^j has the type of z: which half?
                odd = sum(_multiplier_is_odd(p, j) for p in mu) % 2
                pm.append(where[(mu, half ^ odd)])
                continue
            if d not in by_gcd:  # otherwise z^j depends on gcd(j, o) only, never split
                nu = _power_type(mu, d)
                by_gcd[d] = where[(nu, half if nu == mu else 0)]
            pm.append(by_gcd[d])
        power_maps.append(pm)

    values: list[list[Cyclotomic]] = []
    degrees: list[int] = []
    indicators: list[int] = []
    labels: list[tuple[int, int]] = []
    for i, lam in enumerate(lams):
        conj = conjugate_partition(lam)
        if conj != lam:
            if lam < conj:  # one of each pair {lam, lam'}
                continue
            values.append([_int(int(X[i, col_of[mu]])) for mu, _ in columns])
            degrees.append(int(X[i, col_of[(1,) * n]]))
            indicators.append(1)
            labels.append((i, 0))
            continue
        h = _diagonal_hooks(lam)
        k = len(h)
        eps = -1 if ((n - k) // 2) % 2 else 1
        if int(X[i, col_of[h]]) != eps:  # pragma: no cover - a theorem
            raise ArithmeticError(f"chi^{lam} at {h} is {X[i, col_of[h]]}, expected {eps}")
        plus, minus = quadratic_surd(eps, math.prod(h))
        for sign in (0, 1):
            row = []
            for mu, half in columns:
                if mu == h:
                    row.append(plus if half == sign else minus)
                else:
                    v = int(X[i, col_of[mu]])
                    if v % 2:  # pragma: no cover - a theorem
                        raise ArithmeticError(f"chi^{lam}({mu}) = {v} is odd")
                    row.append(_int(v // 2))
            values.append(row)
            degrees.append(int(X[i, col_of[(1,) * n]]) // 2)
            indicators.append(1 if plus.conjugate() == plus else 0)
            labels.append((i, sign))
    rows = _row_order(values, degrees, labels)
    return CharacterTable(
        group, classes, [values[i] for i in rows], [degrees[i] for i in rows],
        [indicators[i] for i in rows], power_maps,
        method=f"alternating group A_{n}: restriction from S_{n} (Murnaghan-Nakayama), "
               "split classes by Frobenius' formula",
        seconds=time.perf_counter() - t0)


# ----- direct products ---------------------------------------------------------------------------
def product_character_table(group: FiniteGroup,
                            factor_tables: Sequence[CharacterTable] | None = None
                            ) -> CharacterTable:
    r"""The character table of a direct product built by
    :func:`~metasym.groups.direct_product`: the tensor product of the factors' tables
    (each computed by :func:`~metasym.representations.characters.character_table`, i.e. by
    the best method for that factor, unless given).

    Columns: tuples of factor classes in lexicographic order (the first factor's class
    varies slowest); the representative acts on each factor's block of points as that
    factor's representative. Rows: trivial first, then by degree.

    Examples
    --------
    >>> from metasym.groups import cyclic, direct_product, symmetric
    >>> T = product_character_table(direct_product(symmetric(3), cyclic(2)))
    >>> T.n_classes, T.degrees
    (6, (1, 1, 1, 1, 2, 2))
    """
    from metasym.representations.characters import character_table

    t0 = time.perf_counter()
    factors = tuple(group._factors)
    if len(factors) < 2:
        raise ValueError(f"{group.spec[:80]} is not a direct product built by the groups layer")
    r = math.prod(_class_count_estimate(f) for f in factors)
    _check_classes("tensoring the factors' tables", group.spec, r)
    tables = list(factor_tables) if factor_tables is not None else [
        character_table(f) for f in factors]
    _check_classes("tensoring the factors' tables", group.spec,
                   math.prod(U.n_classes for U in tables))
    T = tables[0]
    offset = factors[0].degree
    for f, U in zip(factors[1:], tables[1:]):
        T = _tensor(T, U, offset)
        offset += f.degree
    # ties broken by the factors' row numbers (each factor's rows are already ordered)
    labels = list(np.ndindex(*[len(U.values) for U in tables]))
    rows = _row_order(T.values, T.degrees, labels)
    methods = "; ".join(f"{f.spec[:40]}: {U.method}" for f, U in zip(factors, tables))
    return CharacterTable(
        group, T.classes, [T.values[i] for i in rows], [T.degrees[i] for i in rows],
        [T.indicators[i] for i in rows], T.power_maps,
        method=f"direct product: tensor product of the factors' tables ({methods})",
        seconds=time.perf_counter() - t0)


def _class_count_estimate(G: FiniteGroup) -> int:
    """Classes of ``G`` when cheap to know (S_n, A_n, products), else 1 (unknown: the
    factor's own method applies its limits)."""
    if G._factors:
        return math.prod(_class_count_estimate(f) for f in G._factors)
    kind = G._kind or (G.alt_sym if G._known_order is not None else None)
    if kind == "symmetric":
        return _n_partitions(G.degree)
    if kind == "alternating":
        return _alternating_class_count(G.degree)
    return 1


def _tensor(A: CharacterTable, B: CharacterTable, offset: int) -> CharacterTable:
    """Tensor product of two tables (``B``'s points shifted by ``offset``)."""
    rb = len(B.classes)
    classes, power_maps = [], []
    for a in A.classes:
        for b in B.classes:
            rep = tuple(a.representative) + tuple(offset + x for x in b.representative)
            classes.append(ConjugacyClass(a.size * b.size, rep,
                                          math.lcm(a.element_order, b.element_order), -1))
    for ka, a in enumerate(A.classes):
        for kb, b in enumerate(B.classes):
            o = math.lcm(a.element_order, b.element_order)
            pa, pb = A.power_maps[ka], B.power_maps[kb]
            power_maps.append([pa[j % len(pa)] * rb + pb[j % len(pb)] for j in range(o)])
    # few distinct values: number them, multiply each pair of distinct values once
    da: dict[Cyclotomic, int] = {}
    db: dict[Cyclotomic, int] = {}
    ia = [[da.setdefault(v, len(da)) for v in row] for row in A.values]
    ib = [[db.setdefault(v, len(db)) for v in row] for row in B.values]
    va, vb = list(da), list(db)
    table = np.empty((len(va), len(vb)), dtype=object)
    table[:] = [[_mul(x, y) for y in vb] for x in va]
    values = []
    for ra in ia:
        for rbv in ib:
            values.append(table[np.ix_(ra, rbv)].reshape(-1).tolist())
    degrees = [da * db for da in A.degrees for db in B.degrees]
    indicators = [ia * ib for ia in A.indicators for ib in B.indicators]
    return CharacterTable(A.group, classes, values, degrees, indicators, power_maps)


def _mul(x: Cyclotomic, y: Cyclotomic) -> Cyclotomic:
    if x.is_rational and y.is_rational:
        return _int(x.coefficients[0] * y.coefficients[0])
    return x * y


# ----- dispatch --------------------------------------------------------------------------------------
def structured_character_table(group: FiniteGroup) -> CharacterTable | None:
    """The table by structure when ``group`` is :math:`S_n` or :math:`A_n` on its points
    or a direct product built by the groups layer; ``None`` otherwise (then the generic
    method applies).

    Recognition: the groups layer's record (``symmetric:n``, ``alternating:n``,
    ``product(...)``), or :attr:`~metasym.groups.FiniteGroup.alt_sym` (a group of order
    ``n!`` or ``n!/2`` on ``n`` points is :math:`S_n` or :math:`A_n`; without a known
    order, sympy's ``is_alt_sym``, whose "yes" is certain, then the parity of the
    generators), and when that test says "no" (it can err that way), the order by
    Schreier-Sims compared with ``n!`` and ``n!/2``. Groups of degree below 8 that are not named ``symmetric:n`` or
    ``alternating:n`` (``cyclic:3``, ``dihedral:3``, ``perm:...``) keep the generic method.
    """
    if group._factors:
        return product_character_table(group)
    kind = group._kind
    family = group.spec.split(":", 1)[0]
    if kind is None and family in ("symmetric", "alternating"):
        kind = group.alt_sym  # named, built with its order n! or n!/2 on n points
    if kind is None and group.degree >= 8 and group.n_generators:
        # order at least 8!/2 (above the generic method's enumeration): recognised by
        # a known order, else sympy's one-sided test (its "yes" is certain)
        try:
            kind = group.alt_sym
            if kind is None and group.degree <= 1000:
                # sympy's test may say "no" to S_n / A_n (with small probability): the
                # order (Schreier-Sims, certain) decides; |G| = n! or n!/2 on n points
                full = math.factorial(group.degree)
                kind = {full: "symmetric", full // 2: "alternating"}.get(group.order)
        except TooLargeError:
            kind = None
    if kind == "symmetric":
        return symmetric_character_table(group)
    if kind == "alternating":
        return alternating_character_table(group)
    return None


STRUCTURED_METHODS.append(structured_character_table)
