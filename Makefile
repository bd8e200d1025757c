# Touchpoint — the two commands a new machine needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

WEB_STAMP := web/node_modules/.installed

.PHONY: install demo test contract lint typecheck layers unit fuzz openapi bench clean mutation web web-check

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Touchpoint needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,sdk,nats,spark]'
	touch $(STAMP)

install: $(STAMP)

# The console (web/, Node 20+): packages exactly as web/package-lock.json pins them, then the production build
# into src/touchpoint/console, which `touchpoint serve` serves at / (every asset from the package, no CDN).
$(WEB_STAMP): web/package-lock.json
	@command -v npm >/dev/null || { echo "The console needs Node.js 20+ and npm to build (https://nodejs.org)"; exit 1; }
	cd web && npm ci --no-audit --no-fund
	touch $(WEB_STAMP)

web: $(WEB_STAMP)
	cd web && npm run build

# The console's TypeScript types must match docs/openapi.json (regenerate with `cd web && npm run api`); then
# the type check and the Vitest unit tests.
web-check: $(WEB_STAMP)
	cd web && npm run api:check && npm run typecheck && npm test

demo: install web
	$(BIN)/touchpoint demo $(DEMO_ARGS)

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: install
	$(BIN)/mypy src

layers: install
	$(BIN)/lint-imports

unit: install
	$(BIN)/pytest -n 3 --dist loadfile $(PYTEST_ARGS)

# tests/e2e drives the built console in Debian's Chromium (skipped when /usr/bin/chromium is absent, except in CI).
# The unit pass lists the test files that reach the analytical engine; the contract pass reruns those on Spark.
ENGINE_TESTS := $(CURDIR)/.pytest_cache/engine-tests.txt
test: export TOUCHPOINT_ENGINE_TESTS := $(ENGINE_TESTS)
test: lint typecheck layers web-check web unit contract

# The contract pass (docs/testing.md): the analytical tests again with engine = spark (PySpark local), over the
# same Parquet files; tests/contract compares the two engines' answers on one demo brokerage. Skipped where
# Spark cannot run (no Java); CI sets TOUCHPOINT_TEST_SPARK=1 so that it fails instead. The operational store is
# SQLite here: PostgreSQL's parameters ran in `unit` and are deselected.
CONTRACT_TESTS := tests/unit/indicators tests/unit/analytics tests/unit/segments tests/unit/tags tests/unit/insight
# Within `make test` it runs only the files of those directories that the unit pass saw reach the engine
# (tests/conftest.py, TOUCHPOINT_ENGINE_TESTS); alone, all of them.
contract: install
	@files="$(CONTRACT_TESTS)"; listed="$${TOUCHPOINT_ENGINE_TESTS:-}"; \
	if [ -n "$$listed" ] && [ -s "$$listed" ]; then \
	  chosen=$$(grep -E '^($(subst $(eval) ,|,$(CONTRACT_TESTS)))/' "$$listed" | tr '\n' ' '); \
	  if [ -n "$$chosen" ]; then files="$$chosen"; fi; \
	fi; \
	echo "contract pass on Spark: $$files"; \
	TOUCHPOINT_ENGINE=spark $(BIN)/pytest -n 2 --dist loadfile -p no:randomly -m "not postgres" \
		$$files $(PYTEST_ARGS)

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
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache web/node_modules src/touchpoint/console
