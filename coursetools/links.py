"""The course's order and links: which notebooks come in which order, their titles, Colab badges and navigation cells.

Shared by `make navigation` (coursetools/navigation.py), which writes the cells, and `make exercise`
(coursetools/exercise.py), which renders the exercise's own navigation cell: neither imports the other for it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat

from coursetools import settings
from coursetools.markers import NAV_MARKER, is_nav_cell

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_GLOB = "notebooks/*.ipynb"
EXERCISE = "exercises/preference_dpo_dataset.ipynb"
SOLUTION = "solutions/preference_dpo_dataset.ipynb"
README = "README.md"
GLOSSARY_ANCHOR = "thuat-ngu"  # the README's glossary: `<a id="thuat-ngu"></a>` right above its heading
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"

# The notebooks' H1 line ("# 1. Tổng hợp mô hình ...") and its leading lesson number.
TITLE_LINE = re.compile(r"^# (?P<title>.+?)\s*$", re.MULTILINE)
LESSON_NUMBER = re.compile(r"^\d+\.\s*")
LESSON_FILE = re.compile(r"^(?P<number>\d+)_.+\.ipynb$")


def list_course(root: Path = ROOT) -> list[str]:
    """Return the course order as repo paths: the numbered notebooks by name, the exercise before the extras.

    Only notebooks named like "05_topic.ipynb" belong to the course; another file in notebooks/ (a learner's
    Untitled.ipynb) is left out of the navigation.
    """
    notebooks = sorted(
        path.relative_to(root).as_posix() for path in root.glob(NOTEBOOK_GLOB) if LESSON_FILE.match(path.name)
    )
    lessons = [path for path in notebooks if read_number(path) < settings.EXTRAS_FROM]
    return lessons + [EXERCISE] + [path for path in notebooks if path not in lessons]


def read_number(path: str) -> int:
    """Return the lesson number a notebook's file name starts with ("notebooks/05_train_dpo.ipynb" -> 5)."""
    match = LESSON_FILE.match(Path(path).name)
    if not match:
        raise ValueError(f"{path}: a course notebook's name starts with its number, e.g. 05_topic.ipynb")
    return int(match["number"])


def find_neighbours(path: str, root: Path = ROOT) -> tuple[str | None, str | None]:
    """Return the previous and next notebook of a repo path; the solution's previous one is the exercise."""
    if path == SOLUTION:
        return EXERCISE, None
    order = list_course(root)
    index = order.index(path)
    return (order[index - 1] if index else None), (order[index + 1] if index + 1 < len(order) else None)


def read_title(nb: nbformat.NotebookNode) -> str | None:
    """Return the H1 title of a notebook (the first markdown cell that is not the navigation cell)."""
    for cell in nb.cells:
        if cell.cell_type == "markdown" and not is_nav_cell(cell):
            match = TITLE_LINE.search(cell.source)
            return match["title"] if match else None
    return None


def read_title_of(path: str, root: Path = ROOT) -> str:
    """Return the H1 title of the notebook at a repo path, or its file name if it has none (or is missing)."""
    file = root / path
    title = read_title(nbformat.read(file, as_version=4)) if file.exists() else None
    return title or Path(path).name


# What stands where a Colab badge would, while coursetools/settings.py names no repository.
NO_REPO_NOTE = "*(Chưa có nút Colab: khóa học chưa đặt kho GitHub — xem README, mục “Chạy trên Colab”.)*"
REPO_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*)/[A-Za-z0-9._-]+$")


def make_clone_url() -> str:
    """Return the address the Colab setup cell clones (empty while no repository is set)."""
    return f"https://github.com/{settings.REPO}.git" if settings.REPO else ""


def make_colab_url(path: str) -> str:
    """Return the Open-in-Colab address of a repo path."""
    return f"https://colab.research.google.com/github/{settings.REPO}/blob/{settings.BRANCH}/{path}"


def make_badge(path: str) -> str:
    """Return the standard Open-in-Colab badge (markdown) for a repo path, or a note while no repository is set."""
    if not settings.REPO:
        return NO_REPO_NOTE
    return f"[![Open In Colab]({BADGE_IMAGE})]({make_colab_url(path)})"


def make_relative(target: str, start: str) -> str:
    """Return the repo path `target` relative to the folder of the repo path `start`, with forward slashes."""
    return os.path.relpath(target, Path(start).parent.as_posix()).replace(os.sep, "/")


def make_link(target: str, start: str, root: Path = ROOT) -> str:
    """Return a markdown link to the notebook `target`, relative to the folder of the notebook `start`."""
    return f"[{read_title_of(target, root)}]({make_relative(target, start)})"


def make_glossary_url(path: str) -> str:
    """Return the link to the README's glossary from a notebook: on GitHub once a repository is set, else relative."""
    # Colab opens a relative .md link as if it were a notebook; GitHub renders the README and its anchor.
    if settings.REPO:
        return f"https://github.com/{settings.REPO}/blob/{settings.BRANCH}/{README}#{GLOSSARY_ANCHOR}"
    return f"{make_relative(README, path)}#{GLOSSARY_ANCHOR}"


def render_nav(path: str, root: Path = ROOT) -> str:
    """Return the navigation cell's markdown for the notebook at a repo path."""
    previous, following = find_neighbours(path, root)
    links = []
    if path == SOLUTION:
        links.append(f"⬅️ Quay lại bài tập: {make_link(previous, path, root)}")
    else:
        if previous:
            links.append(f"⬅️ Bài trước: {make_link(previous, path, root)}")
        if following:
            links.append(f"Bài tiếp theo: {make_link(following, path, root)} ➡️")
    links.append(f"📖 [Thuật ngữ]({make_glossary_url(path)})")
    return "\n".join([NAV_MARKER, make_badge(path), "", " · ".join(links)]).rstrip()
