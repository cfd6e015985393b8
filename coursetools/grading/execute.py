"""Step 2, execute: run one prepared notebook with nbval in a temporary folder, sandboxed; keep what the run left.

The notebook is written into a fresh temporary folder and run there by ``python -m pytest --nbval-lax`` in its own
process session (working directory = that folder, so the learner's file is never touched; TMPDIR and KIT_DATASET_DIR
point inside it too). The kernel runs in the grader's environment (``--nbval-current-env``), but the kit's ``helpers/``
package (``KIT_ROOT/helpers``, ``__pycache__`` left out) is first copied to ``<temporary folder>/kit/helpers`` and that
``kit`` folder comes first on the run's PYTHONPATH, ahead of the editable install's finder (appended to
``sys.meta_path``): the kernel, check cells included, imports the copy. When the time is up the process group is killed
with SIGKILL, and so is every process the run started (all of them carry the KIT_GRADING_RUN variable). A kernel that
dies inside a cell (out of memory, ``os._exit``) would leave nbval waiting: the run is stopped a few seconds after the
kernel is gone instead of at the timeout. POSIX only.

The sandbox (coursetools/sandbox.py): no network, the machine's root read-only, the grader's home, /tmp, the kit's
folder, the submissions and the reports hidden under empty temporary filesystems; the interpreter, the venv and the model
cache bound back read-only; only the run's own folder writable, and in it the copy of ``helpers/`` read-only; a clean
environment (no tokens, no SSH agent); its own process ids, so nothing it starts outlives it; limits on processes, file
size and memory, and its memory (PSS) and its disk's free space watched. As root, the run executes as ``nobody``.
Unsandboxed (``hide=None``, ``--no-sandbox``), the learner's code runs as the instructor's user; the copy of
``helpers/`` is hashed before and after, so that an edit left behind is still seen.

Everything the run wrote is read back as untrusted: pytest's output goes to a file without a name, and ``report.xml``
is read only if it is still a plain file of bounded size.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil  # installed with IPython (a Jupyter requirement on Linux and macOS)

from coursetools import sandbox
from coursetools.grading import prepare, recheck, replay
from coursetools.grading.extract import read_progress
from helpers.replay import RECORD_ENV, REPLAY_ENV
from helpers.storage import DATASET_ENV
from helpers.threads import THREADS_ENV
from helpers.workarounds import PIPELINE_FOLDER_OWNER_ENV

KIT_FOLDER = "kit"  # inside a run's temporary folder: first on the run's PYTHONPATH, holds the copy of helpers/
POLL_SECONDS = 0.5
WATCH_SECONDS = 2.0  # how often a sandboxed run's memory and disk are measured (PSS reads every process's smaps)
OUTPUT_LIMIT = 4 * 1024 ** 2  # the end of pytest's output that is read (its progress lines, the last error)
REPORT_LIMIT = 16 * 1024 ** 2  # a larger junit report is not read
# After the kernel is gone while a cell is still running, nbval waits for a reply that never
# comes (until its own cell timeout); give pytest this long to finish by itself, then stop it.
KERNEL_EXIT_GRACE = 5.0
MARKER_ENV = "KIT_GRADING_RUN"  # every process a run starts inherits it, so leftovers can be found
DATASET_FOLDER = "dataset"  # inside a run's temporary folder: its KIT_DATASET_DIR
# Set on Ctrl+C (or SIGTERM, see main): every run still going stops its processes (the signal only reaches the main thread).
STOPPING = threading.Event()


@dataclass
class Artefacts:
    """What a finished run left behind, read back before its folder is removed."""

    ending: str  # done, timeout, kernel_died, memory or disk
    output: str  # the end of pytest's output (its progress lines, the last error)
    report: bytes | None  # report.xml: None when the run did not end by itself, or left no plain, bounded file
    kit_edited: bool  # the run's copy of helpers/ differs from what was copied
    dataset: Path  # the folder the run saved its dataset into (KIT_DATASET_DIR), inside the run's folder
    values: bytes | None = None  # what the check cells dumped (recheck.py): a plain, bounded file, or None


def find_marked_processes(marker: str) -> list[psutil.Process]:
    """Return the live processes whose environment carries this run's marker."""
    found = []
    for process in psutil.process_iter(["environ"]):
        environ = process.info.get("environ") or {}
        if environ.get(MARKER_ENV) == marker and process.pid != os.getpid():
            found.append(process)
    return found


def stop_marked_processes(marker: str) -> None:
    """SIGKILL every process left over by a run (kernel, its children), until none is found."""
    for _ in range(5):  # a process may fork while we kill its parent: look again
        processes = find_marked_processes(marker)
        if not processes:
            return
        for process in processes:
            try:
                process.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(processes, timeout=5)


