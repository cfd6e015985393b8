"""The interactive layer without a browser: set controls, click buttons, read the widgets' state."""

import json
import os
import re
import time
from pathlib import Path

import ipywidgets
import pytest

from helpers import widgets as kit_widgets
from helpers.pairs import describe_report, pick_pairs
from helpers.plots import plot_margins, plot_rating_distribution
from helpers.pooling import build_pooling_pipeline
from helpers.presets import PRESETS
from helpers.widgets import pooling_controls, preference_explorer

ROWS = [
    {"instruction": "q1", "generations": ["a1", "b1"], "ratings": [2, 5], "rationales": ["ngắn", "đủ ý"],
     "generation_models": ["A", "B"]},
    {"instruction": "q2", "generations": ["a2", "b2"], "ratings": [3, 4], "rationales": ["x", "y"],
     "generation_models": ["A", "B"]},
    {"instruction": "q3", "generations": ["a3", "b3"], "ratings": [3, 3], "rationales": ["x", "y"],
     "generation_models": ["A", "B"]},
    {"instruction": "q4", "generations": ["a4", "b4", "c4"], "ratings": [1, 3, 4], "rationales": ["x", "y", "z"],
     "generation_models": ["A", "B", "C"]},
]


def test_widgets_run_on_the_ipywidgets_under_test():
    # `make test` runs requirements.txt's ipywidgets; `make test-widgets7` sets KIT_IPYWIDGETS to Colab's 7.7.1.
    pinned = re.search(r"^ipywidgets==(\S+)$", (Path(__file__).parent.parent / "requirements.txt").read_text(), re.M)[1]
    assert ipywidgets.__version__ == os.environ.get("KIT_IPYWIDGETS", pinned)


def fake_runner(calls):
    def run(instruction, preset=None, **settings):
        calls.append({"instruction": instruction, "preset": preset, **settings})
        return {"instruction": instruction, "grouped_generation": ["câu A", "câu B"], "grouped_model_name": ["mô hình A", "mô hình B"]}

    return run


def test_pooling_button_runs_with_the_controls_settings(monkeypatch):
    calls = []
    monkeypatch.setattr(kit_widgets, "run_custom_pooling", fake_runner(calls))
    controls = pooling_controls("offline").controls
    controls.temperature.value = 1.2
    controls.system_b.value = "Trả lời như một nhà thơ."
    controls.max_tokens.value = 16
    controls.instruction.value = "  Vì sao bầu trời màu xanh?  "
    controls.button.click()
    assert calls == [{
        "instruction": "Vì sao bầu trời màu xanh?", "preset": "offline", "temperature_b": 1.2,
        "system_prompt_a": PRESETS["offline"].roles["generator_a"].system_prompt,
        "system_prompt_b": "Trả lời như một nhà thơ.", "max_new_tokens": 16,
    }]
    assert controls.error is None and not controls.button.disabled
    assert (controls.progress.value, controls.progress.bar_style) == (3, "success")
    assert [pane.value.count("câu A") + pane.value.count("câu B") for pane in controls.panes.children] == [1, 1]
    assert "mô hình A" in controls.panes.children[0].value and "mô hình B" in controls.panes.children[1].value


def test_button_is_disabled_while_running(monkeypatch):
    seen = []
    controls = pooling_controls("offline").controls

    def run(instruction, preset=None, **settings):
        seen.append((controls.button.disabled, controls.progress.value, "Đang" in controls.status.value))
        return {"instruction": instruction, "grouped_generation": ["a", "b"], "grouped_model_name": ["A", "B"]}

    monkeypatch.setattr(kit_widgets, "run_custom_pooling", run)
    controls.button.click()
    assert seen == [(True, 1, True)] and not controls.button.disabled


