r"""Permutation representations: a group action seen as a representation by 0/1 matrices.

The matrix of ``g`` is :math:`\rho(g) e_x = e_{g\cdot x}`, i.e. ``M[g(x), x] = 1``, so
:math:`\rho(gh) = \rho(g)\rho(h)` in the product convention of
:class:`~metasym.groups.FiniteGroup` (apply ``h`` first).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from sympy.combinatorics import Permutation

from metasym.errors import MismatchError, SpecError
from metasym.groups import (
    FiniteGroup,
    GroupAction,
    direct_sum,
    parse_action,
    parse_group,
    tensor,
)

__all__ = ["PermutationRepresentation", "parse_representation"]

MatrixFormat = Literal["dense", "sparse", "torch"]


class PermutationRepresentation:
    r"""The permutation representation :math:`\rho: G \to GL(\mathbb{R}^X)` of a group
    action on :math:`X = \{0, \dots, n-1\}`.

    An immutable, hashable value object (equality is that of the underlying
    :class:`~metasym.groups.GroupAction`). Its spec ``"<group spec> @ <action spec>"``
    round-trips through :func:`parse_representation`. Matrices are
    :math:`\rho(g)_{g(x), x} = 1`, so :math:`\rho(gh) = \rho(g)\rho(h)`.

    Parameters
    ----------
    action
        The group action (a :class:`~metasym.groups.GroupAction`).

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> rho = PermutationRepresentation(natural(cyclic(3)))
    >>> rho
    PermutationRepresentation('cyclic:3 @ natural', degree=3)
    >>> rho.generator_matrices()[0].tolist()
    [[0, 0, 1], [1, 0, 0], [0, 1, 0]]
    >>> rho.character().tolist()
    [3, 0, 0]
    >>> (rho + rho).degree, (rho * rho).degree
    (6, 9)
    >>> parse_representation(rho.spec) == rho
    True
    """

    __slots__ = ("_action",)

    def __init__(self, action: GroupAction) -> None:
        if isinstance(action, PermutationRepresentation):
            action = action.action
        if not isinstance(action, GroupAction):
            raise TypeError(f"action must be a GroupAction, got {type(action).__name__}")
        self._action = action

    # ----- value object ----------------------------------------------------------------
    @property
    def action(self) -> GroupAction:
        """The underlying group action."""
        return self._action

    @property
    def group(self) -> FiniteGroup:
        """The represented group."""
        return self._action.group

    @property
    def degree(self) -> int:
        """Dimension :math:`n = |X|` of the representation space."""
        return self._action.degree

    @property
    def spec(self) -> str:
        """``"<group spec> @ <action spec>"``; ``parse_representation(r.spec) == r``."""
        return f"{self.group.spec} @ {self._action.spec}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PermutationRepresentation) and self._action == other._action

    def __hash__(self) -> int:
        return hash(("PermutationRepresentation", self._action))

    def __repr__(self) -> str:
        return f"PermutationRepresentation({self.spec!r}, degree={self.degree})"

    def __reduce__(self):
        return (PermutationRepresentation, (self._action,))

    # ----- algebra -----------------------------------------------------------------------
    def __add__(self, other: PermutationRepresentation | GroupAction) -> PermutationRepresentation:
        """Direct sum :math:`\\rho_1 \\oplus \\rho_2` (this summand's indices first)."""
        return PermutationRepresentation(direct_sum(self._action, _action_of(other)))

    def __mul__(self, other: PermutationRepresentation | GroupAction) -> PermutationRepresentation:
        """Tensor product :math:`\\rho_1 \\otimes \\rho_2` (pair ``(a, b)`` at ``a*|B| + b``)."""
        return PermutationRepresentation(tensor(self._action, _action_of(other)))

    def tensor(self, other: PermutationRepresentation | GroupAction) -> PermutationRepresentation:
        """Tensor product, the same as ``self * other``."""
        return self * other

    # ----- matrices ----------------------------------------------------------------------
    def generator_matrices(self, format: MatrixFormat = "dense", *, dtype: Any = None):
        r"""The matrices :math:`\rho(s)` of the group's generators.

        Parameters
        ----------
        format
            ``"dense"``: int64 array ``(n_generators, n, n)``; ``"sparse"``: a list of
            ``scipy.sparse.csr_matrix``; ``"torch"``: a float32 tensor
            ``(n_generators, n, n)`` (torch is imported only here).
        dtype
            Optional element type (numpy dtype, or torch dtype for ``"torch"``).
        """
        images = self._action.generator_images
        if format == "sparse":
            return [self._format(a, format, dtype) for a in images]
        return self._stack(images, format, dtype)

    def matrix(self, g: Permutation | Sequence[int] | np.ndarray, format: MatrixFormat = "dense",
               *, dtype: Any = None):
        """The matrix :math:`\\rho(g)` of any element ``g`` (found by sifting, see
        :meth:`metasym.groups.GroupAction.image`; no enumeration)."""
        return self._format(self._action.image(g), format, dtype)

    def _stack(self, images: np.ndarray, format: str, dtype: Any):
        n = self.degree
        k = len(images)
        if format == "dense":
            out = np.zeros((k, n, n), dtype=dtype or np.int64)
            for i, a in enumerate(images):
                out[i, a, np.arange(n)] = 1
            return out
        if format == "torch":
            import torch  # lazily: the representations layer must not need torch

            out = torch.zeros((k, n, n), dtype=dtype or torch.float32)
            cols = torch.arange(n)
            for i, a in enumerate(images):
                out[i, torch.as_tensor(np.array(a, dtype=np.int64)), cols] = 1
            return out
        raise SpecError(f"unknown matrix format {format!r}: use 'dense', 'sparse' or 'torch'")

    def _format(self, image: np.ndarray, format: str, dtype: Any):
        n = self.degree
        if format == "sparse":
            return sp.csr_matrix((np.ones(n, dtype=dtype or np.int64), (image, np.arange(n))),
                                 shape=(n, n))
        return self._stack(np.asarray(image)[None, :], format, dtype)[0]

    # ----- characters --------------------------------------------------------------------
    def character(self) -> np.ndarray:
        r"""The character :math:`\chi(g) = \mathrm{tr}\,\rho(g) = |\mathrm{Fix}(g)|` of every
        element, an int64 array in the order of ``group.element_arrays``.

        Enumerates the group: raises :class:`~metasym.errors.TooLargeError` above the
        limits of :meth:`metasym.groups.FiniteGroup.check_enumerable`.
        """
        images = self._action.element_images()
        return (images == np.arange(self.degree)[None, :]).sum(axis=1).astype(np.int64)

    def class_character(self) -> np.ndarray:
        r"""The character on each conjugacy class (in the order of
        ``group.conjugacy_class_indices``), read at the first element of each class.

        :math:`\chi` is a class function, so this loses nothing; the class sizes are
        ``[len(c) for c in group.conjugacy_class_indices]``.
        """
        chi = self.character()
        return np.array([chi[c[0]] for c in self.group.conjugacy_class_indices], dtype=np.int64)

def _action_of(rep: Any) -> GroupAction:
    if isinstance(rep, PermutationRepresentation):
        return rep.action
    if isinstance(rep, GroupAction):
        return rep
    raise MismatchError(f"expected a PermutationRepresentation or GroupAction, got "
                        f"{type(rep).__name__}")


def parse_representation(spec: str) -> PermutationRepresentation:
    """Build a :class:`PermutationRepresentation` from ``"<group spec> @ <action spec>"``.

    Examples
    --------
    >>> parse_representation("dihedral:4 @ sum(natural,trivial:2)").degree
    6
    """
    if not isinstance(spec, str):
        raise SpecError(f"representation spec must be a string, got {type(spec).__name__}")
    if spec.count("@") != 1:
        raise SpecError(f"bad representation spec {spec!r}: expected '<group> @ <action>', "
                        "e.g. 'cyclic:4 @ natural'")
    group_spec, action_spec = (part.strip() for part in spec.split("@"))
    G = parse_group(group_spec)
    return PermutationRepresentation(parse_action(action_spec, G))
