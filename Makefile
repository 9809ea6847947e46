# arena: the two commands a new user needs are `make train` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export WANDB_MODE ?= offline

.PHONY: train test test-fast lint typecheck bench clean

$(STAMP): setup.cfg constraints.txt pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "arena needs Python 3.11 (set PYTHON=...)"; exit 2; }
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

## train the default preset (DQN on CartPole-v1, about a minute on 2 CPU cores)
train: $(STAMP)
	$(BIN)/arena train $(ARGS)

## the whole suite: unit, property, contract, smoke, determinism and learning tests
test: $(STAMP)
	$(BIN)/ruff check agents envs replay runners tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q --durations=10

## unit and smoke tests only (no learning runs)
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check agents envs replay runners tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/replay_memory.py
	$(BIN)/python benchmarks/atari_throughput.py

clean:
	rm -rf $(VENV) runs .pytest_cache .mypy_cache
