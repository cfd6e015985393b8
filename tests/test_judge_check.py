"""judge-check: known pairs read with clear errors, rated in both orders by the offline judge; the prefix-cached scorer."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from coursetools import judge_check
from helpers import qwen
from helpers.parts import check_part, locate_parts
from helpers.sanity import KNOWN_PAIRS, PairsError, read_known_pairs

ROOT = Path(__file__).resolve().parent.parent
GOOD = '{"instruction": "q", "good": "right", "bad": "wrong"}'


def write(tmp_path, text: str | bytes) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


@pytest.mark.parametrize("line, message", [
    ("{not json", r"dòng 2: không phải JSON"),
    ('["q", "a", "b"]', r"dòng 2: cần một đối tượng JSON .* không phải list"),
    ('{"instruction": "q", "good": "a"}', r"dòng 2: thiếu khoá bad"),
    ('{"good": "a", "bad": "b"}', r"dòng 2: thiếu khoá instruction"),
    ('{"instruction": "q", "good": "  ", "bad": "b"}', r"dòng 2: `good` phải là một chuỗi không rỗng"),
    ('{"instruction": "q", "good": 3, "bad": "b"}', r"dòng 2: `good` phải là một chuỗi không rỗng"),
    ('{"instruction": "q", "good": "same", "bad": " same "}', r"dòng 2: `good` và `bad` giống nhau"),
])
def test_a_bad_line_is_named_by_its_number(tmp_path, line, message):
    with pytest.raises(PairsError, match=message):
        read_known_pairs(write(tmp_path, GOOD + "\n" + line + "\n"))


def test_blank_lines_are_skipped_and_extra_keys_dropped(tmp_path):
    pairs = read_known_pairs(write(tmp_path, "\n" + GOOD[:-1] + ', "note": "x"}\n\n' + GOOD + "\n"))
    assert pairs == [{"instruction": "q", "good": "right", "bad": "wrong"}] * 2


@pytest.mark.parametrize("content, message", [("", "không có cặp nào"), ("\n \n", "không có cặp nào"),
                                              (b"\xff\xfe", "Không đọc được")])
def test_an_empty_or_unreadable_file_is_refused(tmp_path, content, message):
    with pytest.raises(PairsError, match=message):
        read_known_pairs(write(tmp_path, content))


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(PairsError, match="Không đọc được"):
        read_known_pairs(tmp_path / "nowhere.jsonl")


def test_the_cli_exits_2_with_the_message_and_loads_no_model(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(judge_check, "rate_known_pairs", lambda *a: pytest.fail("a model was loaded"))
    assert judge_check.main([str(write(tmp_path, GOOD + "\n{oops\n"))]) == 2
    assert "dòng 2: không phải JSON" in capsys.readouterr().err


def test_the_shipped_known_pairs_are_valid():
    assert len(read_known_pairs()) == 12 and KNOWN_PAIRS.is_relative_to(ROOT)


def test_every_part_of_both_judges_is_installed_with_its_size():
    for spec in qwen.JUDGE_MODELS.values():
        for n, path in enumerate(locate_parts(spec), 1):
            check_part(spec, n, path)


def test_prefix_cached_scores_equal_full_passes(fresh_cache):
    """In float32 the cached prefix gives a full pass's scores, in any order (bf16 rounds the two splits apart by ~0.07)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from helpers.judge import RATINGS, score_prompts

    folder = fresh_cache[1]
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    shared = "<|im_start|>system\nRate the answer from 1 to 5.<|im_end|>\n<|im_start|>user\n"
    texts = ("Paris is the capital of France.", "Lyon is the capital of France.", "The moon is cheese, said Tom.")
    prompts = [shared + text + "<|im_end|>\n<|im_start|>assistant\nRating: " for text in texts]
    digits = [tokenizer.convert_tokens_to_ids(str(k)) for k in RATINGS]
    full = []
    with torch.inference_mode():
        for prompt in prompts:
            ids = tokenizer(prompt, add_special_tokens=False, return_tensors="pt").input_ids
            probs = model(ids).logits[0, -1, digits].float().softmax(-1)
            full.append(round(float((probs * torch.tensor(RATINGS, dtype=torch.float32)).sum()), 2))
    assert len(set(full)) == 3
    assert score_prompts(model, tokenizer, prompts) == pytest.approx(full, abs=0.011)
    assert score_prompts(model, tokenizer, prompts[::-1])[::-1] == pytest.approx(full, abs=0.011)
    assert score_prompts(model, tokenizer, prompts + prompts[:1]) == pytest.approx(full + full[:1], abs=0.011)
    assert score_prompts(model, tokenizer, prompts[1:2]) == pytest.approx(full[1:2], abs=0.011)
    assert score_prompts(model, tokenizer, []) == []


def test_the_offline_judge_tells_known_pairs_apart():
    """The default judge (the 1.5B, by token probabilities) on the shipped pairs, through the command itself."""
    done = subprocess.run([sys.executable, "-m", "coursetools", "judge-check", str(KNOWN_PAIRS), "--json"],
                          capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["judge"].startswith(qwen.QWEN_1_5B.name) and result["method"] == "probs"
    assert result["judgements"] == 24 and result["invalid"] == 0
    assert result["first_position_wins"] is None  # each text is scored alone: order cannot sway it
    # 22 of 24 on the machine these pairs were written on (never tuned on them); numerics differ by CPU, so the test
    # asks for a judge that is clearly not guessing, and that a pair rated in both orders gets the same two scores.
    assert result["accuracy"] >= 0.75 and result["ties"] <= 1
    by_pair = {}
    for judgement in result["judgements_list"]:
        ratings = judgement["ratings"] if judgement["good_first"] else judgement["ratings"][::-1]
        by_pair.setdefault(judgement["instruction"], []).append(ratings)
    assert all(first == second for first, second in by_pair.values())
    assert "24 lần chấm: accuracy" in done.stdout


@pytest.mark.parametrize("ratings, good_index, verdict", [
    ([4, 2], 0, "right"), ([4, 2], 1, "wrong"), ([3.5, 3.5], 0, "tie"), ([None, 2], 0, "invalid"), ([4], 0, "invalid"),
])
def test_each_judgement_gets_its_verdict(ratings, good_index, verdict):
    assert judge_check.judge_verdict({"ratings": ratings, "good_index": good_index}) == verdict


def test_the_report_says_which_judgements_were_right_wrong_or_tied():
    rows = [{"instruction": "q", "good_first": True, "ratings": r, "verdict": v}
            for r, v in (([4, 2], "right"), ([2, 4], "wrong"), ([3, 3], "tie"))]
    summary = {"judgements": 3, "accuracy": 0.33, "ties": 1, "invalid": 0, "first_position_wins": None, "same_ratings": None}
    text = judge_check.format_result(judge_check.CheckResult("J", "probs", summary, 1.5, rows))
    assert [line.split()[-1] for line in text.splitlines()[2:5]] == ["đúng", "sai", "hoà"]
    assert text.splitlines()[-1] == "3 lần chấm: accuracy 0.33, hoà 1, không hợp lệ 0, vị trí đầu thắng —, 1.5 giây"
