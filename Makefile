# Two commands on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test

.PHONY: demo test venv bench clean

venv: $(RUNTIME)

# the runtime dependencies only: what `make demo` and a user of the toolkit need
$(RUNTIME): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $(RUNTIME)

# the same .venv plus the test and Spark extras
$(TESTING): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e '.[dev,spark]'
	# lifelines (the Cox model of alignment.impact) declares pandas<3 but runs on pandas 3: its own
	# dependencies first, then lifelines without letting pip downgrade pandas
	$(BIN)/python -m pip install --quiet autograd autograd-gamma formulaic
	$(BIN)/python -m pip install --quiet --no-deps 'lifelines>=0.30'
	@touch $(TESTING)

demo: $(RUNTIME)
	$(BIN)/alignment demo --out out/demo

test: $(TESTING)
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

bench: $(TESTING)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/panel.py
	$(BIN)/python benchmarks/importance.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/import_time.py

clean:
	rm -rf $(VENV) out .pytest_cache
