"""metasym: meta-learning symmetries by reparameterization, group theory first.

Layers (data flows one way): :mod:`metasym.groups` -> :mod:`metasym.representations`
-> :mod:`metasym.learning`, with the ``metasym`` command on top.
"""

from metasym.errors import (
    MetasymError,
    MismatchError,
    NotAHomomorphismError,
    SpecError,
    TooLargeError,
)

__version__ = "0.1.0"

__all__ = [
    "MetasymError",
    "MismatchError",
    "NotAHomomorphismError",
    "SpecError",
    "TooLargeError",
    "__version__",
]
