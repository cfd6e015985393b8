"""The kit's TransformersLLM: distilabel's class with CPU threads, a seed and batching set at load time."""

from __future__ import annotations

import json
from typing import Literal, Optional, Union

from distilabel.models import TransformersLLM

from helpers import replay
from helpers.memory import release_freed_memory
from helpers.speed import compute_in_float32, speed_up_linear, use_fast_attention
from helpers.threads import choose_cpu_threads
from helpers.workarounds import finish_load, load_without_outlines, read_generate_signature, set_pipeline_batch_size

# What this process has already loaded, keyed by what built it. distilabel's TransformersLLM loads
# the weights again on every `load()`, and the notebooks call tasks directly as the chapter does:
# notebook 4 alone builds nine judges of the same model. Without these, it held nine copies of the
# weights and built the same structured-output grammar nine times. Generation does not change a model,
# so one loaded copy can serve every task.
_PIPELINES: dict = {}
_GRAMMARS: dict = {}


def forget_loaded_models() -> None:
    """Drop the models and structured-output grammars this process keeps for reuse."""
    _PIPELINES.clear()
    _GRAMMARS.clear()


class KitTransformersLLM(TransformersLLM):
    """distilabel ``TransformersLLM`` that sets torch threads, the seed and the batch size when loaded."""

    # distilabel runs each LLM step in its own process; `load()` runs inside that process, so this is
    # the one place where the setting reaches every step. "auto": see helpers.threads.choose_cpu_threads.
    cpu_threads: Optional[Union[int, Literal["auto"]]] = None
    seed: int = 0
    # transformers' text-generation pipeline handles a list one prompt at a time unless it is
    # given a batch size; distilabel does not pass one, so set the pipeline's default here.
    batch_size: int = 1
    # Offline models load from a local cache folder; a display name keeps machine paths out of
    # the `model_name` column (as distilabel's InferenceEndpointsLLM does with model_display_name).
    display_name: Optional[str] = None
    # Base models never emit eos and run on to a made-up next question. distilabel's
    # TransformersLLM passes no stopping criteria, and transformers' own `stop_strings` cost
    # ~1.2 s per call with Gemma's 262k-token vocabulary, so the texts are cut after generation.
    stop: Optional[list[str]] = None
    # "float32" for weights loaded in bf16 on a CPU without native bf16: products in float32, weights kept in bf16.
    compute_dtype: Optional[str] = None

    @property
    def model_name(self) -> str:
        """Return the display name if set, else the model id or folder."""
        return self.display_name or self.model

    def load(self) -> None:
        """Set threads and seed, then load the model as distilabel does (once per process)."""
        import torch
        from transformers import set_seed

        threads = choose_cpu_threads(self.cpu_threads)
        if threads:
            torch.set_num_threads(threads)
        set_seed(self.seed)
        key = self._pipeline_key()
        if key in _PIPELINES:
            finish_load(self, _PIPELINES[key])
        else:
            # Hand back the heap that earlier work freed before new weights arrive: glibc keeps it otherwise, and the
            # peak is that heap plus the weights (notebook 03's kernel: 5139 MB without this, 4752 MB with it).
            release_freed_memory()
            try:
                with load_without_outlines(self):
                    super().load()
            except OSError as error:  # transformers' "not a local folder and the Hub is unreachable"
                raise OSError(
                    f"Không tải được mô hình '{self.model}': không có thư mục này trên máy, và không tải được từ "
                    "Hugging Face Hub (không có mạng, HF_HUB_OFFLINE=1, hoặc tên mô hình sai). Trên máy không có GPU/mạng, "
                    "hãy dùng preset offline: đặt KIT_PRESET=offline (hoặc load_llm(role, 'offline'))."
                ) from error
            if self.compute_dtype == "float32":
                compute_in_float32(self._pipeline.model)
            else:
                speed_up_linear(self._pipeline.model)
                use_fast_attention(self._pipeline.model)
            _PIPELINES[key] = self._pipeline
        set_pipeline_batch_size(self._pipeline, self.batch_size)  # the same for every LLM sharing it: part of the key
        if self.structured_output:
            self._logits_processor = [self._prepare_structured_output(self.structured_output)]

    def _pipeline_key(self) -> str:
        """Return what identifies the loaded pipeline: model, dtypes, placement, template, batch size."""
        fields = ("model", "revision", "torch_dtype", "compute_dtype", "device", "device_map", "model_kwargs", "tokenizer",
                  "chat_template", "trust_remote_code", "batch_size")
        return json.dumps({f: getattr(self, f) for f in fields}, sort_keys=True, default=str)

    def _prepare_structured_output(self, structured_output=None):
        """Return a fresh llguidance processor; its grammar is built once per model, schema and process."""
        from helpers.structured import GrammarLogitsProcessor, build_grammar, build_tokenizer, schema_as_dict

        if structured_output.get("format", "json") == "json" and not isinstance(structured_output["schema"], str):
            self.structured_output["schema"] = schema_as_dict(structured_output["schema"])  # as distilabel does
        key = (self._pipeline_key(), json.dumps(structured_output, sort_keys=True, default=str))
        if key not in _GRAMMARS:
            vocab_size = max(len(self._pipeline.tokenizer), self._pipeline.model.config.vocab_size)
            tokenizer = build_tokenizer(self._pipeline.tokenizer, vocab_size)
            _GRAMMARS[key] = (tokenizer, build_grammar(structured_output))
        return GrammarLogitsProcessor(*_GRAMMARS[key])

    def generate(self, inputs, **kwargs):
        """Return the generations of ``inputs``: recorded ones when grading replays them (helpers/replay.py), else computed."""
        if not replay.is_active():
            return self._generate_and_cut(inputs, **kwargs)
        import torch

        random_state, _ = replay.read_random_state()  # greedy draws nothing, sampling draws from it
        key = replay.make_key(kind="generate", llm=self._pipeline_key(), stop=self.stop, schema=self.structured_output,
                              inputs=inputs, kwargs=kwargs, threads=torch.get_num_threads(), random_state=random_state)
        found = replay.find_recorded(key)
        if found is not None:
            replay.restore_random_state(found["random_state_after"])  # as if the call had run: the next sample is the same
            return found["outputs"]
        outputs = self._generate_and_cut(inputs, **kwargs)
        replay.record(key, {"outputs": outputs, "random_state_after": replay.read_random_state()[1]})
        return outputs

    def _generate_and_cut(self, inputs, **kwargs):
        """Generate as distilabel does, then cut each text at the first stop string (when ``stop`` is set)."""
        for processor in self._logits_processor or []:
            processor.reset()  # every call starts new generations, whatever the previous call's ids were
        outputs = super().generate(inputs=inputs, **kwargs)
        if not self.stop:
            return outputs
        for output in outputs:
            output["generations"] = [cut_at_stop(text, self.stop) for text in output["generations"]]
            # Count the tokens that are kept, not the ones generated and cut off.
            output["statistics"]["output_tokens"] = [
                len(self._pipeline.tokenizer.encode(text)) if text else 0 for text in output["generations"]
            ]
        return outputs

    # distilabel lists an LLM's generation runtime parameters from `generate`'s signature: keep the parent's.
    generate.__signature__ = read_generate_signature()


def cut_at_stop(text: Optional[str], stop: list[str]) -> Optional[str]:
    """Cut ``text`` at its first stop string (leading whitespace ignored) and strip it; ``None`` if nothing is left."""
    if text is None:
        return None
    # The continuation starts with " " or "\n" after "Answer:": strip first, or "\n\n" would cut it all.
    text = text.lstrip()
    cuts = [i for i in (text.find(s) for s in stop) if i >= 0]
    text = text[: min(cuts)] if cuts else text
    return text.strip() or None

