"""The learner's own preference labels: the pairs to label, and the JSONL file they are appended to."""

from __future__ import annotations

import json
import os
import random
import warnings
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from helpers.storage import dataset_dir

KIND, VERSION = "kit-preference-label", 1
LABELS = {"A": "A tốt hơn", "B": "B tốt hơn", "tie": "hoà", "skip": "bỏ qua"}
DEFAULT_SEED = 42


@dataclass(frozen=True)
class LabelItem:
    """One pair to label: an instruction, two of its completions (row positions) and the order they are shown in."""

    row: int
    instruction: str
    positions: tuple[int, int]  # row positions, ascending: the judge saw positions[0] first
    texts: tuple[str, str]
    models: tuple
    shown: tuple[int, int]  # row positions shown as A and B

    @property
    def key(self) -> str:
        """Return what identifies the pair whatever the order: the instruction and both texts."""
        return make_key(self.instruction, self.texts)

    def text_of(self, letter: str) -> str:
        """Return the completion shown as ``letter`` ("A" or "B")."""
        return self.texts[self.positions.index(self.shown["AB".index(letter)])]

    def model_of(self, letter: str):
        """Return the model that wrote the completion shown as ``letter``."""
        return self.models[self.positions.index(self.shown["AB".index(letter)])]


@dataclass
class LabelFile:
    """What a labels file holds: the latest label per pair, and every line that could not be used, with why."""

    path: Path
    labels: dict = field(default_factory=dict)  # pair key -> the latest record
    problems: list = field(default_factory=list)  # (line number, reason, start of the line)

    def describe_problems(self) -> str:
        """Return a Vietnamese message naming each unreadable line, or "" if there is none."""
        if not self.problems:
            return ""
        lines = [f"Tệp nhãn {self.path} có {len(self.problems)} dòng không dùng được (giữ nguyên trong tệp, không bị xoá):"]
        lines += [f"  dòng {number}: {reason} — {start!r}" for number, reason, start in self.problems[:10]]
        if len(self.problems) > 10:
            lines.append(f"  ... và {len(self.problems) - 10} dòng nữa.")
        lines.append("Muốn dùng lại các nhãn đó thì sửa chúng bằng một trình soạn thảo văn bản; nếu không, có thể xoá hoặc để nguyên.")
        return "\n".join(lines)


class LabelFileWarning(UserWarning):
    """A labels file with lines that cannot be used (corrupt, or not a label of this kit)."""


def find_labels_file(name: str | None = None) -> Path:
    """Return the labels file beside the dataset folder (see dataset_dir): ``<folder>.labels.jsonl`` or ``<name>.labels.jsonl``."""
    folder = dataset_dir()
    return folder.with_name(f"{name or folder.name}.labels.jsonl")


def make_key(instruction: str, texts) -> str:
    """Return a pair's identity: its instruction and its two texts, in either order."""
    return json.dumps([instruction, sorted(texts)], ensure_ascii=False)


def build_label_items(rows: list[dict], positions: tuple[int, int] = (0, 1), seed: int = DEFAULT_SEED) -> list[LabelItem]:
    """Return one LabelItem per row that has both completions, each shown in an order drawn from ``seed``."""
    first, second = sorted(positions)
    if first == second:
        raise ValueError("Hai vị trí cần so sánh phải khác nhau, ví dụ positions=(0, 1).")
    rng = random.Random(seed)  # one generator for all rows: same seed, same orders
    items = []
    for index, row in enumerate(rows):
        texts = row.get("generations")
        texts = texts if isinstance(texts, list) else []  # as pick_pair reads it
        if len(texts) <= second or not all(isinstance(texts[i], str) and texts[i].strip() for i in (first, second)):
            continue
        if texts[first] == texts[second]:  # nothing to prefer (pick_pair drops such a row too)
            continue
        models = row.get("generation_models")
        models = models if isinstance(models, list) and len(models) == len(texts) else [None] * len(texts)
        shown = (first, second) if rng.random() < 0.5 else (second, first)
        items.append(LabelItem(index, str(row["instruction"]), (first, second), (texts[first], texts[second]),
                               (models[first], models[second]), shown))
    if not items:
        raise ValueError(
            f"Không có hàng nào có hai phần hoàn thành khác nhau, không rỗng, ở vị trí {first} và {second}: hãy chạy các ô "
            "sinh và chấm điểm ở trên trước."
        )
    return items


