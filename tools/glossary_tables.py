#!/usr/bin/env python3
"""Write the glossary chapter's term tables from ``widgets.glossary`` and the chapters as they are now.

    python tools/glossary_tables.py           # rewrite the tables of chapters/99_glossary.ipynb
    python tools/glossary_tables.py --check   # exit 1 if a table is out of date (a chapter moved a term)

Each group of terms is one markdown cell starting with ``## <group>``; the cell is replaced by
``table_markdown(group)``, whose "first used in" column is computed from chapters 00-11
(``widgets.glossary.first_uses``). Run it after editing any chapter that names a glossary term,
then ``tools/run_chapters.py 99``. Cell ids stay as they are.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from widgets.glossary import GROUPS, table_markdown  # noqa: E402

GLOSSARY = Path(__file__).resolve().parent.parent / "chapters" / "99_glossary.ipynb"


def stale_cells(nb: nbformat.NotebookNode) -> list[tuple[int, str]]:
    """(cell index, new source) of every group table that differs from what the chapters give now."""
    out = []
    for group in GROUPS:
        index = next((i for i, c in enumerate(nb.cells)
                      if c.cell_type == "markdown" and c.source.startswith(f"## {group}\n")), None)
        if index is None:
            raise SystemExit(f"{GLOSSARY.name}: no markdown cell starts with '## {group}'")
        new = table_markdown(group)
        if nb.cells[index].source != new:
            out.append((index, new))
    return out


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` only compare) the glossary's tables; exit 1 if ``--check`` finds one stale."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale tables")
    args = parser.parse_args(argv)
    nb = nbformat.read(GLOSSARY, as_version=4)
    stale = stale_cells(nb)
    if args.check:
        for index, _ in stale:
            print(f"{GLOSSARY.name}: cell {index} ({nb.cells[index].source.splitlines()[0]}) is out of date")
        return 1 if stale else 0
    for index, new in stale:
        nb.cells[index].source = new
    if stale:
        nbformat.write(nb, GLOSSARY)
    print(f"{GLOSSARY.name}: {len(stale)} table(s) rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
