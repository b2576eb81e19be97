# flyte-ls developer entry points. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all install test lint typecheck pytest demo bench clean

all: test

$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,test-flytekit]'
	@touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check flyte_ls tests bench scripts
	$(VENV)/bin/ruff format --check flyte_ls tests bench scripts

typecheck: $(STAMP)
	$(VENV)/bin/mypy

# pytest exits 5 when it collected no tests (e.g. a PYTEST_ARGS filter that matches nothing): not a failure.
pytest: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$rc

# Python tests, lint and type checks. (The TypeScript tests join when vscode-client/ lands.)
test: lint typecheck pytest

# The main job on the embedded default: lint the example project, a scripted editor session over stdio, then an
# editor running example workflows through the server on the embedded local Flyte backend (status, outputs, the
# failure on its raising line), and the same backend serving unmodified pyflyte and FlyteRemote.
demo: $(STAMP)
	@echo "== flyte-ls check examples/  (examples/mistakes.py has deliberate errors: exit status 1 is expected)"
	@$(VENV)/bin/flyte-ls check examples/; rc=$$?; echo "(exit status $$rc)"; test $$rc -eq 1
	@echo
	@echo "== scripted editor session over stdio"
	$(PY) scripts/demo_session.py examples
	@echo
	@echo "== the editor runs workflows through the server on the local Flyte backend (flyte-ls local)"
	$(PY) scripts/demo_run.py examples

bench: $(STAMP)
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
