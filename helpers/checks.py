"""Checks for the exercise: each raises AssertionError with a Vietnamese message saying what is wrong and how to fix it."""

from __future__ import annotations

from helpers.pairs import is_empty, is_valid_rating

TRL_COLUMNS = ("prompt", "chosen", "rejected")
SCORE_COLUMNS = ("score_chosen", "score_rejected")


def require(value, name: str, tier: str):
    """Fail with a TODO hint when a variable the learner must fill is still None."""
    if value is None:
        raise AssertionError(f"Chưa có kết quả: `{name}` vẫn là None — hãy làm phần TODO ({tier}) ở ô phía trên rồi chạy lại.")
    return value


def passed(message: str) -> None:
    """Print one line saying which check passed."""
    print(f"✅ {message}")


def check_pooled(rows, instructions, completions: int = 2) -> None:
    """Check the pooled rows: one per instruction, each with ``completions`` non-empty texts."""
    rows = require(rows, "rows", "🐢")
    assert len(rows) == len(instructions), (
        f"Có {len(rows)} hàng nhưng {len(instructions)} hướng dẫn — mỗi hướng dẫn phải cho đúng một hàng."
    )
    for number, row in enumerate(rows, start=1):
        texts = row.get("grouped_generation") or row.get("generations")
        assert texts is not None, (
            f"Hàng {number} không có cột `grouped_generation` — hãy gom hai cột `generation` bằng GroupColumns."
        )
        assert len(texts) == completions, (
            f"Hàng {number} có {len(texts)} phần hoàn thành, cần {completions} (mỗi bộ sinh một phần)."
        )
        empty = sum(is_empty(text) for text in texts)
        assert not empty, f"Hàng {number} có {empty} phần hoàn thành rỗng — hãy kiểm tra `max_new_tokens` và lời nhắc."
    passed(f"{len(rows)} hàng, mỗi hàng {completions} phần hoàn thành không rỗng.")


def check_ratings(rated, completions: int = 2) -> None:
    """Check the judge's output: one valid 1-5 rating per completion on every row."""
    rated = require(rated, "rated", "🐕")
    assert rated, "Danh sách `rated` đang trống — giám khảo chưa chấm hàng nào."
    missing = [n for n, row in enumerate(rated, start=1) if "generations" not in row]
    assert not missing, (
        f"Hàng {missing} không có cột `generations` — UltraFeedback đọc `generations`, hãy đổi tên `grouped_generation`."
    )
    for number, row in enumerate(rated, start=1):
        ratings = row.get("ratings") or []
        assert len(row["generations"]) == completions, (
            f"Hàng {number} có {len(row['generations'])} phần hoàn thành, cần {completions}."
        )
        assert len(ratings) == len(row["generations"]), (
            f"Hàng {number} có {len(ratings)} điểm cho {len(row['generations'])} phần hoàn thành — "
            "hãy dùng giám khảo có cấu trúc: build_judge(structured=True, num_completions=...)."
        )
        bad = [r for r in ratings if not is_valid_rating(r)]
        assert not bad, (
            f"Hàng {number} có điểm không hợp lệ {bad} — điểm phải là số từ 1 đến 5; "
            "giám khảo văn bản tự do hay trả None, hãy dùng build_judge(structured=True)."
        )
    passed(f"{len(rated)} hàng, mọi phần hoàn thành đều có điểm 1–5.")


def check_pairs(pairs, min_margin: float = 0.0) -> None:
    """Check the picked pairs: present, chosen differs from rejected and scores higher by at least ``min_margin``."""
    pairs = require(pairs, "pairs", "🐕")
    assert pairs, "Không còn cặp nào — hãy xem báo cáo của pick_pairs: có thể ngưỡng `min_margin` quá cao."
    same = sum(p["chosen"] == p["rejected"] for p in pairs)
    assert not same, f"chosen và rejected giống nhau ở {same} hàng — hãy bỏ các hàng hoà điểm."
    not_better = sum(p["score_chosen"] <= p["score_rejected"] for p in pairs)
    assert not not_better, (
        f"Ở {not_better} hàng, điểm của chosen không cao hơn rejected — chosen phải là phần có điểm cao nhất."
    )
    narrow = sum(p["score_chosen"] - p["score_rejected"] < min_margin for p in pairs)
    assert not narrow, f"{narrow} cặp có chênh lệch điểm dưới {min_margin} — hãy truyền min_margin={min_margin} cho pick_pairs."
    passed(f"{len(pairs)} cặp, chosen luôn khác và cao điểm hơn rejected (chênh lệch ≥ {min_margin}).")


def check_candidates(rows, completions: int = 3) -> None:
    """Check the 🦁 candidates: the evolved completion joined the two pooled ones on every row."""
    rows = require(rows, "candidates", "🦁")
    for number, row in enumerate(rows, start=1):
        count = len(row.get("generations") or [])
        assert count == completions, (
            f"Hàng {number} có {count} ứng viên, cần {completions}: hai phần đã tổng hợp và một bản tiến hoá (EvolQuality)."
        )
        models = row.get("generation_models") or []
        assert len(models) == count, (
            f"Hàng {number}: `generation_models` phải ghi tên người viết cho từng ứng viên ({count} tên)."
        )
    passed(f"{len(rows)} hàng, mỗi hàng {completions} ứng viên có ghi tên người viết.")


def check_dpo_dataset(dataset) -> None:
    """Check that a datasets.Dataset is in TRL's preference format with scores."""
    dataset = require(dataset, "dataset", "🦁")
    missing = [c for c in TRL_COLUMNS + SCORE_COLUMNS if c not in dataset.column_names]
    assert not missing, f"Tập dữ liệu thiếu cột {missing} — hãy tạo nó bằng to_dataset(pairs, style=...)."
    assert len(dataset) > 0, "Tập dữ liệu không có hàng nào."
    for number, row in enumerate(dataset, start=1):
        for column in ("chosen", "rejected"):
            value = row[column]
            text = value[-1]["content"] if isinstance(value, list) and value else value
            assert not is_empty(text), f"Hàng {number}: `{column}` rỗng — TRL cần cả hai câu trả lời."
    passed(f"Tập dữ liệu DPO: {len(dataset)} hàng, các cột {', '.join(TRL_COLUMNS + SCORE_COLUMNS)}.")
