"""Picking chosen/rejected pairs from hand-written ratings: policies, drop reasons, report, seeding."""

import copy
import math
import random

import pytest

from helpers.pairs import REASONS, describe_report, pick_pair, pick_pairs, pick_results


def make_row(ratings, generations=("a", "b", "c"), models=("m0", "m1", "m2"), instruction="Hỏi gì đó?"):
    """Build one distilabel-like row; ``models=None`` leaves the generation_models column out."""
    row = {"instruction": instruction, "generations": list(generations), "ratings": ratings}
    if models is not None:
        row["generation_models"] = list(models)
    return row


def test_best_worst_picks_highest_and_lowest_with_scores_and_models():
    pair = pick_pair(make_row([3, 5, 1]), "best-worst", 0.0, random.Random(0))
    assert pair == {
        "prompt": "Hỏi gì đó?",
        "chosen": "b",
        "rejected": "c",
        "score_chosen": 5.0,
        "score_rejected": 1.0,
        "chosen_model": "m1",
        "rejected_model": "m2",
        "chosen_index": 1,
        "rejected_index": 2,
    }


def test_ties_for_best_and_worst_take_the_first_in_order():
    pair = pick_pair(make_row([5, 2, 5, 2], generations=["a", "b", "c", "d"], models=None))
    assert (pair["chosen"], pair["rejected"]) == ("a", "b")
    assert (pair["chosen_index"], pair["rejected_index"]) == (0, 1)


def test_missing_generation_models_give_none():
    pair = pick_pair(make_row([4, 2, 3], models=None))
    assert pair["chosen_model"] is None and pair["rejected_model"] is None


def test_best_random_lower_never_rejects_a_completion_tied_with_the_best():
    row = make_row([5, 5, 3, 2], generations=["a", "b", "c", "d"], models=None)
    rng = random.Random(0)
    picked = [pick_pair(row, "best-random-lower", 0.0, rng) for _ in range(50)]
    assert {p["chosen"] for p in picked} == {"a"}
    assert {p["rejected"] for p in picked} == {"c", "d"}  # both lower ones show up, never "b"
    assert all(row["generations"][p["rejected_index"]] == p["rejected"] for p in picked)


def test_best_random_lower_is_reproducible_and_ignores_global_random_state():
    rows = [make_row([5, 4, 3, 1], generations=[f"{i}-{k}" for k in range(4)]) for i in range(60)]
    random.seed(0)
    first, _ = pick_pairs(rows, "best-random-lower", seed=7)
    random.seed(12345)
    again, _ = pick_pairs(rows, "best-random-lower", seed=7)
    other, _ = pick_pairs(rows, "best-random-lower", seed=8)
    assert first == again
    assert first != other
    rejected_scores = [p["score_rejected"] for p in first]
    assert set(rejected_scores) == {4.0, 3.0, 1.0}  # not always the lowest
    assert all(p["score_chosen"] == 5.0 for p in first)


def test_pick_results_gives_each_row_the_pair_pick_pairs_keeps():
    rows = [make_row([5, 4, 3, 1], generations=[f"{i}-{k}" for k in range(4)]) for i in range(20)] + [make_row([3, 3, 3])]
    results = pick_results(rows, "best-random-lower", seed=7)
    assert results[-1] == "tie"
    assert [r for r in results if isinstance(r, dict)] == pick_pairs(rows, "best-random-lower", seed=7)[0]


def test_default_seed_is_42():
    rows = [make_row([5, 4, 3, 1], generations=[f"{i}-{k}" for k in range(4)]) for i in range(20)]
    assert pick_pairs(rows, "best-random-lower")[0] == pick_pairs(rows, "best-random-lower", seed=42)[0]


def test_all_equal_ratings_is_a_tie():
    assert pick_pair(make_row([3, 3, 3])) == "tie"
    assert pick_pair(make_row([4.0, 4, 4.0]), "best-random-lower") == "tie"


def test_tie_is_judged_on_non_empty_completions_only():
    # The empty completion (rated 1) is not a candidate, so the two remaining ones tie.
    assert pick_pair(make_row([4, 1, 4], generations=["a", "", "c"])) == "tie"


def test_identical_chosen_and_rejected_texts_are_dropped():
    assert pick_pair(make_row([5, 1, 3], generations=["same", "same", "x"])) == "identical_texts"
    # Identical texts are reported even when the margin would also drop the row.
    assert pick_pair(make_row([5, 1, 3], generations=["same", "same", "x"]), min_margin=10) == "identical_texts"


@pytest.mark.parametrize(
    ("min_margin", "expected"),
    [(0.0, "kept"), (2, "kept"), (2.0, "kept"), (2.5, "below_margin"), (5, "below_margin")],
)
def test_margin_is_inclusive(min_margin, expected):
    result = pick_pair(make_row([5, 4, 3]), "best-worst", min_margin)
    assert (result if isinstance(result, str) else "kept") == expected


