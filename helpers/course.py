"""The course's own data that lessons and tools share: the exercise's instructions and its hand-rated rows."""

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

# Rated rows written by hand: the cases a real judge sometimes gives (a tie, no score, the first text better, rows on and
# under the margin) and the offline judge's runs rarely do (its expected ratings almost never tie, notebook 03). The
# exercise adds them to the judge's rows, so that the learner's pair function meets every case and its checks can tell.
# Scores like the offline judge's (numbers from 1 to 5, not always whole), in quarters so that a difference is exact
# (4.5 - 4.0 == 0.5): a row on the 🦁 margin of 0.5 is on it, whatever the arithmetic.
HAND_RATED = (
    {"instruction": "Name a primary colour.", "generations": ["Red.", "Blue."],
     "generation_models": ["hand A", "hand B"], "ratings": [3.5, 3.5]},
    {"instruction": "What is 2 + 2?", "generations": ["2 + 2 = 4.", "Four, I think? Maybe five."],
     "generation_models": ["hand A", "hand B"], "ratings": [None, 2.25]},
    {"instruction": "Translate 'cảm ơn' into English.", "generations": ["Thank you.", "Cảm ơn means cảm ơn."],
     "generation_models": ["hand A", "hand B"], "ratings": [4.5, 1.75]},
)
HAND_RATED_3 = (
    {"instruction": "Name a primary colour.", "generations": ["Red.", "Blue.", "Yellow."],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [4.0, 4.0, 4.0]},
    {"instruction": "What is 2 + 2?", "generations": ["2 + 2 = 4.", "Four, I think? Maybe five.", "4"],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [None, 2.25, 4.75]},
    {"instruction": "Translate 'cảm ơn' into English.", "generations": ["Thank you.", "Cảm ơn means cảm ơn.", "Thanks"],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [4.5, 1.75, 4.25]},
    {"instruction": "Is the Earth round?", "generations": ["Yes, roughly a sphere.", "Yes.", "Yes, it is round."],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [4.5, 4.25, 4.25]},
    {"instruction": "Spell 'cat' backwards.", "generations": ["tac", "act", "It is tac."],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [2.5, 1.75, 4.75]},
    {"instruction": "Name a fruit.", "generations": ["An apple.", "Fruit.", "A chair."],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [4.5, 4.0, 4.0]},
    {"instruction": "What colour is the sky on a clear day?", "generations": ["Blue.", "It is blue.", "Green."],
     "generation_models": ["hand A", "hand B", "hand C"], "ratings": [4.5, 4.5, 4.0]},
)
