"""A process's memory: its own peak, and freed heap handed back to the system."""

from __future__ import annotations

import ctypes
import gc
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


def release_freed_memory() -> None:
    """Collect garbage (a trainer's leftovers, a run's tensors) and hand the freed heap back to the system."""
    # The trainer is kept alive by reference cycles until the next garbage collection. Even then glibc keeps most
    # of a training run's freed heap (many mid-sized tensors) for reuse: in notebook 05, measured here, the kernel
    # held 2049 MB after the second training, 1536 MB after gc.collect() and 1075 MB after malloc_trim(0), and
    # the judge loaded next pushed the peak past 5 GB without the trim. Neither torch nor transformers does this.
    # Every new model load calls it too (helpers/llm.py): in notebook 03 the kernel held 1996 MB before the 1.5B judge
    # loaded and 1313 MB after the trim; its peak fell from 5139 MB to 4752 MB.
    gc.collect()
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):  # not glibc (musl): nothing to trim
            pass
