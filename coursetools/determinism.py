"""Determinism on one machine: run the notebooks, record everything they show, run them again and compare.

Usage: python -m coursetools determinism [--runs 3] [--record-dir DIR] notebooks/*.ipynb solutions/*.ipynb

Run 1 records the notebooks' full outputs on this machine in DIR (executed copies, readable in JupyterLab).
Runs 2..N execute them again and compare every code cell with that recording, not with the committed notebooks:
those may have been recorded on another CPU, and model outputs differ from one CPU to another (see the README).

Compared: what a reader sees (stdout, text results, tables, HTML), as stored by coursetools/outputs.py.
Not compared: stderr logs and widgets (coursetools.notebooks.is_shown_output), images (as nbval skips them), and
the wall-clock times and memory figures that SANITIZE masks. nbval itself is not used here because it compares
stderr and the text of progress-bar widgets, which hold timings on every run.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import shutil
import tempfile
import time
from pathlib import Path

import nbformat

from helpers.models import ensure_offline_model
from coursetools.notebooks import execute_notebook, is_shown_output
from helpers.storage import DATASET_ENV

# (pattern, replacement): figures that change on every run even on one machine, like nbval's --nbval-sanitize-with.
SANITIZE = [
    (re.compile(r"\b\d+(\.\d+)? s\b"), "<time> s"),  # "… 6.1 s" (notebook 04's judging times)
    (re.compile(r"\b\d+ giây\b"), "<time> giây"),  # "… mất 35 giây" (notebook 05's training time)
    (re.compile(r"\b\d+ MB\b"), "<memory> MB"),  # peak memory of the kernel process
    (re.compile(r"'train_(runtime|samples_per_second|steps_per_second)': [0-9.e+-]+"), r"'train_\1': <time>"),
]


def shown_text(cell: nbformat.NotebookNode) -> str:
    """Return the text a reader sees in a code cell's outputs, with times and memory figures masked."""
    parts = []
    for output in cell.get("outputs", []):
        if not is_shown_output(output):
            continue
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        else:
            parts.extend(value for mime, value in sorted(output.get("data", {}).items()) if mime.startswith("text/"))
    text = "".join(part if isinstance(part, str) else "".join(part) for part in parts)
    for pattern, replacement in SANITIZE:
        text = pattern.sub(replacement, text)
    return text


def compare(recorded: nbformat.NotebookNode, new: nbformat.NotebookNode) -> list[str]:
    """Return one report per code cell whose shown output differs between two runs of the same notebook."""
    reports = []
    code_cells = [(old, cur) for old, cur in zip(recorded.cells, new.cells) if old.cell_type == "code"]
    for number, (old, cur) in enumerate(code_cells):
        before, after = shown_text(old), shown_text(cur)
        if before != after:
            diff = difflib.unified_diff(before.splitlines(), after.splitlines(), "recorded", "this run", lineterm="", n=1)
            reports.append(f"Cell {number} (code cells counted from 0, as nbval does):\n" + "\n".join(list(diff)[:40]))
    return reports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coursetools determinism", description="Run notebooks several times on this machine and compare every output.")
    parser.add_argument("notebooks", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="runs in all, the first one being the recording (default 3)")
    parser.add_argument("--record-dir", type=Path, help="where the recording is kept (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.runs < 2:
        parser.error("--runs must be at least 2: one recording and one run to compare with it")
    record_dir = args.record_dir or Path(tempfile.mkdtemp(prefix="kit-determinism-"))
    record_dir.mkdir(parents=True, exist_ok=True)
    # Every run starts from the same state: the model already converted (its first conversion prints a line), and
    # no saved dataset (notebook 05 reads the one the solution saved, or builds its own when there is none).
    ensure_offline_model()
    dataset = record_dir / "dataset"
    os.environ[DATASET_ENV] = str(dataset)  # inherited by every kernel
    failed = False
    for run in range(1, args.runs + 1):
        shutil.rmtree(dataset, ignore_errors=True)
        for path in args.notebooks:
            start = time.perf_counter()
            nb = execute_notebook(path, allow_errors=True)
            seconds = time.perf_counter() - start
            copy = record_dir / path.name
            if run == 1:
                nbformat.write(nb, copy)
                errors = [o.ename for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
                failed |= bool(errors)
                problem = f"; FAILED with {', '.join(errors)}" if errors else ""
                print(f"run 1/{args.runs} {path}: recorded in {copy} ({seconds:.0f} s){problem}", flush=True)
                continue
            reports = compare(nbformat.read(copy, as_version=4), nb)
            failed |= bool(reports)
            verdict = "same as the recording" if not reports else f"{len(reports)} cell(s) differ"
            print(f"run {run}/{args.runs} {path}: {verdict} ({seconds:.0f} s)", flush=True)
            for report in reports:
                print(report, flush=True)
    print("deterministic on this machine" if not failed else "NOT deterministic: see the cells above")
    return 1 if failed else 0
