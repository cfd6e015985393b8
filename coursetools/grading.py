"""Instructor grading: run every learner notebook of a folder with nbval, with the released exercise's check cells.

Usage (``make grade DIR=... [JOBS=N] [TIMEOUT=...] [REFERENCE=...]`` calls this)::

    python -m coursetools grade FOLDER [--reference PATH] [--jobs N] [--timeout SECONDS] [--out OUTDIR]

* FOLDER: the learners' notebooks; every ``*.ipynb`` directly inside it is graded (not recursively).
  Other entries are not graded but listed as "bỏ qua" in the summary; hidden ones
  (``.ipynb_checkpoints`` ...) are ignored.
* --reference: the released exercise notebook, whose check cells are the truth (default
  ``exercises/preference_dpo_dataset.ipynb`` of this repository); it must hold at least one check.
* --jobs: notebooks graded at once (default 1). Each keeps the whole --timeout, but they share the
  CPU and memory: more jobs than cores mostly makes every run slower.
* --timeout: seconds allowed for one whole notebook, kernel start included (default 900).
* --out: where ``grades.csv``, ``grades.txt`` and ``feedback/`` go (default: ``grading-<FOLDER name>``
  next to FOLDER, so never inside it). ``grades.txt`` is also printed.

Exit code 0 when grading worked, whatever the learners' results; 2 when the grader itself cannot
work (FOLDER missing, reference unreadable or without checks, --jobs below 1, OUTDIR not writable);
130 when stopped with Ctrl+C, 143 with SIGTERM (every run is stopped, nothing written). The reference is read once per
grading (``grade_folder``), not once per notebook.

Running. Each notebook is read with nbformat, written without its outputs into a fresh temporary
folder and run there by ``python -m pytest --nbval-lax`` in its own process session (working
directory = that folder, so the learner's file is never touched; TMPDIR and KIT_DATASET_DIR point
inside it too). The kernel runs in the grader's environment (``--nbval-current-env``), but the
kit's ``helpers/`` package (``KIT_ROOT/helpers``, ``__pycache__`` left out) is first copied to
``<temporary folder>/kit/helpers`` and that ``kit`` folder comes first on the run's PYTHONPATH, ahead
of the editable install's finder (appended to ``sys.meta_path``): the kernel, check cells included,
imports the copy. When the time is up the process group is killed with SIGKILL, and so is every
process the run started (the kernel lives in a session of its own; all of them carry the
KIT_GRADING_RUN variable). A kernel that dies inside a cell (out of memory, ``os._exit``) would leave
nbval waiting: the grader notices it and reports an error after a few seconds instead of waiting for
the timeout. With --jobs N, N runs go on at once (one grader thread waits on each); progress lines
on stderr come as each notebook finishes, rows stay in name order. POSIX only.

Check cells. A check is a code cell with a line ``# CHECK: <name>``. Before the run, every learner
code cell naming a check of the reference gets that reference cell's source and metadata (in the
temporary copy), so a check emptied to ``pass``, skipped (``# NBVAL_SKIP``, tag ``nbval-skip``),
allowed to fail (tag ``raises-exception``, ``# NBVAL_RAISES_EXCEPTION``) or loosened runs as
released: nbval 0.11 obeys comment markers in the source and tags in ``metadata.tags``. If the
learner's source differs from the released one (both without trailing spaces on each line and
without blank lines around), or its tags differ (compared as sets), the check is ``edited``. Tags on
other cells stay: they only change how the learner's own code runs. A reference check that no
learner code cell names (deleted, renamed, turned into markdown) is ``missing``; it is not inserted,
its place being unknown. Learner cells naming only checks the reference does not have are ordinary
cells. Without a reference (``reference=None``, as in the tiny tests), the learner's check cells run
as they are.

A check's run value is its nbval outcome: nbval 0.11 makes one test item per *code* cell, named
``Cell N`` with N counted from 0 over code cells only, and keeps running the next cells after a
cell fails (so a check after a failing cell still runs, and usually fails). ``pass`` iff that item
passes; ``fail`` when it fails; ``not_run`` when the cell never ran (skipped, kernel dead or not
started, time out before it). A name used by several cells takes the worst. Column values:
``pass`` (đạt), ``fail`` (chưa đạt), ``not_run`` (chưa chạy), ``missing`` (thiếu ô kiểm tra),
``edited`` (ô kiểm tra bị sửa, whatever the released cell gave; that run is in the feedback). Only
``pass`` counts in checks_passed; checks_total is the number of reference checks (without a
reference: of the learner's check names).

The sandbox. Each run executes in bubblewrap (coursetools/sandbox.py): no network, the machine's root read-only, the
grader's home, /tmp, the kit's folder, the submissions and the reports hidden under empty temporary filesystems; the
interpreter, the venv and the model cache (prepared once by ``grade_folder``) bound back read-only; only the run's own
folder writable, and in it the copy of ``helpers/`` read-only; a clean environment (no tokens, no SSH agent); its own
process ids, so nothing it starts outlives it; limits on processes, file size and memory. As root, the run executes as
``nobody``. Without bubblewrap grading stops (SandboxMissing), unless ``--no-sandbox`` is given: then the learner's code
runs as the instructor's user, with network and home, every row's ``sandbox`` column says so, and only the detection
below stands between it and the verdicts. Before the first run one empty sandbox is started: bubblewrap installed but
unable to start (user namespaces disabled) also stops grading with bwrap's own message.

The kit, checked again (the sandbox makes these writes fail; without it, they are detected). (1) The run's own copy
of ``helpers/`` (which the check cells reload from disk): hashed (file names and contents, without
``__pycache__``) after copying and after the run; if it differs the notebook is ``tampered``, detail
"bài nộp đã sửa mã của khóa học (helpers/)", whatever its checks gave. An edit undone before the
run ends is not seen. (2) The kit itself: ``grade_folder`` hashes ``KIT_ROOT/helpers`` and the
reference file before grading and again after each notebook that ran; if either changed, that
notebook is ``tampered`` ("bài nộp đã sửa tệp của khóa học ngoài thư mục tạm"; with --jobs N the
writer may be another notebook running at the same time, which is then marked too when it ends), a
warning goes to stderr, and the notebooks not yet started are not run: their rows are ``error``,
detail "chưa chấm: khóa học bị sửa trong khi chấm". The reports are still written. ``KIT_ROOT``
is the repository root; tests point it at a copy.

Saved dataset. The released cells still run in the learner's kernel after the learner's code, which
can patch what they call (a helper the check cell does not import itself, IPython's input
transformers). So with ``dataset_check`` (the CLI passes ``helpers.checks.check_saved_dataset``), once
the run is over and before its folder is removed, the grader calls ``dataset_check(folder)`` in its
own process (stdout discarded, one call at a time) on the folder the run saved into. Column
``saved_dataset``: ``pass``; ``fail`` (AssertionError or any other exception, with its message);
``missing`` (no ``dataset_info.json``: nothing saved). It is checked whenever the notebook ran.

Statuses (CSV code / summary label): ``ok`` (đạt) every check passes, and the saved dataset if
checked; ``failed`` (chưa đạt) some check did not pass, or they all did but the saved dataset did not
(detail "saved_dataset: <message>"); ``error`` (lỗi) a non-check cell failed or the kernel died;
``timeout`` (quá giờ); ``tampered`` (can thiệp vào việc chấm) some check edited or missing, or the kit edited
(detail "bị sửa: a; bị xoá: b"), or the kit edited (see The kit); ``invalid`` (không đọc được) not a
notebook nbformat can read, not run; ``no_checks`` (không có ô kiểm tra) without a reference, no
check cell (still run, its errors go to the detail; with a reference such a notebook is
``tampered``). When several apply: invalid, tampered (kit edited first), timeout, error, failed, ok.

Reports in OUTDIR. ``grades.csv`` (UTF-8 with BOM, so that Excel shows Vietnamese text), one row per
notebook: notebook, status, checks_passed, checks_total, seconds, one column per check (reference
order; without a reference the union over notebooks in first-seen order; empty when not run or, without
a reference, not in that notebook), saved_dataset (only when checked), detail. ``grades.txt``: the
table, counts per status, per check how many notebooks passed (and how many edited or missing it),
the saved datasets' counts. ``feedback/<notebook stem>.txt``, for the learner: status and detail,
one line per check with its message (up to 600 characters), the saved dataset, the first failing
non-check cell, what to do next.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import csv
import hashlib
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import xml.etree.ElementTree as ElementTree
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import nbformat
import psutil  # installed with IPython (a Jupyter requirement on Linux and macOS)

from coursetools import sandbox
from coursetools.markers import find_check_names, is_check_cell
from helpers.threads import THREADS_ENV, count_cores
from helpers.storage import DATASET_ENV

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_REFERENCE = ROOT / "exercises" / "preference_dpo_dataset.ipynb"
# The kit whose helpers/ every run imports (as a copy) and that must not change while grading; tests point it at a copy.
KIT_ROOT = ROOT
KIT_PACKAGE = "helpers"
KIT_FOLDER = "kit"  # inside a run's temporary folder: first on the run's PYTHONPATH, holds the copy of helpers/
KIT_COPY_EDITED = "bài nộp đã sửa mã của khóa học (helpers/)"
KIT_EDITED = "bài nộp đã sửa tệp của khóa học ngoài thư mục tạm"
NOT_GRADED = "chưa chấm: khóa học bị sửa trong khi chấm"
SANDBOX_LABELS = {True: "bubblewrap", False: "KHÔNG (--no-sandbox)"}
RUN_STOPPED = {  # filled with the limits in force (sandbox.Limits)
    "memory": "đã dừng: dùng quá {run_memory_bytes} bộ nhớ",
    "disk": "đã dừng: ghi quá nhiều dữ liệu (đĩa còn dưới {disk_floor_bytes} trống)",
}
UNCONFINED_WARNING = ("CẢNH BÁO: chấm KHÔNG có hộp cát (--no-sandbox): mã của học viên đã chạy với quyền của người chấm, "
                      "có mạng và thấy thư mục nhà.")
DEFAULT_TIMEOUT = 900
DETAIL_WIDTH = 200
FEEDBACK_WIDTH = 600
POLL_SECONDS = 0.5
WATCH_SECONDS = 2.0  # how often a sandboxed run's memory and disk are measured (PSS reads every process's smaps)
OUTPUT_LIMIT = 4 * 1024 ** 2  # the end of pytest's output that is read (its progress lines, the last error)
REPORT_LIMIT = 16 * 1024 ** 2  # a larger junit report is not read
DATASET_LIMIT = 512 * 1024 ** 2  # a larger saved dataset is not read
# After the kernel is gone while a cell is still running, nbval waits for a reply that never
# comes (until its own cell timeout); give pytest this long to finish by itself, then stop it.
KERNEL_EXIT_GRACE = 5.0
MARKER_ENV = "KIT_GRADING_RUN"  # every process a run starts inherits it, so leftovers can be found
DATASET_FOLDER = "dataset"  # inside a run's temporary folder: its KIT_DATASET_DIR
FIXED_COLUMNS = ("notebook", "status", "checks_passed", "checks_total", "seconds")
STATUS_LABELS = {
    "ok": "đạt",
    "failed": "chưa đạt",
    "error": "lỗi",
    "timeout": "quá giờ",
    "tampered": "can thiệp vào việc chấm (ô kiểm tra bị sửa/xoá hoặc mã của khóa học bị sửa)",
    "invalid": "không đọc được",
    "no_checks": "không có ô kiểm tra",
}
CHECK_LABELS = {
    "pass": "đạt",
    "fail": "chưa đạt",
    "not_run": "chưa chạy",
    "missing": "thiếu ô kiểm tra",
    "edited": "ô kiểm tra bị sửa",
}
DATASET_LABELS = {"pass": "đạt", "fail": "chưa đạt", "missing": "chưa lưu tập dữ liệu"}
CHECK_RANK = {"pass": 0, "not_run": 1, "fail": 2}  # a name used by several cells takes the worst
CHECK_ICONS = {"pass": "✅", "fail": "❌", "not_run": "⏭", "missing": "⚠️", "edited": "⚠️"}
NEXT_STEPS = {
    "ok": "Bài đã đạt. Làm tốt lắm!",
    "failed": "Hãy đọc thông báo của mục chưa đạt, sửa code phía trên nó, rồi chạy lại toàn bộ notebook "
              "(Kernel → Restart Kernel and Run All Cells) trước khi nộp lại.",
    "error": "Hãy sửa ô bị lỗi đầu tiên, rồi chạy lại toàn bộ notebook từ đầu "
             "(Kernel → Restart Kernel and Run All Cells) trước khi nộp lại.",
    "timeout": "Notebook chạy quá thời gian cho phép: hãy tìm ô chạy mãi hoặc quá lâu, rồi chạy lại toàn bộ notebook.",
    "tampered": "Hãy giữ nguyên các ô `# CHECK:` như trong bài tập gốc (không sửa, không xoá, không đổi tên, "
                "không thêm tag), đừng sửa mã của khóa học (helpers/), rồi chạy lại toàn bộ notebook trước khi nộp lại.",
    "invalid": "Tệp này không mở được như một notebook: hãy tải lại tệp .ipynb từ Jupyter (File → Download) và nộp lại.",
    "no_checks": "Notebook không có ô `# CHECK:` nào: có lẽ bạn đã nộp nhầm tệp; hãy nộp notebook bài tập.",
}
# Set on Ctrl+C (or SIGTERM, see main): every run still going stops its processes (the signal only reaches the main thread).
STOPPING = threading.Event()
# dataset_check runs in this process; redirect_stdout swaps the process-wide sys.stdout.
DATASET_CHECK_LOCK = threading.Lock()

# Cell sources, nbval's colored failure text and pytest's progress lines are plain text that no
# library parses for us, hence these small patterns.
CELL_NAME = re.compile(r"^Cell (\d+)$")
# junit XML cannot hold ESC, so pytest writes it as the text "#x1B".
ANSI_CODE = re.compile(r"(?:\x1b|#x1B)\[[0-9;]*[A-Za-z]")
TRACEBACK_HEADER = re.compile(r"^(\S+)\s+Traceback \(most recent call last\)")
EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Warning|Interrupt|Exit)(:|$)")
PROGRESS_LINE = re.compile(r"::Cell (\d+)(?:[ \t]+(PASSED|FAILED|ERROR|SKIPPED|XFAIL|XPASS)\b)?")
PROGRESS_OUTCOMES = {"PASSED": "passed", "XPASS": "passed", "FAILED": "failed", "ERROR": "error"}


def shorten(text: str, width: int = DETAIL_WIDTH) -> str:
    """Return ``text`` on one line, cut at a word boundary to at most ``width`` characters."""
    return textwrap.shorten(" ".join(text.split()), width=width, placeholder=" …")


def find_checks(notebook) -> dict[int, list[str]]:
    """Return check names by code-cell number, numbered like nbval (code cells only, from 0)."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {number: find_check_names(cell.source) for number, cell in enumerate(code_cells) if is_check_cell(cell)}


