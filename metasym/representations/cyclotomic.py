r"""Exact cyclotomic integers: the values of characters of finite groups.

A value :math:`v \in \mathbb{Z}[\zeta_n]`, :math:`\zeta_n = e^{2\pi i/n}`, is stored as
its coordinates in the **power basis** :math:`1, \zeta_n, \dots, \zeta_n^{\varphi(n)-1}`
(the remainder of any integer polynomial in :math:`\zeta_n` modulo the cyclotomic
polynomial :math:`\Phi_n`), with ``n`` the **conductor**: the smallest ``n`` with
:math:`v \in \mathbb{Q}(\zeta_n)` (never :math:`2 \bmod 4`). The pair ``(n, coefficients)``
is therefore canonical: two values are equal iff their pairs are equal.

Strings use GAP's notation ``E(n)`` for :math:`\zeta_n` (``n`` the conductor) and
write the value as a sum of powers of ``E(n)`` with few terms: the power-basis form,
shortened by the relations :math:`\sum_{j<p} \zeta_n^{s + jn/p} = 0` (``p`` prime,
``p | n``), e.g. ``"E(3)^2"`` for :math:`\zeta_3^2` and ``"-E(5)^2-E(5)^3"`` for
:math:`(1+\sqrt5)/2`; rationals print as integers. The string is a function of the
value (equal values print equally) and evaluates to it.
"""

from __future__ import annotations

import cmath
import math
from functools import cache, lru_cache

import numpy as np

__all__ = ["Cyclotomic", "cyclotomic_polynomial", "reduce_power_basis", "embed_power_basis",
           "euler_phi", "is_prime", "primitive_root_of_unity", "matmul_mod", "reduction_bound",
           "evaluation_matrix"]


@cache
def _factor(n: int) -> tuple[tuple[int, int], ...]:
    out, m, q = [], n, 2
    while q * q <= m:
        if m % q == 0:
            k = 0
            while m % q == 0:
                m //= q
                k += 1
            out.append((q, k))
        q += 1
    if m > 1:
        out.append((m, 1))
    return tuple(out)


def euler_phi(n: int) -> int:
    r""":math:`\varphi(n)`, the degree of :math:`\mathbb{Q}(\zeta_n)`."""
    out = n
    for q, _ in _factor(n):
        out = out // q * (q - 1)
    return out


@cache
def _phi_poly(n: int) -> tuple[int, ...]:
    r""":math:`\Phi_n`, lowest degree first. :math:`\Phi_n(x) = \Phi_m(x^{n/m})` for the
    radical ``m`` of ``n``, and :math:`\Phi_m = \prod_{d | m} (x^d - 1)^{\mu(m/d)}`:
    multiplications and exact divisions by the sparse :math:`x^d - 1`, with Python
    integers, in :math:`O(2^{\omega(m)} \deg)` array operations (the long division by
    every :math:`\Phi_d` it replaces took seconds at ``n = 7440``)."""
    primes = [q for q, _ in _factor(n)]
    m = math.prod(primes)
    num: list[int] = []
    den: list[int] = []
    for mask in range(1 << len(primes)):
        d = math.prod(q for i, q in enumerate(primes) if not mask >> i & 1)  # m / (sub)
        (den if bin(mask).count("1") % 2 else num).append(d)
    poly = np.zeros(1, dtype=object)
    poly[0] = 1
    for d in num:  # multiply by x^d - 1
        new = np.zeros(poly.size + d, dtype=object)
        new[d:] += poly
        new[:poly.size] -= poly
        poly = new
    for d in den:  # divide by x^d - 1 (exact): c = q (x^d - 1) gives q[k] = q[k-d] - c[k]
        q = np.zeros(poly.size - d, dtype=object)
        for lo in range(0, q.size, d):
            hi = min(lo + d, q.size)
            prev = q[lo - d:hi - d] if lo >= d else np.zeros(hi - lo, dtype=object)
            q[lo:hi] = prev - poly[lo:hi]
        rebuilt = np.zeros(poly.size, dtype=object)
        rebuilt[d:] += q
        rebuilt[:q.size] -= q
        if not (rebuilt == poly).all():  # pragma: no cover - exact theory
            raise ArithmeticError(f"x^{d} - 1 does not divide the product for Phi_{m}")
        poly = q
    step = n // m
    out = [0] * ((poly.size - 1) * step + 1)
    for k, c in enumerate(poly.tolist()):
        out[k * step] = int(c)
    return tuple(out)


