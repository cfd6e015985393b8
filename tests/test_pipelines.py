"""Running a pipeline leaves the root logger usable."""

import logging
import queue
from logging.handlers import QueueHandler

from helpers.pipelines import run_pipeline


class FakePipeline:
    """Mimics distilabel: installs a root QueueHandler, then closes nothing but leaves it behind."""

    def __init__(self):
        self.kwargs = None

    def run(self, **kwargs):
        self.kwargs = kwargs
        logging.getLogger().addHandler(QueueHandler(queue.Queue()))
        return "distiset"


def test_runs_without_cache_and_removes_the_dead_queue_handler():
    pipeline = FakePipeline()
    assert run_pipeline(pipeline) == "distiset"
    assert pipeline.kwargs == {"use_cache": False}
    assert not any(isinstance(h, QueueHandler) for h in logging.getLogger().handlers)
