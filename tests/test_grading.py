"""Instructor grading, run for real: small notebooks graded by nbval in their own processes."""

import contextlib
import csv
import io
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import nbformat
import psutil
import pytest
from datasets import Dataset, load_from_disk

from coursetools import sandbox
from coursetools.grading import execute, pipeline, prepare
from coursetools.grading.cli import main
from coursetools.grading.execute import MARKER_ENV
from coursetools.grading.extract import summarize_failure, validate_dataset
from coursetools.grading.labels import KIT_COPY_EDITED, KIT_EDITED, NOT_GRADED
from coursetools.grading.pipeline import grade_folder, grade_notebook
from coursetools.grading.prepare import Prepared, apply_reference, find_checks, hash_folder
from coursetools.grading.report import write_reports
from coursetools.grading.verdict import new_row

TIMEOUT = 15  # seconds per notebook; a kernel starts in about 2 s here
# Runs are sandboxed where bubblewrap is installed (CI installs it and tests/test_sandbox.py requires it there); on a
# learner's machine without it, these tests of the grader's other duties run unconfined.
SANDBOXED = sandbox.find_bwrap() is not None
LONG_HINT = "xem lại ô gán x ở phía trên " * 12  # a check message longer than the 200 characters of the detail
FIRST = f"# CHECK: first\nfrom math import isclose\nassert isclose(x, 1), 'x phải bằng 1: {LONG_HINT.strip()}'"
SECOND = "# CHECK: second\nassert y == 2 * x, 'y phải bằng 2 * x'"


