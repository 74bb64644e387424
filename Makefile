# The README's two commands: `make run` (set up + main job) and `make test` (set up + tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ROWS ?= 200000

.PHONY: run test setup setup-dev browser clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev,spark]'

# Debian's chromium renders the fairness report in a headless test; installed when missing and we are root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the report screenshot test will be skipped"; }

run: setup
	$(BIN)/thinfile run --rows $(ROWS)

test: setup-dev browser
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest

clean:
	rm -rf $(VENV) mlruns/mlflow.db mlruns/artifacts data/synthetic/population data/synthetic/DATACARD.md
