"""The grading pipeline's steps, each alone, without a kernel: prepare, extract, verdict (tests/test_grading.py runs them together)."""

import nbformat
import pytest

from coursetools import sandbox
from coursetools.grading.execute import Artefacts
from coursetools.grading.extract import Outcomes, read_junit, read_outcomes, read_progress
from coursetools.grading.labels import KIT_COPY_EDITED
from coursetools.grading.prepare import Prepared, prepare_notebook, read_reference
from coursetools.grading.verdict import fill_row, new_row

JUNIT = b"""<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="n.ipynb" name="Cell 0" time="0.1"/>
<testcase classname="n.ipynb" name="Cell 1" time="0.1"><failure message="short">Traceback:
AssertionError: x must be 2</failure></testcase>
<testcase classname="n.ipynb" name="Cell 2" time="0.1"><error message="failed on teardown with ...">boom</error></testcase>
<testcase classname="n.ipynb" name="Cell 3" time="0.1"><skipped message="skip"/></testcase>
</testsuite></testsuites>"""


def write(path, *sources, outputs=True):
    """Write a notebook of code cells, each with a stored output and count when ``outputs``."""
    nb = nbformat.v4.new_notebook()
    for number, source in enumerate(sources, start=1):
        cell = nbformat.v4.new_code_cell(source)
        if outputs:
            cell.execution_count = number
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="old\n")]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_prepare_puts_the_released_checks_in_and_drops_outputs(tmp_path):
    reference = read_reference(write(tmp_path / "ref.ipynb", "x = 1", "# CHECK: a\nassert x == 1", "# CHECK: b\nassert True"))
    learner = write(tmp_path / "n.ipynb", "x = 2", "# CHECK: a\npass", "# CHECK: b\nassert True")
    prepared = prepare_notebook(learner, reference)
    assert prepared.name == "n.ipynb" and prepared.checks == {1: ["a"], 2: ["b"]} and prepared.edited == {"a"}
    assert prepared.notebook.cells[1].source == "# CHECK: a\nassert x == 1"
    assert all(cell.outputs == [] and cell.execution_count is None for cell in prepared.notebook.cells)
    assert nbformat.read(learner, as_version=4).cells[1].source == "# CHECK: a\npass"  # the learner's file is untouched


def test_prepare_without_reference_keeps_the_learners_checks(tmp_path):
    prepared = prepare_notebook(write(tmp_path / "n.ipynb", "x = 1", "# CHECK: mine\nassert x"), None)
    assert prepared.checks == {1: ["mine"]} and prepared.edited == set()


def test_prepare_lets_an_unreadable_notebook_raise(tmp_path):
    (tmp_path / "broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    with pytest.raises(Exception):
        prepare_notebook(tmp_path / "broken.ipynb", None)


def test_junit_cells_and_a_teardown_error_counts_as_passed():
    cells, problems = read_junit(JUNIT)
    assert [cells[n][0] for n in range(4)] == ["passed", "failed", "passed", "skipped"] and problems == []
    assert "x must be 2" in cells[1][1]


def test_outcomes_come_from_the_report_or_from_the_progress_lines():
    assert read_outcomes("done", "", JUNIT).cells[1][0] == "failed"
    missing = read_outcomes("done", "line 1\nline 2\nImportError: nbval\n", None)
    assert missing.cells == {} and missing.problems == ["pytest không tạo báo cáo: line 1 line 2 ImportError: nbval"]
    assert read_outcomes("done", "", b"<not xml").problems[0].startswith("báo cáo của pytest không đọc được")
    progress = "n.ipynb::Cell 0 PASSED\nn.ipynb::Cell 1 FAILED\nn.ipynb::Cell 2 \n"
    stopped = read_outcomes("timeout", progress, JUNIT)  # a stopped run's report is never read
    assert stopped.cells == {0: ("passed", ""), 1: ("failed", "")} and stopped.running == 2
    assert read_progress(progress) == (stopped.cells, 2)


def graded(outcomes, ending="done", kit_edited=False, checks=None, edited=(), released=("a", "b"), dataset="pass"):
    """Return the row the verdict step gives a prepared notebook whose checks are cells 1 and 2."""
    prepared = Prepared("n.ipynb", nbformat.v4.new_notebook(), {1: ["a"], 2: ["b"]} if checks is None else checks, set(edited))
    row = new_row("n.ipynb")
    row["saved_dataset"] = dataset
    return fill_row(row, prepared, dict.fromkeys(released) if released is not None else None, outcomes, ending,
                    kit_edited, timeout=60)


PASSING = Outcomes({0: ("passed", ""), 1: ("passed", ""), 2: ("passed", "")})


def test_every_check_and_the_dataset_passing_is_ok():
    row = graded(PASSING)
    assert (row["status"], row["checks_passed"], row["checks_total"], row["checks"]) == ("ok", 2, 2, {"a": "pass", "b": "pass"})
    assert graded(PASSING, dataset="missing")["status"] == "failed"


@pytest.mark.parametrize("outcomes, ending, kit_edited, edited, released, status, detail", [
    (PASSING, "done", True, (), ("a", "b"), "tampered", KIT_COPY_EDITED),
    (PASSING, "done", False, ("b",), ("a", "b"), "tampered", "bị sửa: b"),
    (PASSING, "done", False, (), ("a", "b", "c"), "tampered", "bị xoá: c"),
    (Outcomes({0: ("passed", "")}, running=1), "timeout", False, (), ("a", "b"), "timeout", "quá 60 giây (đang chạy ô code thứ 2)"),
    (Outcomes({0: ("passed", "")}, running=1), "memory", False, (), ("a", "b"), "error", "đã dừng: dùng quá"),
    (Outcomes(running=0), "kernel_died", False, (), ("a", "b"), "error", "kernel dừng đột ngột khi chạy ô code thứ 1"),
    (Outcomes(problems=["pytest không tạo báo cáo: x"]), "done", False, (), ("a", "b"), "error", "pytest không tạo báo cáo"),
    (Outcomes({0: ("failed", "Traceback:\nNameError: name 'y' is not defined"), 1: ("passed", ""), 2: ("passed", "")}),
     "done", False, (), ("a", "b"), "error", "ô code thứ 1: NameError: name 'y' is not defined"),
    (Outcomes({0: ("passed", ""), 1: ("failed", "Traceback:\nAssertionError: x must be 2"), 2: ("passed", "")}),
     "done", False, (), ("a", "b"), "failed", "a: AssertionError: x must be 2"),
])
def test_the_status_follows_the_first_rule_that_applies(outcomes, ending, kit_edited, edited, released, status, detail):
    row = graded(outcomes, ending, kit_edited, edited=edited, released=released)
    assert row["status"] == status and row["detail"].startswith(detail), row


def test_a_memory_stop_names_the_budget():
    limit = f"{sandbox.Limits().run_memory_bytes / sandbox.GIB:g} GB"
    assert limit in graded(Outcomes(running=1), "memory")["detail"]


def test_a_notebook_without_checks_and_no_reference():
    row = graded(Outcomes({0: ("passed", "")}), checks={}, released=None)
    assert (row["status"], row["checks_total"]) == ("no_checks", 0)


def test_artefacts_carry_what_the_steps_after_execute_need(tmp_path):
    artefacts = Artefacts("done", "", JUNIT, False, tmp_path / "dataset")
    assert read_outcomes(artefacts.ending, artefacts.output, artefacts.report).cells[0] == ("passed", "")
