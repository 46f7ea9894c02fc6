"""Shared pytest configuration: hypothesis profiles.

``ci`` (the default) is small, deterministic and deadline-free so the suite is fast and
reproducible; ``dev`` explores more. Choose with ``HYPOTHESIS_PROFILE=dev``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev", max_examples=200, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    """The issue-17 fuzz counts (tries, good, data loss, silent wrong, tracebacks,
    blow-ups per class) at the end of any run that included tests/test_fuzz_issue17.py."""
    import sys

    mod = sys.modules.get("test_fuzz_issue17")
    lines = mod.summary_lines() if mod is not None else []
    for line in lines:
        terminalreporter.write_line(line)
