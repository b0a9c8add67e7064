# The only entry point people need. `make help` lists the targets.
PYTHON ?= python3
VENV   := .venv
UV     := $(VENV)/bin/uv
BIN    := $(VENV)/bin
SAMPLE := data/sample
OUT    := data/runs/latest
PEOPLE ?= 20000

# Prefect's state in the project; every other default is in flows/environment.py.
export PREFECT_HOME ?= $(CURDIR)/.state/prefect

SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: help install browser office run sample check test lint bench bench-scale evaluate serve stop clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --locked --all-extras --quiet --compile-bytecode  # Prefect starts 2x faster
	@touch $@

install: $(VENV)/.synced  ## create .venv from the lock file (uv, a few seconds)

browser:  ## headless Chromium for the report test (Debian's package)
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

office:  ## headless LibreOffice Calc for the review-workbook test (Debian's package)
	@command -v soffice >/dev/null || { $(SUDO) apt-get update -qq && \
	  $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libreoffice-calc-nogui >/dev/null; }

sample: install  ## generate sample data (PEOPLE=20000) into data/sample
	$(BIN)/reconcile generate --out $(SAMPLE) --people $(PEOPLE) --seed 7

run: sample  ## set up, generate sample data, run the whole flow, print where the outputs are
	$(BIN)/reconcile run --kemensos $(SAMPLE)/kemensos_*.csv --bps $(SAMPLE)/bps_register.parquet \
	  --stats $(SAMPLE)/bps_poverty_stats.csv --out $(OUT)

check: install  ## the fast loop (about a minute): contracts, lint, types, tests without flows or browser
	$(BIN)/lint-imports
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile -m "not flow and not slow and not browser"

test: install browser office  ## architecture contract, lint, types, then the test suite
	$(BIN)/lint-imports
	$(BIN)/ruff check --quiet .
	$(BIN)/mypy
	$(BIN)/pytest -q -n 2 --dist loadfile

lint: install  ## ruff and the architecture contract
	$(BIN)/ruff check .
	$(BIN)/lint-imports

bench: install  ## quality and speed against Splink at 200k and 1M people and on ../shared's independent data, then the stress matrix
	$(BIN)/reconcile bench --people 200000 --people 1000000
	$(BIN)/python -m synth.bench independent
	$(BIN)/python -m synth.bench.stress 200000

evaluate: install  ## compare the sample run's findings with the generator's truth
	$(BIN)/reconcile evaluate --out $(OUT) --truth $(SAMPLE)

bench-scale: install  ## 10M register people in one province (Jawa Barat), regency split on and off (not in CI)
	@test -f data/scale/bps_register.parquet || \
	  $(BIN)/reconcile generate --out data/scale --people 10000000 --province 32 --seed 13
	$(BIN)/python -m synth.bench.scale data/scale data/runs/scale-split --split-above 5000000
	$(BIN)/python -m synth.bench.scale data/scale data/runs/scale-whole

serve: install  ## local Prefect server on 127.0.0.1 serving the nightly and manual deployments
	$(BIN)/python -m flows.serve start

stop:  ## stop what `make serve` started
	$(BIN)/python -m flows.serve stop

clean:  ## remove generated data, runs and the environment
	rm -rf $(VENV) .state data/sample data/runs data/bench data/scale
