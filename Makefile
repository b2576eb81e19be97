# flyte-ls developer entry points. `make demo` and `make test` are all a fresh machine needs.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: all install test lint typecheck pytest vscode demo bench screenshots clean

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

# The VS Code extension (vscode-client/): npm ci when package-lock.json changed, then eslint, tsc --noEmit (strict),
# the unit tests (mocha, a stand-in for the vscode module), the contract tests (the real server over stdio on a
# local backend, with this checkout's .venv) and the .vsix (vsce, with a wheel of this checkout inside).
NPM_STAMP := vscode-client/node_modules/.installed-stamp
$(NPM_STAMP): vscode-client/package.json vscode-client/package-lock.json
	cd vscode-client && npm ci --no-audit --no-fund --loglevel=error
	@touch $(NPM_STAMP)

vscode: $(STAMP) $(NPM_STAMP)
	cd vscode-client && npm run --silent lint && npm run --silent typecheck && npm test --silent
	cd vscode-client && FLYTE_LS_PYTHON=$(abspath $(PY)) npm run --silent test:contract
	cd vscode-client && FLYTE_LS_PYTHON=$(abspath $(PY)) npm run --silent package

# Every test: Python (ruff, mypy, pytest) and TypeScript (the extension).
test: lint typecheck pytest vscode

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

# docs/images/console-*.png (the README's pictures of the local console): a fresh local backend runs the browser
# tests' workflows, headless Chromium (/usr/bin/chromium, driven by Playwright) shoots their pages.
screenshots: $(STAMP)
	$(PY) scripts/console_screenshots.py --out docs/images

clean:
	rm -rf $(VENV) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis
	rm -rf vscode-client/node_modules vscode-client/dist vscode-client/out vscode-client/bundled vscode-client/*.vsix
