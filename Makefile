# borderx: every target makes or refreshes the local virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PKI    ?= certs/dev
PORT   ?= 50051
PYTEST_ARGS ?=

.PHONY: install demo test bench soak fuzz proto lint format clean postgres

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

## make test: install and run the whole test suite (starting the local PostgreSQL if it is down)
test: $(STAMP) postgres
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/integration tests/federation $(PYTEST_ARGS)

## make fuzz: the RPC fuzz suite with many more examples per RPC (BORDERX_FUZZ_EXAMPLES, default 2000)
fuzz: $(STAMP)
	BORDERX_FUZZ_EXAMPLES=$${BORDERX_FUZZ_EXAMPLES:-2000} $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_fuzz.py $(PYTEST_ARGS)

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

# The tests need PostgreSQL on 127.0.0.1:5432; start this machine's cluster when it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start 2>/dev/null; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; } || true
