"""Write the generated course cells and README sections: Colab badge + prev/next links, setup cell, notebook table.

Usage: python scripts/write_navigation.py [--check] [--repo OWNER/NAME]

Every notebook in notebooks/ (in name order), the solution and the exercise get, as their first cell, the
navigation cell (marked ``<!-- NAV: ... -->``) and, right after it, the setup cell (marked ``# SETUP: ...``);
both are updated in place when present. The exercise is then regenerated from the solution by
scripts/make_exercise.py, which gives it its own navigation cell. The README's notebook table and Colab
commands are rewritten between their markers. The repository owner/name comes from helpers/course.py;
--repo (`make navigation REPO=owner/name`) first writes a new one there. Running it twice changes nothing.
With --check, writes nothing and exits 1 if anything would change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))  # for make_exercise, a sibling script

import make_exercise  # noqa: E402

from helpers import course  # noqa: E402
from helpers.navigation import EXERCISE, SOLUTION, apply_course_cells, check_repo, list_course, render_readme  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
README = "README.md"
COURSE = "helpers/course.py"
REPO_LINE = re.compile(r'^REPO = ".*"$', re.MULTILINE)


def set_repo(repo: str, root: Path = ROOT) -> None:
    """Write ``repo`` as REPO in helpers/course.py and use it from now on in this process."""
    path = root / COURSE
    text, count = REPO_LINE.subn(f'REPO = "{check_repo(repo)}"', path.read_text(encoding="utf-8"))
    if count != 1:
        raise ValueError(f'{COURSE} must have exactly one line `REPO = "..."` (found {count})')
    path.write_bytes(text.encode("utf-8"))
    course.REPO = repo


def build_files(root: Path = ROOT) -> dict[str, str]:
    """Return the expected text of every generated file, by repo path (nothing is written)."""
    files = {}
    for path in [*list_course(root)[:-1], SOLUTION]:
        nb = apply_course_cells(nbformat.read(root / path, as_version=4), path, root)
        files[path] = make_exercise.render(nb)
    # The exercise comes from the solution just built, exactly as `make_exercise.py` would make it.
    solution = nbformat.reads(files[SOLUTION], as_version=4)
    files[EXERCISE] = make_exercise.render(make_exercise.make_exercise(solution))
    files[README] = render_readme((root / README).read_text(encoding="utf-8"), root)
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the generated cells and README sections, or with --check report whether they are up to date."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--repo", help="GitHub owner/name to write into helpers/course.py first")
    args = parser.parse_args(argv)
    if args.repo and args.check:
        parser.error("--repo writes helpers/course.py; it cannot be combined with --check")
    try:
        if args.repo:
            set_repo(args.repo)
        files = build_files()
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    stale = [path for path, text in files.items() if (ROOT / path).read_bytes().decode("utf-8", "replace") != text]
    if args.check:
        for path in stale:
            print(f"{path} is out of date; run `python scripts/write_navigation.py`.", file=sys.stderr)
        if not stale:
            print("navigation, setup cells and README table are up to date.")
        return 1 if stale else 0
    for path in stale:
        (ROOT / path).write_bytes(files[path].encode("utf-8"))  # bytes: no platform newline translation
        print(f"wrote {path}")
    if not stale:
        print("nothing to change.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
