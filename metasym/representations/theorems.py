r"""The representation theorems behind MSR, checked in code.

Every check returns a :class:`CheckResult` carrying the figures it compared (never a
bare bool) and a status ``"pass"``, ``"fail"`` or ``"skipped"``. A check that must sum
over the group is *skipped* (with the reason) when the group is too large to enumerate:
it is neither failed nor silently passed.

Checks
------
* :func:`check_homomorphism` -- an action is a homomorphism: its graph group has order
  :math:`|G|`, and :math:`\pi(gh) = \pi(g)\pi(h)` on sampled pairs.
* :func:`check_dimension` -- the orbit count on :math:`Y \times X` (fast path) equals
  Burnside's :math:`\frac{1}{|G|}\sum_g \mathrm{fix}_Y(g)\,\mathrm{fix}_X(g)`, the character
  inner product :math:`\langle\chi_Y, \chi_X\rangle` summed over conjugacy classes, and
  the nullity of the stacked generator constraints (rank-nullity).
* :func:`check_basis_equivariant` -- every basis element is equivariant under every
  generator.
* :func:`check_representability` -- MSR's proposition: :math:`U^G v` is a group
  convolution for random ``v``.
* :func:`check_frobenius` -- with the regular output the equivariant space has dimension
  :math:`|X|` and equals :math:`\mathrm{span}(U^G)`.
* :func:`check_reynolds` -- the group average equals the orbit average; it is an
  idempotent, self-adjoint projection fixing exactly the span.

* :func:`check_character_table` -- row and column orthogonality (exact),
  :math:`\sum_i \chi_i(1)^2 = |G|`, as many irreducibles as classes, degrees divide
  :math:`|G|`, Frobenius-Schur counting of square roots of 1.
* :func:`check_hom_dimension` -- :math:`\dim\mathrm{Hom}_G(V, W)` by the character
  formula, by multiplicities of irreducibles, and by a nullspace.

:func:`run_checks` runs all of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from metasym.errors import MetasymError, MismatchError, TooLargeError
from metasym.groups import FiniteGroup, GroupAction, regular
from metasym.groups._perm import format_cycles, inverse
from metasym.representations._args import seed as _seed_arg
from metasym.representations.convolution import group_convolution_basis
from metasym.representations.permutation import PermutationRepresentation
from metasym.representations.sharing import SharingPattern, as_permutation_action, sharing_pattern

__all__ = [
    "CheckResult",
    "PASS",
    "FAIL",
    "SKIPPED",
    "burnside_count",
    "character_inner_product",
    "check_homomorphism",
    "check_dimension",
    "check_basis_equivariant",
    "check_representability",
    "check_frobenius",
    "check_induction_reciprocity",
    "point_stabilizer",
    "check_reynolds",
    "check_character_table",
    "check_hom_dimension",
    "check_characters",
    "run_checks",
]

PASS, FAIL, SKIPPED = "pass", "fail", "skipped"

#: Largest ``m*n`` whose constraint nullity is computed (exact up to 400, SVD above).
NULLITY_LIMIT = 1024
#: Largest ``|G| * m * n`` for the brute-force Reynolds average.
REYNOLDS_CELLS = 20_000_000
#: Largest ``m*n`` for which the projection is built as a matrix (rank, symmetry).
PROJECTION_MATRIX_LIMIT = 1024
#: Largest number of rows of ``U^G`` checked against sifted images.
SIFTED_ROWS = 64


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one theorem check.

    Attributes
    ----------
    name
        Short identifier, e.g. ``"dimension=burnside"``.
    statement
        What is claimed, in words.
    expected, found
        The two figures compared (numbers, fractions or short strings; ``found`` is
        ``None`` when skipped).
    status
        ``"pass"``, ``"fail"`` or ``"skipped"`` (not applicable, e.g. a group too large
        to enumerate; :attr:`detail` says why).
    detail
        How it was computed, tolerances, or why it was skipped.

    Examples
    --------
    >>> r = CheckResult("x", "1 = 1", 1, 1, "pass")
    >>> r.passed, r.to_dict()["status"]
    (True, 'pass')
    """

    name: str
    statement: str
    expected: Any
    found: Any
    status: str
    detail: str = ""

    def __post_init__(self) -> None:
        if self.status not in (PASS, FAIL, SKIPPED):
            raise ValueError(f"status must be 'pass', 'fail' or 'skipped', got {self.status!r}")

    @property
    def passed(self) -> bool | None:
        """``True`` (pass), ``False`` (fail) or ``None`` (skipped)."""
        return None if self.status == SKIPPED else self.status == PASS

    @property
    def failed(self) -> bool:
        return self.status == FAIL

    @property
    def skipped(self) -> bool:
        return self.status == SKIPPED

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (fractions as ``"p/q"`` strings, numpy scalars as Python)."""
        return {"name": self.name, "statement": self.statement,
                "expected": _jsonable(self.expected), "found": _jsonable(self.found),
                "status": self.status, "passed": self.passed, "detail": self.detail}


def _jsonable(x: Any) -> Any:
    if isinstance(x, Fraction):
        return int(x) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    return x


def _result(name: str, statement: str, expected: Any, found: Any, ok: bool,
            detail: str = "") -> CheckResult:
    return CheckResult(name, statement, expected, found, PASS if ok else FAIL, detail)


def _skipped(name: str, statement: str, expected: Any, reason: str) -> CheckResult:
    return CheckResult(name, statement, expected, None, SKIPPED, reason)


def _pair(in_action: Any, out_action: Any) -> tuple[GroupAction, GroupAction]:
    a_in, a_out = as_permutation_action(in_action), as_permutation_action(out_action)
    if a_in.group != a_out.group:
        raise MismatchError(f"input and output are actions of different groups: "
                            f"{a_in.group.spec} and {a_out.group.spec}")
    return a_in, a_out


def _fraction(total: int, order: int) -> Fraction | int:
    q = Fraction(int(total), int(order))
    return int(q) if q.denominator == 1 else q


def _tol(dtype: Any, factor: float, scale: float) -> float:
    return float(factor * np.finfo(dtype).eps * max(1.0, scale))


# ----- counting --------------------------------------------------------------------------
def burnside_count(in_action: Any, out_action: Any) -> tuple[Fraction | int | None, str | None]:
    r"""Burnside's count of orbits on :math:`Y \times X`, summed over all elements:

    .. math:: \frac{1}{|G|} \sum_{g \in G} \mathrm{fix}_Y(g)\, \mathrm{fix}_X(g),

    with the fixed points of every element read off ``action.element_images()``. This
    is computed independently of the orbits (no union-find), so it checks them.

    Returns
    -------
    (count, None)
        An ``int`` when the sum divides evenly (it always does for genuine actions),
        else a :class:`fractions.Fraction` (which exposes an inconsistency).
    (None, reason)
        When the group is too large to enumerate; ``reason`` says so.

    Examples
    --------
    >>> from metasym.groups import symmetric, natural
    >>> burnside_count(natural(symmetric(4)), natural(symmetric(4)))
    (2, None)
    """
    a_in, a_out = _pair(in_action, out_action)
    G = a_in.group
    try:
        G.check_enumerable("Burnside's sum over the group",
                           extra_degree=a_in.degree + a_out.degree)
        fix_in = _fixed_counts(a_in)
        fix_out = _fixed_counts(a_out)
    except TooLargeError as e:
        return None, str(e)
    total = int(np.dot(fix_in.astype(object), fix_out.astype(object)))
    return _fraction(total, G.order), None


def _fixed_counts(action: GroupAction) -> np.ndarray:
    images = action.element_images()
    return (images == np.arange(action.degree)[None, :]).sum(axis=1).astype(np.int64)


def character_inner_product(in_action: Any,
                            out_action: Any) -> tuple[Fraction | int | None, str | None]:
    r""":math:`\langle\chi_Y, \chi_X\rangle = \frac{1}{|G|}\sum_{C} |C|\,\chi_Y(C)\,\chi_X(C)`
    over conjugacy classes ``C``, the characters read at one element per class (permutation
    characters are real, so no conjugation is needed). ``(value, None)`` or
    ``(None, reason)`` when the classes are not computed for a group this large.

    Examples
    --------
    >>> from metasym.groups import dihedral, natural, regular
    >>> character_inner_product(natural(dihedral(5)), regular(dihedral(5)))
    (5, None)
    """
    a_in, a_out = _pair(in_action, out_action)
    G = a_in.group
    try:
        classes = G.conjugacy_class_indices
        chi_in = PermutationRepresentation(a_in).class_character()
        chi_out = PermutationRepresentation(a_out).class_character()
    except TooLargeError as e:
        return None, str(e)
    sizes = np.array([len(c) for c in classes], dtype=object)
    total = int(np.sum(sizes * chi_in.astype(object) * chi_out.astype(object)))
    return _fraction(total, G.order), None


# ----- (f) homomorphism --------------------------------------------------------------------
def check_homomorphism(action: Any, *, seed: int = 0, n_pairs: int = 12,
                       label: str = "") -> list[CheckResult]:
    r"""Two checks that ``action`` is a homomorphism :math:`G \to \mathrm{Sym}(X)`.

    1. The graph group :math:`\langle (s, \pi(s)) \rangle \le G \times \mathrm{Sym}(X)` has
       order :math:`|G|` (Schreier-Sims; no enumeration).
    2. On ``n_pairs`` random pairs of elements (random words in the generators):
       :math:`\pi(g)` computed by sifting equals the product of the generator images
       along the word, and :math:`\pi(gh) = \pi(g)\pi(h)`.
    """
    a = as_permutation_action(action)
    G = a.group
    tag = f"[{label}]" if label else ""
    out = []
    gamma = a._graph_group[2]
    out.append(_result(f"homomorphism:graph-order{tag}",
                       f"graph group of {a.spec} has order |G|", G.order, gamma,
                       gamma == G.order, "Schreier-Sims on <(s, pi(s))>"))
    rng = np.random.default_rng(seed)
    gens, imgs = G.generator_arrays, a.generator_images
    length = 40
    bad, first_bad = 0, ""

    def word() -> tuple[np.ndarray, np.ndarray]:
        g, p = np.arange(G.degree), np.arange(a.degree)
        if len(gens):
            for s in rng.integers(0, len(gens), size=length):
                g, p = gens[s][g], imgs[s][p]  # left-multiply: s g, pi(s) pi(g)
        return g, p

    try:
        for _ in range(n_pairs):
            (g, pg), (h, ph) = word(), word()
            img_g, img_h, img_gh = a.image(g), a.image(h), a.image(g[h])
            ok = (np.array_equal(img_g, pg) and np.array_equal(img_h, ph)
                  and np.array_equal(img_gh, img_g[img_h]))
            if not ok:
                bad += 1
                first_bad = first_bad or f"g={format_cycles(g)}, h={format_cycles(h)}"
    except MetasymError as e:  # sifting failed: images inconsistent with the group
        bad, first_bad = n_pairs, str(e)
    out.append(_result(f"homomorphism:sampled-pairs{tag}",
                       "pi(gh) = pi(g) pi(h) and sifted pi(g) = product along the word",
                       0, bad, bad == 0,
                       f"{n_pairs} random pairs of words of length {length}"
                       + (f"; first failure at {first_bad}" if bad else "")))
    return out


# ----- (a) dimension -----------------------------------------------------------------------
def check_dimension(in_action: Any, out_action: Any,
                    pattern: SharingPattern | None = None) -> list[CheckResult]:
    """The orbit count (the pattern's dimension, found by union-find over generators)
    against Burnside's sum, the character inner product and the constraint nullity.

    ``pattern`` defaults to ``sharing_pattern(in_action, out_action)``; pass another to
    check it instead.
    """
    a_in, a_out = _pair(in_action, out_action)
    P = sharing_pattern(a_in, a_out) if pattern is None else pattern
    k = P.dimension
    results = []
    st = "orbits on YxX = (1/|G|) sum_g fix_Y(g) fix_X(g)"
    b, reason = burnside_count(a_in, a_out)
    results.append(_skipped("dimension=burnside", st, k, reason) if b is None else
                   _result("dimension=burnside", st, k, b, b == k,
                           f"sum over all {a_in.group.order} elements"))
    st = "orbits on YxX = <chi_Y, chi_X> over conjugacy classes"
    c, reason = character_inner_product(a_in, a_out)
    if c is None:
        results.append(_skipped("dimension=character", st, k, reason))
    else:
        ncls = len(a_in.group.conjugacy_class_indices)
        results.append(_result("dimension=character", st, k, c, c == k,
                               f"{ncls} conjugacy classes"))
    st = "orbits on YxX = nullity of the generator constraints rho_Y(s) W = W rho_X(s)"
    N = a_in.degree * a_out.degree
    if N > NULLITY_LIMIT:
        results.append(_skipped("dimension=nullity", st, k,
                                f"{N} unknowns > {NULLITY_LIMIT}: no dense nullspace"))
    else:
        from metasym.representations.linear import nullspace_basis

        B = nullspace_basis(a_in, a_out)
        results.append(_result("dimension=nullity", st, k, B.dimension, B.dimension == k,
                               B.method))
    return results


# ----- (b) basis equivariance --------------------------------------------------------------
def check_basis_equivariant(basis: Any, in_action: Any, out_action: Any, *,
                            atol: float | None = None) -> CheckResult:
    r"""Every basis element :math:`W_c` satisfies :math:`\rho_Y(s) W_c = W_c \rho_X(s)` for
    every generator ``s``.

    ``basis`` is a :class:`SharingPattern` (checked exactly from its labels: orbit
    indicator ``c`` is equivariant under ``s`` iff label ``c`` occupies the same entries
    before and after moving every entry :math:`(y, x) \to (s y, s x)`), an
    ``EquivariantBasis``, or an ``(m*n, k)`` array (checked numerically; tolerance
    ``64 * eps * max(1, max|basis|)`` of its float dtype, ``0`` for integers, unless
    ``atol`` is given). ``found`` is the number of failing (element, generator) pairs.
    """
    a_in, a_out = _pair(in_action, out_action)
    m, n = a_out.degree, a_in.degree
    name = "basis-equivariant"
    st = "rho_Y(s) W_c = W_c rho_X(s) for every basis element W_c and generator s"
    gens = list(zip(a_in.generator_images, a_out.generator_images))
    if isinstance(basis, SharingPattern):
        L = basis.labels
        if L.shape != (m, n):
            raise MismatchError(f"pattern has shape {L.shape}, actions need {(m, n)}")
        k = basis.dimension
        bad_pairs, worst = 0, (0, -1)
        for si, (s_in, s_out) in enumerate(gens):
            moved = L[s_out[:, None], s_in[None, :]]  # label found at (s y, s x)
            diff = moved != L
            failing = np.union1d(L[diff], moved[diff])
            nb = int((failing >= 0).sum())
            bad_pairs += nb
            if nb > worst[0]:
                worst = (nb, si)
        detail = f"{k} orbit indicators x {len(gens)} generators, exact (labels)"
        if bad_pairs:
            detail += (f"; worst generator {worst[1]} "
                       f"({format_cycles(a_in.group.generator_arrays[worst[1]])}) breaks "
                       f"{worst[0]} basis elements")
        return _result(name, st, 0, bad_pairs, bad_pairs == 0, detail)
    U = getattr(basis, "basis", basis)
    U = np.asarray(U)
    if U.ndim != 2 or U.shape[0] != m * n:
        raise MismatchError(f"basis has shape {U.shape}, expected ({m * n}, k)")
    k = U.shape[1]
    if np.issubdtype(U.dtype, np.inexact) and not np.isfinite(U).all():
        n_bad = int((~np.isfinite(U)).any(axis=0).sum())
        return _result(name, st, 0, n_bad * len(gens), False,
                       f"{n_bad} of {k} basis elements contain NaN or infinite entries")
    Ws = U.T.reshape(k, m, n)
    if atol is None:
        atol = (0.0 if not np.issubdtype(U.dtype, np.floating)
                else _tol(U.dtype, 64, float(np.abs(U).max(initial=0.0))))
    bad_pairs, worst_err, worst_gen = 0, 0.0, -1
    for si, (s_in, s_out) in enumerate(gens):
        left = Ws[:, inverse(s_out), :]  # (rho_Y(s) W)[y] = W[s^{-1} y]
        right = Ws[:, :, s_in]           # (W rho_X(s))[:, x] = W[:, s x]
        err = np.abs(left - right).reshape(k, -1).max(axis=1, initial=0.0) if k else np.zeros(0)
        bad_pairs += int((err > atol).sum())
        if err.size and float(err.max()) > worst_err:
            worst_err, worst_gen = float(err.max()), si
    detail = f"{k} basis elements x {len(gens)} generators, atol={atol:.3g}"
    if worst_gen >= 0:
        detail += f"; largest error {worst_err:.3g} at generator {worst_gen}"
    return _result(name, st, 0, bad_pairs, bad_pairs == 0, detail)


# ----- (c) representability ------------------------------------------------------------------
def check_representability(action: Any, *, seed: int = 0, n_samples: int = 3) -> list[CheckResult]:
    r"""MSR's proposition: with :math:`U^G = [\pi(g_1); \dots; \pi(g_{|G|})]`, for random
    integer ``v`` the weight :math:`W = \mathrm{reshape}(U^G v, (|G|, n))` is a group
    convolution: (1) row ``j`` equals :math:`\pi(g_j) v` with :math:`\pi(g_j)` found
    independently by sifting (all rows up to 64 elements, a random sample of 64
    beyond), and (2) :math:`\rho_{reg}(s) W = W \pi(s)` for every generator ``s``
    (exact integer arithmetic). Skipped when the group is too large to enumerate.
    """
    a = as_permutation_action(action)
    G = a.group
    st_rows = "row j of reshape(U^G v) = pi(g_j) v (a lifting group convolution)"
    st_eq = "reshape(U^G v) is equivariant from the action to the regular action"
    try:
        U = group_convolution_basis(a, sparse=True)
        reg = regular(G)
    except TooLargeError as e:
        return [_skipped("msr:rows", st_rows, 0, str(e)), _skipped("msr:equivariant", st_eq, 0, str(e))]
    rng = np.random.default_rng(seed)
    n, order = a.degree, G.order
    rows = np.arange(order) if order <= SIFTED_ROWS else np.unique(np.concatenate(
        [[0], rng.choice(order, size=SIFTED_ROWS - 1, replace=False)]))
    sifted = np.array([a.image(G.element_arrays[j]) for j in rows]).reshape(len(rows), n)
    bad_rows, eq_err = 0, 0
    for _ in range(n_samples):
        v = rng.integers(-9, 10, size=n)
        W = np.asarray(U @ v).reshape(order, n)
        expected = np.empty((len(rows), n), dtype=np.int64)
        expected[np.arange(len(rows))[:, None], sifted] = v[None, :]  # (pi(g) v)[g x] = v[x]
        bad_rows += int((W[rows] != expected).any(axis=1).sum())
        for s_in, s_reg in zip(a.generator_images, reg.generator_images):
            left = np.empty_like(W)
            left[s_reg] = W          # (rho_reg(s) W)[s g] = W[g]
            right = W[:, s_in]       # (W pi(s))[:, x] = W[:, s x]
            eq_err = max(eq_err, int(np.abs(left - right).max(initial=0)))
    return [
        _result("msr:rows", st_rows, 0, bad_rows, bad_rows == 0,
                f"{n_samples} random integer v; {len(rows)} of {order} rows against sifted "
                "pi(g_j); found = mismatched rows"),
        _result("msr:equivariant", st_eq, 0, eq_err, eq_err == 0,
                f"{n_samples} random integer v x {G.n_generators} generators; found = max "
                "|rho_reg(s) W - W pi(s)| (exact)"),
    ]


# ----- (d) Frobenius reciprocity -----------------------------------------------------------------
def check_frobenius(action: Any) -> list[CheckResult]:
    r"""Frobenius reciprocity and the converse of MSR's proposition.

    1. ``sharing_pattern(action, regular(G))`` has dimension :math:`|X|`.
    2. :math:`\mathrm{span}(U^G)` equals that pattern's span, checked exactly with
       integers: a vector lies in the span of the orbit indicators iff it is constant
       on each orbit (each 0/1 column of :math:`U^G` is a union of whole orbits), and
       :math:`\mathrm{rank}\,U^G = |X|` because block 0 (the identity element) is
       :math:`I`; equal dimensions then give equal spans.
    """
    a = as_permutation_action(action)
    G = a.group
    n = a.degree
    st_dim = "dim Hom_G(X, regular) = |X| (Frobenius reciprocity)"
    st_span = "span(U^G) = equivariant maps X -> regular (every one is a group convolution)"
    try:
        reg = regular(G)
        images = a.element_images()
    except TooLargeError as e:
        return [_skipped("frobenius:dimension", st_dim, n, str(e)),
                _skipped("frobenius:span", st_span, 0, str(e))]
    P = sharing_pattern(a, reg)
    out = [_result("frobenius:dimension", st_dim, n, P.dimension, P.dimension == n,
                   f"orbits of {G.spec} on {G.order} x {n} pairs")]
    L = P.labels  # (|G|, n): entry (j, y)
    sizes = P.orbit_sizes
    # column x of U^G is the indicator of {(j, g_j x)}: inside the span iff that set is a
    # union of whole orbits, i.e. the orbit sizes of the labels it meets add up to |G|
    hit = L[np.arange(G.order)[:, None], images]  # (|G|, n): label at (j, g_j x)
    outside = 0
    for x in range(n):
        labs = np.unique(hit[:, x])
        if (labs < 0).any() or int(sizes[labs].sum()) != G.order:
            outside += 1
    identity_block = bool(np.array_equal(images[0], np.arange(n)))
    rank = n if identity_block else None
    ok = outside == 0 and identity_block and P.dimension == n
    out.append(_result("frobenius:span", st_span, 0, outside, ok,
                       f"found = columns of U^G outside the span (exact); rank U^G = "
                       f"{rank if rank is not None else '?'} (identity block "
                       f"{'present' if identity_block else 'MISSING'}), pattern dimension "
                       f"{P.dimension}"))
    return out


def point_stabilizer(G: FiniteGroup, point: int = 0) -> FiniteGroup:
    """The stabiliser of ``point`` in ``G`` (Schreier-Sims, under the groups layer's time
    limit), as a group on the same points."""
    from metasym._limits import time_limit

    with time_limit(f"the stabiliser of point {point} in {G.spec}"):
        gens = G.sympy_group.stabilizer(int(point)).generators
    arrays = [np.asarray(g.array_form, dtype=np.int64) for g in gens]
    return FiniteGroup([a for a in arrays if not np.array_equal(a, np.arange(G.degree))]
                       or [np.arange(G.degree)], G.degree, f"stabilizer({G.spec},{point})")


def check_induction_reciprocity(out_action: Any, subgroup: FiniteGroup | None = None
                                ) -> list[CheckResult]:
    r"""Frobenius reciprocity for induction and restriction:
    :math:`\dim\mathrm{Hom}_G(\mathrm{Ind}_H^G 1_H, Y) = \dim\mathrm{Hom}_H(1_H,
    \mathrm{Res}^G_H Y)`.

    ``H`` defaults to the stabiliser of point 0 of the group's own points. The left side
    is the nullity of the generator constraints on the *induced* representation
    (:meth:`~metasym.representations.LinearRepresentation.induce`, built from cosets);
    the right side counts the orbits of ``H``'s generators on ``Y`` (the ``H``-fixed
    vectors of a permutation representation): two independent computations.
    Skipped when ``H`` is too large to induce from or the nullspace too large to solve.
    """
    from metasym.groups import restrict, trivial
    from metasym.groups.actions import orbit_labels
    from metasym.representations.linear import LinearRepresentation, nullspace_basis

    a = as_permutation_action(out_action)
    G = a.group
    st = "dim Hom_G(Ind_H^G 1, Y) = dim Hom_H(1, Res_H Y) (Frobenius reciprocity)"
    try:
        H = subgroup if subgroup is not None else point_stabilizer(G, 0)
        ind = LinearRepresentation.from_permutation(trivial(H, 1)).induce(G)
        left = int(nullspace_basis(ind, LinearRepresentation.from_permutation(a)).dimension)
    except (TooLargeError, MetasymError) as e:
        return [_skipped("frobenius:induction", st, None, str(e).splitlines()[0])]
    res = restrict(a, H)
    right = int(orbit_labels(np.asarray(res.generator_images), res.degree).max()) + 1
    return [_result("frobenius:induction", st, right, left, left == right,
                    f"H = {H.spec} (index {ind.degree}); expected = orbits of H on Y, found "
                    f"= nullity for the induced representation")]


# ----- (e) Reynolds projection -------------------------------------------------------------------
def check_reynolds(in_action: Any, out_action: Any, pattern: SharingPattern | None = None, *,
                   seed: int = 0, dtype: Any = np.float64) -> list[CheckResult]:
    r"""The Reynolds operator and the orbit-averaging projection ``pattern.project``.

    1. Brute force :math:`\frac{1}{|G|}\sum_g \rho_Y(g) W \rho_X(g)^{-1}` (accumulated in
       ``dtype``) equals ``project(W)`` for random ``W``; tolerance
       :math:`2|G|\varepsilon\max|W|` (the bound for naive summation). Skipped when
       :math:`|G| m n` exceeds ``REYNOLDS_CELLS`` or the group cannot be enumerated.
    2. Idempotent: :math:`P(P(W)) = P(W)`; tolerance :math:`2(s+4)\varepsilon\max|W|`
       with ``s`` the largest orbit (``project`` sums each orbit naively).
    3. Self-adjoint: :math:`\langle P A, B\rangle = \langle A, P B\rangle`; tolerance
       :math:`8\,mn\,\varepsilon\,\|A\|_\infty\|B\|_\infty`.
    4. Fixes the span: :math:`P(W) = W` for random ``W`` in the span (same tolerance as
       2); and, when
       :math:`mn \le 1024`, the matrix of ``P`` has rank equal to the dimension.

    :math:`\varepsilon` is the machine epsilon of ``dtype``; every result of ``P`` is cast
    to ``dtype``.
    """
    a_in, a_out = _pair(in_action, out_action)
    P = sharing_pattern(a_in, a_out) if pattern is None else pattern
    m, n = a_out.degree, a_in.degree
    if P.shape != (m, n):
        raise MismatchError(f"pattern has shape {P.shape}, actions need {(m, n)}")
    dtype = np.dtype(dtype)
    rng = np.random.default_rng(seed)
    G = a_in.group
    tag = f"[{dtype.name}]"

    def proj(W: np.ndarray) -> np.ndarray:
        return P.project(W).astype(dtype)

    W = rng.standard_normal((m, n)).astype(dtype)
    scale = float(np.abs(W).max(initial=0.0))
    biggest = int(P.orbit_sizes.max(initial=1))
    out = []
    # 1. brute-force group average
    st = "(1/|G|) sum_g rho_Y(g) W rho_X(g)^-1 = orbit average of W"
    name = f"reynolds=project{tag}"
    reason = None
    if G.order * m * n > REYNOLDS_CELLS:
        reason = f"|G| m n = {G.order * m * n} > {REYNOLDS_CELLS}"
    else:
        try:
            G.check_enumerable("the Reynolds average", extra_degree=m + n)
            ein, eout = a_in.element_images(), a_out.element_images()
        except TooLargeError as e:
            reason = str(e)
    if reason is not None:
        out.append(_skipped(name, st, 0.0, reason))
    else:
        acc = np.zeros((m, n), dtype=dtype)
        for gi, go in zip(ein, eout):
            # (rho_Y(g) W rho_X(g)^-1)[y, x] = W[g^-1 y, g^-1 x]
            acc += W[inverse(go)[:, None], inverse(gi)[None, :]]
        R = acc / dtype.type(G.order)
        err = float(np.abs(R - proj(W)).max(initial=0.0))
        tol = _tol(dtype, 2 * G.order, scale)
        out.append(_result(name, st, f"<= {tol:.3g}", err, err <= tol,
                           f"sum over {G.order} elements in {dtype.name}; found = max abs "
                           "difference"))
    # 2. idempotent
    Q = proj(W)
    err = float(np.abs(proj(Q) - Q).max(initial=0.0))
    tol = _tol(dtype, 2 * (biggest + 4), scale)
    out.append(_result(f"projection-idempotent{tag}", "P(P(W)) = P(W)", f"<= {tol:.3g}", err,
                       err <= tol, "random W; found = max abs difference"))
    # 3. self-adjoint
    A = rng.standard_normal((m, n)).astype(dtype)
    B = rng.standard_normal((m, n)).astype(dtype)
    lhs = float(np.sum(proj(A).astype(np.float64) * B))
    rhs = float(np.sum(A.astype(np.float64) * proj(B)))
    err = abs(lhs - rhs)
    tol = _tol(dtype, 8 * m * n, float(np.abs(A).max(initial=0.0) * np.abs(B).max(initial=0.0)))
    detail = "random A, B; found = |<PA, B> - <A, PB>|"
    ok = err <= tol
    if m * n <= PROJECTION_MATRIX_LIMIT:
        M = proj(np.eye(m * n, dtype=dtype).reshape(m * n, m, n)).reshape(m * n, m * n)
        sym = float(np.abs(M - M.T).max(initial=0.0))
        err = max(err, sym)
        ok = ok and sym <= _tol(dtype, 8, 1.0)
        detail += f"; matrix of P: max |P - P^T| = {sym:.3g}"
    out.append(_result(f"projection-self-adjoint{tag}", "<P A, B> = <A, P B>", f"<= {tol:.3g}",
                       err, ok, detail))
    # 4. fixes exactly the span
    Wspan = P.random_weight(rng).astype(dtype)
    err = float(np.abs(proj(Wspan) - Wspan).max(initial=0.0))
    tol = _tol(dtype, 2 * (biggest + 4), float(np.abs(Wspan).max(initial=0.0)))
    st = "P(W) = W exactly on the span; rank P = dimension"
    if m * n <= PROJECTION_MATRIX_LIMIT:
        M = proj(np.eye(m * n, dtype=dtype).reshape(m * n, m, n)).reshape(m * n, m * n)
        rank = int(np.linalg.matrix_rank(M.astype(np.float64)))
        ok = err <= tol and rank == P.dimension
        out.append(_result(f"projection-fixes-span{tag}", st, P.dimension, rank, ok,
                           f"found = rank of the matrix of P; max |P(W) - W| on a random "
                           f"W in the span = {err:.3g} (tol {tol:.3g})"))
    else:
        out.append(_result(f"projection-fixes-span{tag}", "P(W) = W on the span",
                           f"<= {tol:.3g}", err, err <= tol,
                           f"random W in the span; rank not computed ({m * n} > "
                           f"{PROJECTION_MATRIX_LIMIT} entries)"))
    return out


# ----- everything ---------------------------------------------------------------------------------
def run_checks(in_action: Any, out_action: Any, *, seed: int = 0) -> list[CheckResult]:
    """Run every applicable check for the pair of actions (group actions or permutation
    representations of the same group).

    Order: homomorphism (input, then output if different), dimension (Burnside,
    characters, nullity), basis equivariance, Reynolds projection (float64), MSR
    representability and Frobenius reciprocity (for the input action), character theory
    (:func:`check_characters`: the group's character table and the Hom dimension of the
    pair). Checks that need
    to enumerate a group too large are returned with status ``"skipped"`` and the reason.
    ``seed`` (a non-negative integer) seeds the random test vectors.

    Examples
    --------
    >>> from metasym.groups import dihedral, natural
    >>> results = run_checks(natural(dihedral(4)), natural(dihedral(4)))
    >>> sorted({r.status for r in results})
    ['pass']
    >>> [r.found for r in results if r.name.startswith("dimension")]
    [3, 3, 3]
    """
    seed = _seed_arg(seed)
    a_in, a_out = _pair(in_action, out_action)
    results: list[CheckResult] = []
    results += check_homomorphism(a_in, seed=seed, label="in")
    if a_out != a_in:
        results += check_homomorphism(a_out, seed=seed + 1, label="out")
    P = sharing_pattern(a_in, a_out)
    results += check_dimension(a_in, a_out, P)
    results.append(check_basis_equivariant(P, a_in, a_out))
    results += check_reynolds(a_in, a_out, P, seed=seed)
    results += check_representability(a_in, seed=seed)
    results += check_frobenius(a_in)
    results += check_induction_reciprocity(a_out)
    results += check_characters(a_in, a_out)
    return results


# ----- (g) character theory ----------------------------------------------------------------------
class _Evaluated:
    r"""A character table's values mapped to :math:`\mathbb{F}_q` by every embedding
    :math:`\zeta_E \mapsto \omega^t` (``t`` coprime to ``E``, ``E`` the lcm of the
    conductors, ``q`` a prime :math:`\equiv 1 \pmod E`), and the L1 norms of the values'
    power-basis coordinates, which bound the coordinates of any sum of products.

    An element ``v`` of :math:`\mathbb{Z}[\zeta_E]` is zero iff all its images vanish
    *and* its power-basis coordinates are smaller than ``q/2`` (the images determine the
    coordinates mod ``q``: :math:`\Phi_E` splits into distinct linear factors mod ``q``).
    :meth:`gram` picks ``q`` above twice the proven bound, so its comparisons are exact.
    """

    def __init__(self, table: Any) -> None:
        import math as _m

        self.table = table
        self.E = _m.lcm(1, *(v.conductor for row in table.values for v in row))
        self.L1 = np.array([[sum(abs(c) for c in v.coefficients) for v in row]
                            for row in table.values], dtype=np.int64).reshape(
            len(table.values), len(table.classes))

    def images(self, q: int, conjugate: bool) -> np.ndarray:
        """``(rows, classes, phi(E))`` images mod ``q`` (of the conjugates if asked)."""
        from metasym.representations.cyclotomic import (
            evaluation_matrix,
            matmul_mod,
            primitive_root_of_unity,
        )

        E = self.E
        omega = primitive_root_of_unity(E, q)
        ts = np.array([t for t in range(1, E + 1) if np.gcd(t, E) == 1], dtype=np.int64) % E
        exps = (-ts) % E if conjugate else ts
        r, c = self.L1.shape
        out = np.zeros((r, c, ts.size), dtype=np.int64)
        by_n: dict[int, list[tuple[int, int]]] = {}
        for i, row in enumerate(self.table.values):
            for k, v in enumerate(row):
                by_n.setdefault(v.conductor, []).append((i, k))
        for n, where in by_n.items():
            coords = np.array([self.table.values[i][k].coefficients for i, k in where],
                              dtype=np.int64) % q
            idx = tuple(np.array(where).T)
            out[idx] = matmul_mod(coords, evaluation_matrix(n, E, q, omega, exps), q)
        return out

    def prime(self, bound: int) -> int:
        """Smallest prime ``q = 1 (mod E)`` above ``2 * bound``."""
        from metasym.representations.cyclotomic import is_prime

        q = (2 * bound // self.E + 1) * self.E + 1  # the first candidate above 2 * bound
        while q <= 2 * bound or not is_prime(q):
            q += self.E
        return q


def _orthogonality(table: Any) -> tuple[tuple[int, str], tuple[int, str], str]:
    r"""Failures of row and column orthogonality, exactly (see :class:`_Evaluated`):
    ``((bad rows, first), (bad columns, first), how)``."""
    from metasym.representations.cyclotomic import euler_phi, matmul_mod, reduction_bound
    from metasym.representations.table_checks import (
        ROW_EMBEDDING_CELLS,
        orthogonality_multimodular,
    )

    ev = _Evaluated(table)
    N = table.group.order
    if N > 2**30 or ev.L1.size * euler_phi(ev.E) > ROW_EMBEDDING_CELLS:
        # large: sums beyond one 31-bit prime, or too many embeddings (chars-sym)
        cols, rows, how = orthogonality_multimodular(table)
        return rows, cols, how
    sizes = np.array([c.size for c in table.classes], dtype=np.int64)
    C = reduction_bound(ev.E)
    row_bound = int(((ev.L1 * sizes[None, :]) @ ev.L1.T).max(initial=0)) * C + N
    col_bound = int((ev.L1.T @ ev.L1).max(initial=0)) * C + N
    q = ev.prime(max(row_bound, col_bound, ev.E))
    if q >= 2**31:  # int64 products would need the slow object path: several primes
        cols, rows, how = orthogonality_multimodular(table)
        return rows, cols, how
    A, B = ev.images(q, False), ev.images(q, True)
    r, k, npts = A.shape
    # rows: sum_k |C_k| chi_i(z_k) conj(chi_j(z_k)) = N delta_ij
    want = (N % q) * np.eye(r, dtype=np.int64)
    bad_rows = np.zeros((r, r), dtype=bool)
    for t in range(npts):
        S = matmul_mod(A[:, :, t] * (sizes % q)[None, :] % q, B[:, :, t].T, q)
        bad_rows |= S != want
    # columns: sum_i chi_i(z_k) conj(chi_i(z_l)) = delta_kl N / |C_k|
    wantc = np.zeros((k, k), dtype=np.int64)
    integral = N % sizes == 0
    wantc[np.arange(k), np.arange(k)] = np.where(integral, N // sizes, 0) % q
    bad_cols = np.zeros((k, k), dtype=bool)
    bad_cols[np.arange(k), np.arange(k)] = ~integral
    for t in range(npts):
        bad_cols |= matmul_mod(A[:, :, t].T, B[:, :, t], q) != wantc
    out = []
    for M in (bad_rows, bad_cols):
        pairs = [(i, j) for i, j in np.argwhere(M) if i <= j]
        out.append((len(pairs), f"{pairs[0][0] + 1} and {pairs[0][1] + 1}" if pairs else ""))
    how = (f"exact in Q(zeta_{ev.E}): images under all {npts} embeddings into F_{q}, "
           f"q > twice the coordinate bound")
    return out[0], out[1], how


def check_character_table(table: Any) -> list[CheckResult]:
    r"""The theorems of character theory, checked on a character table (exact
    cyclotomic arithmetic throughout; a corrupted table fails them).

    1. ``characters:count`` -- as many irreducibles as conjugacy classes (and the class
       sizes add up to :math:`|G|`).
    2. ``characters:degrees`` -- the stated degrees are the values at the identity.
    3. ``characters:sum-of-squares`` -- :math:`\sum_i \chi_i(1)^2 = |G|`.
    4. ``characters:degrees-divide`` -- every :math:`\chi_i(1)` divides :math:`|G|`.
    5. ``characters:row-orthogonality`` --
       :math:`\sum_k |C_k|\chi_i(z_k)\overline{\chi_j(z_k)} = |G|\delta_{ij}`.
    6. ``characters:column-orthogonality`` --
       :math:`\sum_i \chi_i(z_k)\overline{\chi_i(z_l)} = \delta_{kl}|G|/|C_k|`.
    7. ``characters:frobenius-schur`` -- :math:`\sum_i \nu(\chi_i)\chi_i(1) =
       \#\{g : g^2 = 1\}`, the right side counted on the enumerated elements (for
       groups too large to list: a closed form for :math:`S_n`, :math:`A_n`, else the
       table's classes of elements of order at most 2; see
       :mod:`~metasym.representations.table_checks`).
    8. ``characters:indicators`` -- each :math:`\nu(\chi_i)` equals
       :math:`\frac1{|G|}\sum_k |C_k|\chi_i(z_k^2)` recomputed from the values and
       the power maps.

    Orthogonality is decided exactly: every value is mapped to :math:`\mathbb{F}_q` by all
    :math:`\varphi(E)` embeddings :math:`\zeta_E \mapsto \omega^t` (``E`` the lcm of the
    conductors, ``q`` a prime :math:`\equiv 1 \pmod E` chosen above twice a proven bound on
    the power-basis coordinates of the sums), where the sums are matrix products mod ``q``:
    :math:`O(r^3\varphi(E))` operations. A sum equals its claimed integer iff all its images
    do. ``found`` is the number of failing items (rows, pairs), or the
    compared figure.

    Examples
    --------
    >>> from metasym.groups import quaternion
    >>> from metasym.representations.characters import character_table
    >>> [(r.name, r.status) for r in check_character_table(character_table(quaternion()))][:3]
    [('characters:count', 'pass'), ('characters:degrees', 'pass'), ('characters:sum-of-squares', 'pass')]
    """
    G = table.group
    N = G.order
    r_rows, r_cls = len(table.values), len(table.classes)
    sizes = [c.size for c in table.classes]
    out = []
    out.append(_result("characters:count", "number of irreducibles = number of classes",
                       r_cls, r_rows, r_rows == r_cls and sum(sizes) == N,
                       f"class sizes add up to {sum(sizes)} (|G| = {N})"))
    ident = next((k for k, c in enumerate(table.classes) if c.element_order == 1), 0)
    at_one = [row[ident] for row in table.values]
    wrong = sum(1 for v, d in zip(at_one, table.degrees) if not v == int(d))
    out.append(_result("characters:degrees", "stated degrees = values at the identity", 0, wrong,
                       wrong == 0 and len(table.degrees) == r_rows,
                       "found = rows whose degree differs from chi(1)"))
    sq = sum(int(d) ** 2 for d in table.degrees)
    out.append(_result("characters:sum-of-squares", "sum_i chi_i(1)^2 = |G|", N, sq, sq == N))
    nd = [int(d) for d in table.degrees if d <= 0 or N % int(d)]
    out.append(_result("characters:degrees-divide", "every chi_i(1) divides |G|", 0, len(nd),
                       not nd, f"degrees not dividing {N}: {nd}" if nd else f"|G| = {N}"))
    # row and column orthogonality, exactly
    if r_rows == r_cls:
        (bad, first), (badc, firstc), how = _orthogonality(table)
    else:
        bad, first, badc, firstc, how = r_rows, "not square", r_cls, "not square", ""
    if bad is None:  # equivalent to the columns for a square table (not counted)
        out.append(_result("characters:row-orthogonality",
                           "sum_k |C_k| chi_i(z_k) conj(chi_j(z_k)) = |G| delta_ij", 0,
                           0 if badc == 0 else None, badc == 0,
                           f"{how}; found = failing pairs i <= j (not counted when the "
                           "columns fail)"))
    else:
        out.append(_result("characters:row-orthogonality",
                           "sum_k |C_k| chi_i(z_k) conj(chi_j(z_k)) = |G| delta_ij", 0, bad,
                           bad == 0, f"{how}; found = failing pairs i <= j"
                           + (f"; first: rows {first}" if bad else "")))
    out.append(_result("characters:column-orthogonality",
                       "sum_i chi_i(z_k) conj(chi_i(z_l)) = delta_kl |G|/|C_k|", 0, badc,
                       badc == 0, f"{how}; found = failing pairs k <= l"
                       + (f"; first: columns {firstc}" if badc else "")))
    # Frobenius-Schur: count involutions (and the identity) on the elements
    st_fs = "sum_i nu(chi_i) chi_i(1) = #{g : g^2 = 1}"
    fs = sum(int(v) * int(d) for v, d in zip(table.indicators, table.degrees))
    try:
        G.check_enumerable("counting square roots of 1")
        E_arr = G.element_arrays
        roots = int((np.take_along_axis(E_arr, E_arr, axis=1)
                     == np.arange(G.degree)[None, :]).all(axis=1).sum())
        how_fs = f"right side counted on all {N} elements"
    except TooLargeError:  # not listed: a closed form for S_n, A_n, else the classes
        from metasym.representations.table_checks import square_roots_of_one

        roots, how_fs = square_roots_of_one(table)
        how_fs = f"right side: {how_fs}"
    out.append(_result("characters:frobenius-schur", st_fs, roots, fs, fs == roots, how_fs))
    # indicators recomputed from values and power maps
    from metasym.representations.table_checks import indicator_sums

    wrong = 0
    sums = indicator_sums(table)  # exact Python integers (None: not rational)
    for i in range(r_rows):
        if sums[i] is None or sums[i] != N * int(table.indicators[i]):
            wrong += 1
    out.append(_result("characters:indicators",
                       "nu(chi_i) = (1/|G|) sum_k |C_k| chi_i(z_k^2) in {1, 0, -1}", 0, wrong,
                       wrong == 0 and all(v in (-1, 0, 1) for v in table.indicators),
                       "found = rows whose stated indicator differs"))
    return out


def _class_character(rep: Any, classes: Any) -> tuple[list[Any] | np.ndarray, bool, str]:
    """A representation's character at the class representatives, read without
    enumerating the group: ``(values, exact, how)``. Exact integers for actions and
    rational linear representations (traces of :meth:`element_matrix`), float64 traces
    otherwise."""
    from fractions import Fraction

    from metasym.representations.linear import LinearRepresentation

    if isinstance(rep, PermutationRepresentation):
        rep = rep.action
    if isinstance(rep, GroupAction):
        vals = [int((rep.image(np.asarray(c.representative)) == np.arange(rep.degree)).sum())
                for c in classes]
        return vals, True, "fixed points"
    if isinstance(rep, LinearRepresentation):
        if rep.is_rational:
            tr = [Fraction(sum(np.diagonal(rep.element_matrix(np.asarray(c.representative),
                                                             exact=True))))
                  for c in classes]
            if all(t.denominator == 1 for t in tr):
                return [int(t) for t in tr], True, "exact traces"
        vals = np.array([np.trace(rep.element_matrix(np.asarray(c.representative),
                                                     exact=False)) for c in classes])
        return vals, False, "float64 traces"
    raise MismatchError(f"cannot read a character from {type(rep).__name__}")


def check_hom_dimension(rep_in: Any, rep_out: Any, table: Any = None, *,
                        atol: float = 1e-6) -> list[CheckResult]:
    r""":math:`\dim \mathrm{Hom}_G(V, W)` three ways: the character formula
    :math:`\frac1{|G|}\sum_g \chi_V(g)\overline{\chi_W(g)}` (over classes), the
    multiplicities of the irreducibles :math:`\sum_i \langle\chi_V,\chi_i\rangle
    \langle\chi_W,\chi_i\rangle`, and an independent nullspace
    (:func:`~metasym.representations.linear.nullspace_basis`; skipped above
    ``NULLITY_LIMIT`` unknowns). ``rep_in``/``rep_out`` are group actions,
    permutation or linear representations. Characters are read at class representatives
    (no enumeration): exact for actions and rational representations; for float
    representations the formula is evaluated in float64 and must be within ``atol`` of
    the nullity (real representations have real characters, so no conjugation is lost).
    """
    from metasym.representations.characters import character_table
    from metasym.representations.linear import nullspace_basis

    G = rep_in.group
    if rep_out.group != G:
        raise MismatchError(f"representations of different groups: {G.spec} and "
                            f"{rep_out.group.spec}")
    st_f = "dim Hom_G(V, W) = (1/|G|) sum_g chi_V(g) conj(chi_W(g))"
    st_m = "dim Hom_G(V, W) = sum_i <chi_V, chi_i> <chi_W, chi_i>"
    try:
        T = character_table(G) if table is None else table
        chi_v, exact_v, how_v = _class_character(rep_in, T.classes)
        chi_w, exact_w, how_w = _class_character(rep_out, T.classes)
    except TooLargeError as e:
        return [_skipped("hom-dimension=characters", st_f, None, str(e)),
                _skipped("hom-dimension=irreducibles", st_m, None, str(e))]
    m, n = rep_out.degree, rep_in.degree
    if m * n > NULLITY_LIMIT:
        nullity, method = None, f"{m * n} unknowns > {NULLITY_LIMIT}: no nullspace"
    else:
        B = nullspace_basis(rep_in, rep_out)
        nullity, method = B.dimension, B.method
    sizes = np.array(T.class_sizes, dtype=np.int64)
    if exact_v and exact_w:
        total = int(np.sum(sizes * np.asarray(chi_v, dtype=np.int64)
                           * np.asarray(chi_w, dtype=np.int64)))
        formula: Any = _fraction(total, G.order)
        err = 0.0
    else:
        value = float(np.sum(sizes * np.asarray(chi_v, float) * np.asarray(chi_w, float))
                      / G.order)
        formula = int(round(value))
        err = abs(value - formula)
    try:  # the table's multiplicities (a corrupted table may give no integers at all)
        if exact_v and exact_w:
            mv, mw = T.decompose(chi_v), T.decompose(chi_w)
        else:
            mv, mw = T.multiplicities(rep_in), T.multiplicities(rep_out)
        via_irr: Any = sum(a * b for a, b in zip(mv, mw))
    except MetasymError as e:
        mv = mw = str(e)  # type: ignore[assignment]
        via_irr = None
    detail = (f"characters: {how_v}, {how_w}"
              + (f" (distance to the integer {err:.3g}, atol {atol:g})" if err else "")
              + f"; nullspace: {method}")
    ok_f = err <= atol
    if nullity is None:
        return [_skipped("hom-dimension=characters", st_f, formula, detail),
                _result("hom-dimension=irreducibles", st_m, formula, via_irr,
                        via_irr == formula and ok_f, f"multiplicities {mv} and {mw}")]
    return [_result("hom-dimension=characters", st_f, nullity, formula,
                    formula == nullity and ok_f, detail),
            _result("hom-dimension=irreducibles", st_m, nullity, via_irr, via_irr == nullity,
                    f"multiplicities {mv} and {mw}")]


def check_characters(in_action: Any, out_action: Any) -> list[CheckResult]:
    """The character-table checks of :func:`check_character_table` for the group of the
    actions, then :func:`check_hom_dimension` for the pair (all skipped, with the reason,
    when the table is not computed for a group this large)."""
    from metasym.representations.characters import character_table

    a_in, a_out = _pair(in_action, out_action)
    try:
        T = character_table(a_in.group)
    except TooLargeError as e:
        return [_skipped("characters:table", "the character table is computed", None, str(e))]
    return check_character_table(T) + check_hom_dimension(a_in, a_out, T)