def write_notebook(path, *sources):
    """Write a notebook of a title cell then one code cell per source (a string, or a cell as ``tagged`` gives)."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Bài tập")] + [
        s if isinstance(s, dict) else nbformat.v4.new_code_cell(s) for s in sources
    ]
    nbformat.write(notebook, path)


def tagged(source, *tags):
    """Return a code cell of ``source`` carrying these metadata tags."""
    return nbformat.v4.new_code_cell(source, metadata={"tags": list(tags)})


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


def read_rows(csv_path):
    """Return the rows of a grades.csv by notebook name, in file order."""
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        return {row["notebook"]: row for row in csv.DictReader(handle)}


@contextlib.contextmanager
def scratch_runs(scratch):
    """Put the runs' temporary folders (and so their process marker) under ``scratch``; yield the monkeypatch."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", str(scratch))
        yield patch


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade the class folder once without a reference, two notebooks at a time; keep what it left behind."""
    root = tmp_path_factory.mktemp("grading")
    folder, out, scratch = root / "class", root / "out", root / "scratch"
    make_class_folder(folder)
    scratch.mkdir()
    before = snapshot(folder)
    progress = io.StringIO()
    started = time.monotonic()
    with scratch_runs(scratch), contextlib.redirect_stderr(progress):
        grade_folder(folder, TIMEOUT, out, jobs=2, sandboxed=SANDBOXED)
    seconds = time.monotonic() - started
    leftovers = find_leftovers(str(scratch))
    return {"progress": progress.getvalue(), "seconds": seconds, "leftovers": leftovers, "folder": folder,
            "rows": read_rows(out / "grades.csv"), "before": before, "out": out, "scratch": scratch}


def test_statuses_and_checks(graded):
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
                      "cleaned", "detail", "sandbox"]
    rows = graded["rows"]
    assert rows["01_ok.ipynb"]["detail"] == ""
    assert rows["02_second_fails.ipynb"]["detail"] == "second: AssertionError: x phải bằng 2"
    assert rows["03_untouched.ipynb"]["detail"] == "ô code thứ 1: NotImplementedError: TODO: gán x = 1"
    assert rows["06_kernel_dies.ipynb"]["detail"].startswith("kernel dừng đột ngột khi chạy ô code thứ 3")
    assert rows["07_sleeps.ipynb"]["detail"] == f"quá {TIMEOUT} giây (đang chạy ô code thứ 3)"
    assert rows["broken.ipynb"]["detail"].startswith("không đọc được notebook: Notebook does not appear to be JSON")
    assert rows["broken.ipynb"]["seconds"] == "0"
    assert TIMEOUT <= int(rows["07_sleeps.ipynb"]["seconds"]) <= TIMEOUT + 10


def test_progress_comes_one_line_per_notebook(graded):
    lines = graded["progress"].splitlines()
    assert [line.split("]")[0] for line in lines] == [f"[{number}/8" for number in range(1, 9)]
    assert all(re.fullmatch(r"\[\d/8\] \S+\.ipynb: .+ \(\d+ giây\)", line) for line in lines), lines
    assert sorted(line.split()[1].rstrip(":") for line in lines) == list(graded["rows"])
    assert any(line.endswith("07_sleeps.ipynb: quá giờ ({} giây)".format(graded["rows"]["07_sleeps.ipynb"]["seconds"]))
               for line in lines)


def test_feedback_without_reference(graded):
    feedback = graded["out"] / "feedback"
    assert sorted(path.name for path in feedback.iterdir()) == [name.replace(".ipynb", ".txt") for name in graded["rows"]]
    dies = (feedback / "06_kernel_dies.txt").read_text(encoding="utf-8").splitlines()
    detail = graded["rows"]["06_kernel_dies.ipynb"]["detail"]
    assert dies[:2] == ["Notebook: 06_kernel_dies.ipynb", f"Kết quả: lỗi — {detail}"]
    assert dies[2:5] == [
        "", "✅ first: đạt", "⏭ second: chưa chạy (hết giờ hoặc kernel dừng trước khi tới ô này, hoặc ô bị bỏ qua)",
    ]
    untouched = (feedback / "03_untouched.txt").read_text(encoding="utf-8").splitlines()
    assert "❌ first: chưa đạt — AssertionError" in untouched
    assert "Ô code thứ 1 lỗi: NotImplementedError: TODO: gán x = 1" in untouched
    assert untouched[-1].startswith("Hãy sửa ô bị lỗi đầu tiên")
    broken = (feedback / "broken.txt").read_text(encoding="utf-8").splitlines()
    assert broken[1].startswith("Kết quả: không đọc được — không đọc được notebook") and len(broken) == 4


def test_summary_is_written(graded):
    lines = (graded["out"] / "grades.txt").read_text(encoding="utf-8").splitlines()
    assert "saved_dataset" not in "\n".join(lines)  # no dataset check given
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


def test_runs_stop_at_the_timeout_or_when_the_kernel_dies(graded):
    # Measured against the run's own limit, not a wall-clock budget for the whole grading (which, on a fresh machine,
    # also converts the preset's models first: prepare_models).
    rows = graded["rows"]
    assert TIMEOUT <= int(rows["07_sleeps.ipynb"]["seconds"]) <= TIMEOUT + 10  # killed at its limit, not later
    assert int(rows["06_kernel_dies.ipynb"]["seconds"]) < TIMEOUT  # a dead kernel is seen within the grace, not the limit


def test_kernel_dying_at_once_is_an_error(tmp_path):
    # The kernel lives well under one poll (0.5 s) here: the grader must not need to have seen it alive.
    path = tmp_path / "dies_first.ipynb"
    write_notebook(path, "import os\nos._exit(1)", "# CHECK: first\nassert True")
    started = time.monotonic()
    row = grade_notebook(path, timeout=TIMEOUT)
    assert row["status"] == "error"
    assert row["detail"].startswith("kernel dừng đột ngột khi chạy ô code thứ 1")
    assert time.monotonic() - started < TIMEOUT


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
    assert 500 < len(summarize_failure("Traceback:\nValueError: " + "x " * 500, width=600)) <= 600


def test_reports_take_the_union_of_check_names(tmp_path):
    rows = [
        {**new_row("a.ipynb"), "status": "ok", "checks_passed": 1, "checks_total": 1, "seconds": 2,
         "checks": {"b": "pass"}, "outcomes": {"b": ("pass", "")}},
        {**new_row("c.ipynb"), "status": "failed", "checks_passed": 1, "checks_total": 2, "seconds": 3,
         "checks": {"a": "fail", "b": "pass"}, "outcomes": {"a": ("fail", "AssertionError"), "b": ("pass", "")},
         "detail": "a: AssertionError"},
    ]
    csv_path, txt_path = write_reports(rows, tmp_path / "out", skipped=["notes.txt", "data/"])
    with open(csv_path, newline="", encoding="utf-8-sig") as handle:
        table = list(csv.reader(handle))
    assert table[0][5:] == ["b", "a", "detail", "sandbox"]
    assert table[1][5:] == ["pass", "", "", ""] and table[2][5:] == ["pass", "fail", "a: AssertionError", ""]
    assert txt_path.read_text(encoding="utf-8").splitlines()[-1] == "bỏ qua: notes.txt, data/"
    assert (tmp_path / "out" / "feedback" / "c.txt").read_text(encoding="utf-8").splitlines()[3:5] == [
        "❌ a: chưa đạt — AssertionError", "✅ b: đạt",
    ]


def test_missing_folder_is_a_grader_error(tmp_path, capsys):
    assert main([str(tmp_path / "khong-co")]) == 2
    assert "không tìm thấy thư mục" in capsys.readouterr().err


def save_cell(values):
    """Return a learner cell saving a dataset of column y = ``values`` where the grader's run expects it."""
    return (f"import os\nfrom datasets import Dataset\n"
            f"Dataset.from_dict({{'y': {values!r}}}).save_to_disk(os.environ['KIT_DATASET_DIR'])")


