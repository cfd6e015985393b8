"""Saving the dataset: an unwritable folder fails early and clearly, and a failed save keeps the last good copy."""

import errno
from pathlib import Path

import pytest
from datasets import Dataset, load_from_disk

from helpers.dpo import write_summary
from helpers.storage import DatasetDirError, check_output_dir, save_dataset

ROWS = {"prompt": ["q1", "q2"], "chosen": ["good", "fine"], "rejected": ["bad", "poor"], "chosen_model": ["a", "b"]}


def unwritable_paths(tmp_path):
    """Folders that cannot be written even by root: under a regular file, and under read-only /sys."""
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    paths = [blocker / "dataset"]
    if Path("/sys/kernel").is_dir():
        paths.append(Path("/sys/kernel/preference_dpo_dataset"))
    return paths


def test_unwritable_folder_fails_before_any_work_with_a_vietnamese_message(tmp_path):
    for path in unwritable_paths(tmp_path):
        with pytest.raises(DatasetDirError) as caught:
            check_output_dir(path)
        message = str(caught.value)
        assert str(path) in message and "KIT_DATASET_DIR" in message and "Không ghi được" in message
        assert "vẫn còn trong bộ nhớ" not in message  # nothing computed yet at this point


def test_a_file_in_place_of_the_folder_is_refused(tmp_path):
    target = tmp_path / "dataset"
    target.write_text("my notes")
    with pytest.raises(DatasetDirError, match="không phải thư mục"):
        check_output_dir(target)
    assert target.read_text() == "my notes"


def test_saving_to_an_unwritable_folder_keeps_the_dataset_in_memory(tmp_path):
    dataset = Dataset.from_dict(ROWS)
    for path in unwritable_paths(tmp_path):
        with pytest.raises(DatasetDirError, match="vẫn còn trong bộ nhớ"):
            save_dataset(dataset, path)
    assert dataset[0]["chosen"] == "good" and len(dataset) == 2
    save_dataset(dataset, tmp_path / "elsewhere")  # the message's advice works
    assert load_from_disk(str(tmp_path / "elsewhere"))["chosen"] == ["good", "fine"]


def test_summary_to_an_unwritable_folder_is_explained(tmp_path):
    dataset = Dataset.from_dict(ROWS)
    with pytest.raises(DatasetDirError, match="KIT_DATASET_DIR"):
        write_summary(unwritable_paths(tmp_path)[0], dataset, {})


def test_a_save_failing_half_way_leaves_the_previous_copy(tmp_path, monkeypatch):
    out = tmp_path / "dataset"
    save_dataset(Dataset.from_dict(ROWS), out)
    newer = Dataset.from_dict({**ROWS, "chosen": ["better", "best"]})

    def disk_full(self, path, *args, **kwargs):
        (Path(path) / "data-00000-of-00001.arrow").write_bytes(b"half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Dataset, "save_to_disk", disk_full)
    with pytest.raises(DatasetDirError, match="No space left on device"):
        save_dataset(newer, out)
    monkeypatch.undo()
    assert load_from_disk(str(out))["chosen"] == ["good", "fine"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset"]  # no half-written folder left behind


def test_saving_again_replaces_the_dataset(tmp_path):
    out = tmp_path / "nested" / "dataset"
    save_dataset(Dataset.from_dict(ROWS), out)
    loaded = load_from_disk(str(out))  # memory-mapped from the folder about to be replaced
    save_dataset(Dataset.from_dict({**ROWS, "chosen": ["better", "best"]}), out)
    assert load_from_disk(str(out))["chosen"] == ["better", "best"]
    assert loaded["chosen"] == ["good", "fine"]
    assert sorted(p.name for p in out.parent.iterdir()) == ["dataset"]


def test_dataset_folder_is_the_argument_else_the_environment_else_the_repository(tmp_path, monkeypatch):
    from helpers.storage import DATASET_ENV, DEFAULT_DATASET_DIR, dataset_dir

    monkeypatch.delenv(DATASET_ENV, raising=False)
    assert dataset_dir() == DEFAULT_DATASET_DIR and DEFAULT_DATASET_DIR.parent.name == "data"
    monkeypatch.setenv(DATASET_ENV, str(tmp_path / "from-env"))
    assert dataset_dir() == tmp_path / "from-env" == check_output_dir()
    assert dataset_dir(tmp_path / "given") == tmp_path / "given"


def test_describe_dir_names_folders_inside_the_repository_relatively(tmp_path):
    from helpers.storage import DEFAULT_DATASET_DIR, describe_dir

    assert describe_dir(DEFAULT_DATASET_DIR) == "data/preference_dpo_dataset"
    assert describe_dir(tmp_path) == str(tmp_path.resolve())
