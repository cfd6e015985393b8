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

KEYS = ("instruction", "good", "bad")
METHODS = {  # method -> what it is, for the printed header
    "probs": "xác suất token điểm, từng phần hoàn thành riêng (không sinh chữ)",
    "json": "UltraFeedback JSON, hai phần hoàn thành trong một lời nhắc",
    "json-single": "UltraFeedback JSON, từng phần hoàn thành riêng",
}
DEFAULT_JUDGE = "qwen-1.5b"


class PairsError(ValueError):
    """A line of the pairs file that cannot be a known pair; the message names the line."""


def read_known_pairs(path: Path) -> list[dict]:
    """Return the pairs of a JSON-lines file; raise PairsError naming the first bad line and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PairsError(f"Không đọc được {path}: {error}") from error
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}, dòng {number}"
        try:
            pair = json.loads(line)
        except ValueError as error:
            raise PairsError(f"{where}: không phải JSON ({error.msg}).") from error
        if not isinstance(pair, dict):
            raise PairsError(f"{where}: cần một đối tượng JSON {{\"instruction\", \"good\", \"bad\"}}, không phải {type(pair).__name__}.")
        missing = [key for key in KEYS if key not in pair]
        if missing:
            raise PairsError(f"{where}: thiếu khoá {', '.join(missing)} (cần đủ {', '.join(KEYS)}).")
        for key in KEYS:
            if not isinstance(pair[key], str) or not pair[key].strip():
                raise PairsError(f"{where}: `{key}` phải là một chuỗi không rỗng.")
        if pair["good"].strip() == pair["bad"].strip():
            raise PairsError(f"{where}: `good` và `bad` giống nhau, nên cặp này không kiểm tra được gì.")
        pairs.append({key: pair[key] for key in KEYS})
    if not pairs:
        raise PairsError(f"{path}: không có cặp nào (mỗi dòng một đối tượng JSON {{\"instruction\", \"good\", \"bad\"}}).")
    return pairs


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
    from helpers.judge import build_judge, rate, rate_each_alone, score_with_token_probs
    from helpers.sanity import build_sanity_rows, score_judge

    rows = build_sanity_rows(pairs)
    model = None if preset else judge
    if method == "probs":
        task = build_judge(structured=False, preset=preset, model=model)
    else:
        task = build_judge(structured=True, num_completions=2 if method == "json" else 1, preset=preset, model=model)
    task.load()  # loading is not judging: the seconds below are the judgements' alone
    start = time.perf_counter()
    if method == "probs":
        rated = score_with_token_probs(task, rows, share_prefix=True)
    elif method == "json":
        rated = [{**row, **out} for row, out in zip(rows, rate(task, rows))]
    else:
        rated = rate_each_alone(task, rows)
    seconds = round(time.perf_counter() - start, 1)
    summary = score_judge(rated, scored_alone=method != "json")
    judgements = [{"instruction": row["instruction"], "good_first": row["good_index"] == 0, "ratings": row.get("ratings"),
                   "correct": judged_right(row)} for row in rated]
    return CheckResult(task.llm.model_name, method, summary, seconds, judgements)


def judged_right(row: dict) -> bool | None:
    """Tell whether the good answer got the higher rating (None when a rating is missing)."""
    ratings = row.get("ratings") or []
    if len(ratings) != 2 or None in ratings:
        return None
    return ratings[row["good_index"]] > ratings[1 - row["good_index"]]


def format_result(result: CheckResult) -> str:
    """Return the Vietnamese report: one line per judgement, then the summary."""
    from helpers.display import format_table

    marks = {True: "đúng", False: "sai", None: "không hợp lệ"}
    table = format_table([{"hướng dẫn": j["instruction"][:40], "thứ tự": "tốt trước" if j["good_first"] else "dở trước",
                           "điểm": j["ratings"], "kết quả": marks[j["correct"]]} for j in result.judgements])
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
