"""``memhotplug-workbook student OUT_DIR``: a student edition of every chapter.

The edition is the chapters with their answers taken out, ready to hand out:

* every exercise keeps one cell for the learner's answer, tagged ``answer``: the cell tagged
  ``solution`` becomes a visible stub ending in ``answer = None``; the exercise cell in front
  of it (``answer = None  # unit``), which the stub would otherwise overwrite, is merged into it;
* the check cells after it stay (tagged ``check``) and print ``not answered yet`` until the
  learner replaces ``None``;
* every output is cleared, execution counts are ``None`` and the stored widget state is gone;
* a short note at the top of each notebook says what kind of copy it is;
* any other file of the chapters folder (images, data) is copied beside the notebooks.

Nothing is written when ``OUT_DIR`` already holds one of the files the edition would write,
unless ``--force``; other files there (students' work) are never touched.  Uses only
``nbformat``, which JupyterLab already installs, imported when the command runs.
"""
from __future__ import annotations

import argparse
import copy
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = ["ANSWER_TAG", "CHECK_TAG", "SOLUTION_TAG", "Edition", "EditionExists", "build", "chapter_paths",
           "is_check_cell", "main", "student_notebook"]

SOLUTION_TAG = "solution"
ANSWER_TAG = "answer"
CHECK_TAG = "check"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
BANNER_ID = "student-edition"
STUB_HEAD = "# Your answer: replace None (a value, or code using the model), then run the check cell below."
BANNER = (
    "**Student edition.** This copy of the chapter has no solutions. Each exercise has one cell tagged "
    "`answer` that ends in `answer = None`: replace `None` with your answer (a value, or code that computes "
    "it with the model) and run the check cell under it. The check cell says `not answered yet` until you "
    "do, then `right`, or `not yet` and the kernel rule your answer breaks."
)
# "answer = None", maybe followed by a comment: the exercise cell in front of a solution.
_EXERCISE = re.compile(r"\A\s*answer\s*=\s*None\s*(#[^\n]*)?\s*\Z")
# A call of a check function, or of a seeded problem's .check(), on the learner's answer.
_CHECK_CALL = re.compile(r"\b(?:check_\w+|\w+\.check)\(\s*answer\b")
# Files of the chapters folder that are not part of the workbook.
_SKIP = {"__pycache__", ".ipynb_checkpoints"}


class EditionExists(FileExistsError):
    """The output folder already holds files the edition would write."""

    def __init__(self, out: Path, clashes: list[Path]) -> None:
        self.out = out
        self.clashes = clashes
        names = ", ".join(str(p.relative_to(out)) for p in clashes)
        super().__init__(f"{out} already holds {names}; nothing written "
                         "(pass --force to overwrite these files; other files there are never touched)")


@dataclass(frozen=True)
class Edition:
    """What :func:`build` wrote: the notebooks, the other files and the number of answer cells."""

    out: Path
    notebooks: list[Path]
    files: list[Path]
    answers: int


def is_check_cell(source: str) -> bool:
    """True when ``source`` calls a check function (or ``p.check``) on ``answer``."""
    return bool(_CHECK_CALL.search(source))


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _stub_source(exercise: str | None) -> str:
    """The answer cell: the stub comment, then the exercise's ``answer = None  # unit`` line."""
    return f"{STUB_HEAD}\n{exercise.strip() if exercise else 'answer = None'}"


