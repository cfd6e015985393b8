"""Running a course notebook headless, as JupyterLab would: its own folder as working directory."""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbclient import NotebookClient


def execute_notebook(path: Path, timeout: int = 1800, allow_errors: bool = False) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` in memory (the file is not rewritten) and return it with its outputs."""
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(path.parent)}}
    )
    client.execute()
    return nb
