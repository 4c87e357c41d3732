# The two commands: `make setup` (once, idempotent) and `make test`; `make demo` runs the graph.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=

.PHONY: setup build test lint typecheck web-check docker-check unit demo bench clean

setup:
	bash scripts/setup.sh

build:
	bash scripts/setup.sh

lint:
	$(ENV) ruff check src tests bench launch

typecheck:
	$(ENV) mypy

unit:
	$(ENV) pytest -m "not ros" $(PYTEST_ARGS)

# The dashboard: its types and its Vitest unit tests (the browser tests run under pytest).
web-check:
	cd web && npx --no-install tsc --noEmit && npx --no-install vitest run

# The container files without a container engine: hadolint on docker/Dockerfile, the Compose
# Specification's JSON schema on docker/compose.yaml (docker/README.md says what is not checked).
docker-check:
	$(ENV) bash scripts/docker_check.sh

test: lint typecheck web-check docker-check
	$(ENV) pytest $(PYTEST_ARGS)

demo:
	$(ENV) bash scripts/demo.sh

bench:
	$(ENV) python bench/sim_rate.py

clean:
	rm -rf build install log .venv
