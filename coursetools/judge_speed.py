"""The judge's speed, a step of `benchmark`: one ~600-token prompt scored, plain transformers and the kit's path, per dtype."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from unittest import mock

from helpers.memory import read_peak_memory_mb

# An answer long enough that UltraFeedback's one-text prompt is about 600 tokens, as the measurement was.
LONG_ANSWER = " ".join(["Synthetic data is data that a program generates instead of collecting it from the world."] * 12)
INSTRUCTION = "What is synthetic data, and why do people use it to train language models?"


def build_long_prompt(judge, tokenizer) -> str:
    """Return UltraFeedback's one-text prompt with the long answer, up to the rating (helpers.judge's own format)."""
    from helpers.judge import RATING_CUE

    chat = judge.format_input({"instruction": INSTRUCTION, "generations": [LONG_ANSWER]})
    return tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) + RATING_CUE


def load_plain(folder: str, dtype: str):
    """Load a model and tokenizer as transformers does by default (sdpa attention, no kit speed-ups)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    return AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, dtype)).eval(), AutoTokenizer.from_pretrained(folder)


def measure_scoring(judge_name: str, dtype: str, path: str) -> dict:
    """Time one long prompt scored from the rating tokens' probabilities (``dtype``: the CPU's, as KIT_DTYPE), "plain" or "kit"."""
    import torch

    from helpers.judge import build_judge, score_prompts
    from helpers.presets import DTYPE_ENV

    os.environ[DTYPE_ENV] = dtype  # as KIT_DTYPE would set it: the kit's path chooses its weights from it
    judge = build_judge(structured=False, model=judge_name)
    weights = judge.llm.torch_dtype if path == "kit" else dtype
    start = time.perf_counter()
    if path == "kit":  # the kit's TransformersLLM: threads, bf16 weights, FastLinear or float32 products, attention
        judge.load()
        model, tokenizer = judge.llm._pipeline.model, judge.llm._pipeline.tokenizer
    else:
        torch.set_num_threads(judge.llm.cpu_threads if isinstance(judge.llm.cpu_threads, int) else _kernel_threads())
        model, tokenizer = load_plain(judge.llm.model, dtype)
        with mock.patch.object(type(judge.llm), "load", lambda llm: None):  # the task's template, not the kit's model
            judge.load()
    load_seconds = time.perf_counter() - start
    prompt = build_long_prompt(judge, tokenizer)
    score_prompts(model, tokenizer, ["Rate: "])  # warm-up, not timed
    start = time.perf_counter()
    score_prompts(model, tokenizer, [prompt])
    seconds = time.perf_counter() - start
    row = {"judge": judge_name, "dtype": dtype, "weights": weights, "path": path, "threads": torch.get_num_threads(),
           "prompt_tokens": len(tokenizer(prompt, add_special_tokens=False).input_ids),
           "load_seconds": round(load_seconds, 1), "score_seconds": round(seconds, 2),
           "peak_memory_mb": read_peak_memory_mb()}
    return row


def _kernel_threads() -> int:
    """Return the kernel's thread count, as the kit's path chooses it (every physical core)."""
    from helpers.threads import choose_cpu_threads

    return choose_cpu_threads("auto") or 1


def measure_judge_rows(dtypes: list[str], judge_name: str = "qwen-1.5b", log_prefix: str = "") -> list[dict]:
    """Return the scoring rows for every dtype and both paths (plain transformers first), each in a process of its own."""
    # A process per row: its peak memory is that row's alone, and one row's threads or dtype cannot leak into the next.
    rows = []
    for dtype in dtypes:
        for path in ("plain", "kit"):
            child = subprocess.run([sys.executable, "-m", "coursetools.judge_speed", judge_name, dtype, path],
                                   stdout=subprocess.PIPE, text=True)
            lines = child.stdout.strip().splitlines()
            rows.append(json.loads(lines[-1]) if child.returncode == 0 and lines else
                        {"judge": judge_name, "dtype": dtype, "path": path, "error": f"exit code {child.returncode}"})
            print(f"{log_prefix}{describe_judge_row(rows[-1])}", file=sys.stderr, flush=True)
    return rows


def describe_judge_row(row: dict) -> str:
    """Return one scoring row as a line of text."""
    if "error" in row:
        return f"judge {row['judge']} {row['dtype']} {row['path']}: failed ({row['error']})"
    return (f"judge {row['judge']} {row['dtype']:<9} ({row['weights']} weights) {row['path']:<5} threads {row['threads']}: {row['prompt_tokens']} "
            f"tokens scored in {row['score_seconds']} s (load {row['load_seconds']} s, peak {row['peak_memory_mb']} MB)")


if __name__ == "__main__":  # one row, as measure_judge_rows runs it: JUDGE DTYPE PATH
    print(json.dumps(measure_scoring(*sys.argv[1:4])))
