"""Course navigation: the notebooks' order, Colab badges, prev/next links, setup cell and README table (`make navigation`).

Every notebook in notebooks/ (in name order), the solution and the exercise get, as their first cell, the
navigation cell and, right after it, the setup cell (collapsed); both are updated in place when present. The
exercise is then regenerated from the solution (coursetools.exercise), which gives it its own navigation cell.
The README's notebook table and Colab commands are rewritten between their markers. The repository owner/name
comes from coursetools/settings.py; `--repo` (`make navigation REPO=owner/name`) first writes a new one there.
Running it twice changes nothing. With --check, writes nothing and exits 1 if anything would change.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

from coursetools import exercise, settings
from coursetools.links import (
    EXERCISE, LESSON_NUMBER, README, REPO_NAME, ROOT, SOLUTION, list_course, make_badge, make_clone_url, read_number,
    read_title_of, render_nav,
)
from coursetools.markers import (
    COLAB_END, COLAB_START, NBVAL_IGNORE_OUTPUT, SETUP_MARKER, TABLE_END, TABLE_START, is_nav_cell,
    is_setup_cell,
)


SETTINGS = "coursetools/settings.py"
REPO_LINE = re.compile(r'^REPO = ".*"$', re.MULTILINE)
# The setup cell's first line: what a learner reads while the cell is collapsed.
# `#@title` is also the title Colab shows for a cell in form view (its way of collapsing code).
SETUP_TITLE = "#@title Cài đặt — chạy ô này trước: trên Colab nó tải và cài khóa học; trên máy bạn nó chỉ in phiên bản."


def render_setup(clone_url: str | None = None, home: str = settings.COLAB_DIR) -> str:
    """Return the source of the setup cell, the same in every notebook (self-contained: helpers is not yet importable on Colab)."""
    clone_url = make_clone_url() if clone_url is None else clone_url
    installs = "".join(f"        {list(args)!r},\n" for args in settings.COLAB_INSTALLS)
    return f"""{SETUP_TITLE}
{NBVAL_IGNORE_OUTPUT}
{SETUP_MARKER}
# On Colab: clone the course, install what it needs on top of Colab's own torch and widgets, import from the clone.
# Anywhere else (`make lab`): nothing is installed; the cell only prints the versions and the preset.
import os
import sys

if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
    import shutil
    import subprocess

    CLONE_URL, BRANCH, HOME = {clone_url!r}, {settings.BRANCH!r}, {home!r}
    INSTALLS = [
{installs}    ]

    def run(*command, cwd=None):
        \"\"\"Run a command; if it fails, show its last lines and stop here (running the cell again resumes).\"\"\"
        result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        if result.returncode:
            print("\\n".join((result.stdout + result.stderr).splitlines()[-25:]))
            raise RuntimeError(f"Lệnh thất bại (mã {{result.returncode}}): {{' '.join(command)}}. Xem các dòng cuối ở trên.")

    if not os.path.exists(f"{{HOME}}/.kit-installed"):  # once per Colab runtime
        if not CLONE_URL:
            raise RuntimeError("Khóa học chưa đặt kho GitHub (REPO trong coursetools/settings.py) nên Colab không biết tải "
                               "nó từ đâu. Người bảo trì: chạy `make navigation REPO=chủ/tên-kho` rồi commit.")
        # A clone cut short leaves a folder without the mark written after a complete clone: clone again.
        if not os.path.exists(f"{{HOME}}/.kit-cloned"):
            if not shutil.which("git"):
                raise RuntimeError("Không tìm thấy lệnh git, cần nó để tải khóa học.")
            shutil.rmtree(HOME, ignore_errors=True)
            run("git", "clone", "--depth", "1", "--branch", BRANCH, CLONE_URL, HOME)
            open(f"{{HOME}}/.kit-cloned", "w").close()
        for args in INSTALLS:
            run(sys.executable, "-m", "pip", "install", *args, cwd=HOME)
        open(f"{{HOME}}/.kit-installed", "w").close()
    # Every course notebook sits one folder below the repository root and reaches shared files as ../
    os.chdir(f"{{HOME}}/notebooks")
    sys.path.insert(0, HOME)  # the editable install is only seen after a restart

from helpers.setup import show_environment

show_environment()"""


def apply_course_cells(nb: nbformat.NotebookNode, path: str, root: Path = ROOT) -> nbformat.NotebookNode:
    """Put the navigation cell first and the setup cell right after it (updated in place when present)."""
    nav = next((cell for cell in nb.cells if is_nav_cell(cell)), None)
    if nav is None:
        nav = nbformat.v4.new_markdown_cell()
        nb.cells.insert(0, nav)
    nav.source = render_nav(path, root)
    setup = next((cell for cell in nb.cells if is_setup_cell(cell)), None)
    if setup is None:
        setup = nbformat.v4.new_code_cell()
        nb.cells.insert(nb.cells.index(nav) + 1, setup)
    setup.source = render_setup()
    setup.metadata.setdefault("jupyter", {})["source_hidden"] = True  # collapsed in JupyterLab
    setup.metadata["cellView"] = "form"  # collapsed in Colab, under SETUP_TITLE
    # nbformat 4.4 has no cell ids (new_*_cell adds one); the kit's notebooks are written as 4.4.
    for cell in nb.cells:
        cell.pop("id", None)
    nb.nbformat, nb.nbformat_minor = 4, 4
    return nb


def make_table_badge(path: str) -> str:
    """Return the README table's Colab cell: the badge, or a short note while no repository is set."""
    return make_badge(path) if settings.REPO else "chưa có (xem mục “Chạy trên Colab”)"


