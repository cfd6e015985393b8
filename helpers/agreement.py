"""Several judges (or prompts, or the learner) on the same rows: average their ratings and measure how much they agree."""

from __future__ import annotations

from statistics import mean

from helpers.labels import build_label_items, find_foreign, find_label, read_verdict
from helpers.pairs import is_valid_rating


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


VERDICTS = ("first", "second", "tie")
VERDICT_LABELS = {"first": "phần 1 tốt hơn", "second": "phần 2 tốt hơn", "tie": "hoà"}
OTHER_VERDICT_LABELS = {"skip": "bỏ qua", None: "—"}  # a learner's skip or missing label, a judge's missing rating


def judge_verdict(row: dict, positions: tuple[int, int]) -> str | None:
    """Return which of two completions the judge rated higher ("first", "second", "tie"), or None without both ratings."""
    ratings = row.get("ratings") if isinstance(row.get("ratings"), list) else []
    if len(ratings) <= max(positions) or not all(is_valid_rating(ratings[p]) for p in positions):
        return None
    a, b = (ratings[p] for p in positions)
    return "first" if a > b else "second" if b > a else "tie"


def cohen_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Return Cohen's kappa of two raters' categories, or None when it is undefined (no pairs, or chance agreement is 1)."""
    # Written here rather than taken from scikit-learn's cohen_kappa_score: one formula is not worth a ~100 MB dependency.
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    categories = {c for pair in pairs for c in pair}
    expected = sum((sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in categories)
    return None if expected == 1 else round((observed - expected) / (1 - expected), 2)


def compare_with_judge(rows: list[dict], labels: dict, positions: tuple[int, int] = (0, 1)) -> dict:
    """Return how the learner's labels and the judge's ratings agree on the labelled pairs of ``rows``."""
    details, items = [], build_label_items(rows, positions)
    for item in items:
        record = find_label(item, labels)
        details.append({
            "instruction": item.instruction,
            "human": read_verdict(item, record),
            "human_first_shown": None if record is None or record["label"] not in ("A", "B") else record["label"] == "A",
            "judge": judge_verdict(rows[item.row], item.positions),
        })
    human = [d for d in details if d["human"] in VERDICTS]
    both = [(d["human"], d["judge"]) for d in human if d["judge"] in VERDICTS]
    decided = [(h, j) for h, j in both if h != "tie" and j != "tie"]
    confusion = [
        {"người \\ giám khảo": VERDICT_LABELS[h], **{VERDICT_LABELS[j]: sum(p == (h, j) for p in both) for j in VERDICTS}}
        for h in VERDICTS
    ]
    shown_first = [d["human_first_shown"] for d in details if d["human_first_shown"] is not None]
    judge_first = [d["judge"] == "first" for d in details if d["judge"] in ("first", "second")]
    return {
        "pairs": len(details),
        "labelled": len(human),
        "skipped": sum(d["human"] == "skip" for d in details),
        "unlabelled": sum(d["human"] is None for d in details),
        "foreign": len(find_foreign(items, labels)),  # labels of other pairs: left in the file, not used
        "both_decided": len(decided),
        "accuracy": round(sum(h == j for h, j in decided) / len(decided), 2) if decided else None,
        "kappa": cohen_kappa(both),
        "confusion": confusion,
        # The learner saw each pair in a shuffled order; the judge always read positions[0] first.
        "first_position": {
            "human": round(sum(shown_first) / len(shown_first), 2) if shown_first else None,
            "judge": round(sum(judge_first) / len(judge_first), 2) if judge_first else None,
        },
        "details": details,
    }


def describe_agreement(comparison: dict) -> str:
    """Return a short Vietnamese summary of compare_with_judge's result."""
    def show(value):
        return "—" if value is None else value

    lines = [
        f"Đã gán nhãn {comparison['labelled']}/{comparison['pairs']} cặp (bỏ qua {comparison['skipped']}, "
        f"chưa gán {comparison['unlabelled']}).",
        f"Độ chính xác của giám khảo so với bạn, trên {comparison['both_decided']} cặp cả hai đều chọn một bên: "
        f"{show(comparison['accuracy'])}.",
        f"Cohen's kappa (kể cả hoà): {show(comparison['kappa'])}.",
        f"Tỉ lệ chọn vị trí đầu: bạn {show(comparison['first_position']['human'])} (A, thứ tự đã xáo), "
        f"giám khảo {show(comparison['first_position']['judge'])} (phần hoàn thành nó đọc trước).",
    ]
    if comparison.get("foreign"):
        lines.append(f"{comparison['foreign']} nhãn trong tệp thuộc các cặp không có ở đây (lần chạy khác, hàng khác): không dùng.")
    return "\n".join(lines)


def list_verdicts(comparison: dict) -> list[dict]:
    """Return one table row per pair of compare_with_judge's result: the instruction, both verdicts, whether they agree."""
    names = {**VERDICT_LABELS, **OTHER_VERDICT_LABELS}
    return [
        {
            "hướng dẫn": d["instruction"][:45],
            "bạn": names[d["human"]],
            "giám khảo": names[d["judge"]],
            "giống nhau": ("có" if d["human"] == d["judge"] else "không") if d["human"] in VERDICTS and d["judge"] in VERDICTS else "—",
        }
        for d in comparison["details"]
    ]
