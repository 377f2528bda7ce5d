# The two commands a newcomer runs: `make demo` and `make test`. The rest serve CI.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pyenv keeps one interpreter per version; put every 3.11+ it has on tox's PATH.
PYENV_PATH := $(shell command -v pyenv >/dev/null && pyenv versions --bare 2>/dev/null | grep -E '^3\.1[1-9]' | sed "s|^|$$(pyenv root)/versions/|; s|$$|/bin|" | tr '\n' ':')

.PHONY: demo test tox lint type docs ci clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml example_project/requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[server]' -r example_project/requirements.txt
	touch $@

$(VENV)/.test-installed: pyproject.toml scripts/system-deps.sh package-lock.json | $(BIN)/python
	scripts/system-deps.sh
	$(BIN)/python -m pip install --quiet -e '.[all,test]' tox
	touch $@

## demo: serve example_project on http://127.0.0.1:8000 with the embedded defaults
demo: $(VENV)/.demo-installed
	PATH="$(abspath $(BIN)):$$PATH" scripts/demo.sh

## test: install everything the suite needs and run all of it
test: $(VENV)/.test-installed
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report

## tox: the Django/Python matrix plus lint, type and docs (ENVS=... to pick)
tox: $(VENV)/.test-installed
	PATH="$(PYENV_PATH)$$PATH" $(BIN)/tox run $(if $(ENVS),-e $(ENVS))

lint type docs: $(VENV)/.test-installed
	$(BIN)/tox run -e $@

clean:
	rm -rf $(VENV) .tox build dist site .coverage example_project/staticfiles
