"""Build the course's preference dataset headless: execute the solution notebook and print its summary.

Usage: python -m coursetools dataset [--out data/preference_dpo_dataset]   (or: make dataset)
The solution notebook is executed in memory (the file on disk is never rewritten) with the offline
preset unless KIT_PRESET says otherwise; it saves the dataset and a summary.json to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from nbclient.exceptions import CellExecutionError

from coursetools.notebooks import execute_notebook
from helpers.storage import DATASET_ENV, DEFAULT_DATASET_DIR

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = ROOT / "solutions" / "preference_dpo_dataset.ipynb"


def build_dataset(out_dir: Path, timeout: int = 1800) -> dict:
    """Execute the solution notebook so that it writes its dataset to ``out_dir``; return the summary."""
    out_dir = out_dir.resolve()
    os.environ[DATASET_ENV] = str(out_dir)  # inherited by the kernel the client starts
    execute_notebook(SOLUTION, timeout)
    return json.loads((out_dir / "summary.json").read_text())


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, build the dataset and print where it is and what it holds."""
    parser = argparse.ArgumentParser(prog="python -m coursetools dataset", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_DATASET_DIR)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        summary = build_dataset(args.out)
    except CellExecutionError as error:
        print(f"Lỗi khi chạy notebook lời giải:\n{str(error)[-2000:]}", file=sys.stderr)
        return 1
    print(f"Đã lưu tập dữ liệu vào {args.out} ({summary['rows']} hàng) sau {time.perf_counter() - start:.0f} giây.")
    print(json.dumps(summary, ensure_ascii=False, indent=2))
    return 0
