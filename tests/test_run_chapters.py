"""tools/run_chapters.py: tidying and stable ids make re-executed chapters byte-identical."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_notebook, new_output

SCRIPT = Path(__file__).resolve().parent.parent / "tools" / "run_chapters.py"
_spec = importlib.util.spec_from_file_location("run_chapters", SCRIPT)
assert _spec and _spec.loader
run_chapters = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_chapters)

VIEW = "application/vnd.jupyter.widget-view+json"


def _executed(model_ids: list[str], doc_uuid: str) -> nbformat.NotebookNode:
    """A notebook as nbclient leaves it: load cell output, a widget view, stored widget state."""
    load = new_code_cell("from widgets import load_bokeh\n\nload_bokeh()", execution_count=1,
                         outputs=[new_output("display_data", data={"application/javascript": "x"})])
    view = new_code_cell("w", execution_count=2, outputs=[new_output(
        "execute_result", data={VIEW: {"model_id": model_ids[0], "version_major": 2, "version_minor": 0}},
        execution_count=2)])
    solution = new_code_cell("answer = 1", execution_count=3, metadata={"tags": ["solution"]})
    nb = new_notebook(cells=[load, view, solution])
    for index, cell in enumerate(nb.cells):          # cell ids live in the file; only model ids vary
        cell.id = f"cell-{index}"
    nb.metadata["widgets"] = {run_chapters.WIDGET_STATE: {"version_major": 2, "version_minor": 0, "state": {
        model_ids[0]: {"state": {"children": [f"IPY_MODEL_{model_ids[1]}"]}},
        model_ids[1]: {"state": {"render_bundle": f'{{"docid": "{doc_uuid}"}}'}},
    }}}
    return nb


def _finish(nb: nbformat.NotebookNode) -> str:
    """What run() does after execution, as the written JSON text."""
    run_chapters.tidy(nb)
    return nbformat.writes(run_chapters.stable_ids(nb, "00_test"))


def test_tidy_strips_the_load_cell_and_collapses_solutions() -> None:
    nb = _executed(["a" * 32, "b" * 32], "0b7e9c1a-1f2d-4c3b-9a8e-7d6c5b4a3f2e")
    run_chapters.tidy(nb)
    load, _, solution = nb.cells
    assert load.outputs == [] and load.metadata["tags"] == ["nbval-ignore-output"]
    assert solution.metadata["jupyter"]["source_hidden"] is True
    assert nb.metadata["kernelspec"]["name"] == "python3"


def test_two_runs_give_the_same_bytes() -> None:
    first = _finish(_executed(["1f" * 16, "2e" * 16], "0b7e9c1a-1f2d-4c3b-9a8e-7d6c5b4a3f2e"))
    second = _finish(_executed(["3d" * 16, "4c" * 16], "9c8b7a6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"))
    assert first == second
    nb = nbformat.reads(first, as_version=4)
    state = nb.metadata["widgets"][run_chapters.WIDGET_STATE]["state"]
    view_id = nb.cells[1].outputs[0].data[VIEW]["model_id"]
    assert view_id in state and len(view_id) == 32
    children = state[view_id]["state"]["children"]
    assert children[0].removeprefix("IPY_MODEL_") in state
