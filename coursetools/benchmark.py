"""Benchmark the offline preset on this machine and on an emulated laptop CPU: generation speed, notebook times, memory.

Usage: python -m coursetools benchmark [--skip-notebooks] [--profiles this-cpu,laptop] [--out artifacts/benchmark.json]
(or: make benchmark). Prints a table and writes the same figures as JSON. Run it on an otherwise idle machine: it
measures wall-clock time, and anything else running on the cores changes the figures.

Each profile runs in its own process, because torch reads the CPU settings when it is imported: "this-cpu" as the
machine is, "laptop" with the laptop environment of `make test-laptop` (float32, torch/oneDNN/MKL capped at AVX2),
so every figure of the two columns is measured on the same machine.

Generation speed is compared with the memory-bandwidth bound: generating one token reads every weight
once, so one sequence cannot go faster than (read bandwidth) / (weight bytes) steps per second. The
bandwidth is measured here with as many threads as the generation it bounds (1 as in a pipeline's step process,
all cores as in a notebook's kernel). If llama-cpp-python is installed (`make llamacpp`), the same prompts are also
timed with llama.cpp on the same GGUF file, for comparison.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from coursetools.judge_check import DEFAULT_JUDGE as JUDGE  # noqa: E402  (after the HF_HUB_OFFLINE default)
from coursetools.judge_speed import measure_judge_rows  # noqa: E402
from helpers.course import EXERCISE_INSTRUCTIONS  # noqa: E402
from helpers.llm import forget_loaded_models  # noqa: E402
from helpers.memory import read_peak_memory_mb  # noqa: E402
from helpers.presets import OFFLINE_JUDGES  # noqa: E402
from helpers.storage import DATASET_ENV  # noqa: E402
from helpers.threads import THREADS_ENV, count_cores, use_threads  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PROMPTS = [*EXERCISE_INSTRUCTIONS, "Name three primary colors.", "What does a thermometer measure?"]
NEW_TOKENS = 128
# The "whole course" of the speed target: notebooks 1-4 and the solution; notebook 5 (training) is timed apart.
TRAINING_NOTEBOOK = "notebooks/05_train_dpo.ipynb"
THIS_CPU, LAPTOP = "this-cpu", "laptop"
PROFILES = (THIS_CPU, LAPTOP)


def measure_bandwidth(threads: int = 1) -> float:
    """Return the best of five reads (a sum) of a 1 GiB float32 tensor with ``threads`` torch threads, in GB/s."""
    import torch

    data = torch.ones(2**28)  # 1 GiB
    best = float("inf")
    with use_threads(threads):
        for _ in range(5):
            start = time.perf_counter()
            data.sum()
            best = min(best, time.perf_counter() - start)
    return round(data.numel() * data.element_size() / best / 1e9, 1)


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


def measure_generation(dtype: str | None, batch_size: int, threads: int, role="generator_a") -> dict:
    """Greedy-generate NEW_TOKENS for each prompt with an offline role (or Role); return tokens per second."""
    from helpers.presets import load_llm

    llm = load_llm(role, "offline", max_new_tokens=NEW_TOKENS)
    llm.torch_dtype = dtype or llm.torch_dtype  # None: the weights the preset chooses (the judges keep bf16)
    llm.batch_size, llm.cpu_threads = batch_size, threads
    llm.load()
    import torch

    threads = torch.get_num_threads()  # what load() set: the row is labelled with what ran
    prompts = [[{"role": "user", "content": p}] for p in PROMPTS[: 4 if batch_size == 1 else 8]]
    llm.generate_outputs(prompts[:1], max_new_tokens=4, do_sample=False, temperature=1.0)  # warm-up, not timed
    start = time.perf_counter()
    outputs = llm.generate_outputs(prompts, max_new_tokens=NEW_TOKENS, do_sample=False, temperature=1.0)
    seconds = time.perf_counter() - start
    tokens = sum(o["statistics"]["output_tokens"][0] for o in outputs)
    dtype = llm.torch_dtype + (f" ({llm.compute_dtype} products)" if llm.compute_dtype else "")
    return {"engine": "transformers", "model": llm.model_name, "dtype": dtype, "threads": threads, "batch_size": batch_size, "tokens": tokens,
            "seconds": round(seconds, 1), "tokens_per_second": round(tokens / seconds, 1),
            "weight_bytes": sum(p.numel() * p.element_size() for p in llm._pipeline.model.parameters())}


def time_notebook(path: Path) -> tuple[float, int | None]:
    """Execute one notebook headless (outputs discarded); return its wall-clock seconds and its kernel's peak memory in MB."""
    from coursetools.notebooks import execute_notebook

    peaks = []  # read after each cell, while the kernel lives: the kernel process alone (not its pipelines' step processes)
    start = time.perf_counter()
    execute_notebook(path, after_each_cell=lambda client: peaks.append(read_peak_memory_mb(client.km.provisioner.pid)))
    return round(time.perf_counter() - start, 1), max((mb for mb in peaks if mb is not None), default=None)