def make_record(item: LabelItem, label: str, seed: int) -> dict:
    """Return the JSON record of one label: the pair as shown, the label and when it was given."""
    if label not in LABELS:
        raise ValueError(f"Nhãn `{label}` không tồn tại. Chọn một trong: {', '.join(LABELS)}.")
    return {
        "kind": KIND, "version": VERSION, "instruction": item.instruction,
        "texts": [item.text_of("A"), item.text_of("B")], "models": [item.model_of("A"), item.model_of("B")],
        "shown": list(item.shown), "seed": seed, "label": label,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def check_record(record) -> str | None:
    """Return why a parsed line is not a label of this kit (in Vietnamese), or None if it is one."""
    if not isinstance(record, dict) or record.get("kind") != KIND:
        return "không phải nhãn của khóa học (thiếu \"kind\": \"kit-preference-label\")"
    if record.get("version") != VERSION:
        return f"phiên bản {record.get('version')!r} không được hỗ trợ (cần {VERSION})"
    if not isinstance(record.get("instruction"), str):
        return "thiếu \"instruction\""
    texts = record.get("texts")
    if not (isinstance(texts, list) and len(texts) == 2 and all(isinstance(t, str) for t in texts)):
        return "\"texts\" phải là hai đoạn văn bản"
    if record.get("label") not in LABELS:
        return f"nhãn {record.get('label')!r} không hợp lệ (cần một trong {', '.join(LABELS)})"
    return None


def read_label_file(path) -> LabelFile:
    """Read a labels file: the latest label per pair (a later line replaces an earlier one) and the unusable lines."""
    # Read line by line by hand: datasets and pandas read JSONL too, but they raise on the first bad line (or drop
    # it), and a learner must be told which line is bad while the others still count.
    result = LabelFile(Path(path))
    if not result.path.exists():
        return result
    with open(result.path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                result.problems.append((number, "không phải văn bản UTF-8 (bị sửa bằng trình soạn thảo khác?)",
                                        raw.decode("utf-8", "replace").strip()[:60]))
                continue
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                result.problems.append((number, "không phải JSON (dòng bị cắt hoặc bị sửa tay?)", line.strip()[:60]))
                continue
            reason = check_record(record)
            if reason:
                result.problems.append((number, reason, line.strip()[:60]))
            else:
                result.labels[make_key(record["instruction"], record["texts"])] = record
    return result


def read_labels(path) -> dict:
    """Return the latest label per pair in a labels file; warn (in Vietnamese) about every line that cannot be used."""
    result = read_label_file(path)
    if result.problems:
        warnings.warn(result.describe_problems(), LabelFileWarning, stacklevel=2)
    return result.labels


def append_label(path, record: dict) -> None:
    """Append one label to the file as a JSON line, on disk before returning (a crash loses no earlier label)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A line cut short (a crash mid-write) must not swallow the next label: start on a fresh line.
    needs_newline = False
    if path.exists() and path.stat().st_size > 0:
        with open(path, "rb") as handle:  # only the last byte: the file grows with every label
            handle.seek(-1, os.SEEK_END)
            needs_newline = handle.read(1) != b"\n"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(("\n" if needs_newline else "") + json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def find_label(item: LabelItem, labels: dict) -> dict | None:
    """Return the latest label of this pair, or None."""
    return labels.get(item.key)


def read_verdict(item: LabelItem, record: dict | None) -> str | None:
    """Return a label as a verdict on row positions: "first", "second", "tie", "skip", or None if not labelled."""
    if record is None:
        return None
    if record["label"] in ("tie", "skip"):
        return record["label"]
    winner = record["texts"]["AB".index(record["label"])]
    return "first" if winner == item.texts[0] else "second"


def find_foreign(items: list[LabelItem], labels: dict) -> list[dict]:
    """Return the labels whose pair is not among ``items`` (another run, other rows): kept in the file, not used."""
    keys = {item.key for item in items}
    return [record for key, record in labels.items() if key not in keys]
