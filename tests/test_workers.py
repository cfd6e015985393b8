"""`make test` on pytest-xdist workers (conftest.py): whole files per worker, as many workers as cores and memory allow."""

import importlib.util
import re
import subprocess
import sys
from collections import namedtuple
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
plan = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(plan)
Memory = namedtuple("Memory", "available")


@pytest.mark.parametrize("cores, available_gb, workers", [
    (2, 23.0, 2),  # this machine: 2 cores, 24 GB
    (8, 64.0, 2),  # never more than two
    (2, 12.0, 0),  # a laptop with 16 GB, some of it in use: the serial run
    (1, 64.0, 0),
    (4, 15.9, 0),
    (4, 16.0, 2),
])
def test_workers_follow_cores_and_available_memory(monkeypatch, cores, available_gb, workers):
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.setattr(plan.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr("psutil.cpu_count", lambda logical=True: cores)
    monkeypatch.setattr("psutil.virtual_memory", lambda: Memory(available_gb * 1e9))
    assert plan.pytest_xdist_auto_num_workers(None) == workers


def test_the_users_own_number_of_workers_is_left_to_xdist(monkeypatch):
    monkeypatch.setenv("PYTEST_XDIST_AUTO_NUM_WORKERS", "1")
    assert plan.pytest_xdist_auto_num_workers(None) is None


def test_a_notebooks_cells_stay_together_and_notebook_5_runs_with_the_solution():
    units = {nodeid: plan.find_work_unit(nodeid) for nodeid in [
        "notebooks/03_ultrafeedback.ipynb::Cell 0", "notebooks/03_ultrafeedback.ipynb::Cell 25",
        "tests/test_grading.py::test_statuses_and_checks", "tests/test_grading.py::test_released_checks_decide",
        "tests/test_try_it.py::test_every_try_it_call_is_tested[notebooks/05_train_dpo.ipynb]",
        "notebooks/05_train_dpo.ipynb::Cell 3", "solutions/preference_dpo_dataset.ipynb::Cell 8",
    ]}
    assert len(set(units.values())) == 4
    assert units["notebooks/03_ultrafeedback.ipynb::Cell 0"] == units["notebooks/03_ultrafeedback.ipynb::Cell 25"]
    assert units["tests/test_grading.py::test_statuses_and_checks"] == "tests/test_grading.py"
    assert units["notebooks/05_train_dpo.ipynb::Cell 3"] == units["solutions/preference_dpo_dataset.ipynb::Cell 8"]
    assert units["tests/test_try_it.py::test_every_try_it_call_is_tested[notebooks/05_train_dpo.ipynb]"] == "tests/test_try_it.py"


def test_the_longest_units_go_first_and_notebook_5_stays_before_the_solution():
    collected = ["tests/test_layout.py::test_no_tooling_module_is_long", "tests/test_grading_course.py::test_a_class",
                 "notebooks/04_best_practices.ipynb::Cell 0", "notebooks/05_train_dpo.ipynb::Cell 0",
                 "notebooks/05_train_dpo.ipynb::Cell 1", "solutions/preference_dpo_dataset.ipynb::Cell 0"]
    assert sorted(collected, key=plan.rank_work_unit) == [
        "notebooks/05_train_dpo.ipynb::Cell 0", "notebooks/05_train_dpo.ipynb::Cell 1",
        "solutions/preference_dpo_dataset.ipynb::Cell 0", "tests/test_grading_course.py::test_a_class",
        "notebooks/04_best_practices.ipynb::Cell 0", "tests/test_layout.py::test_no_tooling_module_is_long"]
    assert all((ROOT / unit).exists() for unit in plan.LONGEST_FIRST if unit not in plan.SHARED_DISK.values())


def test_two_workers_run_whole_files():
    # Without the conftest's scheduler, pytest-xdist deals single tests to both workers (a notebook's cells too).
    files = ["tests/test_layout.py", "tests/test_similarity.py", "tests/test_storage.py"]
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "-v", *files],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    workers = {}
    for worker, nodeid in re.findall(r"^\[(gw\d)\] \[ *\d+%\] PASSED (\S+)", run.stdout, re.MULTILINE):
        workers.setdefault(nodeid.split("::")[0], set()).add(worker)
    assert sorted(workers) == files and all(len(names) == 1 for names in workers.values()), workers
    assert len(set.union(*workers.values())) == 2  # and both workers had work
