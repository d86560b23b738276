#!/usr/bin/env python3
"""Execute chapter notebooks in place and store their outputs, ready to commit.

    python tools/run_chapters.py                 # every chapters/NN_*.ipynb
    python tools/run_chapters.py 00              # chapters whose name starts with 00
    python tools/run_chapters.py chapters/00_start_here.ipynb

Each notebook runs top to bottom in a fresh ``python3`` kernel of this environment with
nbclient (``store_widget_state=True``, working directory ``chapters/``).  Afterwards:

* the BokehJS load cell (the first code cell calling ``load_bokeh()``) loses its output,
  1.3 MB of inline JavaScript twice over, and gets the ``nbval-ignore-output`` tag;
* cells tagged ``solution`` get ``jupyter.source_hidden`` so Lab shows them collapsed, and
  check cells (a check call on ``answer``) get the ``check`` tag and ``jupyter.outputs_hidden``:
  their verdict names the answer, so it stays folded until the reader opens it (nbval still
  compares it);
* the kernelspec is set to ``python3`` and per-cell timing metadata is dropped;
* widget model ids (random per run) are renumbered in creation order, and the uuids inside
  the stored widget state likewise, so re-running an unchanged chapter changes no byte;
* every jupyter_bokeh figure's stored ``render_bundle`` is its final state: a last cell (run,
  then dropped) re-serialises each live ``BokehModel``, as ``memhotplug-workbook html`` does,
  since later changes (chapter 05 clicking ``device_add``) travel as messages, not as state;
* every widget view output gets an ``image/png`` beside its view: the view as the static site
  (``workbook.teaching.site``, the stored widget state, no kernel) draws it in Chromium, trimmed
  and reduced to 256 colours.  JupyterLab shows that picture where it cannot render the view
  itself: a notebook opened from disk is untrusted, and Lab renders a widget view only for a
  trusted output, so an unrun chapter shows its figures instead of the views' text repr
  (``--no-images`` leaves them out, on a machine without Chromium).
"""
from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import http.server
import io
import json
import os
import re
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from workbook.teaching.student import CHECK_TAG, is_check_cell  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = ROOT / "chapters"
LOAD_CALL = "load_bokeh()"
IGNORE_TAG = "nbval-ignore-output"
SOLUTION_TAG = "solution"
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
PNG = "image/png"
CHROMIUM = Path(os.environ.get("MEMHOTPLUG_CHROMIUM", "/usr/bin/chromium"))   # Debian's package
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]
VIEWPORT = {"width": 1280, "height": 1000}     # about JupyterLab's notebook area in a 1400-pixel window
UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def select(names: list[str]) -> list[Path]:
    """The notebooks named by paths or chapter-name prefixes; all chapters when empty."""
    every = sorted(CHAPTERS.glob("[0-9][0-9]_*.ipynb"))
    if not names:
        return every
    chosen: list[Path] = []
    for name in names:
        path = Path(name)
        if path.suffix == ".ipynb" and path.exists():
            chosen.append(path.resolve())
            continue
        matches = [nb for nb in every if nb.name.startswith(name)]
        if not matches:
            raise SystemExit(f"no chapter matches {name!r}")
        chosen.extend(matches)
    return chosen


def tidy(nb: nbformat.NotebookNode) -> None:
    """Strip the BokehJS load output, tag and collapse cells, normalise metadata."""
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    load_cell_done = False
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        cell.metadata.pop("execution", None)
        tags = cell.metadata.setdefault("tags", [])
        if not load_cell_done and LOAD_CALL in cell.source:
            cell.outputs = []
            if IGNORE_TAG not in tags:
                tags.append(IGNORE_TAG)
            load_cell_done = True
        if SOLUTION_TAG in tags:
            cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
            cell.metadata["jupyter"]["outputs_hidden"] = True
        if is_check_cell(cell.source):
            # the check's verdict names the answer ("right: 0x100200"): stored, compared by nbval,
            # but collapsed so that the reader does not see it before answering
            if CHECK_TAG not in tags:
                tags.append(CHECK_TAG)
            cell.metadata.setdefault("jupyter", {})["outputs_hidden"] = True
        if not tags:
            del cell.metadata["tags"]


def _stable(seed: str) -> str:
    """A fixed 32-hex-digit id derived from ``seed``."""
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


