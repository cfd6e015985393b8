"""The course's own data that lessons and tools share: the exercise's instructions."""

from __future__ import annotations

# The exercise's instructions (solutions/preference_dpo_dataset.ipynb shows them to learners), reused where a
# script needs the same rows: notebook 05's fallback dataset and the benchmark.
EXERCISE_INSTRUCTIONS = (
    "What is synthetic data?",
    "Give three tips for writing a clear email.",
    "Why is the sky blue?",
    "Explain what a preference dataset is.",
    "How do I make a cup of green tea?",
    "What is the difference between weather and climate?",
)
