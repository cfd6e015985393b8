"""Step 4, check: decide each check's value and the notebook's status from the outcomes of its run.

A check's run value: ``pass`` iff its cell passed; ``fail`` when it failed; ``not_run`` when the cell never ran (skipped,
kernel dead or not started, time out before it). A name used by several cells takes the worst. Column values: ``pass``
(đạt), ``fail`` (chưa đạt), ``not_run`` (chưa chạy), ``missing`` (thiếu ô kiểm tra), ``edited`` (ô kiểm tra bị sửa,
whatever the released cell gave). Only ``pass`` counts in checks_passed; checks_total is the number of reference checks
(without a reference: of the learner's check names).

Statuses (CSV code / summary label): ``ok`` (đạt) every check passes, and the saved dataset if checked; ``failed`` (chưa
đạt) some check did not pass, or they all did but the saved dataset did not (detail "saved_dataset: <message>");
``error`` (lỗi) a non-check cell failed, the kernel died, the run was stopped over its memory or disk budget, or the
grader could not run its checks again outside the kernel (recheck.py: its process failed);
``timeout`` (quá giờ); ``tampered`` (can thiệp vào việc chấm) some check edited or missing (detail "bị sửa: a; bị xoá:
b"), or the kit edited, or a check that passed in the kernel failed when run again outside it (recheck.py);
``invalid`` (không đọc được) not a notebook nbformat can read, not run; ``no_checks`` (không có ô
kiểm tra) without a reference, no check cell. When several apply: invalid, tampered (kit edited first), timeout, error,
failed, ok.
"""

from __future__ import annotations

from coursetools import sandbox
from coursetools.grading.extract import Outcomes, summarize_failure
from coursetools.grading.labels import (
    DATASET_LABELS, FEEDBACK_WIDTH, KIT_COPY_EDITED, RECHECK_DISAGREES, RECHECK_FAILED, RUN_STOPPED, shorten,
)
from coursetools.grading.prepare import Prepared
from coursetools.grading.recheck import NOT_RECHECKED

CHECK_RANK = {"pass": 0, "not_run": 1, "fail": 2}  # a name used by several cells takes the worst


def new_row(name: str) -> dict:
    """Return the grade row of a notebook before grading: no status, no value."""
    return {"notebook": name, "status": "", "checks_passed": 0, "checks_total": 0, "seconds": 0, "checks": {},
            "detail": "", "outcomes": {}, "saved_dataset": "", "dataset_message": "", "cell_error": None, "sandbox": "",
            "disagreeing": [], "unrechecked": []}


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


def decide_status(ending: str, kit_edited: bool, outcomes: Outcomes, row: dict, timeout: float) -> tuple[str, str]:
    """Return the notebook's status and a short Vietnamese detail from how its run ended and its row's values."""
    if kit_edited:  # its checks ran with the edited kit: whatever they gave proves nothing
        return "tampered", KIT_COPY_EDITED
    tampering = describe_tampering(row["checks"])
    if tampering:
        return "tampered", shorten(tampering)
    if row.get("disagreeing"):  # its checks passed in the kernel and failed on the same values outside it
        name = row["disagreeing"][0]
        return "tampered", shorten(f"{RECHECK_DISAGREES}: {', '.join(row['disagreeing'])} — {name}: {row['outcomes'][name][1]}")
    if row.get("unrechecked"):  # the grader's own failure: the instructor looks at it, the learner is not told "wrong"
        name = row["unrechecked"][0]
        return "error", shorten(f"{RECHECK_FAILED}: {', '.join(row['unrechecked'])} — {row['outcomes'][name][1]}")
    running = outcomes.running
    failing = [name for name, value in row["checks"].items() if value != "pass"]
    if ending == "timeout":
        where = f" (đang chạy ô code thứ {running + 1})" if running is not None else ""
        status, detail = "timeout", f"quá {timeout:g} giây{where}"
    elif ending in ("memory", "disk"):
        where = f" (đang chạy ô code thứ {running + 1})" if running is not None else ""
        limits = {name: f"{value / sandbox.GIB:g} GB" for name, value in vars(sandbox.Limits()).items()}
        status, detail = "error", RUN_STOPPED[ending].format(**limits) + where
    elif ending == "kernel_died":
        where = f" khi chạy ô code thứ {running + 1}" if running is not None else ""
        status, detail = "error", f"kernel dừng đột ngột{where} (hết bộ nhớ? os._exit?)"
    elif outcomes.problems:
        status, detail = "error", outcomes.problems[0]
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


def apply_rechecks(outcomes: dict[str, tuple[str, str]], rechecks: dict[str, tuple[str, str]],
                   calls: dict) -> tuple[list[str], list[str]]:
    """Let a check pass only if it passed again outside the kernel; return (checks that failed there, checks not rechecked).

    A check the grader could not run again (its process failed: ``error``) is not_run, not failed: the learner is not
    blamed for the grader's failure, and it does not count as passed either. A ``wrong`` one (ratings that are not the
    preset judge's, recheck.rescore_ratings) fails as a wrong answer does.
    """
    disagreeing, unchecked = [], []
    for name, (value, _) in list(outcomes.items()):
        if name in calls and value == "pass":
            again, message = rechecks.get(name, ("fail", NOT_RECHECKED))
            if again == "error":
                outcomes[name] = ("not_run", shorten(message, FEEDBACK_WIDTH))
                unchecked.append(name)
            elif again == "wrong":  # a wrong answer (ratings not the preset judge's), not a forced pass
                outcomes[name] = ("fail", shorten(message, FEEDBACK_WIDTH))
            elif again != "pass":
                outcomes[name] = ("fail", shorten(message, FEEDBACK_WIDTH))
                disagreeing.append(name)
    return disagreeing, unchecked


def fill_row(row: dict, prepared: Prepared, released: dict | None, outcomes: Outcomes, ending: str, kit_edited: bool,
             timeout: float, rechecks: dict[str, tuple[str, str]] | None = None) -> dict:
    """Fill a notebook's row (its saved_dataset already decided) with its checks' values, status and detail."""
    row["outcomes"] = collect_outcomes(outcomes.cells, prepared.checks)
    row["disagreeing"], row["unrechecked"] = (
        apply_rechecks(row["outcomes"], rechecks or {}, prepared.calls) if ending == "done" else ([], []))
    names = list(released if released is not None else row["outcomes"])
    row["checks"] = decide_values(names, row["outcomes"], prepared.edited)
    row["cell_error"] = find_cell_error(outcomes.cells, prepared.checks)
    status, detail = decide_status(ending, kit_edited, outcomes, row, timeout)
    row.update(status=status, detail=detail, checks_total=len(row["checks"]),
               checks_passed=sum(value == "pass" for value in row["checks"].values()))
    return row
