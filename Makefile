# Two commands for a newcomer:  make demo   (set up, run the analysis on the sample patient)
#                               make test   (set up, run the test suite)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SAMPLE := sample_data/patient01

.PHONY: demo test setup baseline benchmark clean

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
	$(BIN)/dosimetry inspect $(SAMPLE)

test: setup baseline
	$(BIN)/python -m pytest

benchmark: setup baseline
	for script in benchmarks/*.py; do case $$script in */__init__.py) ;; *) $(BIN)/python $$script ;; esac; done

clean:
	rm -rf $(VENV) .venv-baseline .pytest_cache .hypothesis