def stable_ids(nb: nbformat.NotebookNode, name: str) -> nbformat.NotebookNode:
    """``nb`` with widget model ids and widget-state uuids replaced by ids fixed per chapter."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    text = json.dumps(nb)
    for index, model_id in enumerate(list(state)):           # creation order, as nbclient saw them
        text = text.replace(model_id, _stable(f"{name}:widget:{index}"))
    state_text = json.dumps(json.loads(text)["metadata"].get("widgets", {}))
    for index, uuid in enumerate(dict.fromkeys(UUID4.findall(state_text))):
        fixed = _stable(f"{name}:uuid:{index}")
        text = text.replace(uuid, f"{fixed[:8]}-{fixed[8:12]}-4{fixed[13:16]}-8{fixed[17:20]}-{fixed[20:32]}")
    return nbformat.from_dict(json.loads(text))


#: JavaScript on the site's page: tag each drawn widget view with its model id; true once every one
#: of ``ids`` is drawn and every bokeh document has painted
_VIEWS_DRAWN = f"""(ids) => {{
    for (const tag of document.querySelectorAll('script[type="{WIDGET_VIEW}"]')) {{
        const area = tag.previousElementSibling;        // html-manager draws the view just before its tag
        if (!area || !area.classList.contains('widget-subarea') || !area.children.length) return false;
        area.setAttribute('data-view-id', JSON.parse(tag.textContent).model_id);
    }}
    const drawn = new Set([...document.querySelectorAll('[data-view-id]')].map(e => e.dataset.viewId));
    if (!ids.every(id => drawn.has(id))) return false;
    return !window.Bokeh || !window.Bokeh.documents || window.Bokeh.documents.every(d => d.is_idle);
}}"""


def view_ids(nb: nbformat.NotebookNode) -> list[str]:
    """The model id of every widget view output of ``nb`` whose model is in the stored state, in order, once.

    A view without its model (a widget closed, or an output pasted from a run elsewhere, as chapter
    10's capture progress bar) has nothing to draw: it keeps its text repr only.
    """
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    ids = [out.data[WIDGET_VIEW]["model_id"] for cell in nb.cells if cell.cell_type == "code"
           for out in cell.outputs if WIDGET_VIEW in out.get("data", {})]
    return [i for i in dict.fromkeys(ids) if i in state]


def compact_png(png: bytes, pad: int = 4) -> bytes:
    """``png`` without its white margins, in at most 256 colours (a few flat ones, as in a plot, stay exact)."""
    from PIL import Image, ImageChops

    img = Image.open(io.BytesIO(png)).convert("RGB")
    box = ImageChops.difference(img, Image.new("RGB", img.size, (255, 255, 255))).getbbox()
    if box is not None:
        img = img.crop((max(box[0] - pad, 0), max(box[1] - pad, 0),
                        min(box[2] + pad, img.width), min(box[3] + pad, img.height)))
    small = img.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    out = io.BytesIO()
    small.save(out, format="PNG", optimize=True)
    return out.getvalue()


class _Quiet(http.server.SimpleHTTPRequestHandler):
    """Serves a folder without logging every request."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def view_images(nb: nbformat.NotebookNode, js_dir: Path | None = None) -> dict[str, bytes]:
    """A PNG of every widget view of ``nb``, by model id, as the static site draws it from the stored state.

    The notebook becomes a one-page site (``workbook.teaching.site``: html-manager, jupyter_bokeh and
    BokehJS from local files, no kernel) served on 127.0.0.1, and Chromium photographs each view.
    """
    ids = view_ids(nb)
    if not ids:
        return {}
    if not CHROMIUM.exists():
        raise SystemExit(f"{CHROMIUM} is missing (apt-get install chromium): it draws the widget views' "
                         "images; pass --no-images to store the chapters without them")
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    from workbook.teaching import site

    with tempfile.TemporaryDirectory(prefix="run-chapters-") as tmp:
        chapters = Path(tmp) / "chapters"
        chapters.mkdir()
        nbformat.write(nb, chapters / "00_views.ipynb")
        out = site.build_site(Path(tmp) / "site", chapters, js_dir=js_dir, execute=False,
                              log=lambda line: None).out
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(out)))
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(viewport=VIEWPORT)
                    errors: list[str] = []
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(f"http://127.0.0.1:{server.server_address[1]}/00_views.html")
                    try:
                        page.wait_for_function(_VIEWS_DRAWN, arg=ids, timeout=60_000)
                    except PlaywrightTimeout:
                        raise SystemExit(f"the static page did not draw every widget view; page errors: {errors}")
                    shots = {i: page.locator(f'[data-view-id="{i}"]').first.screenshot(animations="disabled")
                             for i in ids}
                    return {i: compact_png(png) for i, png in shots.items()}
                finally:
                    browser.close()
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=10)


def add_view_images(nb: nbformat.NotebookNode, images: dict[str, bytes]) -> int:
    """Put ``images[model_id]`` as ``image/png`` beside every widget view output; how many got one."""
    done = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            view = out.get("data", {}).get(WIDGET_VIEW)
            if view is not None and view["model_id"] in images:
                out.data[PNG] = base64.b64encode(images[view["model_id"]]).decode("ascii")
                done += 1
    return done


def drop_refresh_cell(nb: nbformat.NotebookNode) -> int:
    """Remove the executed bokeh refresh cell (the last one) from ``nb``; how many figures it refreshed."""
    cell = nb.cells.pop()
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    match = re.search(r"bokeh figures refreshed: (\d+)", text)
    if match is None:
        raise SystemExit(f"the bokeh refresh cell printed {text!r}")
    return int(match.group(1))


def run(path: Path, timeout: int, images: bool = True, js_dir: Path | None = None) -> float:
    """Execute ``path`` in place, store its final figures and their images, tidy it; the seconds it took."""
    from workbook.teaching.site import REFRESH_BOKEH

    start = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(REFRESH_BOKEH))
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, store_widget_state=True,
                            coalesce_streams=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    drop_refresh_cell(nb)
    tidy(nb)
    nb = stable_ids(nb, path.stem)
    if images:
        add_view_images(nb, view_images(nb, js_dir))
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    """Run the selected chapters and report each one's time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook paths or name prefixes such as 00")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    parser.add_argument("--no-images", dest="images", action="store_false",
                        help="store no image/png of the widget views (no Chromium needed)")
    parser.add_argument("--js-dir", type=Path, default=None, metavar="DIR",
                        help="the static site's pinned npm tarballs, as for memhotplug-workbook html "
                             "(default: the download cache, else the registry)")
    args = parser.parse_args(argv)
    for path in select(args.chapters):
        seconds = run(path, args.timeout, args.images, args.js_dir)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
