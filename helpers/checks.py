"""The exercise's checks: each raises AssertionError with a Vietnamese message saying what is wrong and how to fix it.

The checks never trust what a learner's code says about itself: pairs are checked against the judge's own
ratings, candidates against the pooled rows, the dataset against the pairs and against its saved copy.
The check cells reload this module (`importlib.reload(helpers.checks)`), and this module reloads what it relies on,
so a cell that replaced a check or one of its helpers earlier in the notebook cannot change a verdict.
"""

from __future__ import annotations

import importlib
from collections import Counter
from pathlib import Path

# Fresh copies, reloaded with this module (see above).
course = importlib.reload(importlib.import_module("helpers.course"))
pairs_module = importlib.reload(importlib.import_module("helpers.pairs"))
is_empty, is_valid_rating = pairs_module.is_empty, pairs_module.is_valid_rating

TRL_COLUMNS = ("prompt", "chosen", "rejected")
SCORE_KEYS = (("score_chosen", "score_rejected"), ("chosen_rating", "rejected_rating"))  # the kit's, distilabel's
FINAL_MARGIN = 0.5  # the 🦁 minimum margin (MIN_MARGIN in the exercise), on the offline judge's expected ratings


def require(value, name: str, tier: str):
    """Fail with a TODO hint when a variable the learner must fill is still None; return it as a list of rows."""
    if value is None:
        raise AssertionError(f"Chưa có kết quả: `{name}` vẫn là None — hãy làm phần TODO ({tier}) ở ô phía trên rồi chạy lại.")
    try:
        rows = [dict(row) for row in value]  # a list of dicts or a datasets.Dataset
    except (TypeError, ValueError):
        raise AssertionError(
            f"`{name}` phải là một danh sách các dict (hoặc một datasets.Dataset), không phải {type(value).__name__}."
        ) from None
    return rows


def report_pass(message: str) -> None:
    """Print one line saying which check passed."""
    print(f"✅ {message}")


def index_rows(rows: list[dict], name: str) -> dict[str, dict]:
    """Return rows by instruction; fail if a row has no instruction or two rows share one."""
    by_instruction = {}
    for number, row in enumerate(rows, start=1):
        instruction = row.get("instruction")
        assert isinstance(instruction, str), f"Hàng {number} của `{name}` không có cột `instruction`."
        assert instruction not in by_instruction, (
            f"Hướng dẫn {instruction!r} xuất hiện hai lần trong `{name}` — mỗi hướng dẫn chỉ cho một hàng."
        )
        by_instruction[instruction] = row
    return by_instruction


def read_texts(row: dict, number: int, name: str) -> list:
    """Return a row's completions, from `generations` or (before the rename) `grouped_generation`."""
    texts = row.get("generations", row.get("grouped_generation"))
    assert isinstance(texts, list), (
        f"Hàng {number} của `{name}` không có cột `generations` (hay `grouped_generation`) chứa danh sách phần hoàn thành."
    )
    return texts


