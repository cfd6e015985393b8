"""coursetools/grading/rescore.py: a rating the preset's judge would not give is found, recorded scores cost nothing."""

import random

import pytest

import helpers.judge
from coursetools.grading.rescore import find_claims, find_wrong_rating
from helpers.judge import build_judge, score_with_token_probs
from helpers.replay import RECORD_ENV, REPLAY_ENV

ROWS = [
    {"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas are yellow."]},
    {"instruction": "Name a primary color.", "generations": ["Red.", "The moon is cheese."]},
]


@pytest.fixture(scope="module")
def small_judge(fresh_cache):
    """The 135M model as a token-probability judge: the preset's method, on a model that loads in a second."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
        judge = build_judge(preset="offline", model="smollm2-135m", method="probs")
        judge.load()
        yield judge


@pytest.fixture
def rated(small_judge, monkeypatch):
    """ROWS as that judge rates them; rescore.py builds that same judge."""
    monkeypatch.setattr(helpers.judge, "build_judge", lambda **kwargs: small_judge)
    return score_with_token_probs(small_judge, ROWS, share_prefix=True)


def test_the_judges_own_ratings_pass(rated):
    assert find_wrong_rating(rated, sample=4) == ""


def test_a_made_up_rating_is_found_and_named(rated):
    made_up = [dict(row) for row in rated]
    made_up[1] = {**made_up[1], "ratings": [made_up[1]["ratings"][0], round(made_up[1]["ratings"][1] + 0.5, 2)]}
    message = find_wrong_rating(made_up, sample=4)
    assert message.startswith("hàng 2, phần hoàn thành 2: điểm ghi là") and "SmolLM2" in message


def test_recorded_scores_are_checked_without_scoring_and_others_only_in_the_sample(rated, small_judge, tmp_path, monkeypatch):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    score_with_token_probs(small_judge, ROWS[:1], share_prefix=True)  # the reference run scored the first row only
    monkeypatch.delenv(RECORD_ENV)
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path))
    scored = []
    compute = helpers.judge.score_prompts
    monkeypatch.setattr(helpers.judge, "score_prompts", lambda model, tokenizer, prompts, *a: scored.append(len(prompts))
                        or compute(model, tokenizer, prompts, *a))
    made_up = [{**rated[0], "ratings": [rated[0]["ratings"][0], 1.0]}, rated[1]]
    assert "hàng 1, phần hoàn thành 2" in find_wrong_rating(made_up, sample=0)  # recorded: always compared
    assert scored == [0]
    assert find_wrong_rating(rated, sample=1, rng=random.Random(0)) == "" and scored[-1] == 1  # one of the two others


def test_only_numeric_ratings_of_texts_are_claims():
    rows = [{"instruction": "q", "generations": ["a", "b", None], "ratings": [4.5, None, 3]},
            {"instruction": "r", "generations": ["c"], "ratings": [True]}]
    assert [(c.row, c.completion, c.text, c.rating) for c in find_claims(rows)] == [(1, 1, "a", 4.5)]


def test_a_judge_that_generates_its_ratings_is_not_rescored(monkeypatch):
    from helpers import presets

    judge_role = presets.get_role("judge")
    monkeypatch.setattr(presets, "get_role", lambda role: type(judge_role)(**{**vars(judge_role), "scoring": "json"}))
    monkeypatch.setattr(helpers.judge, "build_judge", lambda **kwargs: pytest.fail("loaded a judge"))
    assert find_wrong_rating([{"instruction": "q", "generations": ["a"], "ratings": [4.0]}]) == ""