def _divide_exact(num: list[int], den: list[int]) -> list[int]:
    num = list(num)
    out = [0] * (len(num) - len(den) + 1)
    for k in range(len(out) - 1, -1, -1):
        c = num[k + len(den) - 1]  # den is monic
        out[k] = c
        if c:
            for j, b in enumerate(den):
                num[k + j] -= c * b
    return out


def cyclotomic_polynomial(n: int) -> np.ndarray:
    r"""Coefficients of :math:`\Phi_n` (int64, lowest degree first; monic, degree
    :math:`\varphi(n)`)."""
    if n < 1:
        raise ValueError(f"n must be positive, got {n}")
    return np.array(_phi_poly(int(n)), dtype=np.int64)


def reduce_power_basis(vectors: np.ndarray, n: int) -> np.ndarray:
    r"""Reduce integer polynomials in :math:`\zeta_n` to the power basis.

    ``vectors`` has shape ``(..., L)``: entry ``[..., k]`` is the coefficient of
    :math:`\zeta_n^k`. Exponents are first folded modulo ``n`` (:math:`\zeta_n^n = 1`),
    then the remainder modulo :math:`\Phi_n` is taken. Returns ``(..., phi(n))`` int64.
    Vectorised over the leading axes: :math:`O(n\,\varphi(n))` array operations.
    """
    v = np.asarray(vectors, dtype=np.int64)
    lead = v.shape[:-1]
    folded = np.zeros(lead + (n,), dtype=np.int64)
    L = v.shape[-1]
    for start in range(0, L, n):
        chunk = v[..., start:start + n]
        folded[..., :chunk.shape[-1]] += chunk
    phi = cyclotomic_polynomial(n)
    deg = len(phi) - 1
    for k in range(n - 1, deg - 1, -1):  # eliminate x^k with x^k = x^(k-deg) * (x^deg - Phi)
        c = folded[..., k].copy()
        if not c.any():
            continue
        folded[..., k - deg:k + 1] -= c[..., None] * phi
    return folded[..., :deg]


@lru_cache(maxsize=256)
def _embedding(n: int, m: int) -> np.ndarray:
    step = m // n
    k = euler_phi(n)
    unit = np.zeros((k, (k - 1) * step + 1), dtype=np.int64)
    unit[np.arange(k), np.arange(k) * step] = 1
    out = reduce_power_basis(unit, m)
    out.setflags(write=False)
    return out


def embed_power_basis(coords: np.ndarray, n: int, m: int) -> np.ndarray:
    r"""Power-basis coordinates in :math:`\mathbb{Q}(\zeta_n)` (last axis, length
    :math:`\varphi(n)`) mapped to :math:`\mathbb{Q}(\zeta_m)` for ``n | m``
    (:math:`\zeta_n = \zeta_m^{m/n}`): an integer matrix product."""
    if m % n:
        raise ValueError(f"{n} does not divide {m}")
    return np.asarray(coords, dtype=np.int64) @ _embedding(int(n), int(m))


def _crt_split(n: int, p: int) -> tuple[int, int]:
    """``(alpha, beta)`` with ``1 = alpha*M + beta*p``, ``M = n // p`` coprime to ``p``."""
    M = n // p
    alpha = pow(M, -1, p)
    beta = (1 - alpha * M) // p
    return alpha, beta


