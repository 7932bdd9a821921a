# Two entry points: `make demo` and `make test`. Both build the venv from nothing.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo chaos bench test lint install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $@

install: $(BIN)/.installed

demo: install
	$(BIN)/agentstream demo

# Kill -9 each part of the platform under load; CHAOS_ARGS="--conversations 200" for a short run.
chaos: install
	$(BIN)/python -m bench.chaos $(CHAOS_ARGS)

# agentstream side by side with baselines (Celery+Redis, plain Kafka, asyncio) in one run;
# BENCH_ARGS="--quick" for a short smoke run, BENCH_ARGS="--phases hop,fanout" to pick phases.
bench: install
	bash scripts/install-bench-tools.sh
	$(BIN)/python -m bench.suite $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: install
	bash scripts/install-test-tools.sh
	bash scripts/install-prometheus.sh
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV)
