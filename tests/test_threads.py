"""CPU threads per process: one in a pipeline step's process, every core in the kernel, overrides."""

import multiprocessing
import os

from helpers import threads


def _threads_in_a_child(queue):
    queue.put(threads.choose_cpu_threads("auto"))


def _run_in_a_child():
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    child = context.Process(target=_threads_in_a_child, args=(queue,))
    child.start()
    child.join(60)
    return queue.get(timeout=5)


def test_auto_all_cores_in_the_kernel_one_in_a_step_process(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert threads.choose_cpu_threads("auto") == threads.count_cores()
    assert _run_in_a_child() == 1  # as distilabel's step processes: two generators share 2 cores
    monkeypatch.setenv(threads.THREADS_ENV, "4")  # the kernel's count (e.g. set by the grader) ...
    assert threads.choose_cpu_threads("auto") == 4
    assert _run_in_a_child() == 1  # ... never the step processes'


def test_fixed_setting_and_omp(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert threads.choose_cpu_threads(3) == 3 and threads.choose_cpu_threads(None) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as Ray sets it in its workers
    assert threads.choose_cpu_threads("auto") == 1


def test_cores_are_physical_and_available(monkeypatch):
    import psutil

    available = len(os.sched_getaffinity(0))
    assert 1 <= threads.count_cores() <= available
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: 1 if not logical else 2 * available)
    assert threads.count_cores() == 1  # two hyperthreads of one core: one thread
    monkeypatch.setattr(psutil, "cpu_count", lambda logical=True: None)  # unknown: what the process may use
    assert threads.count_cores() == available