@lru_cache(maxsize=200_000)
def _canonical(n: int, coeffs: tuple[int, ...]) -> tuple[int, tuple[int, ...]]:
    """Smallest conductor and power-basis coordinates of a power-basis vector."""
    v = np.array(coeffs, dtype=np.int64)
    changed = True
    while changed and n > 1:
        changed = False
        for p, k in _factor(n):
            M = n // p
            if k >= 2:  # projection keeps the exponents divisible by p
                w = np.zeros(M, dtype=np.int64)
                idx = np.arange(0, v.size, p)
                w[idx // p] = v[idx]
                w = reduce_power_basis(w, M)
            else:
                alpha, beta = _crt_split(n, p)
                acc = np.zeros(M, dtype=np.int64)
                for e, c in enumerate(v.tolist()):
                    if c:
                        weight = (p - 1) if (alpha * e) % p == 0 else -1
                        acc[(beta * e) % M] += c * weight
                acc = reduce_power_basis(acc, M)
                if (acc % (p - 1)).any():
                    continue
                w = acc // (p - 1)
            back = np.zeros(max(1, (w.size - 1) * p + 1), dtype=np.int64)
            back[np.arange(w.size) * p] = w
            if np.array_equal(reduce_power_basis(back, n), v):
                v, n, changed = w, M, True
                break
    return n, tuple(int(x) for x in v)


def _cost(vals: list[int], c: int) -> tuple[int, int]:
    shifted = [x - c for x in vals]
    return sum(1 for x in shifted if x), sum(abs(x) for x in shifted)


@lru_cache(maxsize=100_000)
def _short_form(n: int, coeffs: tuple[int, ...]) -> tuple[int, ...]:
    """A sum of roots with few terms for printing: the power-basis vector, improved
    greedily (fewer terms, then smaller coefficients) by adding multiples of the relations :math:`\\sum_j \\zeta_n^{s + jn/p} = 0`
    (``p`` a prime divisor of ``n``) while that removes terms. Deterministic, so equal
    values print equally; the result still evaluates to the same number."""
    v = list(coeffs) + [0] * (n - len(coeffs))
    improved = True
    while improved:
        improved = False
        for p, _ in _factor(n):
            step = n // p
            for s in range(step):
                idx = [s + j * step for j in range(p)]
                vals = [v[i] for i in idx]
                best, best_key = 0, _cost(vals, 0)
                for c in sorted(set(vals)):
                    key = _cost(vals, c)
                    if key < best_key:
                        best, best_key = c, key
                if best:
                    for i in idx:
                        v[i] -= best
                    improved = True
    return tuple(v)


class Cyclotomic:
    r"""An exact element of :math:`\mathbb{Z}[\zeta_n]` (a cyclotomic integer), canonical.

    Build one with :meth:`from_roots` (a sum of roots of unity) or :meth:`integer`;
    combine with ``+``, ``-``, ``*``, :meth:`conjugate`. Equal values have equal
    :attr:`conductor` and :attr:`coefficients` (see the module docstring), so equality
    and hashing are exact. ``complex(v)`` is a float view.

    Examples
    --------
    >>> w = Cyclotomic.from_roots(3, [0, 1, 0])        # zeta_3
    >>> str(w), str(w * w), str(w + w * w)
    ('E(3)', 'E(3)^2', '-1')
    >>> golden = Cyclotomic.from_roots(5, [1, 0, 1, 1, 0])   # 1 + z^2 + z^3
    >>> str(golden), round(complex(golden).real, 6)
    ('-E(5)-E(5)^4', -0.618034)
    >>> golden.coefficients                             # power basis 1, z, z^2, z^3
    (1, 0, 1, 1)
    >>> Cyclotomic.from_roots(6, [0, 1, 0, 0, 0, 0]).conductor  # Q(zeta_6) = Q(zeta_3)
    3
    """

    __slots__ = ("_n", "_c")

    def __init__(self, conductor: int, coefficients: tuple[int, ...] | np.ndarray) -> None:
        n = int(conductor)
        c = tuple(int(x) for x in np.asarray(coefficients, dtype=np.int64).reshape(-1))
        if len(c) != euler_phi(n):
            c = tuple(reduce_power_basis(np.array(c or (0,), dtype=np.int64), n).tolist())
        self._n, self._c = _canonical(n, c)

    # ----- construction -----------------------------------------------------------------
    @classmethod
    def from_roots(cls, n: int, multiplicities) -> Cyclotomic:
        r""":math:`\sum_k m_k \zeta_n^k` from integer multiplicities ``m`` (any length:
        exponents are read modulo ``n``)."""
        m = np.asarray(multiplicities, dtype=np.int64).reshape(-1)
        return cls(n, reduce_power_basis(m if m.size else np.zeros(1, np.int64), int(n)))

    @classmethod
    def integer(cls, value: int) -> Cyclotomic:
        return cls(1, (int(value),))

    # ----- value object -----------------------------------------------------------------
    @property
    def conductor(self) -> int:
        """Smallest ``n`` with the value in :math:`\\mathbb{Q}(\\zeta_n)`."""
        return self._n

    @property
    def coefficients(self) -> tuple[int, ...]:
        r"""Power-basis coordinates in :math:`\mathbb{Q}(\zeta_{\text{conductor}})`."""
        return self._c

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (int, np.integer)):
            return self._n == 1 and self._c[0] == int(other)
        return isinstance(other, Cyclotomic) and (self._n, self._c) == (other._n, other._c)

    def __hash__(self) -> int:
        return hash(self._c[0]) if self._n == 1 else hash((self._n, self._c))

    def __repr__(self) -> str:
        return f"Cyclotomic({str(self)!r})"

    def __str__(self) -> str:
        n = self._n
        full = _short_form(n, self._c)
        out = []
        for k, c in enumerate(full):
            if not c:
                continue
            if k == 0:
                term = str(abs(c))
            else:
                root = f"E({n})" + (f"^{k}" if k > 1 else "")
                term = root if abs(c) == 1 else f"{abs(c)}*{root}"
            out.append(("-" if c < 0 else ("+" if out else "")) + term)
        return "".join(out) or "0"

    @property
    def is_rational(self) -> bool:
        return self._n == 1

    def __int__(self) -> int:
        if self._n != 1:
            raise ValueError(f"{self} is not an integer")
        return self._c[0]

    def __complex__(self) -> complex:
        z = cmath.exp(2j * math.pi / self._n)
        return complex(sum(c * z**k for k, c in enumerate(self._c)))

    def to_sympy(self):
        """The value as a sympy expression (sums of ``exp(2*pi*I*k/n)``)."""
        import sympy

        z = sympy.exp(2 * sympy.pi * sympy.I / self._n)
        return sympy.Add(*[c * z**k for k, c in enumerate(self._c)])

    # ----- arithmetic -------------------------------------------------------------------
    def _lift(self, n: int) -> np.ndarray:
        """Coordinates as a (non-reduced) polynomial in :math:`\\zeta_n`, ``conductor | n``."""
        step = n // self._n
        out = np.zeros(n, dtype=np.int64)
        out[np.arange(len(self._c)) * step] = self._c
        return out

    @staticmethod
    def _coerce(x) -> Cyclotomic:
        if isinstance(x, Cyclotomic):
            return x
        if isinstance(x, (int, np.integer)):
            return Cyclotomic.integer(int(x))
        return NotImplemented  # type: ignore[return-value]

    def __add__(self, other) -> Cyclotomic:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        n = math.lcm(self._n, o._n)
        return Cyclotomic(n, reduce_power_basis(self._lift(n) + o._lift(n), n))

    __radd__ = __add__

    def __neg__(self) -> Cyclotomic:
        return Cyclotomic(self._n, tuple(-c for c in self._c))

    def __sub__(self, other) -> Cyclotomic:
        o = self._coerce(other)
        return NotImplemented if o is NotImplemented else self + (-o)

    def __rsub__(self, other) -> Cyclotomic:
        return (-self) + other

    def __mul__(self, other) -> Cyclotomic:
        o = self._coerce(other)
        if o is NotImplemented:
            return NotImplemented
        if o._n == 1:
            return Cyclotomic(self._n, tuple(c * o._c[0] for c in self._c))
        n = math.lcm(self._n, o._n)
        prod = np.convolve(self._lift(n), o._lift(n))
        return Cyclotomic(n, reduce_power_basis(prod, n))

    __rmul__ = __mul__

    def conjugate(self) -> Cyclotomic:
        r"""Complex conjugate (:math:`\zeta \mapsto \zeta^{-1}`)."""
        n = self._n
        out = np.zeros(n, dtype=np.int64)
        for k, c in enumerate(self._c):
            out[(-k) % n] += c
        return Cyclotomic(n, reduce_power_basis(out, n))

    def galois(self, a: int) -> Cyclotomic:
        r"""The Galois conjugate :math:`\zeta \mapsto \zeta^a` (``a`` coprime to the
        conductor)."""
        n = self._n
        if math.gcd(int(a), n) != 1:
            raise ValueError(f"{a} is not coprime to the conductor {n}")
        out = np.zeros(n, dtype=np.int64)
        for k, c in enumerate(self._c):
            out[(a * k) % n] += c
        return Cyclotomic(n, reduce_power_basis(out, n))


