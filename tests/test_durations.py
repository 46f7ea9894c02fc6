"""One source for durations: ``--help`` and the docs quote :data:`metasym.durations.DURATIONS`.

The docs check finds, in every paragraph of the README and ``docs/*.md`` (and every line
of their code blocks), each place that names a timed command (``Duration.mentions``) and
reads the first duration written after it, up to the next such place: it must be the
figure of :mod:`metasym.durations` (``text``, or an exact measurement in ``measured``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metasym.cli import build_parser
from metasym.durations import DURATIONS, duration

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

#: a written duration: "about 10 s", "~15 s", "1.5 minutes", "38-44 s", "3 min 9 s"
DURATION = re.compile(r"(?:about |~)?\d+(?:\.\d+)?(?:\s?[-–]\s?\d+(?:\.\d+)?)?\s?"
                      r"(?:s|min|minutes)\b(?: \d+ s\b)?")


def canonical(text: str) -> str:
    return (text.replace("~", "about ").replace("–", "-").replace("minutes", "min")
            .replace("about  ", "about "))


def paragraphs(text: str) -> list[tuple[int, str]]:
    """(first line number, text) of each paragraph; code-block lines one by one."""
    out, current, start, fenced = [], [], 0, False
    for i, line in enumerate(text.splitlines(), start=1):
        if line.strip().startswith("```"):
            fenced = not fenced
            if current:
                out.append((start, " ".join(current)))
            current = []
            continue
        if fenced:
            out.append((i, line))
        elif line.strip():
            if not current:
                start = i
            current.append(line.strip())
        elif current:
            out.append((start, " ".join(current)))
            current = []
    if current:
        out.append((start, " ".join(current)))
    return out


def quoted_durations(text: str) -> list[tuple[str, int, str]]:
    """(duration name, line, the duration quoted for it) for every mention in ``text``."""
    found = []
    for line, para in paragraphs(text):
        spots = sorted((m.start(), m.end(), name) for name, d in DURATIONS.items()
                       for m in re.finditer(d.mentions, para))
        for i, (_, end, name) in enumerate(spots):
            stop = spots[i + 1][0] if i + 1 < len(spots) else len(para)
            m = DURATION.search(para, end, stop)
            if m:
                found.append((name, line, canonical(m.group())))
    return found


def test_every_duration_is_sane():
    for name, d in DURATIONS.items():
        assert DURATION.fullmatch(d.text), (name, d.text)
        assert all(DURATION.fullmatch(x) for x in d.measured), (name, d.measured)
        assert re.compile(d.mentions)


@pytest.mark.parametrize("path", DOCS, ids=[p.name for p in DOCS])
def test_docs_quote_the_one_source(path):
    wrong = []
    for name, line, text in quoted_durations(path.read_text(encoding="utf-8")):
        d = DURATIONS[name]
        if text not in {canonical(d.text), *map(canonical, d.measured)}:
            wrong.append(f"{path.name}:{line}: {name} quoted as {text!r}; "
                         f"metasym/durations.py says {d.text!r}")
    assert not wrong, "\n".join(wrong)


def test_the_checker_finds_a_drifted_figure():
    found = quoted_durations("Run `metasym demo` (about 15 s on 2 cores), then "
                             "`metasym reproduce table1` (~1.5 min).\n")
    assert found == [("demo", 1, "about 15 s"), ("table1", 1, "about 1.5 min")]
    assert "about 15 s" != duration("demo")


def test_the_main_places_quote_each_figure():
    """The figures are quoted where a reader looks first (a removed quote fails too)."""
    quotes = {(name, p.name) for p in DOCS
              for name, _, _ in quoted_durations(p.read_text(encoding="utf-8"))}
    for name, where in [("demo", "README.md"), ("demo", "learning.md"),
                        ("table1", "learning.md"), ("table2", "images.md"),
                        ("table3", "README.md"), ("table3", "fewshot.md"),
                        ("reference-rank1-run", "README.md"),
                        ("reference-rank1-run", "engine.md")]:
        assert (name, where) in quotes, (name, where)


def _help_texts() -> dict[str, str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    texts = {"metasym": parser.format_help()}
    texts.update({name: p.format_help() for name, p in sub.choices.items()})
    return texts


def test_help_quotes_the_one_source():
    helps = _help_texts()
    assert f"({duration('demo')})" in helps["metasym"]
    flat = " ".join(helps["reproduce"].split())
    for table in ("table1", "table2", "table3"):
        assert duration(table) in flat, table
    # no other duration anywhere in --help
    allowed = {canonical(d.text) for d in DURATIONS.values()}
    for name, text in helps.items():
        for m in DURATION.finditer(" ".join(text.split())):
            assert canonical(m.group()) in allowed, (name, m.group())


def test_reproduce_help_names_every_table3_model_and_folder():
    from metasym.learning.experiments.table1 import TABLE1_MODELS
    from metasym.learning.experiments.table2 import TABLE2_MODELS
    from metasym.learning.experiments.table3 import TABLE3_MODELS

    flat = " ".join(_help_texts()["reproduce"].split())
    for model in (*TABLE1_MODELS, *TABLE2_MODELS, *TABLE3_MODELS):
        assert model in flat, model
    for folder in ("runs/table1", "runs/table2", "runs/table3"):
        assert folder in flat, folder
    m = re.search(r"table3: (.*?)\)", flat)
    assert m and "msr-square" in m.group(1), flat
