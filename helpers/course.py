"""Where the course lives: the one place a fork changes its GitHub owner/name, and the Colab setup commands."""

from __future__ import annotations

# Forks: change REPO (and BRANCH if needed), then run `make navigation` to rewrite every badge and setup cell.
REPO = "ngoctnq/preference-datasets-kit"
BRANCH = "main"

# The exercise's instructions (solutions/preference_dpo_dataset.ipynb shows them to learners), reused where a
# script needs the same rows: notebook 05's fallback dataset and the benchmark.
EXERCISE_INSTRUCTIONS = (
    "What is synthetic data?",
    "Give three tips for writing a clear email.",
    "Why is the sky blue?",
    "Explain what a preference dataset is.",
    "How do I make a cup of green tea?",
    "What is the difference between weather and climate?",
)

COLAB_DIR = "/content/" + REPO.split("/")[1]  # where the setup cell clones the repository on Colab

# Packages that Colab already ships in a build that matches its GPU and kernel: reinstalling torch would fetch
# a multi-GB wheel and could swap the CUDA build; replacing jupyterlab/ipykernel/ipywidgets can break the Colab
# kernel until a restart. Every other pin of requirements.txt is installed as it is.
COLAB_KEEPS = ("torch", "jupyterlab", "ipykernel", "ipywidgets")

# Run in order with `&&` by the setup cell (only on Colab) and quoted in the README's "Chạy trên Colab" section.
COLAB_COMMANDS = (
    # `test -d ... ||`: after an interrupted install, running the cell again resumes instead of failing to clone.
    f"test -d {COLAB_DIR} || git clone --depth 1 --branch {BRANCH} https://github.com/{REPO}.git {COLAB_DIR}",
    f"cd {COLAB_DIR}",
    "pip install --quiet $(grep -vE '^(#|" + "|".join(f"{name}==" for name in COLAB_KEEPS) + ")' requirements.txt)",
    "pip install --quiet --no-deps -r requirements-nodeps.txt",
    "pip install --quiet --no-deps -e .",
)
