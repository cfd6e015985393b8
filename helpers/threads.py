"""CPU threads per process: one in each of a pipeline's step processes, every core in the notebook's kernel."""

from __future__ import annotations

import multiprocessing
import os
from contextlib import contextmanager

THREADS_ENV = "KIT_CPU_THREADS"
AUTO_THREADS = "auto"


def count_cores() -> int:
    """Return the physical cores this process may run on (logical CPUs where psutil cannot tell)."""
    available = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    try:
        import psutil  # installed with IPython (a Jupyter requirement)

        physical = psutil.cpu_count(logical=False)
    except ImportError:
        physical = None
    # Two hyperthreads of one core share its arithmetic units: torch's own default is one thread per physical core.
    return max(1, min(available, physical or available))


def choose_cpu_threads(setting: int | str | None = AUTO_THREADS) -> int | None:
    """Return torch threads for this process: a fixed setting, or for "auto" the rules in the comments below."""
    # distilabel runs every LLM step of a pipeline in its own process, at the same time: two generators
    # on 2 cores with torch's default (all cores each) oversubscribed and ran 3-9x slower, so a step process
    # takes one thread. A notebook's kernel calls the judge and EvolQuality directly, alone: there all
    # cores help (with 2 threads instead of 1: prompts 1.8x, batch-1 bf16 generation 1.3x faster on 2 cores).
    if setting != AUTO_THREADS:
        return setting
    if multiprocessing.parent_process() is not None:  # a pipeline step's process (or any other worker)
        return 1
    if os.environ.get(THREADS_ENV):  # the kernel's threads: e.g. the grader running N notebooks at once
        return int(os.environ[THREADS_ENV])
    if os.environ.get("OMP_NUM_THREADS", "").isdigit():  # set by the user, or by Ray for its workers (pipeline.ray())
        return int(os.environ["OMP_NUM_THREADS"])
    return count_cores()


@contextmanager
def use_threads(threads: int):
    """Run the enclosed torch code with ``threads`` CPU threads, then restore the previous number."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
