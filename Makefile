# workbench — the front door. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export PYTHONHASHSEED := 0
export MPLBACKEND := Agg

.PHONY: help setup demo test reports lab lint format bench clean browser

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[1m%-10s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/workbench kernel install
	@touch $(STAMP)

setup: $(STAMP) ## Create .venv, install the project and register the Jupyter kernel 'workbench'

demo: $(STAMP) ## Set up, generate the demo data, run the Västernorrland + national reports, write reports/index.html
	$(BIN)/workbench demo

reports: $(STAMP) ## Run the report for all 290 municipalities and the nation
	@test -f data/demo/manifest.json || $(BIN)/workbench synth
	$(BIN)/workbench run --all --national

test: $(STAMP) browser ## Set up and run the whole test suite
	$(BIN)/python -m pytest -n 2 --dist loadgroup

browser: ## Install Debian's Chromium for the browser tests (needs root and apt; never a downloaded browser)
	@if command -v chromium >/dev/null 2>&1; then \
	  echo "Chromium: $$(command -v chromium)"; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "Chromium not installed and cannot install it here (needs root and apt): browser tests will skip"; \
	fi

bench: $(STAMP) ## Run the benchmarks (medians and ratios against a baseline in the same run)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lab: $(STAMP) ## Start JupyterLab with the 'workbench' kernel
	$(BIN)/jupyter lab --notebook-dir=notebooks

lint: $(STAMP) ## Lint and check formatting
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

format: $(STAMP) ## Format the code
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

clean: ## Remove generated data, runs and reports (keeps .venv)
	rm -rf data/demo runs reports/*/ reports/index.html
