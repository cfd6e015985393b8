"""Instructor grading: run every learner notebook of a folder with nbval and report each check cell.

Usage (``make grade DIR=...`` calls this)::

    python -m coursetools grade FOLDER [--timeout SECONDS] [--out OUTDIR]

* FOLDER: the learners' notebooks; every ``*.ipynb`` directly inside it is graded, in name order
  (not recursively). Other entries are not graded but listed as "bỏ qua" in the summary; hidden
  ones (``.ipynb_checkpoints`` ...) are ignored.
* --timeout: seconds allowed for one whole notebook, kernel start included (default 900).
* --out: where ``grades.csv`` and ``grades.txt`` go (default: ``grading-<FOLDER name>`` next to
  FOLDER, so never inside it). ``grades.txt`` is also printed.

Exit code 0 when grading worked, whatever the learners' results; 2 when the grader itself cannot
work (FOLDER missing, OUTDIR not writable); 130 when stopped with Ctrl+C (nothing written).

Each notebook is read with nbformat, written without its outputs into a fresh temporary folder
and run there by ``python -m pytest --nbval-lax`` in its own process session (working directory =
that folder, so the learner's file is never touched; TMPDIR points inside it too). When the time
is up the process group is killed with SIGKILL, and so is every process the run started (the
kernel lives in a session of its own; all of them carry the KIT_GRADING_RUN variable). A kernel
that dies inside a cell (out of memory, ``os._exit``) would leave nbval waiting: the grader notices
it and reports an error after a few seconds instead of waiting for the timeout. POSIX only.

A check is a code cell with a line ``# CHECK: <name>``; it passes iff nbval's test of that cell
passes. nbval 0.11 makes one test item per *code* cell, named ``Cell N`` with N counted from 0
over code cells only (markdown and raw cells are not counted), and it keeps running the next
cells after a cell fails. So a check after a failing cell still runs (and usually fails);
``not_run`` means its cell never ran: skipped (``# NBVAL_SKIP``), kernel dead or not started,
time out before it.

Statuses (CSV code / summary label): ``ok`` (đạt) all checks pass; ``failed`` (chưa đạt) some check
did not pass; ``error`` (lỗi) a non-check cell failed or the kernel died; ``timeout`` (quá giờ);
``invalid`` (không đọc được) not a notebook nbformat can read, not run; ``no_checks`` (không có ô
kiểm tra) no check cell, still run, its errors go to the detail column. When several apply:
timeout, then error, then failed.

``grades.csv`` (UTF-8 with BOM, so that Excel shows Vietnamese text) has one row per notebook:
notebook, status, checks_passed, checks_total, seconds, one column per check name (union over all
notebooks, in first-seen order; pass / fail / not_run, empty when the notebook has no such check),
detail.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import nbformat
import psutil  # installed with IPython (a Jupyter requirement on Linux and macOS)

from coursetools.markers import find_check_names, is_check_cell
from helpers.storage import DATASET_ENV

DEFAULT_TIMEOUT = 900
DETAIL_WIDTH = 200
POLL_SECONDS = 0.5
# After the kernel is gone while a cell is still running, nbval waits for a reply that never
# comes (until its own cell timeout); give pytest this long to finish by itself, then stop it.
KERNEL_EXIT_GRACE = 5.0
MARKER_ENV = "KIT_GRADING_RUN"  # every process a run starts inherits it, so leftovers can be found
FIXED_COLUMNS = ("notebook", "status", "checks_passed", "checks_total", "seconds")
STATUS_LABELS = {
    "ok": "đạt",
    "failed": "chưa đạt",
    "error": "lỗi",
    "timeout": "quá giờ",
    "invalid": "không đọc được",
    "no_checks": "không có ô kiểm tra",
}
CHECK_RANK = {"pass": 0, "not_run": 1, "fail": 2}  # a name used by several cells takes the worst

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


def summarize_failure(text: str) -> str:
    """Return the exception line of an nbval failure text ("NameError: name 'x' ..."), shortened."""
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
            return shorten(" ".join(lines[start:])).rstrip(":")
    for line in lines:  # nbval's own messages: "Cell 3: Timeout of ... exceeded ..."
        if re.match(r"Cell \d+: ", line):
            return shorten(line.split(": ", 1)[1])
    return shorten(lines[-1])


def read_junit(report: Path) -> tuple[dict[int, tuple[str, str]], list[str]]:
    """Return (outcome and message by nbval cell number, notebook-level problems) from a junit XML."""
    cells, problems = {}, []
    for case in ElementTree.parse(report).iter("testcase"):
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
    """Return the live (not zombie) ipykernel children of the pytest process ``pid``."""
    try:
        children = psutil.Process(pid).children()
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


def wait_for_pytest(process: subprocess.Popen, timeout: float, output: Path) -> str:
    """Wait for pytest; return "done", "timeout" or "kernel_died" (kernel gone in the middle of a cell)."""
    deadline = time.monotonic() + timeout
    seen_kernel, gone_since = False, None
    while True:
        try:
            process.wait(timeout=min(POLL_SECONDS, max(deadline - time.monotonic(), 0.01)))
            return "done"
        except subprocess.TimeoutExpired:
            pass
        now = time.monotonic()
        if now >= deadline:
            return "timeout"
        if find_kernels(process.pid):
            seen_kernel, gone_since = True, None
            continue
        # At the normal end nbval stops the kernel after the last cell's result is printed,
        # so "no kernel while a cell is running" only happens when the kernel died.
        if seen_kernel and read_progress(output.read_text(errors="replace"))[1] is not None:
            gone_since = gone_since or now
            if now - gone_since >= KERNEL_EXIT_GRACE:
                return "kernel_died"


def run_notebook(notebook, name: str, tmp: Path, timeout: float) -> dict:
    """Run one notebook copy with nbval inside ``tmp`` and return what happened to its cells."""
    work = tmp / "work"
    work.mkdir()
    (tmp / "tmp").mkdir()
    for cell in notebook.cells:
        if cell.cell_type == "code":
            # Stored outputs are not graded; without them nbval compares nothing and cannot stop on
            # "Unrun reference cell has outputs" (outputs saved without an execution count).
            cell.outputs, cell.execution_count = [], None
    copy = work / name
    nbformat.write(notebook, copy)
    # An empty ini file in tmp: pytest then reads no configuration or conftest.py around tmp.
    (tmp / "pytest.ini").write_text("[pytest]\n")
    report, output = tmp / "report.xml", tmp / "pytest-output.txt"
    command = [
        sys.executable, "-m", "pytest", "-c", str(tmp / "pytest.ini"), "--rootdir", str(tmp),
        "-p", "no:cacheprovider", "-p", "nbval.plugin", "--nbval-lax", "--nbval-current-env",
        # nbval's own per-cell limit stays above ours, so the whole-notebook timeout decides.
        f"--nbval-cell-timeout={int(timeout) + 60}", "-v", "--color=no", f"--junitxml={report}", str(copy),
    ]
    environ = {key: value for key, value in os.environ.items() if key != "PYTEST_ADDOPTS"}
    environ.update(
        HF_HUB_OFFLINE="1",
        PYTHONUNBUFFERED="1",  # progress lines reach the file at once, for a run we have to stop
        # Only nbval: a plugin installed by chance (pytest-randomly ...) could reorder the cells.
        PYTEST_DISABLE_PLUGIN_AUTOLOAD="1",
    )
    environ[MARKER_ENV] = str(tmp)
    # The kernel's connection file and the learner's temporary files land here too, and are
    # removed with the folder even when the run had to be killed.
    environ["TMPDIR"] = str(tmp / "tmp")
    # The exercise saves its dataset to KIT_DATASET_DIR (else ../data next to the notebook, which
    # would be outside the temporary folder): keep each learner's dataset inside their own run.
    environ[DATASET_ENV] = str(tmp / "dataset")
    with open(output, "wb") as sink:
        process = subprocess.Popen(
            command, cwd=work, env=environ, stdin=subprocess.DEVNULL, stdout=sink, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            ending = wait_for_pytest(process, timeout, output)
            if ending != "done":
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        finally:
            if process.poll() is None:  # interrupted (Ctrl+C): leave nothing behind
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
            stop_marked_processes(str(tmp))
    text = output.read_text(errors="replace")
    if ending != "done":
        cells, running = read_progress(text)
        return {"ending": ending, "cells": cells, "running": running, "problems": []}
    if not report.exists():
        tail = " ".join(text.strip().splitlines()[-3:])
        return {"ending": ending, "cells": {}, "running": None, "problems": [f"pytest không tạo báo cáo: {tail}"]}
    cells, problems = read_junit(report)
    return {"ending": ending, "cells": cells, "running": None, "problems": problems}


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


def decide_status(run: dict, checks: dict[int, list[str]], values: dict[str, str], timeout: float) -> tuple[str, str]:
    """Return the notebook's status and a short Vietnamese detail from its run and check values."""
    cells, running = run["cells"], run["running"]
    failing_cells = [
        (number, result) for number, result in sorted(cells.items())
        if (result[0] == "failed" and number not in checks) or result[0] == "error"
    ]
    if run["ending"] == "timeout":
        where = f" (đang chạy ô code thứ {running + 1})" if running is not None else ""
        status, detail = "timeout", f"quá {timeout:g} giây{where}"
    elif run["ending"] == "kernel_died":
        where = f" khi chạy ô code thứ {running + 1}" if running is not None else ""
        status, detail = "error", f"kernel dừng đột ngột{where} (hết bộ nhớ? os._exit?)"
    elif run["problems"]:
        status, detail = "error", run["problems"][0]
    elif failing_cells:
        number, (_, message) = failing_cells[0]
        status, detail = "error", f"ô code thứ {number + 1}: {summarize_failure(message)}"
    elif any(value != "pass" for value in values.values()):
        name, value = next((name, value) for name, value in values.items() if value != "pass")
        number = next(number for number, names in checks.items()
                      if name in names and decide_check(cells.get(number)) == value)
        reason = summarize_failure(cells[number][1]) if value == "fail" else ""
        status, detail = "failed", f"{name}: {reason or 'chưa chạy'}"
    else:
        status, detail = "ok", ""
    # A notebook without checks is most likely the wrong file: say so, keep any error as detail.
    return ("no_checks" if not checks else status), shorten(detail)


