"""Model pooling: the chapter's LoadDataFromDicts >> [TextGeneration, TextGeneration] >> GroupColumns pipeline."""

from __future__ import annotations

from distilabel.pipeline import Pipeline
from distilabel.steps import GroupColumns, LoadDataFromDicts
from distilabel.steps.tasks import TextGeneration

from helpers.pipelines import run_pipeline
from helpers.presets import choose_preset, load_llm

GENERATOR_ROLES = ("generator_a", "generator_b")


def build_pooling_pipeline(
    instructions: list[str],
    preset: str | None = None,
    generation: dict[str, dict] | None = None,
    system_prompts: dict[str, str | None] | None = None,
) -> Pipeline:
    """Build the pooling pipeline: each instruction answered by the preset's two generators, then grouped.

    ``generation`` and ``system_prompts`` override the preset per role (e.g. the widget's settings);
    a role missing from them keeps the preset's value, and an empty system prompt means none.
    """
    if not instructions:
        raise ValueError("Danh sách hướng dẫn (instructions) đang trống: hãy thêm ít nhất một câu hỏi.")
    if not all(text.strip() for text in instructions):
        raise ValueError("Có hướng dẫn (instruction) đang trống: hãy nhập một câu hỏi.")
    chosen = choose_preset(preset)
    generation, system_prompts = generation or {}, system_prompts or {}
    with Pipeline(name="model-pooling") as pipeline:
        data = LoadDataFromDicts(data=[{"instruction": text} for text in instructions])
        generators = [
            TextGeneration(
                name=f"generate_{role.removeprefix('generator_')}",
                llm=load_llm(role, chosen.name, **generation.get(role, {})),
                system_prompt=(system_prompts.get(role, chosen.roles[role].system_prompt) or "").strip() or None,
            )
            for role in GENERATOR_ROLES
        ]
        # GroupColumns names its outputs `grouped_<column>`: `grouped_generation` here.
        group = GroupColumns(columns=["generation", "model_name"])
        data >> generators >> group
    return pipeline


def run_pooling(instructions: list[str], preset: str | None = None, **overrides) -> list[dict]:
    """Run the pooling pipeline (no cache) and return one dict per instruction; overrides as in build_pooling_pipeline."""
    pipeline = build_pooling_pipeline(instructions, preset, **overrides)
    print(f"Đang tổng hợp {len(instructions)} hướng dẫn với hai bộ sinh (mỗi bộ sinh một tiến trình)...")
    rows = run_pipeline(pipeline)["default"]["train"]
    print(f"Xong: {len(rows)} hàng, mỗi hàng 2 phần hoàn thành.")
    return [
        {
            "instruction": row["instruction"],
            "grouped_generation": list(row["grouped_generation"]),
            "grouped_model_name": list(row["grouped_model_name"]),
        }
        for row in rows
    ]


def rename_for_judge(rows: list[dict]) -> list[dict]:
    """Return pooled rows with the columns UltraFeedback reads: ``generations`` and ``generation_models``."""
    return [
        {
            "instruction": row["instruction"],
            "generations": row["grouped_generation"],
            "generation_models": row["grouped_model_name"],
        }
        for row in rows
    ]
