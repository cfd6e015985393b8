"""A process's peak resident memory, its own alone."""

from __future__ import annotations

import resource
import sys


def read_peak_memory_mb(pid: int | None = None) -> int | None:
    """Return the peak resident memory in MB of process ``pid`` (default: this one); None if it cannot be read."""
    # Not ru_maxrss on Linux: it survives exec, so a process started by a larger one (a notebook kernel started by a
    # test run or a benchmark that holds a model) reports its parent's size at the fork when that is larger than its own.
    # VmHWM belongs to the process's own memory map, which exec replaces.
    try:
        with open(f"/proc/{pid or 'self'}/status") as status:
            return round(int(next(line.split()[1] for line in status if line.startswith("VmHWM:"))) / 1024)
    except (OSError, StopIteration, ValueError):
        if pid is not None:
            return None
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: bytes on macOS, kilobytes elsewhere
        return round(peak / (1024 ** 2 if sys.platform == "darwin" else 1024))
