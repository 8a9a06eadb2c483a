# Fluxion: `make run` installs everything and runs the demo; `make test` runs the tests.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export MPLBACKEND := Agg
# On machines without a GPU take PyTorch's CPU wheel (a bare `torch` pulls a multi-GB CUDA build).
TORCH ?= torch==2.13.0

.PHONY: install run test lint ui viz clean-outputs

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Fluxion needs Python 3.11 ($(PYTHON) not found); set PYTHON=..." >&2; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q --only-binary=:all: -e '.[test,reference]'
	$(BIN)/python -c "import fluxion, torch, kedro, mlflow, gtda" && touch $(STAMP)

install: $(STAMP)  ## create .venv and install Fluxion with everything it needs

run: $(STAMP)  ## run the whole default pipeline (on the embedded demo movies when data/01_raw/movies/ holds none)
	@# the demo's incoming movie only while the demo runs: never into a user's own setup
	@if [ -z "$$(ls -A data/01_raw/movies 2>/dev/null | grep -v '^\.gitkeep$$')" ]; then \
		$(BIN)/python -m fluxion.simulate --incoming data/01_raw/incoming; fi
	$(BIN)/kedro run

test: $(STAMP)  ## run the test suite
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

ui: $(STAMP)  ## MLflow UI (runs, metrics, registered models) on http://127.0.0.1:5000
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port 5000

viz: $(STAMP)  ## kedro-viz on http://127.0.0.1:4141
	$(BIN)/kedro viz run --host 127.0.0.1 --port 4141 --no-browser
