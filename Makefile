# The two commands most people need: `make demo` and `make test`. Both install first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint format lock sandbox clean

install: $(STAMP)

$(STAMP): requirements.lock pyproject.toml scripts/bootstrap.sh
	@bash scripts/bootstrap.sh

demo: install
	@$(PY) scripts/demo.py

test: install
	@bash scripts/run_tests.sh

# Unit tests only: no sandbox servers, no Airflow runs.
test-fast: install
	@$(PY) -m pytest -q tests/unit

lint: install
	@$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: install
	@$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# Re-resolve requirements.in into the committed lock (needs the package index).
lock:
	@uv pip compile -q --python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--generate-hashes requirements.in -o requirements.lock

# Serve the two sandbox APIs on loopback until interrupted.
sandbox: install
	@$(PY) -m sandbox serve

clean:
	rm -rf $(VENV) .build .airflow reports
