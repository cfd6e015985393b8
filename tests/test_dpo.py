"""DPO formats checked with TRL's own utilities, the offline SmolLM2 tokenizer and a real DPOTrainer."""

import pytest
from datasets import Features, List, Value
from trl.data_utils import is_conversational, maybe_apply_chat_template, maybe_extract_prompt

from helpers.dpo import to_conversational, to_dataset, to_standard
from helpers.models import ensure_offline_model
from helpers.pairs import pick_pairs

PAIRS = [
    {
        "prompt": "Thủ đô của Pháp là gì?",
        "chosen": "Thủ đô của Pháp là Paris.",
        "rejected": "Lyon.",
        "score_chosen": 5.0,
        "score_rejected": 2.0,
        "chosen_model": "model-a",
        "rejected_model": None,
    },
    {
        "prompt": "2 + 2 = ?",
        "chosen": "4",
        "rejected": "5",
        "score_chosen": 4.5,
        "score_rejected": 1.0,
        "chosen_model": "model-b",
        "rejected_model": "model-a",
    },
]
EXTRAS = {
    "score_chosen": Value("float64"),
    "score_rejected": Value("float64"),
    "chosen_model": Value("string"),
    "rejected_model": Value("string"),
}
MESSAGES = List({"role": Value("string"), "content": Value("string")})
SYSTEM = "Bạn là trợ lý hữu ích."


