"""Generated course cells: Colab badge + prev/next links first, the same setup cell next, README in step with both."""

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from coursetools import links, markers, navigation
from coursetools import settings

ROOT = Path(__file__).resolve().parent.parent
ALL_NOTEBOOKS = [*links.list_course(ROOT), links.SOLUTION]
LINK = re.compile(r"\]\(([^)]+\.ipynb)\)")


def read(path: str) -> nbformat.NotebookNode:
    """Read a course notebook by repo path."""
    return nbformat.read(ROOT / path, as_version=4)


def read_setup_cell(path: str) -> nbformat.NotebookNode:
    """Return the first code cell of a course notebook."""
    return next(cell for cell in read(path).cells if cell.cell_type == "code")


def test_course_order_is_lessons_then_the_exercise_then_the_extras():
    assert links.list_course(ROOT) == [
        "notebooks/01_model_pooling.ipynb",
        "notebooks/02_evol_quality.ipynb",
        "notebooks/03_ultrafeedback.ipynb",
        "notebooks/04_best_practices.ipynb",
        links.EXERCISE,
        "notebooks/05_train_dpo.ipynb",
    ]


def test_a_new_notebook_takes_its_place_by_number(tmp_path):
    for name in ("01_a", "04_b", "05_c", "07_d", "Untitled", "05a-x"):
        (tmp_path / "notebooks").mkdir(exist_ok=True)
        (tmp_path / "notebooks" / f"{name}.ipynb").write_text("{}")
    assert links.list_course(tmp_path) == [
        "notebooks/01_a.ipynb", "notebooks/04_b.ipynb", links.EXERCISE, "notebooks/05_c.ipynb", "notebooks/07_d.ipynb",
    ]


def test_glossary_link_goes_to_github_once_a_repository_is_set(monkeypatch):
    monkeypatch.setattr(settings, "REPO", "my-org/kit")
    assert links.make_glossary_url("notebooks/01_model_pooling.ipynb") == (
        f"https://github.com/my-org/kit/blob/{settings.BRANCH}/README.md#{links.GLOSSARY_ANCHOR}"
    )
    monkeypatch.setattr(settings, "REPO", "")
    assert links.make_glossary_url("exercises/preference_dpo_dataset.ipynb") == f"../README.md#{links.GLOSSARY_ANCHOR}"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS)
def test_nav_cell_links_the_glossary(path):
    nav = read(path).cells[0].source
    link = f"../README.md#{links.GLOSSARY_ANCHOR}"
    if settings.REPO:  # Colab cannot open a relative .md link: the glossary is read on GitHub
        link = f"https://github.com/{settings.REPO}/blob/{settings.BRANCH}/README.md#{links.GLOSSARY_ANCHOR}"
    assert f"📖 [Thuật ngữ]({link})" in nav
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f'<a id="{links.GLOSSARY_ANCHOR}"></a>' in readme


@pytest.mark.parametrize("path", ALL_NOTEBOOKS)
def test_nav_cell_is_first_with_its_own_badge_and_existing_neighbours(path):
    nb = read(path)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 4) and not any("id" in cell for cell in nb.cells)
    nav = nb.cells[0]
    assert markers.is_nav_cell(nav) and sum(markers.is_nav_cell(cell) for cell in nb.cells) == 1
    assert links.make_badge(path) in nav.source
    if settings.REPO:
        assert f"(https://colab.research.google.com/github/{settings.REPO}/blob/main/{path})" in nav.source
    else:  # no repository set: no button pretends there is one
        assert "colab.research.google.com" not in nav.source and links.NO_REPO_NOTE in nav.source
    targets = [link for link in LINK.findall(nav.source) if link != links.make_colab_url(path)]
    assert targets, "no prev/next link"
    for link in targets:
        assert not link.startswith("http") and (ROOT / path).parent.joinpath(link).resolve().is_file(), link
    previous, following = links.find_neighbours(path, ROOT)
    expected = [target for target in (previous, following) if target]
    assert [(ROOT / path).parent.joinpath(link).resolve() for link in targets] == [(ROOT / t).resolve() for t in expected]


def test_neighbours_chain_the_course_and_the_solution_points_back():
    assert links.find_neighbours("notebooks/01_model_pooling.ipynb", ROOT)[0] is None
    assert links.find_neighbours("notebooks/04_best_practices.ipynb", ROOT)[1] == links.EXERCISE
    assert links.find_neighbours(links.EXERCISE, ROOT) == (
        "notebooks/04_best_practices.ipynb", "notebooks/05_train_dpo.ipynb",
    )
    assert links.find_neighbours("notebooks/05_train_dpo.ipynb", ROOT) == (links.EXERCISE, None)
    assert links.find_neighbours(links.SOLUTION, ROOT) == (links.EXERCISE, None)


