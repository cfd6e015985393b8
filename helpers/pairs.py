"""Preference pairs: pick a chosen and a rejected completion per row from the judge's ratings."""

from __future__ import annotations

import math
import random
from numbers import Real

POLICIES = ("best-worst", "best-random-lower")
TIE_MODES = ("drop",)
REASON_LABELS = {  # drop reasons, in the order they are checked
    "invalid_ratings": "điểm không hợp lệ",
    "too_few_completions": "ít hơn 2 câu trả lời không rỗng",
    "tie": "hoà điểm",
    "identical_texts": "chosen và rejected giống hệt nhau",
    "below_margin": "chênh lệch điểm dưới ngưỡng",
}
REASONS = tuple(REASON_LABELS)
MIN_RATING, MAX_RATING = 1, 5
DEFAULT_SEED = 42


def is_valid_rating(value) -> bool:
    """Tell whether ``value`` is a real number (not bool, not NaN) between 1 and 5 inclusive."""
    # numbers.Real also accepts numpy ints and floats, which datasets/pandas may hand back.
    if isinstance(value, bool) or not isinstance(value, Real) or math.isnan(value):
        return False
    return MIN_RATING <= value <= MAX_RATING


def is_empty(text) -> bool:
    """Tell whether a completion is missing, not a string, or only whitespace."""
    return not isinstance(text, str) or not text.strip()


def check_options(policy: str, ties: str) -> None:
    """Raise ValueError (in Vietnamese) if ``policy`` or ``ties`` is not a known option."""
    if policy not in POLICIES:
        raise ValueError(f"Chiến lược `{policy}` không tồn tại. Chọn một trong: {', '.join(POLICIES)}.")
    if ties not in TIE_MODES:
        raise ValueError(f"Cách xử lý hoà `{ties}` không tồn tại. Chọn một trong: {', '.join(TIE_MODES)}.")


def pick_pair(
    row: dict,
    policy: str = "best-worst",
    min_margin: float = 0.0,
    rng: random.Random | None = None,
    *,
    ties: str = "drop",
    instruction_column: str = "instruction",
    generations_column: str = "generations",
    ratings_column: str = "ratings",
    models_column: str = "generation_models",
) -> dict | str:
    """Return the pair picked from one row, or the reason (one of REASONS) why the row is dropped."""
    # Hand-written: trl and datasets have no "ratings -> chosen/rejected" step; it is the lesson itself.
    check_options(policy, ties)
    rng = rng if rng is not None else random.Random(DEFAULT_SEED)
    generations = row.get(generations_column)
    generations = generations if isinstance(generations, list) else []
    ratings = row.get(ratings_column)
    if not isinstance(ratings, list) or len(ratings) != len(generations) or not all(map(is_valid_rating, ratings)):
        return "invalid_ratings"
    candidates = [i for i, text in enumerate(generations) if not is_empty(text)]
    if len(candidates) < 2:
        return "too_few_completions"
    best = max(ratings[i] for i in candidates)
    if all(ratings[i] == best for i in candidates):  # ties="drop": nothing to prefer
        return "tie"
    # Ties for the best (or the worst) are broken by order: the first such completion wins.
    chosen = next(i for i in candidates if ratings[i] == best)
    if policy == "best-worst":
        worst = min(ratings[i] for i in candidates)
        rejected = next(i for i in candidates if ratings[i] == worst)
    else:  # best-random-lower, as in binarized UltraFeedback
        rejected = rng.choice([i for i in candidates if ratings[i] < best])
    if generations[chosen] == generations[rejected]:  # checked before the margin: a data defect
        return "identical_texts"
    if ratings[chosen] - ratings[rejected] < min_margin:
        return "below_margin"
    models = row.get(models_column)
    models = models if isinstance(models, list) and len(models) == len(generations) else [None] * len(generations)
    return {
        "prompt": row[instruction_column],
        "chosen": generations[chosen],
        "rejected": generations[rejected],
        "score_chosen": float(ratings[chosen]),
        "score_rejected": float(ratings[rejected]),
        "chosen_model": models[chosen],
        "rejected_model": models[rejected],
    }


def pick_pairs(
    rows: list[dict],
    policy: str = "best-worst",
    min_margin: float = 0.0,
    seed: int = DEFAULT_SEED,
    *,
    ties: str = "drop",
    instruction_column: str = "instruction",
    generations_column: str = "generations",
    ratings_column: str = "ratings",
    models_column: str = "generation_models",
) -> tuple[list[dict], dict]:
    """Return the pairs picked from ``rows`` and a report of kept and dropped rows."""
    check_options(policy, ties)
    rng = random.Random(seed)  # one generator for the whole run: same seed, same pairs
    columns = {"instruction_column": instruction_column, "generations_column": generations_column}
    columns.update(ratings_column=ratings_column, models_column=models_column)
    rows = list(rows)
    pairs, dropped, empty = [], dict.fromkeys(REASONS, 0), 0
    for row in rows:
        generations = row.get(generations_column)
        # Every empty completion is counted, whatever happens to its row.
        empty += sum(is_empty(text) for text in generations) if isinstance(generations, list) else 0
        result = pick_pair(row, policy, min_margin, rng, ties=ties, **columns)
        if isinstance(result, str):
            dropped[result] += 1
        else:
            pairs.append(result)
    report = {"rows": len(rows), "kept": len(pairs), "dropped": dropped, "empty_completions": empty}
    return pairs, report


def describe_report(report: dict) -> str:
    """Return a short Vietnamese summary of a pick_pairs report."""
    text = f"Giữ {report['kept']}/{report['rows']} hàng."
    reasons = sorted((r for r in REASONS if report["dropped"].get(r)), key=lambda r: -report["dropped"][r])
    if reasons:
        text += " Bỏ: " + ", ".join(f"{report['dropped'][r]} hàng {REASON_LABELS[r]}" for r in reasons) + "."
    else:
        text += " Không bỏ hàng nào."
    if report.get("empty_completions"):
        text += f" Đã loại {report['empty_completions']} câu trả lời rỗng."
    return text


def sweep_margins(rows: list[dict], margins: list[float], policy: str = "best-random-lower", seed: int = DEFAULT_SEED) -> list[dict]:
    """Return, for each minimum margin, how many rows survive and how many are dropped for each reason."""
    reports = [pick_pairs(rows, policy=policy, min_margin=margin, seed=seed)[1] for margin in margins]
    reasons = [r for r in REASONS if any(report["dropped"][r] for report in reports)]
    return [
        {"min_margin": margin, "kept": report["kept"], **{r: report["dropped"][r] for r in reasons}}
        for margin, report in zip(margins, reports)
    ]