@pytest.fixture(scope="module")
def tokenizer():
    """The offline SmolLM2 tokenizer, which has a chat template."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(ensure_offline_model())


def generation_prompt(tokenizer, messages) -> str:
    """Return what the chat template appends for add_generation_prompt=True."""
    with_prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    without = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=False)
    assert with_prompt.startswith(without)
    return with_prompt[len(without) :]


def test_standard_format_is_plain_strings_with_explicit_prompt():
    rows = to_standard(PAIRS)
    assert rows[0] == PAIRS[0] and rows[1] == PAIRS[1]
    assert list(rows[0]) == ["prompt", "chosen", "rejected", *EXTRAS]
    for row in rows:
        assert not is_conversational(row)
        assert maybe_apply_chat_template(row, None) is row  # TRL leaves standard examples alone
        assert maybe_extract_prompt(row) is row  # the prompt is explicit: TRL does not re-extract it


def test_conversational_format_is_role_content_messages():
    rows = to_conversational(PAIRS)
    assert rows[0] == {
        "prompt": [{"role": "user", "content": "Thủ đô của Pháp là gì?"}],
        "chosen": [{"role": "assistant", "content": "Thủ đô của Pháp là Paris."}],
        "rejected": [{"role": "assistant", "content": "Lyon."}],
        "score_chosen": 5.0,
        "score_rejected": 2.0,
        "chosen_model": "model-a",
        "rejected_model": None,
    }
    for row in rows:
        assert is_conversational(row)
        assert maybe_extract_prompt(row) is row


def test_conversational_system_prompt_comes_first():
    prompt = to_conversational(PAIRS, system_prompt=SYSTEM)[1]["prompt"]
    assert prompt == [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "2 + 2 = ?"}]


@pytest.mark.parametrize("system_prompt", [None, SYSTEM])
def test_chat_template_splits_prompt_and_completions(tokenizer, system_prompt):
    row = to_conversational(PAIRS, system_prompt=system_prompt)[0]
    applied = maybe_apply_chat_template(row, tokenizer)
    assert set(applied) == {"prompt", "chosen", "rejected"}
    assert all(isinstance(applied[key], str) for key in applied)
    assert applied["prompt"].endswith(generation_prompt(tokenizer, row["prompt"]))
    assert applied["prompt"].endswith("<|im_start|>assistant\n")
    assert "Thủ đô của Pháp là gì?" in applied["prompt"]
    assert (SYSTEM in applied["prompt"]) is (system_prompt is not None)
    for key, text in (("chosen", "Thủ đô của Pháp là Paris."), ("rejected", "Lyon.")):
        assert applied[key].startswith(text)  # no repeated prompt, no role header
        assert "Thủ đô của Pháp là gì?" not in applied[key] and "<|im_start|>" not in applied[key]
        full = tokenizer.apply_chat_template(row["prompt"] + row[key], tokenize=False)
        assert applied["prompt"] + applied[key] == full


def test_standard_dataset_columns_and_features():
    dataset = to_dataset(PAIRS)
    assert dataset.column_names == ["prompt", "chosen", "rejected", *EXTRAS]
    assert dataset.features == Features(
        {"prompt": Value("string"), "chosen": Value("string"), "rejected": Value("string"), **EXTRAS}
    )
    assert dataset.num_rows == 2 and dataset[0] == PAIRS[0] and dataset[1] == PAIRS[1]


def test_conversational_dataset_columns_and_features(tokenizer):
    dataset = to_dataset(PAIRS, style="conversational", system_prompt=SYSTEM)
    assert dataset.features == Features({"prompt": MESSAGES, "chosen": MESSAGES, "rejected": MESSAGES, **EXTRAS})
    assert dataset[0] == to_conversational(PAIRS, system_prompt=SYSTEM)[0]
    assert is_conversational(dataset[0])
    # As in TRL's docs: map the chat template over the dataset; the score and model columns survive.
    applied = dataset.map(maybe_apply_chat_template, fn_kwargs={"processing_class": tokenizer})
    assert applied.features == Features(
        {"prompt": Value("string"), "chosen": Value("string"), "rejected": Value("string"), **EXTRAS}
    )
    assert applied[1]["chosen"].startswith("4") and applied[1]["rejected"].startswith("5")
    assert applied["score_chosen"] == [5.0, 4.5] and applied["rejected_model"] == [None, "model-a"]


@pytest.mark.parametrize("style", ["standard", "conversational"])
def test_no_pairs_give_an_empty_dataset_with_typed_columns(style):
    dataset = to_dataset([], style=style)
    assert dataset.num_rows == 0
    assert dataset.column_names == ["prompt", "chosen", "rejected", *EXTRAS]


def test_all_missing_model_names_stay_string_columns():
    pairs, _ = pick_pairs([{"instruction": "Q", "generations": ["x", "y"], "ratings": [1, 3]}])
    dataset = to_dataset(pairs)
    assert dataset.features["chosen_model"] == Value("string") and dataset["chosen_model"] == [None]
    assert dataset[0]["chosen"] == "y" and dataset[0]["score_rejected"] == 1.0


def test_unknown_style_raises_in_vietnamese():
    with pytest.raises(ValueError, match="không tồn tại.*standard, conversational"):
        to_dataset(PAIRS, style="chatml")


@pytest.mark.parametrize("style", ["standard", "conversational"])
def test_dpo_trainer_accepts_the_dataset(tokenizer, tmp_path, style):
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    model = AutoModelForCausalLM.from_pretrained(ensure_offline_model())
    args = DPOConfig(output_dir=str(tmp_path), report_to=[], max_steps=1, use_cpu=True)
    trainer = DPOTrainer(model=model, args=args, train_dataset=to_dataset(PAIRS, style), processing_class=tokenizer)
    example = trainer.train_dataset[0]
    assert trainer.train_dataset.num_rows == 2
    if style == "conversational":
        # The whole templated prompt is kept: TRL found it as a prefix of prompt+completion.
        messages = to_conversational(PAIRS)[0]["prompt"]
        assert example["prompt_ids"] == tokenizer.apply_chat_template(messages, add_generation_prompt=True)
        assert tokenizer.decode(example["chosen_ids"]) == "Thủ đô của Pháp là Paris.<|im_end|>\n"
    else:
        assert example["prompt_ids"] == tokenizer(PAIRS[0]["prompt"])["input_ids"]
        assert tokenizer.decode(example["chosen_ids"]) == "Thủ đô của Pháp là Paris.<|im_end|>"


def test_write_summary_writes_json_and_describes_kept_and_dropped(tmp_path):
    import json

    from helpers.dpo import write_summary

    pair = {"prompt": "q", "chosen": "good", "rejected": "bad", "score_chosen": 4.0, "score_rejected": 1.0}
    dataset = to_dataset([pair, pair, pair], style="conversational")
    first = {"rows": 2, "kept": 2, "dropped": {}, "empty_completions": 0, "chosen_models": {"X": 2}}
    final = {"rows": 4, "kept": 3, "dropped": {"tie": 1, "invalid_ratings": 0}, "empty_completions": 0,
             "chosen_models": {"A": 1, "B": 2}}
    text = write_summary(tmp_path, dataset, {"first": first, "final": final})
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert saved["rows"] == 3 and saved["columns"] == dataset.column_names
    assert saved["reports"]["final"] == final and saved["reports"]["first"] == first
    assert "- first: Giữ 2/2 hàng. Không bỏ hàng nào." in text
    assert "- final: Giữ 3/4 hàng. Bỏ: 1 hàng hoà điểm." in text
    # Who wrote the chosen texts comes from the last report only.
    assert "chosen do B viết: 2 hàng" in text and "chosen do A viết: 1 hàng" in text and "chosen do X" not in text