def test_setup_cell_is_the_first_code_cell_right_after_nav_and_identical_everywhere():
    sources = set()
    for path in ALL_NOTEBOOKS:
        nb = read(path)
        assert markers.is_setup_cell(nb.cells[1]), path
        cell = read_setup_cell(path)
        assert cell.source.startswith(navigation.SETUP_TITLE + "\n" + markers.NBVAL_IGNORE_OUTPUT + "\n")
        assert cell.metadata["jupyter"]["source_hidden"] is True and cell.metadata["cellView"] == "form"  # collapsed
        sources.add(cell.source)
    assert sources == {navigation.render_setup()}


def test_colab_branch_installs_the_colab_files_with_this_python():
    tree = ast.parse(navigation.render_setup())
    colab_if = next(node for node in tree.body if isinstance(node, ast.If))
    assert "google.colab" in ast.unparse(colab_if.test) and "COLAB_RELEASE_TAG" in ast.unparse(colab_if.test)
    assigned = {ast.unparse(node.targets[0]): node.value for node in colab_if.body if isinstance(node, ast.Assign)}
    assert [tuple(args) for args in ast.literal_eval(assigned["INSTALLS"])] == list(settings.COLAB_INSTALLS)
    assert ast.literal_eval(assigned["(CLONE_URL, BRANCH, HOME)"]) == (navigation.make_clone_url(), "main", settings.COLAB_DIR)
    assert "run(sys.executable, '-m', 'pip', 'install', *args, cwd=HOME)" in ast.unparse(colab_if)
    # Colab keeps its own torch, kernel and widgets: the file it installs names none of them.
    colab = (ROOT / "requirements-colab.txt").read_text()
    assert not re.search(r"^(torch|jupyterlab|ipykernel|ipywidgets|pytest|nbval)==", colab, re.MULTILINE)
    assert "-r requirements-colab.txt" in (ROOT / "requirements.txt").read_text().splitlines()


def test_readme_colab_section_lists_the_same_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Chạy trên Colab", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```bash\n.*?\n```", section, re.DOTALL)[0]
    assert block == navigation.render_colab_commands()
    assert "python -m pip install -r requirements-colab.txt" in block


def run_colab_setup(tmp_path, clone_url, home, pip_exit=0):
    """Run the setup cell as on Colab, with a stand-in python that logs its arguments (and can fail like pip)."""
    log = tmp_path / "pip.log"
    fake = tmp_path / "fake-python"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {log}\nif [ {pip_exit} != 0 ]; then for i in $(seq 0 39); do echo \"pip line $i\"; done; "
                    f"exit {pip_exit}; fi\n")
    fake.chmod(0o755)
    code = f"import sys\nsys.executable = {str(fake)!r}\n" + navigation.render_setup(clone_url, str(home))
    env = {**os.environ, "COLAB_RELEASE_TAG": "test"}
    env.pop("KIT_PRESET", None)
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    return result, (log.read_text().splitlines() if log.exists() else [])


def test_setup_cell_on_colab_clones_installs_once_and_survives_a_cut_clone(tmp_path):
    home = tmp_path / "kit"
    home.mkdir()
    (home / "half-cloned").write_text("")  # what an interrupted clone leaves: a folder, no complete checkout
    result, calls = run_colab_setup(tmp_path, f"file://{ROOT}", home)
    assert result.returncode == 0, result.stderr
    assert not (home / "half-cloned").exists() and (home / "requirements-colab.txt").is_file()
    assert calls == ["-m pip install " + " ".join(args) for args in settings.COLAB_INSTALLS]
    assert (home / ".kit-installed").exists() and "Preset: offline" in result.stdout
    result, calls = run_colab_setup(tmp_path, f"file://{ROOT}", home)  # once per runtime: nothing again
    assert result.returncode == 0 and len(calls) == len(settings.COLAB_INSTALLS)


