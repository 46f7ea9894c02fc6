"""How long things take: the one place the durations quoted in ``--help`` and the docs
come from.

Measured on the project's machine kind (2 CPU cores, no GPU, one torch thread unless
said). ``--help`` texts are built from :data:`DURATIONS`; the README and ``docs/*.md``
quote the same ``text`` (``tests/test_durations.py`` finds every duration written on a
line that names the command and checks it is this one, or the exact measurement kept in
``measured``). Re-measure with ``command`` and change the figure here and in the docs
together. Importing this module costs nothing (no torch, no sympy).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Duration", "DURATIONS", "duration", "seconds"]


@dataclass(frozen=True)
class Duration:
    """A quoted duration: ``text`` as the docs and ``--help`` write it, the command that
    was timed (``mentions``: a regex naming it on a docs line), and exact measurements
    that may also be quoted (``measured``)."""

    text: str
    command: str
    mentions: str
    measured: tuple[str, ...] = ()
    note: str = ""


#: Every quoted duration, by name (``duration(name)`` gives its text).
DURATIONS: dict[str, Duration] = {
    "demo": Duration(
        "about 10 s", "time metasym demo --out runs/demo", r"metasym demo|make demo",
        measured=("7.4 s", "7.9 s"),
        note="end to end (tour, 2000 outer steps with 5 inner steps, comparison, figure)"),
    "train-rank1": Duration(
        "about 4 s", "time metasym train --problem rank1 --steps 1000 --out runs/r1",
        r"train --problem rank1(?! --data)",
        measured=("3.5 s", "4.2-5.2 s"),
        note="the paper's protocol as a whole process; 3.5 s is bench/startup.py's median"),
    "table1": Duration(
        "about 1.5 min", "time metasym reproduce table1", r"reproduce table1",
        note="12 runs"),
    "table2": Duration(
        "about 2 min", "time metasym reproduce table2", r"reproduce table2",
        measured=("1 min 50 s",), note="16 runs, the reference protocol"),
    "table3": Duration(
        "about 40 min", "time metasym reproduce table3 --augment rot90,flip",
        r"reproduce table3", measured=("39 min 12 s", "70 min"),
        note="2 threads, CPU preset; the default (paper's augmentation) table took 70 min "
        "at 1 thread beside other experiments"),
    "fewshot-train": Duration(
        "about 3 min", "time metasym train --problem glyphs --model msr --ways 5 --shots 1",
        r"train --problem glyphs[^`\n]*--out runs/fs", measured=("3 min 9 s",), note="CPU preset, 2 threads"),
    "reference-rank1-run": Duration(
        "38-44 s", "the reference implementation's 1000-step rank1 MSR-FC run, whole "
        "process, one thread (shared/docs/reference-numbers.md, measured 2026-11-30)",
        r"reference implementation's(?= (whole run|\d))", note="every table-1 run of the "
        "reference: 29-51 s"),
}


def seconds(name: str) -> tuple[float, float]:
    """A duration's range in seconds (``"38-44 s"`` -> ``(38.0, 44.0)``; ``"about 1.5
    min"`` -> ``(90.0, 90.0)``)."""
    import re

    m = re.fullmatch(r"(?:about )?([0-9.]+)(?:-([0-9.]+))? (s|min)", DURATIONS[name].text)
    if m is None:
        raise ValueError(f"cannot read {DURATIONS[name].text!r} as seconds")
    unit = 60.0 if m[3] == "min" else 1.0
    lo = float(m[1]) * unit
    return lo, float(m[2]) * unit if m[2] else lo


def duration(name: str) -> str:
    """The quoted text of a duration (``duration("demo")`` -> ``"about 10 s"``)."""
    return DURATIONS[name].text
