"""Discover the symmetry a (learned) sharing pattern actually has.

From a learned ``U`` (or a family of adapted weights) to a sharing pattern
(:mod:`~metasym.discovery.clustering`), from the pattern to its automorphism group
(:mod:`~metasym.discovery.automorphisms`), a name for that group with a verified
isomorphism (:mod:`~metasym.discovery.identify`), and partial symmetries of patterns no
global group preserves (:mod:`~metasym.discovery.partial`). Never imports torch (reading
a run folder may, lazily).
"""

from metasym.discovery.automorphisms import (
    DiscoveredSymmetry,
    automorphism_group,
    compare_groups,
    pattern_graph,
    reference_image,
    verify_with_sympy,
)

__all__ = [
    "DiscoveredSymmetry",
    "automorphism_group",
    "compare_groups",
    "pattern_graph",
    "reference_image",
    "verify_with_sympy",
]
