"""Execute notebooks and store only the outputs that nbval checks (cells marked NBVAL_CHECK_OUTPUT).

Usage: python scripts/store_outputs.py notebooks/01_model_pooling.ipynb [...] [--executed-copy /tmp/executed]
Every other cell is saved without outputs or execution counts, so the repository holds no timings,
paths or progress bars, and nbval (lax mode) compares exactly the cells that are meant to be stable.
"""

from __future__ import annotations

from pathlib import Path

import nbformat

from helpers.notebooks import execute_notebook

CHECK_MARK = "NBVAL_CHECK_OUTPUT"


def store_outputs(path: Path, timeout: int = 1200, executed_copy: Path | None = None) -> None:
    """Run one notebook in its own folder and keep outputs of checked cells only."""
    nb = execute_notebook(path, timeout)
    if executed_copy:  # everything the notebook showed, for a maintainer to read (never committed)
        executed_copy.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_copy / path.name)
    keep_checked_outputs(nb)
    nbformat.write(nb, path)


def keep_checked_outputs(nb: nbformat.NotebookNode) -> None:
    """Clear every output but the checked cells', and drop execution timestamps (they change on every run)."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        # nbval treats a cell with outputs but no execution count as "unrun": checked cells keep
        # theirs (deterministic, since cells run in order); all other cells are cleared.
        if CHECK_MARK not in cell.source:
            cell.execution_count = None
            cell.outputs = []
    nb.metadata.pop("widgets", None)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Execute notebooks and keep only the outputs nbval checks.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--executed-copy", type=Path, help="also save the fully executed notebooks in this folder")
    args = parser.parse_args()
    for name in args.notebooks:
        print(f"executing {name}")
        store_outputs(name, executed_copy=args.executed_copy)
