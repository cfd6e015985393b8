"""Similarity of two completions."""

from helpers.similarity import compare_completions, measure_similarity


def test_identical_and_disjoint_texts():
    assert measure_similarity("the sky is blue", "the sky is blue") == {"chars": 1.0, "words": 1.0}
    assert measure_similarity("alpha beta", "gamma delta")["words"] == 0.0


def test_words_ignore_case_and_punctuation():
    assert measure_similarity("Paris, France.", "paris france")["words"] == 1.0


def test_compare_flags_too_similar_pairs():
    rows = [
        {"instruction": "q1", "grouped_generation": ["Paris is the capital.", "Paris is the capital!"]},
        {"instruction": "q2", "grouped_generation": ["Blue light scatters.", "Ask a physicist."]},
    ]
    table = compare_completions(rows)
    assert [r["too_similar"] for r in table] == [True, False]
    assert table[0]["instruction"] == "q1"
