"""Faster decoding: the products and the attention of a decoding step compute what torch's defaults compute."""

import pytest
import torch
import torch.nn.functional as F

from helpers import speed


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
def test_faster_linear_gives_the_same_products(dtype, rows, monkeypatch):
    model = Tiny(dtype)
    x = torch.randn(rows, 1, 64, dtype=dtype)  # (sequences, one new token, features): a decoding step
    expected = F.linear(F.linear(x, model.a.weight, model.a.bias), model.b.weight)
    assert speed.speed_up_linear(model) == 2 and speed.speed_up_linear(model) == 0  # once per layer
    seen = []
    real_mm, real_linear = torch.mm, F.linear
    monkeypatch.setattr(speed.torch, "mm", lambda *a: seen.append("mm") or real_mm(*a))
    monkeypatch.setattr(speed.F, "linear", lambda *a: seen.append(torch.backends.mkldnn.enabled) or real_linear(*a))
    with torch.inference_mode():
        got = model(x)
    few = speed.FLOAT32_FEW_ROWS_ONE_THREAD if torch.get_num_threads() == 1 else speed.FLOAT32_FEW_ROWS_MORE_THREADS
    if dtype == torch.float32:
        assert seen == (["mm", "mm"] if 2 <= rows <= few else [True, True])
    else:
        assert seen == ([False, False] if rows == 1 else [True, True])  # one bf16 row: oneDNN off for that product
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


def test_faster_linear_survives_copies_and_pickles():
    import copy
    import pickle

    model = Tiny(torch.float32)
    speed.speed_up_linear(model)
    clone = copy.deepcopy(model)  # e.g. a DPO reference model: it must compute with its own weights
    with torch.no_grad():
        clone.a.weight.zero_()
    x = torch.randn(3, 1, 64)
    assert not torch.equal(model(x), clone(x))
    assert torch.equal(pickle.loads(pickle.dumps(model))(x), model(x))


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
    expected, _ = sdpa_attention_forward(module, query.float(), key.float(), value.float(), mask, scaling=0.3)
    got, _ = speed.attend(module, query, key, value, mask, scaling=0.3)
    assert got.shape == (3, 1, 9, 64) and got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), expected, rtol=2e-2, atol=2e-2)
    default, _ = speed.attend(module, query, key, value, mask)  # no scaling given: 1/sqrt(head size), as sdpa
    expected, _ = sdpa_attention_forward(module, query.float(), key.float(), value.float(), mask)
    torch.testing.assert_close(default.float(), expected, rtol=2e-2, atol=2e-2)


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
    bf16 = model.dtype == torch.bfloat16  # float32 (e.g. the emulated laptop) keeps sdpa: it is fast there
    assert model.config._attn_implementation == (speed.ATTENTION if bf16 else "sdpa")
    assert all(type(m) is not torch.nn.Linear for m in model.modules())
    tokenizer = offline_llm._pipeline.tokenizer
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # as in generation: left-padded rows, so the mask matters
    try:
        batch = tokenizer(["Name a primary colour and say why.", "Hi", "What is 2 + 2?"], return_tensors="pt", padding=True)
    finally:
        tokenizer.padding_side = side
    ids, mask = batch.input_ids, batch.attention_mask

    def next_token_logits(m):  # one decoding step of three sequences after their prompts: the path changed
        with torch.inference_mode():
            cache = m(ids[:, :-1], attention_mask=mask[:, :-1], use_cache=True).past_key_values
            return m(ids[:, -1:], attention_mask=mask, past_key_values=cache).logits[:, -1].float()

    plain = type(model).from_pretrained(model.name_or_path, dtype=model.dtype).eval()  # sdpa, torch's products
    fast, reference = next_token_logits(model), next_token_logits(plain)
    assert torch.equal(fast.argmax(-1), reference.argmax(-1))
    assert (F.cosine_similarity(fast, reference, dim=-1) > 0.999).all()  # equal up to the last bits of the dtype


def test_float32_compute_keeps_bf16_weights_and_matches_a_float32_model():
    class Embedded(Tiny):
        def __init__(self):
            super().__init__(torch.bfloat16)
            self.embed = torch.nn.Embedding(10, 64, dtype=torch.bfloat16)

        def get_input_embeddings(self):
            return self.embed

        def forward(self, ids):
            return self.b(self.a(self.embed(ids)))

    model = Embedded()
    reference = {name: p.detach().float() for name, p in model.named_parameters()}
    ids = torch.tensor([[1, 2, 3]])
    assert speed.compute_in_float32(model) == 2
    out = model(ids)
    assert out.dtype == torch.float32 and all(p.dtype == torch.bfloat16 for p in model.parameters())
    expected = F.linear(F.linear(reference["embed.weight"][ids], reference["a.weight"], reference["a.bias"]),
                        reference["b.weight"])
    assert torch.equal(out, expected)  # the same bf16 weights, multiplied in float32
    assert speed.compute_in_float32(Tiny(torch.float32)) == 0  # a float32 model is left as it is
