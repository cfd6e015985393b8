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
        used_by_helpers |= {alias.name for n in ast.walk(tree)  # from helpers import replay
                            if isinstance(n, ast.ImportFrom) and n.module == "helpers" for alias in n.names}
    unused = [p.stem for p in (ROOT / "helpers").glob("*.py")
              if p.stem != "__init__" and f"helpers.{p.stem}" not in notebooks and p.stem not in used_by_helpers]
    assert not unused, f"helpers/ modules no notebook imports (course tooling belongs in coursetools/): {unused}"


MAX_TOOLING_LINES = 500  # issue 29: small steps, not one long module that does six jobs


def test_no_tooling_module_is_long():
    long = {str(p.relative_to(ROOT)): n for p in (ROOT / "coursetools").rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_TOOLING_LINES}
    assert not long, f"coursetools modules over {MAX_TOOLING_LINES} lines: {long}"


def module_name(path: Path) -> str:
    """Return the dotted name of a file under the repository ("coursetools/grading/cli.py" -> "coursetools.grading.cli")."""
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, known: set[str]) -> set[str]:
    """Return the tooling modules a file imports, at load time or inside a function (a lazy import is still a dependency)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name in known}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            candidates = {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
            found |= candidates & known
    return found


def test_tooling_modules_do_not_import_each_other_in_a_cycle():
    files = {module_name(p): p for p in (ROOT / "coursetools").rglob("*.py")}
    # A package's __init__ re-exporting its own modules is not a cycle between modules.
    graph = {name: {m for m in imports_of(path, set(files)) if not (name in m and m.startswith(name + "."))}
             for name, path in files.items()}
    for start in graph:
        seen, stack = set(), [(start, [start])]
        while stack:
            name, trail = stack.pop()
            for nxt in graph[name] - {"coursetools"}:
                assert nxt != start, "import cycle: " + " -> ".join([*trail, nxt])
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
