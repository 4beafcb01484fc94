# Two entry points (see README): `make demo` and `make test`. Each creates .venv and
# installs what it needs on first use, with uv (installed into .venv by pip: a newcomer's
# machine needs only Python and git). `make demo` installs mlci and the example's
# scikit-learn; `make test` adds the test tools. `make test-fast` is the edit-test loop.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
DEMO_STAMP := $(VENV)/.mlci-demo
TEST_STAMP := $(VENV)/.mlci-test
.PHONY: demo test test-fast refs tools browser bench lint clean

$(UV):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv

$(DEMO_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) -e ".[example]"
	touch $@

$(TEST_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --python $(PY) -e ".[test]"
	touch $@

demo: $(DEMO_STAMP)
	$(PY) examples/demo.py

refs:
	scripts/fetch-github-refs

tools:
	scripts/fetch-test-tools

# The browser tests drive Debian's Chromium headless; install it when missing.
browser:
	@command -v chromium >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

# Everything; what .ci/run calls.
test: lint $(TEST_STAMP) refs tools browser
	$(PY) -m pytest

# ruff (lint and format) and mypy, with the versions pinned in the test extra
LINTED := mlci tests benchmarks examples
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy mlci

# The edit-test loop: every test not marked slow (no DVC pipeline run, no browser, no act).
test-fast: $(TEST_STAMP) refs
	$(PY) -m pytest -m "not slow" -q

bench: $(TEST_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) .cache .pytest_cache
