# metasym: every target that needs Python first creates .venv and installs what it needs.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
export HYPOTHESIS_PROFILE ?= ci

.PHONY: venv test test-slow lint docs docs-check docs-images demo bench clean

venv: $(STAMP)

# torch must come from the local CPU wheel (plain `torch` would pull a multi-GB CUDA build),
# so it is installed explicitly, first, and only when missing.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[dev,docs]"
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check metasym tests bench docs

test: venv lint docs-check
	$(BIN)/python -m pytest

# Strict docs build (warnings are errors, cross-references checked), running the examples,
# then the offline check: no page loads anything from the network, every formula typesets
# with the MathJax copied into the site (docs/check_offline.py; it uses node).
docs: venv
	rm -rf docs/_build docs/auto_examples
	$(BIN)/sphinx-build -n -W --keep-going -q -b html docs docs/_build/html
	$(BIN)/python docs/check_offline.py docs/_build/html
	@echo "docs: docs/_build/html/index.html"

# The same strict build and check without running the examples (the tests run them on tiny
# settings).
docs-check: venv
	rm -rf docs/_build/check docs/auto_examples
	METASYM_DOCS_RUN_EXAMPLES=0 $(BIN)/sphinx-build -n -W --keep-going -q -b html docs docs/_build/check
	$(BIN)/python docs/check_offline.py docs/_build/check

# The shipped figures under docs/images, each from the command that makes it (about 1 min),
# then shrunk to a 256-colour palette. glyphs.png: see docs/fewshot.md.
docs-images: venv
	$(BIN)/metasym demo --out runs/demo --overwrite --quiet
	cp runs/demo/demo.png docs/images/demo_rank1.png
	$(BIN)/metasym reproduce table2 --inner-lr auto --steps 2000 --problems rot8 \
	  --models msr-conv --out runs/docs-images/t2-auto --overwrite --quiet
	$(BIN)/metasym compare runs/docs-images/t2-auto/rot8-msr-conv --plot docs/images/images-rot8-compare.png
	$(BIN)/metasym reproduce table2 --inner-lr auto --steps 2000 --image-size 5 --problems rot8 \
	  --models maml-conv msr-conv --out runs/docs-images/t2-small --overwrite --quiet
	$(BIN)/metasym compare runs/docs-images/t2-small/rot8-maml-conv --plot docs/images/images-rot8-small-maml.png
	$(BIN)/metasym compare runs/docs-images/t2-small/rot8-msr-conv --plot docs/images/images-rot8-small-msr.png
	$(BIN)/python docs/shrink_png.py docs/images/demo_rank1.png docs/images/images-rot8-*.png

test-slow: venv
	$(BIN)/python -m pytest -m slow

demo: venv
	$(BIN)/metasym demo --out runs/demo

bench: venv
	$(BIN)/python bench/sharing.py

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .ruff_cache runs *.egg-info docs/_build docs/auto_examples docs/_generated \
	docs/sg_execution_times.rst
