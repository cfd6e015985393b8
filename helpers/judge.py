"""The LLM judge: UltraFeedback with a schema that keeps ratings present, in 1-5 and one per completion."""

from __future__ import annotations

import os
from typing import Any

from distilabel.steps.tasks import UltraFeedback

from helpers import replay
from helpers.llm import KitTransformersLLM
from helpers.presets import OFFLINE_JUDGES, get_role, load_llm
from helpers.workarounds import give_default_schema, set_ultrafeedback_system_prompt

RATINGS = [1, 2, 3, 4, 5]
# How a judge rates: UltraFeedback's JSON (generated text) or the expected rating under its next-token probabilities.
JUDGE_METHODS = ("json", "probs")


# UltraFeedback's aspects that, in distilabel, also write a type per text and a rationale for its rating
# (distilabel's outputs(): types, rationales, ratings, rationales-for-ratings).
TYPED_ASPECTS = ("helpfulness", "truthfulness")
TYPES = [1, 2, 3]  # the numbered types of UltraFeedback's helpfulness/truthfulness templates


def build_rating_schema(
    num_completions: int, max_rationale_chars: int = 100, with_rationales: bool = True, aspect: str = "overall-rating"
) -> dict:
    """Return the JSON schema of one judgement: exactly ``num_completions`` ratings in 1-5 and short rationales (and types)."""

    def one_per_completion(items: dict) -> dict:
        return {"type": "array", "items": items, "minItems": num_completions, "maxItems": num_completions}

    rationale = {"type": "string", "minLength": 1, "maxLength": max_rationale_chars}
    properties = {}
    if aspect in TYPED_ASPECTS:
        # Keys in distilabel's order (types, ratings, rationales, then the rating's own rationale), so that the cost
        # of these aspects is the cost of their real outputs. distilabel's schema calls the last key
        # `rationales_for_rating` but declares the output column `rationales-for-ratings`: the column's name is kept.
        properties["types"] = one_per_completion({"anyOf": [{"type": "integer", "enum": TYPES}, {"type": "null"}]})
    properties["ratings"] = one_per_completion({"type": "integer", "enum": RATINGS})
    if with_rationales:
        properties["rationales"] = one_per_completion(rationale)
        if aspect in TYPED_ASPECTS:
            properties["rationales-for-ratings"] = one_per_completion(rationale)
    # No other keys: JSON Schema allows extra properties unless told, and a free key lets the judge ramble.
    # The ratings come before any rationale: the judge commits to a rating before it writes why.
    return {"title": "Judgement", "type": "object", "properties": properties, "required": list(properties),
            "additionalProperties": False}


class KitUltraFeedback(UltraFeedback):
    """distilabel UltraFeedback whose default structured output is bounded (see build_rating_schema)."""

    # UltraFeedback's own schema is `{"ratings": [integer...], "rationales": [string...]}`: any
    # integer, any length. A small judge filled it with 86 ratings until max_new_tokens cut the JSON.
    # Overriding get_structured_output keeps `use_default_structured_output=True`, which is what
    # makes UltraFeedback parse the JSON instead of running its text regex.
    # Not `num_generations`: on a distilabel Task that means "LLM samples per input".
    num_completions: int = 2
    max_rationale_chars: int = 100
    # Ratings only, no critique: the chapter's cheaper "overall score" (fewer tokens to generate).
    with_rationales: bool = True
    use_default_structured_output: bool = True

    def get_structured_output(self) -> dict[str, Any]:
        """Return the bounded schema for this task's number of completions."""
        return build_rating_schema(self.num_completions, self.max_rationale_chars, self.with_rationales, self.aspect)

    def _set_default_structured_output(self) -> None:
        """Give the kit's LLM the schema as distilabel does, minus its check that outlines is installed."""
        # The kit's TransformersLLM enforces the schema with llguidance (helpers/structured.py), not outlines.
        if isinstance(self.llm, KitTransformersLLM) and self.use_default_structured_output and not self.llm.structured_output:
            give_default_schema(self, self.get_structured_output())
        else:
            super()._set_default_structured_output()


class TokenProbUltraFeedback(UltraFeedback):
    """UltraFeedback rated from the judge's next-token probabilities of "1".."5", each completion alone (no text generated)."""

    # The chapter's "a score can be a single token". distilabel has no such task: TransformersLLM.generate returns
    # only text, so process() reads the probabilities from the loaded model itself (score_with_token_probs). The
    # rating is their expected value, e.g. 4.27: a number from 1 to 5, not always a whole one; no rationale.
    num_completions: int = 2  # accepted as build_judge passes it; every completion of a row is rated, one prompt each
    use_default_structured_output: bool = False

    def process(self, inputs):  # type: ignore[override]
        """Yield the rows with ``ratings`` (expected ratings), ``rationales`` (None) and ``model_name`` added."""
        rated = score_with_token_probs(self, list(inputs), share_prefix=True)
        yield [{**row, "model_name": self.llm.model_name} for row in rated]


