"""Step 5, report: write what grading found for the instructor (grades.csv, grades.txt) and each learner (feedback/).

``grades.csv`` (UTF-8 with BOM, so that Excel shows Vietnamese text), one row per notebook: notebook, status,
checks_passed, checks_total, seconds, one column per check (reference order; without a reference the union over
notebooks in first-seen order; empty when not run or, without a reference, not in that notebook), saved_dataset (only
when checked), detail, sandbox. ``grades.txt``: the table, counts per status, per check how many notebooks passed (and
how many edited or missing it), the saved datasets' counts; a warning first when some run was not sandboxed.
``feedback/<notebook stem>.txt``, for the learner: status and detail, one line per check with its message (up to 600
characters), the saved dataset, the first failing non-check cell, what to do next.
"""

from __future__ import annotations

import csv
from pathlib import Path

from coursetools.grading.labels import (
    CHECK_LABELS, DATASET_LABELS, NEXT_STEPS, SANDBOX_LABELS, STATUS_LABELS, UNCONFINED_WARNING,
)

FIXED_COLUMNS = ("notebook", "status", "checks_passed", "checks_total", "seconds")
CHECK_ICONS = {"pass": "✅", "fail": "❌", "not_run": "⏭", "missing": "⚠️", "edited": "⚠️"}


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