def check_fake_dataset(folder):
    """Accept only a saved dataset of one row y = 2, printing on success like the course's checks."""
    if load_from_disk(str(folder))["y"] != [2]:  # not `assert`: pytest would add its own explanation to the message
        raise AssertionError("tập dữ liệu phải có đúng một hàng y = 2")
    print("✅ Tập dữ liệu đúng.")


def make_reference_class(root):
    """Write the released tiny exercise (two checks) and one learner notebook per way of failing or fooling it."""
    reference, folder = root / "reference.ipynb", root / "class"
    write_notebook(reference, "x = None\nraise NotImplementedError('TODO: gán x = 1')", FIRST, "y = None  # TODO", SECOND)
    folder.mkdir()
    write_notebook(folder / "a_passes.ipynb", "x = 1", FIRST + "   \n\n", "y = 2", "\n" + SECOND, save_cell([2]))
    write_notebook(folder / "b_empties.ipynb", "x = 1", FIRST, "y = 3", "# CHECK: second\npass", save_cell([3]))
    write_notebook(folder / "c_deletes.ipynb", "x = 1", FIRST, "y = 2")
    write_notebook(folder / "d_shadows.ipynb", "x = 2\nisclose = lambda *args, **kwargs: True", FIRST, "y = 4", SECOND,
                   save_cell([2]))
    write_notebook(folder / "e_renames.ipynb", "x = 1", FIRST, "y = 2", SECOND.replace("second", "my_second", 1),
                   save_cell([2]))
    write_notebook(folder / "f_saves_wrong.ipynb", "x = 1", FIRST, "y = 2", SECOND, save_cell([2, 2]))
    shutil.copy(reference, folder / "g_untouched.ipynb")
    # nbval obeys cell tags: with the learner's metadata a failing check would pass, and a skipped one not run.
    write_notebook(folder / "h_tags.ipynb", "x = 2", tagged(FIRST, "raises-exception"), "y = 5",
                   tagged(SECOND, "nbval-skip"))
    return reference, folder


