"""``python -m metasym.cli``: the ``metasym`` command."""

import sys

from metasym.cli import main

sys.exit(main())