# ----- arithmetic modulo a prime ----------------------------------------------------------------
def is_prime(n: int) -> bool:
    """Whether ``n`` is prime (deterministic Miller-Rabin below 3.3e24)."""
    if n < 2:
        return False
    for q in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % q == 0:
            return n == q
    d, s = n - 1, 0
    while d % 2 == 0:
        d //= 2
        s += 1
    for a in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):  # deterministic below 3.3e24
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def primitive_root_of_unity(e: int, p: int) -> int:
    """An element of multiplicative order exactly ``e`` in F_p (``e | p-1``)."""
    qs = [q for q in range(2, int(math.isqrt(p - 1)) + 2) if (p - 1) % q == 0 and is_prime(q)]
    if is_prime(p - 1):
        qs.append(p - 1)
    m, rest = p - 1, []
    for q in qs:
        if m % q == 0:
            rest.append(q)
            while m % q == 0:
                m //= q
    if m > 1:
        rest.append(m)
    for g in range(2, p):
        if all(pow(g, (p - 1) // q, p) != 1 for q in rest):
            return pow(g, (p - 1) // e, p)
    return 1  # p = 2: e = 1


def matmul_mod(a: np.ndarray, b: np.ndarray, p: int) -> np.ndarray:
    """``a @ b mod p`` for int64 arrays with entries in ``[0, p)``, exact for ``p < 2^32``:
    each operand is split into 16-bit halves so that no partial sum overflows int64
    (inner dimension up to 2^31)."""
    a = np.asarray(a, dtype=np.int64) % p
    b = np.asarray(b, dtype=np.int64) % p
    if a.shape[-1] * (p - 1) ** 2 < 2**63:
        return (a @ b) % p
    if p >= 2**32:
        return (a.astype(object) @ b.astype(object) % p).astype(np.int64)
    a1, a0 = a >> 16, a & 0xFFFF
    b1, b0 = b >> 16, b & 0xFFFF
    hi = (a1 @ b1) % p
    mid = ((a1 @ b0) % p + (a0 @ b1) % p) % p
    lo = (a0 @ b0) % p
    s16 = (1 << 16) % p
    s32 = (1 << 32) % p
    return ((hi * s32) % p + (mid * s16) % p + lo) % p


@cache
def reduction_bound(n: int) -> int:
    r"""The largest absolute power-basis coordinate of :math:`\zeta_n^t`,
    :math:`0 \le t < n`: reducing an integer combination of roots with coefficients of
    total absolute value ``B`` gives coordinates of absolute value at most ``B`` times
    this."""
    phi = cyclotomic_polynomial(n)
    deg = len(phi) - 1
    cur = np.zeros(deg, dtype=np.int64)
    if deg:
        cur[0] = 1
    best = 1
    for _ in range(n):
        top = cur[-1] if deg else 0
        nxt = np.zeros(deg, dtype=np.int64)
        nxt[1:] = cur[:-1]
        nxt -= top * phi[:deg]  # x * x^t: shift, replace x^deg by -(Phi - x^deg)
        cur = nxt
        best = max(best, int(np.abs(cur).max(initial=0)))
    return best


def evaluation_matrix(n: int, E: int, q: int, omega: int, exponents: np.ndarray) -> np.ndarray:
    r"""``V[j, t] =`` :math:`\omega^{(E/n)\,j\,t_s}` mod ``q``: multiplying power-basis
    coordinates in :math:`\mathbb{Q}(\zeta_n)` (``n | E``) by ``V`` evaluates them at
    :math:`\zeta_E \mapsto \omega^{t_s}` (``omega`` of order ``E`` mod ``q``), for each
    exponent :math:`t_s` in ``exponents``: a ring homomorphism
    :math:`\mathbb{Z}[\zeta_E] \to \mathbb{F}_q` when :math:`t_s` is coprime to ``E``."""
    step = E // n
    j = np.arange(euler_phi(n), dtype=np.int64)
    powers = (step * j[:, None] * np.asarray(exponents, dtype=np.int64)[None, :]) % E
    table = np.empty(E, dtype=np.int64)
    x = 1
    for t in range(E):
        table[t] = x
        x = x * omega % q
    return table[powers]
