"""Averaging judges, their agreement, judging costs and the margin sweep."""

from helpers.agreement import average_ratings, best_index, measure_agreement
from helpers.costs import count_output_tokens, measure_cost
from helpers.pairs import sweep_margins


def test_average_and_agreement():
    a = [{"instruction": "q1", "ratings": [1, 3]}, {"instruction": "q2", "ratings": [4, 2]}, {"instruction": "q3", "ratings": [2, 2]}]
    b = [{"instruction": "q1", "ratings": [2, 4]}, {"instruction": "q2", "ratings": [1, 5]}, {"instruction": "q3", "ratings": [None, 1]}]
    assert [r["ratings"] for r in average_ratings(a, b)] == [[1.5, 3.5], [2.5, 3.5], [None, 1.5]]
    assert average_ratings(a, b)[0]["instruction"] == "q1"
    assert measure_agreement(a, b) == {"rows": 3, "both_decided": 2, "same_best": 0.5, "mean_abs_gap": 1.8}
    assert best_index([3, 3]) is None and best_index([1, None]) is None and best_index([1, 4, 2]) == 1


def test_output_tokens_and_cost():
    rated = [{"distilabel_metadata": {"statistics_judge": {"input_tokens": [99], "output_tokens": [12]}}},
             {"distilabel_metadata": {"statistics_judge": {"input_tokens": 50, "output_tokens": 8}}}, {}]
    assert count_output_tokens(rated) == 20
    cost, out = measure_cost("x", lambda rows: rated, [1, 2], calls=2)
    assert out is rated and cost["output_tokens"] == 20 and cost["judge_calls"] == 2 and cost["seconds"] >= 0


def test_margin_sweep_shrinks_the_dataset():
    rows = [{"instruction": f"q{i}", "generations": ["a", "b"], "ratings": r}
            for i, r in enumerate([[1, 5], [2, 3], [3, 3], [2.5, 3.0]])]
    table = sweep_margins(rows, [0, 1, 3])
    assert [t["kept"] for t in table] == [3, 2, 1]  # margins are inclusive
    assert table[0]["tie"] == 1 and table[1]["below_margin"] == 1 and table[2]["below_margin"] == 2
    assert table[0]["below_margin"] == 0 and set(table[0]) == {"min_margin", "kept", "tie", "below_margin"}
