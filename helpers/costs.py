"""What judging costs: generated tokens, judge calls and seconds, measured on real runs."""

from __future__ import annotations

import time


def count_output_tokens(rated: list[dict]) -> int:
    """Sum the tokens the judge generated, from distilabel's per-row statistics."""
    total = 0
    for row in rated:
        metadata = row.get("distilabel_metadata") or {}
        for key, stats in metadata.items():
            if key.startswith("statistics_"):
                tokens = stats.get("output_tokens", 0)
                total += sum(tokens) if isinstance(tokens, list) else tokens
    return total


def measure_cost(label: str, judge_fn, rows: list[dict], calls: int) -> tuple[dict, list[dict]]:
    """Run ``judge_fn(rows)`` once and return its cost row (label, calls, tokens, seconds) and its output."""
    start = time.perf_counter()
    rated = judge_fn(rows)
    seconds = time.perf_counter() - start
    return {"method": label, "judge_calls": calls, "output_tokens": count_output_tokens(rated), "seconds": round(seconds, 1)}, rated
