"""Benchmark the offline preset on this machine: generation speed, notebook times, dataset build, memory.

Usage: python scripts/benchmark.py [--skip-notebooks] [--out artifacts/benchmark.json]   (or: make benchmark)
Prints a table and writes the same figures as JSON. Run it on an otherwise idle machine: it measures
wall-clock time, and anything else running on the 2 cores changes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from helpers.course import EXERCISE_INSTRUCTIONS  # noqa: E402  (after the HF_HUB_OFFLINE default)

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [*EXERCISE_INSTRUCTIONS, "Name three primary colors.", "What does a thermometer measure?"]
NEW_TOKENS = 128


def measure_generation(dtype: str, batch_size: int) -> dict:
    """Greedy-generate NEW_TOKENS for each prompt with the offline judge role; return tokens per second."""
    from helpers.presets import load_llm

    llm = load_llm("judge", "offline", max_new_tokens=NEW_TOKENS)
    llm.torch_dtype = dtype
    llm.batch_size = batch_size
    llm.load()
    prompts = [[{"role": "user", "content": p}] for p in PROMPTS[: 4 if batch_size == 1 else 8]]
    start = time.perf_counter()
    outputs = llm.generate_outputs(prompts, max_new_tokens=NEW_TOKENS, do_sample=False, temperature=1.0)
    seconds = time.perf_counter() - start
    tokens = sum(o["statistics"]["output_tokens"][0] for o in outputs)
    return {"dtype": dtype, "batch_size": batch_size, "tokens": tokens, "seconds": round(seconds, 1),
            "tokens_per_second": round(tokens / seconds, 1)}


def time_notebook(path: Path) -> float:
    """Execute one notebook headless (outputs discarded) and return its wall-clock seconds."""
    from helpers.notebooks import execute_notebook

    start = time.perf_counter()
    execute_notebook(path)
    return round(time.perf_counter() - start, 1)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "benchmark.json")
    args = parser.parse_args(argv)
    report = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version()}, "generation": [], "notebooks": {}}
    for dtype in ("float32", "bfloat16"):
        for batch_size in (1, 8):
            row = measure_generation(dtype, batch_size)
            report["generation"].append(row)
            print(f"generation {dtype:<9} batch {batch_size}: {row['tokens_per_second']:6.1f} tok/s")
    if not args.skip_notebooks:
        os.environ["KIT_DATASET_DIR"] = str(ROOT / "artifacts" / "benchmark-dataset")
        paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + [ROOT / "solutions" / "preference_dpo_dataset.ipynb"]
        for path in paths:
            report["notebooks"][str(path.relative_to(ROOT))] = seconds = time_notebook(path)
            print(f"{path.relative_to(ROOT)}: {seconds} s")
        report["course_seconds"] = round(sum(report["notebooks"].values()), 1)
        solution = report["notebooks"]["solutions/preference_dpo_dataset.ipynb"]
        report["dataset_seconds_per_prompt"] = round(solution / 6, 1)
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    report["peak_memory_mb"] = round(peak / 1024)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