def check_pooled(rows, instructions=course.EXERCISE_INSTRUCTIONS, completions: int = 2) -> None:
    """Check the pooled rows: one per exercise instruction, each with two non-empty completions and their writers."""
    from helpers.presets import load_llm  # the writers' names distilabel records: the preset's two generators

    rows = require(rows, "rows", "🐢")
    writers = [load_llm(role).model_name for role in ("generator_a", "generator_b")]
    by_instruction = index_rows(rows, "rows")
    missing = [text for text in instructions if text not in by_instruction]
    extra = [text for text in by_instruction if text not in instructions]
    assert not missing and not extra, (
        f"`rows` phải có đúng một hàng cho mỗi hướng dẫn của `instructions` — thiếu {missing}, thừa {extra}. "
        "Hãy nạp đúng danh sách `instructions` bằng LoadDataFromDicts."
    )
    for number, row in enumerate(rows, start=1):
        # GroupColumns names its outputs grouped_<column>, or as its `output_columns` say (e.g. generations).
        row = {"grouped_generation": row.get("generations"), "grouped_model_name": row.get("generation_models"), **row}
        assert row["grouped_generation"] is not None, (
            f"Hàng {number} không có cột `grouped_generation` — hãy gom cột `generation` của hai bộ sinh bằng "
            "GroupColumns(columns=[\"generation\", \"model_name\"])."
        )
        texts = row["grouped_generation"]
        assert isinstance(texts, list) and len(texts) == completions, (
            f"Hàng {number} có {len(texts) if isinstance(texts, list) else 0} phần hoàn thành, cần {completions} — "
            "nối LoadDataFromDicts tới hai TextGeneration: `data >> [gen_a, gen_b] >> group`."
        )
        empty = sum(map(is_empty, texts))
        assert not empty, (
            f"Hàng {number} có {empty} phần hoàn thành rỗng — hãy kiểm tra lời nhắc (`system_prompt`) và `max_new_tokens` "
            "trong `load_llm(..., max_new_tokens=...)`."
        )
        models = row.get("grouped_model_name")
        assert isinstance(models, list) and len(models) == completions, (
            f"Hàng {number} thiếu tên mô hình của từng phần hoàn thành — hãy gom cả cột `model_name`: "
            "GroupColumns(columns=[\"generation\", \"model_name\"])."
        )
        assert sorted(models) == sorted(writers), (
            f"Hàng {number} do {models} viết, nhưng hai bộ sinh của preset là {writers} — hãy dùng "
            "`load_llm(\"generator_a\")` và `load_llm(\"generator_b\")` cho hai bước TextGeneration."
        )
    report_pass(f"{len(rows)} hàng, mỗi hướng dẫn một hàng với {completions} phần hoàn thành không rỗng và tên người viết.")


def check_ratings(rated, source, completions: int = 2) -> None:
    """Check the judge's output against the rows it rated: the same completions, one valid 1-5 rating each."""
    name, tier = ("rated", "🐕") if completions == 2 else ("final_rated", "🦁")
    rated = require(rated, name, tier)
    source = index_rows(require(source, *(("rows", "🐢") if completions == 2 else ("candidates", "🦁"))), "nguồn")
    by_instruction = index_rows(rated, name)
    missing, extra = [i for i in source if i not in by_instruction], [i for i in by_instruction if i not in source]
    assert not missing and not extra, (
        f"`{name}` phải có đúng các hướng dẫn của hàng đầu vào ({len(source)} hàng) — thiếu {missing}, thừa {extra}: "
        "hãy chấm mọi hàng, mỗi hàng một lần (các hàng chấm tay không thuộc `" + name + "`)."
    )
    for number, row in enumerate(rated, start=1):
        assert "generations" in row, (
            f"Hàng {number} không có cột `generations` — UltraFeedback đọc `generations`: hãy đổi tên `grouped_generation`."
        )
        texts, ratings = row["generations"], row.get("ratings")
        assert isinstance(texts, list) and len(texts) == completions, (
            f"Hàng {number} có {len(texts) if isinstance(texts, list) else 0} phần hoàn thành, cần {completions}."
        )
        assert Counter(map(repr, texts)) == Counter(map(repr, read_texts(source[row["instruction"]], number, "nguồn"))), (
            f"Hàng {number}: các phần hoàn thành được chấm không phải các phần của hàng đầu vào cùng hướng dẫn — "
            "hãy chấm đúng các hàng đã tạo ở bước trước, không sửa văn bản."
        )
        assert isinstance(ratings, list) and len(ratings) == completions, (
            f"Hàng {number} có {len(ratings) if isinstance(ratings, list) else 0} điểm cho {completions} phần hoàn thành — "
            f"hãy chấm bằng build_judge(num_completions={completions}): một điểm cho mỗi phần hoàn thành."
        )
        bad = [r for r in ratings if not is_valid_rating(r)]
        assert not bad, (
            f"Hàng {number} có điểm không hợp lệ {bad} — điểm phải là số từ 1 đến 5; "
            f"hãy chấm bằng giám khảo của preset, build_judge(num_completions={completions}), không sửa điểm."
        )
    report_pass(f"{len(rated)} hàng, mọi phần hoàn thành đều có điểm 1–5 của giám khảo.")


