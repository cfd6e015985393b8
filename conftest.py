"""How `make test` shares the CPU cores: pytest-xdist workers, one file per worker, files that share disk kept together."""

import os

import pytest

# Files that read or write the same place in the clone run on one worker, in collection order as in a serial run:
# notebook 5 reads the dataset the solution saves (data/preference_dpo_dataset), so it runs before the solution, never
# beside it (a fresh clone's notebook 5 builds its own). Tests write only into their own temporary folders.
SHARED_DISK = {
    "notebooks/05_train_dpo.ipynb": "saved-dataset",
    "solutions/preference_dpo_dataset.ipynb": "saved-dataset",
}
# The longest work units first, so that no long file starts last while the other worker idles (pytest-xdist would
# start the files with the most tests first, and the course-grading test is one test of ~2 minutes). Measured with
# `pytest --durations=0` in a serial run on 2 cores (seconds): 5 + solution 186, grading the course 118, notebook 4 93,
# the grader 79, notebook 3 76, notebook 2 60, the try-it tasks 49; every other file under 25. A stale order only
# costs time.
LONGEST_FIRST = [
    "saved-dataset",
    "tests/test_grading_course.py",
    "notebooks/04_best_practices.ipynb",
    "tests/test_grading.py",
    "notebooks/03_ultrafeedback.ipynb",
    "notebooks/02_evol_quality.ipynb",
    "tests/test_try_it.py",
]
# At most two workers: measured on 2 cores, a serial `make test` kept 1.26 of them busy on average (kernel start-ups and
# single-threaded Python between the model cells); with two workers of one torch thread each, 1.52 (857 s -> 795 s).
# Memory: the machine's used memory peaked ~6.5 GB higher with two workers (~6 GB serially) on a bf16 CPU; a laptop's
# float32 judge takes more (notebook 5 alone: 6.6 GB), hence this much available memory per worker.
MAX_WORKERS = 2
MEMORY_PER_WORKER_GB = 8


def find_work_unit(nodeid: str) -> str:
    """Return the file a test's node id names, or its SHARED_DISK group: the tests one worker runs in order."""
    path = nodeid.split("::", 1)[0]
    return SHARED_DISK.get(path, path)


def rank_work_unit(nodeid: str) -> int:
    """Return a test's place in LONGEST_FIRST (its unit's), or after all of them."""
    unit = find_work_unit(nodeid)
    return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """In a pytest-xdist worker, put the longest work units first (every worker collects the same order)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: rank_work_unit(item.nodeid))  # stable: a notebook's cells keep their order


def pytest_xdist_make_scheduler(config, log):
    """Schedule whole files (nbval's cells share one kernel), the SHARED_DISK files as one unit, in collected order."""
    config.option.loadscopereorder = False  # LONGEST_FIRST, not the files with the most tests first
    # Not `--dist loadgroup` with xdist_group marks: pytest-xdist 3.8.0 groups by rewriting node ids, which pytest 9.2
    # no longer reads (pytest-dev/pytest-xdist#1386), so every cell went to any worker. `--dist loadfile` is this
    # scheduler without SHARED_DISK.
    from xdist.scheduler import LoadScopeScheduling

    class FileScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return find_work_unit(nodeid)

    return FileScheduling(config, log)


def pytest_configure(config):
    """In a pytest-xdist worker, give its torch and its notebook kernels an equal share of the cores."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1 and not os.environ.get("KIT_CPU_THREADS"):
        # Two workers whose kernels each took both cores were slower than one: after 9 minutes both were still in
        # their first notebook (under 3 minutes each alone), torch's threads oversubscribing the cores as distilabel's
        # step processes once did (helpers/threads.py).
        from helpers.threads import THREADS_ENV, count_cores

        share = str(max(1, count_cores() // workers))
        os.environ[THREADS_ENV] = share  # every kernel and grader run this worker starts (choose_cpu_threads)
        os.environ.setdefault("OMP_NUM_THREADS", share)  # torch in the worker itself, read when torch starts


def pytest_xdist_auto_num_workers(config):
    """Return how many workers `-n auto` starts: one per core and per MEMORY_PER_WORKER_GB available, at most 2."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # the user's own number: pytest-xdist reads it
    import psutil

    from helpers.threads import count_cores  # the cores pytest_configure shares among the workers

    memory = psutil.virtual_memory().available / 1e9
    workers = min(MAX_WORKERS, count_cores(), int(memory // MEMORY_PER_WORKER_GB))
    return workers if workers > 1 else 0  # 0: no workers, the plain serial run
