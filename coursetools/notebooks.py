"""Running a course notebook headless, as JupyterLab would: its own folder as working directory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import nbformat
from nbclient import NotebookClient

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def execute_notebook(path: Path, timeout: int = 1800, allow_errors: bool = False,
                     after_each_cell: Callable[[NotebookClient], None] | None = None) -> nbformat.NotebookNode:
    """Execute the notebook at ``path`` in memory (the file is not rewritten) and return it with its outputs.

    ``after_each_cell(client)`` runs after every cell while the kernel is alive (nbclient's on_cell_executed hook).
    """
    path = Path(path)
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=allow_errors, resources={"metadata": {"path": str(path.parent)}}
    )
    if after_each_cell is not None:
        client.on_cell_executed = lambda **_: after_each_cell(client)
    client.execute()
    return nb


def is_shown_output(output: nbformat.NotebookNode) -> bool:
    """Tell whether an output is part of what a reader should see: not a log on stderr, not a widget."""
    if output.output_type == "stream":
        return output.name == "stdout"  # stderr holds library warnings and progress lines, different on every run
    if output.output_type in ("display_data", "execute_result"):
        # Progress bars and the course's controls need a live kernel; stored, they are an unreadable "VBox(...)".
        return WIDGET_MIME not in output.get("data", {})
    return True  # errors stay visible


def keep_shown_outputs(nb: nbformat.NotebookNode) -> None:
    """Drop stderr logs, widgets and execution timestamps from every cell, keeping texts, tables and plots."""
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type != "code":
            continue
        cell.outputs = [output for output in cell.outputs if is_shown_output(output)]
        if not cell.outputs:
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
