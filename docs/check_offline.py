"""Check that a built HTML site reads offline: run by ``make docs-check`` after the build.

    python docs/check_offline.py docs/_build/check

Fails (exit 1, one line per problem) when

* a page loads a script, style sheet, font, image or frame from the network
  (``<script src>``, ``<link href>`` of a loaded kind, ``<img>``/``<iframe>``/``<source>``,
  ``url(...)``/``@import`` in inline styles and in the site's CSS files);
* a local script or style sheet a page names is not in the built site;
* a page with formulas does not load the MathJax copied into the site;
* a formula is left un-rendered: ``$...$``, ``\\(...\\)`` or ``:math:`` in running text
  (outside code) instead of a math node;
* a formula does not typeset: every formula is passed through the site's own MathJax
  (in Node.js, undefined macros are errors) and any TeX error is reported with its page.

``--no-typeset`` skips the last check (it needs ``node`` on the PATH).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

MATHJAX_SCRIPT = "_static/mathjax/tex-svg.js"

NETWORK = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)
CSS_URL = re.compile(r"""(?:url\(\s*['"]?|@import\s+['"])([^'")\s]+)""", re.IGNORECASE)
# <link rel=...> kinds that only name a page (nothing is fetched when the page loads)
LINK_NAV = {"canonical", "alternate", "author", "license", "next", "prev", "previous",
            "search", "index", "help", "copyright", "first", "last", "up", "me"}
# un-rendered math left in running text: $...$ holding TeX, \( ... \), :math:`...`
RAW_MATH = re.compile(r"\$[^$\n]*[\\^_{][^$\n]*\$|\\\(.+?\\\)|\\\[.+?\\\]|:math:`")
ASSET_DIRS = {"_static", "_sources", "_images", "_downloads"}
SKIP_TEXT = {"pre", "code", "script", "style", "kbd", "samp", "tt", "textarea"}


@dataclass
class Page:
    path: Path
    loads: list[tuple[str, str]] = field(default_factory=list)  # (tag, url) fetched on load
    styles: list[str] = field(default_factory=list)  # inline <style> text and style= attrs
    math: list[tuple[str, bool]] = field(default_factory=list)  # (TeX, display)
    raw_math: list[str] = field(default_factory=list)


class _Parser(HTMLParser):
    def __init__(self, page: Page):
        super().__init__(convert_charrefs=True)
        self.page = page
        self.stack: list[str] = []
        self.math_depth = 0  # inside <span class="math"> / <div class="math">
        self.math_display = False
        self.math_text: list[str] = []
        self.skip_depth = 0
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        if a.get("style"):
            self.page.styles.append(a["style"])
        if tag == "script" and a.get("src"):
            self.page.loads.append(("script", a["src"]))
        elif tag == "link" and a.get("href"):
            rels = set(a.get("rel", "").lower().split())
            if not rels or not rels <= LINK_NAV:
                self.page.loads.append((f"link rel={a.get('rel', '')}", a["href"]))
        elif tag in ("img", "iframe", "source", "embed", "audio", "video") and a.get("src"):
            self.page.loads.append((tag, a["src"]))
        elif tag == "object" and a.get("data"):
            self.page.loads.append((tag, a["data"]))
        if tag in ("img", "source") and a.get("srcset"):
            for part in a["srcset"].split(","):
                if part.strip():
                    self.page.loads.append((tag, part.split()[0]))
        if tag in ("link", "img", "meta", "br", "hr", "input", "source", "embed", "wbr", "col",
                   "area", "base", "param", "track"):
            return  # void elements never close
        self.stack.append(tag)
        classes = a.get("class", "").split()
        if self.math_depth:
            self.math_depth += 1
        elif tag in ("span", "div") and "math" in classes:
            self.math_depth = 1
            self.math_display = tag == "div"
            self.math_text = []
        if self.skip_depth or tag in SKIP_TEXT:
            self.skip_depth += 1
        if tag == "style":
            self.in_style = True

    def handle_endtag(self, tag):
        if tag not in self.stack:
            return
        while self.stack:
            top = self.stack.pop()
            if self.math_depth:
                self.math_depth -= 1
                if self.math_depth == 0:
                    self.page.math.append(("".join(self.math_text), self.math_display))
            if self.skip_depth:
                self.skip_depth -= 1
            if top == "style":
                self.in_style = False
            if top == tag:
                break

    def handle_data(self, data):
        if self.in_style:
            self.page.styles.append(data)
        if self.math_depth:
            self.math_text.append(data)
        elif not self.skip_depth:
            self.page.raw_math.extend(m.group(0) for m in RAW_MATH.finditer(data))


def parse(path: Path) -> Page:
    page = Page(path)
    parser = _Parser(page)
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return page


def strip_delimiters(tex: str, display: bool) -> str:
    tex = tex.strip()
    pairs = [(r"\[", r"\]"), ("$$", "$$")] if display else [(r"\(", r"\)"), ("$", "$")]
    for left, right in pairs:
        if tex.startswith(left) and tex.endswith(right):
            return tex[len(left):len(tex) - len(right)].strip()
    return tex


def _local_target(page: Path, url: str, root: Path) -> Path | None:
    url = url.split("#", 1)[0].split("?", 1)[0]
    if not url or url.startswith(("data:", "about:", "javascript:")):
        return None
    target = (root / url.lstrip("/")) if url.startswith("/") else (page.parent / url)
    return Path(html.unescape(str(target)))


def check_site(root: Path) -> tuple[list[str], list[tuple[str, str, bool]], dict[str, int]]:
    """Return (problems, formulas as (page, TeX, display), counts)."""
    problems: list[str] = []
    formulas: list[tuple[str, str, bool]] = []
    # templates and copied assets under _static (the theme's webpack-macros.html) are no pages
    pages = sorted(p for p in root.rglob("*.html")
                   if p.relative_to(root).parts[0] not in ASSET_DIRS)
    counts = {"pages": len(pages), "network": 0, "network_pages": 0, "math": 0}
    for path in pages:
        rel = path.relative_to(root).as_posix()
        page = parse(path)
        network = [(t, u) for t, u in page.loads if NETWORK.match(u)]
        for style in page.styles:
            network += [("inline style", u) for u in CSS_URL.findall(style) if NETWORK.match(u)]
        for tag, url in network:
            problems.append(f"{rel}: loads from the network: <{tag}> {url}")
        counts["network"] += len(network)
        counts["network_pages"] += bool(network)
        for tag, url in page.loads:
            if NETWORK.match(url) or not (tag == "script" or "stylesheet" in tag):
                continue
            target = _local_target(path, url, root)
            if target is not None and not target.is_file():
                problems.append(f"{rel}: <{tag}> {url} is not in the built site")
        for raw in page.raw_math:
            problems.append(f"{rel}: un-rendered math in the text: {raw[:80]!r}")
        if page.math:
            counts["math"] += len(page.math)
            mathjax = [u for t, u in page.loads
                       if t == "script" and not NETWORK.match(u)
                       and u.split("?")[0].endswith(MATHJAX_SCRIPT)]
            if not mathjax:
                problems.append(f"{rel}: {len(page.math)} formulas but no local "
                                f"{MATHJAX_SCRIPT} script")
            for tex, display in page.math:
                formulas.append((rel, strip_delimiters(tex, display), display))
    for css in sorted(root.rglob("*.css")):
        rel = css.relative_to(root).as_posix()
        for url in CSS_URL.findall(css.read_text(encoding="utf-8", errors="replace")):
            if NETWORK.match(url):
                problems.append(f"{rel}: loads from the network: {url}")
                counts["network"] += 1
    return problems, formulas, counts


# Typesets each formula with the site's MathJax in Node.js. `noundefined` is dropped so an
# unknown macro is an error (in the browser it would be drawn in red), and TeX errors throw
# instead of becoming an <merror> node.
NODE_SCRIPT = r"""
const fs = require('fs');
const [mathjaxDir, input] = process.argv.slice(2);
const formulas = JSON.parse(fs.readFileSync(input, 'utf8'));
global.MathJax = {
  loader: {paths: {mathjax: mathjaxDir}, load: ['input/tex', 'adaptors/liteDOM'], require: require},
  tex: {packages: {'[-]': ['noundefined']}, formatError: (jax, err) => { throw err; }},
  startup: {typeset: false},
};
require(mathjaxDir + '/startup.js');
MathJax.startup.promise.then(async () => {
  const bad = [];
  for (let i = 0; i < formulas.length; i++) {
    const [tex, display] = formulas[i];
    try {
      await MathJax.tex2mmlPromise(tex, {display});
    } catch (err) {
      bad.push([i, String(err && err.message || err)]);
    }
  }
  process.stdout.write(JSON.stringify(bad));
}).catch(err => { console.error(err); process.exit(2); });
"""


def typeset(root: Path, formulas: list[tuple[str, str, bool]]) -> list[str]:
    node = shutil.which("node")
    if node is None:
        return ["node (Node.js) is not on the PATH: cannot typeset the formulas "
                "(install it, or pass --no-typeset)"]
    mathjax_dir = (root / MATHJAX_SCRIPT).parent.resolve()
    if not (mathjax_dir / "startup.js").is_file():
        return [f"no MathJax in the built site ({mathjax_dir}/startup.js is missing)"]
    unique = sorted({(tex, display) for _, tex, display in formulas})
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "typeset.js"
        script.write_text(NODE_SCRIPT, encoding="utf-8")
        data = Path(tmp) / "formulas.json"
        data.write_text(json.dumps(unique), encoding="utf-8")
        run = subprocess.run([node, str(script), str(mathjax_dir), str(data)],
                             capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        return [f"typesetting with node failed (exit {run.returncode}): {run.stderr[-2000:]}"]
    problems = []
    for i, message in json.loads(run.stdout):
        tex, display = unique[i]
        where = sorted({p for p, t, d in formulas if (t, d) == (tex, display)})
        problems.append(f"{', '.join(where)}: formula does not typeset ({message}): {tex!r}")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("site", type=Path, help="the built HTML folder (e.g. docs/_build/check)")
    ap.add_argument("--no-typeset", action="store_true",
                    help="do not typeset the formulas with MathJax in Node.js")
    args = ap.parse_args(argv)
    if not (args.site / "index.html").is_file():
        print(f"check_offline: {args.site} holds no built site (no index.html)")
        return 1
    problems, formulas, counts = check_site(args.site)
    typeset_note = "not typeset (--no-typeset)"
    if not args.no_typeset and formulas:
        problems += typeset(args.site, formulas)
        typeset_note = "typeset with the site's MathJax"
    for line in problems:
        print(line)
    print(f"check_offline: {counts['pages']} pages, {counts['network']} network loads on "
          f"{counts['network_pages']} pages, {counts['math']} formulas ({typeset_note}), "
          f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