def find_kernels(pid: int) -> list[psutil.Process]:
    """Return the live (not zombie) ipykernel descendants of the pytest process ``pid`` (or of its sandbox)."""
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        return []
    kernels = []
    for child in children:
        try:
            if child.status() != psutil.STATUS_ZOMBIE and "ipykernel" in " ".join(child.cmdline()):
                kernels.append(child)
        except psutil.Error:
            pass
    return kernels


def measure_memory(pid: int) -> int:
    """Return the bytes of memory a run holds: the proportional set size of the process ``pid`` and its descendants."""
    # PSS, not RSS: forked workers share the model's pages, and RSS would count them once per process. Shared
    # memory (mmap) counts here, where RLIMIT_DATA does not see it.
    total = 0
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.Error:
            pass
    return total


def wait_for_pytest(process: subprocess.Popen, timeout: float, read_output, limits: sandbox.Limits | None = None,
                    folder: Path | None = None) -> str:
    """Wait for pytest; return "done", "timeout", "kernel_died", "memory" or "disk"; raise KeyboardInterrupt on STOPPING.

    ``read_output`` returns pytest's output so far. With ``limits`` (a sandboxed run), the run is also stopped when all
    its processes together hold more than ``limits.run_memory_bytes``, or when ``folder``'s disk has less free space than
    ``limits.disk_floor_bytes`` (each file is capped by RLIMIT_FSIZE, their number is not).
    """
    deadline = time.monotonic() + timeout
    gone_since = None
    next_watch = 0.0
    while True:
        if STOPPING.is_set():
            raise KeyboardInterrupt
        try:
            process.wait(timeout=min(POLL_SECONDS, max(deadline - time.monotonic(), 0.01)))
            return "done"
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if limits is not None and now >= next_watch:
            next_watch = now + WATCH_SECONDS
            if measure_memory(process.pid) > limits.run_memory_bytes:
                return "memory"
            if folder is not None and shutil.disk_usage(folder).free < limits.disk_floor_bytes:
                return "disk"
        # nbval prints a cell's line before it starts the kernel (first cell) and stops the kernel after the last
        # cell's result is printed, so "no kernel while a cell is running" lasts only the kernel's start (well under
        # the grace) unless the kernel died. A kernel may live and die between two polls (a short notebook lives
        # under 0.5 s): do not require having seen it alive.
        if find_kernels(process.pid) or read_progress(read_output())[1] is None:
            gone_since = None
            continue
        gone_since = gone_since or now
        if now - gone_since >= KERNEL_EXIT_GRACE:
            return "kernel_died"


def read_tail(handle, limit: int) -> str:
    """Return the last ``limit`` bytes written to an open file, as text."""
    size = os.fstat(handle.fileno()).st_size
    return os.pread(handle.fileno(), limit, max(0, size - limit)).decode(errors="replace")


def build_environment(tmp: Path, threads: int | None, confined: bool) -> dict[str, str]:
    """Return the run's environment: everything it writes lands in ``tmp``; sandboxed, nothing of the grader's."""
    # Sandboxed, a run is told only what it needs (sandbox.build_env adds PATH and a few passed-through variables).
    environ = {} if confined else {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environ.update(
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",  # progress lines reach the file at once, for a run we have to stop
        # Only nbval: a plugin installed by chance (pytest-randomly ...) could reorder the cells.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    environ[MARKER_ENV] = str(tmp)
    if threads and not os.environ.get(THREADS_ENV):  # notebooks graded at once share the cores (helpers/threads.py)
        environ[THREADS_ENV] = str(threads)
    # Before the editable install's finder (appended to sys.meta_path), so the copy is what `import helpers` finds.
    environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tmp / KIT_FOLDER), os.environ.get("PYTHONPATH")]))
    # The kernel's connection file and the learner's temporary files land here too, and are
    # removed with the folder even when the run had to be killed.
    environ["TMPDIR"] = str(tmp / "tmp")
    # IPython's profile (startup scripts, history) per run too: one learner's code cannot plant startup code for the next.
    environ["IPYTHONDIR"] = str(tmp / "ipython")
    # distilabel keeps a pipeline's batches under ~/.cache/distilabel/<name>/<signature> even with use_cache=False:
    # two learners' identical pipelines run at once (--jobs) would write into the same folder. Set here, not left to
    # helpers.workarounds.separate_pipeline_folders, which runs only if the submission imports helpers first; without
    # the grader's owner mark, the kernel keeps this folder.
    environ["DISTILABEL_CACHE_DIR"] = str(tmp / "distilabel")
    environ.pop(PIPELINE_FOLDER_OWNER_ENV, None)
    # The exercise saves its dataset to KIT_DATASET_DIR (else ../data next to the notebook, which
    # would be outside the temporary folder): keep each learner's dataset inside their own run.
    environ[DATASET_ENV] = str(tmp / DATASET_FOLDER)
    environ[recheck.VALUES_ENV] = str(tmp / recheck.VALUES_FILE)  # each released check cell appends the values it checks here
    return environ


