"""The exercise notebook generator: markers, cleaning, determinism and the --check mode."""

from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from coursetools import exercise

ROOT = Path(__file__).resolve().parent.parent
make_exercise, render, main = exercise.make_exercise, exercise.render, exercise.main

PLACEHOLDER = exercise.MARKDOWN_PLACEHOLDER


def build_notebook(*cells):
    """Build a solution notebook (nbformat 4.5, with ids) from the given cells."""
    return new_notebook(cells=list(cells), metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}})


def generate_sources(*cells):
    """Generate the exercise for these cells and return its cell sources."""
    return [cell.source for cell in make_exercise(build_notebook(*cells)).cells]


def write_solution(tmp_path, nb):
    """Write a solution notebook in tmp_path and return (solution, exercise) paths."""
    solution = tmp_path / "solutions" / "nb.ipynb"
    solution.parent.mkdir()
    nbformat.write(nb, solution)
    return solution, tmp_path / "exercises" / "nb.ipynb"


def test_region_is_replaced_with_its_hint():
    source = "import json\n### BEGIN SOLUTION: đọc tệp JSON\nrows = json.load(f)\n### END SOLUTION\nprint(rows)"
    assert generate_sources(new_code_cell(source)) == [
        'import json\n# TODO: đọc tệp JSON\nraise NotImplementedError("TODO: đọc tệp JSON")\nprint(rows)'
    ]


def test_region_without_hint_gets_the_default_hint():
    source = "### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n"
    assert generate_sources(new_code_cell(source)) == [
        '# TODO: hãy viết phần này\nraise NotImplementedError("TODO: hãy viết phần này")\n'
    ]


def test_indentation_of_the_begin_marker_is_kept_inside_a_function():
    source = (
        "def pick(row):\n"
        '    """Pick the best answer."""\n'
        "    ### BEGIN SOLUTION: chọn câu trả lời điểm cao nhất\n"
        "    best = max(row, key=score)\n"
        "    return best\n"
        "    ### END SOLUTION"
    )
    assert generate_sources(new_code_cell(source)) == [
        "def pick(row):\n"
        '    """Pick the best answer."""\n'
        "    # TODO: chọn câu trả lời điểm cao nhất\n"
        '    raise NotImplementedError("TODO: chọn câu trả lời điểm cao nhất")'
    ]


def test_several_regions_in_one_cell_and_quotes_in_a_hint():
    source = (
        "a = 1\n"
        "### BEGIN SOLUTION: tính \"b\"\n"
        "b = a + 1\n"
        "### END SOLUTION\n"
        "for i in range(3):\n"
        "\t### BEGIN SOLUTION\n"
        "\tprint(i)\n"
        "\t### END SOLUTION\n"
        "done = True"
    )
    assert generate_sources(new_code_cell(source)) == [
        "a = 1\n"
        '# TODO: tính "b"\n'
        'raise NotImplementedError("TODO: tính \\"b\\"")\n'
        "for i in range(3):\n"
        "\t# TODO: hãy viết phần này\n"
        '\traise NotImplementedError("TODO: hãy viết phần này")\n'
        "done = True"
    ]


def test_solution_only_cells_are_dropped():
    sources = generate_sources(
        new_markdown_cell("# Bài học"),
        new_code_cell("# SOLUTION ONLY\nprint('đáp án')"),
        new_markdown_cell("Giải thích đáp án <!-- SOLUTION ONLY -->"),
        new_code_cell("x = 1  # SOLUTION ONLY is only a marker on the first line"),
    )
    assert sources == ["# Bài học", "x = 1  # SOLUTION ONLY is only a marker on the first line"]


def test_markdown_region_is_replaced_by_the_placeholder():
    source = (
        "**Câu hỏi:** vì sao cần cặp?\n\n"
        "<!-- BEGIN SOLUTION -->\nVì DPO học từ so sánh.\n<!-- END SOLUTION -->\n\n"
        "Tiếp: <!-- BEGIN SOLUTION -->bí mật<!-- END SOLUTION --> hết."
    )
    assert generate_sources(new_markdown_cell(source)) == [
        f"**Câu hỏi:** vì sao cần cặp?\n\n{PLACEHOLDER}\n\nTiếp: {PLACEHOLDER} hết."
    ]


