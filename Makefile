# Two commands do all set-up: `make run` starts the app, `make test` runs every check.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the requirement files' hash, so an edited pin reinstalls.
STAMP := $(VENV)/.installed-$(shell cat requirements/*.txt pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test ingest chromium

$(STAMP):
	@command -v $(PYTHON) >/dev/null || { echo "need Python 3.11 ($(PYTHON))"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first: the CPU build on disk; any other spec pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -r requirements/base.txt -r requirements/dev.txt
	$(BIN)/pip install -q --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/python app.py

ingest: $(STAMP)
	$(BIN)/opioid-assistant ingest

chromium:
	@command -v chromium >/dev/null || { apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null; }

test: $(STAMP) chromium
	$(BIN)/ruff check src tests app.py eval ingest
	$(BIN)/ruff format --check src tests app.py eval ingest
	$(BIN)/mypy
	$(BIN)/python -m pytest