def test_errors_are_shown_in_vietnamese(monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("model missing")

    monkeypatch.setattr(kit_widgets, "run_custom_pooling", boom)
    controls = pooling_controls("offline").controls
    controls.button.click()
    assert "Không chạy được (RuntimeError): model missing" in controls.status.value
    assert controls.progress.bar_style == "danger" and controls.panes.children == () and not controls.button.disabled
    controls.instruction.value = "   "
    controls.button.click()
    assert "Hãy nhập một câu hỏi" in controls.error


def test_changing_preset_loads_its_settings():
    controls = pooling_controls("offline").controls
    assert controls.temperature.value == pytest.approx(0.8)  # B samples in the offline preset
    controls.preset.value = "offline-gemma"
    assert controls.temperature.value == 0.0  # greedy
    assert controls.system_b.value == "" and controls.max_tokens.value == 96


def test_controls_settings_reach_the_pooling_pipeline(fresh_cache, monkeypatch):
    # run_custom_pooling passes read_overrides(...) to run_pooling, which builds helpers.pooling's pipeline.
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    overrides = kit_widgets.read_overrides(temperature_b=0.0, system_prompt_a="", system_prompt_b="Be brief.", max_new_tokens=7)
    pipeline = build_pooling_pipeline(["q"], "offline", **overrides)
    a, b = (pipeline.dag.get_step(name)["step"] for name in ("generate_a", "generate_b"))
    assert (a.system_prompt, b.system_prompt) == (None, "Be brief.")
    assert a.llm.generation_kwargs["max_new_tokens"] == b.llm.generation_kwargs["max_new_tokens"] == 7
    assert b.llm.generation_kwargs["do_sample"] is False
    sampled_overrides = kit_widgets.read_overrides(temperature_b=1.3)
    sampled = build_pooling_pipeline(["q"], "offline", **sampled_overrides).dag.get_step("generate_b")["step"]
    assert sampled.llm.generation_kwargs["do_sample"] is True and sampled.llm.generation_kwargs["temperature"] == 1.3


def test_one_real_offline_run_through_the_widget(fresh_cache, monkeypatch):
    monkeypatch.setenv("KIT_CACHE_DIR", str(fresh_cache[0]))
    controls = pooling_controls("offline").controls
    controls.max_tokens.value = 8
    controls.instruction.value = "What is DPO?"
    start = time.monotonic()
    controls.button.click()
    assert time.monotonic() - start < 60
    assert controls.error is None, controls.error
    assert len(controls.result["grouped_generation"]) == 2 and len(controls.panes.children) == 2
    assert "(B: teacher, sampled)" in controls.panes.children[1].value


def count_text(report):
    return f"{report['kept']}/{report['rows']} cặp còn lại"


def test_explorer_count_follows_pick_pairs():
    controls = preference_explorer(ROWS).controls
    assert count_text(pick_pairs(ROWS)[1]) in controls.count.value == "<b>3/4 cặp còn lại</b>"
    for policy, margin in [("best-worst", 1.5), ("best-worst", 3.0), ("best-random-lower", 2.0), ("best-random-lower", 0.0)]:
        controls.policy.value, controls.margin.value = policy, margin
        report = pick_pairs(ROWS, policy=policy, min_margin=margin)[1]
        assert count_text(report) in controls.count.value
        assert controls.summary.value == describe_report(report)
    controls.policy.value, controls.margin.value = "best-worst", 3.0
    assert "2/4 cặp còn lại" in controls.count.value
    controls.margin.value = 3.5
    assert "0/4 cặp còn lại" in controls.count.value


def test_explorer_highlights_chosen_and_rejected():
    controls = preference_explorer(ROWS).controls
    controls.row.value = 3
    cards = controls.cards.value
    assert "C · điểm 4 · chosen" in cards and "A · điểm 1 · rejected" in cards and "B · điểm 3</b>" in cards
    assert kit_widgets.CHOSEN_COLOR in cards and kit_widgets.REJECTED_COLOR in cards and "Lý do: z" in cards
    controls.row.value = 2
    assert "bị bỏ: hoà điểm" in controls.cards.value and "chosen" not in controls.cards.value.split("</p>", 2)[-1]
    controls.row.value, controls.margin.value = 1, 1.5
    assert "bị bỏ: chênh lệch điểm dưới ngưỡng" in controls.cards.value


def test_rating_distribution_bars_match_the_ratings():
    fig = plot_rating_distribution(ROWS)
    ax = fig.axes[0]
    heights = {label: [int(p.get_height()) for p in container] for label, container in zip([c.get_label() for c in ax.containers], ax.containers)}
    assert heights == {"A": [1, 1, 2, 0, 0], "B": [0, 0, 2, 1, 1], "C": [0, 0, 0, 1, 0]}
    no_models = [{k: v for k, v in row.items() if k != "generation_models"} for row in ROWS[:2]]
    ax = plot_rating_distribution(no_models).axes[0]
    assert [c.get_label() for c in ax.containers] == ["vị trí 1", "vị trí 2"]


def test_margins_histogram_matches_the_pairs():
    pairs, _ = pick_pairs(ROWS)
    ax = plot_margins(pairs).axes[0]
    counts = {round(p.get_x() + p.get_width() / 2, 2): int(p.get_height()) for p in ax.patches if p.get_height()}
    assert counts == {1.0: 1, 3.0: 2}
    assert "3 cặp" in ax.get_title()
    assert [t.get_text() for t in plot_margins([]).axes[0].texts] == ["Không có cặp nào"]


LABEL_ROWS = [
    {"instruction": f"q{i}", "generations": [f"first text {i}", f"second text {i}"], "ratings": [1, 2],
     "generation_models": ["writer one", "writer two"]}
    for i in range(4)
]


def open_labeller(path, rows=LABEL_ROWS, click_guard=0.0):
    from helpers.widgets import label_preferences

    labeller = label_preferences(rows, path).controls
    labeller.click_guard = click_guard  # these tests click faster than any person; the guard has its own test
    return labeller


def shown_texts(labeller):
    return [pane.value for pane in labeller.panes.children]


def test_labeller_hides_model_names_until_a_pair_is_labelled(tmp_path):
    labeller = open_labeller(tmp_path / "labels.jsonl")
    assert labeller.progress.value.startswith("<b>0/4</b>")
    first = labeller.item
    assert not any("writer" in pane for pane in shown_texts(labeller))
    assert first.text_of("A") in shown_texts(labeller)[0] and first.text_of("B") in shown_texts(labeller)[1]
    labeller.buttons["A"].click()
    assert labeller.index == 1 and labeller.progress.value.startswith("<b>1/4</b>")
    assert f"A là {first.model_of('A')}" in labeller.status.value  # revealed once labelled
    assert not any("writer" in pane for pane in shown_texts(labeller))  # the next pair: still hidden
    labeller.back.click()
    assert labeller.index == 0 and any("writer" in pane for pane in shown_texts(labeller))
    assert "Nhãn của bạn: <b>A tốt hơn</b>" in labeller.status.value and labeller.back.disabled


def test_labeller_appends_each_label_and_back_changes_it(tmp_path):
    path = tmp_path / "labels.jsonl"
    labeller = open_labeller(path)
    for name in ("A", "B", "tie"):
        labeller.buttons[name].click()
    labeller.back.click()
    labeller.back.click()
    labeller.buttons["skip"].click()  # pair 2 changed: then on to the only pair without a label
    assert labeller.index == 3
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["label"] for line in lines] == ["A", "B", "tie", "skip"]
    assert lines[1]["instruction"] == lines[3]["instruction"] == "q1"
    assert all(line["seed"] == 42 and sorted(line["shown"]) == [0, 1] for line in lines)
    labeller.buttons["B"].click()
    assert labeller.count_labelled() == 4 and "Đã gán nhãn mọi cặp" in labeller.status.value


