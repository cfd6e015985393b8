"""Execute notebooks and store the run a reader should see (texts, tables, plots), without logs or widgets.

Usage: python -m coursetools outputs notebooks/01_model_pooling.ipynb [...] [--executed-copy /tmp/executed]
Model texts, ratings, probabilities and timings are stored so that a reader on GitHub sees a real run; their cells
are marked NBVAL_IGNORE_OUTPUT, because they change with the CPU. nbval (lax mode) compares only the cells marked
NBVAL_CHECK_OUTPUT, whose outputs hold on any CPU (counts, columns, validity, policies on fixed inputs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nbformat

from coursetools.notebooks import execute_notebook, keep_shown_outputs


def store_outputs(path: Path, timeout: int = 1200, executed_copy: Path | None = None) -> None:
    """Run one notebook in its own folder and store its outputs, logs and widgets left out."""
    nb = execute_notebook(path, timeout)
    if executed_copy:  # everything the notebook showed, logs included, for a maintainer to read (never committed)
        executed_copy.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, executed_copy / path.name)
    keep_shown_outputs(nb)
    nbformat.write(nb, path)


def main(argv: list[str] | None = None) -> int:
    """Execute the named notebooks and store what a reader should see."""
    parser = argparse.ArgumentParser(prog="python -m coursetools outputs",
                                     description="Execute notebooks and store their outputs without logs or widgets.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--executed-copy", type=Path, help="also save the fully executed notebooks in this folder")
    args = parser.parse_args(argv)
    for name in args.notebooks:
        print(f"executing {name}", flush=True)
        store_outputs(name, executed_copy=args.executed_copy)
    return 0