def run_notebook(prepared: prepare.Prepared, tmp: Path, timeout: float, threads: int | None = None,
                 hide: tuple[Path, ...] | None = (), outputs: replay.ModelOutputs | None = None) -> Artefacts:
    """Run a prepared notebook with nbval inside ``tmp``; return what it left.

    ``hide``: folders the run must not see besides the grader's home and the kit (the submissions, the reports), and the
    run is sandboxed (coursetools/sandbox.py); None: the run is not sandboxed (``--no-sandbox``). ``outputs``: model
    outputs the run records (the reference run: kept in ``outputs.folder`` after it ends) or replays read-only.
    """
    work = tmp / "work"
    work.mkdir()
    (tmp / "tmp").mkdir()
    # The kernel imports this copy of helpers/ (checks included), not the kit's own files, which it could rewrite.
    kit = tmp / KIT_FOLDER / prepare.KIT_PACKAGE
    sandbox.copy_code(prepare.KIT_ROOT / prepare.KIT_PACKAGE, kit)
    kit_hash = prepare.hash_folder(kit)
    copy = work / prepared.name
    nbformat.write(prepared.notebook, copy)
    # An empty ini file in tmp: pytest then reads no configuration or conftest.py around tmp.
    (tmp / "pytest.ini").write_text("[pytest]\n")
    report = tmp / "report.xml"
    command = [
        sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--rootdir", str(tmp),
        "-p", "no:cacheprovider", "-p", "nbval.plugin", "--nbval-lax", "--nbval-current-env",
        # nbval's own per-cell limit stays above ours, so the whole-notebook timeout decides.
        f"--nbval-cell-timeout={int(timeout) + 60}", "-v", "--color=no", f"--junitxml={report}", str(copy),
    ]
    confined = hide is not None
    environ = build_environment(tmp, threads, confined)
    recorded = ()  # bound read-only into the sandbox
    if outputs is not None and outputs.record:
        environ[RECORD_ENV] = str(tmp / replay.RECORD_FOLDER)
    elif outputs is not None:
        environ[REPLAY_ENV], recorded = str(outputs.folder), (outputs.folder,)
    with sandbox.borrow_uid() if confined else contextlib.nullcontext() as uid:
        limiter = limits = None
        if confined:
            from helpers.models import get_cache_dir

            (tmp / "home").mkdir()
            environ["HOME"] = str(tmp / "home")  # the grader's own home is hidden
            environ["KIT_CACHE_DIR"] = str(get_cache_dir())  # converted models, read-only (prepared by grade_folder)
            box = sandbox.Sandbox(
                writable=tmp, read_only=(*sandbox.interpreter_paths(), get_cache_dir(), *recorded),
                hidden=(Path.home(), prepare.KIT_ROOT.resolve(), *hide), protected=(tmp / KIT_FOLDER,), env=environ,
                workdir=work, uid=uid, limits=sandbox.Limits(),
            )
            sandbox.give_to_run_user(tmp, uid)
            command = sandbox.build_command(command, box, sandbox.find_bwrap() or "bwrap")
            limiter, limits = sandbox.make_limiter(box.limits, uid), box.limits
        # pytest's output goes to a file without a name: the run can neither replace it nor point it elsewhere.
        with tempfile.TemporaryFile() as sink:
            process = subprocess.Popen(
                command, cwd=work, env=environ, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=limiter,
            )
            try:
                ending = wait_for_pytest(process, timeout, lambda: read_tail(sink, OUTPUT_LIMIT), limits, tmp)
                if ending != "done":
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            finally:
                if process.poll() is None:  # interrupted (Ctrl+C, SIGTERM): leave nothing behind
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
                stop_marked_processes(str(tmp))
            output = read_tail(sink, OUTPUT_LIMIT)
    # report.xml is written inside the run's folder: read only if it is still a plain file of a sane size.
    xml = sandbox.read_regular_file(report, REPORT_LIMIT) if ending == "done" else None
    values = sandbox.read_regular_file(tmp / recheck.VALUES_FILE, recheck.VALUES_LIMIT) if ending == "done" else None
    if outputs is not None and outputs.record and ending == "done":
        replay.keep_recorded(tmp / replay.RECORD_FOLDER, outputs.folder)
    return Artefacts(ending, output, xml, prepare.hash_folder(kit) != kit_hash, tmp / DATASET_FOLDER, values)
