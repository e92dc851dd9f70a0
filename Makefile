# borderx: every target makes or refreshes the local virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PKI    ?= certs/dev
PORT   ?= 50051
PYTEST_ARGS ?=

.PHONY: install demo test bench soak proto lint format clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

$(PKI)/directory.json: | $(STAMP)
	$(VENV)/bin/borderx pki init --out $(PKI)

## make demo: install, make a dev PKI if absent, run the five-agency federation
demo: $(STAMP) $(PKI)/directory.json
	$(VENV)/bin/borderx demo --pki $(PKI) --base-port $(PORT)

## make test: install and run the whole test suite
test: $(STAMP)
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/integration tests/federation $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m tests.bench

## make soak: a long kill -9 run over a five-gateway federation (BORDERX_SOAK_CYCLES, default 100)
soak: $(STAMP)
	$(PY) -m tests.federation.soak

proto: $(STAMP)
	$(PY) proto/generate.py

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests proto
	$(VENV)/bin/ruff format --check src tests proto
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format src tests proto
	$(VENV)/bin/ruff check --fix src tests proto

clean:
	rm -rf $(VENV) build src/*.egg-info