def read_pair(pair: dict, number: int) -> tuple:
    """Return (prompt, chosen, rejected) texts of a pair in the kit's, TRL's or distilabel's layout."""
    texts = pairs_module.read_pair_texts(pair)
    assert all(isinstance(text, str) for text in texts), (
        f"Cặp thứ {number} phải có `prompt` (hướng dẫn: `row[\"instruction\"]`), `chosen` và `rejected` (văn bản, hoặc "
        f"tin nhắn role/content): ví dụ {{\"prompt\": row[\"instruction\"], \"chosen\": ..., \"rejected\": ...}}. "
        f"Cặp này có khoá {sorted(pair)}."
    )
    return texts


def find_ratings(row: dict, text: str) -> list:
    """Return the ratings of every completion of ``row`` equal to ``text``."""
    return [rating for candidate, rating in zip(row["generations"], row["ratings"]) if candidate == text]


def is_clean(row: dict) -> bool:
    """Tell whether every completion of a rated row is non-empty, distinct and has a valid rating."""
    texts, ratings = row["generations"], row["ratings"]
    return (len(texts) == len(ratings) and len(set(map(repr, texts))) == len(texts)
            and all(is_valid_rating(r) and not is_empty(t) for r, t in zip(ratings, texts)))


def expect_pair(row: dict, min_margin: float) -> str:
    """Return "must", "may" or why a rated row must give no pair: invalid_ratings, tie or below_margin."""
    reason = pairs_module.find_drop_reason(row, min_margin)
    if reason:
        return "tie" if reason == "too_few_completions" else reason  # fewer than two texts: nothing to prefer either
    return "must" if is_clean(row) else "may"  # empty or duplicate texts: the kit drops some such rows


def describe_rejected_rule(policy: str, min_margin: float) -> str:
    """Return how the rejected completion must rate, in Vietnamese, for a policy and margin."""
    return "thấp nhất" if policy == "best-worst" else f"thấp hơn ít nhất {min_margin} điểm"


