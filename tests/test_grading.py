"""Instructor grading, run for real: small notebooks graded by nbval in their own processes."""

import csv
import os
import subprocess
import sys
import time

import nbformat
import psutil
import pytest

from coursetools.grading import MARKER_ENV, find_checks, grade_notebook, main, summarize_failure, write_reports

TIMEOUT = 15  # seconds per notebook; a kernel starts in about 2 s here


def write_notebook(path, *sources):
    """Write a notebook of a title cell then one code cell per source."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Bài tập")] + [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(notebook, path)


def make_class_folder(folder):
    """Fill ``folder`` with one learner notebook per situation the grader must handle."""
    folder.mkdir()
    write_notebook(folder / "01_ok.ipynb", "x = 1", "# CHECK: first\nassert x == 1", "# CHECK: second\nassert x + 1 == 2")
    write_notebook(
        folder / "02_second_fails.ipynb",
        "x = 1", "# CHECK: first\nassert x == 1", "# CHECK: second\nassert x == 2, 'x phải bằng 2'",
    )
    write_notebook(  # an untouched exercise: the TODO cell raises, the checks after it still run
        folder / "03_untouched.ipynb",
        "x = None\nraise NotImplementedError('TODO: gán x = 1')",
        "# CHECK: first\nassert x == 1", "# CHECK: second\nassert x + 1 == 2",
    )
    write_notebook(
        folder / "04_deletes.ipynb",
        "import os\n[os.remove(f) for f in os.listdir('.') if f.endswith('.ipynb')]",
        "# CHECK: cleaned\nassert not [f for f in os.listdir('.') if f.endswith('.ipynb')]",
    )
    write_notebook(folder / "05_no_checks.ipynb", "x = 1", "print(x)")
    write_notebook(
        folder / "06_kernel_dies.ipynb",
        "x = 1", "# CHECK: first\nassert x == 1", "import os\nos._exit(1)", "# CHECK: second\nassert x == 1",
    )
    write_notebook(  # graded last among the runs, so a surviving kernel would still be there at the end
        folder / "07_sleeps.ipynb",
        "x = 1", "# CHECK: first\nassert x == 1",
        "import subprocess, time\nsubprocess.Popen(['sleep', '600'], start_new_session=True)\ntime.sleep(10**6)",
        "# CHECK: second\nassert x == 1",
    )
    (folder / "broken.ipynb").write_text("{not json")
    (folder / "notes.txt").write_text("ghi chú của học viên")


def snapshot(folder):
    """Return name -> (bytes, mtime in ns) for every file in ``folder``."""
    return {path.name: (path.read_bytes(), path.stat().st_mtime_ns) for path in folder.iterdir()}


def find_leftovers(prefix):
    """Return live processes started by a grading run whose temporary folder is under ``prefix``."""
    found = []
    for process in psutil.process_iter(["environ", "status"]):
        marker = (process.info.get("environ") or {}).get(MARKER_ENV, "")
        if marker.startswith(prefix) and process.info.get("status") != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the class folder once through the command line; keep what it left behind."""
    root = tmp_path_factory.mktemp("grading")
    folder, out, scratch = root / "class", root / "out", root / "scratch"
    make_class_folder(folder)
    scratch.mkdir()
    before = snapshot(folder)
    # TMPDIR puts the runs' temporary folders (and so their process marker) under `scratch`.
    environ = dict(os.environ, HF_HUB_OFFLINE="1", TMPDIR=str(scratch))
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "coursetools", "grade", str(folder), "--timeout", str(TIMEOUT), "--out", str(out)],
        env=environ, capture_output=True, text=True, timeout=300,
    )
    seconds = time.monotonic() - started
    leftovers = find_leftovers(str(scratch))
    with open(out / "grades.csv", newline="", encoding="utf-8-sig") as handle:
        rows = {row["notebook"]: row for row in csv.DictReader(handle)}
    return {"done": done, "seconds": seconds, "leftovers": leftovers, "rows": rows, "folder": folder,
            "before": before, "out": out, "scratch": scratch}


def test_statuses_and_checks(graded):
    assert graded["done"].returncode == 0, graded["done"].stderr
    got = {
        name: (row["status"], row["checks_passed"], row["checks_total"], row["first"], row["second"], row["cleaned"])
        for name, row in graded["rows"].items()
    }
    assert got == {
        "01_ok.ipynb": ("ok", "2", "2", "pass", "pass", ""),
        "02_second_fails.ipynb": ("failed", "1", "2", "pass", "fail", ""),
        "03_untouched.ipynb": ("error", "0", "2", "fail", "fail", ""),
        "04_deletes.ipynb": ("ok", "1", "1", "", "", "pass"),
        "05_no_checks.ipynb": ("no_checks", "0", "0", "", "", ""),
        "06_kernel_dies.ipynb": ("error", "1", "2", "pass", "not_run", ""),
        "07_sleeps.ipynb": ("timeout", "1", "2", "pass", "not_run", ""),
        "broken.ipynb": ("invalid", "0", "0", "", "", ""),
    }
    assert list(graded["rows"]) == sorted(graded["rows"])  # sorted, notes.txt not graded


