# Entry points for a fresh machine with Python 3.11 and make:
#   make demo   set up .venv, install chromapal, print the palette of the bundled sample and draw it
#   make test   set up .venv with every extra and the test tools, then run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := tests/data/kodim23.png
TEST_TOOLS := pytest hypothesis pytest-timeout httpx playwright

.PHONY: demo test install install-test browser bench bench-peers clean docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[charts]'

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]' $(TEST_TOOLS)

# The browser tests drive Debian's chromium; installed here when missing and possible (root).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } \
	  || echo "chromium is not installed: the browser tests will be skipped"

demo: install
	$(BIN)/chromapal $(SAMPLE) -k 8
	@mkdir -p out
	$(BIN)/chromapal swatch $(SAMPLE) -k 8 -o out/kodim23-swatch.png
	$(BIN)/chromapal pies $(SAMPLE) --k 1-10 -o out/kodim23-pies.png
	@echo "pictures written to out/"

test: install-test browser
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/pip install --quiet scikit-learn
	$(BIN)/python benchmarks/bench_extract.py

bench-peers: install
	$(BIN)/python benchmarks/compare_peers.py

clean:
	rm -rf $(VENV) build src/*.egg-info out

# Regenerate every output and picture the README shows (tests/test_readme.py checks them).
docs: install-test
	$(BIN)/python docs/readme.py
	CHROMAPAL_SCREENSHOT=1 $(BIN)/python -m pytest -q tests/test_web_browser.py -k screenshot