def normalize_source(source: str) -> str:
    """Return a cell source without trailing whitespace on its lines nor blank lines around it."""
    return "\n".join(line.rstrip() for line in source.splitlines()).strip("\n")


def read_tags(cell) -> set[str]:
    """Return a cell's metadata tags as a set (nbval reads them: ``nbval-skip``, ``raises-exception`` ...)."""
    tags = cell.metadata.get("tags", [])
    return {str(tag) for tag in tags} if isinstance(tags, list) else {str(tags)}


def read_reference(path) -> dict[str, nbformat.NotebookNode]:
    """Return the released notebook's check cells by check name, in notebook order."""
    released = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if is_check_cell(cell):
            for name in find_check_names(cell.source):
                released.setdefault(name, cell)
    return released


def apply_reference(notebook, released: dict) -> tuple[dict[int, list[str]], set[str]]:
    """Give learner cells naming a reference check its source and metadata; return (checks by cell number, edited names)."""
    checks, edited = {}, set()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        names = [name for name in find_check_names(cell.source) if name in released]
        if names:
            learner = normalize_source(cell.source), read_tags(cell)
            edited.update(name for name in names
                          if learner != (normalize_source(released[name].source), read_tags(released[name])))
            cell.source, cell.metadata = released[names[0]].source, copy.deepcopy(released[names[0]].metadata)
            checks[number] = names
    return checks, edited


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, or "unreadable" (missing, not a file, no permission)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def hash_folder(folder: Path) -> str:
    """Return a SHA-256 over the relative names and contents of the files under ``folder``, ``__pycache__`` left out."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if "__pycache__" not in relative.parts and not path.is_dir():
            digest.update(f"{relative}\0{hash_file(path)}\0".encode())
    return digest.hexdigest()


def hash_kit(reference) -> tuple[str, str]:
    """Return the hashes of what grading trusts outside the runs: KIT_ROOT's helpers/ and the reference notebook."""
    return hash_folder(KIT_ROOT / KIT_PACKAGE), hash_file(Path(reference)) if reference is not None else ""


