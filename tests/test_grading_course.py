"""Grading the course's own notebooks: the solution passes every check, the untouched exercise none."""

import shutil
from pathlib import Path

from coursetools.grading import grade_folder

ROOT = Path(__file__).resolve().parent.parent
CHECKS = ["pooled", "ratings", "pairs", "candidates", "final_pairs", "dataset"]


def test_solution_exercise_and_broken_notebook_give_the_right_table(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    shutil.copy(ROOT / "solutions" / "preference_dpo_dataset.ipynb", folder / "a_solution.ipynb")
    shutil.copy(ROOT / "exercises" / "preference_dpo_dataset.ipynb", folder / "b_untouched.ipynb")
    (folder / "c_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    rows = {row["notebook"]: row for row in grade_folder(folder, timeout=900, out_dir=tmp_path / "out")}

    solution = rows["a_solution.ipynb"]
    assert solution["status"] == "ok", solution
    assert (solution["checks_passed"], solution["checks_total"]) == (6, 6)
    untouched = rows["b_untouched.ipynb"]
    assert untouched["status"] == "error" and untouched["checks_passed"] == 0 and untouched["checks_total"] == 6
    assert "NotImplementedError: TODO" in untouched["detail"]
    assert rows["c_broken.ipynb"]["status"] == "invalid"
    csv_text = (tmp_path / "out" / "grades.csv").read_text(encoding="utf-8-sig")
    assert csv_text.splitlines()[0].split(",")[5:11] == CHECKS