def build_judge(
    structured: bool = True,
    num_completions: int = 2,
    aspect: str = "overall-rating",
    preset: str | None = None,
    system_prompt: str | None = None,
    model: str | None = None,
    method: str | None = None,
    **kwargs,
) -> UltraFeedback:
    """Return the preset's UltraFeedback judge (or the offline judge ``model``), rating by its method or ``method``."""
    if model is not None and model not in OFFLINE_JUDGES:
        raise ValueError(f"Không có giám khảo offline '{model}'. Có: {', '.join(OFFLINE_JUDGES)}.")
    role = OFFLINE_JUDGES[model] if model else get_role("judge", preset)
    method = method or role.scoring
    if method not in JUDGE_METHODS:
        raise ValueError(f"Không có cách chấm '{method}'. Có: {', '.join(JUDGE_METHODS)}.")
    if method == "probs" and aspect != "overall-rating":
        raise ValueError(f"Giám khảo xác suất token chỉ chấm điểm tổng thể, không chấm '{aspect}': hãy dùng method=\"json\" "
                         "(ví dụ build_judge(aspect=..., model=\"smollm2-135m\")).")
    llm = load_llm(role, preset)
    if method == "probs":
        judge = TokenProbUltraFeedback(llm=llm, aspect=aspect, num_completions=num_completions, **kwargs)
    elif structured:
        judge = KitUltraFeedback(llm=llm, aspect=aspect, num_completions=num_completions, **kwargs)
    else:
        judge = UltraFeedback(llm=llm, aspect=aspect, use_default_structured_output=False, **kwargs)
    if system_prompt is not None:
        # UltraFeedback has no field for it; setting it is the one way to iterate on the judge's system prompt.
        set_ultrafeedback_system_prompt(judge, system_prompt)
    return judge


def rate(judge: UltraFeedback, rows: list[dict]) -> list[dict]:
    """Rate rows of ``instruction`` + ``generations`` with a loaded judge; returns rows with ratings added."""
    missing = [c for c in ("instruction", "generations") if rows and c not in rows[0]]
    if missing:
        hint = " (GroupColumns ghi ra `grouped_generation`: hãy đổi tên cột này thành `generations`)" if "grouped_generation" in rows[0] else ""
        raise KeyError(f"Thiếu cột {missing} cho UltraFeedback{hint}.")
    return next(judge.process([dict(row) for row in rows]))


def rate_each_alone(judge: UltraFeedback, rows: list[dict]) -> list[dict]:
    """Rate every completion in a prompt of its own (a one-completion judge), so the others cannot sway its rating."""
    alone = [{"instruction": row["instruction"], "generations": [text]} for row in rows for text in row["generations"]]
    rated = iter(rate(judge, alone))
    out = []
    for row in rows:
        outs = [next(rated) for _ in row["generations"]]
        ratings = [(o.get("ratings") or [None])[0] for o in outs]
        rationales = [(o.get("rationales") or [None])[0] for o in outs]
        out.append({**row, "ratings": ratings, "rationales": rationales})
    return out


RATING_CUE = "#### Output for Text 1\nRating: "  # the first words of UltraFeedback's answer format, up to the rating
PROBE_INSTRUCTION = "\u2063"  # an instruction no learner writes (invisible separator): where the shared rubric ends


def build_score_prompt(judge: UltraFeedback, instruction: str, text: str) -> str:
    """Return UltraFeedback's own prompt for one text, followed by its answer format up to the rating."""
    chat = judge.format_input({"instruction": instruction, "generations": [text]})
    return judge.llm.prepare_input(chat) + RATING_CUE


def score_with_token_probs(judge: UltraFeedback, rows: list[dict], share_prefix: bool = False) -> list[dict]:
    """Rate every completion alone from the judge's next-token probabilities of "1".."5" (no text generated)."""
    # The chapter's point that a score can be "a single token": TransformersLLM.generate returns only
    # text, so the probabilities of the rating tokens need one forward pass of the loaded model itself.
    prompts = [build_score_prompt(judge, row["instruction"], text) for row in rows for text in row["generations"]]
    probe = build_score_prompt(judge, PROBE_INSTRUCTION, "-") if share_prefix else None  # only a shared prefix splits
    scores = iter(score_or_replay(judge, prompts, share_prefix, probe))
    out = []
    for row in rows:
        ratings = [next(scores) for _ in row["generations"]]
        out.append({**row, "ratings": ratings, "rationales": [None] * len(ratings)})
    return out