def summarize_failure(text: str, width: int = DETAIL_WIDTH) -> str:
    """Return the exception line of an nbval failure text ("NameError: name 'x' ..."), at most ``width`` characters."""
    clean = ANSI_CODE.sub("", text or "")
    lines = [line.strip() for line in clean.split("Traceback:", 1)[-1].splitlines() if line.strip()]
    if not lines:
        return ""
    headers = [match.group(1) for line in lines if (match := TRACEBACK_HEADER.match(line))]
    # IPython ends a traceback with the last exception's name and message (maybe several lines);
    # its name is in the last header, and SyntaxError-like tracebacks have no header at all.
    is_exception = (lambda line: line.split(":", 1)[0] == headers[-1]) if headers else EXCEPTION_LINE.match
    for start in range(len(lines) - 1, -1, -1):
        if is_exception(lines[start]):
            return shorten(" ".join(lines[start:]), width).rstrip(":")
    for line in lines:  # nbval's own messages: "Cell 3: Timeout of ... exceeded ..."
        if re.match(r"Cell \d+: ", line):
            return shorten(line.split(": ", 1)[1], width)
    return shorten(lines[-1], width)


def read_junit(report: bytes) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """Return (outcome and message by nbval cell number, notebook-level problems) from a junit XML's bytes."""
    cells, problems = {}, []
    for case in ElementTree.fromstring(report).iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]
                message = child.text or child.get("message", "")  # the attribute is cut short
                if child.tag == "error" and child.get("message", "").startswith("failed on teardown"):
                    outcome = "passed"  # the cell ran; stopping the kernel afterwards went wrong
                break
        match = CELL_NAME.match(case.get("name", ""))
        if match:
            cells[int(match.group(1))] = (outcome, message)
        elif outcome in ("failed", "error"):  # e.g. the notebook could not be collected
            problems.append(summarize_failure(message) or case.get("name", ""))
    return cells, problems


