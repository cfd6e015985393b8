"""helpers/replay.py: a recorded generation or score is returned as computed, and only for the same call."""

import pytest
import torch

from helpers import replay
from helpers.judge import build_judge, score_prompts, score_with_token_probs
from helpers.replay import RECORD_ENV, REPLAY_ENV

CHAT = [[{"role": "user", "content": "Name a colour."}], [{"role": "user", "content": "What is 2 + 2?"}]]


def generate_twice(llm):
    """Two sampled calls in a row (the second draws from where the first left torch's random state)."""
    torch.manual_seed(7)
    first = llm.generate(CHAT, max_new_tokens=6, do_sample=True, temperature=1.0)
    second = llm.generate(CHAT, max_new_tokens=6, do_sample=True, temperature=1.0)
    return first, second, torch.random.get_rng_state()


def test_a_replayed_run_gets_the_recorded_samples_and_random_state_without_computing(offline_llm, tmp_path, monkeypatch):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    recorded = generate_twice(offline_llm)
    assert len(list(tmp_path.glob("*.json"))) == 2 and not list(tmp_path.glob(".*"))
    monkeypatch.delenv(RECORD_ENV)
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path))
    monkeypatch.setattr(type(offline_llm), "_generate_and_cut", lambda *a, **k: pytest.fail("computed, not replayed"))
    replayed = generate_twice(offline_llm)
    assert replayed[:2] == recorded[:2]
    assert torch.equal(replayed[2], recorded[2])  # later sampling in that process draws the same numbers


def test_another_input_setting_or_random_state_is_computed(offline_llm, tmp_path, monkeypatch):
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    torch.manual_seed(7)
    offline_llm.generate(CHAT, max_new_tokens=6, do_sample=True)
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path))
    computed = []
    compute = type(offline_llm)._generate_and_cut
    monkeypatch.setattr(type(offline_llm), "_generate_and_cut",
                        lambda self, inputs, **k: computed.append(k) or compute(self, inputs, **k))
    for seed, chat, tokens in [(7, CHAT[:1], 6), (7, CHAT, 5), (8, CHAT, 6), (7, CHAT, 6)]:
        torch.manual_seed(seed)
        offline_llm.generate(chat, max_new_tokens=tokens, do_sample=True)
    assert len(computed) == 3  # only the last call is the recorded one


def test_scores_are_replayed_per_text_whatever_else_is_in_the_batch(fresh_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    judge = build_judge(preset="offline", model="smollm2-135m", method="probs")
    judge.load()
    rows = [{"instruction": "What is 2 + 2?", "generations": ["4.", "Bananas."]}]
    plain = score_with_token_probs(judge, rows, share_prefix=True)
    monkeypatch.setenv(RECORD_ENV, str(tmp_path))
    assert score_with_token_probs(judge, rows, share_prefix=True) == plain
    monkeypatch.delenv(RECORD_ENV)
    monkeypatch.setenv(REPLAY_ENV, str(tmp_path))
    scored = []
    monkeypatch.setattr("helpers.judge.score_prompts", lambda model, tokenizer, prompts, *a: scored.extend(prompts)
                        or score_prompts(model, tokenizer, prompts, *a))
    more = [{"instruction": "What is 2 + 2?", "generations": ["Bananas.", "Five."]}]
    again = score_with_token_probs(judge, more, share_prefix=True)
    assert again[0]["ratings"][0] == plain[0]["ratings"][1]  # replayed
    assert len(scored) == 1 and "Five." in scored[0] and "Bananas." not in scored[0]  # only the new text is scored


def test_nothing_is_recorded_or_read_outside_grading(offline_llm, tmp_path, monkeypatch):
    monkeypatch.delenv(RECORD_ENV, raising=False)
    monkeypatch.delenv(REPLAY_ENV, raising=False)
    assert not replay.is_active()
    torch.manual_seed(7)
    offline_llm.generate(CHAT[:1], max_new_tokens=3)
    replay.record("k", 1)
    assert replay.find_recorded("k") is None and not list(tmp_path.iterdir())
