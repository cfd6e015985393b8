"""EvolQuality: rewrite a completion into a (hopefully) better one, pushing one chosen criterion."""

from __future__ import annotations

from distilabel.steps.tasks import EvolQuality
from distilabel.steps.tasks.evol_quality.utils import MUTATION_TEMPLATES

from helpers.presets import load_llm

CRITERIA = tuple(MUTATION_TEMPLATES)  # HELPFULNESS, RELEVANCE, DEEPENING, CREATIVITY, DETAILS


def describe_criteria() -> dict[str, str]:
    """Return each EvolQuality criterion with the one sentence it adds to the rewrite prompt."""
    marker = "using the following method: \n"
    return {name: template.split(marker)[1].split("\n")[0] for name, template in MUTATION_TEMPLATES.items()}


def build_evolver(criteria: tuple[str, ...] | list[str] = CRITERIA, preset: str | None = None, **generation) -> EvolQuality:
    """Return EvolQuality (one evolution) restricted to the given criteria, on generator A's model."""
    unknown = [c for c in criteria if c not in MUTATION_TEMPLATES]
    if unknown or not criteria:
        raise ValueError(f"Tiêu chí không hợp lệ: {unknown or '(trống)'}. Chọn trong: {', '.join(CRITERIA)}.")
    # EvolQuality picks one of its mutation templates at random per row (numpy, seeded); giving it
    # only the wanted criteria is distilabel's own way to choose what the rewrite pushes.
    return EvolQuality(
        llm=load_llm("generator_a", preset, **generation),
        num_evolutions=1,
        mutation_templates={c: MUTATION_TEMPLATES[c] for c in criteria},
        seed=42,
    )


def evolve(rows: list[dict], criterion: str, preset: str | None = None, **generation) -> list[dict]:
    """Evolve each row's ``response`` once with one criterion; returns rows with ``evolved_response``."""
    evolver = build_evolver([criterion], preset, **generation)
    evolver.load()
    return next(evolver.process([{"instruction": r["instruction"], "response": r["response"]} for r in rows]))
