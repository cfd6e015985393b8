"""Every workaround for a pinned library's internals, in one place, each with the version it was written for.

tests/test_workarounds.py checks them against the installed libraries: it fails when a pin moves away from the
version below (re-check the workaround) and when the problem a workaround answers has gone (remove it).
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import warnings
from logging.handlers import QueueHandler
from pathlib import Path

# What each workaround was written for: the pins of requirements-colab.txt.
WRITTEN_FOR = {
    "quiet_distilabel": "distilabel==1.5.3",
    "restore_plain_tracebacks": "distilabel==1.5.3",
    "remove_closed_log_queues": "distilabel==1.5.3",
    "load_without_outlines": "distilabel==1.5.3",
    "finish_load": "distilabel==1.5.3",
    "read_generate_signature": "distilabel==1.5.3",
    "give_default_schema": "distilabel==1.5.3",
    "set_ultrafeedback_system_prompt": "distilabel==1.5.3",
    "separate_pipeline_folders": "distilabel==1.5.3",
    "set_pipeline_batch_size": "transformers==4.57.6",
    "fix_gguf_special_tokens": "transformers==4.57.6",
    "repair_byte_level_decoder": "transformers==4.57.6",
    "build_gemma_tokenizer": "transformers==4.57.6",
    "load_gguf_model_in_dtype": "transformers==4.57.6",
}

# Private parts of distilabel that the kit's subclasses read or override (helpers/llm.py, helpers/judge.py).
PRIVATE_INTERNALS = {
    "TransformersLLM._pipeline": "distilabel==1.5.3",  # the loaded transformers pipeline, shared between LLMs
    "TransformersLLM._logits_processor": "distilabel==1.5.3",  # what generate() hands to the pipeline
    "TransformersLLM._prepare_structured_output": "distilabel==1.5.3",  # overridden: llguidance, not outlines
    "Task._set_default_structured_output": "distilabel==1.5.3",  # overridden: no check that outlines is installed
}


# distilabel 1.5.3 -------------------------------------------------------------------------------------------------


def quiet_distilabel() -> None:
    """Keep distilabel's import warnings and per-batch INFO logs out of the notebooks (errors still show)."""
    # distilabel declares a few pydantic fields in a way pydantic 2.11+ warns about at import; the warning is
    # about distilabel's code, not the learner's.
    warnings.filterwarnings("ignore", message=r"The 'default' attribute with value None was provided to the `Field\(\)`")
    # distilabel logs every batch of every step at INFO, with paths and timestamps: dozens of lines per cell that
    # bury the lesson. Set DISTILABEL_LOG_LEVEL=INFO to see all.
    os.environ.setdefault("DISTILABEL_LOG_LEVEL", "WARNING")
    # The chapter calls tasks on their own (`task.load(); next(task.process(...))`), which distilabel supports
    # but greets with "Step 'None' hasn't received a pipeline" on every creation.
    logging.getLogger("distilabel.step.None").setLevel(logging.ERROR)


PIPELINE_FOLDER_OWNER_ENV = "KIT_DISTILABEL_CACHE_OWNER"  # the process that chose $DISTILABEL_CACHE_DIR


def separate_pipeline_folders() -> None:
    """Give this process its own distilabel pipeline folder, so two processes running one pipeline never mix rows."""
    # distilabel writes a run's rows under <cache>/<pipeline name>/<signature>/data even with use_cache=False, and
    # reads the result back from there: two kernels running the same pipeline at once (two notebooks open, the grader's
    # --no-sandbox jobs, two test workers) wrote into one folder, and notebook 2 got 6 rows for its 3 (measured).
    # A folder set by the user is kept; one a kit process chose is replaced in each process it starts (a kernel), but
    # not in distilabel's own step processes, which must use their pipeline's.
    import atexit
    import multiprocessing
    import shutil
    import tempfile

    owner = os.environ.get(PIPELINE_FOLDER_OWNER_ENV)
    if os.environ.get("DISTILABEL_CACHE_DIR") and (not owner or owner == str(os.getpid())):
        return
    if multiprocessing.parent_process() is not None:
        return
    folder = tempfile.mkdtemp(prefix="kit-distilabel-")
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    os.environ["DISTILABEL_CACHE_DIR"] = folder
    os.environ[PIPELINE_FOLDER_OWNER_ENV] = str(os.getpid())


def restore_plain_tracebacks() -> None:
    """Undo the rich tracebacks that `import distilabel` installs, in IPython and in plain Python."""
    # distilabel calls rich.traceback.install(show_locals=True) on import: in a notebook every error then prints a
    # box with the locals of every frame (whole models, tokenizers), burying the one line a learner needs, and
    # Jupyter stores it as display data instead of an error.
    import sys

    import distilabel  # noqa: F401  (the install happens on its first import)

    sys.excepthook = sys.__excepthook__
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
    except NameError:
        return
    for name in ("_showtraceback", "showtraceback", "showsyntaxerror"):
        shell.__dict__.pop(name, None)  # rich set them on the instance; the class methods remain


