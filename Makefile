# Accord: `make demo` and `make test` do all their own set-up on a fresh machine.
SHELL := /bin/bash
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PYTHON ?= python3
export UV_PYTHON ?= 3.11
# Byte code is cached even where the environment says not to (PYTHONDONTWRITEBYTECODE): otherwise every process
# of a test run (pytest-xdist workers, `accord` subprocesses, spawned reporters) compiles pandas, SciPy and
# SQLAlchemy again, about 4 s of CPU each.
unexport PYTHONDONTWRITEBYTECODE
# pytest-xdist workers: one per CPU, at most 4 (each holds its own stores, servers and database connections)
PYTEST_WORKERS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( n < 4 ? n : 4 )))

.PHONY: setup demo serve test lint typecheck pytest services bench clean

$(UV):
	$(PYTHON) -m pip install --quiet --user uv || $(PYTHON) -m pip install --quiet uv

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet
	touch $@

setup: .venv/.synced

## demo: a synthetic country with a seeded outbreak, reported through the real services, served on :8000
demo: setup
	$(UV) run accord init
	$(UV) run accord demo --serve

serve: setup
	$(UV) run accord serve

## services the tests need (PostgreSQL on 127.0.0.1:5432); started if not running
services:
	@bash scripts/ensure-services.sh
	@bash scripts/ensure-browser.sh

lint: setup
	$(UV) run ruff check src tests benchmarks
	$(UV) run ruff format --check src tests benchmarks
	$(UV) run lint-imports

typecheck: setup
	$(UV) run mypy --num-workers 2

## pytest: the whole suite, in parallel; a module's tests run in one worker, so its module-scoped stores and
## servers are built once (--dist loadscope); the 20 slowest steps are listed at the end
pytest: setup services
	$(UV) run pytest -q -p no:cacheprovider -n $(PYTEST_WORKERS) --dist loadscope --durations=20 $(PYTEST_ARGS)

test: lint typecheck pytest

bench: setup services
	$(UV) run python benchmarks/run_all.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache .pytest_cache