@pytest.fixture(scope="module")
def reference_class(tmp_path_factory):
    """Grade the reference class once, one notebook at a time, with the fake dataset check."""
    root = tmp_path_factory.mktemp("reference-grading")
    reference, folder = make_reference_class(root)
    before = snapshot(folder)
    (root / "scratch-1").mkdir()
    reads = []
    started = time.monotonic()
    with scratch_runs(root / "scratch-1") as patch, contextlib.redirect_stderr(io.StringIO()):
        read_reference = pipeline.read_reference
        patch.setattr(pipeline, "read_reference", lambda path: reads.append(path) or read_reference(path))
        rows = grade_folder(folder, TIMEOUT, root / "out", reference=reference, dataset_check=check_fake_dataset,
                            sandboxed=SANDBOXED)
    return {"root": root, "reference": reference, "folder": folder, "before": before, "rows": rows, "reads": reads,
            "seconds": time.monotonic() - started, "out": root / "out", "csv": read_rows(root / "out" / "grades.csv")}


@pytest.fixture(scope="module")
def reference_class_by_cli(reference_class):
    """Grade the same class through the command line, two notebooks at once."""
    root = reference_class["root"]
    scratch, out, printed = root / "scratch-2", root / "out-cli", io.StringIO()
    scratch.mkdir()
    started = time.monotonic()
    with scratch_runs(scratch) as patch, contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        patch.setattr("helpers.checks.check_saved_dataset", check_fake_dataset)
        code = main([str(reference_class["folder"]), "--reference", str(reference_class["reference"]), "--jobs", "2",
                     "--timeout", str(TIMEOUT), "--out", str(out), *([] if SANDBOXED else ["--no-sandbox"])])
    seconds = time.monotonic() - started
    return {"code": code, "printed": printed.getvalue(), "seconds": seconds, "out": out,
            "csv": read_rows(out / "grades.csv"), "leftovers": find_leftovers(str(scratch)), "scratch": scratch}


def test_released_checks_decide(reference_class):
    got = {name: (row["status"], row["checks_passed"], row["checks_total"], row["first"], row["second"],
                  row["saved_dataset"]) for name, row in reference_class["csv"].items()}
    assert got == {
        "a_passes.ipynb": ("ok", "2", "2", "pass", "pass", "pass"),
        "b_empties.ipynb": ("tampered", "1", "2", "pass", "edited", "fail"),
        "c_deletes.ipynb": ("tampered", "1", "2", "pass", "missing", "missing"),
        "d_shadows.ipynb": ("failed", "1", "2", "fail", "pass", "pass"),
        "e_renames.ipynb": ("tampered", "1", "2", "pass", "missing", "pass"),
        "f_saves_wrong.ipynb": ("failed", "2", "2", "pass", "pass", "fail"),
        "g_untouched.ipynb": ("error", "0", "2", "fail", "fail", "missing"),
        "h_tags.ipynb": ("tampered", "0", "2", "edited", "edited", "missing"),
    }
    assert snapshot(reference_class["folder"]) == reference_class["before"]
    assert reference_class["reads"] == [reference_class["reference"]]  # once, not once per notebook


def test_check_cells_run_with_the_released_tags(reference_class):
    tags = next(row for row in reference_class["rows"] if row["notebook"] == "h_tags.ipynb")
    # raises-exception would have made first pass, nbval-skip would have left second not run.
    assert [tags["outcomes"][name][0] for name in ("first", "second")] == ["fail", "fail"]
    assert tags["detail"] == "bị sửa: first, second"


