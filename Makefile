# Quick start: `make demo` trains, exports and evaluates on Fashion-MNIST;
# `make test` runs the test suite. Both create the environment themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
FMNIST_DIR ?= /usr/share/datasets/fashion-mnist
# Parallel test workers; the suite is sized for two cores.
TEST_WORKERS ?= 2

.PHONY: venv test lint demo fashion_mnist clean

venv: $(STAMP)

$(STAMP): setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,tfds]'
	touch $(STAMP)

# Debian's dataset-fashion-mnist installs the four IDX files; elsewhere the
# script says where to put them.
fashion_mnist:
	@bash tools/get_fashion_mnist.sh $(FMNIST_DIR)

lint: venv
	$(VENV)/bin/ruff check .

test: venv fashion_mnist
	$(PY) -m pytest -n $(TEST_WORKERS) --durations=15 tests

demo: venv fashion_mnist
	bash tools/demo.sh

clean:
	rm -rf $(VENV) build *.egg-info
