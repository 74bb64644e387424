# The README's two commands: `make run` (set up + main job) and `make test` (set up + gates + tests + packaging).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ROWS ?= 200000
PIP := $(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt

.PHONY: run test setup setup-spark setup-dev browser gates pytest package clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(PIP) -e .

# the Spark engine (`thinfile batch-score --engine spark`): pyspark beside the package; Spark needs Java 17
setup-spark: $(BIN)/python
	$(PIP) -e '.[spark]'

setup-dev: $(BIN)/python
	$(PIP) -e '.[dev,spark,bench]'

# Debian's chromium renders the reports and the MLflow UI in headless tests; installed when missing and we are root.
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) || echo "chromium not installed: the browser tests will be skipped"; }

run: setup
	$(BIN)/thinfile run --rows $(ROWS)

gates: setup-dev
	BIN=$(BIN) .ci/gates

pytest: setup-dev browser
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/pytest

# the wheel in a fresh venv without the source tree: --help, a tiny `thinfile run`, `bentoml build`, and the
# Bento served by its tag answering one /score
package: setup-dev
	PYTHON=$(PYTHON) .ci/wheel-smoke

test: gates pytest package

clean:
	rm -rf $(VENV) build dist mlruns/mlflow.db mlruns/artifacts data/synthetic/population data/synthetic/DATACARD.md
