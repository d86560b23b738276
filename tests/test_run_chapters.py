"""tools/run_chapters.py: tidying and stable ids make re-executed chapters byte-identical; views get pictures.

The pictures themselves are drawn by Chromium (tests/browser/test_unrun_chapter.py regenerates
chapter 05 and opens it in JupyterLab); here: which outputs get one, how the refresh cell is
dropped, and what compact_png keeps.
"""
from __future__ import annotations

import base64
import importlib.util
import io
from pathlib import Path

import nbformat
import pytest
from PIL import Image
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


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def test_view_ids_and_images_go_beside_every_view_only() -> None:
    nb = _executed(["a" * 32, "b" * 32], "0b7e9c1a-1f2d-4c3b-9a8e-7d6c5b4a3f2e")
    again = nbformat.v4.new_output("display_data", data={VIEW: {"model_id": "a" * 32}, "text/plain": "VBox()"})
    nb.cells[2].outputs = [again]                                    # the same view displayed twice
    gone = nbformat.v4.new_output("display_data", data={VIEW: {"model_id": "c" * 32}, "text/plain": "VBox()"})
    nb.cells[0].outputs.append(gone)                                 # a view whose model is not stored
    assert run_chapters.view_ids(nb) == ["a" * 32]
    png = _png(Image.new("RGB", (4, 3), (1, 2, 3)))
    assert run_chapters.add_view_images(nb, {"a" * 32: png}) == 2
    assert base64.b64decode(nb.cells[1].outputs[0].data[run_chapters.PNG]) == png
    assert nb.cells[2].outputs[0].data["text/plain"] == "VBox()"     # the text repr stays, for nbval
    assert nb.cells[0].outputs[0].data.keys() == {"application/javascript"}
    assert run_chapters.PNG not in nb.cells[0].outputs[1].data
    nbformat.validate(nb)


def test_compact_png_trims_the_margin_and_keeps_flat_colours() -> None:
    img = Image.new("RGB", (300, 200), (255, 255, 255))
    img.paste((0xD6, 0x27, 0x28), (50, 40, 150, 50))               # a self-hosted row
    img.paste((0xC7, 0xE9, 0xC0), (50, 50, 150, 120))              # free pages below it
    small = Image.open(io.BytesIO(run_chapters.compact_png(_png(img), pad=4)))
    assert small.mode == "P" and small.size == (100 + 8, 80 + 8)
    rgb = small.convert("RGB")
    assert rgb.getpixel((4, 4)) == (0xD6, 0x27, 0x28) and rgb.getpixel((4, 20)) == (0xC7, 0xE9, 0xC0)
    assert rgb.getpixel((0, 0)) == (255, 255, 255)


def test_the_refresh_cell_is_dropped_and_read() -> None:
    nb = _executed(["a" * 32, "b" * 32], "0b7e9c1a-1f2d-4c3b-9a8e-7d6c5b4a3f2e")
    cells = list(nb.cells)
    nb.cells.append(nbformat.v4.new_code_cell("refresh", outputs=[
        nbformat.v4.new_output("stream", name="stdout", text="bokeh figures refreshed: 5\n")]))
    assert run_chapters.drop_refresh_cell(nb) == 5 and nb.cells == cells
    nb.cells.append(nbformat.v4.new_code_cell("refresh", outputs=[]))
    with pytest.raises(SystemExit, match="refresh cell printed"):
        run_chapters.drop_refresh_cell(nb)
