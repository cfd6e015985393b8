"""Several judges (or prompts, or the learner) on the same rows: average their ratings and measure how much they agree."""

from __future__ import annotations

import textwrap
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
SWAPPED = {"first": "second", "second": "first", "tie": "tie", None: None}


def read_judge_verdict(row: dict, positions: tuple[int, int]) -> str | None:
    """Return which of two completions the judge rated higher ("first", "second", "tie"), or None without both ratings."""
    ratings = row.get("ratings") if isinstance(row.get("ratings"), list) else []
    generations = row.get("generations") if isinstance(row.get("generations"), list) else []
    if len(ratings) != len(generations) or len(ratings) <= max(positions):
        return None
    if not all(is_valid_rating(ratings[p]) for p in positions):
        return None
    a, b = (ratings[p] for p in positions)
    return "first" if a > b else "second" if b > a else "tie"


def swap_completions(rows: list[dict], positions: tuple[int, int] = (0, 1)) -> list[dict]:
    """Return the rows to rate again with the two compared completions (and their models) in the other order."""
    first, second = sorted(positions)
    swapped = []
    for row in rows:
        new = {"instruction": row["instruction"]}
        for key in ("generations", "generation_models"):
            values = list(row.get(key) or [])
            if len(values) > second:
                values[first], values[second] = values[second], values[first]
            new[key] = values
        swapped.append(new)
    return swapped


def measure_kappa(pairs: list[tuple[str, str]]) -> float | None:
    """Return Cohen's kappa of two raters' categories, or None when it is undefined (no pairs, or chance agreement is 1)."""
    # Written here rather than taken from scikit-learn's cohen_kappa_score: one formula is not worth a ~100 MB dependency.
    if not pairs:
        return None
    n = len(pairs)
    observed = sum(a == b for a, b in pairs) / n
    categories = {c for pair in pairs for c in pair}
    expected = sum((sum(a == c for a, _ in pairs) / n) * (sum(b == c for _, b in pairs) / n) for c in categories)
    return None if expected == 1 else round((observed - expected) / (1 - expected), 2)


def share(flags: list[bool]) -> float | None:
    """Return the share of True values, rounded to 2 decimals (None for an empty list)."""
    return round(sum(flags) / len(flags), 2) if flags else None


def compare_with_judge(rows: list[dict], labels: dict, positions: tuple[int, int] = (0, 1), swapped: list[dict] | None = None) -> dict:
    """Return how the learner's labels and the judge's ratings agree on ``rows``; ``swapped``: the judge's rows of swap_completions."""
    details, items = [], build_label_items(rows, positions)
    if swapped is not None and len(swapped) != len(rows):
        raise ValueError(f"`swapped` cần đúng {len(rows)} hàng (một hàng cho mỗi hàng của `rows`), nhận được {len(swapped)}.")
    for item in items:
        record = find_label(item, labels)
        judge = read_judge_verdict(rows[item.row], item.positions)
        again = None if swapped is None else SWAPPED[read_judge_verdict(swapped[item.row], item.positions)]
        details.append({
            "instruction": item.instruction,
            "human": read_verdict(item, record),
            "human_first_shown": None if record is None or record["label"] not in ("A", "B") else record["label"] == "A",
            "judge": judge,
            "judge_swapped": again,  # the judge's verdict with the order swapped, read back in the original order
        })
    human = [d for d in details if d["human"] in VERDICTS]
    both = [(d["human"], d["judge"]) for d in human if d["judge"] in VERDICTS]
    decided = [(h, j) for h, j in both if h != "tie" and j != "tie"]
    confusion = [
        {"người \\ giám khảo": VERDICT_LABELS[h], **{VERDICT_LABELS[j]: sum(p == (h, j) for p in both) for j in VERDICTS}}
        for h in VERDICTS
    ]
    # The learner saw each pair in a shuffled order: a share far from 0.5 is a preference for a side of the screen.
    # The judge always reads positions[0] first, so one order cannot tell its position preference from its taste:
    # only both orders can (a judge that reads the content picks the same text in both, choosing "first" half the time).
    judge_reads_first = None
    if swapped is not None:
        orders = [d["judge"] == "first" for d in details if d["judge"] in ("first", "second")]
        orders += [d["judge_swapped"] == "second" for d in details if d["judge_swapped"] in ("first", "second")]
        judge_reads_first = share(orders)
    pairs_in_both = [d for d in details if d["judge"] in VERDICTS and d["judge_swapped"] in VERDICTS]
    skipped = sum(d["human"] == "skip" for d in details)
    return {
        "pairs": len(details),
        "labelled": len(human) + skipped,  # as the widget counts: skips included
        "decided": len(human),
        "skipped": skipped,
        "unlabelled": sum(d["human"] is None for d in details),
        "foreign": len(find_foreign(items, labels)),  # labels of other pairs: left in the file, not used
        "both_decided": len(decided),
        "accuracy": share([h == j for h, j in decided]),
        "kappa": measure_kappa(both),
        "confusion": confusion,
        "first_position": {
            "human": share([d["human_first_shown"] for d in details if d["human_first_shown"] is not None]),
            "judge": judge_reads_first,
        },
        "judge_consistent": share([d["judge"] == d["judge_swapped"] for d in pairs_in_both]) if swapped is not None else None,
        "details": details,
    }