def test_released_checks_details_and_columns(reference_class):
    with open(reference_class["out"] / "grades.csv", newline="", encoding="utf-8-sig") as handle:
        assert next(csv.reader(handle))[5:] == ["first", "second", "saved_dataset", "detail", "sandbox"]
    details = {name: row["detail"] for name, row in reference_class["csv"].items()}
    assert details["b_empties.ipynb"] == "bị sửa: second"
    assert details["c_deletes.ipynb"] == details["e_renames.ipynb"] == "bị xoá: second"
    assert details["d_shadows.ipynb"].startswith("first: AssertionError: x phải bằng 1: xem lại")
    assert len(details["d_shadows.ipynb"]) <= 200
    assert details["f_saves_wrong.ipynb"] == "saved_dataset: tập dữ liệu phải có đúng một hàng y = 2"
    assert details["g_untouched.ipynb"] == "ô code thứ 1: NotImplementedError: TODO: gán x = 1"
    summary = (reference_class["out"] / "grades.txt").read_text(encoding="utf-8").splitlines()
    assert "Tổng: 8 notebook — 1 đạt, 2 chưa đạt, 1 lỗi, 4 can thiệp vào việc chấm (ô kiểm tra bị sửa/xoá, mã của khóa học bị sửa, hoặc kiểm tra lại ngoài kernel không đạt)" in summary
    assert "  first: 5/8 (bị sửa: 1)" in summary and "  second: 3/8 (bị sửa: 2, thiếu: 2)" in summary
    assert summary[-1] == "Tập dữ liệu đã lưu (saved_dataset, kiểm tra ngoài kernel của học viên): " \
                          "3 đạt, 2 chưa đạt, 3 chưa lưu tập dữ liệu"


def test_feedback_with_reference(reference_class):
    def read(stem):
        return (reference_class["out"] / "feedback" / f"{stem}.txt").read_text(encoding="utf-8")

    assert read("a_passes") == (
        "Notebook: a_passes.ipynb\nKết quả: đạt\n\n✅ first: đạt\n✅ second: đạt\n✅ Tập dữ liệu lưu trên đĩa: đạt\n\n"
        "Bài đã đạt. Làm tốt lắm!\n"
    )
    empties = read("b_empties").splitlines()
    assert empties[1] == "Kết quả: can thiệp vào việc chấm (ô kiểm tra bị sửa/xoá, mã của khóa học bị sửa, hoặc kiểm tra lại ngoài kernel không đạt) — bị sửa: second"
    assert ("⚠️ second: ô kiểm tra bị sửa — bài được chấm bằng ô kiểm tra gốc: chưa đạt — "
            "AssertionError: y phải bằng 2 * x") in empties
    assert "❌ Tập dữ liệu lưu trên đĩa: chưa đạt — tập dữ liệu phải có đúng một hàng y = 2" in empties
    assert empties[-1].startswith("Hãy giữ nguyên các ô `# CHECK:`")
    deletes = read("c_deletes").splitlines()
    assert "⚠️ second: thiếu ô kiểm tra — hãy chép lại ô `# CHECK: second` từ bài tập gốc" in deletes
    assert "❌ Tập dữ liệu lưu trên đĩa: chưa lưu tập dữ liệu" in deletes
    assert f"❌ first: chưa đạt — AssertionError: x phải bằng 1: {LONG_HINT.strip()}" in read("d_shadows").splitlines()
    assert "Ô code thứ 1 lỗi: NotImplementedError: TODO: gán x = 1" in read("g_untouched").splitlines()


def test_cli_with_two_jobs_gives_the_same_rows(reference_class, reference_class_by_cli):
    by_cli = reference_class_by_cli
    assert by_cli["code"] == 0
    assert [{**row, "seconds": ""} for row in by_cli["csv"].values()] == [
        {**row, "seconds": ""} for row in reference_class["csv"].values()
    ]
    assert (by_cli["out"] / "grades.txt").read_text(encoding="utf-8") in by_cli["printed"]
    assert "Tập dữ liệu đúng" not in by_cli["printed"]  # the dataset check's own output is discarded
    assert by_cli["leftovers"] == [] and list(by_cli["scratch"].iterdir()) == []


