"""CPU speed settings: threads per process, and faster products and attention that compute the same values."""

import multiprocessing
import os

import pytest
import torch
import torch.nn.functional as F

from helpers import speed


def _threads_in_a_child(queue):
    queue.put(speed.choose_cpu_threads("auto"))


def test_threads_auto_all_cores_in_the_kernel_one_in_a_step_process(monkeypatch):
    monkeypatch.delenv(speed.THREADS_ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert speed.choose_cpu_threads("auto") == len(os.sched_getaffinity(0))
    queue = multiprocessing.get_context("spawn").Queue()
    child = multiprocessing.get_context("spawn").Process(target=_threads_in_a_child, args=(queue,))
    child.start()
    child.join(60)
    assert queue.get(timeout=5) == 1  # as distilabel's step processes: two generators share 2 cores


def test_threads_fixed_setting_and_environment(monkeypatch):
    monkeypatch.delenv(speed.THREADS_ENV, raising=False)
    assert speed.choose_cpu_threads(3) == 3 and speed.choose_cpu_threads(None) is None
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # as Ray sets it in its workers
    assert speed.choose_cpu_threads("auto") == 1
    monkeypatch.setenv(speed.THREADS_ENV, "1")  # e.g. the grader running 2 notebooks at once on 2 cores
    assert speed.choose_cpu_threads("auto") == 1 and speed.choose_cpu_threads(4) == 1


class Tiny(torch.nn.Module):
    """A stand-in with the attributes speed_up_linear reads from a transformers model."""

    def __init__(self, dtype):
        super().__init__()
        torch.manual_seed(0)
        self.a = torch.nn.Linear(64, 96, dtype=dtype)
        self.b = torch.nn.Linear(96, 32, bias=False, dtype=dtype)
        self.dtype, self.device = dtype, torch.device("cpu")

    def forward(self, x):
        return self.b(self.a(x))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("rows", [1, 2, 3, 5, 8, 12])
def test_faster_linear_gives_the_same_products(dtype, rows):
    model = Tiny(dtype)
    x = torch.randn(rows, 1, 64, dtype=dtype)  # (sequences, one new token, features): a decoding step
    expected = F.linear(F.linear(x, model.a.weight, model.a.bias), model.b.weight)
    assert speed.speed_up_linear(model) == 2
    with torch.inference_mode():
        got = model(x)
    assert got.shape == expected.shape and got.dtype == dtype
    tolerance = 1e-5 if dtype == torch.float32 else 2e-2
    torch.testing.assert_close(got, expected, rtol=tolerance, atol=tolerance)
    assert torch.backends.mkldnn.enabled  # switched off for one bf16 row only while it ran


def test_faster_linear_restores_onednn_after_an_error():
    model = Tiny(torch.bfloat16)
    speed.speed_up_linear(model)
    with pytest.raises(RuntimeError):
        model.a(torch.randn(1, 63, dtype=torch.bfloat16))  # wrong width
    assert torch.backends.mkldnn.enabled


def test_faster_linear_leaves_other_layers_and_dtypes_alone():
    class Adapter(torch.nn.Linear):
        pass

    model = Tiny(torch.float32)
    model.a = Adapter(64, 96)
    assert speed.speed_up_linear(model) == 1  # a subclass (LoRA, quantized) keeps its own forward
    assert speed.speed_up_linear(Tiny(torch.float16)) == 0


def _attention_inputs(batch, keys, dtype=torch.bfloat16, queries=1):
    torch.manual_seed(1)
    module = torch.nn.Module()
    module.num_key_value_groups, module.is_causal = 3, True
    module.eval()
    query = torch.randn(batch, 9, queries, 64, dtype=dtype)
    key, value = torch.randn(batch, 3, keys, 64, dtype=dtype), torch.randn(batch, 3, keys, 64, dtype=dtype)
    mask = torch.ones(batch, 1, queries, keys, dtype=torch.bool)
    mask[0, :, :, :7] = False  # the first sequence is left-padded
    return module, query, key, value, mask


@pytest.mark.parametrize("masked", [True, False])
def test_attention_decoding_step_matches_sdpa(masked):
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    module, query, key, value, mask = _attention_inputs(batch=3, keys=50)
    mask = mask if masked else None
    expected, _ = sdpa_attention_forward(module, query.float(), key.float(), value.float(), mask, scaling=0.125)
    got, _ = speed.attend(module, query, key, value, mask, scaling=0.125)
    assert got.shape == (3, 1, 9, 64) and got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, rtol=2e-2, atol=2e-2)


def test_attention_prompts_and_float32_go_to_sdpa():
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    for dtype, queries in ((torch.bfloat16, 4), (torch.float32, 1)):
        module, query, key, value, mask = _attention_inputs(2, 4, dtype=dtype, queries=queries)
        mask = mask.tril() if queries > 1 else mask
        mask[0, :, :, :] = True
        got, _ = speed.attend(module, query, key, value, mask, scaling=0.125)
        assert torch.equal(got, sdpa_attention_forward(module, query, key, value, mask, scaling=0.125)[0])


def test_loaded_model_uses_the_fast_paths_and_decodes_as_before(offline_llm):
    model = offline_llm._pipeline.model
    assert model.config._attn_implementation == speed.ATTENTION
    assert all("forward" in vars(m) for m in model.modules() if type(m) is torch.nn.Linear)
    ids = offline_llm._pipeline.tokenizer(["Name a primary colour and say why."], return_tensors="pt").input_ids

    def next_token_logits(m):  # one decoding step after the prompt: the path the speed-ups change
        with torch.inference_mode():
            cache = m(ids[:, :-1], use_cache=True).past_key_values
            return m(ids[:, -1:], past_key_values=cache).logits[0, -1].float()

    plain = type(model).from_pretrained(model.name_or_path, dtype=model.dtype).eval()  # sdpa, torch's products
    fast, reference = next_token_logits(model), next_token_logits(plain)
    assert fast.argmax() == reference.argmax()
    assert F.cosine_similarity(fast, reference, dim=0) > 0.999  # equal up to the last bits of the dtype
