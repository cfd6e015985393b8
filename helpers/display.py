"""Plain-text and highlighted displays for notebook cells (deterministic, so nbval can compare them)."""

from __future__ import annotations

import inspect
import textwrap

WIDTH = 100


def show_code(obj) -> "object":
    """Return the source of a helper function as highlighted code for a notebook cell."""
    from IPython.display import Code

    return Code(inspect.getsource(obj), language="python")


def describe_preset(preset) -> str:
    """Return a plain-text table of a preset's roles: model, decoding and system prompt."""
    lines = [f"Preset: {preset.name} — {preset.description}"]
    for role, spec in preset.roles.items():
        decoding = "sampling" if spec.generation.get("do_sample") else "greedy"
        if spec.generation.get("do_sample"):
            decoding += f", temperature={spec.generation['temperature']}"
        lines.append(f"  {role:<12} {spec.label or spec.model}")
        if spec.scoring == "probs":  # a judge that reads its rating tokens' probabilities: it generates nothing
            lines.append(f"  {'':<12} điểm = kỳ vọng của xác suất token 1–5, từng phần hoàn thành riêng, không sinh chữ")
        else:
            lines.append(f"  {'':<12} {decoding}, max_new_tokens={spec.generation['max_new_tokens']}")
        if spec.system_prompt:
            lines.append(f"  {'':<12} system_prompt: {spec.system_prompt}")
    return "\n".join(lines)


def wrap(text: str, indent: str = "    ") -> str:
    """Wrap a completion for reading in a notebook cell."""
    paragraphs = [p for p in text.strip().splitlines() if p.strip()] or [""]
    return "\n".join(textwrap.fill(p, WIDTH, initial_indent=indent, subsequent_indent=indent) for p in paragraphs)


def format_completions(rows: list[dict], column: str = "grouped_generation") -> str:
    """Return each instruction with its completions and the model that wrote each, as plain text."""
    blocks = []
    for number, row in enumerate(rows, start=1):
        lines = [f"[{number}] {row['instruction']}"]
        names = row.get("grouped_model_name") or [""] * len(row[column])
        for index, (text, name) in enumerate(zip(row[column], names)):
            lines.append(f"  ({'AB'[index] if index < 2 else index}) {name}")
            lines.append(wrap(text))
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def format_table(rows: list[dict], columns: list[str] | None = None) -> str:
    """Return a list of dicts as an aligned plain-text table (pandas' to_string, no index; a missing value shows "—")."""
    import pandas as pd

    if not rows:
        return "(trống)"
    shown = [{key: "—" if value is None else value for key, value in row.items()} for row in rows]
    return pd.DataFrame(shown, columns=columns).to_string(index=False, na_rep="—")


def format_side_by_side(left: str, right: str, titles: tuple[str, str] = ("original", "evolved"), width: int = 56) -> str:
    """Return two texts as two wrapped columns, for reading an original and its rewrite side by side."""
    from itertools import zip_longest

    def column(text: str) -> list[str]:
        lines = []
        for paragraph in text.strip().splitlines() or [""]:
            lines.extend(textwrap.wrap(paragraph, width) or [""])
        return lines

    rows = [f"{titles[0]:<{width}} | {titles[1]}", f"{'-' * width}-+-{'-' * width}"]
    rows += [f"{a:<{width}} | {b}".rstrip() for a, b in zip_longest(column(left), column(right), fillvalue="")]
    return "\n".join(rows)
