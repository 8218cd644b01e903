# Two set-up commands for a fresh Debian/Ubuntu machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test debian-deps bench clean

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
	$(PY) -m pytest -q

bench: $(VENV)/.installed-dev
	@for b in bench/bench_*.py; do $(PY) $$b; done

clean:
	rm -rf $(VENV) demo-data .pytest_cache build *.egg-info
