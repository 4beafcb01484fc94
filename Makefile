# Two entry points (see README): `make demo` and `make test`. Each creates .venv and
# installs what it needs on first use, with uv (installed into .venv by pip: a newcomer's
# machine needs only Python and git). `make demo` installs mlci and the example's
# scikit-learn; `make test` adds the test and lint tools. `make test-fast` is the edit-test loop.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
UV     := $(VENV)/bin/uv
DEMO_STAMP := $(VENV)/.mlci-demo
TEST_STAMP := $(VENV)/.mlci-test
.PHONY: demo test docs docs-images test-fast test-dvc-compat refs tools browser bench lint clean

# Packages are compiled to bytecode when installed (uv's --compile-bytecode): where
# PYTHONDONTWRITEBYTECODE is set (some shells and CI images set it) no interpreter keeps what it
# compiles, so every mlci and dvc process the tests and the demo start would compile DVC,
# Great Expectations and MLflow from source again: 10.3 s to import the three without compiled
# files, 5.1 s with them, measured on the development machine. mlci itself is installed
# editable, so compileall compiles it as a wheel install would (a later edit makes a file's
# compiled copy stale, and Python then compiles that file as before).
$(UV):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv

$(DEMO_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e ".[example]"
	$(PY) -m compileall -q mlci
	touch $@

$(TEST_STAMP): pyproject.toml | $(UV)
	$(UV) pip install --quiet --compile-bytecode --python $(PY) -e ".[test,lint,spark,docs]"
	$(PY) -m compileall -q mlci
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

# Test workers (pytest-xdist): one per core. Each worker builds its own session fixtures in its
# own temporary folder; `--dist loadfile` keeps a module's tests on one worker, so a module
# fixture (a corpus project, an MLflow server) is built once. `make test WORKERS=0` runs serially.
# (make test-fast runs in one process.)
WORKERS ?= auto
XDIST := -n $(WORKERS) --dist loadfile

# Everything; what .ci/run calls (then `make test-dvc-compat`).
test: lint docs $(TEST_STAMP) refs tools browser
	$(PY) -m pytest $(XDIST)

# The DVC-facing tests against the oldest DVC that pyproject.toml allows (`make test` ran them
# against the newest): a second venv, the same install but for DVC and without Spark (its
# sdist builds to about 1.4 GB of cache on every fresh install, and no DVC-facing code touches it). mlci uses DVC internals
# (mlci/adapters/dvc/_compat.py), so both ends of the declared range are tested.
DVC_OLDEST := $(shell sed -n 's/^ *"dvc>=\([0-9.]*\),.*/\1/p' pyproject.toml)
COMPAT_VENV ?= .venv-dvc-oldest
COMPAT_STAMP := $(COMPAT_VENV)/.mlci-dvc-$(DVC_OLDEST)
DVC_TESTS := tests/test_dvc_compat.py tests/test_check.py tests/test_compare.py \
	tests/test_repro.py tests/test_plots.py tests/test_hook.py tests/test_init.py \
	tests/test_doctor.py tests/test_validate.py tests/test_corpus_fresh.py \
	tests/test_corpus_failclosed.py tests/test_corpus_plots_subdir.py

$(COMPAT_STAMP): pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PY) $(COMPAT_VENV)
	$(UV) pip install --quiet --compile-bytecode --python $(COMPAT_VENV)/bin/python -e ".[test]" "dvc==$(DVC_OLDEST).0"
	touch $@

test-dvc-compat: $(COMPAT_STAMP) refs
	$(COMPAT_VENV)/bin/python -c "import dvc; print('DVC', dvc.__version__)"
	$(COMPAT_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not spark" $(XDIST) $(DVC_TESTS)

# ruff (lint and format), mypy and zizmor, with the versions pinned in the lint extra. zizmor
# runs offline (no GitHub API look-ups) with the exceptions in zizmor.yml; the workflow
# `mlci init` writes is linted by tests/test_workflow_lint.py.
LINTED := mlci tests benchmarks examples
WORKFLOWS := $(wildcard examples/workflows/*.yml .github/workflows/*.yml) action.yml
lint: $(TEST_STAMP)
	$(VENV)/bin/ruff check $(LINTED)
	$(VENV)/bin/ruff format --check $(LINTED)
	$(VENV)/bin/mypy mlci
	$(VENV)/bin/zizmor --offline --no-progress --config zizmor.yml $(WORKFLOWS)

# The edit-test loop: every test not marked slow (no DVC pipeline run, no browser, no act). In one
# process: its tests are short, and two workers' start-up made it slower (53 s serial, 69 s
# with -n 2, measured side by side on the 2-core machine at load average 4).
test-fast: $(TEST_STAMP) refs
	$(PY) -m pytest -m "not slow" -q

# The documentation site (mkdocs.yml, docs/) built strict into site/ (ignored): a broken link,
# a missing page or a page left out of the nav is an error. `make test` builds it first.
docs: $(TEST_STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The README's picture, docs/images/report.png: the demo's failing pull-request comment rendered
# as GitHub renders it, in headless Chromium (scripts/docs-images; runs `make demo` first when
# demo-reports/ has no report). Committed; run again after a change to the report.
docs-images: $(DEMO_STAMP) browser
	@fc-list | grep -qi emoji || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji; }
	$(PY) scripts/docs-images

bench: $(TEST_STAMP)
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) $(COMPAT_VENV) .cache .pytest_cache
