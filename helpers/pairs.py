"""Preference pairs: pick a chosen and a rejected completion per row from the judge's ratings (or the learner's labels)."""

from __future__ import annotations

import math
import random
from collections import Counter
from numbers import Real

from helpers.labels import build_label_items, find_label, read_verdict

POLICIES = ("best-worst", "best-random-lower")
REASON_LABELS = {  # drop reasons, in the order they are checked
    "invalid_ratings": "điểm không hợp lệ",
    "too_few_completions": "ít hơn 2 phần hoàn thành không rỗng",
    "tie": "hoà điểm",
    "identical_texts": "chosen và rejected giống hệt nhau",
    "below_margin": "chênh lệch điểm dưới ngưỡng",
}
REASONS = tuple(REASON_LABELS)
LABEL_REASON_LABELS = {  # the extra drop reasons of pairs made from the learner's labels
    "not_labelled": "chưa gán nhãn hoặc bỏ qua",
    "labelled_tie": "bạn gán nhãn hoà",
    "disagree": "bạn và giám khảo chọn khác nhau",
}
# Where pick_labelled_pairs takes its pairs from; "human-else-judge" uses the judge where the learner gave no label.
LABEL_SOURCES = ("human", "judge", "agree", "human-else-judge")
SOURCE_LABELS = {"human": "nhãn của bạn", "judge": "giám khảo", "agree": "bạn và giám khảo cùng chọn"}  # a pair's own source
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


def check_policy(policy: str) -> None:
    """Raise ValueError (in Vietnamese) if ``policy`` is not a known pair policy."""
    if policy not in POLICIES:
        raise ValueError(f"Quy tắc chọn cặp `{policy}` không tồn tại. Chọn một trong: {', '.join(POLICIES)}.")


def find_drop_reason(row: dict, min_margin: float = 0.0) -> str | None:
    """Return why a row gives no pair under any policy (invalid_ratings, too_few_completions, tie, below_margin), or None."""
    # The pair rule, once: pick_pair applies it, helpers/checks.py expects what it implies.
    generations, ratings = row.get("generations"), row.get("ratings")
    generations = generations if isinstance(generations, list) else []
    if not isinstance(ratings, list) or len(ratings) != len(generations) or not all(map(is_valid_rating, ratings)):
        return "invalid_ratings"  # a row with a missing score is dropped whole, never half-used
    scores = [rating for rating, text in zip(ratings, generations) if not is_empty(text)]
    if len(scores) < 2:
        return "too_few_completions"
    if max(scores) == min(scores):  # ties are dropped: nothing to prefer
        return "tie"
    if max(scores) - min(scores) < min_margin:  # not even the best and the worst are far enough apart
        return "below_margin"
    return None


def pick_pair(row: dict, policy: str = "best-worst", min_margin: float = 0.0, rng: random.Random | None = None) -> dict | str:
    """Return the pair picked from one row, or the reason (one of REASONS) why the row is dropped."""
    # Hand-written: trl and datasets have no "ratings -> chosen/rejected" step; it is the lesson itself.
    check_policy(policy)
    rng = rng if rng is not None else random.Random(DEFAULT_SEED)
    reason = find_drop_reason(row)  # the margin is checked below, on the pair the policy picks
    if reason:
        return reason
    generations, ratings = row["generations"], row["ratings"]
    candidates = [i for i, text in enumerate(generations) if not is_empty(text)]
    best = max(ratings[i] for i in candidates)
    # Ties for the best (or the worst) are broken by order: the first such completion wins.
    chosen = next(i for i in candidates if ratings[i] == best)
    if policy == "best-worst":
        worst = min(ratings[i] for i in candidates)
        rejected = next(i for i in candidates if ratings[i] == worst)
    else:  # best-random-lower, as in binarized UltraFeedback: drawn among those at least min_margin below the best
        lower = [i for i in candidates if ratings[i] < best]
        rejected = rng.choice([i for i in lower if best - ratings[i] >= min_margin] or lower)
    if generations[chosen] == generations[rejected]:  # checked before the margin: a data defect
        return "identical_texts"
    if ratings[chosen] - ratings[rejected] < min_margin:
        return "below_margin"
    return build_pair(row, chosen, rejected)


