"""Helpers for the preference-datasets course kit: presets, pipelines, ratings, pairs, checks."""

import warnings

# distilabel 1.5.3 declares a few pydantic fields in a way pydantic 2.11+ warns about at import;
# the warning is about distilabel's code, not the learner's, so keep it out of the notebooks.
warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`")

import logging

# The chapter calls tasks on their own (`task.load(); next(task.process(...))`), which distilabel
# supports but greets with "Step 'None' hasn't received a pipeline" on every creation.
logging.getLogger("distilabel.step.None").setLevel(logging.ERROR)
