# genlab: `make demo` and `make test` (see README). Both do their own set-up on a fresh Debian machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_MINUTES ?= 5
APT_GET ?= apt-get

# Debian packages as PACKAGE:FILE-IT-INSTALLS; a package is installed only when its file is missing.
FASHION_DEP := dataset-fashion-mnist:/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
# Everything the test suite needs from the system: Fashion-MNIST, the word list, the browser and its driver,
# the fortunes (text lines, English and Chinese), FluidSynth and a General MIDI SoundFont (music to WAV).
SYSTEM_DEPS ?= $(FASHION_DEP) \
	wamerican:/usr/share/dict/american-english \
	chromium:/usr/bin/chromium \
	chromium-driver:/usr/bin/chromedriver \
	fortunes:/usr/share/games/fortunes/fortunes \
	fortunes-zh:/usr/share/games/fortunes/tang300 \
	fluidsynth:/usr/bin/fluidsynth \
	fluid-soundfont-gm:/usr/share/sounds/sf2/FluidR3_GM.sf2

.PHONY: install demo test test-all system-deps data clean

# apt-get install the packages in $$need (through sudo when not root); a shell fragment for recipes.
APT_INSTALL = if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	echo "installing Debian packages:$$need"; \
	$$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) update -q && \
	$$sudo env DEBIAN_FRONTEND=noninteractive $(APT_GET) install -y -q $$need

# Install those of the PACKAGE:FILE pairs in $(1) whose file is missing.
define apt_ensure
	@need=""; for dep in $(1); do [ -e "$${dep#*:}" ] || need="$$need $${dep%%:*}"; done; \
	if [ -n "$$need" ]; then $(APT_INSTALL); fi
endef

# Debian's python3 makes virtual environments only with python3-venv (ensurepip) installed.
$(BIN)/genlab: pyproject.toml
	@$(PYTHON) -c "import ensurepip" 2>/dev/null || { need=" python3-venv"; $(APT_INSTALL); }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

install: $(BIN)/genlab

# The system packages the tests need (make test and .ci/run use this).
system-deps:
	$(call apt_ensure,$(SYSTEM_DEPS))

# Only Fashion-MNIST (files under /usr/share/datasets/fashion-mnist/), for the demo.
data:
	$(call apt_ensure,$(FASHION_DEP))

# Train a DCGAN on Fashion-MNIST for a few minutes and write a sample grid.
demo: install data
	rm -rf runs/demo
	$(BIN)/genlab train dcgan --data fashion-mnist --minutes $(DEMO_MINUTES) --out runs/demo
	$(BIN)/genlab sample runs/demo --n 64 --seed 0 --out demo-samples.png
	@echo "sample grid: demo-samples.png"

# The test command CI runs (.ci/run: `make system-deps test`): ruff's import rule on src/ (imports at the
# top of modules; pyproject.toml [tool.ruff]), then the suite. Under make a test whose
# system package is missing fails instead of skipping (GENLAB_TEST_STRICT, tests/conftest.py).
test test-all: export GENLAB_TEST_STRICT = 1
test: install system-deps
	$(BIN)/ruff check src
	GENLAB_OFFLINE=1 $(BIN)/python -m pytest -q

test-all: install system-deps
	$(BIN)/ruff check src
	GENLAB_OFFLINE=1 $(BIN)/python -m pytest -q -m ""

clean:
	rm -rf $(VENV) runs demo-samples.png .pytest_cache
