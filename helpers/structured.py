"""Structured output for transformers: a JSON schema (or regex) enforced token by token with llguidance."""

from __future__ import annotations

import inspect
import json
from typing import Any

# distilabel 1.5.3 builds TransformersLLM's structured output with outlines 0.1.x, whose outlines_core 0.1.26 has no
# wheel past Python 3.12 (Colab runs 3.13) and rebuilt a 6-7 s index per schema. llguidance ships one abi3 wheel per
# platform with no dependencies and compiles the judge's schema in ~0.3 s; it has no transformers logits processor,
# so the ~30 lines below are that processor. Each generation starts from a fresh matcher (outlines 0.1.x kept state).

# Compact JSON with the usual separators: `{"ratings": [1, 2], "rationales": ["...", "..."]}`. Flexible
# whitespace (llguidance's default) let the 135M judge spend its tokens on newlines.
JSON_OPTIONS = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}


def build_grammar(structured_output: dict) -> str:
    """Return the llguidance grammar of distilabel's ``structured_output`` ({"format": "json"|"regex", "schema": ...})."""
    from llguidance import LLMatcher

    schema = structured_output.get("schema")
    if schema is None:
        raise ValueError("structured_output cần khóa 'schema' (một JSON schema, một lớp pydantic hoặc một regex).")
    fmt = structured_output.get("format") or ("regex" if isinstance(schema, str) else "json")
    if fmt == "regex":
        return LLMatcher.grammar_from_regex(schema)
    if fmt != "json":
        raise ValueError(f"structured_output 'format' phải là 'json' hoặc 'regex', không phải {fmt!r}.")
    return LLMatcher.grammar_from_json_schema(schema_as_dict(schema), defaults=JSON_OPTIONS)


def schema_as_dict(schema: Any) -> dict:
    """Return a JSON schema given as a dict, a JSON string or a pydantic model class, as a dict."""
    if inspect.isclass(schema) and hasattr(schema, "model_json_schema"):
        return schema.model_json_schema()
    if isinstance(schema, str):
        return json.loads(schema)
    return dict(schema)


def build_tokenizer(hf_tokenizer, vocab_size: int):
    """Return llguidance's view of a transformers fast tokenizer (its eos is the one the kit fixed)."""
    from copy import copy

    from llguidance import LLTokenizer

    from helpers.workarounds import repair_byte_level_decoder

    # As llguidance.hf.from_tokenizer, plus the repair of the decoder transformers gives this GGUF's tokenizer.
    backend = copy(hf_tokenizer.backend_tokenizer)
    backend.no_padding()
    backend.no_truncation()
    spec = repair_byte_level_decoder(json.loads(backend.to_str()))
    return LLTokenizer(json.dumps(spec), n_vocab=vocab_size, eos_token=hf_tokenizer.eos_token_id)


class GrammarLogitsProcessor:
    """transformers logits processor: only tokens the grammar allows next; a new generation starts a new matcher."""

    def __init__(self, tokenizer, grammar: str):
        from llguidance import LLMatcher

        self.tokenizer = tokenizer
        self.grammar = grammar
        error = LLMatcher.validate_grammar(grammar, tokenizer)
        if error:
            raise ValueError(f"Lược đồ structured output không hợp lệ: {error}")
        self.reset()

    def reset(self) -> None:
        """Forget the current generation: the next call starts fresh matchers (the kit calls it per generate())."""
        self._matchers: list = []
        self._previous = None

    def __call__(self, input_ids, scores):
        """Advance each row's matcher by its last token (or start fresh ones), then mask the scores."""
        from llguidance import LLMatcher

        if self._continues(input_ids):
            for matcher, token in zip(self._matchers, input_ids[:, -1].tolist()):
                if not matcher.is_stopped():
                    matcher.consume_token(token)
        else:  # a new batch within one call: transformers calls once per new token, with the whole sequence so far
            # (beam search reorders rows between calls and is not supported; the kit decodes greedily or samples)
            self._matchers = [LLMatcher(self.tokenizer, self.grammar) for _ in range(input_ids.shape[0])]
        self._previous = input_ids.detach().clone()
        for row, matcher in enumerate(self._matchers):
            if matcher.is_error():
                raise RuntimeError(f"Structured output: {matcher.get_error()}")
            allowed = self._allowed(matcher, scores.shape[1]).to(scores.device)  # on a GPU, the scores are there
            scores[row] = scores[row].masked_fill(~allowed, float("-inf"))
        return scores

    def _continues(self, input_ids) -> bool:
        """Whether these ids extend the previous call's ids by exactly one token (the same generation)."""
        import torch

        previous = self._previous
        return (
            previous is not None
            and input_ids.shape[0] == previous.shape[0]
            and input_ids.shape[1] == previous.shape[1] + 1
            and torch.equal(input_ids[:, :-1], previous)
        )

    @staticmethod
    def _allowed(matcher, width: int):
        """Return a bool tensor of the tokens allowed next (one bit per token, little-endian, in llguidance's mask)."""
        import torch

        bits = torch.frombuffer(bytearray(matcher.compute_bitmask()), dtype=torch.uint8)
        allowed = ((bits.unsqueeze(1) >> torch.arange(8, dtype=torch.uint8)) & 1).flatten().bool()
        if allowed.numel() < width:  # the model's embedding may be padded past the tokenizer's vocabulary
            allowed = torch.cat([allowed, allowed.new_zeros(width - allowed.numel())])
        return allowed[:width]
