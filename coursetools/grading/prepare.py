"""Step 1, prepare: read a learner notebook and put the released exercise's check cells in place of the learner's.

A check is a code cell with a line ``# CHECK: <name>``. Before the run, every learner code cell naming a check of the
reference gets that reference cell's source and metadata (in the copy that runs), so a check emptied to ``pass``, skipped
(``# NBVAL_SKIP``, tag ``nbval-skip``), allowed to fail (tag ``raises-exception``, ``# NBVAL_RAISES_EXCEPTION``) or
loosened runs as released: nbval 0.11 obeys comment markers in the source and tags in ``metadata.tags``. If the learner's
source differs from the released one (both without trailing spaces on each line and without blank lines around), or its
tags differ (compared as sets), the check is ``edited``. Tags on other cells stay: they only change how the learner's own
code runs. A reference check that no learner code cell names (deleted, renamed, turned into markdown) is ``missing``; it
is not inserted, its place being unknown. Learner cells naming only checks the reference does not have are ordinary
cells. Without a reference (``released=None``, as in the tiny tests), the learner's check cells run as they are.

Stored outputs are dropped: they are not graded, and without them nbval compares nothing and cannot stop on "Unrun
reference cell has outputs". The hashes of the kit (``KIT_ROOT/helpers`` and the reference) are taken here too, so that
the pipeline can tell whether a run changed them.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from coursetools.grading.recheck import CheckCall, build_dump_code, read_check_calls
from coursetools.markers import find_check_names, is_check_cell

ROOT = Path(__file__).resolve().parents[2]  # coursetools/grading/prepare.py -> the repository
DEFAULT_REFERENCE = ROOT / "exercises" / "preference_dpo_dataset.ipynb"
# The kit whose helpers/ every run imports (as a copy) and that must not change while grading; tests point it at a copy.
KIT_ROOT = ROOT
KIT_PACKAGE = "helpers"


@dataclass
class Prepared:
    """A learner notebook ready to run: the released checks in place, no stored outputs."""

    name: str
    notebook: nbformat.NotebookNode
    checks: dict[int, list[str]] = field(default_factory=dict)  # check names by code-cell number (nbval's numbering)
    edited: set[str] = field(default_factory=set)  # checks whose learner cell differed from the released one
    calls: dict[str, CheckCall] = field(default_factory=dict)  # the checks run again outside the kernel (recheck.py)


def find_checks(notebook) -> dict[int, list[str]]:
    """Return check names by code-cell number, numbered like nbval (code cells only, from 0)."""
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    return {number: find_check_names(cell.source) for number, cell in enumerate(code_cells) if is_check_cell(cell)}


def normalize_source(source: str) -> str:
    """Return a cell source without trailing whitespace on its lines nor blank lines around it."""
    return "\n".join(line.rstrip() for line in source.splitlines()).strip("\n")


def read_tags(cell) -> set[str]:
    """Return a cell's metadata tags as a set (nbval reads them: ``nbval-skip``, ``raises-exception`` ...)."""
    tags = cell.metadata.get("tags", [])
    return {str(tag) for tag in tags} if isinstance(tags, list) else {str(tags)}


def read_reference(path) -> dict[str, nbformat.NotebookNode]:
    """Return the released notebook's check cells by check name, in notebook order."""
    released = {}
    for cell in nbformat.read(path, as_version=4).cells:
        if is_check_cell(cell):
            for name in find_check_names(cell.source):
                released.setdefault(name, cell)
    return released


def apply_reference(notebook, released: dict) -> tuple[dict[int, list[str]], set[str]]:
    """Give learner cells naming a reference check its source and metadata; return (checks by cell number, edited names)."""
    checks, edited = {}, set()
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells):
        names = [name for name in find_check_names(cell.source) if name in released]
        if names:
            learner = normalize_source(cell.source), read_tags(cell)
            edited.update(name for name in names
                          if learner != (normalize_source(released[name].source), read_tags(released[name])))
            cell.source, cell.metadata = released[names[0]].source, copy.deepcopy(released[names[0]].metadata)
            checks[number] = names
    return checks, edited


def prepare_notebook(path: Path, released: dict | None) -> Prepared:
    """Read a learner notebook (nbformat's errors propagate), put the released checks in and drop its outputs."""
    notebook = nbformat.read(path, as_version=4)
    checks, edited = apply_reference(notebook, released) if released is not None else (find_checks(notebook), set())
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    calls = read_check_calls(released) if released is not None else {}
    add_dumps(notebook, checks, calls)
    return Prepared(Path(path).name, notebook, checks, edited, calls)


def add_dumps(notebook, checks: dict[int, list[str]], calls: dict[str, CheckCall]) -> None:
    """Put the grader's dump code in each released check cell, after its marker line and before its check."""
    # In the check cell itself, not in a cell of its own: no learner cell runs between the values written and the
    # check, so a name reused later in the notebook is not what gets checked again. No cell is added: nbval's numbers stay.
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    for number, names in checks.items():
        dump = build_dump_code(calls, names)
        if dump:
            marker, _, rest = code_cells[number].source.partition("\n")
            code_cells[number].source = f"{marker}\n{dump}\n{rest}"


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, or "unreadable" (missing, not a file, no permission)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def hash_folder(folder: Path) -> str:
    """Return a SHA-256 over the relative names and contents of the files under ``folder``, ``__pycache__`` left out."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if "__pycache__" not in relative.parts and not path.is_dir():
            digest.update(f"{relative}\0{hash_file(path)}\0".encode())
    return digest.hexdigest()


def hash_kit(reference) -> tuple[str, str]:
    """Return the hashes of what grading trusts outside the runs: KIT_ROOT's helpers/ and the reference notebook."""
    return hash_folder(KIT_ROOT / KIT_PACKAGE), hash_file(Path(reference)) if reference is not None else ""
