"""Finite groups (on :mod:`sympy.combinatorics`) and their actions on finite sets.

Never imports torch.
"""

from metasym.groups._perm import format_cycles, permutation_orders
from metasym.groups.actions import (
    GroupAction,
    canonical_labels,
    direct_sum,
    natural,
    regular,
    restrict,
    tensor,
    trivial,
)
from metasym.groups.constructors import (
    abelian,
    alternating,
    axisflips,
    cyclic,
    dihedral,
    direct_product,
    flips,
    from_generators,
    klein_four,
    quaternion,
    rotations,
    rotoflips,
    symmetric,
    translations,
    vflips,
)
from metasym.groups.finite_group import (
    CONJUGACY_LIMIT,
    DEGREE_LIMIT,
    ELEMENT_LIMIT,
    FiniteGroup,
    format_order,
)
from metasym.groups.spec import MAX_SPEC_DEPTH, parse_action, parse_group

__all__ = [
    "CONJUGACY_LIMIT",
    "DEGREE_LIMIT",
    "ELEMENT_LIMIT",
    "MAX_SPEC_DEPTH",
    "FiniteGroup",
    "format_cycles",
    "format_order",
    "permutation_orders",
    "GroupAction",
    "abelian",
    "alternating",
    "canonical_labels",
    "cyclic",
    "dihedral",
    "direct_product",
    "direct_sum",
    "flips",
    "vflips",
    "axisflips",
    "from_generators",
    "klein_four",
    "natural",
    "parse_action",
    "parse_group",
    "quaternion",
    "regular",
    "restrict",
    "rotations",
    "rotoflips",
    "symmetric",
    "tensor",
    "translations",
    "trivial",
]
