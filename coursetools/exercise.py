"""Generate the exercise notebook from the solution notebook (the one source of truth).

Usage: python -m coursetools exercise [--check] [--solution PATH] [--exercise PATH]   (or: make exercise)

Without --check, reads solutions/preference_dpo_dataset.ipynb and writes
exercises/preference_dpo_dataset.ipynb. With --check, writes nothing and exits 1 if the
committed exercise differs from what would be generated (or is missing), 0 if it is up to date.

Markers (nbgrader's convention, like fastai's clean.py), written in the solution notebook:

* Code cells: the lines from ``### BEGIN SOLUTION`` to ``### END SOLUTION`` (any indentation,
  markers included) become ``# TODO: <hint>`` and ``raise NotImplementedError("TODO: <hint>")``
  at the BEGIN marker's indentation. The hint comes from ``### BEGIN SOLUTION: <hint>``,
  else DEFAULT_HINT. Several regions per cell are fine; unbalanced or nested ones are a ValueError.
* A code cell whose first line is ``# SOLUTION ONLY`` is dropped.
* A markdown cell containing ``<!-- SOLUTION ONLY -->`` is dropped.
* In markdown, ``<!-- BEGIN SOLUTION -->`` ... ``<!-- END SOLUTION -->`` becomes MARKDOWN_PLACEHOLDER.
* Check cells (a line ``# CHECK: <name>``) are kept unchanged; they must contain no markers.
* ``# NBVAL_CHECK_OUTPUT`` lines are removed: the exercise stores no outputs to compare.
* The first markdown cell of the exercise (after the navigation cell) gets "(lời giải)" replaced by "(bài tập)".
* The navigation cell written by `make navigation`, if the solution has one, is rendered again for
  the exercise's own path (its Colab badge and prev/next links), so the exercise is never edited by hand.

Every cell loses its outputs, execution count, id and timing metadata ("execution",
"ExecuteTime"); the notebook loses its "widgets" metadata and is written as nbformat 4.4
(which has no cell ids), so the same solution always gives byte-identical exercises.
"""

from __future__ import annotations

import argparse
import copy
import difflib
import json
import sys
import unicodedata
from pathlib import Path

import nbformat

from coursetools.markers import (
    ANY_SOLUTION_LINE, BEGIN_SOLUTION, END_SOLUTION, MARKDOWN_SOLUTION, NBVAL_CHECK_LINE, SOLUTION_ONLY_CODE,
    SOLUTION_ONLY_MARKDOWN, find_malformed_checks, is_check_cell, is_nav_cell,
)
from coursetools.links import EXERCISE as EXERCISE_PATH
from coursetools.links import render_nav

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "preference_dpo_dataset.ipynb"
EXERCISE = ROOT / "exercises" / "preference_dpo_dataset.ipynb"

DEFAULT_HINT = "hãy viết phần này"
MARKDOWN_PLACEHOLDER = "*(Câu trả lời của bạn: nhấp đúp vào ô này để viết. Lời giải có trong `solutions/` sau khi làm xong.)*"
SOLUTION_TITLE, EXERCISE_TITLE = "(lời giải)", "(bài tập)"
DROPPED_CELL_METADATA = ("execution", "ExecuteTime")

# nbformat parses the notebook JSON; the markers live inside cell sources, which no library
# parses for us, so they are matched line by line with these small patterns.


def replace_code_regions(source: str, index: int) -> str:
    """Replace each BEGIN/END SOLUTION region of one code cell by a TODO stub."""
    kept: list[str] = []
    begin = None  # the BEGIN match of the region being skipped, if any
    for line in source.split("\n"):
        opening, closing = BEGIN_SOLUTION.match(line), END_SOLUTION.match(line)
        if ANY_SOLUTION_LINE.match(line) and not (opening or closing):
            raise ValueError(f"cell {index}: malformed solution marker {line.strip()!r}")
        if opening:
            if begin:
                raise ValueError(f"cell {index}: nested '### BEGIN SOLUTION' (missing '### END SOLUTION')")
            begin = opening
        elif closing:
            if not begin:
                raise ValueError(f"cell {index}: '### END SOLUTION' without '### BEGIN SOLUTION'")
            indent, hint = begin["indent"], begin["hint"] or DEFAULT_HINT
            # json.dumps gives a double-quoted literal that is also valid Python, so quotes or
            # backslashes in a hint cannot break the generated code.
            message = json.dumps(f"TODO: {hint}", ensure_ascii=False)
            kept += [f"{indent}# TODO: {hint}", f"{indent}raise NotImplementedError({message})"]
            begin = None
        elif not begin:
            kept.append(line)
    if begin:
        raise ValueError(f"cell {index}: '### BEGIN SOLUTION' without '### END SOLUTION'")
    return "\n".join(kept)


def replace_markdown_regions(source: str, index: int) -> str:
    """Replace each BEGIN/END SOLUTION comment pair of one markdown cell by the placeholder."""
    pieces, start, opened_at = [], 0, None
    for marker in MARKDOWN_SOLUTION.finditer(source):
        if marker[1] == "BEGIN":
            if opened_at is not None:
                raise ValueError(f"cell {index}: nested '<!-- BEGIN SOLUTION -->'")
            opened_at = marker.start()
        else:
            if opened_at is None:
                raise ValueError(f"cell {index}: '<!-- END SOLUTION -->' without '<!-- BEGIN SOLUTION -->'")
            pieces += [source[start:opened_at], MARKDOWN_PLACEHOLDER]
            start, opened_at = marker.end(), None
    if opened_at is not None:
        raise ValueError(f"cell {index}: '<!-- BEGIN SOLUTION -->' without '<!-- END SOLUTION -->'")
    return "".join(pieces) + source[start:]


