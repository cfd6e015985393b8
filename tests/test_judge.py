"""The judge: bounded schema enforced from a fresh state per generation, and ratings that never vanish."""

import pytest
import torch

from helpers.judge import build_judge, build_rating_schema, rate
from helpers.sanity import break_answer, build_sanity_rows, score_judge


def test_schema_bounds_ratings_and_lengths():
    schema = build_rating_schema(3, max_rationale_chars=50)
    ratings, rationales = schema["properties"]["ratings"], schema["properties"]["rationales"]
    assert ratings["items"]["enum"] == [1, 2, 3, 4, 5]
    assert ratings["minItems"] == ratings["maxItems"] == 3
    assert rationales["minItems"] == rationales["maxItems"] == 3
    assert rationales["items"]["maxLength"] == 50
    assert schema["additionalProperties"] is False and schema["required"] == ["ratings", "rationales"]


@pytest.fixture(scope="module")
def tokenizer(fresh_cache):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(fresh_cache[1])


@pytest.fixture(scope="module")
def processor_for(tokenizer):
    from helpers.structured import GrammarLogitsProcessor, build_grammar, build_tokenizer

    lltokenizer = build_tokenizer(tokenizer, len(tokenizer))
    return lambda schema: GrammarLogitsProcessor(lltokenizer, build_grammar({"format": "json", "schema": schema}))


def allowed_texts(processor, ids, tokenizer):
    """Run the processor on ids and return the texts of the tokens it leaves allowed."""
    scores = processor(torch.tensor(ids), torch.zeros(len(ids), len(tokenizer)))
    return [{tokenizer.decode([i]) for i in torch.nonzero(row > float("-inf")).flatten().tolist()} for row in scores]


def test_grammar_forces_the_schema_token_by_token(processor_for, tokenizer):
    processor = processor_for(build_rating_schema(2))
    prompt = tokenizer.encode("Rate them:")
    first = allowed_texts(processor, [prompt], tokenizer)[0]
    assert first and all(text.startswith("{") for text in first)  # a JSON object, nothing else, not the end
    ids = list(prompt)
    for token in tokenizer.encode('{"ratings": [1, 2], "rationales": ["ok", "no"]}'):
        ids.append(token)
        allowed = allowed_texts(processor, [ids], tokenizer)[0]
    assert allowed == {tokenizer.eos_token}  # the object is complete: only the end is left
    ids = list(prompt)
    allowed_texts(processor, [ids], tokenizer)  # the same prompt again: a new generation
    for token in tokenizer.encode('{"ratings": ['):
        ids.append(token)
        ratings = allowed_texts(processor, [ids], tokenizer)[0]
    assert {"1", "5"} <= ratings and not {"0", "6", "]"} & ratings  # 1-5 only, and not an empty list


def test_every_generation_starts_from_a_fresh_state(processor_for, tokenizer):
    processor = processor_for(build_rating_schema(2))
    prompt = tokenizer.encode("Rate them:")
    fresh = allowed_texts(processor, [prompt], tokenizer)[0]
    allowed_texts(processor, [prompt + tokenizer.encode("{")], tokenizer)
    assert allowed_texts(processor, [prompt], tokenizer)[0] == fresh  # the same prompt again: a new generation
    other = tokenizer.encode("Now rate these two:")
    assert allowed_texts(processor, [other], tokenizer)[0] == fresh
    # A batch: one state per row, each advanced by its own last token, as if each row were alone.
    def walk(processor, rows, steps):
        allowed = allowed_texts(processor, rows, tokenizer)
        for step in steps:
            rows = [row + [token] for row, token in zip(rows, step)]
            allowed = allowed_texts(processor, rows, tokenizer)
        return allowed

    opening, word, letter = tokenizer.encode('{"'), tokenizer.encode("ratings")[0], tokenizer.encode("r")[0]
    batch = walk(processor, [prompt, prompt], [opening * 2, [word, letter]])
    alone = [walk(processor_for(build_rating_schema(2)), [prompt], [opening, [token]])[0] for token in (word, letter)]
    assert batch == alone and batch[0] != batch[1]


def test_mask_follows_the_scores_device_and_width(processor_for, tokenizer):
    processor = processor_for(build_rating_schema(2))
    prompt = torch.tensor([tokenizer.encode("Rate them:")])
    on_meta = processor(prompt, torch.zeros(1, len(tokenizer) + 64, device="meta"))  # a GPU's scores live on the GPU
    assert on_meta.device.type == "meta" and on_meta.shape[1] == len(tokenizer) + 64
    padded = processor(prompt, torch.zeros(1, len(tokenizer) + 64))  # an embedding padded past the vocabulary
    assert torch.isinf(padded[0, len(tokenizer):]).all()