def describe_agreement(comparison: dict) -> str:
    """Return a short Vietnamese summary of compare_with_judge's result."""
    def show(value):
        return "—" if value is None else value

    first = comparison["first_position"]
    lines = [
        f"Đã gán nhãn {comparison['labelled']}/{comparison['pairs']} cặp: {comparison['decided']} chọn một bên hay hoà, "
        f"{comparison['skipped']} bỏ qua; chưa gán {comparison['unlabelled']}.",
        f"Độ chính xác của giám khảo so với bạn, trên {comparison['both_decided']} cặp cả hai đều chọn một bên: "
        f"{show(comparison['accuracy'])}.",
        f"Cohen's kappa (kể cả hoà): {show(comparison['kappa'])}"
        + (" (không xác định: chưa có cặp, hoặc hai bên luôn cho cùng một ý)." if comparison["kappa"] is None else "."),
        f"Tỉ lệ chọn vị trí đầu: bạn {show(first['human'])} (chọn A; A/B đã xáo), giám khảo {show(first['judge'])} "
        + ("(chọn phần nó đọc trước, trên cả hai thứ tự)." if first["judge"] is not None
           else "(cần chấm lại theo thứ tự đảo: tham số swapped)."),
    ]
    if comparison.get("judge_consistent") is not None:
        lines.append(f"Tỉ lệ cặp mà giám khảo chọn cùng một phần hoàn thành ở cả hai thứ tự: {comparison['judge_consistent']}.")
    if comparison.get("foreign"):
        lines.append(f"{comparison['foreign']} nhãn trong tệp thuộc các cặp không có ở đây (lần chạy khác, hàng khác): không dùng.")
    return "\n".join(lines)


def list_verdicts(comparison: dict) -> list[dict]:
    """Return one table row per pair of compare_with_judge's result: the instruction, both verdicts, whether they agree."""
    names = {**VERDICT_LABELS, **OTHER_VERDICT_LABELS}
    table = []
    for d in comparison["details"]:
        row = {"hướng dẫn": textwrap.shorten(d["instruction"], 45, placeholder="…"), "bạn": names[d["human"]], "giám khảo": names[d["judge"]]}
        if any(x["judge_swapped"] is not None for x in comparison["details"]):
            row["giám khảo, thứ tự đảo"] = names[d["judge_swapped"]]
        both = d["human"] in VERDICTS and d["judge"] in VERDICTS
        row["giống nhau"] = ("có" if d["human"] == d["judge"] else "không") if both else "—"
        table.append(row)
    return table