def test_csv_columns_and_details(graded):
    with open(graded["out"] / "grades.csv", newline="", encoding="utf-8-sig") as handle:
        header = next(csv.reader(handle))
    assert header == ["notebook", "status", "checks_passed", "checks_total", "seconds", "first", "second",
                      "cleaned", "detail"]
    rows = graded["rows"]
    assert rows["01_ok.ipynb"]["detail"] == ""
    assert rows["02_second_fails.ipynb"]["detail"] == "second: AssertionError: x phải bằng 2"
    assert rows["03_untouched.ipynb"]["detail"] == "ô code thứ 1: NotImplementedError: TODO: gán x = 1"
    assert rows["06_kernel_dies.ipynb"]["detail"].startswith("kernel dừng đột ngột khi chạy ô code thứ 3")
    assert rows["07_sleeps.ipynb"]["detail"] == f"quá {TIMEOUT} giây (đang chạy ô code thứ 3)"
    assert rows["broken.ipynb"]["detail"].startswith("không đọc được notebook: Notebook does not appear to be JSON")
    assert rows["broken.ipynb"]["seconds"] == "0"
    assert TIMEOUT <= int(rows["07_sleeps.ipynb"]["seconds"]) <= TIMEOUT + 10


def test_summary_is_written_and_printed(graded):
    text = (graded["out"] / "grades.txt").read_text(encoding="utf-8")
    assert text in graded["done"].stdout
    lines = text.splitlines()
    assert lines[0].split() == ["Notebook", "Trạng", "thái", "Đạt", "Giây", "Chi", "tiết"]
    assert lines[1].startswith("01_ok.ipynb") and "đạt" in lines[1] and "2/2" in lines[1]
    assert any(line.startswith("07_sleeps.ipynb") and "quá giờ" in line for line in lines)
    assert "Tổng: 8 notebook — 2 đạt, 1 chưa đạt, 2 lỗi, 1 quá giờ, 1 không đọc được, 1 không có ô kiểm tra" in lines
    assert "  second: 1/5" in lines
    assert lines[-1] == "bỏ qua: notes.txt"


def test_learner_files_are_untouched(graded):
    assert snapshot(graded["folder"]) == graded["before"]
    assert not (graded["folder"] / ".pytest_cache").exists()


def test_no_process_survives(graded):
    assert graded["leftovers"] == []  # the timed-out kernel, its `sleep 600`, the dead kernel's run
    assert list(graded["scratch"].iterdir()) == []  # every temporary folder was removed


def test_grading_time_stays_reasonable(graded):
    # 6 runs of ~2-3 s, the timeout, and the few seconds the grader waits after a kernel dies.
    assert graded["seconds"] < 70


def test_invalid_notebook_is_not_run(tmp_path):
    broken = tmp_path / "broken.ipynb"
    broken.write_text('{"cells": "x", "nbformat": 4, "nbformat_minor": 5, "metadata": {}}')
    started = time.monotonic()
    row = grade_notebook(broken, timeout=TIMEOUT)
    assert row["status"] == "invalid" and row["checks"] == {}
    assert time.monotonic() - started < 1  # no pytest, no kernel


def test_checks_are_numbered_like_nbval():
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_markdown_cell("# CHECK: in_markdown"),
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_raw_cell("# CHECK: in_raw"),
        nbformat.v4.new_code_cell("# CHECK: pairs_valid\nassert x"),
        nbformat.v4.new_code_cell("  #  CHECK: a\n# CHECK: b\n# CHECK: not an identifier\n# CHECKS: c"),
    ]
    assert find_checks(notebook) == {1: ["pairs_valid"], 2: ["a", "b"]}


def test_failure_text_gives_the_exception_line():
    text = (
        "#x1B[91mNotebook cell execution failed#x1B[0m\nCell 1: Cell execution caused an exception\n\nInput:\n"
        "raise ValueError('a')\n\nTraceback:\n#x1B[31mValueError#x1B[39m   Traceback (most recent call last)\n"
        "Cell In[1], line 1\n----> 1 raise ValueError('a')\n\n#x1B[31mValueError#x1B[39m: dòng 1\ndòng 2\n"
    )
    assert summarize_failure(text) == "ValueError: dòng 1 dòng 2"
    assert summarize_failure("Cell 4: Timeout of 5 seconds exceeded while executing cell.") == (
        "Timeout of 5 seconds exceeded while executing cell."
    )
    assert len(summarize_failure("Traceback:\nValueError: " + "x " * 500)) <= 200


def test_reports_take_the_union_of_check_names(tmp_path):
    rows = [
        {"notebook": "a.ipynb", "status": "ok", "checks_passed": 1, "checks_total": 1, "seconds": 2,
         "checks": {"b": "pass"}, "detail": ""},
        {"notebook": "c.ipynb", "status": "failed", "checks_passed": 1, "checks_total": 2, "seconds": 3,
         "checks": {"a": "fail", "b": "pass"}, "detail": "a: AssertionError"},
    ]
    csv_path, txt_path = write_reports(rows, tmp_path / "out", skipped=["notes.txt", "data/"])
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0][5:] == ["b", "a", "detail"]
    assert table[1][5:] == ["pass", "", ""] and table[2][5:] == ["pass", "fail", "a: AssertionError"]
    assert txt_path.read_text(encoding="utf-8").splitlines()[-1] == "bỏ qua: notes.txt, data/"


def test_missing_folder_is_a_grader_error(tmp_path, capsys):
    assert main([str(tmp_path / "khong-co")]) == 2
    assert "không tìm thấy thư mục" in capsys.readouterr().err
