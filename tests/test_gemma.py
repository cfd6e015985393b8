"""The Gemma 3 270M base model: its Question/Answer frame, stop strings, preset and (when installed) real answers."""

import os

import pytest

from helpers import gemma, models, presets
from helpers.llm import cut_at_stop

REQUIRE_GEMMA = os.environ.get("KIT_REQUIRE_GEMMA") == "1"


def render(template, messages):
    """Render a chat template the way transformers does (same Jinja environment)."""
    from transformers.utils.chat_template_utils import render_jinja_template

    rendered, _ = render_jinja_template(
        conversations=[messages], chat_template=template, add_generation_prompt=True
    )
    return rendered[0]


def test_template_frames_the_last_user_message_and_ignores_system():
    prompt = render(
        presets.QA_CHAT_TEMPLATE,
        [{"role": "system", "content": "You are a teacher."}, {"role": "user", "content": " What is DPO? "}],
    )
    assert prompt.startswith("Question: What is photosynthesis?\nAnswer: Photosynthesis")
    assert prompt.endswith("\n\nQuestion: What is DPO?\nAnswer:")
    assert prompt.count("Question:") == 3 and prompt.count("\n\n") == 2
    assert "teacher" not in prompt and "<bos>" not in prompt  # the tokenizer adds <bos> itself


def test_stop_cuts_at_the_first_stop_after_leading_whitespace():
    stop = list(presets.QA_STOP)
    assert cut_at_stop("\n Paris is the capital.\n\nQuestion: What", stop) == "Paris is the capital."
    assert cut_at_stop(" Paris.\nQuestion: Next?", stop) == "Paris."
    assert cut_at_stop(" 1. One\n2. Two", stop) == "1. One\n2. Two"
    assert cut_at_stop("  \n\n", stop) is None
    assert cut_at_stop(None, stop) is None


def test_offline_gemma_preset_wiring(monkeypatch):
    monkeypatch.setattr(presets, "resolve_model", lambda model: f"/models/{model}")
    llm_a = presets.load_llm("generator_a", "offline-gemma")
    llm_b = presets.load_llm("generator_b", "offline-gemma")
    judge = presets.load_llm("judge", "offline-gemma")
    assert llm_a.model_name == "SmolLM2-135M-Instruct (A: precise, greedy)"
    assert llm_b.model_name == "gemma-3-270m (base)"
    assert llm_b.model == f"/models/{presets.GEMMA_MODEL}" and llm_a.model == f"/models/{presets.OFFLINE_MODEL}"
    assert llm_b.chat_template == presets.QA_CHAT_TEMPLATE and llm_b.stop == list(presets.QA_STOP)
    assert llm_a.chat_template is None and llm_a.stop is None and judge.stop is None
    assert llm_b.generation_kwargs["do_sample"] is False and llm_b.generation_kwargs["max_new_tokens"] == 64
    assert llm_b.cpu_threads == "auto"  # 1 thread in a pipeline step process: tests/test_threads.py
    assert presets.get_role("generator_b", "offline-gemma").system_prompt is None


def test_missing_gemma_package_names_make_gemma(monkeypatch):
    monkeypatch.setattr(gemma, "GEMMA_PACKAGE", "no_such_gemma_package")
    with pytest.raises(FileNotFoundError, match="make gemma"):
        gemma.ensure_gemma_model()


@pytest.fixture(scope="module")
def gemma_folder():
    """The converted Gemma folder in the user's kit cache (converting takes ~1 min, so it is shared with notebooks)."""
    if not REQUIRE_GEMMA:
        pytest.importorskip(gemma.GEMMA_PACKAGE, reason="cài bằng `make gemma`")
    return gemma.ensure_gemma_model()


def test_gemma_tokenizer_is_bpe_and_does_not_over_split(gemma_folder):
    from transformers import AutoTokenizer, GenerationConfig

    tokenizer = AutoTokenizer.from_pretrained(gemma_folder)
    assert tokenizer.convert_ids_to_tokens(tokenizer("Hello world").input_ids) == ["<bos>", "Hello", "▁world"]
    assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (2, 1, 0)
    assert tokenizer.convert_tokens_to_ids("<end_of_turn>") == 106
    assert GenerationConfig.from_pretrained(gemma_folder).eos_token_id == [1, 106]


def test_gemma_answers_paris_and_stops(gemma_folder):
    llm = presets.load_llm("generator_b", "offline-gemma")
    llm.load()
    prompt = llm.prepare_input(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "What is the capital of France?"}]
    )
    ids = llm._pipeline.tokenizer(prompt).input_ids
    assert ids[0] == 2 and ids[1] != 2  # exactly one <bos>
    out = llm.generate_outputs([[{"role": "user", "content": "What is the capital of France?"}]])[0]
    text = out["generations"][0]
    assert "Paris" in text and "Question:" not in text and text == text.strip()
    assert 0 < out["statistics"]["output_tokens"][0] < 64


def test_gemma_second_use_reuses_the_conversion(gemma_folder, monkeypatch):
    before = (gemma_folder / "model.safetensors").stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(models, "convert_gguf", fail)
    monkeypatch.setattr(gemma, "assemble_gemma_gguf", fail)
    assert gemma.ensure_gemma_model() == gemma_folder
    assert (gemma_folder / "model.safetensors").stat().st_mtime_ns == before
