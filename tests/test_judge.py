"""The judge: bounded schema, outlines state reset per generation, and ratings that never vanish."""

import pytest
import torch

from helpers.judge import build_judge, build_rating_schema, rate
from helpers.llm import FreshStateProcessor
from helpers.sanity import break_answer, build_sanity_rows, score_judge


def test_schema_bounds_ratings_and_lengths():
    schema = build_rating_schema(3, max_rationale_chars=50)
    ratings, rationales = schema["properties"]["ratings"], schema["properties"]["rationales"]
    assert ratings["items"]["enum"] == [1, 2, 3, 4, 5]
    assert ratings["minItems"] == ratings["maxItems"] == 3
    assert rationales["minItems"] == rationales["maxItems"] == 3
    assert rationales["items"]["maxLength"] == 50


class RecordingProcessor:
    """Stands in for an outlines processor: records the state resets it sees."""

    def __init__(self):
        self.guide = type("Guide", (), {"initial_state": 0})()
        self._seq_start_idx = 7
        self._guide_states = {"old": 1}
        self.resets = 0

    def __call__(self, input_ids, scores):
        if self._seq_start_idx is None:
            self.resets += 1
            self._seq_start_idx = input_ids.shape[1]
        return scores


def test_fresh_state_processor_resets_only_at_a_new_generation():
    inner = RecordingProcessor()
    wrapped = FreshStateProcessor(inner)
    scores = torch.zeros(1, 5)
    prompt = torch.tensor([[1, 2, 3]])
    wrapped(prompt, scores)
    wrapped(torch.tensor([[1, 2, 3, 9]]), scores)  # same generation, one more token
    wrapped(torch.tensor([[1, 2, 3, 9, 4]]), scores)
    assert inner.resets == 1
    wrapped(torch.tensor([[5, 6, 7, 8, 9, 10]]), scores)  # a new prompt, longer by one: still new
    assert inner.resets == 2
    wrapped(prompt, scores)  # the same prompt again
    assert inner.resets == 3
    assert inner._guide_states == {hash(tuple([])): 0}


def test_missing_generations_column_names_the_rename():
    with pytest.raises(KeyError, match="grouped_generation"):
        rate(object(), [{"instruction": "q", "grouped_generation": ["a", "b"]}])


@pytest.fixture(scope="module")
def structured_judge(fresh_cache):
    import os

    os.environ["KIT_CACHE_DIR"] = str(fresh_cache[0])
    judge = build_judge(structured=True, num_completions=2, preset="offline")
    judge.load()
    return judge


def test_five_structured_judgements_in_a_row_are_all_valid(structured_judge):
    rows = [
        {"instruction": "What is the capital of France?", "generations": ["Paris.", "Berlin, in Spain."]},
        {"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas are yellow."]},
        {"instruction": "Name a primary color.", "generations": ["Red.", "The moon is cheese."]},
        {"instruction": "What is synthetic data?", "generations": ["Data made by a program.", "data data"]},
        {"instruction": "Why is the sky blue?", "generations": ["Rayleigh scattering.", "The ocean paints it."]},
    ]
    rated = rate(structured_judge, rows)
    assert len(rated) == 5
    for row in rated:
        assert len(row["ratings"]) == 2 and all(r in {1, 2, 3, 4, 5} for r in row["ratings"])
        assert len(row["rationales"]) == 2 and all(isinstance(t, str) and 0 < len(t) <= 100 for t in row["rationales"])


def test_break_answer_keeps_the_words_but_not_the_order():
    good = "Air molecules scatter blue sunlight more than red light."
    bad = break_answer(good)
    assert bad != good and sorted(bad.split()) == sorted(good.split())


def test_sanity_rows_and_scores():
    rows = build_sanity_rows([{"instruction": "q", "good": "right answer here"}, {"instruction": "r", "good": "ok", "bad": "no"}])
    assert [r["good_index"] for r in rows] == [0, 1, 0, 1]
    assert rows[1]["generations"] == rows[0]["generations"][::-1]
    always_second = [{**r, "ratings": [1, 2]} for r in rows]
    assert score_judge(always_second) == {
        "judgements": 4, "accuracy": 0.5, "ties": 0, "invalid": 0, "first_position_wins": 0.0,
    }
    perfect = [{**r, "ratings": [5, 1] if r["good_index"] == 0 else [1, 5]} for r in rows]
    assert score_judge(perfect)["accuracy"] == 1.0 and score_judge(perfect)["first_position_wins"] == 0.5
    broken = [{**rows[0], "ratings": [None, 3]}, {**rows[1], "ratings": [4, 4]}]
    assert score_judge(broken) == {"judgements": 2, "accuracy": 0.0, "ties": 1, "invalid": 1, "first_position_wins": None}


def test_count_valid_ratings_counts_per_completion():
    from helpers.judge import count_valid_ratings

    rows = [
        {"generations": ["a", "b"], "ratings": [None, None, None, None]},  # parsed sections != completions
        {"generations": ["a", "b"], "ratings": [5, 0]},
        {"generations": ["a", "b", "c"], "ratings": [3]},
    ]
    assert count_valid_ratings(rows) == (2, 7)


def test_judges_of_one_model_share_its_weights_and_schema(structured_judge):
    # Notebook 4 builds nine judges of the same model: one loaded copy and one outlines index serve them all.
    from helpers import llm as kit_llm

    honest = build_judge(structured=True, num_completions=2, aspect="honesty", preset="offline")
    honest.load()
    assert honest.llm._pipeline is structured_judge.llm._pipeline
    assert honest.llm._logits_processor[0].processor is structured_judge.llm._logits_processor[0].processor
    assert honest.llm._logits_processor[0] is not structured_judge.llm._logits_processor[0]  # own state
    short = build_judge(structured=True, num_completions=2, with_rationales=False, preset="offline")
    short.load()
    assert short.llm._logits_processor[0].processor is not structured_judge.llm._logits_processor[0].processor
    rated = rate(short, [{"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas."]}])
    assert all(r in {1, 2, 3, 4, 5} for r in rated[0]["ratings"]) and len(rated[0]["ratings"]) == 2
    kit_llm.forget_loaded_models()
    fresh = build_judge(structured=True, num_completions=2, preset="offline")
    fresh.load()
    assert fresh.llm._pipeline is not structured_judge.llm._pipeline
