# genlab: `make demo` and `make test` (see README).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_MINUTES ?= 5

.PHONY: install demo test test-all data clean

$(BIN)/genlab: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[test]"
	@touch $@

install: $(BIN)/genlab

# Fashion-MNIST from Debian's package (files under /usr/share/datasets/fashion-mnist/)
data:
	@test -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz || \
	  { (apt-get update -q && apt-get install -y -q dataset-fashion-mnist) || \
	    sudo sh -c 'apt-get update -q && apt-get install -y -q dataset-fashion-mnist'; }

# Train a DCGAN on Fashion-MNIST for a few minutes and write a sample grid.
demo: install data
	rm -rf runs/demo
	$(BIN)/genlab train dcgan --data fashion-mnist --minutes $(DEMO_MINUTES) --out runs/demo
	$(BIN)/genlab sample runs/demo --n 64 --seed 0 --out demo-samples.png
	@echo "sample grid: demo-samples.png"

# The test command CI runs (.ci/run calls `make test`).
test: install data
	GENLAB_OFFLINE=1 $(BIN)/python -m pytest -q

test-all: install data
	GENLAB_OFFLINE=1 $(BIN)/python -m pytest -q -m ""

clean:
	rm -rf $(VENV) runs demo-samples.png .pytest_cache
