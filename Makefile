# wecom-scrm — the two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
# The tests and benches start hundreds of `scrm` processes: with bytecode never written (some hosts set
# PYTHONDONTWRITEBYTECODE), each one compiles the project's modules again (~0.5 s of CPU a start).
unexport PYTHONDONTWRITEBYTECODE
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install lock lock-hashes demo test test-real test-embedded lint format docs bench-ingest serve simulator migrations clean chaos deploy-drill failover-drill soak

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## demo: the product end to end on the embedded defaults (SQLite, in-process Redis, the WeCom simulator)
demo: $(STAMP)
	$(BIN)/scrm demo

## test: lint, then the whole suite on PostgreSQL + Redis and on SQLite + the in-process Redis, side by side
# (-k: both backends always finish and report; either failing fails `make test`). Each backend's
# output is printed whole when it finishes (--output-sync), under its own header.
test: lint
	@$(MAKE) --no-print-directory -k -j2 --output-sync=target test-real test-embedded

# Each backend's tests run on TEST_WORKERS processes (pytest-xdist): every test has its own
# database and Redis key prefix, so they do not meet. Most of a test's time is spent waiting.
TEST_WORKERS ?= 2
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --durations=10

test-real: $(STAMP)
	@echo "=== test-real: PostgreSQL + Redis ==="
	$(PYTEST)

test-embedded: $(STAMP)
	@echo "=== test-embedded: SQLite + the in-process Redis ==="
	SCRM_TEST_BACKEND=embedded $(PYTEST)

# The last step fails when a generated page (docs/settings.md, docs/chat-commands.md, docs/kinds.md) is
# stale or something has no documentation (bot/docgen.py says what; `make docs` regenerates).
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m bot.docgen --check

## docs: regenerate the reference pages from the code (settings' descriptions, the chat commands, the kinds)
docs: $(STAMP)
	$(BIN)/python -m bot.docgen

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

bench-ingest: $(STAMP)
	$(BIN)/python -m bench.ingest

## migrations: write a migration for model changes (then commit bot/migrations/)
# Refuses a step the previous release cannot run against (bot/migrationcheck.py); a contract step
# whose expand step has shipped: make migrations CONTRACT="why it is safe now".
migrations: $(STAMP)
	$(BIN)/python -m bot.makemigrations $(if $(CONTRACT),--contract "$(CONTRACT)")

## lock: re-resolve the newest versions pyproject.toml allows into constraints.txt
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install --quiet -e '.[dev]'
	{ head -2 constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v wecom; } > constraints.new
	mv constraints.new constraints.txt && rm -rf .lock-venv

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache

## chaos: web + 2 workers, private PostgreSQL and Redis, workers/PostgreSQL/Redis/WeCom failing mid-burst (~3 min; not part of make test)
chaos: $(STAMP)
	$(BIN)/python -m bench.chaos

## deploy-drill: Caddy + 2 web + 2 workers replaced one by one, twice, under 50 callbacks/s (~3 min; needs caddy)
deploy-drill: $(STAMP)
	$(BIN)/python -m bench.deploy_drill

## failover-drill: Redis primary SIGKILLed under load with a replica and 3 Sentinels, with and without WAIT (~2 min)
failover-drill: $(STAMP)
	$(BIN)/python -m bench.failover_drill

## soak: one hour at 20 new customers/s, a day of scheduled jobs every 8 min (a week), a fault every 5 min; RSS, p99, Redis, tables (PNG + CSV)
soak: $(STAMP)
	$(BIN)/python -m bench.soak

## lock-hashes: requirements.lock, the runtime dependencies at constraints.txt's versions with their sha256
# hashes, for production installs (pip install --require-hashes; docs/dependencies.md). Only pip: it
# downloads the files this machine's Python and platform install (CPython 3.11, linux x86_64 as in the image).
lock-hashes: $(STAMP)
	rm -rf .lock-wheels
	$(BIN)/pip download --quiet -c constraints.txt -d .lock-wheels .
	$(BIN)/python deploy/lock_hashes.py .lock-wheels > requirements.lock.new
	mv requirements.lock.new requirements.lock && rm -rf .lock-wheels