def grade_notebook(path, timeout: float = DEFAULT_TIMEOUT) -> dict:
    """Run one learner notebook in its own process and temporary folder; return its grade row."""
    path = Path(path)
    started = time.monotonic()
    row = {"notebook": path.name, "status": "", "checks_passed": 0, "checks_total": 0, "seconds": 0,
           "checks": {}, "detail": ""}
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as error:  # nbformat raises several kinds (NotJSONError, ValidationError, ...)
        row.update(status="invalid", detail=shorten(f"không đọc được notebook: {error}"))
        return row
    checks = find_checks(notebook)
    with tempfile.TemporaryDirectory(prefix="grading-", ignore_cleanup_errors=True) as tmp:
        run = run_notebook(notebook, path.name, Path(tmp), timeout)
    values = row["checks"]
    for number, names in checks.items():
        value = decide_check(run["cells"].get(number))
        for name in names:
            if CHECK_RANK[value] >= CHECK_RANK[values.get(name, "pass")]:
                values[name] = value
    status, detail = decide_status(run, checks, values, timeout)
    row.update(
        status=status, detail=detail, checks_total=len(values),
        checks_passed=sum(value == "pass" for value in values.values()),
        seconds=round(time.monotonic() - started),
    )
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
        names = collect_check_names(rows)
        if names:
            text += ["", "Theo từng ô kiểm tra (số notebook đạt / số notebook có ô đó):"]
            for name in names:
                values = [row["checks"][name] for row in rows if name in row["checks"]]
                text.append(f"  {name}: {values.count('pass')}/{len(values)}")
    if skipped:
        text += ["", "bỏ qua: " + ", ".join(skipped)]
    return "\n".join(text) + "\n"


