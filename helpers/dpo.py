"""DPO datasets: lay preference pairs out in TRL's preference formats (explicit prompt)."""

from __future__ import annotations

from datasets import Dataset, Features, List, Value

# TRL "Dataset formats and types" (https://huggingface.co/docs/trl/dataset_formats), preference type:
#   standard:       {"prompt": "The sky is", "chosen": " blue.", "rejected": " green."}
#   conversational: {"prompt": [{"role": "user", "content": ...}],
#                    "chosen": [{"role": "assistant", "content": ...}], "rejected": [{"role": "assistant", ...}]}
# The prompt is explicit (its own column), never repeated inside chosen/rejected.
MESSAGES = List({"role": Value("string"), "content": Value("string")})
EXTRA_FEATURES = {
    "score_chosen": Value("float64"),
    "score_rejected": Value("float64"),
    "chosen_model": Value("string"),
    "rejected_model": Value("string"),
}
EXTRA_COLUMNS = tuple(EXTRA_FEATURES)
FEATURES = {
    "standard": Features({"prompt": Value("string"), "chosen": Value("string"), "rejected": Value("string")}),
    "conversational": Features({"prompt": MESSAGES, "chosen": MESSAGES, "rejected": MESSAGES}),
}


def copy_extras(pair: dict) -> dict:
    """Return the score and model columns of a pair (None where a pair lacks one)."""
    return {column: pair.get(column) for column in EXTRA_COLUMNS}


def to_standard(pairs: list[dict]) -> list[dict]:
    """Return the pairs in TRL's standard preference format: plain-string prompt, chosen and rejected."""
    # TRL tokenizes prompt + chosen joined as they are (no chat template, no separator added):
    # for a chat model prefer to_conversational, which lets the tokenizer's chat template do it.
    return [
        {"prompt": pair["prompt"], "chosen": pair["chosen"], "rejected": pair["rejected"], **copy_extras(pair)}
        for pair in pairs
    ]


def to_conversational(pairs: list[dict], system_prompt: str | None = None) -> list[dict]:
    """Return the pairs in TRL's conversational preference format: lists of role/content messages."""
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [
        {
            "prompt": system + [{"role": "user", "content": pair["prompt"]}],
            "chosen": [{"role": "assistant", "content": pair["chosen"]}],
            "rejected": [{"role": "assistant", "content": pair["rejected"]}],
            **copy_extras(pair),
        }
        for pair in pairs
    ]


def to_dataset(pairs: list[dict], style: str = "standard", system_prompt: str | None = None) -> Dataset:
    """Return a datasets.Dataset of the pairs in the given TRL style ("standard" or "conversational")."""
    if style not in FEATURES:
        raise ValueError(f"Kiểu `{style}` không tồn tại. Chọn một trong: {', '.join(FEATURES)}.")
    if style == "standard":
        rows = to_standard(pairs)
    else:
        rows = to_conversational(pairs, system_prompt)
    features = Features({**FEATURES[style], **EXTRA_FEATURES})
    # Explicit features keep the column types stable: all-None model names would otherwise be typed "null",
    # and an empty list of pairs would give a dataset with no columns at all.
    return Dataset.from_dict({name: [row[name] for row in rows] for name in features}, features=features)


def describe_summary(dataset: Dataset, reports: dict) -> str:
    """Return the Vietnamese summary of a dataset: its size, each stage's report, who wrote the chosen texts, row sources."""
    import textwrap

    from helpers.pairs import LABEL_REASON_LABELS, REASON_LABELS, SOURCE_LABELS, describe_report

    last = list(reports.values())[-1] if reports else {}  # the last report's chosen_models says who wrote the chosen texts
    lines = [f"Tập dữ liệu: {len(dataset)} hàng, cột {', '.join(dataset.column_names)}."]
    lines += [f"- {stage}: {describe_report(report)}" for stage, report in reports.items()]
    lines += [f"- chosen do {model} viết: {count} hàng" for model, count in last.get("chosen_models", {}).items()]
    if "row_sources" in last:  # pairs made from the learner's labels: where each row came from
        reasons = {**REASON_LABELS, **LABEL_REASON_LABELS}
        lines += [
            f"  {i}. {textwrap.shorten(row['prompt'], 50, placeholder='…')} — "
            + (f"từ {SOURCE_LABELS[row['source']]}" if "source" in row else f"bỏ: {reasons[row['dropped']]}")
            for i, row in enumerate(last["row_sources"], start=1)
        ]
    return "\n".join(lines)


def write_summary(out_dir, dataset: Dataset, reports: dict) -> str:
    """Write ``summary.json`` (stage label -> pick_pairs/summarize_pairs report) beside a dataset; return describe_summary."""
    import json
    from pathlib import Path

    from helpers.storage import DatasetDirError

    out_dir = Path(out_dir)
    summary = {"rows": len(dataset), "columns": dataset.column_names, "reports": reports}
    try:
        out_dir.mkdir(parents=True, exist_ok=True)  # a learner may not have saved the dataset yet
        (out_dir / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    except OSError as error:
        raise DatasetDirError(out_dir, error, kept_in_memory=True) from error
    return describe_summary(dataset, reports)
