"""Step 0, reference: run the kit's own solution once, recording its model outputs; the learners' runs replay them.

Most of a submission's run is the models: in the solution, 31 s of generation and 47 s of judge scoring out of 89 s
(measured on 2 cores). A learner whose pipeline makes the same calls gets the same outputs, so the grader runs the kit's
solution first, sandboxed like any run, with ``KIT_RECORD_DIR`` set (helpers/replay.py): every generation and score it
computes is written, keyed by its inputs, settings, thread count and random state. Each learner's run then reads that
folder read-only (``KIT_REPLAY_DIR``): a call with a recorded key gets the recorded output, any other call is computed.
The learner's code still runs; only the arithmetic already done on this machine is skipped.

Only with the sandbox: unconfined, a learner's run could write into the folder the others read. The recorded files
are written by the kit's own solution, and copied out of its run's folder only if they are regular files of bounded
size. The reference runs with the same threads as each learner's run (a key holds the thread count).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from coursetools import sandbox
from coursetools.exercise import SOLUTION

RECORD_FOLDER = "recorded"  # inside the reference run's folder, where it writes its outputs
FILE_LIMIT = 4 * 1024 ** 2  # one recorded call: a batch of texts and torch's random state (~7 KB in base64)
TOTAL_LIMIT = 512 * 1024 ** 2


@dataclass(frozen=True)
class ModelOutputs:
    """Recorded model outputs: the folder, and whether the run writes them (the reference) or only reads them."""

    folder: Path
    record: bool = False


@dataclass
class Reference:
    """What the reference run gave: its grading row, and the outputs the learners' runs replay (None if it failed)."""

    row: dict
    outputs: ModelOutputs | None
    calls: int  # recorded model calls


def keep_recorded(source: Path, target: Path) -> int:
    """Copy the regular ``*.json`` files of ``source`` (bounded, no links) into ``target``, read-only; return how many."""
    target.mkdir(parents=True, exist_ok=True)
    kept = total = 0
    if source.is_symlink() or not source.is_dir():
        return 0
    for entry in sorted(source.iterdir()):
        # read_regular_file refuses links, FIFOs and devices (the run could have left any) and files over the limit.
        data = sandbox.read_regular_file(entry, FILE_LIMIT) if entry.name.endswith(".json") else None
        if data is None:
            continue
        total += len(data)
        if total > TOTAL_LIMIT:
            break
        (target / entry.name).write_bytes(data)
        (target / entry.name).chmod(0o444)
        kept += 1
    target.chmod(0o555)
    return kept


def record_reference(grade, folder: Path, solution: Path = SOLUTION) -> Reference:
    """Grade the kit's solution with recording on (``grade(path, outputs)`` returns its row); keep its outputs in ``folder``."""
    if not solution.is_file():
        return Reference({"status": "missing", "detail": f"không có {solution}"}, None, 0)
    recording = ModelOutputs(folder, record=True)
    row = grade(solution, recording)
    calls = len(list(folder.glob("*.json"))) if folder.is_dir() else 0
    if not calls:  # a run that did not end keeps nothing (execute.py); one whose checks fail still computed its outputs
        shutil.rmtree(folder, ignore_errors=True)
        return Reference(row, None, calls)
    sandbox.share_for_reading(folder)
    return Reference(row, ModelOutputs(folder), calls)


def remove_outputs(scratch: Path) -> None:
    """Remove the recorded outputs' folder (made read-only for the runs)."""
    for path in [scratch, *scratch.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(scratch, ignore_errors=True)