def render_table(root: Path = ROOT) -> str:
    """Return the README's notebook table: one row per notebook in course order, the exercise with its solution."""
    rows = ["| # | Chủ đề | Notebook | Colab |", "|---|---|---|---|"]
    for path in list_course(root):
        if path == EXERCISE:
            exercise = f"[`{EXERCISE}`]({EXERCISE}) · lời giải: [`{SOLUTION}`]({SOLUTION})"
            rows.append(f"| 🏋️ | {read_title_of(EXERCISE, root)} | {exercise} | {make_table_badge(EXERCISE)} |")
            continue
        topic = LESSON_NUMBER.sub("", read_title_of(path, root))
        rows.append(f"| {read_number(path)} | {topic} | [`{path}`]({path}) | {make_table_badge(path)} |")
    return "\n".join(rows)


def render_colab_commands() -> str:
    """Return the README's Colab commands block: what the setup cell runs, as shell commands."""
    url = make_clone_url() or "https://github.com/<chủ>/<tên-kho>.git"
    commands = [f"git clone --depth 1 --branch {settings.BRANCH} {url} {settings.COLAB_DIR}", f"cd {settings.COLAB_DIR}"]
    commands += ["python -m pip install " + " ".join(args) for args in settings.COLAB_INSTALLS]
    return "```bash\n" + "\n".join(commands) + "\n```"


def replace_between(text: str, start: str, end: str, body: str) -> str:
    """Replace what lies between two marker lines of a text (markers kept); a ValueError if they are missing."""
    before, found, rest = text.partition(start)
    middle, found_end, after = rest.partition(end)
    if not (found and found_end):
        raise ValueError(f"markers {start} … {end} not found")
    return f"{before}{start}\n{body}\n{end}{after}"


def render_readme(text: str, root: Path = ROOT) -> str:
    """Return the README text with its generated notebook table and Colab commands brought up to date."""
    text = replace_between(text, TABLE_START, TABLE_END, render_table(root))
    return replace_between(text, COLAB_START, COLAB_END, render_colab_commands())


def check_repo(repo: str) -> str:
    """Return ``repo`` if it is a GitHub "owner/name", else raise a ValueError that says what is expected."""
    if not REPO_NAME.match(repo):
        raise ValueError(f"REPO must be a GitHub 'owner/name' such as 'my-org/preference-datasets-kit', not {repo!r}")
    return repo


def set_repo(repo: str, root: Path = ROOT) -> None:
    """Write ``repo`` as REPO in coursetools/settings.py and use it from now on in this process."""
    path = root / SETTINGS
    text, count = REPO_LINE.subn(f'REPO = "{check_repo(repo)}"', path.read_text(encoding="utf-8"))
    if count != 1:
        raise ValueError(f'{SETTINGS} must have exactly one line `REPO = "..."` (found {count})')
    path.write_bytes(text.encode("utf-8"))
    settings.REPO = repo


def build_files(root: Path = ROOT) -> dict[str, str]:
    """Return the expected text of every generated file, by repo path (nothing is written)."""
    files = {}
    for path in [*(path for path in list_course(root) if path != EXERCISE), SOLUTION]:
        nb = apply_course_cells(nbformat.read(root / path, as_version=4), path, root)
        files[path] = exercise.render(nb)
    # The exercise comes from the solution just built, exactly as `make exercise` would make it.
    solution = nbformat.reads(files[SOLUTION], as_version=4)
    files[EXERCISE] = exercise.render(exercise.make_exercise(solution))
    files[README] = render_readme((root / README).read_text(encoding="utf-8"), root)
    return files


def main(argv: list[str] | None = None) -> int:
    """Write the generated cells and README sections, or with --check report whether they are up to date."""
    parser = argparse.ArgumentParser(prog="python -m coursetools navigation", description=__doc__.split("\n", 1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file would change")
    parser.add_argument("--repo", help="GitHub owner/name to write into coursetools/settings.py first")
    args = parser.parse_args(argv)
    if args.repo and args.check:
        parser.error("--repo writes coursetools/settings.py; it cannot be combined with --check")
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
            print(f"{path} is out of date; run `make navigation`.", file=sys.stderr)
        if not stale:
            print("navigation, setup cells and README table are up to date.")
        return 1 if stale else 0
    for path in stale:
        (ROOT / path).write_bytes(files[path].encode("utf-8"))  # bytes: no platform newline translation
        print(f"wrote {path}")
    if not stale:
        print("nothing to change.")
    return 0
