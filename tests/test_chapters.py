"""Chapter notebooks are commit-ready: BokehJS cell stripped and tagged, all cells run, solutions collapsed."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

CHAPTERS = sorted((Path(__file__).resolve().parent.parent / "chapters").glob("[0-9][0-9]_*.ipynb"))


def test_there_are_chapters() -> None:
    assert CHAPTERS and CHAPTERS[0].name == "00_start_here.ipynb"


@pytest.fixture(params=CHAPTERS, ids=[p.stem for p in CHAPTERS])
def notebook(request: pytest.FixtureRequest) -> nbformat.NotebookNode:
    """One chapter, read with nbformat and validated."""
    nb = nbformat.read(request.param, as_version=4)
    nbformat.validate(nb)
    return nb


def _code(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    """The code cells of ``nb``."""
    return [c for c in nb.cells if c.cell_type == "code"]


def test_first_code_cell_loads_bokeh_inline_without_stored_output(notebook: nbformat.NotebookNode) -> None:
    first = _code(notebook)[0]
    assert first.source.strip() == "from widgets import load_bokeh\n\nload_bokeh()"
    assert "nbval-ignore-output" in first.metadata.get("tags", [])
    assert first.outputs == []


def test_every_cell_ran_without_error(notebook: nbformat.NotebookNode) -> None:
    for cell in _code(notebook):
        tags = cell.metadata.get("tags", [])
        # every code cell runs (what needs QEMU is shown as text): a stored output nothing re-runs is unchecked
        assert not {"skip-execution", "nbval-skip"} & set(tags), cell.source
        assert cell.execution_count is not None, cell.source
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors or "raises-exception" in tags, cell.source


def test_solutions_are_collapsed(notebook: nbformat.NotebookNode) -> None:
    for cell in _code(notebook):
        if "solution" in cell.metadata.get("tags", []):
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, cell.source


def test_widget_state_is_stored_and_kernel_is_python3(notebook: nbformat.NotebookNode) -> None:
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    assert "application/vnd.jupyter.widget-state+json" in notebook.metadata.get("widgets", {})


def test_notebooks_stay_small() -> None:
    for path in CHAPTERS:
        assert path.stat().st_size < 1_000_000, f"{path.name}: strip the inline BokehJS output"


def test_widget_views_point_into_the_stored_state(notebook: nbformat.NotebookNode) -> None:
    state = notebook.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    views = [o.data["application/vnd.jupyter.widget-view+json"]["model_id"]
             for c in _code(notebook) for o in c.outputs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert views and all(v in state for v in views)


def test_check_verdicts_and_solutions_are_folded(notebook: nbformat.NotebookNode) -> None:
    # a verdict reads "right: <answer>": stored (nbval compares it) but folded until the reader opens it
    from workbook.teaching.student import is_check_cell
    for cell in _code(notebook):
        tags = cell.metadata.get("tags", [])
        if is_check_cell(cell.source):
            assert "check" in tags and cell.metadata["jupyter"]["outputs_hidden"] is True, cell.source
        if "solution" in tags:
            assert cell.metadata["jupyter"] == {"source_hidden": True, "outputs_hidden": True}, cell.source
