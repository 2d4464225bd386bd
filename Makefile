# spiffebind developer entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SPIRE_VERSION ?= 1.13.3
export SPIRE_VERSION
HYDRA_VERSION ?= 2.3.0
export HYDRA_VERSION
PYTEST_ARGS ?=
# Everything ruff checks; mypy --strict covers the package (see pyproject.toml).
PY_TREES := spiffebind tests bench fuzz scripts

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-10s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

.PHONY: venv
venv: $(VENV)/.installed ## Create .venv with the package and its dev extras

.PHONY: spire
spire: ## Build spire-server and spire-agent v$(SPIRE_VERSION) into the cache (reused when present)
	@scripts/install-spire.sh >/dev/null

.PHONY: hydra
hydra: ## Build Ory Hydra v$(HYDRA_VERSION), the tests' upstream OAuth2 server, into the cache
	@scripts/install-hydra.sh >/dev/null

.PHONY: install
install: venv spire hydra ## Everything the tests need: .venv, the package, SPIRE, Hydra

.PHONY: test
test: install ## Run the whole test suite, real SPIRE included
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" HYDRA_BIN_DIR="$$(scripts/install-hydra.sh)" \
		$(PY) -m pytest $(PYTEST_ARGS)

.PHONY: unit
unit: venv ## Run only the fast unit tests
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

.PHONY: lint
lint: venv ## ruff, mypy (--strict on the package), the layering contracts, generated docs
	$(VENV)/bin/ruff check $(PY_TREES)
	$(VENV)/bin/ruff format --check $(PY_TREES)
	$(VENV)/bin/mypy
	$(PY) scripts/typecheck_tests.py
	$(VENV)/bin/lint-imports --no-logo
	$(PY) scripts/gen_options.py --check

.PHONY: fmt
fmt: venv ## Format and autofix with ruff
	$(VENV)/bin/ruff format $(PY_TREES)
	$(VENV)/bin/ruff check --fix $(PY_TREES)

.PHONY: options
options: venv ## Regenerate docs/cli.md's option table and the chart's config schema
	$(PY) scripts/gen_options.py

.PHONY: proto
proto: venv ## Regenerate the gRPC code from spiffebind/api/v1/*.proto (committed beside it)
	$(PY) scripts/gen_proto.py

.PHONY: demo
demo: install ## The main job end to end, narrated and checked, against real SPIRE (needs root)
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" $(PY) -m spiffebind.demo

.PHONY: run
run: install ## Start a throwaway SPIRE and run the daemon against it (Ctrl-C stops all)
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" $(PY) -m spiffebind.testing.spirebed

.PHONY: bench
bench: install ## Benchmarks (never part of make test); writes bench/results.json and README's tables
	$(PY) -m bench
	$(PY) -m bench.readme

.PHONY: profile
profile: install ## py-spy the daemon under load per method; flame graphs and top.md in bench/profiles/
	$(PY) -m bench.flame

.PHONY: clean
clean: ## Remove the virtualenv and caches (not the SPIRE cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache build *.egg-info
