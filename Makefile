# Two set-up commands for a fresh Debian/Ubuntu machine: `make demo` and `make test`; `make check` is the
# quick loop (the unit tier and the import contracts: no servers, about half a minute).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# pytest-xdist workers: one per core (auto); the suite mostly waits on servers and child processes
PYTEST_WORKERS ?= auto

.PHONY: demo test check dist debian-deps bench clean

$(VENV)/.installed-%: pyproject.toml setup.py watertel/_payload.c
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$*]'
	@touch $@

demo: $(VENV)/.installed-dev
	$(PY) -m watertel demo

debian-deps:
	@deploy/install-debian-deps.sh

test: debian-deps $(VENV)/.installed-dev
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadgroup --durations=20

check: $(VENV)/.installed-dev
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) tests/unit tests/test_layers.py

# A wheel and an sdist in dist/ for a gateway (deploy/install-edge.sh). The wheel is pure Python
# (py3-none-any: one file for x86-64 and a Raspberry Pi, no compiler needed); the sdist keeps the C
# payload code, built where pip finds a compiler (setup.py).
dist: $(VENV)/.installed-dev
	rm -rf dist
	WATERTEL_PURE_WHEEL=1 $(PY) -m build --outdir dist .
	@ls -l dist

bench: $(VENV)/.installed-dev
	@for b in bench/bench_*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) demo-data .pytest_cache build dist *.egg-info