def remove_closed_log_queues() -> None:
    """Remove the QueueHandler a finished pipeline leaves on the root logger (its queue is closed)."""
    # Every later log line (e.g. a task's warning when called directly) would print a "Logging error" traceback.
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, QueueHandler)]:
        root.removeHandler(handler)


@contextlib.contextmanager
def load_without_outlines(llm):
    """Let TransformersLLM.load() run with no structured output, which it would hand to outlines 0.1.x."""
    # TransformersLLM.load() builds an outlines processor (and raises ImportError without outlines); the kit
    # builds its own llguidance processor afterwards (helpers/structured.py).
    structured_output, llm.structured_output = llm.structured_output, None
    try:
        yield
    finally:
        llm.structured_output = structured_output


def finish_load(llm, pipeline) -> None:
    """Finish TransformersLLM.load() on a transformers pipeline this process already loaded (no second copy)."""
    from distilabel.models.llms.base import LLM

    llm._pipeline = pipeline
    LLM.load(llm)  # what TransformersLLM.load() does after building its pipeline


def read_generate_signature() -> inspect.Signature:
    """Return TransformersLLM.generate's signature, for a subclass whose generate wraps it with **kwargs."""
    # distilabel lists an LLM's generation runtime parameters from `generate`'s signature.
    from distilabel.models import TransformersLLM

    return inspect.signature(TransformersLLM.generate)


def give_default_schema(task, schema: dict) -> None:
    """Give a task's LLM its default JSON schema, as Task does, minus its check that outlines is installed."""
    task.llm.structured_output = {"format": "json", "schema": schema}


def set_ultrafeedback_system_prompt(task, system_prompt: str) -> None:
    """Replace UltraFeedback's system prompt, which it keeps in a private attribute formatted with `{no_texts}`."""
    task._system_prompt = system_prompt.replace("{", "{{").replace("}", "}}")


# transformers 4.57.6 ----------------------------------------------------------------------------------------------


def set_pipeline_batch_size(pipeline, batch_size: int) -> None:
    """Set the batch size a text-generation pipeline uses for a list of prompts (distilabel passes none)."""
    pipeline._batch_size = batch_size


def fix_gguf_special_tokens(tokenizer, model, facts: dict) -> None:
    """Make the tokenizer and model configs agree with the GGUF's own special tokens, in place."""
    # transformers converts SmolLM2's GGUF tokenizer wrongly and silently: eos becomes `<|im_start|>` and a BOS
    # `<|im_start|>` is prepended to every prompt. Generation then never stops at `<|im_end|>` and every chat
    # prompt starts with a stray token.
    tokens = tokenizer.convert_ids_to_tokens
    if facts["bos_token_id"] is not None:
        tokenizer.bos_token = tokens(facts["bos_token_id"])
    tokenizer.eos_token = tokens(facts["eos_token_id"])
    pad_id = facts["pad_token_id"] if facts["pad_token_id"] is not None else facts["eos_token_id"]
    tokenizer.pad_token = tokens(pad_id)
    # Setting these on a fast Llama tokenizer rebuilds its post-processor (the BOS insertion).
    tokenizer.add_bos_token = facts["add_bos_token"]
    tokenizer.add_eos_token = facts["add_eos_token"]
    for config in (model.config, model.generation_config):
        config.bos_token_id = facts["bos_token_id"]
        config.eos_token_id = facts["eos_token_id"]
        config.pad_token_id = pad_id


def repair_byte_level_decoder(spec: dict) -> dict:
    """Return a tokenizer.json spec whose byte-level BPE has a plain ByteLevel decoder (as the model was trained)."""
    # transformers converts SmolLM2's GGUF byte-level BPE with a decoder *sequence* (ByteFallback, Fuse, Replace,
    # ByteLevel). HF's own decode copes, but llguidance then reads "Ġ[" as the bytes of "Ġ[" instead of " [" and
    # rejects every token that starts with a space.
    decoders = (spec.get("decoder") or {}).get("decoders") or []
    byte_level = [d for d in decoders if d.get("type") == "ByteLevel"]
    if byte_level and (spec.get("pre_tokenizer") or {}).get("type") == "ByteLevel":
        spec = {**spec, "decoder": byte_level[0]}
    return spec


