"""Permutation and linear representations, exact sharing patterns and theorem checks.

Imports torch only lazily (``to_torch``).
"""

from metasym.representations.patterns import conv1d, conv2d, locally_connected1d
from metasym.representations.sharing import (
    SharingPattern,
    band_support,
    pair_orbit_labels,
    parse_support,
    sharing_pattern,
)

__all__ = [
    "SharingPattern",
    "band_support",
    "conv1d",
    "conv2d",
    "locally_connected1d",
    "pair_orbit_labels",
    "parse_support",
    "sharing_pattern",
]
