"""Step 3, extract: turn what a run left (pytest's output, its junit report, the saved dataset) into cell outcomes.

A check's run value comes from nbval: nbval 0.11 makes one test item per *code* cell, named ``Cell N`` with N counted
from 0 over code cells only, and keeps running the next cells after a cell fails. A run that ended by itself is read from
its junit report; a run that was stopped (timeout, kernel death, memory, disk) from pytest's ``-v`` progress lines, which
also say which cell was running.

Saved dataset. The released cells still run in the learner's kernel after the learner's code, which can patch what they
call. So with ``dataset_check`` (the CLI passes ``helpers.checks.check_saved_dataset``), once the run is over and before
its folder is removed, the grader calls ``dataset_check(folder)`` in its own process (stdout discarded, one call at a
time) on the folder the run saved into, after checking that the folder holds nothing unsafe to read (a link, a FIFO,
more than DATASET_LIMIT bytes). ``pass``; ``fail`` (AssertionError or any other exception, with its message);
``missing`` (no ``dataset_info.json``: nothing saved).
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field
from pathlib import Path

from coursetools import sandbox
from coursetools.grading.labels import FEEDBACK_WIDTH, DETAIL_WIDTH, shorten

DATASET_LIMIT = 512 * 1024 ** 2  # a larger saved dataset is not read
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


@dataclass
class Outcomes:
    """A run's cells as nbval saw them."""

    cells: dict[int, tuple[str, str]] = field(default_factory=dict)  # outcome and message by code-cell number
    running: int | None = None  # the cell a stopped run was in
    problems: list[str] = field(default_factory=list)  # notebook-level errors (not collected, no report)


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


def read_outcomes(ending: str, output: str, report: bytes | None) -> Outcomes:
    """Return the cells' outcomes of a run: from its junit report if it ended by itself, else from its progress lines."""
    if ending != "done":
        return Outcomes(*read_progress(output))
    if report is None:
        return Outcomes(problems=["pytest không tạo báo cáo: " + " ".join(output.strip().splitlines()[-3:])])
    try:
        cells, problems = read_junit(report)
    except ElementTree.ParseError as error:
        return Outcomes(problems=[f"báo cáo của pytest không đọc được: {error}"])
    return Outcomes(cells, None, problems)


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