def verify_pairs(pairs: list[dict], rows: dict[str, dict], policy: str, min_margin: float, where_to_pick: str) -> Counter:
    """Check pairs against the ratings of ``rows`` (by instruction); return how many rows were dropped, by reason."""
    worst_word = describe_rejected_rule(policy, min_margin)
    expected = {instruction: expect_pair(row, min_margin) for instruction, row in rows.items()}
    seen = Counter()
    for number, pair in enumerate(pairs, start=1):
        prompt, chosen, rejected = read_pair(pair, number)
        assert prompt in rows, (
            f"Cặp thứ {number} có prompt {prompt!r}, không phải hướng dẫn nào của {where_to_pick} — "
            "prompt là `row[\"instruction\"]` của hàng cho cặp đó."
        )
        seen[prompt] += 1
        assert seen[prompt] == 1, f"Hướng dẫn {prompt!r} cho hai cặp — mỗi hàng chỉ cho nhiều nhất một cặp."
        row, where = rows[prompt], f"Cặp thứ {number} ({prompt!r})"
        assert expected[prompt] != "invalid_ratings", (
            f"{where}: hàng này có điểm `None` (giám khảo không chấm được) — bỏ cả hàng, không bao giờ giữ nó."
        )
        chosen_ratings, rejected_ratings = find_ratings(row, chosen), find_ratings(row, rejected)
        assert chosen_ratings and rejected_ratings, (
            f"{where}: `{'chosen' if not chosen_ratings else 'rejected'}` không phải một phần hoàn thành của hàng này — "
            "hãy lấy văn bản từ `generations` của chính hàng đó."
        )
        assert chosen != rejected, (
            f"{where}: chosen và rejected giống hệt nhau — bỏ các hàng hoà điểm (mọi phần cùng điểm) hay có hai phần "
            "trùng văn bản."
        )
        assert not is_empty(chosen) and not is_empty(rejected), f"{where} dùng một phần hoàn thành rỗng — bỏ phần đó."
        assert expected[prompt] != "tie", f"{where}: mọi phần của hàng này cùng điểm — hàng mà mọi phần cùng điểm phải bị bỏ."
        best = max(r for r, t in zip(row["ratings"], row["generations"]) if not is_empty(t))
        score_chosen, score_rejected = max(chosen_ratings), min(rejected_ratings)
        assert score_chosen == best, (
            f"{where}: giám khảo chấm chosen {score_chosen} điểm nhưng một phần khác của hàng được {best} — chosen phải "
            "là phần điểm cao nhất (bạn có đảo chosen và rejected không?)."
        )
        assert score_rejected < best and best - score_rejected >= min_margin, (
            f"{where}: rejected được {score_rejected} điểm, chosen {best} — rejected phải {worst_word}"
            + f" (chọn rejected trong các phần có điểm ≤ {round(best - min_margin, 4)}; không có phần nào thì bỏ hàng)."
        )
        if policy == "best-worst":
            worst = min(r for r, t in zip(row["ratings"], row["generations"]) if not is_empty(t))
            assert score_rejected == worst, (
                f"{where}: rejected phải là phần điểm thấp nhất ({worst}), không phải phần được {score_rejected}."
            )
        for key, score in zip((*SCORE_KEYS[0], *SCORE_KEYS[1]), (score_chosen, score_rejected) * 2):
            assert key not in pair or pair[key] == score, (
                f"{where}: `{key}` = {pair[key]} không khớp điểm giám khảo đã chấm cho chính văn bản đó ({score}) — "
                "hãy lấy văn bản và điểm từ cùng một vị trí."
            )
        for key, text in (("chosen_model", chosen), ("rejected_model", rejected)):
            writers = [m for t, m in zip(row["generations"], row.get("generation_models") or []) if t == text]
            assert key not in pair or not writers or pair[key] in writers, (
                f"{where}: `{key}` = {pair[key]!r} nhưng văn bản đó do {writers[0]!r} viết — "
                "hãy lấy văn bản và tên người viết từ cùng một vị trí."
            )
    lost = [instruction for instruction, expect in expected.items() if expect == "must" and not seen[instruction]]
    assert not lost, (
        f"{len(lost)} hàng có chênh lệch điểm rõ ràng nhưng không cho cặp nào, ví dụ {lost[0]!r} — hãy chọn cặp trên "
        f"{where_to_pick} và chỉ bỏ hàng hoà điểm, thiếu điểm"
        + (f" hoặc không có phần nào thấp hơn ít nhất {min_margin} điểm" if min_margin else "") + "."
    )
    return Counter(expect for instruction, expect in expected.items() if not seen[instruction])


def check_pairs(pairs, rated, hand_rated=(), policy: str = "best-worst", min_margin: float = 0) -> None:
    """Check pairs against the ratings of ``rated`` and ``hand_rated``: the right texts, one pair per row that has one."""
    pairs_module.check_policy(policy)
    name, tier, pool = ("pairs", "🐕", "`to_pair`") if policy == "best-worst" else ("final_pairs", "🦁", "`to_pair_final`")
    pairs = require(pairs, name, tier)
    rows = require(rated, "rated" if policy == "best-worst" else "final_rated", tier) + [dict(row) for row in hand_rated]
    for row in rows:
        assert isinstance(row.get("generations"), list) and isinstance(row.get("ratings"), list), (
            "Các hàng được chấm phải có `generations` và `ratings` — hãy làm phần chấm điểm (TODO) ở trên trước."
        )
    dropped = verify_pairs(pairs, index_rows(rows, "rated"), policy, min_margin, pool + " (hàng của giám khảo và hàng chấm tay)")
    labels = {"tie": "hoà điểm", "invalid_ratings": "thiếu điểm", "below_margin": "dưới ngưỡng", "may": "có phần rỗng/trùng"}
    worst_word = describe_rejected_rule(policy, min_margin)
    report_pass(
        f"{len(pairs)} cặp khớp điểm của giám khảo: chosen là phần điểm cao nhất, rejected {worst_word}; hàng bị bỏ: "
        + (", ".join(f"{count} {labels[reason]}" for reason, count in dropped.items()) or "không hàng nào") + "."
    )


