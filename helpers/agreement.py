"""Several judges (or prompts) on the same rows: average their ratings and measure how much they agree."""

from __future__ import annotations

from statistics import mean


def average_ratings(*judgements: list[dict]) -> list[dict]:
    """Return the rows of the first judgement with ratings averaged over all judgements (None if any is missing)."""
    averaged = []
    for rows in zip(*judgements):
        per_completion = zip(*(row["ratings"] for row in rows))
        ratings = [None if None in values else round(mean(values), 2) for values in per_completion]
        averaged.append({**rows[0], "ratings": ratings})
    return averaged


def best_index(ratings: list) -> int | None:
    """Return the index of the single best rating, or None on a tie for the best or a missing rating."""
    if not ratings or None in ratings:
        return None
    best = max(ratings)
    return ratings.index(best) if ratings.count(best) == 1 else None


def measure_agreement(first: list[dict], second: list[dict]) -> dict:
    """Return how often two judgements pick the same best completion, and their mean absolute rating gap."""
    same = decided = 0
    gaps = []
    for a, b in zip(first, second):
        pick_a, pick_b = best_index(a["ratings"]), best_index(b["ratings"])
        if pick_a is not None and pick_b is not None:
            decided += 1
            same += pick_a == pick_b
        gaps += [abs(x - y) for x, y in zip(a["ratings"], b["ratings"]) if x is not None and y is not None]
    return {
        "rows": len(first),
        "both_decided": decided,
        "same_best": round(same / decided, 2) if decided else None,
        "mean_abs_gap": round(mean(gaps), 2) if gaps else None,
    }
