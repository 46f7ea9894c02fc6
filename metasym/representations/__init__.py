"""Permutation and linear representations, exact sharing patterns and theorem checks.

Imports torch only lazily (``to_torch``, ``format="torch"``); hypothesis only inside
the strategies of :mod:`metasym.representations.testing`.
"""

from metasym.representations.characters import CharacterTable, ConjugacyClass, character_table
from metasym.representations.convolution import group_convolution_basis
from metasym.representations.cyclotomic import Cyclotomic
from metasym.representations.linear import (
    EquivariantBasis,
    LinearRepresentation,
    nullspace_basis,
    parse_linear,
)
from metasym.representations.patterns import conv1d, conv2d, locally_connected1d
from metasym.representations.permutation import PermutationRepresentation, parse_representation
from metasym.representations.schur import (
    RealDecomposition,
    equivariant_basis,
    isotypic_decomposition,
    orbit_basis,
    schur_basis,
)
from metasym.representations.sharing import (
    SharingPattern,
    band_support,
    pair_orbit_labels,
    parse_support,
    sharing_pattern,
)
from metasym.representations.steerable import (
    SteerableKernels,
    group_conv_pattern,
    lifting_conv_pattern,
)
from metasym.representations.symmetric_characters import structured_character_table
from metasym.representations.theorems import CheckResult, burnside_count, run_checks

__all__ = [
    "CharacterTable",
    "CheckResult",
    "ConjugacyClass",
    "Cyclotomic",
    "EquivariantBasis",
    "LinearRepresentation",
    "PermutationRepresentation",
    "RealDecomposition",
    "SharingPattern",
    "SteerableKernels",
    "band_support",
    "burnside_count",
    "character_table",
    "conv1d",
    "conv2d",
    "equivariant_basis",
    "group_conv_pattern",
    "group_convolution_basis",
    "isotypic_decomposition",
    "lifting_conv_pattern",
    "locally_connected1d",
    "nullspace_basis",
    "orbit_basis",
    "pair_orbit_labels",
    "parse_linear",
    "parse_representation",
    "parse_support",
    "run_checks",
    "schur_basis",
    "sharing_pattern",
    "structured_character_table",
]
