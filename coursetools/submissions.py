"""A generated class of exercise submissions (right, wrong and tampered variants of the solution), and the grading benchmark.

Usage: python -m coursetools submissions FOLDER [--size 30]             (write the class only)
       python -m coursetools submissions --benchmark [--size 30] [--jobs 2] (grade it, check every verdict, time it)

Each variant is the solution notebook with a few lines changed, as a learner would: other names or library steps
(right), a mistake the checks must catch (wrong), or an attack on the grading itself (tampered). Every variant says
which status and which failing check the grader must give it; the benchmark fails if one verdict differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat

from coursetools.exercise import EXERCISE, SOLUTION
from coursetools.markers import find_check_names


def find_cell(notebook, marker: str):
    """Return the one code cell whose source contains ``marker`` (a changed solution must fail loudly here)."""
    cells = [cell for cell in notebook.cells if cell.cell_type == "code" and marker in cell.source]
    if len(cells) != 1:
        raise ValueError(f"{len(cells)} solution cells contain {marker!r}: update coursetools/submissions.py")
    return cells[0]


def edit(marker: str, *replacements: tuple[str, str]) -> Callable:
    """Return a change that replaces text in the cell containing ``marker`` (each old text must be there)."""

    def change(notebook):
        cell = find_cell(notebook, marker)
        for old, new in replacements:
            if old not in cell.source:
                raise ValueError(f"{old!r} is not in the cell containing {marker!r}: update coursetools/submissions.py")
            cell.source = cell.source.replace(old, new)

    return change


def find_check(notebook, name: str):
    """Return the check cell named ``name``."""
    return next(cell for cell in notebook.cells if cell.cell_type == "code" and name in find_check_names(cell.source))


def empty_check(name: str) -> Callable:
    """Return a change that keeps a check cell's `# CHECK:` line and replaces its body by `pass`."""

    def change(notebook):
        cell = find_check(notebook, name)
        cell.source = cell.source.splitlines()[0] + "\npass"

    return change


def delete_check(name: str) -> Callable:
    """Return a change that deletes a check cell."""

    def change(notebook):
        notebook.cells.remove(find_check(notebook, name))

    return change


def tag_check(name: str, tag: str) -> Callable:
    """Return a change that adds a cell tag (e.g. nbval's raises-exception) to a check cell."""

    def change(notebook):
        cell = find_check(notebook, name)
        cell.metadata.setdefault("tags", []).append(tag)

    return change


@dataclass(frozen=True)
class Variant:
    """One kind of submission: how it differs from the solution and the verdict the grader owes it."""

    name: str
    kind: str  # right, wrong, tampered
    status: str  # the grader's notebook status
    failing: str | None  # the first check that must not pass (None for a right one)
    changes: tuple[Callable, ...] = ()


PAIRS_CELL, FINAL_CELL = "def pick_best_worst", "def pick_binarized"
# Mistakes used by several variants, each written once.
SWAP_TEXTS = edit(PAIRS_CELL, ('"chosen": row["generations"][best],\n        "rejected": row["generations"][worst],',
                          '"chosen": row["generations"][worst],\n        "rejected": row["generations"][best],'))
KEEP_TIES = edit(PAIRS_CELL, ('    if max(ratings) == min(ratings):\n        return "hoà điểm"\n', ""))
NONE_AS_ZERO = edit(PAIRS_CELL, ('    ratings = row["ratings"]\n    if any(rating is None for rating in ratings):\n        return "thiếu điểm"\n',
                          '    ratings = [rating or 0 for rating in row["ratings"]]\n'))
