"""Model outputs recorded by a trusted run and replayed in later runs, keyed by everything that decides them."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

# The grader's reference run (the kit's own solution) records every generation and judge score it computes; each
# learner's run then gets the same outputs for the same inputs without computing them (coursetools/grading/replay.py).
# Not a cache for learners: neither variable is set outside grading. Nothing in distilabel or transformers stores a
# model's outputs by input, so this is written here; a key holds the inputs, every setting, the thread count and, for
# sampling, the random state, so a replayed output is the one this machine computes for that call.
RECORD_ENV = "KIT_RECORD_DIR"
REPLAY_ENV = "KIT_REPLAY_DIR"


def is_active() -> bool:
    """Return whether this process records or replays model outputs."""
    return bool(os.environ.get(RECORD_ENV) or os.environ.get(REPLAY_ENV))


def make_key(**parts: Any) -> str:
    """Return the key of one model call: a hash of its parts (inputs, settings), as JSON."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def find_recorded(key: str) -> Any | None:
    """Return the output recorded under ``key`` in the replay folder, or None."""
    folder = os.environ.get(REPLAY_ENV)
    path = Path(folder) / f"{key}.json" if folder else None
    if path is None or not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def record(key: str, value: Any) -> None:
    """Write ``value`` under ``key`` in the record folder (when recording), all at once."""
    folder = os.environ.get(RECORD_ENV)
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    partial = Path(folder) / f".{key}.{os.getpid()}"
    partial.write_text(json.dumps(value), encoding="utf-8")
    os.replace(partial, Path(folder) / f"{key}.json")  # two processes recording one key write the same value


def read_random_state() -> tuple[str, str]:
    """Return torch's CPU random state as (its hash, the state in base64): what sampling draws from next."""
    import torch

    state = torch.random.get_rng_state().numpy().tobytes()
    return hashlib.sha256(state).hexdigest(), base64.b64encode(state).decode()


def restore_random_state(encoded: str) -> None:
    """Set torch's CPU random state to a recorded one (where the recorded call left it)."""
    import torch

    torch.random.set_rng_state(torch.frombuffer(bytearray(base64.b64decode(encoded)), dtype=torch.uint8))
