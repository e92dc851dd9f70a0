# borderx: every target makes or refreshes the local virtual environment itself.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 50051
# the default port's PKI is certs/dev; another port gets a PKI of its own whose directory and
# configs list that port, so CLI defaults and `doctor` point at the demo's gateways
PKI    ?= $(if $(filter 50051,$(PORT)),certs/dev,certs/dev-$(PORT))
PYTEST_ARGS ?=

LOCKS  := requirements/build.txt requirements/dev.txt requirements/runtime.txt
UV_COMPILE = $(VENV)/bin/uv pip compile --quiet --generate-hashes --universal --python-version 3.11

.PHONY: install demo test bench bench-peers bench-scale soak fuzz proto lint format clean postgres promtool lock

# every dependency comes from the hash-locked files (requirements/README.md); the project
# itself after them, with no dependency resolution and no build isolation
$(STAMP): pyproject.toml $(LOCKS) | sysdeps
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/build.txt
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)

$(PKI)/directory.json: | $(STAMP)
	$(VENV)/bin/borderx pki init --out $(PKI) --base-port $(PORT)

## make demo [PORT=N]: install, make a dev PKI if absent (ports N..N+4), run the five-agency federation
demo: $(STAMP) $(PKI)/directory.json
	$(VENV)/bin/borderx demo --pki $(PKI) --base-port $(PORT)

## make test: install and run the whole test suite (starting the local PostgreSQL if it is down)
test: $(STAMP) postgres promtool
	$(PY) -m pytest -q -p no:cacheprovider tests/unit tests/integration tests/federation $(PYTEST_ARGS)

## make fuzz: the RPC fuzz suite with many more examples per RPC (BORDERX_FUZZ_EXAMPLES, default 2000)
fuzz: $(STAMP)
	BORDERX_FUZZ_EXAMPLES=$${BORDERX_FUZZ_EXAMPLES:-2000} $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_fuzz.py $(PYTEST_ARGS)

## make lock: regenerate the hash-locked requirements/*.txt from pyproject.toml (uv pip compile)
lock: $(STAMP)
	$(UV_COMPILE) pyproject.toml -o requirements/runtime.txt
	$(UV_COMPILE) pyproject.toml requirements/build.in --extra test --extra dev \
	  --constraint requirements/runtime.txt -o requirements/dev.txt
	$(UV_COMPILE) requirements/build.in --constraint requirements/dev.txt -o requirements/build.txt

bench: $(STAMP)
	$(PY) -m tests.bench

## make bench-peers: the same job on borderx and on medallion 3.0.0 (TAXII 2.1), side by side; installs
## the peer into .venv-peers/ (never a project dependency); BORDERX_PEERS_N (default 10000) scales it
bench-peers: $(STAMP)
	$(PY) -m tests.bench.peers

## make bench-scale: the key figures at 10k, 100k and 1M stored statements as one markdown table
## (BORDERX_SCALE_SIZES, default 10000,100000,1000000)
bench-scale: $(STAMP)
	$(PY) -m tests.bench.scale

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
	rm -rf $(VENV) .venv-peers build src/*.egg-info

# The tests need PostgreSQL on 127.0.0.1:5432; start this machine's cluster when it is down.
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null || { \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start 2>/dev/null; \
	  for i in $$(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; } || true

# The alert rule tests need promtool (Debian's prometheus package): install it when absent,
# if this is a Debian machine and we are root; otherwise those tests skip and say why.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; }; } || \
	    echo "make: could not install Debian's prometheus package; the promtool tests will skip"; \
	  else echo "make: promtool is absent (Debian: apt-get install prometheus); the promtool tests will skip"; fi; }

# PyICU (through rigour, for name screening) is published as source only: it builds against
# the system's ICU, so it needs Debian's libicu-dev, pkg-config and a C++ compiler. Installed
# here when absent (as root on Debian, as CI runs), before the virtual environment is made.
sysdeps:
	@{ pkg-config --exists icu-uc 2>/dev/null && command -v g++ >/dev/null 2>&1; } || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    { apt-get install -y -qq --no-install-recommends libicu-dev pkg-config g++ >/dev/null 2>&1 || \
	      { apt-get update -qq >/dev/null 2>&1 && \
	        apt-get install -y -qq --no-install-recommends libicu-dev pkg-config g++ >/dev/null; }; }; \
	  else echo "make: PyICU needs ICU's headers and a C++ compiler (Debian: apt-get install libicu-dev pkg-config g++)"; fi; }
