"""Judge sanity check: pairs whose better answer is known, rated in both orders."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

# Twelve pairs with a factual error in the bad answer, written before any judge rated them (03 and judge-check use them).
KNOWN_PAIRS = Path(__file__).resolve().parent.parent / "notebooks" / "data" / "known_pairs.jsonl"
KEYS = ("instruction", "good", "bad")


def break_answer(answer: str, seed: int = 0) -> str:
    """Return a deliberately broken copy of an answer: the same words in a shuffled order."""
    words = answer.split()
    rng = random.Random(seed)
    broken = words[:]
    for _ in range(10):  # a shuffle can, rarely, give back the original order
        rng.shuffle(broken)
        if broken != words or len(words) < 2:
            break
    return " ".join(broken)


CORRUPTIONS = ("shuffled", "other-answer")


def build_sanity_rows(examples: list[dict], corruption: str = "shuffled") -> list[dict]:
    """Return two rows per example (good first, then bad first), each knowing where the good answer is.

    The bad answer is the example's own ``bad`` if given (such rows are labelled "given"), else made by ``corruption``:
    "shuffled" (the good answer's words in another order) or "other-answer" (the good answer of the next example, a
    fluent reply to another question).
    """
    if corruption not in CORRUPTIONS:
        raise ValueError(f"corruption phải là một trong {CORRUPTIONS}, không phải {corruption!r}.")
    if corruption == "other-answer" and len(examples) < 2 and not all(example.get("bad") for example in examples):
        raise ValueError("corruption='other-answer' cần ít nhất hai ví dụ (câu hỏng là câu trả lời của ví dụ kế tiếp).")
    rows = []
    for number, example in enumerate(examples):
        good, kind = example["good"], corruption
        if example.get("bad"):
            bad, kind = example["bad"], "given"
        elif corruption == "shuffled":
            bad = break_answer(good, seed=number)
        else:
            bad = examples[(number + 1) % len(examples)]["good"]
        if bad.strip() == good.strip():
            raise ValueError(f"Ví dụ {number + 1}: câu hỏng trùng với câu đúng ({good!r}), nên không kiểm tra được gì.")
        for good_index, generations in ((0, [good, bad]), (1, [bad, good])):
            rows.append({"instruction": example["instruction"], "generations": generations, "good_index": good_index,
                         "corruption": kind})
    return rows


def score_judge(rated_rows: list[dict], scored_alone: bool = False) -> dict:
    """Return the judge's accuracy, ties, invalid ratings, first-position wins and its most repeated ratings.

    ``scored_alone``: each text was rated without seeing the other (token probabilities), so the order of the
    two texts cannot sway it and ``first_position_wins`` is not reported (it would be 0.5 by construction).
    """
    correct = ties = invalid = first_wins = decisive = 0
    for row in rated_rows:
        ratings = row.get("ratings") or []
        if len(ratings) != 2 or any(r is None for r in ratings):
            invalid += 1
            continue
        good, bad = ratings[row["good_index"]], ratings[1 - row["good_index"]]
        if good == bad:
            ties += 1
            continue
        decisive += 1
        correct += good > bad
        first_wins += ratings[0] > ratings[1]
    total = len(rated_rows)
    # A judge that writes the same ratings whatever the texts (the 135M judge's "[1, 2]") answers by rote; ratings
    # that never repeat say nothing, so only a set given at least twice is reported.
    repeated = [(ratings, count) for ratings, count in
                Counter(tuple(row.get("ratings") or ()) for row in rated_rows).most_common(1) if count > 1]
    return {
        "judgements": total,
        "accuracy": round(correct / total, 2) if total else 0.0,
        "ties": ties,
        "invalid": invalid,
        # Share of decisive judgements won by whichever text came first: 0.5 when the order does not sway the judge.
        "first_position_wins": round(first_wins / decisive, 2) if decisive and not scored_alone else None,
        "same_ratings": f"{list(repeated[0][0])} × {repeated[0][1]}" if repeated else None,
    }


class PairsError(ValueError):
    """A line of the pairs file that cannot be a known pair; the message names the line."""


def read_known_pairs(path: Path = KNOWN_PAIRS) -> list[dict]:
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