VARIANTS = (
    Variant("solution", "right", "ok", None),
    Variant("other_names", "right", "ok", None, (
        edit(PAIRS_CELL, ("pick_best_worst", "choose_pair"), ("results", "outcomes"), ("dropped", "why_dropped")),
        edit(FINAL_CELL, ("pick_binarized", "binarize"), ("final_results", "final_outcomes"),
             ("final_dropped", "final_why")),
    )),
    Variant("distilabel_format_step", "right", "ok", None, (
        edit(PAIRS_CELL, ("def pick_best_worst(row):", "def unused(row):"), ("results = [pick_best_worst(row) for row in to_pair]\n"
             "pairs = [result for result in results if isinstance(result, dict)]\n"
             "dropped = Counter(result for result in results if isinstance(result, str))",
             "from distilabel.steps import FormatTextGenerationDPO\n\n"
             "clear = [dict(row) for row in to_pair if None not in row['ratings'] and len(set(row['ratings'])) > 1]\n"
             "formatter = FormatTextGenerationDPO()\nformatter.load()\npairs = next(formatter.process(clear))\n"
             "dropped = Counter({'hoà điểm hoặc thiếu điểm': len(to_pair) - len(pairs)})")),
    )),
    Variant("rows_as_dataset", "right", "ok", None, (
        edit("distiset = pipeline.run", ('rows = distiset["default"]["train"].to_list()', 'rows = distiset["default"]["train"]')),
        edit("judge_rows = [", ("judge_rows = [\n    {\n        \"instruction\": row[\"instruction\"],\n"
                                "        \"generations\": row[\"grouped_generation\"],\n"
                                "        \"generation_models\": row[\"grouped_model_name\"],\n    }\n    for row in rows\n]",
                                "judge_rows = rows.rename_columns({'grouped_generation': 'generations', "
                                "'grouped_model_name': 'generation_models'}).select_columns("
                                "['instruction', 'generations', 'generation_models']).to_list()")),
    )),
    Variant("evolved_first", "right", "ok", None, (
        edit("candidates = [", ('row["generations"] + [new["evolved_response"]]', '[new["evolved_response"]] + row["generations"]'),
             ('row["generation_models"] + [row["generation_models"][0] + " + EvolQuality"]',
              '[row["generation_models"][0] + " + EvolQuality"] + row["generation_models"]')),
    )),
    Variant("kit_dataset_helpers", "right", "ok", None, (
        edit("dataset = Dataset.from_list", ("dataset = Dataset.from_list([", "from helpers.dpo import to_dataset\n"
             "from helpers.storage import save_dataset\n\nunused = ([")),
        edit("dataset.save_to_disk(OUT_DIR)", ("dataset.save_to_disk(OUT_DIR)",
             'dataset = to_dataset(final_pairs, style="conversational")\nsave_dataset(dataset, OUT_DIR)')),
    )),
    Variant("swapped_texts_kept_scores", "wrong", "failed", "pairs", (
        SWAP_TEXTS,
    )),
    Variant("ties_kept", "wrong", "failed", "pairs", (
        KEEP_TIES,
    )),
    Variant("none_as_zero", "wrong", "failed", "pairs", (
        NONE_AS_ZERO,
    )),
    Variant("pairs_dropped", "wrong", "failed", "pairs", (
        edit(PAIRS_CELL, ("pairs = [result for result in results if isinstance(result, dict)]",
                          "pairs = [result for result in results if isinstance(result, dict)][:3]")),
    )),
    Variant("margin_ignored", "wrong", "failed", "final_pairs", (
        edit(FINAL_CELL, ("def pick_binarized(row, min_margin=MIN_MARGIN):", "def pick_binarized(row, min_margin=0):")),
    )),
    Variant("margin_off_by_one", "wrong", "failed", "final_pairs", (
        edit(FINAL_CELL, ("ratings[best] - rating >= min_margin", "ratings[best] - rating > min_margin")),
    )),
    Variant("draw_before_margin", "wrong", "failed", "final_pairs", (
        edit(FINAL_CELL, ("    far_below = [i for i, rating in enumerate(ratings) if ratings[best] - rating >= min_margin]\n"
                          "    if not far_below:\n        return \"dưới ngưỡng\"\n    worse = rng.choice(far_below)\n",
                          "    worse = rng.choice([i for i, rating in enumerate(ratings) if rating < ratings[best]])\n"
                          "    if ratings[best] - ratings[worse] < min_margin:\n        return \"dưới ngưỡng\"\n")),
    )),
    Variant("final_rated_forgotten", "wrong", "failed", "final_pairs", (
        edit(FINAL_CELL, ("[pick_binarized(row) for row in to_pair_final]", "[pick_binarized(dict(row)) for row in HAND_RATED_3]")),
    )),
    Variant("copied_candidate", "wrong", "failed", "candidates", (
        edit("candidates = [", ('[new["evolved_response"]]', '[row["generations"][0]]')),
    )),
    Variant("standard_style_dataset", "wrong", "failed", "dataset", (
        edit("dataset = Dataset.from_list", ('[{"role": "user", "content": pair["prompt"]}]', 'pair["prompt"]'),
             ('[{"role": "assistant", "content": pair["chosen"]}]', 'pair["chosen"]'),
             ('[{"role": "assistant", "content": pair["rejected"]}]', 'pair["rejected"]')),
    )),
    Variant("dataset_not_saved", "wrong", "failed", "dataset", (
        edit("dataset = Dataset.from_list", ("dataset.save_to_disk(OUT_DIR)\ndataset = load_from_disk(OUT_DIR)\n", "")),
    )),
    Variant("emptied_check", "tampered", "tampered", "pairs", (
        empty_check("pairs"),
        KEEP_TIES,
    )),
    Variant("deleted_check", "tampered", "tampered", "dataset", (delete_check("dataset"),)),
    Variant("renamed_check", "tampered", "tampered", "final_pairs", (
        edit("# CHECK: final_pairs", ("# CHECK: final_pairs", "# CHECK: final_pairs_done")),
    )),
    Variant("raises_exception_tag", "tampered", "tampered", "pairs", (
        tag_check("pairs", "raises-exception"),
        KEEP_TIES,
    )),
    # Attacks from the learner's own cells: the check cells reload helpers.checks, so the real check still runs.
    Variant("shadowed_check", "tampered", "failed", "pairs", (
        SWAP_TEXTS,
        edit(PAIRS_CELL, ("### END SOLUTION", "import helpers.checks\n\n"
              "helpers.checks.check_pairs = lambda *args, **kwargs: print('✅')\n"
              "check_pairs = helpers.checks.check_pairs\n### END SOLUTION")),
    )),
    # Ratings made up to be consistent (valid scores, clear winners): every released check passes on them, in the
    # kernel and again outside it; only the judge's own scores of the same texts (grading/rescore.py) tell: failed.
    Variant("made_up_ratings", "tampered", "failed", "ratings", (
        edit("judge_rows = [", ("rated = next(judge.process(judge_rows))",
                                "rated = next(judge.process(judge_rows))\nfor row in rated:\n    row[\"ratings\"] = [4.5, 2.0]")),
    )),
    # The judge's own ratings pass the ratings check; the pairs are then built from ratings changed after it.
    Variant("ratings_changed_after_check", "tampered", "failed", "pairs", (
        edit(PAIRS_CELL, ("to_pair = (rated or [])", "for row in rated:\n    row[\"ratings\"] = [4.5, 2.0]\nto_pair = (rated or [])")),
    )),
    Variant("patched_rating_rule", "tampered", "failed", "pairs", (
        NONE_AS_ZERO,
        edit(PAIRS_CELL, ("### END SOLUTION", "import helpers.pairs\n\nhelpers.pairs.is_valid_rating = lambda value: True\n"
              "### END SOLUTION")),
    )),
)


