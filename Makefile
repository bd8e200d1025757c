# Touchpoint — the two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck layers unit fuzz openapi bench clean mutation

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Touchpoint needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sdk,nats]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/touchpoint demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy src

layers: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest -n 2 --dist loadfile $(PYTEST_ARGS)

test: lint typecheck layers unit

# The schemathesis run over docs/openapi.json (tests/fuzz) is part of `unit`; this runs it alone.
# TOUCHPOINT_FUZZ_EXAMPLES=50 make fuzz tries more requests per operation.
fuzz: install
	$(BIN)/pytest -p no:randomly tests/fuzz $(PYTEST_ARGS)

# docs/openapi.json, the API contract the console's types come from; tests/unit/api fails when it drifts.
openapi: install
	$(BIN)/python -m touchpoint.api.openapi docs/openapi.json

bench: install
	$(BIN)/python bench/bench_import.py

# Mutation testing of the rule modules ([tool.mutmut] in pyproject.toml, docs/testing.md). Slow: not part of
# `make test`. `make mutation MUTANTS='touchpoint.channels.policies.*'` runs one module's mutants.
mutation: install
	set -f; TOUCHPOINT_MUTATION=1 $(BIN)/mutmut run $(MUTANTS)
	$(BIN)/mutmut results

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache
