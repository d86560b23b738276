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
  the stored widget state likewise, so re-running an unchanged chapter changes no byte.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

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


def run(path: Path, timeout: int) -> float:
    """Execute ``path`` in place and tidy it; return the seconds it took."""
    start = time.monotonic()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, store_widget_state=True,
                            coalesce_streams=True,
                            record_timing=False, resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    tidy(nb)
    nb = stable_ids(nb, path.stem)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return time.monotonic() - start


def main(argv: list[str] | None = None) -> int:
    """Run the selected chapters and report each one's time."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapters", nargs="*", help="notebook paths or name prefixes such as 00")
    parser.add_argument("--timeout", type=int, default=600, help="seconds per cell")
    args = parser.parse_args(argv)
    for path in select(args.chapters):
        seconds = run(path, args.timeout)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
