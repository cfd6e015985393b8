"""Test a judge on pairs whose better answer you know: every pair rated in both orders, accuracy and ties printed.

Usage: python -m coursetools judge-check PAIRS.jsonl [--judge qwen-1.5b] [--method probs|json|json-single]
                                          [--preset NAME] [--json]
PAIRS.jsonl holds one JSON object per line: {"instruction": ..., "good": ..., "bad": ...}. Each pair is rated twice,
good answer first and bad answer first, so that a judge that favours a position is seen as such. --json prints one
JSON object (the summary and every judgement) as the last line of output. --preset NAME uses that preset's judge
instead of --judge.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from helpers.sanity import PairsError, read_known_pairs

METHODS = {  # method -> what it is, for the printed header
    "probs": "xác suất token điểm, từng phần hoàn thành riêng (không sinh chữ)",
    "json": "UltraFeedback JSON, hai phần hoàn thành trong một lời nhắc",
    "json-single": "UltraFeedback JSON, từng phần hoàn thành riêng",
}
DEFAULT_JUDGE = "qwen-1.5b"


@dataclass
class CheckResult:
    """What one judge-check run found: the summary of score_judge, the seconds spent, every judgement."""

    judge: str
    method: str
    summary: dict
    seconds: float
    judgements: list[dict]


def rate_known_pairs(pairs: list[dict], judge: str = DEFAULT_JUDGE, method: str = "probs",
                     preset: str | None = None) -> CheckResult:
    """Rate every pair in both orders with one judge and method; return the summary, the time and the judgements."""
    from helpers.judge import build_judge, rate, rate_each_alone
    from helpers.sanity import build_sanity_rows, score_judge

    rows = build_sanity_rows(pairs)
    model = None if preset else judge
    if method == "probs":
        task = build_judge(preset=preset, model=model, method="probs")
    else:
        task = build_judge(num_completions=2 if method == "json" else 1, preset=preset, model=model, method="json")
    task.load()  # loading is not judging: the seconds below are the judgements' alone
    start = time.perf_counter()
    if method == "probs":  # TokenProbUltraFeedback: its process() scores each text alone, the rubric read once
        rated = rate(task, rows)
    elif method == "json":
        rated = [{**row, **out} for row, out in zip(rows, rate(task, rows))]
    else:
        rated = rate_each_alone(task, rows)
    seconds = round(time.perf_counter() - start, 1)
    summary = score_judge(rated, scored_alone=method != "json")
    judgements = [{"instruction": row["instruction"], "good_first": row["good_index"] == 0, "ratings": row.get("ratings"),
                   "verdict": judge_verdict(row)} for row in rated]
    return CheckResult(task.llm.model_name, method, summary, seconds, judgements)


def judge_verdict(row: dict) -> str:
    """Return "right" (the good answer rated higher), "wrong", "tie" or "invalid" (a rating missing)."""
    ratings = row.get("ratings") or []
    if len(ratings) != 2 or None in ratings:
        return "invalid"
    good, bad = ratings[row["good_index"]], ratings[1 - row["good_index"]]
    return "tie" if good == bad else "right" if good > bad else "wrong"


def format_result(result: CheckResult) -> str:
    """Return the Vietnamese report: one line per judgement, then the summary."""
    from helpers.display import format_table

    marks = {"right": "đúng", "wrong": "sai", "tie": "hoà", "invalid": "không hợp lệ"}
    table = format_table([{"hướng dẫn": j["instruction"][:40], "thứ tự": "tốt trước" if j["good_first"] else "dở trước",
                           "điểm": j["ratings"], "kết quả": marks[j["verdict"]]} for j in result.judgements])
    s = result.summary
    return "\n".join([
        f"Giám khảo: {result.judge} — {METHODS[result.method]}",
        table,
        f"{s['judgements']} lần chấm: accuracy {s['accuracy']}, hoà {s['ties']}, không hợp lệ {s['invalid']}, "
        f"vị trí đầu thắng {s['first_position_wins'] if s['first_position_wins'] is not None else '—'}, "
        f"{result.seconds} giây",
    ])


def main(argv: list[str] | None = None) -> int:
    """Read the pairs, rate them, print the report (and the JSON line with --json); exit 2 on a bad pairs file."""
    from helpers.presets import OFFLINE_JUDGES

    parser = argparse.ArgumentParser(prog="python -m coursetools judge-check", description=__doc__.splitlines()[0])
    parser.add_argument("pairs", type=Path, help="JSON lines: {\"instruction\", \"good\", \"bad\"}")
    parser.add_argument("--judge", choices=list(OFFLINE_JUDGES), default=DEFAULT_JUDGE)
    parser.add_argument("--method", choices=list(METHODS), default="probs")
    parser.add_argument("--preset", help="use this preset's judge instead of --judge")
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    try:
        pairs = read_known_pairs(args.pairs)
    except PairsError as error:
        print(error, file=sys.stderr)
        return 2
    result = rate_known_pairs(pairs, args.judge, args.method, args.preset)
    print(format_result(result), flush=True)
    if args.json:
        print(json.dumps({"judge": result.judge, "method": result.method, **result.summary, "seconds": result.seconds,
                          "judgements_list": result.judgements}, ensure_ascii=False))
    return 0
