"""Presets: the offline default, the course wiring (never downloaded), overrides and clear errors."""

import pytest

from helpers import presets
from helpers.llm import KitTransformersLLM


def test_offline_is_the_default_on_cpu(monkeypatch):
    monkeypatch.delenv(presets.PRESET_ENV, raising=False)
    assert presets.choose_preset().name == "offline"


def test_environment_variable_overrides(monkeypatch):
    monkeypatch.setenv(presets.PRESET_ENV, "course")
    assert presets.choose_preset().name == "course"
    assert presets.choose_preset("offline").name == "offline"


def test_unknown_preset_and_role_are_clear():
    with pytest.raises(ValueError, match="offline, course"):
        presets.choose_preset("gpt-5")
    with pytest.raises(ValueError, match="generator_a"):
        presets.get_role("critic", "offline")


def test_course_wiring_without_download(monkeypatch):
    import torch

    monkeypatch.setattr(presets, "ensure_offline_model", lambda: pytest.fail("offline model touched"))
    monkeypatch.delenv(presets.DTYPE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (8, 0))  # an A100
    a = presets.load_llm("generator_a", "course")
    b = presets.load_llm("generator_b", "course")
    judge = presets.load_llm("judge", "course")
    assert isinstance(a, KitTransformersLLM)
    assert (a.model, b.model) == ("HuggingFaceTB/SmolLM2-1.7B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct")
    assert judge.model == "HuggingFaceTB/SmolLM2-1.7B-Instruct"
    assert a.torch_dtype == "bfloat16" and a.device_map == "auto" and a.cpu_threads is None
    assert a.generation_kwargs["do_sample"] is False
    assert a.model_name == "HuggingFaceTB/SmolLM2-1.7B-Instruct"
    assert getattr(a, "_pipeline", None) is None  # nothing loaded, nothing downloaded
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (7, 5))  # Colab's free T4
    assert presets.load_llm("judge", "course").torch_dtype == "float16"


def test_gpu_dtype_follows_the_gpu_and_the_environment(monkeypatch):
    monkeypatch.delenv(presets.DTYPE_ENV, raising=False)
    assert presets.choose_gpu_dtype((9, 0)) == "bfloat16"
    assert presets.choose_gpu_dtype((8, 6)) == "bfloat16"
    assert presets.choose_gpu_dtype((7, 5)) == "float16"  # T4: bf16 only emulated
    assert presets.choose_gpu_dtype((6, 0)) == "float16"
    monkeypatch.setenv(presets.DTYPE_ENV, "float32")
    assert presets.choose_gpu_dtype((9, 0)) == "float32"


