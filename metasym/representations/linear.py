r"""Real linear representations given by generator matrices, and equivariant bases.

A :class:`LinearRepresentation` is :math:`\rho: G \to GL_d(\mathbb{R})` given by the
matrices of ``G``'s generators and checked to be a homomorphism. :func:`nullspace_basis`
solves :math:`\rho_Y(s) W = W \rho_X(s)` for all generators ``s`` (which is equivalent to
all elements) as a nullspace: exact over the rationals when small, by SVD otherwise. It is
the small-case method and the oracle of
:func:`metasym.representations.schur.equivariant_basis`, which dispatches to it for small
inputs and to the orbit and Schur-lemma methods for large ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from functools import cached_property
from typing import Any

import numpy as np
import sympy

from metasym.errors import MismatchError, NotAHomomorphismError, SpecError, TooLargeError
from metasym.groups import FiniteGroup, GroupAction, regular
from metasym.groups._perm import format_cycles, inverse
from metasym.groups.finite_group import ELEMENT_LIMIT
from metasym.representations.permutation import PermutationRepresentation

__all__ = [
    "LinearRepresentation",
    "parse_linear",
    "EquivariantBasis",
    "nullspace_basis",
    "as_linear",
    "EXACT_AUTO_LIMIT",
    "FLOAT_NULLSPACE_LIMIT",
]

#: Largest number of weight entries ``m*n`` solved exactly when ``exact=None``.
EXACT_AUTO_LIMIT = 400
#: Largest ``m*n`` for ``exact=True`` (sparse rational elimination).
EXACT_LIMIT = 10_000
#: Largest number of unknowns ``m*n`` for the float SVD nullspace (an SVD of a
#: ``(n_generators*m*n) x (m*n)`` matrix: about 7 s at the limit on 2 cores).
FLOAT_NULLSPACE_LIMIT = 2048
#: Largest number of entries of the stacked float constraint matrix.
FLOAT_CONSTRAINT_CELLS = 40_000_000
#: Largest ``order * d * d`` held while validating (float64 entries).
VALIDATION_CELLS = 20_000_000
#: Largest ``order * n_generators * d**3`` exact rational operations while validating;
#: above it an exact representation is validated in float64 (and says so).
EXACT_VALIDATION_OPS = 3_000_000


# ----- rational helpers ------------------------------------------------------------------
def _to_fraction(x: Any) -> Fraction:
    """An exact rational from an int, Fraction, sympy Rational, ``"p/q"`` string or float
    (a float is read as its shortest decimal ``repr``: ``0.1 -> 1/10``)."""
    if isinstance(x, bool):
        return Fraction(int(x))
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            raise SpecError(f"matrix entry {x!r} is not finite")
        return Fraction(repr(float(x)))
    if isinstance(x, str):
        try:
            return Fraction(x.strip())
        except ValueError:
            raise SpecError(f"matrix entry {x!r} is not a rational number") from None
    if isinstance(x, sympy.Basic):
        if x.is_Rational:
            return Fraction(int(x.p), int(x.q))
        raise SpecError(f"exact mode needs rational entries; {x} is not rational "
                        "(use exact=False with a tolerance)")
    raise SpecError(f"matrix entry {x!r} of type {type(x).__name__} is not a number")


def _object_matrix(M: Any) -> np.ndarray:
    """Square matrix of Python ``int`` (integral entries) or ``Fraction`` objects."""
    if isinstance(M, np.ndarray) and np.issubdtype(M.dtype, np.integer) and M.ndim == 2:
        return M.astype(np.int64).astype(object)  # fast path: Python ints
    if isinstance(M, sympy.MatrixBase):
        rows = M.tolist()
    else:
        rows = np.asarray(M, dtype=object).tolist()
    arr = np.empty((len(rows), len(rows[0]) if rows else 0), dtype=object)
    for i, r in enumerate(rows):
        if len(r) != arr.shape[1]:
            raise SpecError("matrix rows have different lengths")
        for j, x in enumerate(r):
            f = _to_fraction(x)
            arr[i, j] = int(f) if f.denominator == 1 else f
    return arr


def _is_integral(M: np.ndarray) -> bool:
    return bool(np.all(np.isfinite(M)) and np.all(M == np.round(M)) and np.abs(M).max(initial=0) < 2**52)


class LinearRepresentation:
    r"""A real representation :math:`\rho: G \to GL_d(\mathbb{R})` given by generator
    matrices, validated as a homomorphism.

    **Validation** (``validate=True``) is a complete check, not a spot check: ``ρ`` is
    built on every element along the breadth-first spanning tree of the Cayley graph
    (the order of ``group.element_arrays``, where each element is reached by left
    multiplication :math:`g \mapsto s g`), and every Cayley-graph edge is checked,
    :math:`\rho(s)\rho(g) = \rho(sg)` for all elements ``g`` and generators ``s``. This
    holds iff the generator matrices respect every relation of ``G``. It enumerates the
    group: above :data:`~metasym.groups.ELEMENT_LIMIT` elements (or
    ``VALIDATION_CELLS`` entries ``order*d*d``) it raises
    :class:`~metasym.errors.TooLargeError` unless ``validate=False``.

    **Tolerance.** In float mode an edge passes when
    :math:`\max|\rho(s)\rho(g) - \rho(sg)| \le \mathrm{atol}`; the default is
    :math:`\sqrt{\varepsilon}\cdot\max(1, \max|\rho(s)_{ij}|)` with :math:`\varepsilon`
    the machine epsilon of the input dtype (about ``1.5e-8`` for float64 input,
    ``3.5e-4`` for float32). In exact mode (``exact=True``) entries are rationals
    (ints, :class:`fractions.Fraction`, sympy Rationals, ``"p/q"`` strings, or floats
    read as their shortest decimal) and the check is exact arithmetic (``atol = 0``);
    when that would take more than ``EXACT_VALIDATION_OPS`` operations it is done in
    float64 with the default tolerance instead, and :attr:`validation` says so.

    Parameters
    ----------
    group
        The represented group.
    generator_matrices
        One ``d x d`` real matrix per generator of ``group``, in the order of
        ``group.generators`` (an array ``(n_generators, d, d)`` or a sequence).
    exact
        Keep exact rational matrices (sympy) and validate exactly.
    atol
        Validation tolerance (float mode); see above for the default.
    validate
        Check the homomorphism property (see above).
    degree
        ``d``; needed only for a group without generators given an empty list.
    name
        Shown in ``repr``.

    **Equality** is by value for representations given by matrices (the same group and
    the same matrices) and structural for those built by the algebra below (the same
    :attr:`spec`), so comparing never builds a large dense matrix.

    Attributes
    ----------
    atol : float
        The tolerance used (``0.0`` for an exact check).
    validation : str
        ``"exact"``, ``"float64"``, ``"skipped"``, or ``"derived"`` for a representation
        built by the algebra below from validated ones (valid by construction).
    validation_error : float or None
        Largest edge error found while validating.

    Examples
    --------
    >>> from metasym.groups import cyclic
    >>> rot = [[0, -1], [1, 0]]                    # 90 degrees: a rep of C_4
    >>> rho = LinearRepresentation(cyclic(4), [rot], exact=True)
    >>> rho.degree, rho.validation
    (2, 'exact')
    >>> LinearRepresentation(cyclic(3), [rot])    # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    metasym.errors.NotAHomomorphismError: ...
    """

    __slots__ = ("_group", "_name", "_node", "_degree", "_is_exact", "atol", "validation",
                 "validation_error", "__dict__")

    def __init__(self, group: FiniteGroup, generator_matrices: Any, *, exact: bool = False,
                 atol: float | None = None, validate: bool = True, degree: int | None = None,
                 name: str | None = None) -> None:
        if not isinstance(group, FiniteGroup):
            raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
        mats = list(generator_matrices)
        if len(mats) != group.n_generators:
            raise MismatchError(f"{group.spec} has {group.n_generators} generators but "
                                f"{len(mats)} matrices were given")
        if not mats and degree is None:
            raise SpecError("give degree= for a group without generators")
        self._group = group
        if exact:
            objs = [_object_matrix(M) for M in mats]
            floats = [np.array([[float(x) for x in row] for row in M], dtype=np.float64)
                      .reshape(M.shape) for M in objs]
            in_eps = np.finfo(np.float64).eps
        else:
            arrs = [np.asarray(M) for M in mats]
            for a in arrs:
                if not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
                    raise SpecError(f"matrices must be real numbers, got dtype {a.dtype}")
                if np.iscomplexobj(a):
                    raise SpecError("matrices must be real (complex representations are "
                                    "not supported)")
            floating = [a.dtype for a in arrs if np.issubdtype(a.dtype, np.floating)]
            in_eps = max((np.finfo(dt).eps for dt in floating), default=np.finfo(np.float64).eps)
            floats = [a.astype(np.float64) for a in arrs]
            objs = None
        d = floats[0].shape[0] if floats else int(degree)  # type: ignore[arg-type]
        if degree is not None and int(degree) != d:
            raise MismatchError(f"degree={degree} but the matrices are {d} x {d}")
        if d < 1:
            raise SpecError("a representation needs dimension at least 1")
        for i, M in enumerate(floats):
            if M.shape != (d, d):
                raise MismatchError(f"generator matrix {i} has shape {M.shape}, expected {(d, d)}")
            if not np.all(np.isfinite(M)):
                raise SpecError(f"generator matrix {i} has non-finite entries")
        arr = np.array(floats, dtype=np.float64).reshape(len(floats), d, d)
        arr.setflags(write=False)
        self._float = arr
        self._exact = tuple(objs) if objs is not None else None
        self._node: tuple = ("matrices",)
        self._degree = int(d)
        self._is_exact = objs is not None
        self._name = name
        scale = max(1.0, float(np.abs(arr).max(initial=0.0)))
        self.atol = float(atol) if atol is not None else float(math.sqrt(in_eps) * scale)
        if atol is not None and (not math.isfinite(self.atol) or self.atol < 0):
            raise SpecError(f"atol must be a non-negative number, got {atol!r}")
        self.validation = "skipped"
        self.validation_error: float | None = None
        if validate:
            self._validate()

    # ----- value object ------------------------------------------------------------------
    @property
    def group(self) -> FiniteGroup:
        return self._group

    @property
    def degree(self) -> int:
        """Dimension ``d`` of the representation space."""
        return self._degree

    @property
    def exact(self) -> bool:
        """Whether exact rational matrices are kept."""
        return self._is_exact

    @cached_property
    def _key(self) -> tuple:
        # built representations compare by structure (their spec), never by dense matrices
        # that may be huge; given matrices compare by value
        if self._node[0] != "matrices":
            return ("derived", self.spec)
        if self._exact is not None:
            return (self._group, True, tuple(tuple(M.ravel().tolist()) for M in self._exact))
        return (self._group, False, self.degree, self._float.tobytes())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LinearRepresentation) and self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __repr__(self) -> str:
        name = f"{self._name!r}, " if self._name else ""
        mode = "exact" if self.exact else f"atol={self.atol:.3g}"
        return (f"LinearRepresentation({name}group={self._group.spec!r}, degree={self.degree}, "
                f"{mode}, validation={self.validation!r})")

    # ----- matrices ----------------------------------------------------------------------
    def generator_matrices(self, format: str = "dense", *, dtype: Any = None):
        """Generator matrices: ``"dense"`` float64 array ``(n_generators, d, d)``;
        ``"sympy"`` a tuple of sympy ``ImmutableMatrix`` (exact mode, or integral
        entries); ``"torch"`` a float32 tensor (torch imported lazily)."""
        if format == "dense":
            return self._float.astype(dtype) if dtype is not None else self._float
        if format == "sympy":
            objs = self._rational_objects()
            if objs is None:
                raise SpecError("this representation has non-integral float matrices; build "
                                "it with exact=True for sympy matrices")
            return tuple(sympy.ImmutableMatrix(
                [[sympy.Rational(x.numerator, x.denominator) if isinstance(x, Fraction)
                  else sympy.Integer(x) for x in row] for row in M.tolist()]) for M in objs)
        if format == "torch":
            import torch  # lazily

            return torch.as_tensor(self._float, dtype=dtype or torch.float32)
        raise SpecError(f"unknown matrix format {format!r}: use 'dense', 'sympy' or 'torch'")

    def _rational_objects(self) -> tuple[np.ndarray, ...] | None:
        """Exact matrices as object arrays; integral float matrices count as exact."""
        if self._exact is not None:
            return self._exact
        if all(_is_integral(M) for M in self._float):
            return tuple(M.astype(np.int64).astype(object) for M in self._float)
        return None

    @property
    def is_rational(self) -> bool:
        """Whether the matrices are known exactly (exact mode or integral entries)."""
        return self._rational_objects() is not None

    def matrix(self, g: Any) -> np.ndarray:
        r""":math:`\rho(g)` (float64) for any element ``g``, read from the spanning-tree
        construction (enumerates the group; see the class docstring)."""
        return self._element_matrices[self._group.element_index(g)]

    def element_matrices(self, *, exact: bool = False) -> np.ndarray:
        r""":math:`\rho(g)` for every element, in the order of ``group.element_arrays``:
        a read-only float64 array ``(order, d, d)``, or (``exact=True``, rational
        representations only) an object array of Python ints/Fractions. Enumerates the
        group along the spanning tree of the class docstring (same limits)."""
        if not exact:
            return self._element_matrices
        objs = self._rational_objects()
        if objs is None:
            raise SpecError("exact=True needs a rational representation")
        mats = np.empty((len(objs), self.degree, self.degree), dtype=object)
        for s, M in enumerate(objs):
            mats[s] = M
        return self._build(mats)

    def element_matrix(self, g: Any, *, exact: bool | None = None) -> np.ndarray:
        r""":math:`\rho(g)` for one element ``g``, without enumerating the group: ``g`` is
        written as a word in the generators by Schreier-Sims sifting and the generator
        matrices are multiplied along it. An object array of Python ints/Fractions when
        exact (default: when the representation is rational), else float64."""
        exact = self.is_rational if exact is None else bool(exact)
        if exact and not self.is_rational:
            raise SpecError("exact=True needs a rational representation")
        orders = [_perm_order(a) for a in self._group.generator_arrays]
        (word,) = _words(self._group, [np.asarray(g, dtype=np.int64).reshape(-1)])
        return _word_matrix(word, self._mats(exact), orders, exact, self.degree)

    def character(self) -> np.ndarray:
        r""":math:`\mathrm{tr}\,\rho(g)` for every element, float64, in the order of
        ``group.element_arrays``."""
        return np.trace(self._element_matrices, axis1=1, axis2=2)

    # ----- structure (built lazily) ---------------------------------------------------------
    @classmethod
    def _derived(cls, group: FiniteGroup, node: tuple, degree: int, exact: bool,
                 atol: float) -> LinearRepresentation:
        """A representation defined by its structure (a sum, tensor product, dual,
        restriction, induction or permutation representation); its generator matrices
        are built on request. Valid by construction: ``validation == "derived"``."""
        self = object.__new__(cls)
        self._group, self._node, self._degree = group, node, int(degree)
        self._is_exact, self._name = bool(exact), None
        self.atol = 0.0 if exact else float(atol)
        self.validation, self.validation_error = "derived", None
        return self

    @property
    def structure(self) -> tuple:
        """How the representation is built: ``("matrices",)`` for given generator
        matrices, ``("permutation", action)``, ``("sum", parts)``, ``("tensor", parts)``,
        ``("dual", (rep,))``, ``("restrict", (rep,))`` or ``("induce", (rep,), cosets)``.
        The dense generator matrices are built only when asked for."""
        return self._node

    @cached_property
    def _exact(self) -> tuple[np.ndarray, ...] | None:  # derived reps only
        return tuple(self._generators(True)) if self._is_exact else None

    @cached_property
    def _float(self) -> np.ndarray:  # derived reps only
        if self._is_exact:
            mats = [np.array(M, dtype=np.float64) for M in self._exact]  # type: ignore[union-attr]
        else:
            mats = self._generators(False)
        arr = np.array(mats, dtype=np.float64).reshape(len(mats), self._degree, self._degree)
        arr.setflags(write=False)
        return arr

    def _mats(self, exact: bool) -> list[np.ndarray]:
        """Generator matrices as object arrays of Python ints/Fractions (``exact``) or float64."""
        if exact:
            objs = self._rational_objects()
            if objs is None:  # pragma: no cover - callers ask for exact only when exact
                raise SpecError("an exact operation needs exact operands")
            return list(objs)
        return list(self._float)

    def _generators(self, exact: bool) -> list[np.ndarray]:
        kind = self._node[0]
        k, d = self._group.n_generators, self._degree
        if kind == "permutation":
            out = []
            for img in self._node[1].generator_images:
                M = np.zeros((d, d), dtype=np.int64)
                M[np.asarray(img), np.arange(d)] = 1
                out.append(M.astype(object) if exact else M.astype(np.float64))
            return out
        parts = self._node[1]
        if kind == "sum":
            mats = [p._mats(exact) for p in parts]
            return [_block_diag([m[s] for m in mats], exact) for s in range(k)]
        if kind == "tensor":
            mats = [p._mats(exact) for p in parts]
            out = []
            for s in range(k):
                M = mats[0][s]
                for m in mats[1:]:
                    M = np.kron(M, m[s])
                out.append(M)
            return out
        if kind == "dual":  # rho*(s) = rho(s^-1)^T = (rho(s)^(ord s - 1))^T
            (a,) = parts
            mats = a._mats(exact)
            return [_inverse(M, _perm_order(g), exact).T for M, g in
                    zip(mats, self._group.generator_arrays)]
        if kind == "restrict":
            (a,) = parts
            mats = a._mats(exact)
            orders = [_perm_order(g) for g in a.group.generator_arrays]
            return [_word_matrix(w, mats, orders, exact, a.degree)
                    for w in _words(a.group, self._group.generator_arrays)]
        if kind == "induce":  # block (j, i) of rho(s) is rho_H(t_j^-1 s t_i)
            (a,) = parts
            cosets = self._node[2]
            mats = a._mats(exact)
            H = a.group
            orders = [_perm_order(g) for g in H.generator_arrays]
            dv = a.degree
            out = []
            for s in range(k):
                targets, hs = cosets[s]
                words = _words(H, hs)
                M = np.zeros((d, d), dtype=object if exact else np.float64)
                for i, (j, w) in enumerate(zip(targets, words)):
                    M[j * dv:(j + 1) * dv, i * dv:(i + 1) * dv] = _word_matrix(
                        w, mats, orders, exact, dv)
                out.append(M)
            return out
        raise AssertionError(f"unknown structure {kind!r}")  # pragma: no cover

    # ----- algebra -----------------------------------------------------------------------
    @classmethod
    def from_permutation(cls, rep: Any) -> LinearRepresentation:
        """The linear representation of a permutation representation or group action
        (0/1 matrices, exact; built on request)."""
        action = rep.action if isinstance(rep, PermutationRepresentation) else rep
        if not isinstance(action, GroupAction):
            raise MismatchError(f"expected a PermutationRepresentation or GroupAction, got "
                                f"{type(rep).__name__}")
        return cls._derived(action.group, ("permutation", action), action.degree, True, 0.0)

    def direct_sum(self, *others: Any) -> LinearRepresentation:
        r"""Direct sum :math:`\rho \oplus \sigma \oplus \dots` (block diagonal, this
        summand first). Exact when every summand is."""
        parts = (self, *(as_linear(o) for o in others))
        for p in parts[1:]:
            _same_group(self, p)
        exact = all(p.exact for p in parts)
        return LinearRepresentation._derived(self._group, ("sum", parts),
                                             sum(p.degree for p in parts), exact,
                                             max(p.atol for p in parts))

    def __add__(self, other: Any) -> LinearRepresentation:
        """Direct sum (block diagonal, this summand first)."""
        return self.direct_sum(other)

    def tensor(self, *others: Any) -> LinearRepresentation:
        """Tensor (Kronecker) product; basis vector ``(a, b)`` at ``a*d_2 + b``."""
        parts = (self, *(as_linear(o) for o in others))
        for p in parts[1:]:
            _same_group(self, p)
        degree = 1
        for p in parts:
            degree *= p.degree
        exact = all(p.exact for p in parts)
        scale = max(1.0, *(float(np.abs(p._float).max(initial=0.0)) if p._node[0] ==
                           "matrices" else 1.0 for p in parts))
        return LinearRepresentation._derived(self._group, ("tensor", parts), degree, exact,
                                             max(p.atol for p in parts) * scale)

    def __mul__(self, other: Any) -> LinearRepresentation:
        """Tensor (Kronecker) product; basis vector ``(a, b)`` at ``a*d_2 + b``."""
        return self.tensor(other)

    def dual(self) -> LinearRepresentation:
        r"""The dual (contragredient) :math:`\rho^*(g) = \rho(g^{-1})^\top`; for a
        generator ``s`` of order ``o``, :math:`\rho(s)^{-1} = \rho(s)^{o-1}` exactly for
        exact representations, a float64 matrix inverse otherwise."""
        return LinearRepresentation._derived(self._group, ("dual", (self,)), self.degree,
                                             self.exact, self.atol)

    def restrict(self, subgroup: FiniteGroup) -> LinearRepresentation:
        r""":math:`\mathrm{Res}^G_H \rho`: the same space, the generators of ``subgroup``
        (a subgroup of this group on the same points). Each generator of ``H`` is written
        as a word in the generators of ``G`` by Schreier-Sims sifting
        (``PermutationGroup.generator_product``), so nothing is enumerated."""
        if not isinstance(subgroup, FiniteGroup):
            raise TypeError(f"subgroup must be a FiniteGroup, got {type(subgroup).__name__}")
        if not subgroup.is_subgroup_of(self._group):
            raise MismatchError(f"{subgroup.spec} is not a subgroup of {self._group.spec}")
        return LinearRepresentation._derived(subgroup, ("restrict", (self,)), self.degree,
                                             self.exact, self.atol)

    def induce(self, group: FiniteGroup) -> LinearRepresentation:
        r""":math:`\mathrm{Ind}_H^G \rho` for this representation of ``H`` and a group
        ``G`` containing ``H`` (same points), of degree :math:`[G:H]\dim\rho`.

        Left cosets :math:`t_1 H, \dots, t_m H` (:math:`t_1 = 1`) are found by breadth-first
        search over the generators of ``G``, a coset recognised by its lexicographically
        least element (``H`` is enumerated: it must be small, see
        ``INDUCTION_LIMIT`` (1000)). For a generator ``s``, :math:`s t_i = t_j h` with
        :math:`h \in H`, and block ``(j, i)`` of :math:`\mathrm{Ind}\rho(s)` is
        :math:`\rho(h)` (``h`` written as a word in ``H``'s generators)."""
        if not isinstance(group, FiniteGroup):
            raise TypeError(f"group must be a FiniteGroup, got {type(group).__name__}")
        H = self._group
        if not H.is_subgroup_of(group):
            raise MismatchError(f"{H.spec} is not a subgroup of {group.spec}")
        index = group.order // H.order
        if index > INDUCTION_LIMIT or H.order * H.degree > 10_000_000:
            raise TooLargeError(f"inducing from {H.spec} to {group.spec}: index {index} "
                                f"(limit {INDUCTION_LIMIT}) or |H| x degree "
                                f"{H.order * H.degree} too large")
        cosets = _coset_action(H, group)
        return LinearRepresentation._derived(group, ("induce", (self,), cosets),
                                             index * self.degree, self.exact, self.atol)

    # ----- spec strings --------------------------------------------------------------------
    @property
    def spec(self) -> str:
        """``"<group spec> @ <expression>"``; :func:`parse_linear` rebuilds an equal
        representation. Expressions: ``mat(d; M_1; ...)`` (exact rationals, e.g.
        ``[[0,-1],[1,0]]`` or ``1/2``), ``float(d; ...)`` (float64, shortest repr),
        ``perm(<action spec>)``, ``sum(e, e, ...)``, ``tensor(e, e, ...)``, ``dual(e)``,
        ``restrict(<G spec> @ e)`` (from a larger group) and ``induce(<H spec> @ e)``
        (from a subgroup)."""
        return f"{self._group.spec} @ {self._expr()}"

    def _expr(self) -> str:
        kind = self._node[0]
        if kind == "matrices":
            if self.exact:
                mats = [_format_matrix(M, str) for M in self._exact]  # type: ignore[union-attr]
                head = "mat"
            else:
                mats = [_format_matrix(M, lambda x: repr(float(x))) for M in self._float]
                head = "float"
            return f"{head}({'; '.join([str(self.degree), *mats])})"
        if kind == "permutation":
            return f"perm({self._node[1].spec})"
        parts = self._node[1]
        if kind in ("sum", "tensor"):
            return f"{kind}({', '.join(p._expr() for p in parts)})"
        if kind == "dual":
            return f"dual({parts[0]._expr()})"
        return f"{kind}({parts[0].spec})"  # restrict / induce: the operand's own group

    # ----- validation --------------------------------------------------------------------
    @cached_property
    def _tree(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(targets, parent, via, depth)``: ``targets[s, i]`` is the index of
        :math:`s g_i`; element ``j > 0`` is reached from ``parent[j]`` by generator
        ``via[j]`` at BFS depth ``depth[j]``."""
        G = self._group
        N = G.order
        d = self.degree
        if N > ELEMENT_LIMIT or N * d * d > VALIDATION_CELLS:
            raise TooLargeError(
                f"checking a {d}-dimensional representation of {G.spec} (order {N}) element "
                f"by element needs {N} elements x {d * d} entries, above the limits "
                f"({ELEMENT_LIMIT} elements, {VALIDATION_CELLS} entries); pass validate=False "
                "to skip the check (at your own risk)")
        targets = (regular(G).generator_images if G.n_generators
                   else np.zeros((0, N), dtype=np.int64))
        parent = np.full(N, -1, dtype=np.int64)
        via = np.full(N, -1, dtype=np.int64)
        depth = np.zeros(N, dtype=np.int64)
        seen = np.zeros(N, dtype=bool)
        seen[0] = True
        for i in range(N):  # element_arrays is in BFS order: i is reached before it is used
            for s in range(len(targets)):
                j = int(targets[s, i])
                if not seen[j]:
                    seen[j] = True
                    parent[j], via[j], depth[j] = i, s, depth[i] + 1
        if not seen.all():  # pragma: no cover - element_arrays is closed under generators
            raise NotAHomomorphismError("the Cayley graph is not connected")
        return targets, parent, via, depth

    def _build(self, mats: np.ndarray) -> np.ndarray:
        """ρ on every element along the spanning tree, batched by BFS depth."""
        _, parent, via, depth = self._tree
        N, d = len(parent), self.degree
        out = np.empty((N, d, d), dtype=mats.dtype)
        out[0] = np.eye(d, dtype=np.int64).astype(mats.dtype)
        order = np.argsort(depth, kind="stable")
        bounds = np.searchsorted(depth[order], np.arange(1, depth.max(initial=0) + 2))
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            layer = order[lo:hi]
            out[layer] = np.matmul(mats[via[layer]], out[parent[layer]])
        return out

    @cached_property
    def _element_matrices(self) -> np.ndarray:
        out = self._build(self._float)
        out.setflags(write=False)
        return out

    def _validate(self) -> None:
        G = self._group
        targets = self._tree[0]
        k, d, N = len(targets), self.degree, G.order
        if k == 0:
            self.validation, self.validation_error = ("exact" if self.exact else "float64"), 0.0
            return
        if self._exact is not None and N * k * d**3 <= EXACT_VALIDATION_OPS:
            mats = np.empty((k, d, d), dtype=object)
            for s, M in enumerate(self._exact):
                mats[s] = M
            rho = self._build(mats)
            for s in range(k):
                bad = np.flatnonzero([not np.array_equal(a, b) for a, b in
                                      zip(np.matmul(mats[s][None], rho), rho[targets[s]])])
                if bad.size:
                    raise NotAHomomorphismError(self._edge_message(s, int(bad[0]), "exactly"))
            self.atol, self.validation, self.validation_error = 0.0, "exact", 0.0
            return
        if self._exact is not None:  # too many exact operations: say so, use the float check
            scale = max(1.0, float(np.abs(self._float).max(initial=0.0)))
            self.atol = float(math.sqrt(np.finfo(np.float64).eps) * scale)
        rho = self._element_matrices
        worst = 0.0
        for s in range(k):
            err = np.abs(np.matmul(self._float[s][None], rho) - rho[targets[s]]).max(axis=(1, 2))
            i = int(np.argmax(err))
            worst = max(worst, float(err[i]))
            if not err[i] <= self.atol:
                raise NotAHomomorphismError(self._edge_message(
                    s, i, f"within atol={self.atol:.3g} (error {float(err[i]):.3g})"))
        self.validation, self.validation_error = "float64", worst

    def _edge_message(self, s: int, i: int, how: str) -> str:
        from metasym.groups._perm import format_cycles

        G = self._group
        g = format_cycles(G.element_arrays[i])
        gen = format_cycles(G.generator_arrays[s])
        return (f"the matrices do not define a representation of {G.spec}: "
                f"rho(s) rho(g) != rho(s g) {how} for generator s = {gen} (index {s}) and "
                f"g = {g}, so a relation of the group is broken")


#: Largest index [G:H] for induction.
INDUCTION_LIMIT = 1000


def _block_diag(blocks: list[np.ndarray], exact: bool) -> np.ndarray:
    n = sum(b.shape[0] for b in blocks)
    out = np.zeros((n, n), dtype=object if exact else np.float64)
    i = 0
    for b in blocks:
        out[i:i + b.shape[0], i:i + b.shape[0]] = b
        i += b.shape[0]
    return out


def _perm_order(g: np.ndarray) -> int:
    """Order of one permutation (the groups layer's cycle-structure computation)."""
    from metasym.groups._perm import permutation_orders

    return int(permutation_orders(np.asarray(g, dtype=np.int64)[None, :])[0])


def _inverse(M: np.ndarray, order: int, exact: bool) -> np.ndarray:
    """:math:`\\rho(s)^{-1}` for a generator of order ``order``: the exact power
    :math:`\\rho(s)^{o-1}`, or a float64 inverse (no error growth with the order)."""
    return _power(M, order - 1, True) if exact else np.linalg.inv(M)


def _power(M: np.ndarray, e: int, exact: bool) -> np.ndarray:
    out = np.eye(M.shape[0], dtype=np.int64).astype(object if exact else np.float64)
    base = M
    while e:
        if e & 1:
            out = out @ base
        base = base @ base
        e >>= 1
    return out


def _words(group: FiniteGroup, elements: Any) -> list[list[tuple[int, bool]]]:
    """Each element as a word ``[(generator index, inverted), ...]`` with
    ``g = s_1 s_2 ... s_n`` (apply ``s_n`` first), by sympy's Schreier-Sims sifting."""
    from sympy.combinatorics import Permutation

    gens = {a.tobytes(): i for i, a in enumerate(group.generator_arrays)}
    invs = {inverse(a).tobytes(): i for i, a in enumerate(group.generator_arrays)}
    out = []
    for g in elements:
        arr = np.asarray(g, dtype=np.int64)
        if np.array_equal(arr, np.arange(arr.size)):
            out.append([])
            continue
        word = []
        for s in group.sympy_group.generator_product(Permutation(arr.tolist()), original=True):
            a = np.asarray(s.array_form + list(range(s.size, group.degree)), dtype=np.int64)
            key = a.tobytes()
            if key in gens:
                word.append((gens[key], False))
            elif key in invs:
                word.append((invs[key], True))
            else:  # pragma: no cover - sympy returns original generators or inverses
                raise ArithmeticError("sifting returned a non-generator")
        check = np.arange(group.degree)
        for i, inv in word:
            a = group.generator_arrays[i]
            check = check[inverse(a) if inv else a]
        if not np.array_equal(check, arr):
            raise MismatchError(f"{format_cycles(arr)} is not an element of {group.spec}")
        out.append(word)
    return out


def _word_matrix(word: list[tuple[int, bool]], mats: list[np.ndarray], orders: list[int],
                 exact: bool, d: int) -> np.ndarray:
    out = np.eye(d, dtype=np.int64).astype(object if exact else np.float64)
    for i, inv in word:
        out = out @ (_inverse(mats[i], orders[i], exact) if inv else mats[i])
    return out


def _coset_action(H: FiniteGroup, G: FiniteGroup) -> tuple:
    """For each generator ``s`` of ``G``: ``(targets, hs)`` with ``s t_i = t_j h_i``,
    ``targets[i] = j``, over left cosets ``t_i H`` found by breadth-first search."""
    Hel = H.element_arrays
    reps = [np.arange(G.degree, dtype=np.int64)]

    def key(x: np.ndarray) -> bytes:
        rows = x[Hel]  # the coset x H, one element per row
        return rows[np.lexsort(rows.T[::-1])[0]].tobytes()

    index = {key(reps[0]): 0}
    head = 0
    while head < len(reps):
        t = reps[head]
        head += 1
        for s in G.generator_arrays:
            x = s[t]
            kx = key(x)
            if kx not in index:
                index[kx] = len(reps)
                reps.append(x)
    out = []
    for s in G.generator_arrays:
        targets, hs = [], []
        for t in reps:
            x = s[t]
            j = index[key(x)]
            targets.append(j)
            hs.append(inverse(reps[j])[x])  # h = t_j^-1 s t_i
        out.append((tuple(targets), tuple(hs)))
    return tuple(out)


def _format_matrix(M: np.ndarray, fmt) -> str:
    return "[" + ",".join("[" + ",".join(fmt(x) for x in row) + "]" for row in
                          np.asarray(M).tolist()) + "]"


def _block_diag_obj(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = np.zeros((a.shape[0] + b.shape[0], a.shape[1] + b.shape[1]), dtype=object)
    out[:] = 0
    out[:a.shape[0], :a.shape[1]] = a
    out[a.shape[0]:, a.shape[1]:] = b
    return out


def _same_group(a: Any, b: Any) -> None:
    if a.group != b.group:
        raise MismatchError(f"representations of different groups: {a.group.spec} and "
                            f"{b.group.spec}")


def as_linear(rep: Any) -> LinearRepresentation:
    """``rep`` as a :class:`LinearRepresentation`: group actions and permutation
    representations become :meth:`LinearRepresentation.from_permutation` (exact)."""
    if isinstance(rep, LinearRepresentation):
        return rep
    if isinstance(rep, GroupAction):
        rep = PermutationRepresentation(rep)
    if isinstance(rep, PermutationRepresentation):
        return LinearRepresentation.from_permutation(rep)  # exact: solved exactly when small
    raise MismatchError("expected a LinearRepresentation, PermutationRepresentation or "
                        f"GroupAction, got {type(rep).__name__}")


# ----- equivariant bases ------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EquivariantBasis:
    r"""A basis of :math:`\{W \in \mathbb{R}^{m \times n} : \rho_Y(s) W = W \rho_X(s)\ \forall s\}`.

    Attributes
    ----------
    basis
        ``(m*n, k)``; column ``c`` is :math:`\mathrm{vec}(W_c)`, row-major
        (``W = (basis @ v).reshape(m, n)``). A float64 NumPy array (nullspace method and
        Schur results that fit), a SciPy sparse CSC matrix (orbit method), or a SciPy
        ``LinearOperator`` (a Schur-lemma basis too large to hold densely; ``basis @ v``
        works, :attr:`factors` holds the structure). :meth:`dense` materialises any of
        them (refusing above a size).
    exact
        Whether the basis was computed in exact rational arithmetic.
    tolerance
        Singular-value threshold used by the float method (``0.0`` when exact).
    residual
        :math:`\max |C\,\mathrm{basis}|` over the stacked constraints ``C`` (float64;
        exactly ``0.0`` when the exact basis was verified exactly); for a structured
        Schur basis a bound on it (see :func:`~metasym.representations.schur.schur_basis`).
    method
        How the basis was found, in words.
    shape
        ``(m, n)``.
    rational
        The exact basis as a sympy ``Matrix`` (``m*n x k``) in exact mode, else ``None``.
    factors
        The Schur-lemma structure (:class:`~metasym.representations.schur.SchurFactors`)
        when the basis came from the decomposition, else ``None``.
    """

    basis: Any
    exact: bool
    tolerance: float
    residual: float
    method: str
    shape: tuple[int, int]
    rational: Any = field(default=None, repr=False)
    factors: Any = field(default=None, repr=False)

    @property
    def dimension(self) -> int:
        """Number of basis elements ``k``."""
        return int(self.basis.shape[1])

    @property
    def is_sparse(self) -> bool:
        """Whether :attr:`basis` is a SciPy sparse matrix."""
        return hasattr(self.basis, "tocsc")

    def dense(self, *, limit: int = 50_000_000) -> np.ndarray:
        """The ``(m*n, k)`` basis as a float64 array; refuses
        (:class:`~metasym.errors.TooLargeError`) above ``limit`` entries."""
        N, k = self.basis.shape
        if isinstance(self.basis, np.ndarray):
            return self.basis
        if N * k > limit:
            raise TooLargeError(f"a dense {N} x {k} basis has {N * k} entries, above "
                                f"{limit}; use basis @ v or weight(v)")
        if self.is_sparse:
            return self.basis.toarray()
        return np.asarray(self.basis @ np.eye(k))

    def weight(self, v: np.ndarray) -> np.ndarray:
        """``W = (basis @ v).reshape(m, n)``; ``v`` may have leading batch dimensions."""
        v = np.asarray(v, dtype=np.float64)
        if v.shape[-1] != self.dimension:
            raise MismatchError(f"expected {self.dimension} coefficients, got {v.shape[-1]}")
        if self.factors is not None and not isinstance(self.basis, np.ndarray):
            flat = v.reshape(-1, self.dimension)
            out = np.stack([self.factors.weight(x) for x in flat]) if flat.size else \
                np.zeros((0,) + self.shape)
            return out.reshape(v.shape[:-1] + self.shape)
        if isinstance(self.basis, np.ndarray):
            return (v @ self.basis.T).reshape(v.shape[:-1] + self.shape)
        flat = v.reshape(-1, self.dimension)
        out = np.asarray(self.basis @ flat.T).T
        return out.reshape(v.shape[:-1] + self.shape)


def _constraint_float(rin: LinearRepresentation, rout: LinearRepresentation) -> np.ndarray:
    m, n = rout.degree, rin.degree
    In, Im = np.eye(n), np.eye(m)
    blocks = [np.kron(B, In) - np.kron(Im, A.T)
              for A, B in zip(rin.generator_matrices(), rout.generator_matrices())]
    return np.vstack(blocks) if blocks else np.zeros((0, m * n))


def _constraint_exact(ain: tuple[np.ndarray, ...], aout: tuple[np.ndarray, ...], m: int,
                      n: int) -> dict[int, dict[int, Fraction]]:
    """Stacked rational constraints as a dict of rows (sparse)."""
    rows: dict[int, dict[int, Fraction]] = {}
    r0 = 0
    for A, B in zip(ain, aout):
        # row (y, x) of rho_out ⊗ I_n - I_m ⊗ rho_in^T:
        #   + B[y, y'] at column (y', x);  - A[x', x] at column (y, x')
        nzB = [(i, j, B[i, j]) for i, j in zip(*np.nonzero(B != 0))]
        nzA = [(i, j, A[i, j]) for i, j in zip(*np.nonzero(A != 0))]
        acc: dict[tuple[int, int], Any] = {}
        for y, yp, b in nzB:
            for x in range(n):
                key = (y * n + x, yp * n + x)
                acc[key] = acc.get(key, 0) + b
        for xp, x, a in nzA:
            for y in range(m):
                key = (y * n + x, y * n + xp)
                acc[key] = acc.get(key, 0) - a
        for (r, c), v in acc.items():
            if v != 0:
                rows.setdefault(r0 + r, {})[c] = v
        r0 += m * n
    return rows


def nullspace_basis(rep_in: Any, rep_out: Any, *, exact: bool | None = None,
                    atol: float | None = None) -> EquivariantBasis:
    r"""A basis of the equivariant linear maps :math:`W: X \to Y`,
    :math:`\rho_Y(g) W = W \rho_X(g)` for all :math:`g`, as the nullspace of the stacked
    generator constraints: the small-case method and the independent oracle of
    :func:`metasym.representations.schur.equivariant_basis` (which calls this for small
    inputs).

    It suffices to impose the constraint on generators. With row-major vec
    (:math:`\mathrm{vec}(AWB) = (A \otimes B^\top)\mathrm{vec}(W)`) each generator ``s``
    contributes the block

    .. math:: C_s = \rho_Y(s) \otimes I_n - I_m \otimes \rho_X(s)^\top,

    and the basis spans the nullspace of the stacked :math:`C = [C_{s_1}; C_{s_2}; \dots]`.

    * **exact**: sparse rational row reduction (sympy ``DomainMatrix`` over QQ); the
      basis is the canonical reduced-echelon nullspace basis. Used when ``exact=True``,
      or when ``exact=None``, ``m*n <= 400`` (:data:`EXACT_AUTO_LIMIT`) and both
      representations are rational (exact mode, integral matrices, permutations).
    * **float**: SVD of ``C``; singular values :math:`\le \mathrm{tol}` count as zero with
      :math:`\mathrm{tol} = \max(mn, \text{rows}) \cdot \varepsilon \cdot
      \max(\sigma_{\max}, s)` (NumPy's ``matrix_rank`` rule, with ``s`` the largest
      matrix entry, at least 1, so that a numerically zero ``C`` has full nullity) unless
      ``atol`` is given. The basis is orthonormal.
      Refuses (``TooLargeError``) above :data:`FLOAT_NULLSPACE_LIMIT` unknowns
      ``m*n`` (or ``FLOAT_CONSTRAINT_CELLS`` entries of ``C``): for permutation representations use
      :func:`~metasym.representations.sharing_pattern`, which needs no linear algebra.

    Parameters
    ----------
    rep_in, rep_out
        :class:`LinearRepresentation`, :class:`PermutationRepresentation` or
        :class:`~metasym.groups.GroupAction` of the same group.
    exact
        Force (``True``) or forbid (``False``) the exact method; ``None`` decides by size.
    atol
        Singular-value threshold for the float method (default: the rule above).

    Returns
    -------
    EquivariantBasis

    Examples
    --------
    >>> from metasym.groups import symmetric, natural
    >>> B = nullspace_basis(natural(symmetric(3)), natural(symmetric(3)))
    >>> B.dimension, B.exact, B.residual
    (2, True, 0.0)
    >>> nullspace_basis(natural(symmetric(3)), natural(symmetric(3)), exact=False).dimension
    2
    """
    rin, rout = as_linear(rep_in), as_linear(rep_out)
    if rin.group != rout.group:
        raise MismatchError(f"input and output represent different groups: {rin.group.spec} "
                            f"and {rout.group.spec}")
    m, n = rout.degree, rin.degree
    N = m * n
    k = rin.group.n_generators
    if exact is False or N > EXACT_LIMIT:
        ain = aout = None
    else:
        ain, aout = rin._rational_objects(), rout._rational_objects()
    rational = ain is not None and aout is not None
    if exact and N > EXACT_LIMIT:
        raise TooLargeError(f"an exact nullspace of {m} x {n} = {N} unknowns exceeds the "
                            f"limit {EXACT_LIMIT}; use exact=False")
    if exact is None:
        exact = rational and N <= EXACT_AUTO_LIMIT
    if exact:
        if not rational:
            raise SpecError("exact=True needs rational representations (build them with "
                            "LinearRepresentation(..., exact=True)); these have non-integral "
                            "float matrices")
        if N > EXACT_LIMIT:
            raise TooLargeError(f"an exact nullspace of {m} x {n} = {N} unknowns exceeds the "
                                f"limit {EXACT_LIMIT}; use exact=False")
        return _exact_basis(ain, aout, m, n, k)
    rows = k * N
    if N > FLOAT_NULLSPACE_LIMIT or rows * N > FLOAT_CONSTRAINT_CELLS:
        raise TooLargeError(
            f"a float nullspace of {m} x {n} = {N} unknowns with {rows} constraint rows "
            f"exceeds the limits ({FLOAT_NULLSPACE_LIMIT} unknowns, {FLOAT_CONSTRAINT_CELLS} "
            "entries); use equivariant_basis() (orbit and Schur-lemma methods) or, for "
            "permutation representations, sharing_pattern()")
    C = _constraint_float(rin, rout)
    if rows == 0:
        basis = np.eye(N)
        return EquivariantBasis(basis, False, 0.0, 0.0, "no generators: every W", (m, n))
    _, s, Vh = np.linalg.svd(C, full_matrices=False)  # rows >= N: Vh is N x N
    smax = float(s[0]) if s.size else 0.0
    # relative to the matrices' scale too: when C is (numerically) zero, sigma_max is
    # rounding noise and must not set the threshold
    scale = max(1.0, float(np.abs(rin.generator_matrices()).max(initial=0.0)),
                float(np.abs(rout.generator_matrices()).max(initial=0.0)))
    tol = (float(atol) if atol is not None
           else max(N, rows) * np.finfo(np.float64).eps * max(smax, scale))
    rank = int((s > tol).sum())
    basis = np.ascontiguousarray(Vh[rank:].T)
    residual = float(np.abs(C @ basis).max(initial=0.0))
    return EquivariantBasis(basis, False, tol, residual,
                            f"float64 SVD nullspace (rank {rank} of {N}, tol {tol:.3g})", (m, n))


def _exact_basis(ain, aout, m: int, n: int, k: int) -> EquivariantBasis:
    from sympy import QQ
    from sympy.polys.matrices import DomainMatrix

    N = m * n
    if k == 0:
        eye = sympy.eye(N)
        return EquivariantBasis(np.eye(N), True, 0.0, 0.0, "no generators: every W", (m, n),
                                eye)
    rows = _constraint_exact(ain, aout, m, n)
    dod = {r: {c: QQ(v.numerator, v.denominator) if isinstance(v, Fraction) else QQ(int(v))
               for c, v in cols.items()} for r, cols in rows.items()}
    C = DomainMatrix.from_dod(dod, (k * N, N), QQ)
    null = C.nullspace()  # rows are basis vectors (reduced-echelon normalisation)
    kdim = null.shape[0]
    if kdim:
        residual = 0.0 if (C * null.transpose()).is_zero_matrix else float("inf")
        ns = null.to_Matrix().T
        basis = np.array(ns.tolist(), dtype=np.float64).reshape(N, kdim)
    else:
        residual = 0.0
        ns = sympy.zeros(N, 0)
        basis = np.zeros((N, 0))
    if residual != 0.0:  # pragma: no cover - exact arithmetic
        raise ArithmeticError("exact nullspace failed its exact verification")
    return EquivariantBasis(basis, True, 0.0, residual,
                            f"exact rational nullspace (sympy DomainMatrix over QQ, {N} "
                            "unknowns)", (m, n), ns)


# ----- spec strings --------------------------------------------------------------------------
def _split_top(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside every ``()`` and ``[]``."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unbalanced brackets in {text!r}")
        elif ch == sep and depth == 0:
            out.append(text[start:i])
            start = i + 1
    if depth:
        raise SpecError(f"unbalanced brackets in {text!r}")
    out.append(text[start:])
    return out


def _parse_matrix(text: str, d: int) -> list[list[str]]:
    t = text.strip()
    if not (t.startswith("[") and t.endswith("]")):
        raise SpecError(f"bad matrix {text!r}: expected [[a,b],[c,d]]")
    rows = []
    for r in _split_top(t[1:-1], ","):
        r = r.strip()
        if not (r.startswith("[") and r.endswith("]")):
            raise SpecError(f"bad matrix row {r!r}: expected [a,b,...]")
        rows.append([x.strip() for x in r[1:-1].split(",")])
    if len(rows) != d or any(len(r) != d for r in rows):
        raise SpecError(f"matrix {text!r} is not {d} x {d}")
    return rows


def parse_linear(spec: str) -> LinearRepresentation:
    """Build a :class:`LinearRepresentation` from its spec ``"<group spec> @ <expression>"``
    (see :attr:`LinearRepresentation.spec`). Matrices given by ``mat``/``float`` are
    validated as a homomorphism.

    Examples
    --------
    >>> rho = parse_linear("cyclic:4 @ mat(2; [[0,-1],[1,0]])")
    >>> rho.degree, rho.exact
    (2, True)
    >>> sigma = parse_linear("cyclic:4 @ sum(dual(mat(2; [[0,-1],[1,0]])), perm(natural))")
    >>> sigma.degree, sigma.structure[0], parse_linear(sigma.spec) == sigma
    (6, 'sum', True)
    """
    from metasym.groups import parse_action, parse_group

    if not isinstance(spec, str):
        raise SpecError(f"representation spec must be a string, got {type(spec).__name__}")
    head, sep, expr = spec.partition("@")
    if not sep:
        raise SpecError(f"bad linear representation spec {spec!r}: expected "
                        "'<group> @ <expression>', e.g. 'cyclic:4 @ mat(2; [[0,-1],[1,0]])'")
    G = parse_group(head.strip())

    def build(e: str) -> LinearRepresentation:
        e = e.strip()
        name, paren, rest = e.partition("(")
        name = name.strip().lower()
        if not paren or not rest.endswith(")"):
            raise SpecError(f"bad expression {e!r} in {spec!r}: expected name(...)")
        inner = rest[:-1]
        _split_top(inner, ",")  # balanced brackets
        if name == "perm":
            return LinearRepresentation.from_permutation(parse_action(inner, G))
        if name in ("sum", "tensor"):
            parts = [build(x) for x in _split_top(inner, ",")]
            return parts[0].direct_sum(*parts[1:]) if name == "sum" else parts[0].tensor(*parts[1:])
        if name == "dual":
            return build(inner).dual()
        if name == "restrict":
            return parse_linear(inner).restrict(G)
        if name == "induce":
            return parse_linear(inner).induce(G)
        if name in ("mat", "float"):
            items = _split_top(inner, ";")
            try:
                d = int(items[0])
            except ValueError:
                raise SpecError(f"bad degree {items[0]!r} in {e!r}") from None
            mats = [_parse_matrix(m, d) for m in items[1:] if m.strip()]
            if name == "float":
                try:
                    arrs = [np.array([[float(x) for x in row] for row in M]) for M in mats]
                except ValueError:
                    raise SpecError(f"bad number in {e!r}") from None
                return LinearRepresentation(G, arrs, degree=d)
            return LinearRepresentation(G, mats, exact=True, degree=d)
        raise SpecError(f"unknown expression {name!r} in {spec!r}; known: mat, float, perm, "
                        "sum, tensor, dual, restrict, induce")

    return build(expr)
