# The two commands a learner or instructor needs: `make lab` and `make test`.
# Both create .venv from pyproject.toml + constraints.txt on first use.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
NBVAL_DIRS := $(wildcard notebooks/*.ipynb solutions/*.ipynb)
# Checkers record progress; validating solutions must not mark a learner's exercises passed.
nbval notebooks: export WSLEARN_HOME = $(CURDIR)/build/wslearn-home
EXERCISES  := $(wildcard exercises/*.ipynb)

.PHONY: lab test lint unit nbval browser notebooks exercises bench clean help

help:
	@echo "make lab        open the course in JupyterLab (your exercise copies: my-work/)"
	@echo "make test       lint + every test (unit, real sockets, nbval, browser)"
	@echo "make notebooks  re-execute notebooks/ and solutions/ in place (refresh stored outputs)"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make bench      run the benchmarks in bench/"

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "wslearn needs Python >= 3.11; set PYTHON=python3.11")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[test]'
	@touch $(STAMP)

# `python -m wslearn lab` (wslearn/mywork.py, also what the journey tests start): first
# copies the exercises you do not have yet into my-work/ (never overwriting) and turns
# JupyterLab's news pop-up off for this environment; then runs JupyterLab with the
# repository root as Jupyter's root (notebooks/, my-work/, exercises/, solutions/, docs/
# all reachable), landing on chapter 00 (--allow-root only when run as root).
lab: $(STAMP)
	$(PY) -m wslearn lab

lint: $(STAMP)
	$(VENV)/bin/ruff check wslearn tests bench
	$(PY) -m wslearn build --check

unit: $(STAMP)
	$(PY) -m pytest tests

nbval: $(STAMP)
	@if [ -n "$(NBVAL_DIRS)" ]; then $(PY) -m pytest --nbval --nbval-current-env -o testpaths= $(NBVAL_DIRS); else echo "no notebooks yet"; fi
	@# exercise notebooks have no stored outputs: they must only run top to bottom without error
	@if [ -n "$(EXERCISES)" ]; then $(PY) -m pytest --nbval-lax --nbval-current-env -o testpaths= $(EXERCISES); fi

test: lint unit nbval

notebooks: $(STAMP)
	$(PY) -m wslearn execute notebooks solutions

exercises: $(STAMP)
	$(PY) -m wslearn build

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