def build_variant(variant: Variant, solution=SOLUTION):
    """Return the solution notebook with the variant's changes applied (outputs cleared, as a learner hands it in)."""
    notebook = nbformat.read(solution, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    for change in variant.changes:
        change(notebook)
    return notebook


def make_class(folder, size: int = 30, variants=VARIANTS) -> dict[str, Variant]:
    """Write ``size`` submissions cycling through the variants into ``folder``; return file name -> variant."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for number in range(size):
        variant = variants[number % len(variants)]
        name = f"{number + 1:02d}_{variant.name}.ipynb"
        nbformat.write(build_variant(variant), folder / name)
        written[name] = variant
    return written


def compare_verdicts(rows: list[dict], written: dict[str, Variant]) -> list[str]:
    """Return one line per submission whose grade differs from its variant's expected verdict."""
    wrong = []
    for row in rows:
        variant = written[row["notebook"]]
        value = row["checks"].get(variant.failing) if variant.failing else None
        if row["status"] != variant.status or (variant.failing and value == "pass"):
            wrong.append(f"{row['notebook']}: expected {variant.status} with {variant.failing} not passing, "
                         f"got {row['status']} ({row['detail']})")
    return wrong


def run_benchmark(size: int, jobs: int, timeout: float, out: Path | None = None) -> int:
    """Grade a generated class; print (and write to ``out`` as JSON) the times and verdicts; return 1 if one is wrong."""
    from coursetools.grading.pipeline import grade_folder
    from helpers.checks import check_saved_dataset

    with tempfile.TemporaryDirectory(prefix="grading-benchmark-") as tmp:
        written = make_class(Path(tmp) / "class", size)
        start = time.perf_counter()
        rows = grade_folder(Path(tmp) / "class", timeout=timeout, out_dir=Path(tmp) / "out", reference=EXERCISE,
                            dataset_check=check_saved_dataset, jobs=jobs)
        total = time.perf_counter() - start
    kinds = {kind: sum(v.kind == kind for v in written.values()) for kind in ("right", "wrong", "tampered")}
    print(f"Graded {len(rows)} submissions ({kinds['right']} right, {kinds['wrong']} wrong, {kinds['tampered']} tampered) "
          f"with {jobs} job(s): {total:.0f} s in total, {total / len(rows):.1f} s per submission "
          f"(each one alone: median {sorted(r['seconds'] for r in rows)[len(rows) // 2]} s).")
    wrong = compare_verdicts(rows, written)
    for line in wrong:
        print("WRONG VERDICT:", line)
    print("Every verdict is the expected one." if not wrong else f"{len(wrong)} verdicts differ.")
    if out is not None:
        from helpers.threads import count_cores

        out.parent.mkdir(parents=True, exist_ok=True)
        report = {"date": time.strftime("%Y-%m-%d"), "cores": count_cores(), "jobs": jobs, "submissions": len(rows),
                  "kinds": kinds, "seconds": round(total), "wrong_verdicts": wrong,
                  "rows": [{"notebook": r["notebook"], "kind": written[r["notebook"]].kind, "status": r["status"],
                            "seconds": r["seconds"]} for r in rows]}
        out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"Wrote {out}")
    return 1 if wrong else 0


def main(argv: list[str] | None = None) -> int:
    """Write a class of submissions, or grade one as a benchmark."""
    parser = argparse.ArgumentParser(prog="python -m coursetools submissions", description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path)
    parser.add_argument("--size", type=int, default=30)
    parser.add_argument("--benchmark", action="store_true")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--out", type=Path, default=None, help="with --benchmark: write the figures as JSON here")
    args = parser.parse_args(argv)
    if args.benchmark:
        return run_benchmark(args.size, args.jobs, args.timeout, args.out)
    if args.folder is None:
        parser.error("FOLDER is required without --benchmark")
    for name, variant in make_class(args.folder, args.size).items():
        print(f"{name}: {variant.kind}, expected {variant.status}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
