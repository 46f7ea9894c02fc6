"""``python -m metasym`` (and ``torchrun -m metasym``): the ``metasym`` command."""

import sys

from metasym.cli import main

sys.exit(main())
