"""The exercise as shipped: every TODO raises, and every check fails with the TODO message."""

from pathlib import Path

from coursetools.markers import find_check_names
from coursetools.notebooks import execute_notebook

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = ROOT / "exercises" / "preference_dpo_dataset.ipynb"


def test_untouched_exercise_fails_its_checks_with_todo_messages(tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_DATASET_DIR", str(tmp_path / "dataset"))
    nb = execute_notebook(EXERCISE, timeout=300, allow_errors=True)
    todo_errors, check_errors = [], {}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        if "raise NotImplementedError" in cell.source:
            assert errors and errors[0].ename == "NotImplementedError" and errors[0].evalue.startswith("TODO: ")
            todo_errors.append(errors[0].evalue)
        name = next(iter(find_check_names(cell.source)), None)
        if name:
            assert errors and errors[0].ename == "AssertionError", name
            check_errors[name] = errors[0].evalue
    assert len(todo_errors) == 7
    assert list(check_errors) == ["pooled", "ratings", "pairs", "candidates", "final_ratings", "final_pairs", "dataset"]
    for name, message in check_errors.items():
        assert "vẫn là None — hãy làm phần TODO" in message, (name, message)
    assert not (tmp_path / "dataset").exists()  # nothing half-done was written


def test_importing_helpers_leaves_plain_tracebacks():
    import subprocess
    import sys

    # In a fresh interpreter: inside pytest other plugins and libraries own sys.excepthook too.
    code = "import sys, helpers; print(sys.excepthook is sys.__excepthook__)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "True", result.stderr[-2000:]