def check_candidates(candidates, rated) -> None:
    """Check the 🦁 candidates: every rated row's two completions plus one new, non-empty rewrite, each with its writer."""
    candidates = index_rows(require(candidates, "candidates", "🦁"), "candidates")
    rated = index_rows(require(rated, "rated", "🐕"), "rated")
    assert set(candidates) == set(rated), (
        f"`candidates` phải có một hàng cho mỗi hàng của `rated` ({len(rated)}), nhưng có {len(candidates)}."
    )
    evolved_texts = []
    for number, (instruction, row) in enumerate(candidates.items(), start=1):
        texts, models = read_texts(row, number, "candidates"), row.get("generation_models")
        assert len(texts) == 3, (
            f"Hàng {number} có {len(texts)} phần hoàn thành, cần 3: hai phần đã tổng hợp và một bản tiến hoá (EvolQuality)."
        )
        pooled = read_texts(rated[instruction], number, "rated")
        new = list(texts)
        for text in pooled:
            assert text in new, (
                f"Hàng {number}: thiếu một phần hoàn thành đã tổng hợp — giữ nguyên hai phần cũ và thêm bản tiến hoá."
            )
            new.remove(text)
        evolved = new[0]
        evolved_texts.append(evolved)
        assert not is_empty(evolved) and evolved not in pooled and evolved.strip() != instruction.strip(), (
            f"Hàng {number}: phần hoàn thành thứ ba phải là bản viết lại mới của EvolQuality (cột `evolved_response`), "
            "không rỗng, khác hai phần cũ."
        )
        assert isinstance(models, list) and len(models) == 3 and all(isinstance(m, str) and m.strip() for m in models), (
            f"Hàng {number}: `generation_models` phải ghi tên người viết cho cả 3 phần hoàn thành."
        )
        writers = dict(zip(pooled, rated[instruction].get("generation_models") or []))
        moved = [text for text, model in zip(texts, models) if text in writers and writers[text] != model]
        assert not moved, (
            f"Hàng {number}: một phần đã tổng hợp mang tên người viết khác với trong `rated` — thêm bản tiến hoá và tên "
            "của nó ở cùng một vị trí trong `generations` và `generation_models`."
        )
    assert len(candidates) < 2 or len(set(evolved_texts)) > 1, (
        "Phần hoàn thành thứ ba giống hệt nhau ở mọi hàng — nó phải là bản EvolQuality viết lại phần hoàn thành của từng hàng."
    )
    report_pass(f"{len(candidates)} hàng, mỗi hàng 2 phần đã tổng hợp và 1 bản tiến hoá mới, có tên người viết.")


def is_message_list(value) -> bool:
    """Return whether a column's value is what trl.data_utils.is_conversational accepts: a list of {"role", ...} messages."""
    # TRL's own test, on one column, for a non-empty list (tests/test_checks.py compares the two). Importing
    # trl.data_utils loads transformers and torch: 3.4 s in every fresh process that re-runs the checks for the grader.
    return isinstance(value, list) and bool(value) and isinstance(value[0], dict) and "role" in value[0]