def test_a_reopened_labeller_has_every_label_and_starts_at_the_first_without_one(tmp_path):
    path = tmp_path / "labels.jsonl"
    labeller = open_labeller(path)
    labeller.buttons["A"].click()
    labeller.next.click()
    labeller.buttons["B"].click()  # pairs 1 and 3 labelled, pair 2 not
    again = open_labeller(path)  # a kernel restart: only the file remains
    assert again.count_labelled() == 2 and again.index == 1
    assert again.labels == labeller.labels
    again.move(-1)
    assert "Nhãn của bạn: <b>A tốt hơn</b>" in again.status.value


def test_labeller_reports_bad_and_foreign_lines(tmp_path):
    path = tmp_path / "labels.jsonl"
    other = [{**row, "instruction": "another run " + row["instruction"]} for row in LABEL_ROWS[:2]]
    open_labeller(path, other).buttons["A"].click()
    with open(path, "a") as handle:
        handle.write("{broken\n")
    before = path.read_text()
    labeller = open_labeller(path)
    notice = labeller.notice.value
    assert "1 nhãn của các cặp không có ở đây" in notice
    assert "1 dòng không dùng được" in notice and "dòng 2: không phải JSON" in notice
    assert labeller.count_labelled() == 0
    labeller.buttons["A"].click()
    assert path.read_text().startswith(before) and len(path.read_text().splitlines()) == 3  # nothing removed


def test_labeller_shows_a_write_error_and_keeps_the_pair(tmp_path):
    (tmp_path / "not-a-folder").write_text("a file where the labels' folder should be")
    labeller = open_labeller(tmp_path / "not-a-folder" / "labels.jsonl")
    labeller.buttons["A"].click()
    assert labeller.error and "Không ghi được nhãn" in labeller.status.value and "chưa được lưu" in labeller.status.value
    assert labeller.index == 0 and labeller.count_labelled() == 0


def test_labeller_needs_rows_with_two_completions(tmp_path):
    from helpers.widgets import label_preferences

    with pytest.raises(ValueError, match="chạy các ô sinh và chấm điểm"):
        label_preferences([{"instruction": "q", "generations": ["only one"]}], tmp_path / "l.jsonl")


def test_a_double_click_does_not_label_the_next_pair_unseen(tmp_path, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(kit_widgets.time, "monotonic", lambda: now[0])
    labeller = open_labeller(tmp_path / "labels.jsonl", click_guard=0.4)
    labeller.buttons["A"].click()
    labeller.buttons["A"].click()  # the second click of a double click: the next pair has just appeared
    assert labeller.count_labelled() == 1 and labeller.index == 1
    assert "chưa được tính" in labeller.status.value
    now[0] += 1.0  # a person reads the pair first
    labeller.buttons["B"].click()
    assert labeller.count_labelled() == 2 and len((tmp_path / "labels.jsonl").read_text().splitlines()) == 2


def test_a_text_that_cannot_be_written_is_reported(tmp_path):
    rows = [{**LABEL_ROWS[0], "generations": ["broken \ud800 text", "fine"]}]  # a lone surrogate: not encodable
    labeller = open_labeller(tmp_path / "labels.jsonl", rows)
    labeller.buttons["A"].click()
    assert "Không ghi được nhãn" in labeller.status.value and labeller.count_labelled() == 0