def build_pair(row: dict, chosen: int, rejected: int, scored: bool = True) -> dict:
    """Return the pair of a row's completions at ``chosen`` and ``rejected``, with their scores (None if not ``scored``)."""
    generations, ratings = row["generations"], row.get("ratings")
    models = row.get("generation_models")
    models = models if isinstance(models, list) and len(models) == len(generations) else [None] * len(generations)
    return {
        "prompt": row["instruction"],
        "chosen": generations[chosen],
        "rejected": generations[rejected],
        "score_chosen": float(ratings[chosen]) if scored else None,
        "score_rejected": float(ratings[rejected]) if scored else None,
        "chosen_model": models[chosen],
        "rejected_model": models[rejected],
        "chosen_index": chosen,
        "rejected_index": rejected,
    }


def pick_results(rows: list[dict], policy: str = "best-worst", min_margin: float = 0.0, seed: int = DEFAULT_SEED) -> list:
    """Return pick_pair's result (a pair or a drop reason) for every row, drawn in order from one seeded generator."""
    check_policy(policy)
    rng = random.Random(seed)  # one generator for the whole run: same seed, same pairs
    return [pick_pair(row, policy, min_margin, rng) for row in rows]


def pick_pairs(
    rows: list[dict], policy: str = "best-worst", min_margin: float = 0.0, seed: int = DEFAULT_SEED
) -> tuple[list[dict], dict]:
    """Return the pairs picked from ``rows`` and a report of kept and dropped rows."""
    rows = list(rows)
    return collect_pairs(rows, pick_results(rows, policy, min_margin, seed))


def collect_pairs(rows: list[dict], results: list) -> tuple[list[dict], dict]:
    """Return the pairs among pick_results' ``results`` for ``rows`` and the report of kept and dropped rows."""
    pairs = [result for result in results if isinstance(result, dict)]
    dropped = dict.fromkeys(REASONS, 0)
    for result in results:
        if isinstance(result, str):
            if result not in REASON_LABELS and result not in LABEL_REASON_LABELS:
                raise ValueError(f"Unknown drop reason: {result!r}")
            dropped[result] = dropped.get(result, 0) + 1  # pick_labelled_pairs adds its own reasons
    # Every empty completion is counted, whatever happens to its row.
    generations = [row.get("generations") for row in rows]
    empty = sum(sum(map(is_empty, texts)) for texts in generations if isinstance(texts, list))
    report = {"rows": len(rows), "kept": len(pairs), "dropped": dropped, "empty_completions": empty}
    return pairs, report


def read_message(value, role: str):
    """Return a text, or the content of the last ``role`` message of a conversation (None if there is none)."""
    if isinstance(value, list):
        messages = [m for m in value if isinstance(m, dict) and m.get("role") == role]
        return messages[-1].get("content") if messages else None
    return value


def read_pair_texts(pair: dict) -> tuple:
    """Return (prompt, chosen, rejected) of a pair in the kit's, TRL's or distilabel's layout (None where missing)."""
    prompt = pair.get("prompt", pair.get("instruction"))
    prompt = read_message(prompt if prompt is not None else pair.get("chosen"), "user")
    return prompt, read_message(pair.get("chosen"), "assistant"), read_message(pair.get("rejected"), "assistant")


def summarize_pairs(rows: list[dict], pairs: list[dict], policy: str = "best-worst", min_margin: float = 0.0) -> dict:
    """Return a pick_pairs-style report of pairs made by any code from rated ``rows``, with who wrote each chosen text."""
    rows, by_prompt = list(rows), {}
    for pair in map(dict, pairs):
        by_prompt[read_pair_texts(pair)[0]] = pair
    results, writers = [], Counter()
    for row in rows:
        pair = by_prompt.get(row["instruction"])
        if pair is None:
            # The kit's own reason (pick_pair); a row the kit would keep was dropped by the caller's own rule.
            reason = pick_pair(row, policy, min_margin)
            results.append(reason if isinstance(reason, str) else "below_margin")
            continue
        results.append(pair)
        chosen = read_pair_texts(pair)[1]
        texts, models = row.get("generations") or [], row.get("generation_models") or []
        writers[next((m for t, m in zip(texts, models) if t == chosen), None) or "?"] += 1
    _, report = collect_pairs(rows, results)
    return {**report, "chosen_models": dict(sorted(writers.items()))}


def describe_report(report: dict) -> str:
    """Return a short Vietnamese summary of a pick_pairs report."""
    text = f"Giữ {report['kept']}/{report['rows']} hàng."
    names = {**REASON_LABELS, **LABEL_REASON_LABELS}
    reasons = sorted((r for r in names if report["dropped"].get(r)), key=lambda r: -report["dropped"][r])
    if reasons:
        text += " Bỏ: " + ", ".join(f"{report['dropped'][r]} hàng {names[r]}" for r in reasons) + "."
    else:
        text += " Không bỏ hàng nào."
    if report.get("sources"):
        text += " Nguồn của cặp: " + ", ".join(f"{count} từ {SOURCE_LABELS[s]}" for s, count in report["sources"].items()) + "."
    if report.get("empty_completions"):
        text += f" Đã loại {report['empty_completions']} phần hoàn thành rỗng."
    return text