def check_format(dataset) -> list[tuple[str, str, str]]:
    """Check a datasets.Dataset is in TRL's conversational preference format; return its (prompt, chosen, rejected) texts."""
    from datasets import Dataset

    if dataset is None:
        require(dataset, "dataset", "🦁")  # the TODO message
    assert isinstance(dataset, Dataset), (
        f"`dataset` phải là một datasets.Dataset (ví dụ Dataset.from_list(...)), không phải {type(dataset).__name__}."
    )
    assert len(dataset) > 0, "Tập dữ liệu không có hàng nào."
    missing = [column for column in TRL_COLUMNS if column not in dataset.column_names]
    assert not missing, (
        f"Tập dữ liệu thiếu cột {missing} — DPOTrainer của TRL đọc `prompt`, `chosen`, `rejected`"
        + (" (prompt đang nằm trong chosen/rejected: tách ra bằng `dataset.map(trl.extract_prompt)`)." if missing == ["prompt"] else ".")
    )
    texts = []
    for number, example in enumerate(dataset, start=1):
        assert all(is_message_list(example[column]) for column in TRL_COLUMNS), (
            f"Hàng {number} chưa theo kiểu conversational của TRL: `prompt`, `chosen`, `rejected` phải là danh sách tin "
            "nhắn {\"role\": ..., \"content\": ...} (notebook 05 đọc `chosen[-1][\"content\"]`)."
        )
        assert example["prompt"][-1]["role"] == "user", f"Hàng {number}: tin nhắn cuối của `prompt` phải có role \"user\"."
        for column in ("chosen", "rejected"):
            roles = {message["role"] for message in example[column]}
            assert roles == {"assistant"}, (
                f"Hàng {number}: `{column}` chỉ chứa câu trả lời (role \"assistant\"), còn câu hỏi nằm ở cột `prompt` — "
                f"ở đây có role {sorted(roles)}."
            )
            assert not is_empty(example[column][-1]["content"]), f"Hàng {number}: `{column}` rỗng — TRL cần cả hai phần hoàn thành."
        texts.append((example["prompt"][-1]["content"], example["chosen"][-1]["content"], example["rejected"][-1]["content"]))
    return texts


def check_dataset(dataset, pairs, out_dir) -> None:
    """Check the DPO dataset: TRL's conversational format, one row per pair, saved in ``out_dir`` and loading back equal."""
    texts = check_format(dataset)
    pairs = require(pairs, "final_pairs", "🦁")
    expected = Counter(read_pair(pair, number) for number, pair in enumerate(pairs, start=1))
    assert len(texts) == len(pairs) and Counter(texts) == expected, (
        f"`dataset` phải có đúng một hàng cho mỗi cặp của `final_pairs` ({len(pairs)} cặp, không phải `pairs` của mức 🐕), "
        f"với cùng prompt, chosen và rejected; ở đây có {len(texts)} hàng và "
        f"{sum((Counter(texts) - expected).values())} hàng không khớp cặp nào."
    )
    folder = Path(out_dir)
    assert (folder / "dataset_info.json").is_file(), (
        f"Chưa thấy tập dữ liệu đã lưu trong {folder.name}/ — hãy gọi `dataset.save_to_disk(OUT_DIR)`."
    )
    saved = read_saved(folder)
    assert saved.to_list() == dataset.to_list(), (
        "Bản đã lưu khác `dataset` trong bộ nhớ — hãy lưu lại (`dataset.save_to_disk(OUT_DIR)`) sau lần sửa cuối."
    )
    report_pass(f"Tập dữ liệu DPO kiểu conversational: {len(dataset)} hàng, khớp {len(pairs)} cặp; bản lưu đọc lại giống hệt.")


def read_saved(folder: Path):
    """Return the dataset saved in ``folder``; fail with a message if datasets cannot read it back."""
    from datasets import load_from_disk

    try:
        return load_from_disk(str(folder))
    except Exception as error:  # datasets 5.0 cannot even read back a saved dataset of 0 rows (IndexError)
        raise AssertionError(
            f"Không đọc lại được tập dữ liệu đã lưu trong {folder.name}/ ({type(error).__name__}) — có thể nó rỗng "
            "hoặc được lưu dở: hãy tạo lại `dataset` và lưu lại."
        ) from None


