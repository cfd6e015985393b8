"""The grader's reference run: its recorded model outputs are read by the learners' runs, which cannot change them."""

import os
import stat

import nbformat
import pytest

from coursetools import sandbox
from coursetools.grading import pipeline, replay
from coursetools.grading.pipeline import grade_folder, grade_notebook
from coursetools.grading.replay import ModelOutputs, keep_recorded, record_reference
from coursetools.grading.verdict import new_row

TIMEOUT = 60
needs_sandbox = pytest.mark.skipif(sandbox.find_bwrap() is None, reason="bubblewrap is not installed")


def write_notebook(path, *sources):
    """Write a notebook of one code cell per source."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(notebook, path)


def make_recorded(folder):
    """A folder as the reference run leaves it: one recorded output, everything read-only."""
    folder.mkdir()
    (folder / "k.json").write_text("1")
    (folder / "k.json").chmod(0o444)
    folder.chmod(0o555)
    sandbox.share_for_reading(folder)
    return folder


@needs_sandbox
def test_a_run_reads_the_recorded_outputs_and_cannot_change_or_add_any(tmp_path):
    recorded = make_recorded(tmp_path / "recorded")
    path = tmp_path / "learner.ipynb"
    write_notebook(
        path,
        "import os, pathlib\nfolder = pathlib.Path(os.environ['KIT_REPLAY_DIR'])\nseen = (folder / 'k.json').read_text()",
        "written = []\nfor name in ('k.json', 'new.json'):\n    try:\n        (folder / name).write_text('5')\n"
        "        written.append(name)\n    except OSError:\n        pass\ntry:\n    os.chmod(folder, 0o777)\n"
        "    written.append('chmod')\nexcept OSError:\n    pass",
        "# CHECK: first\nassert seen == '1' and written == [], written",
    )
    row = grade_notebook(path, timeout=TIMEOUT, outputs=ModelOutputs(recorded))
    assert row["status"] == "ok", row
    assert sorted(p.name for p in recorded.iterdir()) == ["k.json"] and (recorded / "k.json").read_text() == "1"


def test_only_regular_bounded_json_files_are_kept(tmp_path, monkeypatch):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    (source / "good.json").write_text("[1]")
    (source / "link.json").symlink_to("/etc/passwd")
    os.mkfifo(source / "fifo.json")
    (source / "big.json").write_text("x" * 100)
    (source / "notes.txt").write_text("1")
    monkeypatch.setattr(replay, "FILE_LIMIT", 50)
    assert keep_recorded(source, target) == 1
    assert [p.name for p in target.iterdir()] == ["good.json"]
    assert not os.stat(target / "good.json").st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert keep_recorded(tmp_path / "absent", tmp_path / "other") == 0


def test_a_reference_run_that_recorded_nothing_gives_no_outputs(tmp_path):
    def failed(path, outputs):
        assert outputs.record and outputs.folder == tmp_path / "outputs"
        return {"status": "timeout", "detail": "quá giờ"}

    reference = record_reference(failed, tmp_path / "outputs")
    assert reference.outputs is None and reference.calls == 0

    def recorded(path, outputs):
        make_recorded(outputs.folder)
        return {"status": "failed", "detail": "pairs"}  # checks failed, but its outputs were computed

    reference = record_reference(recorded, tmp_path / "outputs")
    assert reference.outputs == ModelOutputs(tmp_path / "outputs") and reference.calls == 1
    missing = record_reference(recorded, tmp_path / "elsewhere", solution=tmp_path / "no_solution.ipynb")
    assert missing.outputs is None and missing.row["status"] == "missing"


@pytest.mark.parametrize("sandboxed, reference, runs", [
    (True, "own", 1), (False, "own", 0), (True, "other", 0), (True, None, 0),
])
def test_the_solution_runs_first_only_for_the_kits_exercise_in_the_sandbox(tmp_path, monkeypatch, sandboxed, reference, runs):
    started = []
    monkeypatch.setattr(pipeline, "run_reference", lambda *args: started.append(args) or None)
    monkeypatch.setattr(sandbox, "find_bwrap", lambda: "bwrap")
    monkeypatch.setattr(sandbox, "try_sandbox", lambda bwrap: "")
    monkeypatch.setattr(pipeline, "prepare_models", lambda: None)
    monkeypatch.setattr(pipeline, "grade_safely", lambda path, *args: {**new_row(path.name), "status": "no_checks", "seconds": 0})
    folder = tmp_path / "class"
    folder.mkdir()
    write_notebook(folder / "a.ipynb", "x = 1")
    other = tmp_path / "other.ipynb"
    write_notebook(other, "# CHECK: first\nassert True")
    paths = {"own": pipeline.prepare.DEFAULT_REFERENCE, "other": other, None: None}
    grade_folder(folder, TIMEOUT, tmp_path / "out", reference=paths[reference], sandboxed=sandboxed)
    assert len(started) == runs
