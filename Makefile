# Two commands for a newcomer:  make demo   (set up, analyse the sample patient -> out/patient01/report.html)
#                               make test   (set up, run the test suite)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := sample_data/patient01

.PHONY: demo test setup baseline browser dicom-tools postgres benchmark clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

baseline: .venv-baseline/.installed

.venv-baseline/.installed: benchmarks/baseline/requirements.txt benchmarks/baseline/setup.sh
	bash benchmarks/baseline/setup.sh $(PYTHON)
	touch $@

demo: setup
	$(BIN)/dosimetry analyze $(SAMPLE) --out out/patient01
	@echo "open out/patient01/report.html"

# The report test renders the HTML in Debian's headless Chromium; install it when missing.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "make test needs Chromium: run 'sudo apt-get install chromium'" >&2; exit 1; fi; }

# The cohort database tests start a throwaway PostgreSQL server (tests/postgres_server.py) from
# Debian's postgresql package; install it when missing.
postgres:
	@ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "make test needs PostgreSQL: run 'sudo apt-get install postgresql'" >&2; exit 1; fi; }

# The DICOM node's end-to-end test sends with dcmtk's storescu/echoscu (Debian's dcmtk); install it when missing.
dicom-tools:
	@command -v storescu >/dev/null 2>&1 && command -v echoscu >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dcmtk >/dev/null; \
	  else echo "make test needs dcmtk (storescu, echoscu): run 'sudo apt-get install dcmtk'" >&2; exit 1; fi; }

test: setup baseline browser dicom-tools postgres
	$(BIN)/ruff check dosimetry pipelines tests benchmarks
	$(BIN)/mypy
	DOSIMETRY_REQUIRE_POSTGRES=1 $(BIN)/python -m pytest

benchmark: setup baseline
	for script in benchmarks/*.py; do case $$script in */__init__.py) ;; *) $(BIN)/python $$script ;; esac; done

clean:
	rm -rf $(VENV) .venv-baseline .pytest_cache .hypothesis