def run_profile(profile: str, bandwidth: dict, skip_notebooks: bool) -> dict:
    """Measure one profile in this process (its environment is already set): generation rows, notebook times, judge rows."""
    # The thread counts are the bandwidth's keys (measured once, by the parent): each row has its bound.
    from helpers.presets import choose_cpu_dtype

    dtype = choose_cpu_dtype()
    # On the machine as it is, the other dtype too: the preset's choice is measured, not assumed from a CPU flag.
    dtypes = [dtype, *(["float32" if dtype == "bfloat16" else "bfloat16"] if profile == THIS_CPU else [])]
    report = {"preset_dtype": dtype, "generation": [], "notebooks": {}, "kernel_peak_mb": {}, "judge_generation": []}
    for row_dtype in dtypes:
        for threads, gb_s in bandwidth.items():
            for batch_size in (1, 8):
                row = measure_generation(row_dtype, batch_size, int(threads))
                report["generation"].append(add_bound(row, gb_s, row["weight_bytes"]))
                print(f"[{profile}] {describe_row(report['generation'][-1])}", file=sys.stderr, flush=True)
    threads, gb_s = max(bandwidth.items(), key=lambda item: int(item[0]))
    for batch_size in (1, 8):
        row = measure_generation(None, batch_size, int(threads), OFFLINE_JUDGES[JUDGE])
        report["judge_generation"].append(add_bound(row, gb_s, row["weight_bytes"]))
        print(f"[{profile}] judge {describe_row(report['judge_generation'][-1])}", file=sys.stderr, flush=True)
        forget_loaded_models()
    if not skip_notebooks:
        os.environ[DATASET_ENV] = str(ROOT / "artifacts" / f"benchmark-dataset-{profile}")
        # Notebook 5 trains on the solution's dataset (else it builds one first): it runs after the solution.
        paths = [path for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")) if path != ROOT / TRAINING_NOTEBOOK]
        paths += [ROOT / "solutions" / "preference_dpo_dataset.ipynb", ROOT / TRAINING_NOTEBOOK]
        for path in paths:
            name = str(path.relative_to(ROOT))
            report["notebooks"][name], report["kernel_peak_mb"][name] = seconds, peak = time_notebook(path)
            print(f"[{profile}] {name}: {seconds} s, kernel peak {peak} MB", file=sys.stderr, flush=True)
        course = [seconds for name, seconds in report["notebooks"].items() if name != TRAINING_NOTEBOOK]
        report["course_seconds"] = round(sum(course), 1)  # notebooks 1-4 + the solution
        report["all_notebooks_seconds"] = round(sum(report["notebooks"].values()), 1)  # + notebook 5 (training)
        solution = report["notebooks"]["solutions/preference_dpo_dataset.ipynb"]
        report["dataset_seconds_per_prompt"] = round(solution / len(EXERCISE_INSTRUCTIONS), 1)
    # Each kernel's own peak (time_notebook), not RUSAGE_CHILDREN: a kernel started by this process, which held the
    # generation rows' models, inherits this process's size in ru_maxrss (measured: a child
    # that peaked at 206 MB read 965 MB under a parent holding 1 GB; the last run's "largest kernel" was this process's 5866 MB).
    largest_kernel = max((mb for mb in report["kernel_peak_mb"].values() if mb is not None), default=None)
    # The judge (the 1.5B): one long prompt scored, plain transformers and the kit's path, in every dtype measured, each
    # in a child process of its own (plain float32 peaks near 11 GB).
    report["judge_scoring"] = measure_judge_rows(dtypes, log_prefix=f"[{profile}] ")
    report["peak_memory_mb"] = {"largest_kernel": largest_kernel,
                                "benchmark_process": read_peak_memory_mb()}
    return report


def describe_row(row: dict) -> str:
    """Return one generation row as a line of text."""
    if "error" in row:
        return f"{row['engine']:<12} threads {row['threads']}: failed ({row['error']})"
    return (f"{row['engine']:<12} {row['dtype']:<11} threads {row['threads']} batch {row['batch_size']}: "
            f"{row['tokens_per_second']:6.1f} tok/s, {row['share_of_bound']:.0%} of the bandwidth bound")


def parse_environment(text: str) -> dict:
    """Return the variables of ``text`` written as ``NAME=value NAME=value`` (the Makefile's LAPTOP_ENV)."""
    pairs = [item.split("=", 1) for item in text.split()]
    if not pairs or any(len(pair) != 2 or not pair[0] for pair in pairs):
        raise ValueError(f"--laptop-env expects NAME=value pairs separated by spaces, got {text!r}")
    return dict(pairs)


def measure_profile(profile: str, environment: dict, bandwidth: dict, skip_notebooks: bool) -> dict:
    """Run one profile in a child process with ``environment`` added; return its report, or {"error": ...} if it failed."""
    command = [sys.executable, "-m", "coursetools", "benchmark", "--profile-child", profile,
               "--bandwidth", json.dumps(bandwidth), *(["--skip-notebooks"] if skip_notebooks else [])]
    # Thread settings inherited from this shell would override the rows' thread counts and the kernels' threads.
    inherited = {key: value for key, value in os.environ.items() if key not in (THREADS_ENV, "OMP_NUM_THREADS")}
    child = subprocess.run(command, env={**inherited, **environment}, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        return {"error": f"the {profile} profile failed (exit code {child.returncode}); its log is above"}
    return json.loads(lines[-1])


def format_table(report: dict) -> str:
    """Return the profiles side by side as a Markdown table (the README's speed table)."""
    profiles = [p for p in report["profiles"] if "error" not in report["profiles"][p]]
    lines = ["| | " + " | ".join(profiles) + " |", "|---" * (len(profiles) + 1) + "|"]

    def add(label: str, values: list) -> None:
        lines.append(f"| {label} | " + " | ".join("—" if v is None else str(v) for v in values) + " |")

    add("preset dtype", [report["profiles"][p]["preset_dtype"] for p in profiles])
    for threads, gb_s in report["machine"]["read_bandwidth_gb_s"].items():
        add(f"read bandwidth, {threads} thread(s)", [f"{gb_s} GB/s"] * len(profiles))
    keys = sorted({(r["dtype"], r["threads"]) for p in profiles for r in report["profiles"][p]["generation"]})
    for dtype, threads in keys:
        cells = []
        for p in profiles:
            rows = {r["batch_size"]: r for r in report["profiles"][p]["generation"] if (r["dtype"], r["threads"]) == (dtype, threads)}
            cells.append(" / ".join(f"{rows[b]['tokens_per_second']} ({rows[b]['share_of_bound']:.0%})" for b in (1, 8))
                         if rows else None)
        add(f"{dtype}, {threads} thread(s): tok/s at batch 1 / 8 (share of the bound)", cells)
    for dtype, path in sorted({(r["dtype"], r["path"]) for p in profiles for r in report["profiles"][p].get("judge_scoring", [])}):
        cells = [next((f"{r['score_seconds']} s ({r['prompt_tokens']} tokens, {r['peak_memory_mb']} MB)" for r in
                       report["profiles"][p].get("judge_scoring", []) if (r["dtype"], r["path"]) == (dtype, path)
                       and "error" not in r), None) for p in profiles]
        add(f"judge {JUDGE}, {dtype}, {path}: one text scored (prompt, peak memory)", cells)
    judge_rows = [{r["batch_size"]: r for r in report["profiles"][p].get("judge_generation", [])} for p in profiles]
    add(f"judge {JUDGE} decoding, the kit's weights and products: tok/s at batch 1 / 8",
        [" / ".join(str(rows[b]["tokens_per_second"]) for b in (1, 8)) if len(rows) == 2 else None for rows in judge_rows])
    names = sorted({n for p in profiles for n in report["profiles"][p]["notebooks"]})
    for name in names:
        cells = []
        for p in profiles:
            seconds, peak = report["profiles"][p]["notebooks"].get(name), report["profiles"][p].get("kernel_peak_mb", {}).get(name)
            cells.append(None if seconds is None else f"{seconds} s" + (f" ({peak} MB)" if peak is not None else ""))
        add(name + " (kernel peak memory)", cells)
    if names:
        add("**course (notebooks 1-4 + solution)**", [f"**{report['profiles'][p]['course_seconds']} s**" for p in profiles])
        add("all notebooks (+ notebook 5)", [f"{report['profiles'][p]['all_notebooks_seconds']} s" for p in profiles])
        add("solution, per instruction", [f"{report['profiles'][p]['dataset_seconds_per_prompt']} s" for p in profiles])
    kernels = [report["profiles"][p]["peak_memory_mb"]["largest_kernel"] for p in profiles]
    add("peak memory of the largest kernel", [f"{mb} MB" if mb is not None else None for mb in kernels])
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write the JSON report."""
    parser = argparse.ArgumentParser(prog="python -m coursetools benchmark", description=__doc__.splitlines()[0])
    parser.add_argument("--skip-notebooks", action="store_true")
    parser.add_argument("--profiles", default=",".join(PROFILES), help="comma-separated: " + ", ".join(PROFILES))
    parser.add_argument("--laptop-env", default="", help="the laptop profile's variables, NAME=value NAME=value")
    parser.add_argument("--out", type=Path, default=ROOT / "artifacts" / "benchmark.json")
    parser.add_argument("--llamacpp-child", type=int, metavar="THREADS", help=argparse.SUPPRESS)
    parser.add_argument("--profile-child", choices=PROFILES, help=argparse.SUPPRESS)
    parser.add_argument("--bandwidth", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.llamacpp_child:
        llamacpp_child(args.llamacpp_child)
        return 0
    if args.profile_child:
        print(json.dumps(run_profile(args.profile_child, json.loads(args.bandwidth), args.skip_notebooks)))
        return 0
    profiles = [p.strip() for p in args.profiles.split(",") if p.strip()]
    unknown = [p for p in profiles if p not in PROFILES]
    if unknown or not profiles:
        parser.error(f"unknown profile(s) {unknown}; choose among {', '.join(PROFILES)}")
    environments = {THIS_CPU: {}}
    if LAPTOP in profiles:
        if not args.laptop_env:
            parser.error("the laptop profile needs --laptop-env (`make benchmark` passes the Makefile's LAPTOP_ENV)")
        environments[LAPTOP] = parse_environment(args.laptop_env)
    report = {"machine": {"cpus": count_cores(), "processor": platform.processor() or platform.machine(),
                          "python": platform.python_version(), "read_bandwidth_gb_s": {}},
              "profiles": {}, "llamacpp": []}
    for threads in sorted({1, count_cores()}):
        report["machine"]["read_bandwidth_gb_s"][str(threads)] = measure_bandwidth(threads)
    print(f"read bandwidth: {report['machine']['read_bandwidth_gb_s']} GB/s by threads", file=sys.stderr, flush=True)
    for profile in profiles:
        report["profiles"][profile] = result = measure_profile(profile, environments[profile],
                                                               report["machine"]["read_bandwidth_gb_s"], args.skip_notebooks)
        if "error" in result:  # the other profile's figures are still written
            print(result["error"], file=sys.stderr, flush=True)
    for row in (row for threads in report["machine"]["read_bandwidth_gb_s"] if (row := measure_llamacpp(int(threads)))):
        if "error" not in row:
            row = add_bound(row, report["machine"]["read_bandwidth_gb_s"][str(row["threads"])], row["weight_bytes"])
        report["llamacpp"].append(row)
        print(describe_row(row), file=sys.stderr, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(format_table(report))
    return 1 if any("error" in result for result in report["profiles"].values()) else 0
