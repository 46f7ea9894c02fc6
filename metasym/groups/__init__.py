"""Finite groups (on :mod:`sympy.combinatorics`) and their actions on finite sets.

Never imports torch.
"""

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
    cyclic,
    dihedral,
    direct_product,
    from_generators,
    klein_four,
    quaternion,
    rotations,
    rotoflips,
    symmetric,
    translations,
)
from metasym.groups.finite_group import CONJUGACY_LIMIT, ELEMENT_LIMIT, FiniteGroup
from metasym.groups.spec import parse_action, parse_group

__all__ = [
    "CONJUGACY_LIMIT",
    "ELEMENT_LIMIT",
    "FiniteGroup",
    "GroupAction",
    "abelian",
    "alternating",
    "canonical_labels",
    "cyclic",
    "dihedral",
    "direct_product",
    "direct_sum",
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
