# spiffebind developer entry points. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SPIRE_VERSION ?= 1.13.3
export SPIRE_VERSION
HYDRA_VERSION ?= 2.3.0
export HYDRA_VERSION
HELM_VERSION ?= 4.3.2
export HELM_VERSION
NATS_VERSION ?= 2.15.3
export NATS_VERSION
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

.PHONY: helm
helm: ## Build the helm v$(HELM_VERSION) CLI, which the chart tests run, into the cache
	@scripts/install-helm.sh >/dev/null

.PHONY: nats
nats: ## Build nats-server v$(NATS_VERSION), the cluster feed's JetStream engine, into the cache
	@scripts/install-nats.sh >/dev/null

.PHONY: install
install: venv spire hydra helm nats ## Everything the tests need: .venv, the package, SPIRE, Hydra, helm, NATS

.PHONY: test
test: install ## Run the whole test suite, real SPIRE included
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" HYDRA_BIN_DIR="$$(scripts/install-hydra.sh)" \
		HELM_BIN_DIR="$$(scripts/install-helm.sh)" \
		NATS_BIN_DIR="$$(scripts/install-nats.sh)" $(PY) -m pytest $(PYTEST_ARGS)

.PHONY: unit
unit: venv helm ## Run only the fast unit tests (the chart tests run the real helm)
	HELM_BIN_DIR="$$(scripts/install-helm.sh)" $(PY) -m pytest tests/unit $(PYTEST_ARGS)

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

.PHONY: demo-mcp
demo-mcp: install ## An agent calls tools on a real MCP server through spiffebind's guard (needs root)
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" $(PY) -m spiffebind.demo.mcp_tools

.PHONY: run
run: install ## Start a throwaway SPIRE and run the daemon against it (Ctrl-C stops all)
	SPIRE_BIN_DIR="$$(scripts/install-spire.sh)" $(PY) -m spiffebind.testing.spirebed

.PHONY: bench
bench: install ## Benchmarks (never part of make test); writes bench/results.json and README's tables
	NATS_BIN_DIR="$$(scripts/install-nats.sh)" $(PY) -m bench
	$(PY) -m bench.readme

.PHONY: profile
profile: install ## py-spy the daemon under load per method; flame graphs and top.md in bench/profiles/
	$(PY) -m bench.flame

.PHONY: clean
clean: ## Remove the virtualenv and caches (not the SPIRE cache)
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis .import_linter_cache build *.egg-info
