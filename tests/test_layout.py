"""The tree's two halves: `helpers` (what the notebooks import) never imports the course tooling (`coursetools`)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    """Return the top-level names of every module a Python file imports."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


def test_the_library_never_imports_the_tooling():
    offenders = [path.name for path in (ROOT / "helpers").glob("*.py") if "coursetools" in imported_modules(path)]
    assert not offenders, f"helpers/ imports coursetools in {offenders}"


def test_every_helpers_module_is_imported_by_a_notebook_or_another_helper():
    notebooks = " ".join(p.read_text(encoding="utf-8") for p in [*ROOT.glob("notebooks/*.ipynb"), *ROOT.glob("solutions/*.ipynb")])
    used_by_helpers = set()
    for path in (ROOT / "helpers").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        used_by_helpers |= {n.module.split(".")[1] for n in ast.walk(tree)
                            if isinstance(n, ast.ImportFrom) and n.module and n.module.startswith("helpers.")}
    unused = [p.stem for p in (ROOT / "helpers").glob("*.py")
              if p.stem != "__init__" and f"helpers.{p.stem}" not in notebooks and p.stem not in used_by_helpers]
    assert not unused, f"helpers/ modules no notebook imports (course tooling belongs in coursetools/): {unused}"
