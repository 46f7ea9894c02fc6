r"""Real linear representations given by generator matrices, and equivariant bases.

A :class:`LinearRepresentation` is :math:`\rho: G \to GL_d(\mathbb{R})` given by the
matrices of ``G``'s generators and checked to be a homomorphism. :func:`equivariant_basis`
solves :math:`\rho_Y(s) W = W \rho_X(s)` for all generators ``s`` (which is equivalent to
all elements) as a nullspace: exact over the rationals when small, by SVD otherwise.
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
from metasym.groups.finite_group import ELEMENT_LIMIT
from metasym.representations.permutation import PermutationRepresentation

__all__ = [
    "LinearRepresentation",
    "EquivariantBasis",
    "equivariant_basis",
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

    Attributes
    ----------
    atol : float
        The tolerance used (``0.0`` for an exact check).
    validation : str
        ``"exact"``, ``"float64"`` or ``"skipped"``.
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

    __slots__ = ("_group", "_float", "_exact", "_name", "atol", "validation",
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
        return int(self._float.shape[1])

    @property
    def exact(self) -> bool:
        """Whether exact rational matrices are kept."""
        return self._exact is not None

    @cached_property
    def _key(self) -> tuple:
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

    def character(self) -> np.ndarray:
        r""":math:`\mathrm{tr}\,\rho(g)` for every element, float64, in the order of
        ``group.element_arrays``."""
        return np.trace(self._element_matrices, axis1=1, axis2=2)

    # ----- algebra -----------------------------------------------------------------------
    def __add__(self, other: LinearRepresentation) -> LinearRepresentation:
        """Direct sum (block diagonal, this summand first)."""
        other = _as_linear(other)
        _same_group(self, other)
        if self.exact and other.exact:
            mats = [_block_diag_obj(a, b) for a, b in zip(self._exact, other._exact)]
        else:
            mats = [np.block([[a, np.zeros((a.shape[0], b.shape[1]))],
                              [np.zeros((b.shape[0], a.shape[1])), b]])
                    for a, b in zip(self._float, other._float)]
        return LinearRepresentation(self._group, mats, exact=self.exact and other.exact,
                                    atol=max(self.atol, other.atol), validate=False,
                                    degree=self.degree + other.degree)

    def __mul__(self, other: LinearRepresentation) -> LinearRepresentation:
        """Tensor (Kronecker) product; basis vector ``(a, b)`` at ``a*d_2 + b``."""
        other = _as_linear(other)
        _same_group(self, other)
        if self.exact and other.exact:
            mats = [np.kron(a, b) for a, b in zip(self._exact, other._exact)]
        else:
            mats = [np.kron(a, b) for a, b in zip(self._float, other._float)]
        return LinearRepresentation(self._group, mats, exact=self.exact and other.exact,
                                    validate=False, degree=self.degree * other.degree)

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


def _as_linear(rep: Any) -> LinearRepresentation:
    if isinstance(rep, LinearRepresentation):
        return rep
    if isinstance(rep, GroupAction):
        rep = PermutationRepresentation(rep)
    if isinstance(rep, PermutationRepresentation):
        return rep.to_linear()  # integral matrices: still solved exactly when small
    raise MismatchError("expected a LinearRepresentation, PermutationRepresentation or "
                        f"GroupAction, got {type(rep).__name__}")


# ----- equivariant bases ------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class EquivariantBasis:
    r"""A basis of :math:`\{W \in \mathbb{R}^{m \times n} : \rho_Y(s) W = W \rho_X(s)\ \forall s\}`.

    Attributes
    ----------
    basis
        ``(m*n, k)`` float64 array; column ``c`` is :math:`\mathrm{vec}(W_c)`, row-major
        (``W = (basis @ v).reshape(m, n)``).
    exact
        Whether the nullspace was computed in exact rational arithmetic.
    tolerance
        Singular-value threshold used by the float method (``0.0`` when exact).
    residual
        :math:`\max |C\,\mathrm{basis}|` over the stacked constraints ``C`` (float64;
        exactly ``0.0`` when the exact basis was verified exactly).
    method
        How the basis was found, in words.
    shape
        ``(m, n)``.
    rational
        The exact basis as a sympy ``Matrix`` (``m*n x k``) in exact mode, else ``None``.
    """

    basis: np.ndarray
    exact: bool
    tolerance: float
    residual: float
    method: str
    shape: tuple[int, int]
    rational: Any = field(default=None, repr=False)

    @property
    def dimension(self) -> int:
        """Number of basis elements ``k``."""
        return int(self.basis.shape[1])

    def weight(self, v: np.ndarray) -> np.ndarray:
        """``W = (basis @ v).reshape(m, n)``; ``v`` may have leading batch dimensions."""
        v = np.asarray(v, dtype=np.float64)
        if v.shape[-1] != self.dimension:
            raise MismatchError(f"expected {self.dimension} coefficients, got {v.shape[-1]}")
        return (v @ self.basis.T).reshape(v.shape[:-1] + self.shape)


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


def equivariant_basis(rep_in: Any, rep_out: Any, *, exact: bool | None = None,
                      atol: float | None = None) -> EquivariantBasis:
    r"""A basis of the equivariant linear maps :math:`W: X \to Y`,
    :math:`\rho_Y(g) W = W \rho_X(g)` for all :math:`g`.

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
      :math:`\mathrm{tol} = \max(mn, \text{rows}) \cdot \varepsilon \cdot \sigma_{\max}`
      (NumPy's ``matrix_rank`` rule) unless ``atol`` is given. The basis is orthonormal.
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
    >>> B = equivariant_basis(natural(symmetric(3)), natural(symmetric(3)))
    >>> B.dimension, B.exact, B.residual
    (2, True, 0.0)
    >>> equivariant_basis(natural(symmetric(3)), natural(symmetric(3)), exact=False).dimension
    2
    """
    rin, rout = _as_linear(rep_in), _as_linear(rep_out)
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
            "entries); for permutation representations use sharing_pattern(), which needs "
            "no linear algebra")
    C = _constraint_float(rin, rout)
    if rows == 0:
        basis = np.eye(N)
        return EquivariantBasis(basis, False, 0.0, 0.0, "no generators: every W", (m, n))
    _, s, Vh = np.linalg.svd(C, full_matrices=False)  # rows >= N: Vh is N x N
    smax = float(s[0]) if s.size else 0.0
    tol = float(atol) if atol is not None else max(N, rows) * np.finfo(np.float64).eps * smax
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