def test_the_schema_goes_only_where_the_task_asks_for_it(fresh_cache, monkeypatch):
    from helpers.judge import KitUltraFeedback
    from helpers.presets import OFFLINE_JUDGES, load_llm

    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    structured = KitUltraFeedback(llm=load_llm(OFFLINE_JUDGES["smollm2-135m"], "offline"), aspect="overall-rating")
    structured._set_default_structured_output()
    assert structured.llm.structured_output == {"format": "json", "schema": build_rating_schema(2)}
    plain = KitUltraFeedback(llm=load_llm(OFFLINE_JUDGES["smollm2-135m"], "offline"), aspect="overall-rating", use_default_structured_output=False)
    plain._set_default_structured_output()
    assert plain.llm.structured_output is None


def test_a_bad_structured_output_fails_clearly(processor_for):
    from helpers.structured import build_grammar

    with pytest.raises(ValueError, match="format"):
        build_grammar({"format": "yaml", "schema": {}})
    with pytest.raises(ValueError, match="schema"):
        build_grammar({"format": "json"})
    with pytest.raises(ValueError, match="không hợp lệ"):
        processor_for({"type": "object", "properties": {"a": {"type": "integer", "minimum": 5, "maximum": 1}}, "required": ["a"]})


def test_missing_generations_column_names_the_rename():
    with pytest.raises(KeyError, match="grouped_generation"):
        rate(object(), [{"instruction": "q", "grouped_generation": ["a", "b"]}])


@pytest.fixture(scope="module")
def structured_judge(fresh_cache):
    # Set for this module's tests only: a variable left behind would send every later test and notebook to this cache,
    # where the preset's 1.5B judge would be converted a second time (3.4 GB, minutes).
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
        judge = build_judge(structured=True, num_completions=2, preset="offline", model="smollm2-135m")
        judge.load()
        yield judge


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
        "judgements": 4, "accuracy": 0.5, "ties": 0, "invalid": 0, "first_position_wins": 0.0, "same_ratings": "[1, 2] × 4",
    }
    assert score_judge(always_second, scored_alone=True)["first_position_wins"] is None
    perfect = [{**r, "ratings": [5, 1] if r["good_index"] == 0 else [1, 5]} for r in rows]
    assert score_judge(perfect)["accuracy"] == 1.0 and score_judge(perfect)["first_position_wins"] == 0.5
    broken = [{**rows[0], "ratings": [None, 3]}, {**rows[1], "ratings": [4, 4]}]
    assert score_judge(broken) == {
        "judgements": 2, "accuracy": 0.0, "ties": 1, "invalid": 1, "first_position_wins": None, "same_ratings": None,
    }


def test_sanity_rows_with_another_questions_answer():
    examples = [{"instruction": "q1", "good": "a1"}, {"instruction": "q2", "good": "a2"}, {"instruction": "q3", "good": "a3"}]
    rows = build_sanity_rows(examples, corruption="other-answer")
    assert [r["generations"] for r in rows[:2]] == [["a1", "a2"], ["a2", "a1"]]
    assert rows[-1]["generations"] == ["a1", "a3"] and {r["corruption"] for r in rows} == {"other-answer"}
    with pytest.raises(ValueError, match="ít nhất hai"):
        build_sanity_rows(examples[:1], corruption="other-answer")
    with pytest.raises(ValueError, match="corruption"):
        build_sanity_rows(examples, corruption="typo")
    given = build_sanity_rows([{"instruction": "q", "good": "Paris.", "bad": "Berlin."}], corruption="other-answer")
    assert [r["corruption"] for r in given] == ["given", "given"]
    with pytest.raises(ValueError, match="trùng với câu đúng"):
        build_sanity_rows([{"instruction": "q1", "good": "same"}, {"instruction": "q2", "good": "same"}], "other-answer")


def test_scores_alone_never_repeat_by_rote():
    rows = [{"generations": ["a", "b"], "good_index": 0, "ratings": [3.1, 2.9]},
            {"generations": ["b", "a"], "good_index": 1, "ratings": [2.8, 3.3]}]
    assert score_judge(rows, scored_alone=True) == {
        "judgements": 2, "accuracy": 1.0, "ties": 0, "invalid": 0, "first_position_wins": None, "same_ratings": None,
    }


def test_tables_show_a_missing_value_as_a_dash():
    from helpers.display import format_table

    text = format_table([{"method": "x", "first": None, "score": 0.5}, {"method": "y", "first": None, "score": None}])
    assert "None" not in text and "NaN" not in text and text.count("—") == 3


def test_count_valid_ratings_counts_per_completion():
    from helpers.judge import count_valid_ratings

    rows = [
        {"generations": ["a", "b"], "ratings": [None, None, None, None]},  # parsed sections != completions
        {"generations": ["a", "b"], "ratings": [5, 0]},
        {"generations": ["a", "b", "c"], "ratings": [3]},
    ]
    assert count_valid_ratings(rows) == (2, 7)


