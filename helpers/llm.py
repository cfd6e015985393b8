"""The kit's TransformersLLM: distilabel's class with CPU threads, a seed and batching set at load time."""

from __future__ import annotations

from typing import Optional

from distilabel.models import TransformersLLM


class KitTransformersLLM(TransformersLLM):
    """distilabel ``TransformersLLM`` that sets torch threads, the seed and the batch size when loaded."""

    # distilabel runs each LLM step in its own process; with torch's default (all cores per
    # process) two generators on 2 cores oversubscribe and ran 3-9x slower. `load()` runs inside
    # that process, so this is the one place where the setting reaches every step.
    cpu_threads: Optional[int] = None
    seed: int = 0
    # transformers' text-generation pipeline handles a list one prompt at a time unless it is
    # given a batch size; distilabel does not pass one, so set the pipeline's default here.
    batch_size: int = 1
    # Offline models load from a local cache folder; a display name keeps machine paths out of
    # the `model_name` column (as distilabel's InferenceEndpointsLLM does with model_display_name).
    display_name: Optional[str] = None

    @property
    def model_name(self) -> str:
        """Return the display name if set, else the model id or folder."""
        return self.display_name or self.model

    def load(self) -> None:
        """Set threads and seed, then load the model as distilabel does."""
        import torch
        from transformers import set_seed

        if self.cpu_threads:
            torch.set_num_threads(self.cpu_threads)
        set_seed(self.seed)
        super().load()
        self._pipeline._batch_size = self.batch_size
        if self._logits_processor:
            self._logits_processor = [FreshStateProcessor(p) for p in self._logits_processor]


class FreshStateProcessor:
    """Wrap an outlines logits processor so that every new generation starts from a fresh state."""

    # outlines 0.1.x processors remember where the first prompt ended (`_seq_start_idx`) and every
    # state they walked through; distilabel 1.5.3 builds one processor at load() and reuses it, so
    # only the first generation was constrained (1 valid JSON of 5 here). transformers calls the
    # processor once per new token: a call whose ids do not extend the previous call's ids by one
    # token belongs to a new generation (a new prompt, or a new batch), so reset the state there.

    def __init__(self, processor):
        self.processor = processor
        self._previous = None

    def __call__(self, input_ids, scores):
        """Reset the wrapped processor at the start of a generation, then apply it."""
        import torch

        previous = self._previous
        continues = (
            previous is not None
            and input_ids.shape[0] == previous.shape[0]
            and input_ids.shape[1] == previous.shape[1] + 1
            and torch.equal(input_ids[:, :-1], previous)
        )
        if not continues:
            self.processor._seq_start_idx = None
            self.processor._guide_states = {hash(tuple([])): self.processor.guide.initial_state}
        self._previous = input_ids.detach().clone()
        return self.processor(input_ids, scores)