def test_reference_gives_released_sources_and_finds_edits():
    released = {"first": nbformat.v4.new_code_cell(FIRST), "second": nbformat.v4.new_code_cell(SECOND)}
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("\n" + FIRST.replace("\n", "  \n") + "\t\n\n"),  # only trailing whitespace differs
        nbformat.v4.new_markdown_cell(SECOND),
        nbformat.v4.new_code_cell("# CHECK: second\npass"),
        nbformat.v4.new_code_cell("# CHECK: extra\nassert x"),
    ]
    checks, edited = apply_reference(notebook, released)
    assert (checks, edited) == ({1: ["first"], 2: ["second"]}, {"second"})
    assert [cell.source for cell in notebook.cells] == ["x = 1", FIRST, SECOND, SECOND, "# CHECK: extra\nassert x"]
    spaced = nbformat.v4.new_notebook()
    spaced.cells = [nbformat.v4.new_code_cell(FIRST.replace("\n", "\n\n"))]  # a blank line inside is an edit
    assert apply_reference(spaced, released) == ({0: ["first"]}, {"first"})


def test_check_tags_are_released_ones_and_other_tags_count_as_edits():
    released = {"first": tagged(FIRST, "nbval-ignore-output"), "second": nbformat.v4.new_code_cell(SECOND)}
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        tagged("x = 1", "raises-exception"),  # the learner's own cell keeps its tags
        tagged(FIRST, "nbval-ignore-output"),  # same tags as released: not an edit
        tagged(SECOND, "nbval-skip"),
    ]
    notebook.cells[2].metadata["collapsed"] = True
    assert apply_reference(notebook, released) == ({1: ["first"], 2: ["second"]}, {"second"})
    assert [cell.metadata for cell in notebook.cells] == [{"tags": ["raises-exception"]},
                                                          {"tags": ["nbval-ignore-output"]}, {}]
    for tags in (["raises-exception"], ["nbval-check-output"], ["nbval-remove-output"], []):
        learner = nbformat.v4.new_notebook()
        learner.cells = [tagged(FIRST, *tags)]
        assert apply_reference(learner, released)[1] == {"first"}, tags


def test_saved_dataset_is_checked_in_the_grader_process(tmp_path, capsys):
    assert validate_dataset(check_fake_dataset, tmp_path / "never-saved") == ("missing", "")
    Dataset.from_dict({"y": [2]}).save_to_disk(str(tmp_path / "good"))
    Dataset.from_dict({"y": [3]}).save_to_disk(str(tmp_path / "wrong"))
    assert validate_dataset(check_fake_dataset, tmp_path / "good") == ("pass", "")
    assert validate_dataset(check_fake_dataset, tmp_path / "wrong") == ("fail", "tập dữ liệu phải có đúng một hàng y = 2")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "dataset_info.json").write_text("{}")
    value, message = validate_dataset(check_fake_dataset, tmp_path / "broken")
    assert value == "fail" and message.startswith("FileNotFoundError: ")
    assert capsys.readouterr().out == ""


def test_unusable_arguments_are_grader_errors(tmp_path, capsys):
    no_checks = tmp_path / "no_checks.ipynb"
    write_notebook(no_checks, "x = 1")
    assert main([str(tmp_path), "--jobs", "0"]) == 2
    assert "--jobs phải lớn hơn hoặc bằng 1" in capsys.readouterr().err
    assert main([str(tmp_path), "--reference", str(tmp_path / "khong-co.ipynb")]) == 2
    assert "không đọc được notebook gốc" in capsys.readouterr().err
    assert main([str(tmp_path), "--reference", str(no_checks)]) == 2
    assert "không có ô `# CHECK:` nào" in capsys.readouterr().err
    assert not (tmp_path.parent / f"grading-{tmp_path.name}").exists()


