"""Saving a learner's dataset: fail early on a folder that cannot be written, never destroy the last good copy."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

DATASET_ENV = "KIT_DATASET_DIR"
ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET_DIR = ROOT / "data" / "preference_dpo_dataset"


def dataset_dir(path=None) -> Path:
    """Return ``path`` if given, else ``$KIT_DATASET_DIR``, else data/preference_dpo_dataset at the repository root."""
    return Path(path or os.environ.get(DATASET_ENV) or DEFAULT_DATASET_DIR).expanduser()


def describe_dir(folder) -> str:
    """Return ``folder`` relative to the repository when it lies inside it, so stored outputs name no machine's path."""
    folder = Path(folder).expanduser().resolve()
    return str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder)


class DatasetDirError(OSError):
    """A dataset folder that cannot be written, explained in Vietnamese with what to do."""

    def __init__(self, out_dir: Path, error: OSError, kept_in_memory: bool):
        reason = error.strerror or str(error)
        kept = " Tập dữ liệu vẫn còn trong bộ nhớ (biến `dataset`): chưa mất gì." if kept_in_memory else ""
        super().__init__(
            f"Không ghi được vào thư mục '{out_dir}': {reason}.{kept} Hãy chọn một thư mục có quyền ghi, ví dụ "
            f"save_dataset(dataset, '/tmp/preference_dpo_dataset'), hoặc đặt biến môi trường {DATASET_ENV} "
            "trước khi mở notebook."
        )


def check_output_dir(out_dir=None, kept_in_memory: bool = False) -> Path:
    """Return the dataset folder (see dataset_dir) once its parent exists and accepts files; raise DatasetDirError otherwise."""
    # Called in a notebook's first cells, so that a wrong folder fails before minutes of generation,
    # not after. Permission bits alone would not tell: root writes anywhere except read-only places.
    out_dir = dataset_dir(out_dir)
    try:
        if out_dir.exists() and not out_dir.is_dir():
            raise NotADirectoryError(20, "đây là một tệp, không phải thư mục")
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out_dir.parent, prefix=f".{out_dir.name}.write-test-"):
            pass
    except OSError as error:
        raise DatasetDirError(out_dir, error, kept_in_memory) from error
    return out_dir


def save_dataset(dataset, out_dir) -> None:
    """Save ``dataset`` with ``save_to_disk`` into a folder beside ``out_dir``, then swap it in."""
    # datasets' save_to_disk writes into the target folder in place: a save that fails half-way
    # (disk full, folder removed) would leave a broken dataset where the last good one was.
    # Writing beside it and renaming replaces the old copy only once the new one is complete.
    out_dir = check_output_dir(out_dir, kept_in_memory=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.saving-"))
    try:
        dataset.save_to_disk(str(staging))
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        raise DatasetDirError(out_dir, error, kept_in_memory=True) from error
    previous = None
    if out_dir.exists():
        previous = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.previous-"))
        out_dir.rename(previous / out_dir.name)
    staging.rename(out_dir)
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)
