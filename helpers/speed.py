"""Faster CPU decoding for the kit's small model: the product path of each linear layer, and attention for one query row."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# Widest float32 step (rows = sequences decoded at once) computed as weight @ rows.T. With 1 thread, torch's usual
# path was as fast from 6 rows up; with 2 threads it was slower up to 8 rows, the kit's batch size (measured 2 threads
# only, see speed_up_linear).
FLOAT32_FEW_ROWS_ONE_THREAD = 5
FLOAT32_FEW_ROWS_MORE_THREADS = 8


class FastLinear(torch.nn.Linear):
    """``nn.Linear`` whose product path depends on the dtype and the number of rows (a decoding step has few)."""

    # A class, not a per-layer function: copies (copy.deepcopy, a reference model) and pickles keep working.
    def forward(self, x):
        """Return x @ weight.T + bias by the path measured fastest for this dtype and number of rows."""
        rows, dtype = x.numel() // x.shape[-1], self.weight.dtype
        mkldnn = torch.backends.mkldnn
        if dtype == torch.bfloat16 and rows == 1 and mkldnn.enabled:
            # A process-wide flag: the kit generates from one Python thread per process, so nothing else runs meanwhile.
            mkldnn.enabled = False
            try:
                return F.linear(x, self.weight, self.bias)
            finally:
                mkldnn.enabled = True
        few = FLOAT32_FEW_ROWS_ONE_THREAD if torch.get_num_threads() == 1 else FLOAT32_FEW_ROWS_MORE_THREADS
        if dtype == torch.float32 and 2 <= rows <= few:
            out = torch.mm(self.weight, x.reshape(rows, -1).t()).t()
            if self.bias is not None:
                out = out + self.bias
            return out.reshape(*x.shape[:-1], out.shape[-1])
        return F.linear(x, self.weight, self.bias)


def speed_up_linear(model) -> int:
    """Give the model's linear layers the faster CPU product for decoding steps; return how many were changed."""
    # A decoding step multiplies every weight by one row per sequence: reading the weights is the whole cost.
    # torch's default path for these few-row products reached only part of the memory bandwidth here
    # (2-core AMD EPYC, all 211 products of one step, `python -m coursetools benchmark` has the end-to-end figures):
    # - bfloat16, 1 row: oneDNN 21 ms, torch's own kernel (oneDNN off) 13 ms; from 2 rows up oneDNN is faster.
    # - float32, 2-4 rows: MKL 50-69 ms (3 rows slower than 8), weight @ rows.T 28-39 ms; with 2 threads MKL
    #   46-70 ms at 2-8 rows, weight @ rows.T 17-36 ms. At 1 row both took 33 ms.
    # The same weights give the same products up to the last bits (the order of additions differs).
    if model.device.type != "cpu" or model.dtype not in (torch.bfloat16, torch.float32):
        return 0
    return swap_linear_class(model, FastLinear)


def swap_linear_class(model, cls) -> int:
    """Give every plain ``nn.Linear`` of the model the class ``cls`` (same weights); return how many were changed."""
    changed = 0
    for module in model.modules():
        if type(module) is torch.nn.Linear:  # not subclasses (quantized or LoRA layers have their own forward)
            module.__class__ = cls
            changed += 1
    return changed


ATTENTION = "kit_cpu_sdpa"


def attend(module, query, key, value, attention_mask, dropout=0.0, scaling=None, is_causal=None, **kwargs):
    """transformers attention: sdpa, except one bfloat16 query row per sequence (a decoding step) as two matmuls."""
    # torch's CPU flash-attention kernel took 1.3 ms per layer for one bf16 query row against a 550-token cache
    # (3 sequences, 1 thread): 8x its float32 time, and half of a judge's decoding step. Two batched matmuls
    # (the key/value heads shared, not repeated) took 0.17 ms. Prompts (many rows) still go to sdpa.
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    if query.shape[2] != 1 or query.dtype != torch.bfloat16 or query.device.type != "cpu" or module.training:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    batch, heads, _, dim = query.shape
    groups = heads // key.shape[1]
    scores = torch.matmul(query.reshape(batch, key.shape[1], groups, dim), key.transpose(-1, -2)).float()
    scores = scores * (dim**-0.5 if scaling is None else scaling)
    if attention_mask is not None:  # (batch, 1, 1, keys): True = attend for sdpa's boolean mask, else added
        mask = attention_mask[:, :, :, : key.shape[-2]]
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask
    probs = scores.softmax(-1).to(value.dtype)
    out = torch.matmul(probs, value)  # (batch, key heads, groups, dim)
    return out.reshape(batch, heads, 1, dim).transpose(1, 2).contiguous(), None


def use_fast_attention(model) -> bool:
    """Switch a bfloat16 CPU model loaded with sdpa attention to ``attend``; return whether it was switched."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    if model.config._attn_implementation != "sdpa" or model.device.type != "cpu" or model.dtype != torch.bfloat16:
        return False  # float32 and GPUs: sdpa is already fast there
    AttentionInterface.register(ATTENTION, attend)
    AttentionMaskInterface.register(ATTENTION, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])  # the same masks as sdpa
    model.set_attn_implementation(ATTENTION)
    return model.config._attn_implementation == ATTENTION


class Float32Linear(torch.nn.Linear):
    """``nn.Linear`` that keeps its bfloat16 weights but multiplies in float32 (for CPUs without native bf16)."""

    def forward(self, x):
        """Return x @ weight.T + bias computed in float32, the weight upcast for this product only."""
        bias = None if self.bias is None else self.bias.float()
        return F.linear(x.float(), self.weight.float(), bias)


def compute_in_float32(model) -> int:
    """Make a bfloat16 CPU model compute in float32 while its weights stay bfloat16; return the layers changed."""
    # A CPU without native bf16 (a laptop's AVX2) emulates bf16 products: one 600-token prompt of the 1.5B judge took
    # 46 s in bf16 and 14 s in float32, but float32 weights take 7.1 GB of RAM instead of 3.6 GB. Here each product
    # upcasts its weight on the fly (one weight at a time in float32), and the hidden states are float32 from the
    # embedding on, so norms, attention and the KV cache compute in float32 too.
    if model.device.type != "cpu" or model.dtype != torch.bfloat16:
        return 0
    model.get_input_embeddings().register_forward_hook(lambda module, inputs, output: output.float())
    return swap_linear_class(model, Float32Linear)