def test_outputs_counts_ids_and_timing_metadata_are_cleared():
    cell = new_code_cell(
        "print(1)",
        execution_count=7,
        outputs=[new_output("stream", name="stdout", text="1\n")],
        metadata={"tags": ["keep"], "execution": {"iopub.status.idle": "2024"}, "ExecuteTime": {"end_time": "x"}},
    )
    solution = build_notebook(new_markdown_cell("# Tạo tập DPO (lời giải)"), cell)
    solution.metadata["widgets"] = {"state": {}}
    exercise = make_exercise(solution)
    code = exercise.cells[1]
    assert code.outputs == [] and code.execution_count is None
    assert code.metadata == {"tags": ["keep"]}
    assert all("id" not in c for c in exercise.cells)
    assert (exercise.nbformat, exercise.nbformat_minor) == (4, 4)
    assert exercise.metadata == {"kernelspec": {"name": "python3", "display_name": "Python 3"}}
    assert exercise.cells[0].source == "# Tạo tập DPO (bài tập)"
    assert solution.cells[1].outputs and "widgets" in solution.metadata  # the solution is untouched


def test_check_cells_are_kept_unchanged_but_cannot_hide_solutions():
    check = "# CHECK: pairs\nassert len(pairs) == 3, 'Cần đúng 3 cặp'"
    assert generate_sources(new_code_cell(check)) == [check]
    with pytest.raises(ValueError, match="cell 0"):
        generate_sources(new_code_cell("# CHECK: x\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1",
        "x = 1\n### END SOLUTION",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n### END SOLUTION",
        "### BEGIN SOLUTION hint without colon\nx = 1\n### END SOLUTION",
    ],
)
def test_unbalanced_nested_or_malformed_code_markers_name_the_cell(source):
    with pytest.raises(ValueError, match="cell 1"):
        generate_sources(new_markdown_cell("# Bài"), new_code_cell(source))


def test_unbalanced_markdown_markers_name_the_cell():
    with pytest.raises(ValueError, match="cell 0"):
        generate_sources(new_markdown_cell("<!-- BEGIN SOLUTION -->\nđáp án"))


def test_render_is_the_nbformat_text_with_a_trailing_newline():
    exercise = make_exercise(build_notebook(new_code_cell("x = 1")))
    text = render(exercise)
    assert text == nbformat.writes(exercise) + "\n" and not text.endswith("\n\n")


def test_check_mode_exit_codes(tmp_path, capsys):
    solution, exercise = write_solution(tmp_path, build_notebook(new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION")))
    args = ["--solution", str(solution), "--exercise", str(exercise)]
    assert main([*args, "--check"]) == 1 and not exercise.exists()  # missing, and nothing written
    assert "missing" in capsys.readouterr().err
    assert main(args) == 0
    assert main([*args, "--check"]) == 0
    exercise.write_text(exercise.read_text(encoding="utf-8").replace("TODO", "todo"), encoding="utf-8")
    assert main([*args, "--check"]) == 1
    assert "not generated from" in capsys.readouterr().err


def test_generating_twice_gives_byte_identical_files(tmp_path):
    nb = build_notebook(
        new_markdown_cell("# Bài (lời giải)"),
        new_code_cell("### BEGIN SOLUTION: viết x\nx = 1\n### END SOLUTION", execution_count=1),
    )
    solution, exercise = write_solution(tmp_path, nb)
    args = ["--solution", str(solution), "--exercise", str(exercise)]
    assert main(args) == 0
    first = exercise.read_bytes()
    assert main(args) == 0
    assert exercise.read_bytes() == first
    assert first == render(make_exercise(nbformat.read(solution, as_version=4))).encode("utf-8")


def test_committed_exercise_is_generated_from_solution():
    if not exercise.SOLUTION.exists():
        pytest.skip("solutions/preference_dpo_dataset.ipynb does not exist yet")
    assert main(["--check"]) == 0, "run `make exercise` to regenerate the exercise"


def test_nbval_check_markers_are_removed_from_the_exercise():
    source = "# NBVAL_CHECK_OUTPUT\nprint(summary)"
    check = "# NBVAL_CHECK_OUTPUT\n# CHECK: pairs\ncheck_pairs(pairs)"
    assert generate_sources(new_code_cell(source), new_code_cell(check)) == ["print(summary)", "# CHECK: pairs\ncheck_pairs(pairs)"]


@pytest.mark.parametrize("source", [
    "# CHECK: final pairs\ncheck_pairs(final_pairs)",
    "#CHECK final_pairs\n### BEGIN SOLUTION\nx = 1\n### END SOLUTION",
    "# SOLUTION ONLY\n# CHECK: my-check\nassert x",
])
def test_a_mistyped_check_line_stops_the_generator(source):
    with pytest.raises(ValueError, match="CHECK"):
        generate_sources(new_code_cell(source))
