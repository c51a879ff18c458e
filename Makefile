# Two commands on a fresh machine with Python 3.11+ and make: `make demo`, `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test venv bench clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/alignment kpis data/demo/contacts.csv --surveys data/demo/surveys.csv \
		--extra data/demo/backlog.csv,by=queue,aggregate=mean \
		--extra data/demo/marketing.csv,aggregate=sum \
		--extra data/demo/staffing.csv,by=queue,aggregate=sum \
		--grain week --by queue --timezone America/New_York \
		--start 2025-01-06 --end 2026-01-04 --out out/demo/panel.csv

test: $(STAMP)
	$(BIN)/python -m pytest -q -n 2

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/panel.py
	$(BIN)/python benchmarks/importance.py

clean:
	rm -rf $(VENV) out .pytest_cache