def test_judges_of_one_model_share_its_weights_and_schema(structured_judge, monkeypatch):
    # Notebook 4 builds nine judges of the same model: one loaded copy and one grammar serve them all.
    from helpers import llm as kit_llm

    releases = []  # freed heap is handed back before new weights load, not when a loaded copy is reused
    monkeypatch.setattr(kit_llm, "release_freed_memory", lambda: releases.append(1))

    honest = build_judge(structured=True, num_completions=2, aspect="honesty", preset="offline", model="smollm2-135m")
    honest.load()
    assert honest.llm._pipeline is structured_judge.llm._pipeline
    assert honest.llm._logits_processor[0].grammar is structured_judge.llm._logits_processor[0].grammar
    assert honest.llm._logits_processor[0] is not structured_judge.llm._logits_processor[0]  # own state
    short = build_judge(structured=True, num_completions=2, with_rationales=False, preset="offline", model="smollm2-135m")
    short.load()
    assert short.llm._logits_processor[0].grammar != structured_judge.llm._logits_processor[0].grammar
    rated = rate(short, [{"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas."]}])
    assert all(r in {1, 2, 3, 4, 5} for r in rated[0]["ratings"]) and len(rated[0]["ratings"]) == 2
    assert releases == []
    kit_llm.forget_loaded_models()
    fresh = build_judge(structured=True, num_completions=2, preset="offline", model="smollm2-135m")
    fresh.load()
    assert fresh.llm._pipeline is not structured_judge.llm._pipeline
    assert releases == [1]


@pytest.mark.parametrize("aspect", ["helpfulness", "truthfulness"])
def test_typed_aspects_ask_for_their_real_outputs_ratings_first(aspect):
    schema = build_rating_schema(2, aspect=aspect)
    assert list(schema["properties"]) == ["types", "ratings", "rationales", "rationales-for-ratings"]
    assert schema["required"] == list(schema["properties"]) and schema["additionalProperties"] is False
    for key in schema["properties"]:
        assert schema["properties"][key]["minItems"] == schema["properties"][key]["maxItems"] == 2
    assert list(build_rating_schema(2, with_rationales=False, aspect=aspect)["properties"]) == ["types", "ratings"]


@pytest.mark.parametrize("aspect", ["overall-rating", "honesty", "instruction-following"])
def test_untyped_aspects_rate_then_explain(aspect):
    assert list(build_rating_schema(2, aspect=aspect)["properties"]) == ["ratings", "rationales"]


def test_helpfulness_judge_writes_distilabels_columns_for_that_aspect(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    judge = build_judge(aspect="helpfulness", preset="offline", model="smollm2-135m")
    judge.load()
    row = rate(judge, [{"instruction": "What is 2 + 2?", "generations": ["4", "5"]}])[0]
    assert set(judge.outputs) <= set(row)
    for column in ("types", "ratings", "rationales", "rationales-for-ratings"):
        assert len(row[column]) == 2, column
    assert all(t in (None, 1, 2, 3) for t in row["types"]) and all(r in (1, 2, 3, 4, 5) for r in row["ratings"])


def test_token_probability_judge_runs_as_a_distilabel_task(fresh_cache, monkeypatch):
    # The offline judge's way to rate (helpers/presets.py, QWEN_JUDGE), run here on the 135M model: process() gives
    # every completion an expected rating in 1-5 from one forward pass, the same whatever the other rows.
    from helpers.judge import TokenProbUltraFeedback, score_with_token_probs

    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    judge = build_judge(num_completions=2, preset="offline", model="smollm2-135m", method="probs")
    assert isinstance(judge, TokenProbUltraFeedback)
    judge.load()
    rows = [
        {"instruction": "What is the capital of France?", "generations": ["Paris.", "Berlin, in Spain."]},
        {"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas are yellow.", "Four."]},
    ]
    rated = rate(judge, rows)
    assert [row["instruction"] for row in rated] == [row["instruction"] for row in rows]
    for row, source in zip(rated, rows):
        assert row["generations"] == source["generations"] and len(row["ratings"]) == len(source["generations"])
        assert all(isinstance(r, float) and 1 <= r <= 5 for r in row["ratings"])
        assert row["rationales"] == [None] * len(source["generations"]) and row["model_name"] == judge.llm.model_name
    assert rate(judge, rows[1:])[0]["ratings"] == rated[1]["ratings"]  # alone as among others
    # One pass per text, no shared rubric: the same scores in float32; bf16 rounds the two splits apart (measured up
    # to 0.1 on this model).
    full = score_with_token_probs(judge, rows, share_prefix=False)
    tolerance = 0 if judge.llm.torch_dtype == "float32" else 0.15
    assert all(abs(a - b) <= tolerance for row, again in zip(rated, full) for a, b in zip(row["ratings"], again["ratings"]))