def read_progress(output: str) -> tuple[dict[int, tuple[str, str]], int | None]:
    """Return (outcome by cell number, cell still running) from pytest's ``-v`` lines of a stopped run."""
    cells, running = {}, None
    for match in PROGRESS_LINE.finditer(output):
        number, word = int(match.group(1)), match.group(2)
        if word is None:
            running = number
        else:
            cells[number] = (PROGRESS_OUTCOMES.get(word, "skipped"), "")
            running = None if running == number else running
    return cells, running


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


def run_notebook(notebook, name: str, tmp: Path, timeout: float, threads: int | None = None,
                 hide: tuple[Path, ...] | None = ()) -> dict:
    """Run one notebook copy with nbval inside ``tmp``; return its cells' outcomes and whether it edited its kit copy.

    ``hide``: folders the run must not see besides the grader's home and the kit (the submissions, the reports), and the
    run is sandboxed (coursetools/sandbox.py); None: the run is not sandboxed (``--no-sandbox``).
    """
    work = tmp / "work"
    work.mkdir()
    (tmp / "tmp").mkdir()
    # The kernel imports this copy of helpers/ (checks included), not the kit's own files, which it could rewrite.
    kit = tmp / KIT_FOLDER / KIT_PACKAGE
    shutil.copytree(KIT_ROOT / KIT_PACKAGE, kit, ignore=shutil.ignore_patterns("__pycache__"))
    kit_hash = hash_folder(kit)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            # Stored outputs are not graded; without them nbval compares nothing and cannot stop on
            # "Unrun reference cell has outputs" (outputs saved without an execution count).
            cell.outputs, cell.execution_count = [], None
    copy = work / name
    nbformat.write(notebook, copy)
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
    # two learners' identical pipelines run at once (--jobs) would write into the same folder.
    environ["DISTILABEL_CACHE_DIR"] = str(tmp / "distilabel")
    # The exercise saves its dataset to KIT_DATASET_DIR (else ../data next to the notebook, which
    # would be outside the temporary folder): keep each learner's dataset inside their own run.
    environ[DATASET_ENV] = str(tmp / DATASET_FOLDER)
    with sandbox.borrow_uid() if confined else contextlib.nullcontext() as uid:
        limiter = limits = None
        if confined:
            from helpers.models import get_cache_dir

            (tmp / "home").mkdir()
            environ["HOME"] = str(tmp / "home")  # the grader's own home is hidden
            environ["KIT_CACHE_DIR"] = str(get_cache_dir())  # converted models, read-only (prepared by grade_folder)
            box = sandbox.Sandbox(
                writable=tmp, read_only=(*sandbox.interpreter_paths(), get_cache_dir()),
                hidden=(Path.home(), KIT_ROOT.resolve(), *hide), protected=(tmp / KIT_FOLDER,), env=environ,
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
            text = read_tail(sink, OUTPUT_LIMIT)
    run = {"ending": ending, "cells": {}, "running": None, "problems": [], "kit_edited": hash_folder(kit) != kit_hash}
    # report.xml is written inside the run's folder: read only if it is still a plain file of a sane size.
    xml = sandbox.read_regular_file(report, REPORT_LIMIT) if ending == "done" else None
    if ending != "done":
        run["cells"], run["running"] = read_progress(text)
    elif xml is None:
        run["problems"] = ["pytest không tạo báo cáo: " + " ".join(text.strip().splitlines()[-3:])]
    else:
        try:
            run["cells"], run["problems"] = read_junit(xml)
        except ElementTree.ParseError as error:
            run["problems"] = [f"báo cáo của pytest không đọc được: {error}"]
    return run


def decide_check(result: tuple[str, str] | None) -> str:
    """Return pass, fail or not_run for a check cell's nbval outcome (None: the cell never ran)."""
    if result is None:
        return "not_run"
    outcome, message = result
    if outcome == "passed":
        return "pass"
    if outcome == "failed" and "Kernel dead on test start" not in message:
        return "fail"
    return "not_run"  # skipped, setup error (kernel not started), or kernel already dead


def collect_outcomes(cells: dict[int, tuple[str, str]], checks: dict[int, list[str]]) -> dict[str, tuple[str, str]]:
    """Return each check's run value and failure message, in cell order; a name used by several cells takes the worst."""
    outcomes = {}
    for number, names in checks.items():
        value = decide_check(cells.get(number))
        message = summarize_failure(cells[number][1], FEEDBACK_WIDTH) if value == "fail" else ""
        for name in names:
            if CHECK_RANK[value] >= CHECK_RANK[outcomes.get(name, ("pass", ""))[0]]:
                outcomes[name] = (value, message)
    return outcomes


def decide_values(names: list[str], outcomes: dict[str, tuple[str, str]], edited: set[str]) -> dict[str, str]:
    """Return the column value of each check name: missing, edited, or its run value."""
    return {
        name: "missing" if name not in outcomes else "edited" if name in edited else outcomes[name][0]
        for name in names
    }


def find_cell_error(cells: dict[int, tuple[str, str]], checks: dict[int, list[str]]) -> tuple[int, str] | None:
    """Return (code-cell number from 1, exception line) of the first failing non-check cell, or None."""
    for number, (outcome, message) in sorted(cells.items()):
        if outcome == "error" or (outcome == "failed" and number not in checks):
            return number + 1, summarize_failure(message, FEEDBACK_WIDTH)
    return None


def describe_tampering(values: dict[str, str]) -> str:
    """Return "bị sửa: a, b; bị xoá: c" for the edited and missing checks, or "" when there are none."""
    groups = [
        (label, [name for name, value in values.items() if value == code])
        for code, label in (("edited", "bị sửa"), ("missing", "bị xoá"))
    ]
    return "; ".join(f"{label}: {', '.join(names)}" for label, names in groups if names)


def decide_status(run: dict, row: dict, timeout: float) -> tuple[str, str]:
    """Return the notebook's status and a short Vietnamese detail from its run and its row's values."""
    if run["kit_edited"]:  # its checks ran with the edited kit: whatever they gave proves nothing
        return "tampered", KIT_COPY_EDITED
    tampering = describe_tampering(row["checks"])
    if tampering:
        return "tampered", shorten(tampering)
    running = run["running"]
    failing = [name for name, value in row["checks"].items() if value != "pass"]
    if run["ending"] == "timeout":
        where = f" (đang chạy ô code thứ {running + 1})" if running is not None else ""
        status, detail = "timeout", f"quá {timeout:g} giây{where}"
    elif run["ending"] in ("memory", "disk"):
        where = f" (đang chạy ô code thứ {running + 1})" if running is not None else ""
        limits = {name: f"{value / sandbox.GIB:g} GB" for name, value in vars(sandbox.Limits()).items()}
        status, detail = "error", RUN_STOPPED[run["ending"]].format(**limits) + where
    elif run["ending"] == "kernel_died":
        where = f" khi chạy ô code thứ {running + 1}" if running is not None else ""
        status, detail = "error", f"kernel dừng đột ngột{where} (hết bộ nhớ? os._exit?)"
    elif run["problems"]:
        status, detail = "error", run["problems"][0]
    elif row["cell_error"]:
        status, detail = "error", "ô code thứ {}: {}".format(*row["cell_error"])
    elif failing:
        status, detail = "failed", f"{failing[0]}: {row['outcomes'][failing[0]][1] or 'chưa chạy'}"
    elif row["saved_dataset"] in ("fail", "missing"):
        message = row["dataset_message"] or DATASET_LABELS[row["saved_dataset"]]
        status, detail = "failed", f"saved_dataset: {message}"
    else:
        status, detail = "ok", ""
    # A notebook without checks is most likely the wrong file: say so, keep any error as detail.
    return ("no_checks" if not row["outcomes"] else status), shorten(detail)


def validate_dataset(dataset_check, folder: Path) -> tuple[str, str]:
    """Return (pass, fail or missing; message) for the dataset a run saved into ``folder``, checked in this process."""
    if not (folder / "dataset_info.json").is_file():
        return "missing", ""
    # Written by the run, read here by the grader: no link to a file of the grader's, no FIFO, nothing huge.
    unsafe = sandbox.find_unsafe_entry(folder, DATASET_LIMIT)
    if unsafe:
        return "fail", f"thư mục tập dữ liệu không đọc được an toàn: {unsafe}"
    try:
        with DATASET_CHECK_LOCK, contextlib.redirect_stdout(io.StringIO()):
            dataset_check(folder)
    except AssertionError as error:
        return "fail", shorten(str(error) or "AssertionError", FEEDBACK_WIDTH)
    except Exception as error:  # an unreadable dataset fails like a wrong one
        return "fail", shorten(f"{type(error).__name__}: {error}", FEEDBACK_WIDTH)
    return "pass", ""


def new_row(name: str) -> dict:
    """Return the grade row of a notebook before grading: no status, no value."""
    return {"notebook": name, "status": "", "checks_passed": 0, "checks_total": 0, "seconds": 0, "checks": {},
            "detail": "", "outcomes": {}, "saved_dataset": "", "dataset_message": "", "cell_error": None, "sandbox": ""}


def grade_notebook(path, timeout: float = DEFAULT_TIMEOUT, reference=None, dataset_check=None,
                   threads: int | None = None, hide: tuple[Path, ...] | None = ()) -> dict:
    """Run one learner notebook alone in a temporary folder (reference: a path or read_reference's cells); return its row."""
    path = Path(path)
    started = time.monotonic()
    released = read_reference(reference) if isinstance(reference, (str, os.PathLike)) else reference
    row = new_row(path.name)
    row["sandbox"] = SANDBOX_LABELS[hide is not None]
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds (NotJSONError, ValidationError, ...)
        detail = shorten(f"không đọc được notebook: {error}")
        row.update(status="invalid", checks_total=len(released or {}), detail=detail)
        return row
    checks, edited = apply_reference(notebook, released) if released is not None else (find_checks(notebook), set())
    with tempfile.TemporaryDirectory(prefix="grading-", ignore_cleanup_errors=True) as tmp:
        run = run_notebook(notebook, path.name, Path(tmp), timeout, threads, hide)
        if dataset_check is not None:
            row["saved_dataset"], row["dataset_message"] = validate_dataset(dataset_check, Path(tmp) / DATASET_FOLDER)
    row["outcomes"] = collect_outcomes(run["cells"], checks)
    row["checks"] = decide_values(list(released if released is not None else row["outcomes"]), row["outcomes"], edited)
    row["cell_error"] = find_cell_error(run["cells"], checks)
    status, detail = decide_status(run, row, timeout)
    row.update(
        status=status, detail=detail, checks_total=len(row["checks"]),
        checks_passed=sum(value == "pass" for value in row["checks"].values()),
        seconds=round(time.monotonic() - started),
    )
    return row


def grade_safely(path: Path, timeout: float, released, dataset_check, threads: int | None = None,
                 hide: tuple[Path, ...] | None = ()) -> dict:
    """Grade one notebook; a grader bug becomes an error row instead of stopping the other notebooks."""
    try:
        return grade_notebook(path, timeout, released, dataset_check, threads, hide)
    except Exception as error:
        row = new_row(path.name)
        row["sandbox"] = SANDBOX_LABELS[hide is not None]
        row.update(status="error", detail=shorten(f"lỗi của bộ chấm: {type(error).__name__}: {error}"))
        return row


def list_entries(folder: Path, out_dir: Path | None = None) -> tuple[list[Path], list[str]]:
    """Return (notebooks to grade, names of the other entries) directly inside ``folder``, sorted."""
    notebooks, skipped = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or (out_dir is not None and entry.resolve() == out_dir.resolve()):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            notebooks.append(entry)
        else:
            skipped.append(entry.name + ("/" if entry.is_dir() else ""))
    return notebooks, skipped


def collect_check_names(rows: list[dict]) -> list[str]:
    """Return every check name of the rows, in first-seen order."""
    names = {}
    for row in rows:
        names.update(dict.fromkeys(row["checks"]))
    return list(names)


def format_table(header: list[str], lines: list[list[str]]) -> list[str]:
    """Return text lines of a left-aligned table; the last column is not padded."""
    # Hand-written: a few padded columns do not justify a table library the kit does not pin.
    widths = [max(len(str(cells[i])) for cells in [header, *lines]) for i in range(len(header))]
    return [
        "  ".join(str(cell).ljust(width) for cell, width in zip(cells[:-1], widths)) + "  " + str(cells[-1])
        for cells in [header, *lines]
    ]


def describe_checks(rows: list[dict]) -> list[str]:
    """Return the summary lines per check (passed / graded, edited, missing) and for the saved datasets."""
    text = []
    names = collect_check_names(rows)
    if names:
        text += ["", "Theo từng ô kiểm tra (số notebook đạt / số notebook được chấm ô đó):"]
        for name in names:
            values = [row["checks"][name] for row in rows if name in row["checks"]]
            extra = [f"{label}: {values.count(code)}" for code, label in (("edited", "bị sửa"), ("missing", "thiếu"))
                     if code in values]
            text.append(f"  {name}: {values.count('pass')}/{len(values)}" + (f" ({', '.join(extra)})" if extra else ""))
    saved = [row["saved_dataset"] for row in rows if row["saved_dataset"]]
    if saved:
        counts = ", ".join(f"{saved.count(code)} {label}" for code, label in DATASET_LABELS.items() if code in saved)
        text += ["", f"Tập dữ liệu đã lưu (saved_dataset, kiểm tra ngoài kernel của học viên): {counts}"]
    return text


def describe_rows(rows: list[dict], skipped: list[str] = ()) -> str:
    """Return the Vietnamese summary of a grading: one table line per notebook, totals, checks."""
    if not rows:
        text = ["Không có notebook (*.ipynb) nào để chấm."]
    else:
        table = [
            [row["notebook"], STATUS_LABELS[row["status"]], f"{row['checks_passed']}/{row['checks_total']}",
             str(row["seconds"]), row["detail"]]
            for row in rows
        ]
        text = format_table(["Notebook", "Trạng thái", "Đạt", "Giây", "Chi tiết"], table)
        counts = [f"{sum(row['status'] == code for row in rows)} {label}"
                  for code, label in STATUS_LABELS.items() if any(row["status"] == code for row in rows)]
        text += ["", f"Tổng: {len(rows)} notebook — " + ", ".join(counts)]
        text += describe_checks(rows)
    if skipped:
        text += ["", "bỏ qua: " + ", ".join(skipped)]
    if any(row.get("sandbox") == SANDBOX_LABELS[False] for row in rows):
        text = [UNCONFINED_WARNING, "", *text]
    return "\n".join(text) + "\n"


def describe_outcome(value: str, message: str) -> str:
    """Return a check's run value for the learner: "đạt", "chưa đạt — <message>" or "chưa chạy (...)"."""
    if value == "fail" and message:
        return f"{CHECK_LABELS['fail']} — {message}"
    if value == "not_run":
        return f"{CHECK_LABELS['not_run']} (hết giờ hoặc kernel dừng trước khi tới ô này, hoặc ô bị bỏ qua)"
    return CHECK_LABELS[value]


def describe_check(name: str, value: str, outcome: tuple[str, str] | None) -> str:
    """Return the learner's feedback line for one check."""
    if value == "missing":
        return f"{CHECK_ICONS[value]} {name}: {CHECK_LABELS[value]} — hãy chép lại ô `# CHECK: {name}` từ bài tập gốc"
    if value == "edited":
        return (f"{CHECK_ICONS[value]} {name}: {CHECK_LABELS[value]} — bài được chấm bằng ô kiểm tra gốc: "
                f"{describe_outcome(*outcome)}")
    return f"{CHECK_ICONS[value]} {name}: {describe_outcome(*outcome)}"


def describe_feedback(row: dict) -> str:
    """Return the learner's Vietnamese feedback for one graded notebook: status, each check, dataset, error, next step."""
    result = STATUS_LABELS[row["status"]] + (f" — {row['detail']}" if row["detail"] else "")
    items = [describe_check(name, value, row["outcomes"].get(name)) for name, value in row["checks"].items()]
    if row["saved_dataset"]:
        icon = CHECK_ICONS["pass" if row["saved_dataset"] == "pass" else "fail"]
        message = f" — {row['dataset_message']}" if row["dataset_message"] else ""
        items.append(f"{icon} Tập dữ liệu lưu trên đĩa: {DATASET_LABELS[row['saved_dataset']]}{message}")
    if row["cell_error"]:
        items.append("Ô code thứ {} lỗi: {}".format(*row["cell_error"]))
    body = ["", *items] if items else []
    return "\n".join([f"Notebook: {row['notebook']}", f"Kết quả: {result}", *body, "", NEXT_STEPS[row["status"]]]) + "\n"


def write_reports(rows: list[dict], out_dir, skipped: list[str] = ()) -> tuple[Path, Path]:
    """Write grades.csv, grades.txt and feedback/<notebook stem>.txt into ``out_dir``; return the first two paths."""
    out_dir = Path(out_dir)
    (out_dir / "feedback").mkdir(parents=True, exist_ok=True)
    for old in (out_dir / "feedback").glob("*.txt"):  # a previous grading's files, maybe of notebooks now removed
        old.unlink()
    names = collect_check_names(rows)
    dataset_column = ["saved_dataset"] if any(row["saved_dataset"] for row in rows) else []
    # A check named like another column gets a prefix rather than overwriting that column.
    columns = {name: (f"check:{name}" if name in (*FIXED_COLUMNS, "saved_dataset", "detail") else name)
               for name in names}
    csv_path, txt_path = out_dir / "grades.csv", out_dir / "grades.txt"
    with open(csv_path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FIXED_COLUMNS, *columns.values(), *dataset_column, "detail", "sandbox"])
        writer.writeheader()
        for row in rows:
            record = {key: row[key] for key in (*FIXED_COLUMNS, *dataset_column, "detail", "sandbox")}
            record.update({columns[name]: row["checks"].get(name, "") for name in names})
            writer.writerow(record)
    txt_path.write_text(describe_rows(rows, skipped), encoding="utf-8")
    for row in rows:
        (out_dir / "feedback" / f"{Path(row['notebook']).stem}.txt").write_text(describe_feedback(row), encoding="utf-8")
    return csv_path, txt_path


