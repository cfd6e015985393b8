"""Running distilabel pipelines from a notebook: no cache, and a root logger left usable afterwards."""

from __future__ import annotations

import logging
from logging.handlers import QueueHandler


def run_pipeline(pipeline):
    """Run a distilabel pipeline without its cache and return the Distiset."""
    # Resuming from distilabel's cache can hang in a notebook; lessons that are not about the cache
    # always run fresh.
    try:
        return pipeline.run(use_cache=False)
    finally:
        # distilabel 1.5.3 leaves a QueueHandler on the root logger whose queue it has closed: every
        # later log line (e.g. a task's warning when called directly) prints a "Logging error" traceback.
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, QueueHandler)]:
            root.removeHandler(handler)
