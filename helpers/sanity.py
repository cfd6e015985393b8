"""Judge sanity check: pairs whose better answer is known, rated in both orders."""

from __future__ import annotations

import random
from collections import Counter


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
