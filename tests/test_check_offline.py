"""docs/check_offline.py (run by `make docs-check`) on tiny hand-made sites: it must fail on a
network script or style sheet and on un-rendered or untypesettable math, and pass a clean site."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("check_offline", ROOT / "docs" / "check_offline.py")
check_offline = importlib.util.module_from_spec(spec)
sys.modules["check_offline"] = check_offline
spec.loader.exec_module(check_offline)

PAGE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="_static/site.css">
<link rel="canonical" href="https://example.org/index.html">
{head}
</head><body><article>
<p>The pattern <span class="math notranslate nohighlight">\\(U^G\\)</span> spans
<a href="https://example.org/">a link is not a load</a>.</p>
<div class="math notranslate nohighlight">\\[\\operatorname{vec}(W) = U v\\]</div>
<pre>$ metasym group cyclic:6  # a shell prompt, not math</pre>
{body}
</article></body></html>
"""
LOCAL_MATHJAX = '<script defer="defer" src="_static/mathjax/tex-svg.js"></script>'


def make_site(tmp_path: Path, head: str = LOCAL_MATHJAX, body: str = "") -> Path:
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "site.css").write_text("body { color: black }")
    (tmp_path / "_static" / "mathjax" / "tex-svg.js").write_text("")
    (tmp_path / "index.html").write_text(PAGE.replace("{head}", head).replace("{body}", body))
    return tmp_path


def problems(site: Path) -> list[str]:
    return check_offline.check_site(site)[0]


def test_clean_site_passes(tmp_path):
    site = make_site(tmp_path)
    found, formulas, counts = check_offline.check_site(site)
    assert found == []
    assert counts["math"] == 2 and counts["network"] == 0
    assert [tex for _, tex, _ in formulas] == ["U^G", r"\operatorname{vec}(W) = U v"]
    assert check_offline.main([str(site), "--no-typeset"]) == 0


@pytest.mark.parametrize("head", [
    '<script defer src="https://cdn.jsdelivr.net/npm/mathjax@4/tex-mml-chtml.js"></script>',
    '<link rel="stylesheet" href="//fonts.example.org/css?family=Inter">',
    '<link rel="preload" as="font" href="http://example.org/font.woff2">',
    "<style>@import url('https://example.org/x.css');</style>",
])
def test_network_load_fails(tmp_path, head):
    found = problems(make_site(tmp_path, head=LOCAL_MATHJAX + head))
    assert len(found) == 1 and "loads from the network" in found[0]
    assert check_offline.main([str(tmp_path), "--no-typeset"]) == 1


def test_network_url_in_css_file_fails(tmp_path):
    site = make_site(tmp_path)
    (site / "_static" / "site.css").write_text("@font-face { src: url(https://x.org/f.woff) }")
    assert any("_static/site.css: loads from the network" in p for p in problems(site))


def test_missing_local_asset_and_missing_mathjax_fail(tmp_path):
    site = make_site(tmp_path, head='<script src="_static/gone.js"></script>')
    found = problems(site)
    assert any("_static/gone.js is not in the built site" in p for p in found)
    assert any("2 formulas but no local _static/mathjax/tex-svg.js" in p for p in found)


@pytest.mark.parametrize("raw", ["$U^G$", r"\(x_1\)", r"see :math:`U v`", r"$\mathbb{R}$"])
def test_unrendered_math_fails(tmp_path, raw):
    found = problems(make_site(tmp_path, body=f"<p>text {raw} text</p>"))
    assert len(found) == 1 and "un-rendered math" in found[0]


def test_dollars_and_code_are_not_math(tmp_path):
    body = "<p>costs $5 or $6 today</p><p><code>$U^G$</code></p>"
    assert problems(make_site(tmp_path, body=body)) == []


def _mathjax_from_the_wheel() -> Path | None:
    """The MathJax that sphinx-mathjax-offline ships (the one copied into the built site)."""
    spec = importlib.util.find_spec("sphinx-mathjax-offline")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "static" / "mathjax"
    return path if (path / "startup.js").is_file() else None


@pytest.mark.skipif(shutil.which("node") is None, reason="needs node")
@pytest.mark.skipif(_mathjax_from_the_wheel() is None, reason="needs the docs extra")
def test_typesetting_reports_bad_tex(tmp_path):
    site = make_site(tmp_path)
    shutil.rmtree(site / "_static" / "mathjax")
    shutil.copytree(_mathjax_from_the_wheel(), site / "_static" / "mathjax")
    formulas = [("index.html", r"\boldsymbol{x} \in \mathbb{R}^n", False),
                ("index.html", r"\sum_{g \in G} \rho(g)", True),
                ("index.html", r"\frobnicate{x}", False),
                ("a.html", r"\frac{1}", True)]
    found = check_offline.typeset(site, formulas)
    assert len(found) == 2, found
    assert any("Undefined control sequence \\frobnicate" in p for p in found)
    assert any(p.startswith("a.html: ") and "\\frac" in p for p in found)
