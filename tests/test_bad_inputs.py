"""Bad inputs give clear messages: an unknown model offline, a misnamed column, an empty instruction list."""

import pytest

from helpers.llm import KitTransformersLLM


def test_unknown_model_offline_names_the_offline_preset(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llm = KitTransformersLLM(model="no-such-org/no-such-model", cpu_threads=1)
    with pytest.raises(OSError, match="KIT_PRESET=offline") as caught:
        llm.load()
    assert "no-such-org/no-such-model" in str(caught.value)


def test_course_preset_without_network_says_what_to_do(monkeypatch):
    from helpers.presets import load_llm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llm = load_llm("generator_a", "course")
    llm.device_map = None  # no accelerator here; the message is the point
    with pytest.raises(OSError, match="preset offline"):
        llm.load()
