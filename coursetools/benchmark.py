"""Benchmark the offline preset on this machine: generation speed, notebook times, dataset build, memory.

Usage: python -m coursetools benchmark [--skip-notebooks] [--out artifacts/benchmark.json]   (or: make benchmark)
Prints a table and writes the same figures as JSON. Run it on an otherwise idle machine: it measures
wall-clock time, and anything else running on the 2 cores changes the figures.

Generation speed is compared with the memory-bandwidth bound: generating one token reads every weight
once, so one sequence cannot go faster than (read bandwidth) / (weight bytes) steps per second. The
bandwidth is measured here (one thread summing a 1 GB array, as the kit runs one thread per process).
If llama-cpp-python is installed (`make llamacpp`), the same prompts are also timed with llama.cpp on
the same GGUF file, for comparison.
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
from helpers.storage import DATASET_ENV  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [*EXERCISE_INSTRUCTIONS, "Name three primary colors.", "What does a thermometer measure?"]
NEW_TOKENS = 128
# The "whole course" of the speed target: notebooks 1-4 and the solution; notebook 5 (training) is timed apart.
TRAINING_NOTEBOOK = "notebooks/05_train_dpo.ipynb"


def measure_bandwidth() -> float:
    """Return the best of five single-thread reads of a 1 GB array, in GB/s."""
    import numpy as np

    data = np.ones(2**28, dtype=np.float32)  # 1 GiB
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        data.sum()
        best = min(best, time.perf_counter() - start)
    return round(data.nbytes / best / 1e9, 1)


def add_bound(row: dict, bandwidth: float, weight_bytes: float) -> dict:
    """Add the bandwidth bound in steps/s (one step = one token for every sequence) and the share reached."""
    bound = bandwidth * 1e9 / weight_bytes
    steps = row["tokens_per_second"] / row["batch_size"]
    return {**row, "bound_steps_per_second": round(bound, 1), "share_of_bound": round(steps / bound, 2)}


def llamacpp_row(threads: int, **measured) -> dict:
    """Return a llama.cpp result row (one prompt at a time, the GGUF's own Q4_1 weights)."""
    return {"engine": "llama.cpp", "dtype": "Q4_1 (GGUF)", "threads": threads, "batch_size": 1, **measured}


def measure_llamacpp(threads: int) -> dict | None:
    """Time llama.cpp on the GGUF in a child process (a crash there must not end the benchmark); None if not installed."""
    import importlib.util
    import subprocess
    import sys

    if importlib.util.find_spec("llama_cpp") is None:
        return None
    command = [sys.executable, "-m", "coursetools", "benchmark", "--llamacpp-child", str(threads)]
    child = subprocess.run(command, capture_output=True, text=True)
    if child.returncode != 0:
        last_line = (child.stderr.strip().splitlines() or [""])[-1]
        return llamacpp_row(threads, error=f"exit code {child.returncode}: {last_line}")
    return json.loads(child.stdout.strip().splitlines()[-1])


def llamacpp_child(threads: int) -> None:
    """Greedy-generate NEW_TOKENS per prompt with llama.cpp (one prompt at a time) and print the row as JSON."""
    from llama_cpp import Llama

    from helpers.models import find_gguf

    gguf = find_gguf()
    model = Llama(model_path=str(gguf), n_ctx=2048, n_threads=threads, seed=0, verbose=False)
    tokens, seconds = 0, 0.0
    for prompt in PROMPTS[:4]:
        start = time.perf_counter()
        out = model.create_chat_completion([{"role": "user", "content": prompt}], max_tokens=NEW_TOKENS,
                                           temperature=0.0, repeat_penalty=1.1)
        seconds += time.perf_counter() - start
        tokens += out["usage"]["completion_tokens"]
    print(json.dumps(llamacpp_row(threads, tokens=tokens, seconds=round(seconds, 1),
                                  tokens_per_second=round(tokens / seconds, 1), weight_bytes=gguf.stat().st_size)))


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
    return {"engine": "transformers", "dtype": dtype, "threads": 1, "batch_size": batch_size, "tokens": tokens,
            "seconds": round(seconds, 1), "tokens_per_second": round(tokens / seconds, 1),
            "weight_bytes": sum(p.numel() * p.element_size() for p in llm._pipeline.model.parameters())}


def time_notebook(path: Path) -> float:
    """Execute one notebook headless (outputs discarded) and return its wall-clock seconds."""
    from coursetools.notebooks import execute_notebook

    start = time.perf_counter()
    execute_notebook(path)
    return round(time.perf_counter() - start, 1)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m coursetools benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "benchmark.json")
    parser.add_argument("--llamacpp-child", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.llamacpp_child:
        llamacpp_child(args.llamacpp_child)
        return 0
    from helpers.presets import choose_cpu_dtype

    report = {"machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version(), "preset_dtype": choose_cpu_dtype()},
              "generation": [], "notebooks": {}}
    report["machine"]["read_bandwidth_gb_s"] = bandwidth = measure_bandwidth()
    print(f"read bandwidth (1 thread): {bandwidth} GB/s")
    rows = [measure_generation(dtype, batch_size) for dtype in ("float32", "bfloat16") for batch_size in (1, 8)]
    rows += [row for threads in (1, 2) if (row := measure_llamacpp(threads))]
    for row in rows:
        if "error" in row:
            report["generation"].append(row)
            print(f"{row['engine']:<12} threads {row['threads']}: failed ({row['error']})")
            continue
        row = add_bound(row, bandwidth, row["weight_bytes"])
        report["generation"].append(row)
        print(f"{row['engine']:<12} {row['dtype']:<11} threads {row['threads']} batch {row['batch_size']}: "
              f"{row['tokens_per_second']:6.1f} tok/s, {row['share_of_bound']:.0%} of the bandwidth bound")
    if not args.skip_notebooks:
        os.environ[DATASET_ENV] = str(ROOT / "artifacts" / "benchmark-dataset")
        paths = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) + [ROOT / "solutions" / "preference_dpo_dataset.ipynb"]
        for path in paths:
            report["notebooks"][str(path.relative_to(ROOT))] = seconds = time_notebook(path)
            print(f"{path.relative_to(ROOT)}: {seconds} s")
        course = [seconds for name, seconds in report["notebooks"].items() if name != TRAINING_NOTEBOOK]
        report["course_seconds"] = round(sum(course), 1)  # notebooks 1-4 + the solution
        report["all_notebooks_seconds"] = round(sum(report["notebooks"].values()), 1)  # + notebook 5 (training)
        solution = report["notebooks"]["solutions/preference_dpo_dataset.ipynb"]
        report["dataset_seconds_per_prompt"] = round(solution / len(EXERCISE_INSTRUCTIONS), 1)
        print(f"course (notebooks 1-4 + solution): {report['course_seconds']} s; with notebook 5: {report['all_notebooks_seconds']} s")
    peak = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    report["peak_memory_mb"] = round(peak / 1024)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0
