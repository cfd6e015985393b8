"""One entry for the course tooling: `python -m coursetools COMMAND [ARGS...]` (the Makefile's targets call it)."""

from __future__ import annotations

import importlib
import sys

# command -> module whose main(argv) runs it
COMMANDS = {
    "grade": "coursetools.grading.cli",
    "navigation": "coursetools.navigation",
    "exercise": "coursetools.exercise",
    "outputs": "coursetools.outputs",
    "dataset": "coursetools.dataset",
    "benchmark": "coursetools.benchmark",
    "determinism": "coursetools.determinism",
    "installs": "coursetools.installs",
    "submissions": "coursetools.submissions",
    "judge-check": "coursetools.judge_check",
}


def main(argv: list[str] | None = None) -> int:
    """Run one tooling command with the rest of the arguments."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: python -m coursetools {{{','.join(COMMANDS)}}} [ARGS...]", file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    return importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