def student_notebook(nb: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int]:
    """A student copy of ``nb`` and its number of answer cells; ``nb`` itself is not changed."""
    import nbformat

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells: list[nbformat.NotebookNode] = []
    answers = 0
    after_answer = False
    for cell in nb.cells:
        tags = _tags(cell)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
            cell.metadata.pop("execution", None)
        if cell.cell_type == "code" and SOLUTION_TAG in tags:
            exercise = None
            if cells and cells[-1].cell_type == "code" and _EXERCISE.match(cells[-1].source) \
                    and not _tags(cells[-1]):
                exercise = cells.pop().source
            cell.source = _stub_source(exercise)
            cell.metadata["tags"] = [ANSWER_TAG if t == SOLUTION_TAG else t for t in tags]
            cell.metadata.pop("collapsed", None)
            jupyter = cell.metadata.get("jupyter", {})
            jupyter.pop("source_hidden", None)
            jupyter.pop("outputs_hidden", None)
            if not jupyter:
                cell.metadata.pop("jupyter", None)
            answers += 1
            after_answer = True
        elif cell.cell_type == "code" and after_answer and is_check_cell(cell.source):
            if CHECK_TAG not in tags:
                cell.metadata["tags"] = tags + [CHECK_TAG]
        else:
            after_answer = False
        cells.append(cell)
    banner = nbformat.v4.new_markdown_cell(BANNER)
    if cells and "id" in cells[0]:
        banner["id"] = BANNER_ID
    else:
        banner.pop("id", None)
    nb.cells = [banner] + cells
    return nb, answers


def chapter_paths(chapters: Path) -> list[Path]:
    """The chapter notebooks of ``chapters`` (``NN_*.ipynb``), in order."""
    return sorted(chapters.glob(CHAPTER_GLOB))


def _other_files(chapters: Path) -> list[Path]:
    """Files of ``chapters`` the notebooks may read: everything but notebooks and hidden or cache files."""
    found = []
    for path in sorted(chapters.rglob("*")):
        rel = path.relative_to(chapters)
        if not path.is_file() or path.suffix == ".ipynb" or any(
                part in _SKIP or part.startswith(".") for part in rel.parts):
            continue
        found.append(rel)
    return found


def build(chapters: Path, out: Path, *, force: bool = False) -> Edition:
    """Write the student edition of ``chapters`` into ``out``; raise :class:`EditionExists` on a clash."""
    import nbformat

    chapters, out = chapters.resolve(), out.resolve()
    sources = chapter_paths(chapters)
    if not sources:
        raise FileNotFoundError(f"no chapter notebooks ({CHAPTER_GLOB}) in {chapters}")
    if out == chapters:
        raise ValueError(f"{out} is the chapters folder itself; write the student edition elsewhere")
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    others = _other_files(chapters)
    targets = [out / p.name for p in sources] + [out / rel for rel in others]
    clashes = [t for t in targets if t.exists() or t.is_symlink()]
    if clashes and not force:
        raise EditionExists(out, clashes)
    editions = []
    answers = 0
    for path in sources:            # transform everything before writing anything
        nb, n = student_notebook(nbformat.read(path, as_version=4))
        nbformat.validate(nb)
        editions.append((out / path.name, nb))
        answers += n
    out.mkdir(parents=True, exist_ok=True)
    for target, nb in editions:
        nbformat.write(nb, target)
    for rel in others:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(chapters / rel, out / rel)
    return Edition(out, [t for t, _ in editions], [out / rel for rel in others], answers)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook student",
        description="Write a student edition of every chapter into OUT_DIR: solutions replaced by answer "
                    "cells with answer = None, outputs and widget state cleared, check cells kept.")
    parser.add_argument("out", type=Path, metavar="OUT_DIR", help="folder to write (created if missing)")
    parser.add_argument("--chapters", type=Path, default=None, metavar="DIR",
                        help="chapters folder to read (default: ./chapters, else the one beside the package)")
    parser.add_argument("--force", action="store_true",
                        help="overwrite the edition's notebooks (and copied files) if OUT_DIR has them already")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Build the edition; 0 on success, 1 (with a message on stderr) when nothing was written."""
    args = _parser().parse_args(argv)
    try:
        if args.chapters is None:
            from workbook.cli import find_chapters

            args.chapters = find_chapters(option="--chapters")
        edition = build(args.chapters, args.out, force=args.force)
    except (OSError, ValueError) as err:
        print(f"memhotplug-workbook student: {err}", file=sys.stderr)
        return 1
    for path in edition.notebooks + edition.files:
        print(f"wrote {path}")
    print(f"student edition: {len(edition.notebooks)} notebooks, {edition.answers} exercises to answer, "
          f"in {edition.out}")
    print(f"open it with: memhotplug-workbook lab --root {edition.out}")
    return 0