def is_solution_only(cell: nbformat.NotebookNode) -> bool:
    """Tell whether a cell is marked to be dropped from the exercise."""
    if cell.cell_type == "code":
        return bool(SOLUTION_ONLY_CODE.match(cell.source.split("\n", 1)[0]))
    return cell.cell_type == "markdown" and SOLUTION_ONLY_MARKDOWN in cell.source


def convert_cell(cell: nbformat.NotebookNode, index: int) -> nbformat.NotebookNode:
    """Turn one kept solution cell into its exercise form (a new cell; the input is untouched)."""
    cell = copy.deepcopy(cell)
    cell.pop("id", None)
    for key in DROPPED_CELL_METADATA:
        cell.metadata.pop(key, None)
    if cell.cell_type == "code":
        cell.outputs, cell.execution_count = [], None
        malformed = find_malformed_checks(cell.source)
        if malformed:  # a mistyped check would be turned into a TODO or dropped, and never graded
            raise ValueError(f"cell {index}: {malformed[0]!r} is not a check line; write `# CHECK: <python_name>`")
        if is_check_cell(cell):
            # Check cells test the learner's work, so they are copied as they are; a solution
            # hidden inside one would either leak or break the check.
            if any(ANY_SOLUTION_LINE.match(line) for line in cell.source.split("\n")):
                raise ValueError(f"cell {index}: a '# CHECK:' cell must not contain solution markers")
        else:
            cell.source = replace_code_regions(cell.source, index)
        # The solution's checked outputs are stored for nbval; the exercise stores none, so a kept
        # marker would fail every learner's (correct) cell when an instructor grades with nbval.
        cell.source = NBVAL_CHECK_LINE.sub("", cell.source)
    elif cell.cell_type == "markdown":
        cell.source = replace_markdown_regions(cell.source, index)
    return cell


def retitle(cells: list[nbformat.NotebookNode]) -> None:
    """Turn "(lời giải)" into "(bài tập)" in the first markdown cell, the notebook's title."""
    first = next((cell for cell in cells if cell.cell_type == "markdown" and not is_nav_cell(cell)), None)
    if first is None:
        return
    # The same Vietnamese words can be typed composed (NFC) or decomposed (NFD); accept both.
    for form in ("NFC", "NFD"):
        first.source = first.source.replace(unicodedata.normalize(form, SOLUTION_TITLE), EXERCISE_TITLE)


def make_exercise(solution_nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Build the exercise notebook from a solution notebook (which is left unchanged)."""
    nb = copy.deepcopy(solution_nb)
    cells = []
    for index, cell in enumerate(solution_nb.cells):
        if is_solution_only(cell):
            if is_check_cell(cell) or (cell.cell_type == "code" and find_malformed_checks(cell.source)):
                raise ValueError(f"cell {index}: a '# CHECK:' cell cannot be '# SOLUTION ONLY'")
            continue
        cells.append(convert_cell(cell, index))
    retitle(cells)
    for cell in cells:
        if is_nav_cell(cell):
            cell.source = render_nav(EXERCISE_PATH, ROOT)  # the exercise's own badge and links
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    # nbformat 4.4 has no cell ids: nothing random or solution-specific ends up in the exercise.
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def render(nb: nbformat.NotebookNode) -> str:
    """Serialize a notebook exactly as it is written to disk (sorted keys, trailing newline)."""
    problems: dict = {}
    text = nbformat.writes(nb, capture_validation_error=problems)
    if problems:
        raise ValueError(f"generated notebook is invalid: {problems['ValidationError']}")
    return text + "\n"


def describe_difference(expected: str, actual: str, limit: int = 40) -> str:
    """Summarize how the committed exercise differs from the generated one (first lines of a diff)."""
    diff = list(difflib.unified_diff(actual.splitlines(), expected.splitlines(), "committed", "generated", lineterm=""))
    return "\n".join(diff[:limit] + ([f"... ({len(diff) - limit} more diff lines)"] if len(diff) > limit else []))


def main(argv: list[str] | None = None) -> int:
    """Write the exercise notebook, or with --check report whether the committed one is up to date."""
    parser = argparse.ArgumentParser(prog="python -m coursetools exercise", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if the exercise is stale")
    parser.add_argument("--solution", type=Path, default=SOLUTION, help="solution notebook to read")
    parser.add_argument("--exercise", type=Path, default=EXERCISE, help="exercise notebook to write or check")
    args = parser.parse_args(argv)
    try:
        text = render(make_exercise(nbformat.read(args.solution, as_version=4)))
    except (OSError, ValueError) as error:
        print(f"error: {args.solution}: {error}", file=sys.stderr)
        return 2
    if args.check:
        if not args.exercise.exists():
            print(f"{args.exercise} is missing; run `make exercise`.", file=sys.stderr)
            return 1
        committed = args.exercise.read_bytes().decode("utf-8", errors="replace")
        if committed != text:
            print(
                f"{args.exercise} is not generated from {args.solution}; run `make exercise`"
                " (never edit the exercise by hand).\n" + describe_difference(text, committed),
                file=sys.stderr,
            )
            return 1
        print(f"{args.exercise} is up to date.")
        return 0
    args.exercise.parent.mkdir(parents=True, exist_ok=True)
    args.exercise.write_bytes(text.encode("utf-8"))  # bytes: no platform newline translation
    print(f"wrote {args.exercise}")
    return 0