def test_the_random_rejected_is_drawn_among_those_far_enough_below():
    rng = random.Random(3)
    results = [pick_pair(make_row([5, 4, 1]), "best-random-lower", 2, rng) for _ in range(40)]
    assert {r["rejected"] for r in results} == {"c"}  # 5-4=1 < 2: never drawn, so the row is never lost
    assert {pick_pair(make_row([5, 4, 3]), "best-random-lower", 2, rng)["rejected"] for _ in range(40)} == {"c"}
    assert pick_pair(make_row([5, 4, 4]), "best-random-lower", 2, rng) == "below_margin"


def test_a_margin_above_the_rating_range_drops_everything():
    rows = [make_row([5, 1, 3]), make_row([4, 2, 3]), make_row([5, 4, 1])]
    pairs, report = pick_pairs(rows, min_margin=4.5)
    assert pairs == []
    assert report["kept"] == 0 and report["dropped"]["below_margin"] == 3


@pytest.mark.parametrize(
    "ratings",
    [
        None,
        "5,4,3",
        (5, 4, 3),
        [5, 4],
        [5, 4, 3, 2],
        [5, None, 3],
        [5, 0, 3],
        [5, 6, 3],
        [5, 0.99, 3],
        [5, float("nan"), 3],
        [5, math.inf, 3],
        [5, True, 3],
        [5, "4", 3],
    ],
)
def test_invalid_ratings_are_dropped(ratings):
    assert pick_pair(make_row(ratings)) == "invalid_ratings"


def test_missing_ratings_column_is_dropped_not_raised():
    row = make_row([5, 4, 3])
    del row["ratings"]
    assert pick_pair(row) == "invalid_ratings"


def test_bounds_and_floats_are_valid():
    pair = pick_pair(make_row([1, 4.5, 5.0]))
    assert (pair["chosen"], pair["rejected"], pair["score_chosen"], pair["score_rejected"]) == ("c", "a", 5.0, 1.0)


def test_one_empty_completion_among_three_is_skipped_even_if_best_rated():
    pair = pick_pair(make_row([5, 3, 2], generations=["", "b", "c"]))
    assert (pair["chosen"], pair["rejected"], pair["chosen_model"]) == ("b", "c", "m1")


@pytest.mark.parametrize("generations", [["", "b", "  \n"], [None, "b", ""], ["a", "\t", " "]])
def test_two_empty_completions_among_three_leave_too_few(generations):
    assert pick_pair(make_row([5, 3, 2], generations=generations)) == "too_few_completions"


def test_missing_generations_are_dropped_not_raised():
    row = make_row([], generations=[])
    row["generations"] = None
    assert pick_pair(row) == "too_few_completions"


def test_report_counts_every_reason_and_empty_completions():
    rows = [
        make_row([5, 3, 1]),  # kept
        make_row([5, 3, 2], generations=["", "b", "c"]),  # kept, 1 empty
        make_row([3, 3, 3]),  # tie
        make_row([3, 3, 3]),  # tie
        make_row([5, None, 3]),  # invalid_ratings
        make_row([5, 3, 2], generations=["", "b", " "]),  # too_few_completions, 2 empty
        make_row([5, 1, 3], generations=["x", "x", "y"]),  # identical_texts
    ]
    pairs, report = pick_pairs(rows)
    assert [p["chosen"] for p in pairs] == ["a", "b"]
    assert report == {
        "rows": 7,
        "kept": 2,
        "dropped": {
            "invalid_ratings": 1,
            "too_few_completions": 1,
            "tie": 2,
            "identical_texts": 1,
            "below_margin": 0,
        },
        "empty_completions": 3,
    }


def test_report_lists_every_reason_with_zero_counts_on_empty_input():
    pairs, report = pick_pairs([])
    assert pairs == [] and report["rows"] == 0 and report["kept"] == 0
    assert report["dropped"] == dict.fromkeys(REASONS, 0) and len(REASONS) == 5


def test_rows_are_not_modified():
    rows = [make_row([5, 3, 1]), make_row([5, None, 3])]
    before = copy.deepcopy(rows)
    pick_pairs(rows, "best-random-lower")
    assert rows == before


def test_describe_report_in_vietnamese():
    report = {
        "rows": 10,
        "kept": 7,
        "dropped": {**dict.fromkeys(REASONS, 0), "invalid_ratings": 1, "tie": 2},
        "empty_completions": 0,
    }
    assert describe_report(report) == "Giữ 7/10 hàng. Bỏ: 2 hàng hoà điểm, 1 hàng điểm không hợp lệ."


def test_describe_report_without_drops_mentions_empty_completions():
    _, report = pick_pairs([make_row([5, 3, 2], generations=["", "b", "c"])])
    assert describe_report(report) == "Giữ 1/1 hàng. Không bỏ hàng nào. Đã loại 1 phần hoàn thành rỗng."


@pytest.mark.parametrize("call", [lambda: pick_pairs([], policy="best-of-n"), lambda: pick_pair(make_row([5, 1]), "x")])
def test_unknown_policy_raises_a_vietnamese_error_listing_policies(call):
    with pytest.raises(ValueError, match="không tồn tại") as error:
        call()
    assert "best-worst" in str(error.value) and "best-random-lower" in str(error.value)

