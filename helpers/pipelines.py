"""Running distilabel pipelines from a notebook: no cache, and a root logger left usable afterwards."""

from __future__ import annotations

from helpers.workarounds import remove_closed_log_queues


def run_pipeline(pipeline):
    """Run a distilabel pipeline without its cache and return the Distiset."""
    # Resuming from distilabel's cache can hang in a notebook; lessons that are not about the cache
    # always run fresh.
    try:
        return pipeline.run(use_cache=False)
    finally:
        remove_closed_log_queues()
