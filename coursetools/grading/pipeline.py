"""The grading pipeline: prepare → execute (sandboxed) → extract → check → report, for one notebook and for a folder.

Every ``*.ipynb`` directly inside the folder is graded (not recursively); other entries are listed as "bỏ qua", hidden
ones (``.ipynb_checkpoints`` ...) ignored. With ``jobs`` N, N runs go on at once (one grader thread waits on each, and
their kernels share the cores); progress lines on stderr come as each notebook finishes, rows stay in name order. The
reference is read once per grading, not once per notebook.

Before the first run, with the sandbox: bubblewrap must be installed (else SandboxMissing) and one empty sandbox must
start (bubblewrap unable to start, user namespaces disabled: SandboxMissing with bwrap's own message), and the preset's
models are converted, since runs read the model cache read-only.

The kit, checked again (the sandbox makes these writes fail; without it, they are detected): ``KIT_ROOT/helpers`` and
the reference file are hashed before grading and again after each notebook that ran; if either changed, that notebook
is ``tampered`` (with jobs N the writer may be another notebook running at the same time, which is then marked too when
it ends), a warning goes to stderr, and the notebooks not yet started are not run: their rows are ``error``, "chưa
chấm: khóa học bị sửa trong khi chấm". The reports are still written.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from coursetools import sandbox
from coursetools.grading import prepare
from coursetools.grading.execute import STOPPING, run_notebook
from coursetools.grading.extract import DATASET_LIMIT, read_outcomes, validate_dataset
from coursetools.grading.labels import KIT_EDITED, NOT_GRADED, SANDBOX_LABELS, STATUS_LABELS, shorten
from coursetools.grading.prepare import hash_kit, prepare_notebook, read_reference
from coursetools.grading.recheck import recheck
from coursetools.grading.replay import ModelOutputs, record_reference, remove_outputs
from coursetools.grading.report import default_out_dir, write_reports
from coursetools.grading.verdict import fill_row, new_row
from helpers.threads import count_cores

DEFAULT_TIMEOUT = 900


class SandboxMissing(RuntimeError):
    """bubblewrap is not installed and the instructor did not ask for unconfined runs."""


def grade_notebook(path, timeout: float = DEFAULT_TIMEOUT, reference=None, dataset_check=None,
                   threads: int | None = None, hide: tuple[Path, ...] | None = (), outputs: ModelOutputs | None = None) -> dict:
    """Grade one learner notebook alone in a temporary folder (reference: a path or read_reference's cells); return its row."""
    path = Path(path)
    started = time.monotonic()
    released = read_reference(reference) if isinstance(reference, (str, os.PathLike)) else reference
    row = new_row(path.name)
    row["sandbox"] = SANDBOX_LABELS[hide is not None]
    try:
        prepared = prepare_notebook(path, released)
    except Exception as error:  # nbformat raises several kinds (NotJSONError, ValidationError, ...)
        row.update(status="invalid", checks_total=len(released or {}), detail=shorten(f"không đọc được notebook: {error}"))
        return row
    with tempfile.TemporaryDirectory(prefix="grading-", ignore_cleanup_errors=True) as tmp:
        artefacts = run_notebook(prepared, Path(tmp), timeout, threads, hide, outputs)
        if dataset_check is not None:  # read before the run's folder goes
            row["saved_dataset"], row["dataset_message"] = validate_dataset(dataset_check, artefacts.dataset)
        # The released checks again, outside the learner's kernel, on what it dumped (a run that did not end has no dump).
        rechecks = {}
        if artefacts.ending == "done" and prepared.calls:
            # The checks read the saved dataset (OUT_DIR): readable by the recheck's user, and only if safe to read.
            dataset = () if sandbox.find_unsafe_entry(artefacts.dataset, DATASET_LIMIT) else (artefacts.dataset,)
            for folder in dataset:
                sandbox.share_for_reading(folder)
            # The reference run's recheck reads what that run has just recorded (kept in outputs.folder once it ended).
            recorded = outputs.folder if outputs is not None and outputs.folder.is_dir() else None
            rechecks = recheck(prepared.calls, artefacts.values, dataset, prepare.KIT_ROOT, hide, threads, recorded, timeout)
    outcomes = read_outcomes(artefacts.ending, artefacts.output, artefacts.report)
    fill_row(row, prepared, released, outcomes, artefacts.ending, artefacts.kit_edited, timeout, rechecks)
    row["seconds"] = round(time.monotonic() - started)
    return row


def grade_safely(path: Path, timeout: float, released, dataset_check, threads: int | None = None,
                 hide: tuple[Path, ...] | None = (), outputs: ModelOutputs | None = None) -> dict:
    """Grade one notebook; a grader bug becomes an error row instead of stopping the other notebooks."""
    try:
        return grade_notebook(path, timeout, released, dataset_check, threads, hide, outputs)
    except Exception as error:
        row = new_row(path.name)
        row["sandbox"] = SANDBOX_LABELS[hide is not None]
        row.update(status="error", detail=shorten(f"lỗi của bộ chấm: {type(error).__name__}: {error}"))
        return row


def list_entries(folder: Path, out_dir: Path | None = None) -> tuple[list[Path], list[str]]:
    """Return (notebooks to grade, names of the other entries) directly inside ``folder``, sorted."""
    notebooks, skipped = [], []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or (out_dir is not None and entry.resolve() == out_dir.resolve()):
            continue
        if entry.is_file() and entry.suffix == ".ipynb":
            notebooks.append(entry)
        else:
            skipped.append(entry.name + ("/" if entry.is_dir() else ""))
    return notebooks, skipped


def prepare_models() -> None:
    """Convert the preset's offline models once, here: sandboxed runs read the model cache read-only."""
    from helpers.models import get_cache_dir
    from helpers.presets import choose_preset, resolve_model

    for role in choose_preset().roles.values():
        resolve_model(role.model)
    sandbox.share_for_reading(get_cache_dir() / "models")


def run_reference(timeout: float, released, threads: int | None, hide: tuple[Path, ...], folder: Path) -> ModelOutputs | None:
    """Grade the kit's solution with its model outputs recorded into ``folder``; return them for replay, or None."""
    print("Chạy lời giải của khóa học một lần, ghi lại đầu ra của các mô hình để các bài nộp dùng lại…", file=sys.stderr, flush=True)
    reference = record_reference(lambda path, outputs: grade_safely(path, timeout, released, None, threads, hide, outputs),
                                 folder)
    status = f"{reference.row['status']}: {reference.row.get('detail', '')}"
    if reference.outputs is None:
        print(f"CẢNH BÁO: lời giải của khóa học không chạy hết ({status}): mỗi bài nộp sẽ tự tính mọi đầu ra của mô hình "
              "(chấm chậm hơn, kết luận vẫn đúng).", file=sys.stderr, flush=True)
        return None
    if reference.row["status"] != "ok":
        print(f"CẢNH BÁO: lời giải của khóa học không đạt các ô kiểm tra của notebook gốc ({status}).", file=sys.stderr, flush=True)
    print(f"Lời giải: {reference.calls} lần gọi mô hình được ghi lại ({reference.row.get('seconds', '?')} giây).",
          file=sys.stderr, flush=True)
    return reference.outputs


def grade_folder(folder, timeout: float = DEFAULT_TIMEOUT, out_dir=None, reference=None, dataset_check=None,
                 jobs: int = 1, sandboxed: bool = True, reuse_outputs: bool = True) -> list[dict]:
    """Grade every notebook directly inside ``folder``, ``jobs`` at once; write the reports; return the rows (name order).

    ``sandboxed``: every run in bubblewrap (coursetools/sandbox.py); SandboxMissing if it is not installed.
    ``reuse_outputs``: graded against the kit's exercise with the sandbox, the kit's solution runs first and its model outputs
    are replayed (grading/replay.py).
    """
    folder = Path(folder)
    out_dir = Path(out_dir) if out_dir is not None else default_out_dir(folder)
    if sandboxed:
        bwrap = sandbox.find_bwrap()
        if bwrap is None:
            raise SandboxMissing(sandbox.describe_missing())
        problem = sandbox.try_sandbox(bwrap)  # before any run: a sandbox that cannot start would fail every notebook
        if problem:
            raise SandboxMissing(problem)
    notebooks, skipped = list_entries(folder, out_dir)
    # A run sees neither the other submissions nor the reports (nor, see run_notebook, the grader's home and the kit).
    hide = (folder.resolve(), out_dir.resolve()) if sandboxed else None
    if sandboxed and notebooks:
        prepare_models()
    kit_hash = hash_kit(reference)
    released = read_reference(reference) if reference is not None else None
    kit_changed = threading.Event()

    def grade(path: Path) -> dict:
        """Grade one notebook unless the kit has changed; then check that its run left the kit as it was."""
        if kit_changed.is_set():
            row = new_row(path.name)
            row.update(status="error", checks_total=len(released or {}), detail=NOT_GRADED, sandbox=SANDBOX_LABELS[sandboxed])
            return row
        row = grade_safely(path, timeout, released, dataset_check, threads, hide, outputs)
        if row["status"] != "invalid" and hash_kit(reference) != kit_hash:  # an invalid notebook never ran
            kit_changed.set()
            row.update(status="tampered", detail=KIT_EDITED)
            print(f"CẢNH BÁO: {prepare.KIT_ROOT / prepare.KIT_PACKAGE} hoặc notebook gốc đã bị sửa trong khi chấm {path.name} "
                  "(với --jobs > 1, có thể do một notebook chạy cùng lúc). Các notebook chưa bắt đầu sẽ không được "
                  "chấm; hãy khôi phục khóa học (git status, git diff) rồi chấm lại.", file=sys.stderr, flush=True)
        return row

    # A notebook's kernel gives its model every core (helpers/threads.py): kernels running at once share them.
    at_once = min(jobs, len(notebooks))
    threads = max(1, count_cores() // at_once) if at_once > 1 else None
    outputs = None
    pool = ThreadPoolExecutor(max_workers=jobs)
    scratch = Path(tempfile.mkdtemp(prefix="grading-outputs-"))
    try:
        # The kit's solution is the reference run of the kit's own exercise only; unconfined, one run could write what
        # the others read.
        own_exercise = reference is not None and Path(reference).resolve() == prepare.DEFAULT_REFERENCE.resolve()
        if sandboxed and reuse_outputs and own_exercise and notebooks:
            outputs = run_reference(timeout, released, threads, hide, scratch / "outputs")
        futures = [pool.submit(grade, path) for path in notebooks]
        for number, future in enumerate(as_completed(futures), start=1):
            row = future.result()
            result = f"{STATUS_LABELS[row['status']]} ({row['seconds']} giây)"
            print(f"[{number}/{len(notebooks)}] {row['notebook']}: {result}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        STOPPING.set()
        raise
    finally:
        pool.shutdown(cancel_futures=True)  # waits for the running notebooks, which stop at once on STOPPING
        STOPPING.clear()
        remove_outputs(scratch)
    rows = [future.result() for future in futures]
    write_reports(rows, out_dir, skipped)
    return rows
