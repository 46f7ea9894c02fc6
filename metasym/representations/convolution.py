r"""The paper's group-convolution sharing matrix :math:`U^G` (MSR's representability
proposition).

For a finite group :math:`G = \{g_1, \dots, g_{|G|}\}` acting on ``X`` (``|X| = n``),

.. math:: U^G = \begin{bmatrix} \pi(g_1) \\ \vdots \\ \pi(g_{|G|}) \end{bmatrix}
          \in \mathbb{Z}^{|G| n \times n},

so that :math:`W = \mathrm{reshape}(U^G v, (|G|, n))` has row ``j`` equal to
:math:`\pi(g_j) v`, i.e. :math:`W_{j,x} = v_{g_j^{-1}\cdot x}`: a lifting group
convolution :math:`X \to G`, equivariant from the action on ``X`` to the regular action.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from metasym.errors import TooLargeError
from metasym.groups import GroupAction
from metasym.representations.sharing import DENSE_BASIS_LIMIT, as_permutation_action

__all__ = ["group_convolution_basis"]


def group_convolution_basis(action: Any, *, sparse: bool = False,
                            dtype: Any = np.int64) -> np.ndarray | sp.csr_matrix:
    r"""The stacked permutation matrices :math:`U^G = [\pi(g_1); \dots; \pi(g_{|G|})]`.

    **Element order.** Block ``j`` is the element ``group.element_arrays[j]``: identity
    first, then breadth-first order of the Cayley graph under left multiplication by the
    generators, the same indexing as :func:`metasym.groups.regular`. So block 0 is the
    identity matrix and :math:`\mathrm{rank}\, U^G = n`.

    **Layout.** Row-major vec of an ``|G| x n`` weight: entry ``(j*n + y, x)`` is
    :math:`\pi(g_j)_{y,x} = [\,y = g_j\cdot x\,]`. With ``W = (U @ v).reshape(|G|, n)``,
    :math:`W_{j,x} = v_{g_j^{-1}\cdot x}` and :math:`W` is equivariant from ``action`` to
    ``regular(group)``: :math:`\rho_{reg}(h) W = W \pi(h)`.

    Enumerates the group (refuses above the limits of
    :meth:`metasym.groups.FiniteGroup.check_enumerable`).

    Parameters
    ----------
    action
        A :class:`~metasym.groups.GroupAction` (or permutation representation) on ``X``.
    sparse
        Return a ``scipy.sparse.csr_matrix`` (one entry per row of each block).
    dtype
        Entry type (int64 by default).

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix
        Shape ``(|G| * n, n)``, entries 0/1.

    Examples
    --------
    >>> from metasym.groups import cyclic, natural
    >>> U = group_convolution_basis(natural(cyclic(3)))
    >>> U.shape
    (9, 3)
    >>> (U @ [1, 2, 3]).reshape(3, 3).tolist()   # rows: v, then shifted copies
    [[1, 2, 3], [3, 1, 2], [2, 3, 1]]
    """
    act: GroupAction = as_permutation_action(action)
    images = act.element_images()  # (|G|, n): pi(g_j)(x), element_arrays order
    order, n = images.shape
    rows = (np.arange(order)[:, None] * n + images).ravel()  # j*n + g_j(x)
    cols = np.tile(np.arange(n), order)
    if sparse:
        return sp.csr_matrix((np.ones(rows.size, dtype=dtype), (rows, cols)),
                             shape=(order * n, n))
    if order * n * n > DENSE_BASIS_LIMIT:
        raise TooLargeError(f"a dense U^G would have {order * n} x {n} entries (limit "
                            f"{DENSE_BASIS_LIMIT}); use sparse=True")
    U = np.zeros((order * n, n), dtype=dtype)
    U[rows, cols] = 1
    return U
