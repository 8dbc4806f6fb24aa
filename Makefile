# The two commands a new user runs: `make demo` and `make test`. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NATIVE := $(VENV)/.native

.PHONY: demo test bench lint audit setup interpreted clean

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip "setuptools>=77"
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# The per-event modules compiled with mypyc (build_native.py): 1.4-1.6x faster, the same
# alerts; and the huge-page arena allocator (fraud_warning/_hugepages.c). Without a C
# compiler, or with FW_INTERPRETED=1, the package runs interpreted.
$(NATIVE): $(STAMP) build_native.py $(wildcard fraud_warning/*.py fraud_warning/*.c fraud_warning/stages/*.py)
	$(BIN)/python build_native.py
	touch $(NATIVE)

setup: $(NATIVE)

interpreted: $(STAMP)
	$(BIN)/python build_native.py --clean
	rm -f $(NATIVE)

demo: $(NATIVE)
	$(BIN)/fraud-warning demo

test: $(NATIVE)
	$(BIN)/python -m pytest -q

# as the worker image runs: glibc's large blocks on huge pages (docs/operations.md)
bench: $(NATIVE)
	GLIBC_TUNABLES=glibc.malloc.hugetlb=1 $(BIN)/python -m bench

lint: $(STAMP)
	$(BIN)/ruff check fraud_warning tests bench build_native.py
	$(BIN)/ruff format --check fraud_warning tests bench build_native.py
	$(BIN)/mypy

# Known vulnerabilities in the installed dependencies (fails CI; an unreachable audit
# service only warns), then bandit at medium severity and above.
audit: $(STAMP)
	$(BIN)/python .ci/audit.py
	$(BIN)/bandit -q -r fraud_warning -ll

clean:
	rm -rf $(VENV) feeds/cache .pytest_cache .mypy_cache .ruff_cache build fraud_warning/*.so fraud_warning/stages/*.so
