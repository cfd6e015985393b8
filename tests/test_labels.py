"""The learner's labels: the pairs shown, the JSONL file (bad lines reported, never dropped), agreement and pairs."""

import json
import warnings

import pytest

from helpers.agreement import (
    compare_with_judge, describe_agreement, list_verdicts, measure_kappa, read_judge_verdict, swap_completions,
)
from helpers.dpo import to_dataset, write_summary
from helpers.labels import (
    LabelFileWarning, append_label, build_label_items, find_labels_file, make_record, read_label_file, read_labels, read_verdict,
)
from helpers.pairs import describe_report, pick_labelled_pairs

ROWS = [
    {"instruction": f"q{i}", "generations": [f"a{i}", f"b{i}"], "ratings": ratings, "generation_models": ["gen A", "gen B"]}
    for i, ratings in enumerate([[1, 2], [1, 2], [1, 2], [3, 1], [2, 2], [None, 2]])
]


def label_all(rows, letters, path=None, seed=42):
    """Return the labels dict (and append them to ``path`` if given) for the rows' items, one letter each (None: none)."""
    labels = {}
    for item, letter in zip(build_label_items(rows, seed=seed), letters):
        if letter is not None:
            record = make_record(item, letter, seed)
            labels[item.key] = record
            if path is not None:
                append_label(path, record)
    return labels


def label_by_position(rows, verdicts):
    """Return labels that say which row position is better ("first"/"second"/"tie"/"skip"), whatever the shown order."""
    letters = []
    for item, verdict in zip(build_label_items(rows), verdicts):
        if verdict in ("first", "second"):
            better = item.positions[("first", "second").index(verdict)]
            letters.append("A" if item.shown[0] == better else "B")
        else:
            letters.append(verdict)
    return label_all(rows, letters)


def test_items_are_shown_in_a_seeded_recorded_order():
    items = build_label_items(ROWS, seed=42)
    assert [item.shown for item in items] == [item.shown for item in build_label_items(ROWS, seed=42)]
    orders = {tuple(item.shown for item in build_label_items(ROWS, seed=seed)) for seed in range(8)}
    assert len(orders) > 1 and all(set(item.shown) == {0, 1} for item in items)
    first = items[0]
    assert {first.text_of("A"), first.text_of("B")} == {"a0", "b0"}
    assert first.model_of("A") == ("gen A" if first.text_of("A") == "a0" else "gen B")
    record = make_record(first, "A", 42)
    assert record["texts"] == [first.text_of("A"), first.text_of("B")] and record["shown"] == list(first.shown)
    assert record["seed"] == 42 and record["label"] == "A"


def test_rows_without_both_completions_are_not_shown():
    rows = [{"instruction": "x", "generations": ["only one"]}, {"instruction": "y", "generations": ["a", "  "]}, ROWS[0]]
    assert [item.row for item in build_label_items(rows)] == [2]
    with pytest.raises(ValueError, match="Không có hàng nào"):
        build_label_items(rows[:2])
    with pytest.raises(ValueError, match="phải khác nhau"):
        build_label_items(ROWS, positions=(1, 1))
    with pytest.raises(ValueError, match="không tồn tại"):
        make_record(build_label_items(ROWS)[0], "C", 42)


def test_labels_survive_a_reopen_and_a_later_label_wins(tmp_path):
    path = tmp_path / "labels.jsonl"
    label_all(ROWS, ["A", "B", "tie"], path)
    item = build_label_items(ROWS)[0]
    append_label(path, make_record(item, "skip", 42))  # back, then another label for the first pair
    file = read_label_file(path)
    assert not file.problems and len(file.labels) == 3
    assert file.labels[item.key]["label"] == "skip"
    assert len(path.read_text().splitlines()) == 4  # appended, never rewritten


def test_bad_lines_are_reported_with_their_number_and_kept(tmp_path):
    path = tmp_path / "labels.jsonl"
    label_all(ROWS, ["A"], path)
    with open(path, "a") as handle:
        handle.write('{"kind": "something-else"}\n')  # foreign JSON
        handle.write("not json at all\n")
        handle.write(json.dumps({**make_record(build_label_items(ROWS)[1], "A", 42), "label": "C"}) + "\n")
        handle.write('{"kind": "kit-preference-label", "version": 1, "instr')  # cut short by a crash
    before = path.read_text()
    append_label(path, make_record(build_label_items(ROWS)[2], "B", 42))  # starts on a fresh line
    assert path.read_text().startswith(before) and path.read_text().endswith("\n")
    file = read_label_file(path)
    assert len(file.labels) == 2  # the first and the last label
    assert [number for number, _, _ in file.problems] == [2, 3, 4, 5]
    message = file.describe_problems()
    assert "4 dòng không dùng được" in message and "dòng 3: không phải JSON" in message
    assert "không phải nhãn của khóa học" in message and "nhãn 'C' không hợp lệ" in message
    assert "giữ nguyên trong tệp" in message
    with pytest.warns(LabelFileWarning, match="dòng 5"):
        assert len(read_labels(path)) == 2
    assert path.read_text().startswith(before)  # reading changes nothing


