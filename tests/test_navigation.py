"""Generated course cells: Colab badge + prev/next links first, the same setup cell next, README in step with both."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from helpers import navigation
from helpers.course import COLAB_COMMANDS, COLAB_KEEPS, REPO

ROOT = Path(__file__).resolve().parent.parent
ALL_NOTEBOOKS = [*navigation.list_course(ROOT), navigation.SOLUTION]
LINK = re.compile(r"\]\(([^)]+\.ipynb)\)")


def read(path: str) -> nbformat.NotebookNode:
    """Read a course notebook by repo path."""
    return nbformat.read(ROOT / path, as_version=4)


def read_setup_cell(path: str) -> nbformat.NotebookNode:
    """Return the first code cell of a course notebook."""
    return next(cell for cell in read(path).cells if cell.cell_type == "code")


def test_course_order_is_the_numbered_notebooks_then_the_exercise():
    order = navigation.list_course(ROOT)
    assert order[-1] == navigation.EXERCISE
    assert order[:-1] == sorted(path.relative_to(ROOT).as_posix() for path in (ROOT / "notebooks").glob("*.ipynb"))
    assert order[0] == "notebooks/01_model_pooling.ipynb"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS)
def test_nav_cell_is_first_with_its_own_badge_and_existing_neighbours(path):
    nb = read(path)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 4) and not any("id" in cell for cell in nb.cells)
    nav = nb.cells[0]
    assert navigation.is_nav_cell(nav) and sum(navigation.is_nav_cell(cell) for cell in nb.cells) == 1
    badge = f"[![Open In Colab]({navigation.BADGE_IMAGE})](https://colab.research.google.com/github/{REPO}/blob/main/{path})"
    assert badge in nav.source
    links = [link for link in LINK.findall(nav.source) if link != navigation.make_colab_url(path)]
    assert links, "no prev/next link"
    for link in links:
        assert not link.startswith("http") and (ROOT / path).parent.joinpath(link).resolve().is_file(), link
    previous, following = navigation.find_neighbours(path, ROOT)
    expected = [target for target in (previous, following) if target]
    assert [(ROOT / path).parent.joinpath(link).resolve() for link in links] == [(ROOT / t).resolve() for t in expected]


def test_neighbours_chain_the_course_and_the_solution_points_back():
    order = navigation.list_course(ROOT)
    assert navigation.find_neighbours(order[0], ROOT)[0] is None
    assert navigation.find_neighbours(order[-2], ROOT)[1] == navigation.EXERCISE
    assert navigation.find_neighbours(navigation.SOLUTION, ROOT) == (navigation.EXERCISE, None)


def test_setup_cell_is_the_first_code_cell_right_after_nav_and_identical_everywhere():
    sources = set()
    for path in ALL_NOTEBOOKS:
        nb = read(path)
        assert navigation.is_setup_cell(nb.cells[1]), path
        cell = read_setup_cell(path)
        assert cell.source.startswith("# NBVAL_IGNORE_OUTPUT\n") and navigation.SETUP_MARKER in cell.source
        sources.add(cell.source)
    assert sources == {navigation.render_setup()}


def test_colab_branch_runs_exactly_the_colab_commands():
    tree = ast.parse(navigation.render_setup())
    colab_if = next(node for node in tree.body if isinstance(node, ast.If))
    assert "google.colab" in ast.unparse(colab_if.test) and "COLAB_RELEASE_TAG" in ast.unparse(colab_if.test)
    assign = next(node for node in colab_if.body if isinstance(node, ast.Assign))
    assert tuple(ast.literal_eval(assign.value)) == COLAB_COMMANDS
    assert f"git clone --depth 1 --branch main https://github.com/{REPO}.git " in COLAB_COMMANDS[0]


def test_colab_installs_every_pin_but_the_ones_colab_keeps():
    # Run the Colab install command's own package list (the $(...) part) against requirements.txt.
    install = next(command for command in COLAB_COMMANDS if "requirements.txt" in command)
    listing = re.search(r"\$\((.*)\)", install)[1]
    shown = subprocess.run(["bash", "-c", f"echo $({listing})"], cwd=ROOT, capture_output=True, text=True, check=True)
    pins = [line for line in (ROOT / "requirements.txt").read_text().splitlines() if line and not line.startswith("#")]
    kept = [pin for pin in pins if pin.split("==")[0] not in COLAB_KEEPS]
    assert shown.stdout.split() == kept and len(kept) == len(pins) - len(COLAB_KEEPS)


def test_readme_colab_section_lists_the_same_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Chạy trên Colab", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n(.*?)\n```", section, re.DOTALL)[1]
    assert tuple(block.split("\n")) == COLAB_COMMANDS


def test_setup_cell_off_colab_installs_nothing_and_prints_versions(tmp_path):
    # Fake git and pip first on PATH: if the cell called either, the marker file would appear.
    fakes = tmp_path / "bin"
    fakes.mkdir()
    for name in ("git", "pip", "pip3"):
        fake = fakes / name
        fake.write_text(f"#!/bin/sh\necho {name} >> {tmp_path / 'called'}\nexit 1\n")
        fake.chmod(0o755)
    env = {key: value for key, value in os.environ.items() if key not in ("COLAB_RELEASE_TAG", "KIT_PRESET")}
    env["PATH"] = f"{fakes}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [sys.executable, "-c", navigation.render_setup()],
        cwd=ROOT / "notebooks", env=env, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "called").exists()
    for name in ("Python 3.", "torch ", "transformers ", "distilabel ", "Preset: offline"):
        assert name in result.stdout, (name, result.stdout)


def test_readme_table_matches_the_files():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split(navigation.TABLE_START, 1)[1].split(navigation.TABLE_END, 1)[0].strip()
    assert table == navigation.render_table(ROOT)
    rows = table.split("\n")[2:]
    assert len(rows) == len(navigation.list_course(ROOT))
    for row, path in zip(rows, navigation.list_course(ROOT)):
        assert f"[`{path}`]({path})" in row and navigation.make_colab_url(path) in row
        assert navigation.LESSON_NUMBER.sub("", navigation.read_title_of(path, ROOT)) in row
    assert f"lời giải: [`{navigation.SOLUTION}`]({navigation.SOLUTION})" in rows[-1]


def test_write_navigation_check_passes_on_the_committed_tree():
    for script in ("write_navigation.py", "make_exercise.py"):
        result = subprocess.run([sys.executable, f"scripts/{script}", "--check"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_course_cells_are_idempotent_and_update_in_place():
    path = "notebooks/01_model_pooling.ipynb"
    nb = read(path)
    count = len(nb.cells)
    nb.cells[0].source = navigation.NAV_MARKER + "\nold"
    nb.cells[1].source = "# NBVAL_IGNORE_OUTPUT\n" + navigation.SETUP_MARKER + "\nold()"
    again = navigation.apply_course_cells(nb, path, ROOT)
    assert len(again.cells) == count
    assert again.cells[0].source == navigation.render_nav(path, ROOT)
    assert again.cells[1].source == navigation.render_setup()


def test_course_cells_are_inserted_into_a_bare_notebook():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 9. Mới"), nbformat.v4.new_code_cell("x = 1")])
    nb = navigation.apply_course_cells(nb, "notebooks/01_model_pooling.ipynb", ROOT)
    assert [navigation.is_nav_cell(nb.cells[0]), navigation.is_setup_cell(nb.cells[1])] == [True, True]
    assert [cell.source for cell in nb.cells[2:]] == ["# 9. Mới", "x = 1"]
    assert navigation.read_title(nb) == "9. Mới"


def test_exercise_nav_is_its_own_and_title_is_retitled():
    exercise = read(navigation.EXERCISE)
    assert exercise.cells[0].source == navigation.render_nav(navigation.EXERCISE, ROOT)
    assert navigation.read_title(exercise).endswith("(bài tập)")
    assert navigation.read_title(read(navigation.SOLUTION)).endswith("(lời giải)")


def test_course_preset_is_chosen_on_cuda_without_override(monkeypatch):
    import torch

    from helpers import presets

    monkeypatch.delenv(presets.PRESET_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert presets.choose_preset().name == "course"
