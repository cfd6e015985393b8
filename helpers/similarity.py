"""How alike two completions are: the chapter asks that the second one not copy the first."""

from __future__ import annotations

import re
from difflib import SequenceMatcher

# Above this, the two completions say nearly the same thing in nearly the same words.
TOO_SIMILAR = 0.6


def measure_similarity(first: str, second: str) -> dict:
    """Return character-level (difflib ratio) and word-level (Jaccard) similarity in [0, 1]."""
    # difflib is in the standard library and needs no model; an embedding model would need a
    # download, which this kit cannot do offline.
    words_a = set(re.findall(r"\w+", first.lower()))
    words_b = set(re.findall(r"\w+", second.lower()))
    union = words_a | words_b
    return {
        "chars": round(SequenceMatcher(None, first, second).ratio(), 2),
        "words": round(len(words_a & words_b) / len(union), 2) if union else 1.0,
    }


def compare_completions(rows: list[dict], column: str = "grouped_generation") -> list[dict]:
    """Return, per row, the similarity of its first two completions and whether they are too alike."""
    table = []
    for row in rows:
        first, second = row[column][0], row[column][1]
        scores = measure_similarity(first, second)
        table.append(
            {
                "instruction": row["instruction"],
                **scores,
                "too_similar": max(scores.values()) >= TOO_SIMILAR,
            }
        )
    return table