def test_no_file_is_no_labels_and_no_warning(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_labels(tmp_path / "missing.jsonl") == {}


def test_find_labels_file_lies_beside_the_dataset(monkeypatch, tmp_path):
    monkeypatch.setenv("KIT_DATASET_DIR", str(tmp_path / "mine"))
    assert find_labels_file() == tmp_path / "mine.labels.jsonl"
    assert find_labels_file("04_best_practices") == tmp_path / "04_best_practices.labels.jsonl"


def test_verdicts_read_the_texts_not_the_letters():
    item = build_label_items(ROWS)[0]
    better_shown_first = "first" if item.shown[0] == 0 else "second"
    assert read_verdict(item, make_record(item, "A", 42)) == better_shown_first
    assert read_verdict(item, make_record(item, "tie", 42)) == "tie" and read_verdict(item, None) is None
    assert read_judge_verdict(ROWS[0], (0, 1)) == "second" and read_judge_verdict(ROWS[3], (0, 1)) == "first"
    assert read_judge_verdict(ROWS[4], (0, 1)) == "tie" and read_judge_verdict(ROWS[5], (0, 1)) is None


def test_measure_kappa_matches_the_textbook_example():
    # 50 items: both yes 20, yes/no 5, no/yes 10, both no 15 -> p_o 0.7, p_e 0.5, kappa 0.4.
    pairs = [("y", "y")] * 20 + [("y", "n")] * 5 + [("n", "y")] * 10 + [("n", "n")] * 15
    assert measure_kappa(pairs) == 0.4
    assert measure_kappa([("a", "a"), ("b", "b")]) == 1.0 and measure_kappa([("a", "b"), ("b", "a")]) == -1.0
    assert measure_kappa([("a", "a")] * 3) is None and measure_kappa([]) is None  # undefined: chance agreement is 1


def test_agreement_with_a_rote_judge():
    # The judge prefers the second completion of rows 0-2, the first of row 3, ties row 4, has no rating for row 5.
    labels = label_by_position(ROWS, ["second", "first", "first", "first", "second", "skip"])
    result = compare_with_judge(ROWS, labels)
    assert (result["pairs"], result["labelled"], result["decided"], result["skipped"], result["unlabelled"]) == (6, 6, 5, 1, 0)
    assert result["both_decided"] == 4 and result["accuracy"] == 0.5  # rows 0 and 3 agree, rows 1 and 2 do not
    # Categories (human, judge): (2,2) (1,2) (1,2) (1,1) (2,tie): p_o 0.4, p_e 0.6*0.2 + 0.4*0.6 = 0.36.
    assert result["kappa"] == round((0.4 - 0.36) / (1 - 0.36), 2)
    table = {row["người \\ giám khảo"]: row for row in result["confusion"]}
    assert table["phần 1 tốt hơn"] == {"người \\ giám khảo": "phần 1 tốt hơn", "phần 1 tốt hơn": 1, "phần 2 tốt hơn": 2, "hoà": 0}
    assert table["phần 2 tốt hơn"]["phần 2 tốt hơn"] == 1 and table["phần 2 tốt hơn"]["hoà"] == 1
    # Seed 42 shows rows 0, 4 and 5 in swapped order: the verdicts second, first, first, first, second are all
    # the letter A, so this learner chose the left-hand completion in 5 of 5 pairs.
    assert [item.shown for item in build_label_items(ROWS)] == [(1, 0), (0, 1), (0, 1), (0, 1), (1, 0), (1, 0)]
    assert result["first_position"]["human"] == 1.0
    assert result["first_position"]["judge"] is None and result["judge_consistent"] is None  # one order only
    table = list_verdicts(result)
    assert [row["giống nhau"] for row in table] == ["có", "không", "không", "có", "không", "—"]
    assert table[4]["giám khảo"] == "hoà" and table[5] == {"hướng dẫn": "q5", "bạn": "bỏ qua", "giám khảo": "—", "giống nhau": "—"}
    text = describe_agreement(result)
    assert "Đã gán nhãn 6/6 cặp: 5 chọn một bên hay hoà, 1 bỏ qua" in text and "0.5" in text
    assert "cần chấm lại theo thứ tự đảo" in text


def test_agreement_names_labels_of_other_pairs():
    labels = label_by_position(ROWS, ["second"] * 6)
    other = [{**row, "instruction": "other " + row["instruction"]} for row in ROWS[:2]]
    labels.update(label_all(other, ["A", "B"]))
    result = compare_with_judge(ROWS, labels)
    assert result["foreign"] == 2 and result["labelled"] == 6
    assert "2 nhãn trong tệp thuộc các cặp không có ở đây" in describe_agreement(result)
    assert "không có ở đây" not in describe_agreement(compare_with_judge(ROWS, {}))


def test_agreement_without_labels_says_so():
    result = compare_with_judge(ROWS, {})
    assert result["labelled"] == 0 and result["accuracy"] is None and result["kappa"] is None
    assert result["first_position"]["human"] is None
    assert "Đã gán nhãn 0/6" in describe_agreement(result) and "không xác định" in describe_agreement(result)


def test_pairs_from_each_source(tmp_path):
    labels = label_by_position(ROWS, ["second", "first", "tie", "first", "second", None])
    human, report = pick_labelled_pairs(ROWS, labels, "human")
    assert [(p["prompt"], p["chosen"], p["source"]) for p in human] == [
        ("q0", "b0", "human"), ("q1", "a1", "human"), ("q3", "a3", "human"), ("q4", "b4", "human")]
    assert human[0]["score_chosen"] is None and human[0]["chosen_model"] == "gen B"
    assert report["dropped"]["labelled_tie"] == 1 and report["dropped"]["not_labelled"] == 1
    judge, report = pick_labelled_pairs(ROWS, labels, "judge")
    assert [p["prompt"] for p in judge] == ["q0", "q1", "q2", "q3"] and report["dropped"]["tie"] == 1
    assert report["dropped"]["invalid_ratings"] == 1 and report["sources"] == {"judge": 4}
    agree, report = pick_labelled_pairs(ROWS, labels, "agree")
    assert [(p["prompt"], p["chosen"]) for p in agree] == [("q0", "b0"), ("q3", "a3")]
    assert report["dropped"]["disagree"] == 1 and agree[0]["score_chosen"] == 2.0
    mixed, report = pick_labelled_pairs(ROWS, labels, "human-else-judge")
    assert [p["source"] for p in mixed] == ["human", "human", "human", "human"]  # q5: no label, no judge rating
    assert report["row_sources"][5] == {"prompt": "q5", "dropped": "invalid_ratings"}
    assert "4 từ nhãn của bạn" in describe_report(report)
    with pytest.raises(ValueError, match="Nguồn `crowd` không tồn tại"):
        pick_labelled_pairs(ROWS, labels, "crowd")


def test_the_summary_names_each_rows_source(tmp_path):
    labels = label_by_position(ROWS, ["second", None, "tie", None, None, None])
    pairs, report = pick_labelled_pairs(ROWS, labels, "human-else-judge")
    dataset = to_dataset(pairs, "conversational")
    text = write_summary(tmp_path / "out", dataset, {"nhãn": report})
    assert "1. q0 — từ nhãn của bạn" in text and "2. q1 — từ giám khảo" in text and "3. q2 — bỏ: bạn gán nhãn hoà" in text
    assert "6. q5 — bỏ: điểm không hợp lệ" in text
    saved = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert saved["reports"]["nhãn"]["row_sources"][0] == {"prompt": "q0", "source": "human"}
    assert len(dataset) == 3 and dataset[0]["chosen"] == [{"role": "assistant", "content": "b0"}]


def test_agreement_plot_draws_the_counts_and_shares():
    from helpers.plots import plot_agreement

    labels = label_by_position(ROWS, ["second", "first", "first", "first", "second", "skip"])
    figure = plot_agreement(compare_with_judge(ROWS, labels))
    heat, bars = figure.axes
    assert [int(t.get_text()) for t in heat.texts] == [1, 2, 0, 0, 1, 1, 0, 0, 0]
    assert [t.get_text() for t in bars.texts] == ["1.00", "—"]  # the judge's share needs both orders
    swapped = [{**new, "ratings": row["ratings"][::-1]} for new, row in zip(swap_completions(ROWS), ROWS)]
    both = plot_agreement(compare_with_judge(ROWS, labels, swapped=swapped))
    assert [round(p.get_height(), 2) for p in both.axes[1].patches] == [1.0, 0.5]  # this judge reads the text
    empty = plot_agreement(compare_with_judge(ROWS, {}))
    assert [t.get_text() for t in empty.axes[1].texts] == ["—", "—"]


def test_a_rote_judge_in_both_orders_reads_the_position_not_the_text():
    labels = label_by_position(ROWS, ["second", "first", "first", "first", "second", "skip"])
    # The judge rated again with the two completions swapped, still preferring whatever comes second ([1, 2]):
    swapped_rows = swap_completions(ROWS)
    assert swapped_rows[0]["generations"] == ["b0", "a0"] and swapped_rows[0]["generation_models"] == ["gen B", "gen A"]
    rote = [{**row, "ratings": [1, 2]} for row in swapped_rows]
    result = compare_with_judge(ROWS, labels, swapped=rote)
    # It chose what it read first in 1 of its 4 decided verdicts in the original order (row 3) and in none of the
    # 6 swapped ones (all [1, 2]; row 5 is rated this time).
    assert result["first_position"]["judge"] == 0.1
    assert [d["judge_swapped"] for d in result["details"]] == ["first"] * 6  # "second" when swapped, read back
    # Rows 0-4 have a verdict in both orders (row 5 lacks one in the original); only row 3 keeps the same text.
    assert result["judge_consistent"] == 0.2
    assert "giám khảo, thứ tự đảo" in list_verdicts(result)[0]
    # A judge that reads the text picks the same one in both orders: consistent, first position 0.5.
    content = [{**new, "ratings": row["ratings"][::-1]} for new, row in zip(swapped_rows[:4], ROWS)]
    fair = compare_with_judge(ROWS[:4], labels, swapped=content)
    assert fair["judge_consistent"] == 1.0 and fair["first_position"]["judge"] == 0.5
    with pytest.raises(ValueError, match="cần đúng 6 hàng"):
        compare_with_judge(ROWS, labels, swapped=rote[:2])


def test_three_completions_compare_the_chosen_positions():
    rows = [{"instruction": "q", "generations": ["g0", "g1", "g2"], "ratings": [2, 5, 4], "generation_models": ["m0", "m1", "m2"]}]
    item = build_label_items(rows, positions=(2, 0))[0]
    assert item.positions == (0, 2) and set(item.texts) == {"g0", "g2"}
    labels = {item.key: make_record(item, "A" if item.text_of("A") == "g0" else "B", 42)}  # g0 better, says the learner
    result = compare_with_judge(rows, labels, positions=(0, 2))
    assert result["details"][0]["human"] == "first" and result["details"][0]["judge"] == "second"
    (pair,), _ = pick_labelled_pairs(rows, labels, "human", positions=(0, 2))
    assert (pair["chosen"], pair["rejected"], pair["chosen_index"], pair["rejected_model"]) == ("g0", "g2", 0, "m2")
    (pair,), _ = pick_labelled_pairs(rows, labels, "judge", positions=(0, 2))
    assert (pair["chosen"], pair["score_chosen"], pair["score_rejected"], pair["chosen_index"]) == ("g2", 4.0, 2.0, 2)


def test_malformed_rows_are_dropped_as_the_kit_drops_them():
    short_ratings = {"instruction": "q", "generations": ["g0", "g1", "g2"], "ratings": [5, 1], "generation_models": ["m0", "m1"]}
    pairs, report = pick_labelled_pairs([short_ratings], {}, "judge", positions=(0, 2))
    assert pairs == [] and report["dropped"]["invalid_ratings"] == 1
    assert read_judge_verdict(short_ratings, (0, 2)) is None
    same = {"instruction": "s", "generations": ["same", "same"], "ratings": [1, 2]}
    with pytest.raises(ValueError, match="khác nhau, không rỗng"):
        build_label_items([same])
    pairs, report = pick_labelled_pairs([same, ROWS[0]], {}, "judge")
    assert report["dropped"]["identical_texts"] == 1 and len(pairs) == 1
    empty = {"instruction": "e", "generations": ["text", "  "], "ratings": [1, 2]}
    assert pick_labelled_pairs([empty, ROWS[0]], {}, "judge")[1]["dropped"]["too_few_completions"] == 1


def test_array_columns_get_the_kits_message_not_numpys():
    # Like pick_pair, the labeller reads plain lists (datasets' to_list); numpy arrays (pandas' to_dict) are not
    # half-supported, but they must not crash with numpy's "truth value of an array is ambiguous".
    np = pytest.importorskip("numpy")
    rows = [{"instruction": "q", "generations": np.array(["a", "b"]), "generation_models": np.array(["x", "y"])}]
    with pytest.raises(ValueError, match="Không có hàng nào"):
        build_label_items(rows)


def test_a_line_in_another_encoding_is_reported(tmp_path):
    path = tmp_path / "labels.jsonl"
    label_all(ROWS, ["A"], path)
    with open(path, "ab") as handle:
        handle.write('{"kind": "kit-preference-label", "instruction": "café"}\n'.encode("cp1252"))
    file = read_label_file(path)
    assert len(file.labels) == 1 and file.problems[0][:2] == (2, "không phải văn bản UTF-8 (bị sửa bằng trình soạn thảo khác?)")
