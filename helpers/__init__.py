"""Helpers for the preference-datasets course kit: presets, pipelines, ratings, pairs, checks."""

import warnings

# distilabel 1.5.3 declares a few pydantic fields in a way pydantic 2.11+ warns about at import;
# the warning is about distilabel's code, not the learner's, so keep it out of the notebooks.
warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`")

import logging
import os

# distilabel logs every batch of every step at INFO, with paths and timestamps: dozens of lines per
# cell that bury the lesson. Warnings and errors still show; set DISTILABEL_LOG_LEVEL=INFO to see all.
os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")

# The chapter calls tasks on their own (`task.load(); next(task.process(...))`), which distilabel
# supports but greets with "Step 'None' hasn't received a pipeline" on every creation.
logging.getLogger("distilabel.step.None").setLevel(logging.ERROR)


def restore_plain_tracebacks() -> None:
    """Undo the rich tracebacks that `import distilabel` installs, in IPython and in plain Python."""
    # distilabel calls rich.traceback.install(show_locals=True) on import: in a notebook every error
    # then prints a box with the locals of every frame (whole models, tokenizers), burying the one
    # line a learner needs, and Jupyter stores it as display data instead of an error.
    import sys

    import distilabel  # noqa: F401  (the install happens on its first import)

    sys.excepthook = sys.__excepthook__
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return
    for name in ("_showtraceback", "showtraceback", "showsyntaxerror"):
        shell.__dict__.pop(name, None)  # rich set them on the instance; the class methods remain


restore_plain_tracebacks()