def score_or_replay(judge: UltraFeedback, prompts: list[str], share_prefix: bool, probe: str | None) -> list[float]:
    """Return score_prompts' scores, each taken from a recorded run when there is one (helpers/replay.py)."""
    pipe = judge.llm._pipeline
    if not replay.is_active():
        return score_prompts(pipe.model, pipe.tokenizer, prompts, share_prefix, probe)
    keys = make_score_keys(judge, prompts, share_prefix, probe)
    scores = {prompt: replay.find_recorded(key) for prompt, key in keys.items()}
    missing = [prompt for prompt, score in scores.items() if score is None]
    for prompt, score in zip(missing, score_prompts(pipe.model, pipe.tokenizer, missing, share_prefix, probe)):
        scores[prompt] = score
        replay.record(keys[prompt], score)
    return [scores[prompt] for prompt in prompts]


def make_score_keys(judge: UltraFeedback, prompts: list[str], share_prefix: bool, probe: str | None) -> dict[str, str]:
    """Return each distinct prompt's replay key: the prompt, the judge's model and settings, the thread count."""
    import torch

    # One key per prompt: a prompt's score does not depend on the others scored with it (the probe fixes the split;
    # without a shared prefix each prompt is its own pass), so a run that rates other rows still finds its texts.
    setting = {"kind": "score", "llm": getattr(judge.llm, "_pipeline_key", lambda: judge.llm.model_name)(),
               "share_prefix": share_prefix, "probe": probe, "threads": torch.get_num_threads()}
    return {prompt: replay.make_key(prompt=prompt, **setting) for prompt in dict.fromkeys(prompts)}


def score_prompts(model, tokenizer, prompts: list[str], share_prefix: bool = True, probe: str | None = None) -> list[float]:
    """Return, per prompt, the expected rating under the model's next-token probabilities of "1".."5"."""
    # share_prefix: every prompt starts with the same system prompt and rubric (~300 tokens of ~400); it is read
    # once, and its keys and values are reused for each prompt's own tokens (transformers has no prefix cache of its
    # own for a forward pass), and only the next token's logits are computed. In float32 the scores are a full
    # pass's (tests/test_judge_check.py); in bf16 the splits round apart by up to ~0.1. Notebook 03 scores the 135M
    # judge in one pass per text (score_with_token_probs' default); the offline judge's task shares the prefix.
    import torch

    digits = [tokenizer.convert_tokens_to_ids(str(k)) for k in RATINGS]
    values = torch.tensor(RATINGS, dtype=torch.float32)
    scores = {}  # by prompt: a text rated in both orders is read once
    with torch.inference_mode():
        if not share_prefix:
            for prompt in dict.fromkeys(prompts):
                probs = model(**tokenizer(prompt, return_tensors="pt")).logits[0, -1, digits].softmax(-1)
                scores[prompt] = round(float((probs * values).sum()), 2)
            return [scores[prompt] for prompt in prompts]
        encoded = {prompt: tokenizer(prompt, add_special_tokens=False).input_ids for prompt in prompts}
        if not encoded:
            return []
        # With a probe (the same template, another instruction) the split is the rubric's end whatever the batch: a
        # text then scores the same alone or among others, with 2 completions or 3, in bf16 too.
        others = [tokenizer(probe, add_special_tokens=False).input_ids] if probe is not None else []
        together = list(encoded.values()) + others
        shared = len(os.path.commonprefix(together)) if len(together) > 1 else 0
        shared = min(shared, min(map(len, encoded.values())) - 1)  # every prompt keeps at least one token of its own
        cache = model(torch.tensor([next(iter(encoded.values()))[:shared]]), use_cache=True).past_key_values if shared else None
        for prompt, ids in encoded.items():
            logits = model(torch.tensor([ids[shared:]]), past_key_values=cache, use_cache=cache is not None,
                           logits_to_keep=1).logits
            if cache is not None:
                cache.crop(shared)  # back to the shared prefix for the next prompt
            probs = logits[0, -1, digits].softmax(-1)
            scores[prompt] = round(float((probs * values).sum()), 2)
    return [scores[prompt] for prompt in prompts]


def count_valid_ratings(rows: list[dict]) -> tuple[int, int]:
    """Return (valid ratings, completions): a rating counts if it is an integer 1-5 at its completion's place."""
    valid = total = 0
    for row in rows:
        ratings = row.get("ratings") or []
        total += len(row["generations"])
        # A plain-text judge can return more or fewer ratings than completions: extra ones count for nothing.
        valid += sum(1 for i in range(len(row["generations"])) if i < len(ratings) and ratings[i] in RATINGS)
    return valid, total
