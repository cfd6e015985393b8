"""Exercise checks: pass on good work, fail with a message that says what is wrong and how to fix it."""

import pytest

from helpers import checks
from helpers.dpo import to_dataset

INSTRUCTIONS = ["q1", "q2"]
POOLED = [
    {"instruction": "q1", "grouped_generation": ["a1", "b1"]},
    {"instruction": "q2", "grouped_generation": ["a2", "b2"]},
]
RATED = [
    {"instruction": "q1", "generations": ["a1", "b1"], "ratings": [2, 4]},
    {"instruction": "q2", "generations": ["a2", "b2"], "ratings": [5, 1]},
]
PAIR = {"prompt": "q1", "chosen": "b1", "rejected": "a1", "score_chosen": 4.0, "score_rejected": 2.0,
        "chosen_model": "B", "rejected_model": "A"}


def test_unfinished_work_gets_the_todo_message():
    for check, tier in [(checks.check_pooled, "🐢"), (checks.check_ratings, "🐕"), (checks.check_pairs, "🐕"),
                        (checks.check_candidates, "🦁"), (checks.check_dpo_dataset, "🦁")]:
        args = (None, INSTRUCTIONS) if check is checks.check_pooled else (None,)
        with pytest.raises(AssertionError, match=f"vẫn là None — hãy làm phần TODO \\({tier}\\)"):
            check(*args)


def test_pooled_passes_and_fails(capsys):
    checks.check_pooled(POOLED, INSTRUCTIONS)
    assert "✅ 2 hàng" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="1 hàng nhưng 2 hướng dẫn"):
        checks.check_pooled(POOLED[:1], INSTRUCTIONS)
    with pytest.raises(AssertionError, match="Hàng 2 có 1 phần hoàn thành, cần 2"):
        checks.check_pooled([POOLED[0], {"instruction": "q2", "grouped_generation": ["x"]}], INSTRUCTIONS)
    with pytest.raises(AssertionError, match="Hàng 1 có 1 phần hoàn thành rỗng"):
        checks.check_pooled([{"instruction": "q1", "grouped_generation": ["  ", "b"]}, POOLED[1]], INSTRUCTIONS)


def test_ratings_passes_and_fails():
    checks.check_ratings(RATED)
    with pytest.raises(AssertionError, match="đổi tên `grouped_generation`"):
        checks.check_ratings(POOLED)
    with pytest.raises(AssertionError, match=r"Hàng 1 có điểm không hợp lệ \[None\]"):
        checks.check_ratings([{**RATED[0], "ratings": [None, 3]}])
    with pytest.raises(AssertionError, match="3 điểm cho 2 phần hoàn thành"):
        checks.check_ratings([{**RATED[0], "ratings": [1, 2, 3]}])
    with pytest.raises(AssertionError, match="điểm không hợp lệ \\[7\\]"):
        checks.check_ratings([{**RATED[0], "ratings": [7, 3]}])


def test_pairs_passes_and_fails():
    checks.check_pairs([PAIR], min_margin=2)
    tie = {**PAIR, "rejected": "b1", "score_rejected": 4.0}
    with pytest.raises(AssertionError, match="chosen và rejected giống nhau ở 3 hàng — hãy bỏ các hàng hoà điểm"):
        checks.check_pairs([tie, tie, tie, PAIR])
    with pytest.raises(AssertionError, match="điểm của chosen không cao hơn rejected"):
        checks.check_pairs([{**PAIR, "score_chosen": 1.0}])
    with pytest.raises(AssertionError, match="chênh lệch điểm dưới 3"):
        checks.check_pairs([PAIR], min_margin=3)
    with pytest.raises(AssertionError, match="Không còn cặp nào"):
        checks.check_pairs([])


def test_candidates_passes_and_fails():
    three = [{"generations": ["a", "b", "c"], "generation_models": ["A", "B", "A + EvolQuality"]}]
    checks.check_candidates(three)
    with pytest.raises(AssertionError, match="có 2 ứng viên, cần 3"):
        checks.check_candidates(RATED)
    with pytest.raises(AssertionError, match="generation_models"):
        checks.check_candidates([{"generations": ["a", "b", "c"], "generation_models": ["A", "B"]}])


def test_dpo_dataset_passes_and_fails():
    checks.check_dpo_dataset(to_dataset([PAIR], style="conversational"))
    checks.check_dpo_dataset(to_dataset([PAIR], style="standard"))
    with pytest.raises(AssertionError, match="không có hàng nào"):
        checks.check_dpo_dataset(to_dataset([], style="standard"))
    with pytest.raises(AssertionError, match="`rejected` rỗng"):
        checks.check_dpo_dataset(to_dataset([{**PAIR, "rejected": " "}], style="standard"))
    with pytest.raises(AssertionError, match="thiếu cột"):
        checks.check_dpo_dataset(to_dataset([PAIR]).remove_columns(["score_chosen"]))
