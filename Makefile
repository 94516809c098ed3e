# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv when missing and install the package with what it needs.
# TORCH_SPEC picks the PyTorch build: the default is the CPU build of this project's
# machines; on a GPU machine use e.g. `make demo TORCH_SPEC=torch` (PIP_EXTRA for an index URL).
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PIP_EXTRA ?=
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell echo '$(TORCH_SPEC)' | tr -c 'a-zA-Z0-9.\n' '_')

.PHONY: demo test test-all bench lint clean-venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q $(PIP_EXTRA) '$(TORCH_SPEC)'
	$(BIN)/pip install -q $(PIP_EXTRA) -e '.[dev]'
	touch $@

# The main job end to end: a fresh oracle, MLE, D pre-training, adversarial training,
# then the curves as a PNG. About 7 minutes on 2 CPU cores.
DEMO_DIR ?= runs/demo-$(shell date +%Y%m%d-%H%M%S)
demo: $(STAMP)
	$(BIN)/seqgan train --preset demo --out-dir $(DEMO_DIR)
	$(BIN)/seqgan plot $(DEMO_DIR)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -m ''

bench: $(STAMP)
	$(BIN)/seqgan bench --device cpu --json

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean-venv:
	rm -rf $(VENV)
