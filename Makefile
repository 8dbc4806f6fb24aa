# The two commands a new user runs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench lint audit setup clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/fraud-warning demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check fraud_warning tests bench
	$(BIN)/ruff format --check fraud_warning tests bench
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies (fails CI; an unreachable audit
# service only warns), then bandit at medium severity and above.
audit: $(STAMP)
	$(BIN)/python .ci/audit.py
	$(BIN)/bandit -q -r fraud_warning -ll

clean:
	rm -rf $(VENV) feeds/cache .pytest_cache .mypy_cache .ruff_cache