def default_out_dir(folder) -> Path:
    """Return the default report folder: ``grading-<name>`` beside ``folder``."""
    folder = Path(folder).resolve()
    return folder.parent / f"grading-{folder.name}"


class SandboxMissing(RuntimeError):
    """bubblewrap is not installed and the instructor did not ask for unconfined runs."""


def prepare_models() -> None:
    """Convert the preset's offline models once, here: sandboxed runs read the model cache read-only."""
    from helpers.models import get_cache_dir
    from helpers.presets import choose_preset, resolve_model

    for role in choose_preset().roles.values():
        resolve_model(role.model)
    sandbox.share_for_reading(get_cache_dir() / "models")


def grade_folder(folder, timeout: float = DEFAULT_TIMEOUT, out_dir=None, reference=None, dataset_check=None,
                 jobs: int = 1, sandboxed: bool = True) -> list[dict]:
    """Grade every notebook directly inside ``folder``, ``jobs`` at once; write the reports; return the rows (name order).

    ``sandboxed``: every run in bubblewrap (coursetools/sandbox.py); SandboxMissing if it is not installed.
    """
    folder = Path(folder)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(folder)
    if sandboxed:
        bwrap = sandbox.find_bwrap()
        if bwrap is None:
            raise SandboxMissing(sandbox.describe_missing())
        problem = sandbox.try_sandbox(bwrap)  # before any run: a sandbox that cannot start would fail every notebook
        if problem:
            raise SandboxMissing(problem)
    notebooks, skipped = list_entries(folder, out_dir)
    # A run sees neither the other submissions nor the reports (nor, see run_notebook, the grader's home and the kit).
    hide = (folder.resolve(), out_dir.resolve()) if sandboxed else None
    if sandboxed and notebooks:
        prepare_models()
    kit_hash = hash_kit(reference)
    released = read_reference(reference) if reference is not None else None
    kit_changed = threading.Event()

    def grade(path: Path) -> dict:
        """Grade one notebook unless the kit has changed; then check that its run left the kit as it was."""
        if kit_changed.is_set():
            row = new_row(path.name)
            row.update(status="error", checks_total=len(released or {}), detail=NOT_GRADED, sandbox=SANDBOX_LABELS[sandboxed])
            return row
        row = grade_safely(path, timeout, released, dataset_check, threads, hide)
        if row["status"] != "invalid" and hash_kit(reference) != kit_hash:  # an invalid notebook never ran
            kit_changed.set()
            row.update(status="tampered", detail=KIT_EDITED)
            print(f"CẢNH BÁO: {KIT_ROOT / KIT_PACKAGE} hoặc notebook gốc đã bị sửa trong khi chấm {path.name} "
                  "(với --jobs > 1, có thể do một notebook chạy cùng lúc). Các notebook chưa bắt đầu sẽ không được "
                  "chấm; hãy khôi phục khóa học (git status, git diff) rồi chấm lại.", file=sys.stderr, flush=True)
        return row

    # A notebook's kernel gives its model every core (helpers/threads.py): kernels running at once share them.
    at_once = min(jobs, len(notebooks))
    threads = max(1, count_cores() // at_once) if at_once > 1 else None
    pool = ThreadPoolExecutor(max_workers=jobs)
    try:
        futures = [pool.submit(grade, path) for path in notebooks]
        for number, future in enumerate(as_completed(futures), start=1):
            row = future.result()
            result = f"{STATUS_LABELS[row['status']]} ({row['seconds']} giây)"
            print(f"[{number}/{len(notebooks)}] {row['notebook']}: {result}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        STOPPING.set()
        raise
    finally:
        pool.shutdown(cancel_futures=True)  # waits for the running notebooks, which stop at once on STOPPING
        STOPPING.clear()
    rows = [future.result() for future in futures]
    write_reports(rows, out_dir, skipped)
    return rows


SIGTERM_STOP = "SIGTERM"


def stop_on_sigterm(signum, frame) -> None:
    """Raise KeyboardInterrupt on SIGTERM, so that grading stops and cleans up as on Ctrl+C."""
    raise KeyboardInterrupt(SIGTERM_STOP)


def find_argument_error(args: argparse.Namespace) -> str:
    """Return the Vietnamese error message of the first unusable argument, or "" when they all work."""
    if not args.folder.is_dir():
        return f"không tìm thấy thư mục '{args.folder}'."
    if args.timeout <= 0:
        return "--timeout phải lớn hơn 0."
    if args.jobs < 1:
        return "--jobs phải lớn hơn hoặc bằng 1."
    try:
        sources = read_reference(args.reference)
    except Exception as error:  # missing file, not JSON, not a valid notebook
        return f"không đọc được notebook gốc '{args.reference}': {shorten(str(error))}"
    return "" if sources else f"notebook gốc '{args.reference}' không có ô `# CHECK:` nào."


def main(argv: list[str] | None = None) -> int:
    """Grade a folder from the command line; print the summary; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m coursetools grade", description="Chấm mọi notebook (*.ipynb) trong một thư mục bằng nbval."
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="thư mục chứa notebook của học viên")
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE, metavar="PATH",
                        help="notebook bài tập gốc: các ô # CHECK: của nó được dùng để chấm "
                             "(mặc định exercises/preference_dpo_dataset.ipynb)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="số notebook chấm cùng lúc (mặc định 1)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"số giây tối đa cho mỗi notebook (mặc định {DEFAULT_TIMEOUT})")
    parser.add_argument("--out", type=Path, default=None, metavar="OUTDIR",
                        help="thư mục ghi grades.csv, grades.txt và feedback/ "
                             "(mặc định grading-<tên thư mục> bên cạnh nó)")
    parser.add_argument("--no-sandbox", action="store_true",
                        help="chạy bài nộp KHÔNG có hộp cát bubblewrap (macOS, máy không có user namespace): mã của học "
                             "viên chạy với quyền của bạn; báo cáo ghi điều đó ở mọi dòng")
    args = parser.parse_args(argv)
    error = find_argument_error(args)
    if error:
        print(f"Lỗi: {error}", file=sys.stderr)
        return 2
    out_dir = args.out if args.out is not None else default_out_dir(args.folder)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"Lỗi: không tạo được thư mục kết quả '{out_dir}': {error}", file=sys.stderr)
        return 2
    from helpers.checks import check_saved_dataset  # imported here, so that importing this module stays light

    # Each run's processes live in a session of their own: a plain SIGTERM (kill, a cancelled job) would leave them
    # running. Stop the same orderly way as on Ctrl+C.
    previous = signal.signal(signal.SIGTERM, stop_on_sigterm)
    try:
        grade_folder(args.folder, args.timeout, out_dir, reference=args.reference, dataset_check=check_saved_dataset,
                     jobs=args.jobs, sandboxed=not args.no_sandbox)
    except SandboxMissing as missing:
        print(f"Lỗi: {missing}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stop:  # the running notebooks' processes are already stopped
        how, code = ("SIGTERM", 143) if stop.args == (SIGTERM_STOP,) else ("Ctrl+C", 130)
        print(f"\nĐã dừng chấm ({how}); chưa ghi kết quả.", file=sys.stderr)
        return code
    finally:
        signal.signal(signal.SIGTERM, previous)
    txt_path = out_dir / "grades.txt"
    print(txt_path.read_text(encoding="utf-8"), end="")
    print(f"\nĐã ghi {out_dir / 'grades.csv'}, {txt_path} và thư mục {out_dir / 'feedback'}")
    return 0
