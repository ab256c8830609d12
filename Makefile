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

# Instructor tools (nbgrader, jupyter-server-proxy, JupyterHub + configurable-http-proxy) live
# apart from the learner's .venv: nbgrader adds JupyterLab extensions a learner must not get.
CLASSROOM_VENV  := build/classroom-venv
CLASSROOM_STAMP := $(CLASSROOM_VENV)/.installed-stamp
CHP_VERSION     := 5.3.0
CHP             := build/node/node_modules/.bin/configurable-http-proxy


.PHONY: lab test lint unit asynciodebug nbval browser notebooks exercises bench mutants clean help classroom web

help:
	@echo "make lab        open the course in JupyterLab (your exercise copies: my-work/)"
	@echo "make test       lint + every test (unit, real sockets, nbval, browser)"
	@echo "make notebooks  re-execute notebooks/ and solutions/ in place (refresh stored outputs)"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make classroom  instructor tools for the classroom tests (build/classroom-venv, build/node)"
	@echo "make mutants    mutation testing of the checkers (a few minutes; not part of make test)"
	@echo "make web        rebuild the React lab's vendored libraries (needs node + npm)"

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
	@# default checks on wslearn/, strict on the pure core ([tool.mypy] in pyproject.toml)
	$(VENV)/bin/mypy
	$(PY) -m wslearn build --check

unit: $(STAMP) classroom
	$(PY) -m pytest tests

# The classroom tests (nbgrader round trip, jupyter-server-proxy, JupyterHub) use these; both
# are kept between runs (CI can cache build/classroom-venv and build/node).
classroom: $(CLASSROOM_STAMP) $(CHP)

$(CLASSROOM_STAMP): pyproject.toml constraints.txt
	@test -x $(CLASSROOM_VENV)/bin/python || $(PYTHON) -m venv $(CLASSROOM_VENV)
	$(CLASSROOM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(CLASSROOM_VENV)/bin/python -m pip install --quiet -c constraints.txt -e '.[test,classroom]'
	@touch $(CLASSROOM_STAMP)

$(CHP):
	@if command -v npm >/dev/null 2>&1; then \
		npm install --silent --no-audit --no-fund --prefix build/node configurable-http-proxy@$(CHP_VERSION); \
	else \
		echo "npm not found: the JupyterHub test skips (CI fails); install nodejs and npm"; \
	fi

nbval: $(STAMP)
	@if [ -n "$(NBVAL_DIRS)" ]; then $(PY) -m pytest --nbval --nbval-current-env -o testpaths= $(NBVAL_DIRS); else echo "no notebooks yet"; fi
	@# exercise notebooks have no stored outputs: they must only run top to bottom without error
	@if [ -n "$(EXERCISES)" ]; then $(PY) -m pytest --nbval-lax --nbval-current-env -o testpaths= $(EXERCISES); fi

# The asyncio code -- the client driver, the clocks, the simulated network, the app and the
# fault matrix (real and simulated) -- once more under asyncio's debug mode; tests/conftest.py
# fails a test during which asyncio reports a problem. A subset: debug mode costs about 4x
# the CPU, and the whole suite's load tests (200 concurrent clients) then time out on a
# busy 2-core machine; the pure core's tests run no event loop, so debug mode adds nothing.
ASYNCIO_DEBUG_TESTS := tests/test_clock.py tests/test_client.py tests/test_simnet.py \
	tests/test_fault_matrix.py tests/test_topics.py tests/test_app.py tests/test_lessons_naive.py
asynciodebug: $(STAMP)
	PYTHONASYNCIODEBUG=1 $(PY) -m pytest -q $(ASYNCIO_DEBUG_TESTS)

test: lint unit asynciodebug nbval

notebooks: $(STAMP)
	$(PY) -m wslearn execute notebooks solutions

exercises: $(STAMP)
	$(PY) -m wslearn build

# Every checker against every mutant of its solution; fails below 95 % killed per exercise
# or on a survivor not explained in tests/mutants/equivalent.txt.
mutants: $(STAMP)
	WSLEARN_HOME=$(CURDIR)/build/wslearn-home $(PY) -m wslearn.checks.mutation

bench: $(STAMP)
	@for b in bench/*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The React lab's libraries (React, ReactDOM, TanStack Query, sucrase), bundled from the
# pinned web/package-lock.json into wslearn/react/vendor/. Learners never need this.
web:
	cd web && npm ci --no-audit --no-fund && node build.mjs

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
