"""Stored notebook outputs: what is kept for readers, what nbval compares, and the determinism comparison."""

import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from coursetools import determinism
from coursetools.markers import NBVAL_CHECK_OUTPUT as CHECK
from coursetools.markers import NBVAL_IGNORE_OUTPUT as IGNORE
from coursetools.markers import is_check_cell
from coursetools.notebooks import WIDGET_MIME, keep_shown_outputs

ROOT = Path(__file__).resolve().parent.parent

COURSE_NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb")) + sorted((ROOT / "solutions").glob("*.ipynb"))


def widget(text):
    """A display_data output as ipywidgets/tqdm write it: a widget view with a text fallback."""
    return new_output("display_data", data={WIDGET_MIME: {"model_id": "abc"}, "text/plain": text})


def executed_cell(source, *outputs, count=1):
    cell = new_code_cell(source, outputs=list(outputs), execution_count=count)
    cell.metadata["execution"] = {"iopub.execute_input": "2026-11-27T10:00:00Z"}
    return cell


def test_keep_shown_outputs_keeps_texts_and_plots_and_drops_logs_widgets_and_timestamps():
    plot = new_output("display_data", data={"image/png": "iVBOR", "text/plain": "<Figure size 640x480>"})
    nb = new_notebook(cells=[
        executed_cell(
            IGNORE + "\nrows = run_pooling(instructions)",
            new_output("stream", name="stderr", text="Device set to use cpu\n"),
            widget("Generating train split: 0 examples [00:00, ? examples/s]"),
            new_output("stream", name="stdout", text="Xong: 3 hàng.\n"),
        ),
        executed_cell("pooling_controls()", new_output("execute_result", data={WIDGET_MIME: {}, "text/plain": "VBox()"}), count=2),
        executed_cell("plot()", plot, count=3),
    ])
    nb.metadata["widgets"] = {"state": {}}
    keep_shown_outputs(nb)
    first, controls, plotted = nb.cells
    assert [o.text for o in first.outputs] == ["Xong: 3 hàng.\n"] and first.execution_count == 1
    assert controls.outputs == [] and controls.execution_count is None  # an empty cell keeps no stale count
    assert plotted.outputs == [plot]
    assert all("execution" not in cell.metadata for cell in nb.cells) and "widgets" not in nb.metadata


def test_shown_text_masks_times_and_memory_but_not_scores():
    cell = executed_cell("x", new_output("stream", name="stdout", text=(
        "thời gian trên máy này: chỉ điểm 2.4 s, một token 12 s\n"
        "Huấn luyện 30 bước mất 35 giây; RAM đỉnh của tiến trình: 1712 MB.\n"
        "{'train_runtime': 35.21, 'train_samples_per_second': 0.85, 'train_loss': 0.6931}\n"
        "ratings [3.48, 3.54]\n"
    )))
    text = determinism.shown_text(cell)
    assert "2.4 s" not in text and "12 s" not in text and "35 giây" not in text and "1712 MB" not in text
    assert "'train_runtime': <time>" in text and "'train_loss': 0.6931" in text
    assert "ratings [3.48, 3.54]" in text


def test_compare_names_the_cell_that_changed_and_ignores_logs():
    def run(text, log):
        return new_notebook(cells=[
            executed_cell("setup()", new_output("stream", name="stdout", text="Python 3.11\n")),
            nbformat.v4.new_markdown_cell("prose"),
            executed_cell("generate()", new_output("stream", name="stderr", text=log), new_output("stream", name="stdout", text=text)),
        ])

    assert determinism.compare(run("The sky is blue.\n", "log 1"), run("The sky is blue.\n", "log 2")) == []
    reports = determinism.compare(run("The sky is blue.\n", "log"), run("The sky is red.\n", "log"))
    assert len(reports) == 1 and reports[0].startswith("Cell 1 ") and "-The sky is blue." in reports[0]


def test_determinism_needs_a_run_to_compare_with(capsys):
    with pytest.raises(SystemExit):
        determinism.main(["--runs", "1", "notebooks/01_model_pooling.ipynb"])
    assert "at least 2" in capsys.readouterr().err


@pytest.mark.parametrize("path", COURSE_NOTEBOOKS, ids=lambda p: p.name)
def test_stored_notebooks_show_a_run_without_logs_and_check_only_cpu_independent_cells(path):
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    checked = [cell for cell in code if CHECK in cell.source]
    # The solution's facts are its exercise checks (`# CHECK:` cells raise on a wrong answer, and nbval runs them).
    assert checked or any(is_check_cell(cell) for cell in code), "every course notebook checks facts with nbval"
    for cell in code:
        assert all(determinism.is_shown_output(o) for o in cell.outputs), f"a log or widget was stored:\n{cell.source}"
        assert not any(o.output_type == "error" for o in cell.outputs), f"a stored run failed:\n{cell.source}"
        assert not (CHECK in cell.source and IGNORE in cell.source), cell.source
    for cell in checked:
        assert cell.outputs, f"a checked cell has no stored output to compare:\n{cell.source}"
        text = determinism.shown_text(cell)
        # A time or a memory figure changes on every run: it never belongs in a compared output.
        assert not re.search(r"<time>|<memory>", text), f"a checked cell prints a time or memory figure:\n{cell.source}"
    # Cells that show model outputs are stored (a reader sees a real run) but never compared.
    assert any(IGNORE in cell.source and cell.outputs for cell in code[1:]), "no stored run of the model is shown"


@pytest.mark.parametrize("path", [ROOT / "notebooks" / "04_best_practices.ipynb", ROOT / "solutions" / "preference_dpo_dataset.ipynb"],
                         ids=lambda p: p.name)
def test_stored_run_shows_agreement_from_labels_given_in_the_widget(path):
    # `make outputs` needs the pairs labelled in the widget first (data/*.labels.jsonl, kept out of git): a re-recording
    # without labels would show "0/6" here and lose the lesson's example.
    nb = nbformat.read(path, as_version=4)
    cells = [cell for cell in nb.cells if cell.cell_type == "code" and "compare_with_judge(" in cell.source
             and "describe_agreement(comparison)" in cell.source]
    assert len(cells) == 1
    text = "".join(o.get("text", "") for o in cells[0].outputs if o.output_type == "stream")
    labelled = re.search(r"Đã gán nhãn (\d+)/(\d+) cặp", text)
    assert labelled and int(labelled[1]) > 0, text
    assert re.search(r"Cohen.s kappa \(kể cả hoà\): -?\d", text), text
    assert any("image/png" in o.get("data", {}) for o in cells[0].outputs)  # the plot



def test_every_stored_output_has_its_execution_count():
    # nbval stops on a cell with outputs and no count ("Unrun reference cell has outputs"): a cell added by hand with
    # its output but no count fails `make test` only when the whole notebook runs.
    unrun = [f"{path.name} cell {number}" for path in COURSE_NOTEBOOKS
             for number, cell in enumerate(nbformat.read(path, as_version=4).cells)
             if cell.cell_type == "code" and cell.outputs and cell.execution_count is None]
    assert unrun == []
