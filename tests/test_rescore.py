"""coursetools/grading/rescore.py: a rating the preset's judge would not give is found, recorded scores cost nothing."""

import pytest

import helpers.judge
from coursetools.grading import recheck, rescore
from coursetools.grading.rescore import find_claims, find_wrong_rating
from helpers.judge import build_judge, rate, score_with_token_probs
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
    return rate(small_judge, ROWS)  # the judge's task: model_name added


def test_the_judges_own_ratings_pass(rated):
    assert rated[0]["model_name"] == "SmolLM2-135M-Instruct (judge)"
    assert find_wrong_rating(find_claims(rated)) == ""


def test_a_made_up_rating_is_found_and_named(rated):
    made_up = [dict(row) for row in rated]
    made_up[1] = {**made_up[1], "ratings": [made_up[1]["ratings"][0], round(made_up[1]["ratings"][1] + 0.5, 2)]}
    message = find_wrong_rating(find_claims(made_up))
    assert message.startswith("hàng 2, phần hoàn thành 2: điểm ghi là") and "SmolLM2" in message
    named = [rated[0], {**rated[1], "model_name": "gpt-4o"}]
    assert find_wrong_rating(find_claims(named)).startswith("hàng 2 được chấm bởi 'gpt-4o', không phải giám khảo của preset")


def test_recorded_scores_are_not_scored_again_and_the_others_are(rated, small_judge, tmp_path, monkeypatch):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    score_with_token_probs(small_judge, ROWS[:1], share_prefix=True)  # the reference run scored the first row only
    monkeypatch.delenv(RECORD_ENV)
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path))
    scored = []
    compute = helpers.judge.score_prompts
    monkeypatch.setattr(helpers.judge, "score_prompts", lambda model, tokenizer, prompts, *a: scored.append(prompts)
                        or compute(model, tokenizer, prompts, *a))
    made_up = [{**rated[0], "ratings": [rated[0]["ratings"][0], 1.0]}, rated[1]]
    assert "hàng 1, phần hoàn thành 2" in find_wrong_rating(find_claims(made_up))
    assert len(scored) == 1 and len(scored[0]) == 2 and all("Red." in p or "cheese" in p for p in scored[0])


def values_of(rated, paired):
    """The dumps of a ratings check and a pairs check, as recheck.run_checks gets them."""
    return {"ratings": {"rated": rated, "rows": []}, "pairs": {"pairs": [], "rated": paired}}


CALLS = {"ratings": {"function": "check_ratings", "args": [["var", "rated"], ["var", "rows"]], "kwargs": []},
         "pairs": {"function": "check_pairs", "args": [["var", "pairs"], ["var", "rated"]], "kwargs": []}}


def test_ratings_changed_after_their_check_make_the_pairs_wrong(monkeypatch):
    monkeypatch.setattr(rescore, "find_wrong_rating", lambda claims: "")
    rows = [{"instruction": "q", "generations": ["a", "b"], "ratings": [3.1, 2.2], "model_name": "j"}]
    results = {"ratings": ("pass", ""), "pairs": ("pass", "")}
    recheck.rescore_ratings(CALLS, values_of(rows, [{**rows[0], "extra": 1}]), results)
    assert results == {"ratings": ("pass", ""), "pairs": ("pass", "")}  # other keys may be added, the ratings stay
    recheck.rescore_ratings(CALLS, values_of(rows, [{**rows[0], "ratings": [4.5, 2.0]}]), results)
    assert results["ratings"] == ("pass", "") and results["pairs"][0] == "wrong" and "`rated` đã đổi" in results["pairs"][1]


def test_unreadable_rows_are_wrong_and_a_judge_that_fails_is_the_graders_error(monkeypatch):
    results = {"ratings": ("pass", ""), "pairs": ("pass", "")}
    recheck.rescore_ratings(CALLS, values_of([[["instruction", "q"]]], []), results)
    assert results["ratings"][0] == "wrong" and "không đọc được các điểm" in results["ratings"][1]

    def broken(claims):
        raise OSError("no model")

    monkeypatch.setattr(rescore, "find_wrong_rating", broken)
    results = {"ratings": ("pass", ""), "pairs": ("pass", "")}
    rows = [{"instruction": "q", "generations": ["a", "b"], "ratings": [3.1, 2.2]}]
    recheck.rescore_ratings(CALLS, values_of(rows, rows), results)
    assert results["ratings"][0] == "error" and "OSError: no model" in results["ratings"][1]


def test_only_numeric_ratings_of_texts_are_claims():
    rows = [{"instruction": "q", "generations": ["a", "b", None], "ratings": [4.5, None, 3]},
            {"instruction": "r", "generations": ["c"], "ratings": [True]}]
    assert [(c.row, c.completion, c.text, c.rating, c.judge) for c in find_claims(rows)] == [(1, 1, "a", 4.5, None)]


def test_a_judge_that_generates_its_ratings_is_not_rescored(monkeypatch):
    from helpers import presets

    judge_role = presets.get_role("judge")
    monkeypatch.setattr(presets, "get_role", lambda role: type(judge_role)(**{**vars(judge_role), "scoring": "json"}))
    monkeypatch.setattr(helpers.judge, "build_judge", lambda **kwargs: pytest.fail("loaded a judge"))
    assert find_wrong_rating(find_claims([{"instruction": "q", "generations": ["a"], "ratings": [4.0]}])) == ""
