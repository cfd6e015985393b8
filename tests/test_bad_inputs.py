"""Bad inputs give clear messages and lose nothing: unknown models offline, and judge outputs that cannot be used.

The rest of the issue's matrix lives beside the code it tests (see the README's table): ratings and pairs in
test_pairs.py, columns in test_judge.py, instruction lists in test_pooling.py, dataset folders in test_storage.py,
grading in test_grading.py.
"""

import pytest

from helpers.llm import KitTransformersLLM


def test_unknown_model_offline_names_the_offline_preset(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llm = KitTransformersLLM(model="no-such-org/no-such-model", cpu_threads=1)
    with pytest.raises(OSError, match="KIT_PRESET=offline") as caught:
        llm.load()
    assert "no-such-org/no-such-model" in str(caught.value)


def test_course_preset_without_network_says_what_to_do(monkeypatch):
    from helpers.presets import load_llm

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    llm = load_llm("generator_a", "course")
    llm.device_map = None  # no accelerator here; the message is the point
    with pytest.raises(OSError, match="preset offline"):
        llm.load()


JUDGE_OUTPUTS = {
    "unparseable": "This is a comprehensive evaluation of the provided text. **Feedback**: great work.",
    "out_of_range": '{"ratings": [7, 0], "rationales": ["Too good.", "Empty."]}',
    "wrong_length": '{"ratings": [4], "rationales": ["Only one."]}',
    "all_tied": '{"ratings": [3, 3], "rationales": ["Fine.", "Fine."]}',
    "valid": '{"ratings": [5, 2], "rationales": ["Correct.", "Wrong city."]}',
}


@pytest.fixture()
def judged_rows():
    """Rows as distilabel's UltraFeedback parses each kind of judge output (its real format_output, no model)."""
    from distilabel.steps.tasks import UltraFeedback

    from helpers.judge import KitUltraFeedback

    plain = UltraFeedback(llm=KitTransformersLLM(model="unused"), use_default_structured_output=False)
    structured = KitUltraFeedback(llm=KitTransformersLLM(model="unused"))
    rows = []
    for name, output in JUDGE_OUTPUTS.items():
        row = {"instruction": f"Question {name}?", "generations": ["Paris.", "Berlin."], "generation_models": ["a", "b"]}
        task = plain if name == "unparseable" else structured
        rows.append({**row, **task.format_output(output, row)})
    return rows


def test_unusable_judge_outputs_are_counted_and_dropped_never_raised(judged_rows):
    from helpers.judge import count_valid_ratings
    from helpers.pairs import describe_report, pick_pairs

    # Valid ratings at their completion's place: the tie's two, the valid row's two, the short list's first.
    assert count_valid_ratings(judged_rows) == (5, 10)
    pairs, report = pick_pairs(judged_rows)
    assert [p["prompt"] for p in pairs] == ["Question valid?"]  # the good row survives its bad neighbours
    assert pairs[0]["chosen"] == "Paris." and pairs[0]["score_chosen"] == 5
    assert report["dropped"]["invalid_ratings"] == 3 and report["dropped"]["tie"] == 1
    text = describe_report(report)
    assert "Giữ 1/5 hàng" in text and "3 hàng điểm không hợp lệ" in text and "1 hàng hoà điểm" in text


def test_judge_rows_are_not_modified_by_picking(judged_rows):
    import copy

    from helpers.pairs import pick_pairs

    before = copy.deepcopy(judged_rows)
    pick_pairs(judged_rows)
    assert judged_rows == before