def write_reports(rows: list[dict], out_dir, skipped: list[str] = ()) -> tuple[Path, Path]:
    """Write grades.csv and grades.txt into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = collect_check_names(rows)
    # A check named like a fixed column gets a prefix rather than overwriting that column.
    columns = {name: (f"check:{name}" if name in (*FIXED_COLUMNS, "detail") else name) for name in names}
    csv_path, txt_path = out_dir / "grades.csv", out_dir / "grades.txt"
    with open(csv_path, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*FIXED_COLUMNS, *columns.values(), "detail"])
        writer.writeheader()
        for row in rows:
            record = {key: row[key] for key in (*FIXED_COLUMNS, "detail")}
            record.update({columns[name]: row["checks"].get(name, "") for name in names})
            writer.writerow(record)
    txt_path.write_text(describe_rows(rows, skipped), encoding="utf-8")
    return csv_path, txt_path


def default_out_dir(folder) -> Path:
    """Return the default report folder: ``grading-<name>`` beside ``folder``."""
    folder = Path(folder).resolve()
    return folder.parent / f"grading-{folder.name}"


def grade_folder(folder, timeout: float = DEFAULT_TIMEOUT, out_dir=None) -> list[dict]:
    """Grade every notebook directly inside ``folder``, one at a time; write the reports; return the rows."""
    folder = Path(folder)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(folder)
    notebooks, skipped = list_entries(folder, out_dir)
    rows = []
    for number, path in enumerate(notebooks, start=1):
        print(f"[{number}/{len(notebooks)}] {path.name} ...", end=" ", file=sys.stderr, flush=True)
        try:
            row = grade_notebook(path, timeout)
        except Exception as error:  # a grader bug on one notebook must not stop the others
            row = {"notebook": path.name, "status": "error", "checks_passed": 0, "checks_total": 0,
                   "seconds": 0, "checks": {}, "detail": shorten(f"lỗi của bộ chấm: {type(error).__name__}: {error}")}
        print(f"{STATUS_LABELS[row['status']]} ({row['seconds']} giây)", file=sys.stderr, flush=True)
        rows.append(row)
    write_reports(rows, out_dir, skipped)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Grade a folder from the command line; print the summary; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m coursetools grade", description="Chấm mọi notebook (*.ipynb) trong một thư mục bằng nbval."
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="thư mục chứa notebook của học viên")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"số giây tối đa cho mỗi notebook (mặc định {DEFAULT_TIMEOUT})")
    parser.add_argument("--out", type=Path, default=None, metavar="OUTDIR",
                        help="thư mục ghi grades.csv và grades.txt (mặc định grading-<tên thư mục> bên cạnh nó)")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"Lỗi: không tìm thấy thư mục '{args.folder}'.", file=sys.stderr)
        return 2
    if args.timeout <= 0:
        print("Lỗi: --timeout phải lớn hơn 0.", file=sys.stderr)
        return 2
    out_dir = args.out if args.out is not None else default_out_dir(args.folder)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        print(f"Lỗi: không tạo được thư mục kết quả '{out_dir}': {error}", file=sys.stderr)
        return 2
    try:
        grade_folder(args.folder, args.timeout, out_dir)
    except KeyboardInterrupt:  # the running notebook's processes are already stopped
        print("\nĐã dừng chấm (Ctrl+C); chưa ghi kết quả.", file=sys.stderr)
        return 130
    txt_path = out_dir / "grades.txt"
    print(txt_path.read_text(encoding="utf-8"), end="")
    print(f"\nĐã ghi {out_dir / 'grades.csv'} và {txt_path}")
    return 0