def build_gemma_tokenizer(gguf_path: Path):
    """Build Gemma 3's BPE fast tokenizer from the vocabulary and merge scores stored in the GGUF."""
    from gguf import GGUFReader
    from tokenizers import AddedToken, Tokenizer, decoders, normalizers
    from tokenizers.models import BPE
    from transformers import GemmaTokenizerFast
    from transformers.convert_slow_tokenizer import generate_merges

    # transformers builds a *Unigram* tokenizer from this GGUF, but Gemma 3's SentencePiece model is BPE (a
    # piece's score is minus its merge rank): Unigram over those scores splits text into odd pieces ("Hello world"
    # -> "Hello", "▁w", "or", "ld") and the model answers garbage. Rebuilding BPE from the same vocabulary matched
    # llama.cpp's tokenization on 11 of 11 strings.
    fields = GGUFReader(str(gguf_path)).fields

    def array(key, convert):
        field = fields[key]
        return [convert(field.parts[i]) for i in field.data]

    tokens = array("tokenizer.ggml.tokens", lambda part: bytes(part).decode("utf-8"))
    scores = array("tokenizer.ggml.scores", lambda part: float(part[0]))
    types = array("tokenizer.ggml.token_type", lambda part: int(part[0]))
    # llama.cpp stores whitespace-only pieces with real spaces; SentencePiece (and HF) uses "▁".
    tokens = ["\u2581" * len(t) if t and t.strip(" ") == "" else t for t in tokens]
    vocab = {token: i for i, token in enumerate(tokens)}
    # Merges only among normal pieces (type 1), ranked by the merged piece's score, highest first.
    merges = generate_merges(vocab, [(t, s) for t, s, kind in zip(tokens, scores, types) if kind == 1])
    backend = Tokenizer(BPE(vocab=vocab, merges=merges, unk_token="<unk>", fuse_unk=True, byte_fallback=True))
    backend.normalizer = normalizers.Replace(" ", "\u2581")
    backend.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(), decoders.Fuse()])
    # Control (3) and user-defined (4) pieces are matched whole, before BPE.
    backend.add_tokens(
        [AddedToken(t, special=kind == 3, normalized="\u2581" in t) for t, kind in zip(tokens, types) if kind in (3, 4)]
    )

    def token(key):
        return tokens[int(fields[f"tokenizer.ggml.{key}"].contents())]

    return GemmaTokenizerFast(
        tokenizer_object=backend,
        bos_token=token("bos_token_id"),
        eos_token=token("eos_token_id"),
        pad_token=token("padding_token_id"),
        unk_token=token("unknown_token_id"),
        add_bos_token=bool(fields["tokenizer.ggml.add_bos_token"].contents()),
        add_eos_token=bool(fields["tokenizer.ggml.add_eos_token"].contents()),
        clean_up_tokenization_spaces=False,
        # Batched generation pads prompts; a decoder-only model must be padded on the left.
        padding_side="left",
    )


def load_gguf_model_in_dtype(gguf_path: Path, dtype: str):
    """Load a GGUF's model straight into ``dtype``, one tensor at a time, with transformers' own names and processors."""
    # transformers 4.57.6 de-quantizes every tensor of a GGUF into one float32 state dict before it builds the model
    # (load_gguf_checkpoint): for Qwen2.5-Coder-1.5B that is 7 GB, and a conversion to bf16 peaked at 10.9 GB of RAM.
    # Here the model is built first, in ``dtype``, and each tensor is de-quantized, renamed and copied in, then
    # dropped: the peak is the model plus one tensor. tests/test_workarounds.py checks that the weights are the same.
    import torch
    from gguf import GGUFReader, dequantize
    from transformers import AutoConfig, AutoModelForCausalLM
    from transformers.modeling_gguf_pytorch_utils import (
        TENSOR_PROCESSORS, TensorProcessor, get_gguf_hf_weights_map, load_gguf_checkpoint, read_field)
    from transformers.modeling_utils import no_init_weights

    parsed = load_gguf_checkpoint(str(gguf_path), return_tensors=False)  # metadata only
    config = AutoConfig.for_model(**parsed["config"])  # as from_pretrained(gguf_file=...) builds it, without reading twice
    with no_init_weights():
        model = AutoModelForCausalLM.from_config(config, dtype=getattr(torch, dtype))
    reader = GGUFReader(str(gguf_path))
    processor = TENSOR_PROCESSORS.get(read_field(reader, "general.architecture")[0], TensorProcessor)(config=parsed["config"])
    mapping, state, loaded = get_gguf_hf_weights_map(model), model.state_dict(), set()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The given NumPy array is not writable")  # copied at once
        for tensor in reader.tensors:
            result = processor.process(weights=dequantize(tensor.data, tensor.tensor_type), name=tensor.name,
                                       tensor_key_mapping=mapping, parsed_parameters=parsed)
            if result.name in mapping:
                state[mapping[result.name]].copy_(torch.from_numpy(result.weights))
                loaded.add(mapping[result.name])
    model.tie_weights()
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    missing = sorted(set(state) - loaded - tied)
    if missing:
        raise ValueError(f"{gguf_path.name}: no GGUF tensor for {', '.join(missing[:5])}")
    return model.eval()