def sweep_margins(rows: list[dict], margins: list[float], policy: str = "best-random-lower", seed: int = DEFAULT_SEED) -> list[dict]:
    """Return, for each minimum margin, how many rows survive and how many are dropped for each reason."""
    reports = [pick_pairs(rows, policy=policy, min_margin=margin, seed=seed)[1] for margin in margins]
    reasons = [r for r in REASONS if any(report["dropped"][r] for report in reports)]
    return [
        {"min_margin": margin, "kept": report["kept"], **{r: report["dropped"][r] for r in reasons}}
        for margin, report in zip(margins, reports)
    ]


def pick_labelled_pairs(rows: list[dict], labels: dict, source: str = "human", positions: tuple[int, int] = (0, 1)) -> tuple[list[dict], dict]:
    """Return pairs of two completions per row from the learner's labels, the judge, or both, and a report per source."""
    if source not in LABEL_SOURCES:
        raise ValueError(f"Nguồn `{source}` không tồn tại. Chọn một trong: {', '.join(LABEL_SOURCES)}.")
    items = {item.row: item for item in build_label_items(rows, positions)}
    results, row_sources = [], []
    for index, row in enumerate(rows):
        item = items.get(index)
        if item is None:  # no pair to label in this row: the kit's own reason, on the two compared completions
            result = explain_unlabellable(row, positions)
        else:
            result = pick_labelled_pair(row, item, find_label(item, labels), source)
        if isinstance(result, dict):
            row_sources.append({"prompt": row["instruction"], "source": result["source"]})
        else:
            row_sources.append({"prompt": row["instruction"], "dropped": result})
        results.append(result)
    pairs, report = collect_pairs(rows, results)
    for reason in LABEL_REASON_LABELS:  # collect_pairs counted those that occur; the others are shown as 0
        report["dropped"].setdefault(reason, 0)
    sources = Counter(pair["source"] for pair in pairs)
    report.update(source=source, sources={s: sources[s] for s in SOURCE_LABELS if sources[s]}, row_sources=row_sources)
    return pairs, report


def explain_unlabellable(row: dict, positions: tuple[int, int]) -> str:
    """Return why a row offers no pair to label: identical texts, or fewer than two non-empty completions there."""
    texts = row.get("generations") if isinstance(row.get("generations"), list) else []
    first, second = sorted(positions)
    if len(texts) > second and not is_empty(texts[first]) and texts[first] == texts[second]:
        return "identical_texts"
    return "too_few_completions"


def pick_labelled_pair(row: dict, item, record: dict | None, source: str) -> dict | str:
    """Return one row's pair (its ``source`` recorded) or why it is dropped; ``item`` is the pair the learner was shown."""
    first, second = item.positions
    human = read_verdict(item, record)
    # The judge's choice between the same two completions, by the kit's own rule (pick_pair, best-worst).
    generations, ratings, models = row["generations"], row.get("ratings"), row.get("generation_models")
    if not isinstance(ratings, list) or len(ratings) != len(generations):
        judged = "invalid_ratings"  # as pick_pair says of the whole row
    else:
        models = models if isinstance(models, list) and len(models) == len(generations) else [None] * len(generations)
        sub_row = {**row, "generations": [generations[first], generations[second]],
                   "ratings": [ratings[first], ratings[second]], "generation_models": [models[first], models[second]]}
        judged = pick_pair(sub_row, "best-worst")
    if isinstance(judged, dict):
        judged = {**judged, "chosen_index": item.positions[judged["chosen_index"]],
                  "rejected_index": item.positions[judged["rejected_index"]]}
    if source == "judge" or (source == "human-else-judge" and human in (None, "skip")):
        return {**judged, "source": "judge"} if isinstance(judged, dict) else judged
    if human in (None, "skip"):
        return "not_labelled"
    if human == "tie":
        return "labelled_tie"
    chosen, rejected = (first, second) if human == "first" else (second, first)
    if source == "agree":
        if not isinstance(judged, dict):
            return judged
        if judged["chosen_index"] != chosen:
            return "disagree"
        return {**judged, "source": "agree"}
    return {**build_pair(row, chosen, rejected, scored=False), "source": "human"}