@pytest.mark.parametrize("stop, code, how", [(signal.SIGINT, 130, "Ctrl+C"), (signal.SIGTERM, 143, "SIGTERM")])
def test_ctrl_c_or_sigterm_stops_every_run(tmp_path, stop, code, how):
    reference, folder, scratch, out = (tmp_path / name for name in ("reference.ipynb", "class", "scratch", "out"))
    sleeper = "# CHECK: first\nimport time\ntime.sleep(600)"
    write_notebook(reference, sleeper)
    folder.mkdir()
    scratch.mkdir()
    for name in ("a", "b", "c"):
        write_notebook(folder / f"{name}.ipynb", sleeper)
    process = subprocess.Popen(
        [sys.executable, "-m", "coursetools", "grade", str(folder), "--reference", str(reference), "--jobs", "2",
         "--out", str(out)],
        env=dict(os.environ, TMPDIR=str(scratch)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # started from a shell's `&`, it is ignored
    )
    deadline = time.monotonic() + 60
    while len(find_leftovers(str(scratch))) < 4 and time.monotonic() < deadline:  # two runs: pytest and kernel each
        time.sleep(0.5)
    process.send_signal(stop)
    started = time.monotonic()
    _, errors = process.communicate(timeout=60)
    assert process.returncode == code and f"Đã dừng chấm ({how})" in errors
    assert time.monotonic() - started < 10  # not the 600 s of the cells, nor the third notebook
    assert find_leftovers(str(scratch)) == [] and list(scratch.iterdir()) == []
    assert not (out / "grades.csv").exists()


def test_a_new_grading_leaves_no_feedback_of_removed_notebooks(tmp_path):
    first, second = new_row("a.ipynb"), new_row("b.ipynb")
    for row in (first, second):
        row.update(status="invalid", detail="không đọc được notebook")
    write_reports([first, second], tmp_path)
    write_reports([second], tmp_path)
    assert sorted(path.name for path in (tmp_path / "feedback").iterdir()) == ["b.txt"]


@pytest.mark.parametrize("sandboxed", [pytest.param(True, marks=pytest.mark.skipif(not SANDBOXED, reason="bwrap missing")), False])
def test_runs_import_a_copy_of_the_kit(tmp_path, sandboxed):
    folder, out = tmp_path / "class", tmp_path / "out"
    folder.mkdir()
    # Asserted before anything is written, so that a broken isolation cannot edit the repository's helpers/.
    in_copy = (f"import os, helpers\nrun = os.environ['{MARKER_ENV}']\n"
               "assert helpers.__file__ == os.path.join(run, 'kit', 'helpers', '__init__.py'), helpers.__file__\n"
               # Per-run caches too: two learners' identical distilabel pipelines must not share a folder.
               # The grader's folder, kept after `import helpers` (helpers.workarounds.separate_pipeline_folders).
               "assert os.environ['DISTILABEL_CACHE_DIR'] == os.path.join(run, 'distilabel'), os.environ['DISTILABEL_CACHE_DIR']\n"
               "assert os.environ['IPYTHONDIR'].startswith(run)")
    rewrite = ("from pathlib import Path\nchecks = Path(helpers.__file__).with_name('checks.py')\n"
               "checks.write_text(checks.read_text() + '\\n# đã sửa\\n')")
    write_notebook(folder / "a_imports.ipynb", "# CHECK: isolated\n" + in_copy)
    write_notebook(folder / "b_rewrites.ipynb", in_copy + "\n" + rewrite, "# CHECK: isolated\nassert True")
    kit = hash_folder(prepare.KIT_ROOT / "helpers")
    with contextlib.redirect_stderr(io.StringIO()):
        rows = {row["notebook"]: row for row in grade_folder(folder, TIMEOUT, out, jobs=2, sandboxed=sandboxed)}
    assert rows["a_imports.ipynb"]["status"] == "ok" and rows["a_imports.ipynb"]["checks"] == {"isolated": "pass"}
    assert hash_folder(prepare.KIT_ROOT / "helpers") == kit
    rewrites = rows["b_rewrites.ipynb"]
    if sandboxed:  # the run's copy is read-only: the write fails in the learner's cell
        assert rewrites["status"] == "error" and "Read-only file system" in rewrites["detail"], rewrites
        return
    # Unconfined, the write goes through and is detected: tampered, whatever its checks gave.
    assert (rewrites["status"], rewrites["detail"], rewrites["checks"]) == ("tampered", KIT_COPY_EDITED, {"isolated": "pass"})
    feedback = (out / "feedback" / "b_rewrites.txt").read_text(encoding="utf-8").splitlines()
    assert feedback[1] == f"Kết quả: can thiệp vào việc chấm (ô kiểm tra bị sửa/xoá, mã của khóa học bị sửa, hoặc kiểm tra lại ngoài kernel không đạt) — {KIT_COPY_EDITED}"


@pytest.mark.parametrize("target", ["helpers/checks.py", "reference.ipynb"])
def test_a_kit_edited_during_grading_stops_it(tmp_path, monkeypatch, target):
    # Unconfined (--no-sandbox): the write goes through, and grading notices it. In the sandbox the kit is hidden
    # (tests/test_sandbox.py).
    kit, folder, out = tmp_path / "kit", tmp_path / "class", tmp_path / "out"
    shutil.copytree(prepare.KIT_ROOT / "helpers", kit / "helpers", ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(prepare, "KIT_ROOT", kit)
    reference = kit / "reference.ipynb"
    write_notebook(reference, "x = None", FIRST)
    folder.mkdir()
    write_notebook(folder / "a_ok.ipynb", "x = 1", FIRST)
    write_notebook(folder / "b_edits_kit.ipynb",
                   f"with open({str(kit / target)!r}, 'a') as file:\n    file.write('\\n# đã sửa\\n')\nx = 1", FIRST)
    write_notebook(folder / "c_later.ipynb", "x = 1", FIRST)
    errors = io.StringIO()
    with contextlib.redirect_stderr(errors):
        grade_folder(folder, TIMEOUT, out, reference=reference, sandboxed=False)
    rows = read_rows(out / "grades.csv")
    assert {name: (row["status"], row["first"], row["detail"]) for name, row in rows.items()} == {
        "a_ok.ipynb": ("ok", "pass", ""),
        "b_edits_kit.ipynb": ("tampered", "pass", KIT_EDITED),
        "c_later.ipynb": ("error", "", NOT_GRADED),
    }
    assert "CẢNH BÁO:" in errors.getvalue() and "c_later.ipynb: lỗi (0 giây)" in errors.getvalue()
    assert (out / "feedback" / "b_edits_kit.txt").read_text(encoding="utf-8").splitlines()[1].endswith(KIT_EDITED)


@pytest.mark.parametrize("jobs, notebooks, expected", [(1, 2, None), (2, 2, "half"), (2, 1, None)])
def test_notebooks_graded_at_once_share_the_cores(tmp_path, monkeypatch, jobs, notebooks, expected):
    # A kernel gives its model every core (helpers/threads.py): two kernels at once would oversubscribe them.
    from helpers.threads import count_cores

    folder = tmp_path / "class"
    folder.mkdir()
    for number in range(notebooks):
        write_notebook(folder / f"n{number}.ipynb", "x = 1")
    seen = []

    def grade_safely(path, timeout, released, dataset_check, threads=None, hide=(), outputs=None):
        seen.append(threads)
        row = new_row(path.name)
        row.update(status="error", detail="test")
        return row

    monkeypatch.setattr(pipeline, "grade_safely", grade_safely)
    with contextlib.redirect_stderr(io.StringIO()):
        grade_folder(folder, TIMEOUT, tmp_path / "out", jobs=jobs, sandboxed=SANDBOXED)
    assert seen == [max(1, count_cores() // 2) if expected == "half" else None] * notebooks


def test_the_kernel_gets_the_shared_thread_count(tmp_path, monkeypatch):
    monkeypatch.delenv("KIT_CPU_THREADS", raising=False)
    seen = {}

    def popen(command, env, **kwargs):
        seen.update(env)
        raise RuntimeError("stop here")

    monkeypatch.setattr(execute.subprocess, "Popen", popen)
    with pytest.raises(RuntimeError, match="stop here"):
        execute.run_notebook(Prepared("n.ipynb", nbformat.v4.new_notebook()), tmp_path, TIMEOUT, threads=1)
    assert seen["KIT_CPU_THREADS"] == "1"
