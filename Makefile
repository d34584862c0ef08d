# Two commands a newcomer needs: `make run` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test lint typecheck unit docs bench clean wheel-smoke

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/aftersales migrate
	$(BIN)/aftersales demo --if-empty
	$(BIN)/aftersales serve --host 127.0.0.1 --port 8000

test: $(STAMP) lint typecheck wheel-smoke
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q $(PYTEST_ARGS)

unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports
	$(BIN)/deptry src

# The built wheel in a fresh venv without the lock or dev extras: --help, migrate, demo, serve.
wheel-smoke: $(STAMP)
	PYTHON=$(PYTHON) bash tests/smoke/wheel_smoke.sh

typecheck: $(STAMP)
	$(BIN)/mypy

docs: $(STAMP)
	$(BIN)/python -m aftersales.entrypoints.docs docs/

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