def check_saved_dataset(out_dir) -> None:
    """Check a saved exercise dataset on its own (the grader runs it outside the learner's kernel)."""
    # Only the hand-rated rows have ratings known outside the learner's kernel: their pairs are checked in full.
    folder = Path(out_dir)
    assert (folder / "dataset_info.json").is_file(), f"Không có tập dữ liệu đã lưu trong {folder.name}/."
    dataset = read_saved(folder)
    texts = check_format(dataset)
    hand = index_rows([dict(row) for row in course.HAND_RATED_3], "HAND_RATED_3")
    unknown = [prompt for prompt, _, _ in texts if prompt not in hand and prompt not in course.EXERCISE_INSTRUCTIONS]
    assert not unknown, f"Tập dữ liệu có prompt không thuộc bài tập: {unknown[0]!r}."
    same = sum(chosen == rejected for _, chosen, rejected in texts)
    assert not same, f"{same} hàng có chosen giống hệt rejected."
    judged = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in texts if p not in hand]
    assert judged, (
        "Tập dữ liệu chỉ có cặp của các hàng chấm tay (HAND_RATED_3), không có cặp nào từ điểm của giám khảo — hãy lưu "
        "`final_pairs`, các cặp của mọi hàng."
    )
    assert len({pair["prompt"] for pair in judged}) == len(judged), (
        "Một hướng dẫn xuất hiện ở nhiều hàng — mỗi hướng dẫn cho nhiều nhất một cặp."
    )
    hand_pairs = [{"prompt": p, "chosen": c, "rejected": r} for p, c, r in texts if p in hand]
    verify_pairs(hand_pairs, hand, "best-random-lower", FINAL_MARGIN, "các hàng chấm tay (HAND_RATED_3)")
    check_saved_columns(dataset, hand)
    report_pass(f"Tập dữ liệu đã lưu: {len(texts)} hàng kiểu conversational; các cặp của hàng chấm tay đúng quy ước.")


def check_saved_columns(dataset, hand: dict[str, dict]) -> None:
    """Check a saved dataset's optional score and model columns by type, margin and, on the hand-rated rows, by value."""
    # Optional, and None where unknown: the kit's to_dataset always writes them (pairs from labels have no scores).
    for number, example in enumerate(dataset, start=1):
        prompt = example["prompt"][-1]["content"]
        row, where = hand.get(prompt), f"Hàng {number} ({prompt!r})"
        for side in ("chosen", "rejected"):
            text = example[side][-1]["content"]
            if example.get(f"score_{side}") is not None:
                score = example[f"score_{side}"]
                assert is_valid_rating(score), f"{where}: `score_{side}` phải là một điểm từ 1 đến 5, không phải {score!r}."
                assert row is None or score in find_ratings(row, text), (
                    f"{where}: `score_{side}` là {score}, nhưng phần `{side}` được chấm {find_ratings(row, text)[0]} — "
                    "cột điểm có bị đảo hay lệch hàng không?"
                )
            if example.get(f"{side}_model") is not None:
                model = example[f"{side}_model"]
                assert isinstance(model, str) and model.strip(), (
                    f"{where}: `{side}_model` phải là tên mô hình (chuỗi) đã viết phần `{side}`, không phải {model!r}."
                )
                writers = [] if row is None else [m for t, m in zip(row["generations"], row["generation_models"]) if t == text]
                assert row is None or model in writers, (
                    f"{where}: `{side}_model` là {model!r}, nhưng phần `{side}` do {writers[0]!r} viết — cột mô hình có "
                    "bị đảo không?"
                )
        if example.get("score_chosen") is not None and example.get("score_rejected") is not None:
            assert example["score_chosen"] - example["score_rejected"] >= FINAL_MARGIN, (
                f"{where}: `score_chosen` {example['score_chosen']} phải cao hơn `score_rejected` {example['score_rejected']} "
                f"ít nhất {FINAL_MARGIN} điểm (MIN_MARGIN) — cột điểm có bị đảo không?"
            )
