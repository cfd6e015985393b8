"""The CPU DPO bridge: config fields, dataset loading, and a short real DPOTrainer run on fixed pairs."""

from statistics import mean

import pytest

from helpers.dpo import to_dataset
from helpers.sanity import read_known_pairs
from helpers.train import (
    get_step_metrics,
    load_fact_pairs,
    load_held_out_pairs,
    load_preference_dataset,
    make_cpu_dpo_config,
    summarize_evaluations,
    train_dpo,
)

# A unit test may use fixed pairs: the chosen answer is right and polite, the rejected one wrong or rude.
PAIRS = [
    {"prompt": "What is the capital of France?", "chosen": "The capital of France is Paris.", "rejected": "I don't care, look it up."},
    {"prompt": "What is 2 + 2?", "chosen": "2 + 2 equals 4.", "rejected": "2 + 2 equals 5."},
    {"prompt": "Name a primary colour.", "chosen": "Red is a primary colour.", "rejected": "Banana."},
    {"prompt": "How many days are in a week?", "chosen": "A week has seven days.", "rejected": "Nobody knows that."},
]


def test_make_cpu_dpo_config_is_sized_for_a_cpu(tmp_path):
    config = make_cpu_dpo_config(tmp_path, max_steps=3)
    assert config.use_cpu and not config.bf16 and not config.fp16
    assert config.save_strategy == "no" and config.report_to == []
    assert config.logging_steps == 1 and config.per_device_train_batch_size == 1
    assert config.max_length <= 256 and config.seed == 42
    assert config.max_steps == 3  # overrides win
    assert make_cpu_dpo_config(tmp_path).max_steps <= 60


def test_load_preference_dataset_reads_a_saved_dataset(tmp_path, monkeypatch):
    to_dataset(PAIRS, style="conversational").save_to_disk(tmp_path / "ds")
    dataset, note = load_preference_dataset(tmp_path / "ds")
    assert len(dataset) == 4 and dataset[0]["prompt"] == [{"role": "user", "content": PAIRS[0]["prompt"]}]
    assert str(tmp_path / "ds") in note
    monkeypatch.setenv("KIT_DATASET_DIR", str(tmp_path / "ds"))
    assert len(load_preference_dataset()[0]) == 4


def test_load_preference_dataset_says_when_it_builds_one(tmp_path, monkeypatch):
    # The real fallback runs pooling and the judge (minutes); here only its announcement is checked.
    monkeypatch.setattr("helpers.train.build_preference_dataset", lambda: to_dataset(PAIRS[:2], style="conversational"))
    dataset, note = load_preference_dataset(tmp_path / "missing")
    assert len(dataset) == 2
    assert "Không tìm thấy" in note and "run_pooling" in note


def test_fact_pairs_share_no_question_or_answer_with_the_held_out_pairs():
    def texts(dataset, column):
        return {row[column][-1]["content"] for row in dataset}

    facts, held_out = load_fact_pairs(), load_held_out_pairs()
    assert (len(facts), len(held_out)) == (24, 12)
    for column in ("prompt", "chosen", "rejected"):
        assert not texts(facts, column) & texts(held_out, column), column
    assert len(texts(facts, "prompt")) == 24  # no question twice
    assert all(row["chosen"] != row["rejected"] for row in facts)


def test_train_dpo_raises_the_reward_margin(tmp_path):
    config = make_cpu_dpo_config(tmp_path, max_steps=8, max_length=64)
    model, tokenizer, log_history = train_dpo(to_dataset(PAIRS, style="conversational"), config)
    steps, margins = get_step_metrics(log_history, "rewards/margins")
    assert steps == list(range(1, 9))
    # Step 1 is scored before any update (policy == reference), so its margin is 0.
    assert margins[0] == pytest.approx(0.0, abs=1e-6)
    assert margins[-1] > margins[0]
    assert mean(margins[-3:]) > mean(margins[:3])
    assert not model.training and tokenizer.pad_token is not None


def test_load_held_out_pairs_are_the_known_pairs_in_trls_format():
    known = read_known_pairs()
    held_out = load_held_out_pairs()
    assert held_out.column_names == ["prompt", "chosen", "rejected"] and len(held_out) == len(known)
    assert held_out[0]["prompt"] == [{"role": "user", "content": known[0]["instruction"]}]
    assert held_out[0]["chosen"] == [{"role": "assistant", "content": known[0]["good"]}]
    assert held_out[0]["rejected"] == [{"role": "assistant", "content": known[0]["bad"]}]
    # None of them is a pair of the unit test's training set, nor of the exercise (its hand-rated rows).
    assert not {row["prompt"][0]["content"] for row in held_out} & {pair["prompt"] for pair in PAIRS}


def test_train_dpo_scores_trained_and_held_out_pairs_before_and_after(tmp_path):
    config = make_cpu_dpo_config(tmp_path, max_steps=4, max_length=64)
    held_out = load_held_out_pairs().select(range(3))
    _, _, log_history = train_dpo(to_dataset(PAIRS, style="conversational"), config, held_out=held_out)
    rows = summarize_evaluations(log_history)
    assert [(row["cặp"], row["bước"]) for row in rows] == [("đã học", 0), ("chưa học", 0), ("đã học", 4), ("chưa học", 4)]
    trained_before, held_before, trained_after, held_after = rows
    # Before the first update the policy is the reference: every DPO reward is exactly 0, so no pair is "won".
    for row in (trained_before, held_before):
        assert row["rewards/margins"] == 0.0 and row["rewards/accuracies"] == 0.0
        assert row["loss"] == pytest.approx(0.6931, abs=1e-4)  # ln 2
    # After training the policy has moved on both sets; on the pairs it learned, the margin grew.
    assert held_after["rewards/margins"] != 0.0 and held_after["logps/chosen"] != held_before["logps/chosen"]
    assert trained_after["rewards/margins"] > 0.0 and trained_after["loss"] < trained_before["loss"]
    # Training's own curve is unchanged by the evaluations: one row per step, step 1 still at margin 0.
    steps, margins = get_step_metrics(log_history, "rewards/margins")
    assert steps == [1, 2, 3, 4] and margins[0] == pytest.approx(0.0, abs=1e-6)
