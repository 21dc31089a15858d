# Two entry points for a fresh machine with Python 3.11 and make:
#   make demo   set up .venv, install chromapal, print the palette of the bundled sample
#   make test   set up .venv with the test dependencies and run the test suite
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := tests/data/kodim23.png

.PHONY: demo test venv install install-test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[charts]'

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[all]' pytest hypothesis pytest-timeout

demo: install
	$(BIN)/chromapal $(SAMPLE) -k 8

test: install-test
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_extract.py

clean:
	rm -rf $(VENV) build src/*.egg-info
