"""Grading the course's own exercise: right, wrong and tampered submissions get the verdict they deserve."""

import shutil

import nbformat

from coursetools import sandbox
from coursetools.exercise import EXERCISE, SOLUTION
from coursetools.grading.pipeline import grade_folder
from coursetools.submissions import VARIANTS, build_variant, compare_verdicts
from helpers.checks import check_saved_dataset

CHECKS = ["pooled", "ratings", "pairs", "candidates", "final_ratings", "final_pairs", "dataset"]
# Each run of the real exercise costs its models' generation (~110 s on one core), so only what small notebooks cannot
# show runs here: a wrong answer that only the real checks on real ratings catch (chosen and rejected swapped), made by
# a learner who also replaced the check function from their own cell; and ratings made up to pass every check, which
# only the judge's scores of the same texts, recomputed outside the kernel, catch. Edited, emptied, tagged, renamed or deleted check
# cells are graded with small notebooks in tests/test_grading.py; `make grade-benchmark` grades all 23 variants
# (30 submissions) of the real exercise.
GRADED = ("shadowed_check", "made_up_ratings")


def test_a_class_of_submissions_gets_the_expected_verdicts(tmp_path):
    folder, out = tmp_path / "submissions", tmp_path / "out"
    folder.mkdir()
    shutil.copy(SOLUTION, folder / "a_solution.ipynb")
    shutil.copy(EXERCISE, folder / "b_untouched.ipynb")
    (folder / "c_broken.ipynb").write_text('{"cells": [', encoding="utf-8")
    written = {}
    for variant in VARIANTS:
        if variant.name in GRADED:
            nbformat.write(build_variant(variant), folder / f"d_{variant.name}.ipynb")
            written[f"d_{variant.name}.ipynb"] = variant
    rows = {row["notebook"]: row for row in grade_folder(
        folder, timeout=900, out_dir=out, reference=EXERCISE, dataset_check=check_saved_dataset, jobs=2,
        sandboxed=sandbox.find_bwrap() is not None,  # required in CI: tests/test_sandbox.py
    )}

    solution = rows["a_solution.ipynb"]
    assert solution["status"] == "ok", solution
    assert (solution["checks_passed"], solution["checks_total"]) == (7, 7)
    assert solution["saved_dataset"] == "pass"
    untouched = rows["b_untouched.ipynb"]
    assert untouched["status"] == "error" and untouched["checks_passed"] == 0 and untouched["checks_total"] == 7
    assert "NotImplementedError: TODO" in untouched["detail"]
    assert untouched["saved_dataset"] == "missing"
    assert rows["c_broken.ipynb"]["status"] == "invalid"
    assert compare_verdicts([rows[name] for name in written], written) == []

    header = (out / "grades.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[5:12] == CHECKS and "saved_dataset" in header
    feedback = (out / "feedback" / "d_shadowed_check.txt").read_text(encoding="utf-8")
    assert "❌ pairs" in feedback and "đảo chosen và rejected" in feedback
    made_up = rows["d_made_up_ratings.ipynb"]
    assert made_up["status"] == "failed" and made_up["checks"]["ratings"] == "fail", made_up
    # The first made-up rating further than the tolerance from the judge's own score is named (the judge may give ~4.5).
    assert made_up["detail"].startswith("ratings: điểm của giám khảo không khớp khi chấm lại: hàng "), made_up
