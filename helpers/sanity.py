"""Judge sanity check: pairs whose better answer is known, rated in both orders."""

from __future__ import annotations

import random


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


def build_sanity_rows(examples: list[dict]) -> list[dict]:
    """Return two rows per example (good first, then broken first), each knowing where the good answer is."""
    rows = []
    for number, example in enumerate(examples):
        good = example["good"]
        bad = example.get("bad") or break_answer(good, seed=number)
        rows.append({"instruction": example["instruction"], "generations": [good, bad], "good_index": 0})
        rows.append({"instruction": example["instruction"], "generations": [bad, good], "good_index": 1})
    return rows


def score_judge(rated_rows: list[dict]) -> dict:
    """Return the judge's accuracy, ties, invalid ratings and position bias on rated sanity rows."""
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
    return {
        "judgements": total,
        "accuracy": round(correct / total, 2) if total else 0.0,
        "ties": ties,
        "invalid": invalid,
        # Share of decisive judgements won by whichever text came first; 0.5 means no position bias.
        "first_position_wins": round(first_wins / decisive, 2) if decisive else None,
    }