def test_offline_llm_settings(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    a = presets.load_llm("generator_a", "offline")
    b = presets.load_llm("generator_b", "offline", temperature=0.3)
    assert a.model == str(fresh_cache[1])
    assert a.cpu_threads == "auto" and a.torch_dtype == presets.choose_cpu_dtype() and a.batch_size == 8
    assert a.generation_kwargs["do_sample"] is False
    assert b.generation_kwargs["do_sample"] is True and b.generation_kwargs["temperature"] == 0.3
    assert a.model_name != b.model_name and "/" not in a.model_name  # no machine path in outputs


def test_load_in_the_kernel_uses_every_core(offline_llm, monkeypatch):
    import torch

    from helpers.threads import count_cores

    monkeypatch.delenv("KIT_CPU_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    offline_llm.load()  # again: the model is reused, the threads are set anew
    assert torch.get_num_threads() == count_cores()  # one thread per step process: tests/test_threads.py
    assert offline_llm._pipeline._batch_size == 8


def test_cpu_dtype_follows_the_cpu_and_the_environment(monkeypatch):
    monkeypatch.delenv(presets.DTYPE_ENV, raising=False)
    assert presets.choose_cpu_dtype("fpu sse2 avx2 avx512f amx_bf16 amx_tile") == "bfloat16"
    assert presets.choose_cpu_dtype("fpu avx512f avx512_bf16") == "bfloat16"
    assert presets.choose_cpu_dtype("fpu sse2 avx2 avx512f") == "float32"  # bf16 would be emulated, slower
    assert presets.choose_cpu_dtype("") == "float32"
    monkeypatch.setenv(presets.DTYPE_ENV, "float32")
    assert presets.choose_cpu_dtype("amx_bf16") == "float32"
    assert presets.load_llm("generator_a", "offline").torch_dtype == "float32"


@pytest.mark.parametrize("cpu_dtype, weights, compute", [("bfloat16", "bfloat16", None), ("float32", "bfloat16", "float32")])
def test_the_judges_keep_bf16_weights_and_compute_as_the_cpu_can(monkeypatch, cpu_dtype, weights, compute):
    monkeypatch.setattr(presets, "ensure_judge_model", lambda name: f"/cache/{name}")
    monkeypatch.setenv(presets.DTYPE_ENV, cpu_dtype)
    judge = presets.load_llm(presets.OFFLINE_JUDGES["qwen-1.5b"], "offline")
    assert judge.model == f"/cache/{presets.QWEN_1_5B.name}" and judge.model_name == presets.QWEN_1_5B.name + " (judge)"
    assert (judge.torch_dtype, judge.compute_dtype) == (weights, compute)
    smol = presets.load_llm(presets.OFFLINE_JUDGES["smollm2-135m"], "offline")  # no weights dtype of its own
    assert (smol.torch_dtype, smol.compute_dtype) == (cpu_dtype, None)


def test_an_unknown_offline_judge_is_named():
    from helpers.judge import build_judge

    with pytest.raises(ValueError, match="Không có giám khảo offline 'qwen-7b'.*qwen-1.5b"):
        build_judge(model="qwen-7b")


@pytest.mark.parametrize("preset", ["offline", "offline-gemma"])
def test_the_offline_judge_is_the_1_5b_rating_by_token_probabilities(monkeypatch, preset):
    from helpers.judge import TokenProbUltraFeedback, build_judge

    monkeypatch.setattr(presets, "resolve_model", lambda model: f"/models/{model}")
    assert presets.get_role("judge", preset) is presets.OFFLINE_JUDGES["qwen-1.5b"]
    judge = build_judge(num_completions=3, preset=preset)
    assert isinstance(judge, TokenProbUltraFeedback) and judge.num_completions == 3
    assert judge.llm.model == f"/models/offline:{presets.QWEN_1_5B.name}"
    assert presets.get_role("generator_a", preset).model == presets.OFFLINE_MODEL  # the 135M still writes
    # The 135M judge, the contrast of notebooks 03-04, is asked for by name and rates in JSON.
    assert type(build_judge(preset=preset, model="smollm2-135m")).__name__ == "KitUltraFeedback"
    assert type(build_judge(preset="course")).__name__ == "KitUltraFeedback"  # a hub judge that generates JSON


def test_a_token_probability_judge_refuses_what_it_cannot_do(monkeypatch):
    from helpers.judge import build_judge

    monkeypatch.setattr(presets, "resolve_model", lambda model: f"/models/{model}")
    with pytest.raises(ValueError, match="chỉ chấm điểm tổng thể, không chấm 'honesty'.*smollm2-135m"):
        build_judge(aspect="honesty", preset="offline")
    with pytest.raises(ValueError, match="Không có cách chấm 'vibes'. Có: json, probs"):
        build_judge(preset="offline", method="vibes")


def test_the_preset_table_says_how_each_judge_rates():
    from helpers.display import describe_preset

    offline = describe_preset(presets.choose_preset("offline")).splitlines()
    judge = offline.index("  judge        Qwen2.5-Coder-1.5B-Instruct (judge)")
    assert "xác suất token 1–5" in offline[judge + 1] and "max_new_tokens" not in offline[judge + 1]
    course = describe_preset(presets.choose_preset("course"))
    assert "greedy, max_new_tokens=512" in course and "xác suất token" not in course
