# Entry points for a fresh machine with Python 3.11 and make:
#   make demo   set up .venv, install chromapal, print the palette of the bundled sample and draw it
#   make test   set up .venv with every extra and the test tools, then run the test suite
#   make fuzz   build the C kernels again with ASan + UBSan (in build/fuzz) and run the kernel tests
#               and FUZZ_COUNT mutated images per format (or FUZZ_SECONDS) under the sanitizers
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
SAMPLE := tests/data/kodim23.png

.PHONY: consumers demo test install install-test browser bench bench-peers clean fuzz fuzz-build sanitizer-tools python-headers docs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[charts]'

# The test tools are pyproject.toml's `test` dependency group (pip >= 25.1 reads it).
install-test: $(BIN)/python python-headers
	$(BIN)/pip install --quiet -e '.[all]' --group test

# Python's headers, without which the C kernels are not built (chromapal then runs on its NumPy
# fallback and the kernel tests are skipped); installed when missing and possible (root).
PY_INCLUDE = $$($(PYTHON) -c 'import sysconfig; print(sysconfig.get_paths()["include"])')
python-headers:
	@[ -f "$(PY_INCLUDE)/Python.h" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-dev >/dev/null) ; } \
	  || echo "Python.h is not installed: the C kernels will not be built"

# The browser tests drive Debian's chromium; installed here when missing and possible (root).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) ; } \
	  || echo "chromium is not installed: the browser tests will be skipped"

# The programs that read chromapal's theme and palette files, for tests/test_real_consumers.py:
# Debian's terminals and X tools, and the tailwindcss 3.4 CLI from npm; installed when missing and
# possible (root). Each test skips when its program is missing.
CONSUMER_DEBS := kitty foot alacritty xvfb x11-xserver-utils tmux dconf-cli dbus-daemon python3-gi
# the two KDE/Xfce terminals without their recommended desktop packages (konsole: ~120 packages, ~40 s)
CONSUMER_SLIM_DEBS := xfce4-terminal konsole
TAILWIND := tailwindcss@3.4.19
consumers:
	@missing=""; for p in $(CONSUMER_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) ; } \
	  || echo "not installed:$$missing: their file-reader tests will be skipped"
	@missing=""; for p in $(CONSUMER_SLIM_DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	  [ -z "$$missing" ] || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
	  && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null) ; } \
	  || echo "not installed:$$missing: their file-reader tests will be skipped"
	@command -v tailwindcss >/dev/null 2>&1 || { command -v npm >/dev/null 2>&1 \
	  && npm install --global --silent --no-audit --no-fund $(TAILWIND) >/dev/null ; } \
	  || echo "tailwindcss is not installed: its test will be skipped"

demo: install
	$(BIN)/chromapal $(SAMPLE) -k 8
	@mkdir -p out
	$(BIN)/chromapal swatch $(SAMPLE) -k 8 -o out/kodim23-swatch.png
	$(BIN)/chromapal pies $(SAMPLE) --k 1-10 -o out/kodim23-pies.png
	@echo "pictures written to out/"

test: install-test browser consumers
	$(BIN)/python -m pytest -q

# -- make fuzz ----------------------------------------------------------------------------------
# The extension is compiled a second time with the sanitizers into FUZZ_DIR, next to a copy of the
# package's Python files; PYTHONPATH puts that copy first, so .venv's own build stays untouched.
# CPython itself is not built with ASan, so the runtimes are preloaded; leak checks are off
# (CPython keeps its objects at exit on purpose, which LeakSanitizer would report), and a huge
# allocation fails with MemoryError, as it does without ASan, instead of aborting.
FUZZ_DIR ?= build/fuzz
FUZZ_COUNT ?= 3000
FUZZ_SECONDS ?= 0
FUZZ_SEED ?= 0
FUZZ_CC ?= gcc
SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_ENV = PYTHONPATH=$(FUZZ_DIR) \
  LD_PRELOAD="$$($(FUZZ_CC) -print-file-name=libasan.so) $$($(FUZZ_CC) -print-file-name=libubsan.so)" \
  ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0:abort_on_error=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 PYTHONFAULTHANDLER=1

# The compiler's sanitizer runtimes (Debian's gcc brings them); installed when missing and possible (root).
sanitizer-tools: python-headers
	@[ -f "$$($(FUZZ_CC) -print-file-name=libasan.so)" ] && [ -f "$$($(FUZZ_CC) -print-file-name=libubsan.so)" ] \
	  || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && (apt-get update -qq \
	  && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libasan8 libubsan1 >/dev/null) ; } \
	  || { echo "libasan/libubsan not found for $(FUZZ_CC): install them to run make fuzz"; exit 1; }
	@[ -f "$(PY_INCLUDE)/Python.h" ] || { echo "Python.h not found: make fuzz needs the Python headers"; exit 1; }

fuzz-build: install-test sanitizer-tools
	rm -rf $(FUZZ_DIR) && mkdir -p $(FUZZ_DIR)
	cp -R src/chromapal $(FUZZ_DIR)/chromapal
	find $(FUZZ_DIR)/chromapal \( -name '*.so' -o -name __pycache__ \) -prune -exec rm -rf {} +
	$(FUZZ_CC) -shared -fPIC -g -O2 $(SANITIZE) -fno-math-errno -fno-trapping-math -ffp-contract=off \
	  -I"$(PY_INCLUDE)" src/chromapal/_kernels.c \
	  -o "$(FUZZ_DIR)/chromapal/_kernels$$($(BIN)/python -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
	@# the sanitized kernels are the ones imported, and they are instrumented
	$(FUZZ_ENV) $(BIN)/python -c "import chromapal._kernels as k, pathlib, sys; \
	  f = pathlib.Path(k.__file__).resolve(); assert f.is_relative_to(pathlib.Path('$(FUZZ_DIR)').resolve()), f; \
	  assert b'__asan_report' in f.read_bytes() and b'__ubsan_handle' in f.read_bytes(), 'not instrumented'; \
	  print('sanitized kernels:', f)"

fuzz: fuzz-build
	$(FUZZ_ENV) $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_kernels.py tests/test_kernels_hostile.py tests/test_kernels_hostile_loops.py
	@$(FUZZ_ENV) $(BIN)/python tests/fuzzing.py --count $(FUZZ_COUNT) --seconds $(FUZZ_SECONDS) --seed $(FUZZ_SEED) \
	  --progress $(FUZZ_DIR)/current-sample.txt \
	  || { echo "make fuzz: failed on: $$(cat $(FUZZ_DIR)/current-sample.txt 2>/dev/null)"; exit 1; }

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