def test_setup_cell_on_colab_shows_why_pip_failed_and_resumes(tmp_path):
    home = tmp_path / "kit"
    result, calls = run_colab_setup(tmp_path, f"file://{ROOT}", home, pip_exit=3)
    assert result.returncode != 0 and "Lệnh thất bại (mã 3)" in result.stderr
    assert "pip line 39" in result.stdout and "pip line 0\n" not in result.stdout  # the tail, not the whole log
    assert len(calls) == 1 and not (home / ".kit-installed").exists()
    (home / "kept").write_text("")  # an untracked file: the complete clone is reused, not cloned again
    result, calls = run_colab_setup(tmp_path, "file:///nowhere", home)
    assert result.returncode == 0, result.stderr
    assert (home / "kept").exists() and len(calls) == 1 + len(settings.COLAB_INSTALLS)


def test_setup_cell_on_colab_without_a_repository_says_how_to_set_it(tmp_path):
    result, calls = run_colab_setup(tmp_path, "", tmp_path / "kit")
    assert result.returncode != 0 and "make navigation REPO=" in result.stderr and not calls


def test_repo_is_checked_and_written_in_one_place(tmp_path, monkeypatch):
    for bad in ("", "owner", "a/b/c", "owner/name with space", "-x/y"):
        with pytest.raises(ValueError, match="owner/name"):
            navigation.check_repo(bad)
    (tmp_path / "coursetools").mkdir()
    (tmp_path / navigation.SETTINGS).write_text((ROOT / navigation.SETTINGS).read_text())
    monkeypatch.setattr(settings, "REPO", settings.REPO)
    navigation.set_repo("my-org/preference-datasets-kit", tmp_path)
    assert 'REPO = "my-org/preference-datasets-kit"\n' in (tmp_path / navigation.SETTINGS).read_text()
    assert links.make_badge("notebooks/01_model_pooling.ipynb").startswith("[![Open In Colab]")
    assert navigation.make_clone_url() == "https://github.com/my-org/preference-datasets-kit.git"
    assert "my-org/preference-datasets-kit/blob/main/notebooks/01" in links.make_colab_url("notebooks/01")


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
    table = readme.split(markers.TABLE_START, 1)[1].split(markers.TABLE_END, 1)[0].strip()
    assert table == navigation.render_table(ROOT)
    rows = table.split("\n")[2:]
    assert len(rows) == len(links.list_course(ROOT))
    for row, path in zip(rows, links.list_course(ROOT)):
        assert f"[`{path}`]({path})" in row and navigation.make_table_badge(path) in row
        assert navigation.LESSON_NUMBER.sub("", navigation.read_title_of(path, ROOT)) in row
    exercise_row = rows[links.list_course(ROOT).index(links.EXERCISE)]
    assert exercise_row.startswith("| 🏋️ |") and f"lời giải: [`{links.SOLUTION}`]({links.SOLUTION})" in exercise_row


def test_generated_cells_are_up_to_date_on_the_committed_tree():
    for command in ("navigation", "exercise"):
        result = subprocess.run([sys.executable, "-m", "coursetools", command, "--check"], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 0, result.stderr


def test_course_cells_are_idempotent_and_update_in_place():
    path = "notebooks/01_model_pooling.ipynb"
    nb = read(path)
    count = len(nb.cells)
    nb.cells[0].source = markers.NAV_MARKER + "\nold"
    nb.cells[1].source = "# NBVAL_IGNORE_OUTPUT\n# SETUP: generated by scripts/write_navigation.py\nold()"  # an older marker
    again = navigation.apply_course_cells(nb, path, ROOT)
    assert len(again.cells) == count
    assert again.cells[0].source == links.render_nav(path, ROOT)
    assert again.cells[1].source == navigation.render_setup()


def test_course_cells_are_inserted_into_a_bare_notebook():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 9. Mới"), nbformat.v4.new_code_cell("x = 1")])
    nb = navigation.apply_course_cells(nb, "notebooks/01_model_pooling.ipynb", ROOT)
    assert [markers.is_nav_cell(nb.cells[0]), markers.is_setup_cell(nb.cells[1])] == [True, True]
    assert [cell.source for cell in nb.cells[2:]] == ["# 9. Mới", "x = 1"]
    assert links.read_title(nb) == "9. Mới"


def test_exercise_nav_is_its_own_and_title_is_retitled():
    exercise = read(links.EXERCISE)
    assert exercise.cells[0].source == links.render_nav(links.EXERCISE, ROOT)
    assert links.read_title(exercise).endswith("(bài tập)")
    assert links.read_title(read(links.SOLUTION)).endswith("(lời giải)")


def test_course_preset_is_chosen_on_cuda_without_override(monkeypatch):
    import torch

    from helpers import presets

    monkeypatch.delenv(presets.PRESET_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert presets.choose_preset().name == "course"
