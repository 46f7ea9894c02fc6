r"""Real isotypic decomposition and equivariant bases from Schur's lemma.

**Decomposition.** Over :math:`\mathbb{C}` a representation :math:`V` of a finite group
is :math:`\bigoplus_i \chi_i^{m_i}` with :math:`m_i = \langle\chi_V, \chi_i\rangle`
(:meth:`CharacterTable.multiplicities
<metasym.representations.characters.CharacterTable.multiplicities>`). Over
:math:`\mathbb{R}` the irreducibles come in three **real types**, told apart by the
Frobenius-Schur indicator :math:`\nu(\chi)`:

* ``real`` (:math:`\nu = 1`): :math:`\chi` is the character of a real irreducible
  :math:`U` of dimension :math:`\chi(1)`; :math:`\mathrm{End}_G(U) = \mathbb{R}`;
* ``complex`` (:math:`\nu = 0`): :math:`\chi \ne \bar\chi` and the real irreducible
  :math:`U` has character :math:`\chi + \bar\chi` (dimension :math:`2\chi(1)`);
  :math:`\mathrm{End}_G(U) = \mathbb{C}`;
* ``quaternionic`` (:math:`\nu = -1`): :math:`U` has character :math:`2\chi` (dimension
  :math:`2\chi(1)`); :math:`\mathrm{End}_G(U) = \mathbb{H}`.

The **real isotypic projector** of a real irreducible with character :math:`\psi`
(:math:`\chi`, :math:`\chi + \bar\chi` or :math:`\chi`) is

.. math:: P = \frac{\chi(1)}{|G|} \sum_g \psi(g^{-1})\,\rho(g),

an idempotent commuting with :math:`G` whose image is the sum of all copies of :math:`U`;
the projectors of the distinct real irreducibles sum to the identity
(:func:`isotypic_decomposition`).

**Schur's lemma** gives the equivariant maps: with :math:`V \cong \bigoplus_i U_i^{a_i}`
and :math:`W \cong \bigoplus_i U_i^{b_i}`,

.. math:: \mathrm{Hom}_G(V, W) \cong \bigoplus_i M_{b_i \times a_i}(\mathrm{End}_G(U_i)),
   \qquad \dim = \sum_i a_i b_i c_i,\quad c_i \in \{1, 2, 4\}.

:func:`schur_basis` builds it explicitly (see its docstring for the construction and its
cost); :func:`orbit_basis` solves representations of the form *permutation* ``⊗`` *small
matrix* by orbits of pairs; :func:`equivariant_basis` chooses between these and the
nullspace of :func:`~metasym.representations.linear.nullspace_basis` and verifies the
result.

**Where floats enter.** The nullspace method is exact for rational representations up to
``EXACT_AUTO_LIMIT`` unknowns (``EXACT_LIMIT`` on request). The orbit method is exact
(rational arithmetic on the small stabiliser problems and on every placed block) when the
small factors are rational, and the result is stored as float64 (rationals rounded once).
The Schur-lemma method works in float64 throughout (projectors from the exact character
values, eigen-decompositions); it is verified by residuals and by the character formula
for the dimension.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from metasym.errors import MetasymError, MismatchError, SpecError, TooLargeError
from metasym.groups import ELEMENT_LIMIT, GroupAction
from metasym.representations.characters import CharacterTable, ElementLookup, character_table
from metasym.representations.linear import (
    EXACT_AUTO_LIMIT,
    EXACT_LIMIT,
    FLOAT_NULLSPACE_LIMIT,
    EquivariantBasis,
    LinearRepresentation,
    as_linear,
    nullspace_basis,
)
from metasym.representations.orbit_generators import (
    full_index,
    orbit_structure,
    small_nullspace,
)
from metasym.representations.permutation import PermutationRepresentation

__all__ = [
    "RealComponent",
    "RealDecomposition",
    "SchurFactors",
    "isotypic_decomposition",
    "equivariant_basis",
    "schur_basis",
    "orbit_basis",
    "hom_dimension",
    "SCHUR_ORDER_LIMIT",
    "SCHUR_CELLS",
    "DENSE_BASIS_CELLS",
    "ORBIT_CELLS",
]

#: Largest group order for which the Schur method sums over the elements.
SCHUR_ORDER_LIMIT = 5_000
#: Largest ``order * d**2`` float64 entries of element matrices held (per representation).
SCHUR_CELLS = 40_000_000
#: Largest ``m*n*k`` entries of a Schur basis returned as a dense array (else structured).
DENSE_BASIS_CELLS = 20_000_000
#: Largest ``order * orbits`` (and entries placed) for the orbit method.
ORBIT_CELLS = 100_000_000

_KINDS = {1: "real", 0: "complex", -1: "quaternionic"}


# ----- decomposition ---------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class RealComponent:
    r"""One real isotypic component of a real representation.

    Attributes
    ----------
    characters
        Rows of the character table: one, or the pair :math:`(\chi, \bar\chi)` for the
        complex type.
    kind
        ``"real"``, ``"complex"`` or ``"quaternionic"`` (from the Frobenius-Schur indicator).
    degree
        :math:`\chi(1)`.
    real_degree
        Dimension of the real irreducible :math:`U`: :math:`\chi(1)` (real type) or
        :math:`2\chi(1)`.
    commutant_dimension
        :math:`\dim \mathrm{End}_G(U)`: 1, 2 or 4.
    multiplicity
        Copies of :math:`U` in the representation.
    dimension
        ``multiplicity * real_degree``: the rank of the projector.
    projector
        The ``d x d`` float64 projector (see the module docstring).
    """

    characters: tuple[int, ...]
    kind: str
    degree: int
    real_degree: int
    commutant_dimension: int
    multiplicity: int
    dimension: int
    projector: np.ndarray = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"characters": [f"X.{i + 1}" for i in self.characters], "kind": self.kind,
                "degree": self.degree, "real_degree": self.real_degree,
                "commutant_dimension": self.commutant_dimension,
                "multiplicity": self.multiplicity, "dimension": self.dimension}


@dataclass(frozen=True, eq=False)
class RealDecomposition:
    """The real isotypic decomposition of a representation (:func:`isotypic_decomposition`).

    Attributes
    ----------
    representation
        The decomposed :class:`~metasym.representations.LinearRepresentation`.
    table
        The character table used.
    multiplicities
        Complex multiplicities :math:`\\langle\\chi_\\rho, \\chi_i\\rangle`, one per row.
    components
        The :class:`RealComponent` of every real irreducible that occurs.
    residual
        Largest of :math:`|P^2 - P|`, :math:`|\\rho(s) P - P \\rho(s)|` and
        :math:`|\\sum P - I|` (entries, float64).
    """

    representation: LinearRepresentation
    table: CharacterTable
    multiplicities: tuple[int, ...]
    components: tuple[RealComponent, ...]
    residual: float

    def basis(self, i: int) -> np.ndarray:
        """A ``d x dimension`` matrix whose columns span component ``i`` (orthonormal in the
        standard inner product when the representation is orthogonal)."""
        P = self.components[i].projector
        r = self.components[i].dimension
        U, _, _ = np.linalg.svd(P)
        return U[:, :r]

    def to_json(self) -> dict[str, Any]:
        return {"representation": self.representation.spec,
                "multiplicities": list(self.multiplicities),
                "components": [c.to_json() for c in self.components],
                "residual": self.residual}


def _real_characters(T: CharacterTable) -> list[tuple[tuple[int, ...], int]]:
    """Real irreducibles: ``(rows, indicator)``, a complex-type row paired with its
    conjugate (the lower row first)."""
    out, seen = [], set()
    for i, row in enumerate(T.values):
        if i in seen:
            continue
        nu = T.indicators[i]
        if nu != 0:
            out.append(((i,), nu))
            seen.add(i)
            continue
        conj = tuple(v.conjugate() for v in row)
        j = next(j for j, r in enumerate(T.values) if r == conj)
        out.append(((i, j), 0))
        seen.update((i, j))
    return out


def _element_classes(T: CharacterTable) -> np.ndarray:
    """Column of the table for every element (in ``group.element_arrays`` order)."""
    G = T.group
    out = np.empty(G.order, dtype=np.int64)
    where = {(c.index if c.index >= 0 else G.element_index(c.representative)): k
             for k, c in enumerate(T.classes)}
    for members in G.conjugacy_class_indices:
        ks = [where[x] for x in members if x in where]
        out[list(members)] = ks[0]
    return out


def _coefficients(T: CharacterTable, rows: tuple[int, ...], cls: np.ndarray,
                  inverse_idx: np.ndarray) -> np.ndarray:
    r"""``c(g) = chi(1)/|G| * psi(g^{-1})`` for every element (float64, real)."""
    X = T.complex_values()
    psi = X[list(rows)].sum(axis=0)  # chi, or chi + conj(chi)
    vals = psi[cls[inverse_idx]]
    return (T.degrees[rows[0]] / T.order) * vals.real


def _inverse_indices(G: Any) -> np.ndarray:
    el = G.element_arrays
    inv = np.empty_like(el)
    np.put_along_axis(inv, el, np.broadcast_to(np.arange(G.degree), el.shape), axis=1)
    return ElementLookup(G).find(inv)


def _check_schur_size(rep: LinearRepresentation, what: str) -> None:
    G = rep.group
    if G.order > SCHUR_ORDER_LIMIT:
        raise TooLargeError(f"{what} sums over the {G.order} elements of {G.spec[:60]}, above "
                            f"the limit {SCHUR_ORDER_LIMIT}")
    if G.order * rep.degree ** 2 > SCHUR_CELLS:
        raise TooLargeError(f"{what} holds {G.order} matrices of size {rep.degree} x "
                            f"{rep.degree}, above {SCHUR_CELLS} entries")


def isotypic_decomposition(rep: Any, table: CharacterTable | None = None) -> RealDecomposition:
    r"""Multiplicities, real isotypic projectors and real types of a representation.

    ``rep`` is a :class:`~metasym.groups.GroupAction`,
    :class:`~metasym.representations.PermutationRepresentation` or
    :class:`~metasym.representations.LinearRepresentation`. The projectors (module
    docstring) are sums over the enumerated group, ``|G| d^2`` operations each, in float64
    from the exact character values, up to :data:`SCHUR_ORDER_LIMIT` elements and
    :data:`SCHUR_CELLS` entries. Larger groups are never listed: the projectors come from
    the commutant :math:`\mathrm{End}_G(V)` (:func:`equivariant_basis` of ``rep`` to
    itself; orbitals for permutation representations), as the orthogonal projectors onto
    the unions of eigenspaces of a random symmetric element that the commutant connects,
    each identified by its character at the class representatives (orthogonal generators
    needed; e.g. ``symmetric:12`` on its 144 ordered pairs in about 0.1 s). Verified:
    idempotent, equivariant, summing to the identity, ranks equal to the character
    multiplicities (else ``ArithmeticError``).

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> from metasym.representations import LinearRepresentation
    >>> rot = LinearRepresentation(cyclic(4), [[[0, -1], [1, 0]]], exact=True)
    >>> D = isotypic_decomposition(rot)
    >>> D.multiplicities                      # the two non-real characters of C4
    (0, 0, 1, 1)
    >>> [(c.kind, c.multiplicity, c.commutant_dimension) for c in D.components]
    [('complex', 1, 2)]
    """
    rho = as_linear(rep)
    G = rho.group
    try:
        _check_schur_size(rho, "an isotypic decomposition")
    except TooLargeError:
        if not G.order_exceeds(SCHUR_ORDER_LIMIT):
            raise
        # too many elements to sum over: the projectors from the commutant (no listing)
        T = character_table(G) if table is None else table
        if T.group != G:
            raise MismatchError(f"the table is of {T.group.spec}, not of {G.spec}") from None
        return _isotypic_from_commutant(rho, T, rep)
    T = character_table(G) if table is None else table
    if T.group != G:
        raise MismatchError(f"the table is of {T.group.spec}, not of {G.spec}")
    E = rho.element_matrices()
    cls = _element_classes(T)
    inv = _inverse_indices(G)
    mult = _multiplicities(T, np.trace(E, axis1=1, axis2=2), cls)
    d = rho.degree
    comps = []
    total = np.zeros((d, d))
    for rows, nu in _real_characters(T):
        m = mult[rows[0]]
        if m == 0:
            continue
        comps.append(_component(T, rows, nu, m, np.tensordot(
            _coefficients(T, rows, cls, inv), E, axes=(0, 0))))
        total += comps[-1].projector
    res = float(np.abs(total - np.eye(d)).max(initial=0.0))
    scale = max(1.0, float(np.abs(E).max(initial=0.0)))
    return _verified_decomposition(rho, T, mult, comps, res, scale)


def _verified_decomposition(rho: LinearRepresentation, T: CharacterTable, mult: list[int],
                            comps: list[RealComponent], res: float,
                            scale: float) -> RealDecomposition:
    """Check the projectors (idempotent, equivariant under the generators, traces equal to
    the component dimensions; ``res`` already holds the distance of their sum from the
    identity) and wrap them."""
    d = rho.degree
    gens = rho.generator_matrices()
    for c in comps:
        P = c.projector
        res = max(res, float(np.abs(P @ P - P).max(initial=0.0)))
        for S in gens:
            res = max(res, float(np.abs(S @ P - P @ S).max(initial=0.0)))
        rank = int(round(float(np.trace(P))))
        if rank != c.dimension:
            raise ArithmeticError(f"projector of {c.kind} component {c.characters} has trace "
                                  f"{np.trace(P):.6g}, expected {c.dimension}")
    if res > 1e-8 * scale * d:
        raise ArithmeticError(f"isotypic projectors failed their check (residual {res:.3g})")
    return RealDecomposition(rho, T, tuple(mult), tuple(comps), res)


def _isotypic_from_commutant(rho: LinearRepresentation, T: CharacterTable, rep: Any = None,
                             seed: int = 0) -> RealDecomposition:
    r"""Isotypic projectors of a group too large to sum over, from the commutant
    :math:`\mathrm{End}_G(V)` (:func:`equivariant_basis` of ``rho`` to itself, which for
    permutation-type representations of large groups never lists the group).

    For orthogonal generators the commutant is closed under transposition; the
    eigenspaces of a random symmetric element :math:`X` of it are :math:`G`-invariant and
    lie inside isotypic components, and two of them lie in the same component iff some
    basis element of the commutant maps one onto the other (Schur). The orthogonal
    projector onto each union is an isotypic projector; which real irreducible it belongs
    to is read from its character :math:`\mathrm{tr}\,\rho(z_k)P` at the class
    representatives (inner products with the table's real characters, which must pick
    exactly one). Float64; verified as in the enumerating path."""
    d = rho.degree
    gens = rho.generator_matrices()
    if any(np.abs(S @ S.T - np.eye(d)).max(initial=0.0) > 1e-9 for S in gens):
        raise TooLargeError(f"an isotypic decomposition of {T.group.spec[:60]} without "
                            f"listing its {T.group.order_text} elements needs orthogonal "
                            "generator matrices")
    B = equivariant_basis(rho, rho)
    k = B.dimension
    if k * d * d > SCHUR_CELLS:
        raise TooLargeError(f"an isotypic decomposition from the commutant holds {k} maps "
                            f"of size {d} x {d}, above {SCHUR_CELLS} entries")
    Ws = np.asarray(B.weight(np.eye(k)), dtype=np.float64).reshape(k, d, d)
    scale = max(1.0, float(np.abs(Ws).max(initial=0.0)))
    rng = np.random.default_rng(seed)
    Xs = np.tensordot(rng.standard_normal(k), Ws, axes=1)
    lam, Q = np.linalg.eigh(Xs + Xs.T)
    cuts = np.flatnonzero(np.diff(lam) > 1e-7 * max(1.0, float(np.abs(lam).max(initial=0.0))))
    spaces = np.split(np.arange(d), cuts + 1)
    parent = list(range(len(spaces)))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    M = Q.T @ Ws @ Q  # the commutant in the eigenbasis (batched over the basis)
    for a, Sa in enumerate(spaces):
        for b in range(a + 1, len(spaces)):
            if find(a) != find(b) and np.abs(M[:, Sa][:, :, spaces[b]]).max() > 1e-6 * scale:
                parent[find(b)] = find(a)
    unions: dict[int, list[int]] = {}
    for a, Sa in enumerate(spaces):
        unions.setdefault(find(a), []).extend(Sa.tolist())
    action = rep.action if isinstance(rep, PermutationRepresentation) else rep
    if isinstance(action, GroupAction):  # permutation matrices straight from the action
        mats = []
        for c in T.classes:
            Mk = np.zeros((d, d))
            Mk[np.asarray(action.image(np.asarray(c.representative))), np.arange(d)] = 1.0
            mats.append(Mk)
        mult = T.multiplicities(action)
    else:
        mats = [np.asarray(rho.element_matrix(np.asarray(c.representative), exact=False),
                           dtype=np.float64) for c in T.classes]
        mult = T.multiplicities(rho)
    X = T.complex_values()
    weights = np.array([c.size for c in T.classes], dtype=object) / T.order
    weights = weights.astype(np.float64)
    real_chars = _real_characters(T)
    found: dict[int, np.ndarray] = {}
    for cols in unions.values():
        Qu = Q[:, cols]
        P = Qu @ Qu.T
        chi = np.array([np.trace(Mk @ P) for Mk in mats])
        inner = [abs(complex((weights * chi * X[list(rows)].sum(axis=0).conj()).sum()))
                 for rows, _ in real_chars]
        hits = [r for r, v in enumerate(inner) if v > 1e-6]
        if len(hits) != 1:
            if seed < 3:  # two components shared an eigenvalue: another random element
                return _isotypic_from_commutant(rho, T, rep, seed + 1)
            raise ArithmeticError("the commutant's eigenspaces did not separate the isotypic "
                                  "components")
        found[hits[0]] = found.get(hits[0], 0) + P
    comps = []
    total = np.zeros((d, d))
    for r, (rows, nu) in enumerate(real_chars):
        m = mult[rows[0]]
        if m == 0:
            if r in found:
                raise ArithmeticError(f"a component of X.{rows[0] + 1}, which does not occur")
            continue
        if r not in found:
            raise ArithmeticError(f"no component found for X.{rows[0] + 1} (multiplicity {m})")
        comps.append(_component(T, rows, nu, m, np.array(found[r], dtype=np.float64)))
        total += comps[-1].projector
    res = float(np.abs(total - np.eye(d)).max(initial=0.0))
    return _verified_decomposition(rho, T, mult, comps, res, scale)


def _component(T: CharacterTable, rows: tuple[int, ...], nu: int, m: int,
               P: np.ndarray) -> RealComponent:
    deg = T.degrees[rows[0]]
    kind = _KINDS[nu]
    if kind == "quaternionic" and m % 2:
        raise MetasymError(f"X.{rows[0] + 1} is quaternionic but occurs {m} (odd) times: "
                           "the representation is not real")
    real_deg = deg if kind == "real" else 2 * deg
    real_mult = m // 2 if kind == "quaternionic" else m
    c = {"real": 1, "complex": 2, "quaternionic": 4}[kind]
    P.setflags(write=False)
    return RealComponent(rows, kind, deg, real_deg, c, real_mult, real_mult * real_deg, P)


def _multiplicities(T: CharacterTable, traces: np.ndarray, cls: np.ndarray) -> list[int]:
    """Complex multiplicities from float traces per element (rounded, checked)."""
    X = T.complex_values()
    m = (X.conj()[:, cls] * traces[None, :]).sum(axis=1) / T.order
    r = np.round(m.real)
    err = float(np.abs(m - r).max(initial=0.0))
    if err > 1e-6 or (r < 0).any():
        raise MetasymError(f"multiplicities are not non-negative integers (error {err:.3g})")
    return [int(x) for x in r]


def hom_dimension(rep_in: Any, rep_out: Any) -> int:
    r""":math:`\dim\mathrm{Hom}_G(V, W) = \frac1{|G|}\sum_g \chi_V(g)\,\chi_W(g)` (real
    characters), summed over the enumerated group; exact for actions and rational
    representations (integer traces), else rounded from float64 (must be within
    ``1e-6`` of an integer)."""
    chi_v, ex_v = _character(rep_in)
    chi_w, ex_w = _character(rep_out)
    G = _group(rep_in)
    if ex_v and ex_w:
        total = sum(int(a) * int(b) for a, b in zip(chi_v, chi_w))
        if total % G.order:
            raise ArithmeticError(f"character formula gives {total}/{G.order}")
        return total // G.order
    val = float(np.dot(np.asarray(chi_v, float), np.asarray(chi_w, float))) / G.order
    if abs(val - round(val)) > 1e-6:
        raise ArithmeticError(f"character formula gives {val}, not an integer")
    return int(round(val))


def _group(rep: Any) -> Any:
    return rep.group


def _character(rep: Any) -> tuple[list, bool]:
    """``(values per element, exact)`` for any representation form."""
    struct = orbit_structure(rep)
    if struct is not None:
        action, small, _ = struct
        imgs = action.element_images()
        fix = (imgs == np.arange(action.degree)[None, :]).sum(axis=1)
        if small is None:
            return fix.tolist(), True
        if small.is_rational:
            Es = small.element_matrices(exact=True)
            tr = [sum(M[i, i] for i in range(small.degree)) for M in Es]
            if all(Fraction(t).denominator == 1 for t in tr):
                return [int(f) * int(t) for f, t in zip(fix, tr)], True
        tr = np.trace(small.element_matrices(), axis1=1, axis2=2)
        return (fix * tr).tolist(), False
    rho = as_linear(rep)
    if rho.is_rational and rho.group.order * rho.degree ** 3 <= 5_000_000:
        Es = rho.element_matrices(exact=True)
        tr = [sum(M[i, i] for i in range(rho.degree)) for M in Es]
        if all(Fraction(t).denominator == 1 for t in tr):
            return [int(t) for t in tr], True
    return np.trace(rho.element_matrices(), axis1=1, axis2=2).tolist(), False


# ----- the Schur-lemma basis ---------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class SchurFactors:
    r"""The structure of a Schur-lemma basis: for each real irreducible :math:`U_i`
    occurring in both representations, a left factor ``L`` (``m x b*u``: ``b`` copies of
    :math:`U_i` in the output, aligned to one model), the commutant basis ``E``
    (``c x u x u``) and a right factor ``R`` (``a*u x n``: the dual rows of the ``a``
    input copies). Basis element ``(i, q, p, t)`` is
    :math:`L_q E_t R_p` (blocks of ``u`` columns / rows), ordered by component, then
    ``q``, ``p``, ``t``."""

    components: tuple[tuple[np.ndarray, np.ndarray, np.ndarray], ...]
    kinds: tuple[str, ...]
    shape: tuple[int, int]

    @property
    def counts(self) -> tuple[int, ...]:
        """Basis elements per component (``b * a * c``)."""
        return tuple((L.shape[1] // E.shape[1]) * (R.shape[0] // E.shape[1]) * E.shape[0]
                     for L, E, R in self.components)

    def weight(self, v: np.ndarray) -> np.ndarray:
        """The ``m x n`` map of the coefficient vector ``v`` (``k`` entries), without
        materialising the basis: :math:`\\sum_i L_i (\\sum_t C_{i,t} \\otimes E_t) R_i`."""
        v = np.asarray(v, dtype=np.float64).reshape(-1)
        W = np.zeros(self.shape)
        start = 0
        for (L, E, R), k in zip(self.components, self.counts):
            c, u = E.shape[0], E.shape[1]
            b, a = L.shape[1] // u, R.shape[0] // u
            C = v[start:start + k].reshape(b, a, c)
            start += k
            mid = np.einsum("qpt,tuv->qupv", C, E).reshape(b * u, a * u)
            W += L @ mid @ R
        return W


def _orthogonal_frame(E: np.ndarray, gens: np.ndarray) -> tuple[np.ndarray | None, np.ndarray]:
    """``(R, E')`` with ``E'[g] = R E[g] R^{-1}`` orthogonal; ``R = None`` when the
    generators are already orthogonal (then ``E' = E``)."""
    d = E.shape[1]
    scale = max(1.0, float(np.abs(gens).max(initial=0.0)))
    if all(np.abs(S.T @ S - np.eye(d)).max(initial=0.0) <= 1e-12 * scale * d for S in gens):
        return None, E
    M = np.einsum("gji,gjk->ik", E, E) / len(E)  # sum rho(g)^T rho(g): invariant form
    L = np.linalg.cholesky((M + M.T) / 2)
    Rm = L.T  # |R x|^2 = x^T M x
    Rinv = np.linalg.inv(Rm)
    return Rm, np.einsum("ij,gjk,kl->gil", Rm, E, Rinv)


def _component_space(P: np.ndarray, r: int) -> np.ndarray:
    """Orthonormal basis of the image of a symmetric projector of rank ``r``."""
    w, V = np.linalg.eigh((P + P.T) / 2)
    return V[:, np.argsort(-w)[:r]]


def _eigen_slice(A: np.ndarray, Q: np.ndarray, size: int, lam: float | None,
                 tol: float) -> tuple[np.ndarray, float, float]:
    """Eigenvectors (columns, in full coordinates) of ``A`` restricted to ``span Q`` for
    one eigenvalue cluster of ``size`` vectors: the cluster nearest ``lam``, or (``lam``
    None) the best-separated one. Returns ``(F, eigenvalue, separation)``."""
    w, V = np.linalg.eigh(Q.T @ A @ Q)
    n = len(w)
    if lam is None:
        best = None
        for s in range(0, n, size):
            block = w[s:s + size]
            lo = w[s - 1] if s else -np.inf
            hi = w[s + size] if s + size < n else np.inf
            sep = min(block[0] - lo, hi - block[-1]) - (block[-1] - block[0])
            if best is None or sep > best[0]:
                best = (sep, s)
        sep, s = best  # type: ignore[misc]
        idx = np.arange(s, s + size)
        lam_out = float(w[idx].mean())
    else:
        idx = np.flatnonzero(np.abs(w - lam) <= tol)
        lam_out = float(lam)
        sep = tol if len(idx) == size else -1.0
    return Q @ V[:, idx], lam_out, float(sep)


def _copies(F: np.ndarray, Eg: np.ndarray, m: int, u: int, c: int) -> list[np.ndarray]:
    """``m`` aligned copies ``[rho(g_k) f]_k`` (each ``d x u``) from vectors ``f`` of the
    eigen-slice ``span F`` (orthonormal columns), mutually orthogonal."""
    Z = np.einsum("kij,jc->kic", Eg, F)  # (u, d, cols): rho(g_k) f for every column f
    if c == 1:  # real type: the columns generate orthogonal copies directly
        return [Z[:, :, a].T for a in range(m)]
    out = []
    Fw = F.copy()
    for _ in range(m):
        norms = np.linalg.norm(Fw, axis=0)
        j = int(np.argmax(norms))
        f = Fw[:, j] / norms[j]
        Q = np.einsum("kij,j->ik", Eg, f)  # d x u
        out.append(Q)
        Qo, _ = np.linalg.qr(Q)
        Fw = Fw - Qo @ (Qo.T @ Fw)
    return out


def schur_basis(rep_in: Any, rep_out: Any, *, table: CharacterTable | None = None,
                seed: int = 0, dense: bool | None = None) -> EquivariantBasis:
    r"""The equivariant maps :math:`V \to W` from the real isotypic decomposition and
    Schur's lemma (float64).

    Construction, for each real irreducible :math:`U` occurring ``a`` times in ``V`` and
    ``b`` times in ``W`` (type with commutant dimension ``c``, real degree ``u``):

    1. Both representations are made orthogonal (:math:`R\rho R^{-1}` with :math:`R^\top R
       = \sum_g \rho(g)^\top\rho(g)`; skipped when the generators are orthogonal), and the
       component spaces are the images of the isotypic projectors.
    2. A random symmetric element :math:`z = \sum_g c_g (g + g^{-1})` of the group algebra
       acts on :math:`U` with ``u/c`` distinct eigenvalues (each of multiplicity ``c``), the
       same in ``V`` and ``W``. The eigenvectors of one eigenvalue in a component form
       :math:`E = D^a \otimes w` (:math:`D` the commutant, ``w`` a fixed vector of
       :math:`U`), so every :math:`f \in E` generates one copy of :math:`U`, and for two
       such vectors ``f, f'`` (in ``V`` or ``W``) the map
       :math:`\rho(g) f \mapsto \rho(g) f'` is equivariant. With ``u`` elements
       :math:`g_1..g_u` chosen once (pivoted QR), the copies
       :math:`Q_f = [\rho(g_1) f, \dots, \rho(g_u) f]` are therefore all aligned to one
       model: :math:`\rho(g) Q_f = Q_f\,U'(g)` with the same :math:`U'`.
    3. The commutant :math:`\{X: U'(s) X = X U'(s)\}` is a ``u^2``-unknown nullspace of
       dimension ``c``; the basis elements are :math:`Q^W_q E_t (Q^V_p)^+` with the dual
       rows :math:`(Q^V)^+` of the input copies, mapped back to the original coordinates.

    Cost: :math:`|G|\,d^2` per projector and for :math:`z`, :math:`O(d^3)` eigen-
    decompositions per component, :math:`O(u\,d^2\,a)` for the copies; memory the
    :math:`|G|` element matrices (refused above :data:`SCHUR_ORDER_LIMIT` elements or
    :data:`SCHUR_CELLS` entries). The result is dense when ``m*n*k`` is at most
    :data:`DENSE_BASIS_CELLS` (or ``dense=True``), else a ``LinearOperator`` with the
    :class:`SchurFactors` in ``factors``. The residual is the exact maximum for a dense
    result and, for a structured one, the bound
    :math:`\max (\|e_L\|\|E\|\|R\| + \|L\|\|e_E\|\|R\| + \|L\|\|E\|\|e_R\|)` from the factor
    residuals :math:`e_L = \rho_W(s)L - L(I \otimes U'(s))`, etc. The dimension is checked
    against :math:`\sum_i a_i b_i c_i` and the character formula.

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> from metasym.representations import LinearRepresentation
    >>> rot = LinearRepresentation(cyclic(4), [[[0, -1], [1, 0]]])
    >>> B = schur_basis(rot, rot)             # End(R^2) commuting with a rotation: C
    >>> B.dimension, B.residual < 1e-12
    (2, True)
    """
    t0 = time.perf_counter()
    rin, rout = as_linear(rep_in), as_linear(rep_out)
    if rin.group != rout.group:
        raise MismatchError(f"input and output represent different groups: {rin.group.spec} "
                            f"and {rout.group.spec}")
    G = rin.group
    _check_schur_size(rin, "the Schur-lemma basis")
    _check_schur_size(rout, "the Schur-lemma basis")
    T = character_table(G) if table is None else table
    m, n = rout.degree, rin.degree
    Ein, Eout = rin.element_matrices(), rout.element_matrices()
    gin, gout = rin.generator_matrices(), rout.generator_matrices()
    Rin, Fin = _orthogonal_frame(Ein, gin)
    Rout, Fout = _orthogonal_frame(Eout, gout)
    cls = _element_classes(T)
    inv = _inverse_indices(G)
    mult_in = _multiplicities(T, np.trace(Ein, axis1=1, axis2=2), cls)
    mult_out = _multiplicities(T, np.trace(Eout, axis1=1, axis2=2), cls)
    rng = np.random.default_rng(seed)
    coeffs = rng.normal(size=G.order)
    coeffs = coeffs + coeffs[inv]  # z = sum c_g (g + g^-1): symmetric on orthogonal reps
    Zin = np.tensordot(coeffs, Fin, axes=(0, 0))
    Zout = np.tensordot(coeffs, Fout, axes=(0, 0))
    zscale = float(np.abs(coeffs).sum())
    parts, kinds = [], []
    for rows, nu in _real_characters(T):
        a_c, b_c = mult_in[rows[0]], mult_out[rows[0]]
        if a_c == 0 or b_c == 0:
            continue
        coef = _coefficients(T, rows, cls, inv)
        cin = _component(T, rows, nu, a_c, np.tensordot(coef, Fin, axes=(0, 0)))
        cout = _component(T, rows, nu, b_c, np.tensordot(coef, Fout, axes=(0, 0)))
        u, c = cin.real_degree, cin.commutant_dimension
        a, b = cin.multiplicity, cout.multiplicity
        Qin = _component_space(cin.projector, cin.dimension)
        Qout = _component_space(cout.projector, cout.dimension)
        Fv, lam, sep = _eigen_slice(Zin, Qin, c * a, None, 0.0)
        tol = max(1e-9 * zscale, sep / 4)
        if sep <= 1e-7 * zscale and u > c:
            raise ArithmeticError(f"the random group-algebra element did not separate the "
                                  f"eigenvalues of X.{rows[0] + 1} (try another seed)")
        Fw, _, ok = _eigen_slice(Zout, Qout, c * b, lam, tol)
        if ok < 0:
            raise ArithmeticError(f"eigen-slices of X.{rows[0] + 1} in V and W do not match")
        # u elements g_k with rho(g_k) f_1 independent (pivoted QR on the orbit of f_1)
        import scipy.linalg

        Y = np.einsum("gij,j->ig", Fin, Fv[:, 0])
        _, Rq, piv = scipy.linalg.qr(Y, mode="economic", pivoting=True)
        if abs(Rq[u - 1, u - 1]) < 1e-8 * abs(Rq[0, 0]):
            raise ArithmeticError(f"the orbit of a vector of X.{rows[0] + 1} has rank below "
                                  f"{u}")
        pick = np.sort(piv[:u])
        cv = _copies(Fv, Fin[pick], a, u, c)
        cw = _copies(Fw, Fout[pick], b, u, c)
        Bv = np.concatenate(cv, axis=1)  # n x a*u
        L = np.concatenate(cw, axis=1)   # m x b*u
        R = np.linalg.solve(Bv.T @ Bv, Bv.T)  # dual rows: a*u x n
        Q1 = cv[0]
        Q1p = np.linalg.pinv(Q1)
        model = [Q1p @ S @ Q1 for S in _frame_gens(gin, Rin)]
        Ec = _commutant(model, c)
        if Rout is not None:
            L = np.linalg.solve(Rout, L)
        if Rin is not None:
            R = R @ Rin
        parts.append((L, Ec, R))
        kinds.append(cin.kind)
    factors = SchurFactors(tuple(parts), tuple(kinds), (m, n))
    k = sum(factors.counts)
    expect = hom_dimension(rin, rout)
    if k != expect:
        raise ArithmeticError(f"the Schur basis has {k} elements but the character formula "
                              f"gives {expect}")
    residual = _factor_residual(factors, gin, gout)
    if dense is None:
        dense = k * m * n <= DENSE_BASIS_CELLS
    how = (f"Schur's lemma on the real isotypic decomposition ({len(parts)} shared real "
           f"irreducibles: {', '.join(kinds) or 'none'}; float64, "
           f"{time.perf_counter() - t0:.2f} s)")
    if dense:
        basis = _dense_from_factors(factors, k)
        residual = _dense_residual(basis, gin, gout, m, n)
        return EquivariantBasis(basis, False, 0.0, residual, how, (m, n), None, factors)
    from scipy.sparse.linalg import LinearOperator

    op = LinearOperator((m * n, k), matvec=lambda v: factors.weight(v).reshape(-1),
                        dtype=np.float64)
    return EquivariantBasis(op, False, 0.0, residual, how + "; structured", (m, n), None,
                            factors)


def _frame_gens(gens: np.ndarray, R: np.ndarray | None) -> list[np.ndarray]:
    if R is None:
        return list(gens)
    Rinv = np.linalg.inv(R)
    return [R @ S @ Rinv for S in gens]


def _commutant(model: list[np.ndarray], c: int) -> np.ndarray:
    """Basis (``c x u x u``) of the matrices commuting with the model generators."""
    u = model[0].shape[0] if model else 1
    if not model:
        return np.eye(u)[None]
    Iu = np.eye(u)
    C = np.vstack([np.kron(S, Iu) - np.kron(Iu, S.T) for S in model])
    _, s, Vh = np.linalg.svd(C)
    null = Vh[u * u - c:]
    if len(s) >= u * u - c + 1 and u * u > c and s[u * u - c - 1] < 1e-8 * max(1.0, s[0]):
        raise ArithmeticError("the commutant of an irreducible is larger than its type says")
    return null.reshape(c, u, u)


def _dense_from_factors(f: SchurFactors, k: int) -> np.ndarray:
    m, n = f.shape
    out = np.empty((m * n, k))
    start = 0
    for (L, E, R), cnt in zip(f.components, f.counts):
        u = E.shape[1]
        b, a = L.shape[1] // u, R.shape[0] // u
        Lb = L.reshape(m, b, u)
        Ra = R.reshape(a, u, n)
        W = np.einsum("ybu,tuv,avx->batyx", Lb, E, Ra, optimize=True)
        out[:, start:start + cnt] = W.reshape(cnt, m * n).T
        start += cnt
    return out


def _dense_residual(basis: np.ndarray, gin, gout, m: int, n: int) -> float:
    k = basis.shape[1]
    W = basis.T.reshape(k, m, n)
    res = 0.0
    for A, B in zip(gin, gout):
        res = max(res, float(np.abs(np.matmul(B, W) - np.matmul(W, A)).max(initial=0.0)))
    return res


def _factor_residual(f: SchurFactors, gin, gout) -> float:
    """A bound on max |rho_W(s) W - W rho_V(s)| over every basis element (see
    :func:`schur_basis`), from the residuals of the factors (spectral norms)."""
    worst = 0.0
    for L, E, R in f.components:
        u = E.shape[1]
        b, a = L.shape[1] // u, R.shape[0] // u
        Q1 = L[:, :u]
        model = [np.linalg.pinv(Q1) @ B @ Q1 for B in gout]
        nE = max(np.linalg.norm(Et, 2) for Et in E)
        nL = max(np.linalg.norm(L[:, q * u:(q + 1) * u], 2) for q in range(b))
        nR = max(np.linalg.norm(R[p * u:(p + 1) * u], 2) for p in range(a))
        for A, B, U in zip(gin, gout, model):
            IU = np.kron(np.eye(b), U)
            eL = max(np.linalg.norm(blk, 2) for blk in np.split(B @ L - L @ IU, b, axis=1))
            IUa = np.kron(np.eye(a), U)
            eR = max(np.linalg.norm(blk, 2) for blk in np.split(IUa @ R - R @ A, a, axis=0))
            eE = max(np.linalg.norm(U @ Et - Et @ U, 2) for Et in E)
            worst = max(worst, eL * nE * nR + nL * eE * nR + nL * nE * eR)
    return float(worst)


# ----- the orbit method -----------------------------------------------------------------------------
def orbit_basis(rep_in: Any, rep_out: Any, *, exact: bool | None = None) -> EquivariantBasis:
    r"""Equivariant maps between representations of the form *permutation* ``⊗``
    *small matrix* (or plain permutation representations), by orbits of pairs.

    Write :math:`V = \mathbb{R}^X \otimes A` and :math:`W = \mathbb{R}^Y \otimes B` and cut
    ``W`` into ``b x a`` blocks :math:`W_{yx}`. Equivariance is
    :math:`W_{gy, gx} = B(g)\,W_{yx}\,A(g)^{-1}`, so for each orbit of :math:`G` on
    :math:`Y \times X` (:func:`~metasym.representations.pair_orbit_labels`) with
    representative :math:`(y_0, x_0)` and stabiliser :math:`H`, the block
    :math:`W_{y_0x_0}` ranges over :math:`\{M: B(h) M = M A(h),\ h \in H\}` (a ``b*a``-unknown
    nullspace, solved once per distinct stabiliser) and determines the orbit. Each basis
    element is supported on one orbit: the result is a sparse CSC matrix with at most
    ``|orbit| * b * a`` entries per column.

    Exact (rational arithmetic for the small nullspaces and the placed blocks
    :math:`B(g) M A(g^{-1})`) when both small factors are rational, unless
    ``exact=False``. Enumerates the group (stabilisers and blocks: ``|G|`` per orbit)
    when it has at most ``ELEMENT_LIMIT`` elements and ``|G| * orbits <= ORBIT_CELLS``:
    cost :math:`O(|G|\cdot\#\text{orbits}\cdot b a)` plus the orbit labels, :math:`O(mn)`.
    Larger groups (e.g. ``symmetric:12`` on pairs) are never listed: stabilisers come
    from Schreier generators and the blocks from a search of each orbit by generator
    steps (:mod:`~metasym.representations.orbit_generators`,
    :math:`O(mn\,|S|\,(a^3+b^3))`). Refused, in one line before any work, above
    ``ORBIT_CELLS`` placed entries (``m n a b``).

    Examples
    --------
    >>> from metasym.groups import rotoflips, natural
    >>> from metasym.representations import LinearRepresentation
    >>> G = rotoflips(4)                                  # D4 on a 4x4 grid
    >>> vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
    >>> field = LinearRepresentation.from_permutation(natural(G)) * vec
    >>> B = orbit_basis(field, field)                     # 32 x 32 maps, 1024 unknowns
    >>> B.dimension, B.exact, B.residual, B.is_sparse
    (128, True, 0.0, True)
    """
    from metasym.representations.sharing import pair_orbit_labels

    t0 = time.perf_counter()
    sin, sout = orbit_structure(rep_in), orbit_structure(rep_out)
    if sin is None or sout is None:
        raise SpecError("the orbit method needs permutation representations or tensor "
                        "products 'perm ⊗ small matrix' (either order)")
    (ax, A_rep, lay_in), (ay, B_rep, lay_out) = sin, sout
    G = ax.group
    if ay.group != G or (A_rep is not None and A_rep.group != G) or (
            B_rep is not None and B_rep.group != G):
        raise MismatchError("input and output represent different groups")
    a = A_rep.degree if A_rep is not None else 1
    b = B_rep.degree if B_rep is not None else 1
    rational = ((A_rep is None or A_rep.is_rational) and (B_rep is None or B_rep.is_rational))
    if exact and not rational:
        raise SpecError("exact=True needs rational small factors")
    exact = rational if exact is None else bool(exact)
    n_pts, m_pts = ax.degree, ay.degree
    if m_pts * n_pts * a * b > ORBIT_CELLS:  # refused before any work
        raise TooLargeError(f"the orbit method would place {m_pts * n_pts * a * b} entries "
                            f"({m_pts * b} x {n_pts * a}), above {ORBIT_CELLS}")
    labels = pair_orbit_labels(ax.generator_images, ay.generator_images).reshape(-1)
    _, first = np.unique(labels, return_index=True)
    K = len(first)
    if G.order_exceeds(ELEMENT_LIMIT) or G.order * K > ORBIT_CELLS:
        # chars-sym: stabilisers and transversals from the generators, no listing
        return _orbit_basis_generators(sin, sout, labels, exact, rep_in, rep_out)
    y0, x0 = first // n_pts, first % n_pts
    ex, ey = ax.element_images(), ay.element_images()
    Ng = G.order
    inv = _inverse_indices(G) if (A_rep is not None) else None

    def mats(rep: LinearRepresentation | None, d: int) -> np.ndarray:
        if rep is None:
            one = np.ones((Ng, 1, 1), dtype=object if exact else np.float64)
            return one
        return rep.element_matrices(exact=exact)

    EA, EB = mats(A_rep, a), mats(B_rep, b)
    EAinv = EA[inv] if inv is not None else EA
    stab = (ey[:, y0] == y0[None, :]) & (ex[:, x0] == x0[None, :])  # (|G|, K)
    keys, stab_class = np.unique(np.packbits(stab.T, axis=1), axis=0, return_inverse=True)
    stab_class = stab_class.reshape(-1)
    # one small nullspace per distinct stabiliser; blocks B(g) M_t A(g^-1) for every g
    blocks, counts = [], np.empty(len(keys), dtype=np.int64)
    for s in range(len(keys)):
        k0 = int(np.flatnonzero(stab_class == s)[0])
        H = np.flatnonzero(stab[:, k0])
        pairs = [(EA[h], EB[h]) for h in H if h != 0]
        Ms = small_nullspace(pairs, b, a, exact)
        counts[s] = len(Ms)
        if Ms:
            Mst = np.empty((len(Ms), b, a), dtype=object if exact else np.float64)
            for t, M in enumerate(Ms):
                Mst[t] = M
            blk = np.matmul(np.matmul(EB[:, None], Mst[None]), EAinv[:, None])  # (g, t, b, a)
            blocks.append(np.asarray(blk, dtype=np.float64) if exact else blk)
        else:
            blocks.append(np.zeros((Ng, 0, b, a)))
    per_orbit = counts[stab_class]
    col_start = np.concatenate([[0], np.cumsum(per_orbit)])
    k = int(col_start[-1])
    # each pair once: (g, orbit) with g the first element reaching it
    pair = ey[:, y0] * n_pts + ex[:, x0]  # (|G|, K)
    _, keep = np.unique(pair.T.reshape(-1), return_index=True)
    kk, gg = keep // Ng, keep % Ng
    yy, xx = pair.T.reshape(-1)[keep] // n_pts, pair.T.reshape(-1)[keep] % n_pts
    rows_all, cols_all, vals_all = [], [], []
    ii, jj = np.meshgrid(np.arange(b), np.arange(a), indexing="ij")
    for s in range(len(keys)):
        c = int(counts[s])
        if c == 0:
            continue
        sel = np.flatnonzero(stab_class[kk] == s)
        vals = blocks[s][gg[sel]]  # (len, c, b, a)
        rI = full_index(yy[sel][:, None, None], ii[None], m_pts, b, lay_out)
        cI = full_index(xx[sel][:, None, None], jj[None], n_pts, a, lay_in)
        vec = rI * (n_pts * a) + cI  # (len, b, a)
        col = col_start[kk[sel]][:, None] + np.arange(c)[None, :]  # (len, c)
        rows_all.append(np.broadcast_to(vec[:, None], vals.shape).reshape(-1))
        cols_all.append(np.broadcast_to(col[:, :, None, None], vals.shape).reshape(-1))
        vals_all.append(vals.reshape(-1))
    import scipy.sparse as sp

    if rows_all:
        r = np.concatenate(rows_all)
        cidx = np.concatenate(cols_all)
        v = np.concatenate(vals_all)
        nz = v != 0
        U = sp.csc_matrix((v[nz], (r[nz], cidx[nz])), shape=(m_pts * b * n_pts * a, k))
    else:
        U = sp.csc_matrix((m_pts * b * n_pts * a, 0))
    m, n = m_pts * b, n_pts * a
    residual = _sparse_residual(U, as_linear(rep_in), as_linear(rep_out), (ax, A_rep, lay_in),
                                (ay, B_rep, lay_out))
    expect = hom_dimension(rep_in, rep_out)
    if k != expect:
        raise ArithmeticError(f"the orbit basis has {k} elements but the character formula "
                              f"gives {expect}")
    how = (f"orbit method: {K} orbits on pairs, {len(keys)} distinct stabilisers, "
           f"{'exact rational' if exact else 'float64'} blocks {b}x{a}, sparse "
           f"({U.nnz} entries; {time.perf_counter() - t0:.2f} s)")
    return EquivariantBasis(U, exact, 0.0, residual, how, (m, n))


def _orbit_basis_generators(sin, sout, labels, exact, rep_in, rep_out) -> EquivariantBasis:
    """:func:`orbit_basis` for groups too large to list (see
    :mod:`~metasym.representations.orbit_generators`); the dimension is checked against the
    character formula over classes when a table is available without listing."""
    from metasym.representations.orbit_generators import (
        dimension_by_classes,
        orbit_basis_from_generators,
    )

    U, k, how = orbit_basis_from_generators(sin, sout, labels, exact)
    (ax, A_rep, _), (ay, B_rep, _) = sin, sout
    m = ay.degree * (B_rep.degree if B_rep is not None else 1)
    n = ax.degree * (A_rep.degree if A_rep is not None else 1)
    residual = _sparse_residual(U, as_linear(rep_in), as_linear(rep_out), sin, sout)
    expect = dimension_by_classes(rep_in, rep_out)
    if expect is not None and k != expect:
        raise ArithmeticError(f"the orbit basis has {k} elements but the character formula "
                              f"gives {expect}")
    how += ("; dimension = the character formula over classes" if expect is not None
            else "; dimension not cross-checked by characters (no table without listing "
            "the group, or a perm (x) small factor)")
    return EquivariantBasis(U, exact, 0.0, residual, how, (m, n))


def _sparse_generator(struct, s: int):
    import scipy.sparse as sp

    act, small, layout = struct
    img = act.generator_images[s]
    npts = act.degree
    P = sp.csr_matrix((np.ones(npts), (img, np.arange(npts))), shape=(npts, npts))
    if small is None:
        return P
    S = sp.csr_matrix(small.generator_matrices()[s])
    return sp.kron(P, S, format="csr") if layout == "perm-first" else sp.kron(S, P, format="csr")


def _sparse_residual(U, rin, rout, sin, sout) -> float:
    r""":math:`\max_s |C_s U|` with the sparse constraint
    :math:`C_s = \rho_Y(s) \otimes I_n - I_m \otimes \rho_X(s)^\top` (row-major vec)."""
    import scipy.sparse as sp

    m, n = rout.degree, rin.degree
    worst = 0.0
    for s in range(rin.group.n_generators):
        A = _sparse_generator(sin, s)
        B = _sparse_generator(sout, s)
        C = sp.kron(B, sp.identity(n), format="csr") - sp.kron(sp.identity(m), A.T.tocsr(),
                                                                format="csr")
        R = C @ U
        if R.nnz:
            worst = max(worst, float(np.abs(R.data).max()))
    return worst


# ----- dispatch --------------------------------------------------------------------------------------
def equivariant_basis(rep_in: Any, rep_out: Any, *, exact: bool | None = None,
                      atol: float | None = None, method: str = "auto") -> EquivariantBasis:
    r"""A basis of the equivariant linear maps :math:`W: X \to Y`,
    :math:`\rho_Y(g) W = W \rho_X(g)` for all :math:`g`.

    ``method``:

    * ``"nullspace"``: :func:`~metasym.representations.linear.nullspace_basis` (exact
      rational nullspace when small and rational, float SVD with its stated tolerance
      otherwise; refuses above ``FLOAT_NULLSPACE_LIMIT`` unknowns);
    * ``"orbit"``: :func:`orbit_basis` (permutation ``⊗`` small-matrix representations;
      sparse, exact when rational);
    * ``"schur"``: :func:`schur_basis` (any real representation of a group of at most
      :data:`SCHUR_ORDER_LIMIT` elements; float64; dense or structured);
    * ``"auto"`` (default): the nullspace when it is within its limits (``m*n`` at most
      ``FLOAT_NULLSPACE_LIMIT``, or ``EXACT_LIMIT`` with ``exact=True``) — the small-case
      behaviour is unchanged; else the orbit method when both representations have that
      structure; else the Schur method.

    Every method verifies its result (residual of the generator constraints) and the
    orbit and Schur methods check the dimension against the character formula
    :math:`\frac1{|G|}\sum_g \chi_X(g)\chi_Y(g)`.

    Examples
    --------
    >>> from metasym.groups import rotoflips, natural
    >>> from metasym.representations import LinearRepresentation
    >>> G = rotoflips(8)                                  # D4 on an 8x8 grid
    >>> vec = LinearRepresentation(G, [[[0, -1], [1, 0]], [[-1, 0], [0, 1]]], exact=True)
    >>> field = LinearRepresentation.from_permutation(natural(G)) * vec
    >>> B = equivariant_basis(field, field)               # 16,384 unknowns
    >>> B.dimension, B.method.split(":")[0]
    (2048, 'orbit method')
    """
    if method not in ("auto", "nullspace", "orbit", "schur"):
        raise SpecError(f"unknown method {method!r}: use auto, nullspace, orbit or schur")
    if method == "nullspace":
        return nullspace_basis(rep_in, rep_out, exact=exact, atol=atol)
    if method == "orbit":
        return orbit_basis(rep_in, rep_out, exact=exact)
    if method == "schur":
        if exact:
            raise SpecError("the Schur method works in float64; use method='orbit' or "
                            "'nullspace' for an exact basis")
        return schur_basis(rep_in, rep_out)
    rin, rout = as_linear(rep_in), as_linear(rep_out)
    if rin.group != rout.group:
        raise MismatchError(f"input and output represent different groups: {rin.group.spec} "
                            f"and {rout.group.spec}")
    N = rin.degree * rout.degree
    k = max(1, rin.group.n_generators)
    if (N <= FLOAT_NULLSPACE_LIMIT and k * N * N <= 40_000_000) or (
            exact and N <= EXACT_LIMIT) or (exact is None and N <= EXACT_AUTO_LIMIT):
        return nullspace_basis(rin, rout, exact=exact, atol=atol)
    if orbit_structure(rep_in) is not None and orbit_structure(rep_out) is not None:
        return orbit_basis(rep_in, rep_out, exact=exact)
    if exact:
        raise TooLargeError(f"an exact basis of {N} unknowns needs the orbit structure "
                            f"(permutation ⊗ small matrix) or at most {EXACT_LIMIT} unknowns")
    return schur_basis(rin, rout)
