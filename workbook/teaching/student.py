"""``memhotplug-workbook student OUT_DIR``: a student edition of every chapter.

The edition is the chapters with their answers taken out, ready to hand out:

* every exercise keeps one cell for the learner's answer, tagged ``answer``: the cell tagged
  ``solution`` becomes a visible stub ending in ``answer = None``; the exercise cell in front
  of it (``answer = None  # unit``), which the stub would otherwise overwrite, is merged into it;
* the check cells after it stay (tagged ``check``) and print ``not answered yet`` until the
  learner replaces ``None``;
* every output is cleared, execution counts are ``None`` and the stored widget state is gone;
* passages for teachers go: cells tagged ``teacher-only``, and in markdown the text between
  ``<!-- teacher-only -->`` and ``<!-- /teacher-only -->`` (both invisible in the full edition);
* the seed cell of a seeded exercise (``SEED = 4``) is tagged ``seed``; with ``--per-student-seed``
  it computes the student's own seed (:mod:`workbook.teaching.seeds`) from the JupyterHub user
  name and ``--salt``, or, with ``--roster``, each student gets a folder whose seed cells hold
  their seed;
* a short note at the top of each notebook says what kind of copy it is;
* any other file of the chapters folder (images, data) is copied beside the notebooks.

``--only 00,01,02`` (or ``00-02``) writes just those chapters: a weekly release.

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

__all__ = ["ANSWER_TAG", "CHECK_TAG", "SEED_TAG", "SOLUTION_TAG", "TEACHER_TAG", "Edition", "EditionExists",
           "Seeds", "build", "chapter_paths", "is_check_cell", "main", "select_chapters", "student_notebook",
           "strip_teacher_only"]

SOLUTION_TAG = "solution"
ANSWER_TAG = "answer"
CHECK_TAG = "check"
SEED_TAG = "seed"
TEACHER_TAG = "teacher-only"
CHAPTER_GLOB = "[0-9][0-9]_*.ipynb"
BANNER_ID = "student-edition"
STUB_HEAD = "# Your answer: replace None (a value, or code using the model), then run the check cell below."
BANNER = (
    "**Student edition.** Each exercise has one cell tagged "
    "`answer` that ends in `answer = None`: replace `None` with your answer (a value, or code that computes "
    "it with the model) and run the check cell under it. The check cell says `not answered yet` until you "
    "do, then `right`, or `not yet` and the kernel rule your answer breaks."
)
SEED_NOTE = (" The seeded exercises are your own: their seed cells compute your seed from your user name, so "
             "your numbers differ from your neighbours'.")
# "SEED = 4" alone on its line: the seed of a chapter's seeded exercises
_SEED_LINE = re.compile(r"^SEED = \d+[ \t]*$", re.MULTILINE)
# a cell that draws a seeded problem (``p = generate("name", SEED)``): graders put it back as it was
_DRAWS = re.compile(r"\bgenerate\(\s*[\"'][a-z-]+[\"']\s*,\s*SEED\b")
_TEACHER_SPAN = re.compile(r"(^[ \t]*)?<!--\s*teacher-only\s*-->.*?<!--\s*/teacher-only\s*-->(?(1)[ \t]*\n?)",
                           re.DOTALL | re.MULTILINE)
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


@dataclass(frozen=True)
class Seeds:
    """How the seed cells of an edition get their seed.

    ``student`` None and ``salt`` None: the chapters' own seeds.  ``salt`` alone: computed when the
    notebook runs, from the JupyterHub user name.  ``salt`` and ``student``: that student's seed,
    written into the cell.
    """

    salt: str | None = None
    student: str | None = None

    def source(self, chapter: str) -> str | None:
        """The line that replaces ``SEED = N`` in ``chapter``'s seed cell (None: keep it)."""
        if self.salt is None:
            return None
        if self.student is not None:
            from workbook.teaching.seeds import student_seed

            seed = student_seed(self.student, self.salt, chapter)
            return f"SEED = {seed}  # {self.student}'s seed"
        return ("from workbook.teaching.seeds import course_seed\n\n"
                f"SEED = course_seed({chapter!r}, salt={self.salt!r})  # your own seed, from your user name")


def strip_teacher_only(text: str) -> str:
    """``text`` without its ``<!-- teacher-only -->...<!-- /teacher-only -->`` passages."""
    return _TEACHER_SPAN.sub("", text)


def chapter_key(path: Path) -> str:
    """The two-digit number of a chapter file (``"05"`` for ``05_memmap_on_memory.ipynb``)."""
    return path.name[:2]


def _stub_source(exercise: str | None) -> str:
    """The answer cell: the stub comment, then the exercise's ``answer = None  # unit`` line."""
    return f"{STUB_HEAD}\n{exercise.strip() if exercise else 'answer = None'}"


def student_notebook(nb: nbformat.NotebookNode, chapter: str = "",
                     seeds: Seeds = Seeds()) -> tuple[nbformat.NotebookNode, int]:
    """A student copy of ``nb`` and its number of answer cells; ``nb`` itself is not changed."""
    import nbformat

    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)
    cells: list[nbformat.NotebookNode] = []
    answers = 0
    after_answer = False
    seeded = False
    for cell in nb.cells:
        tags = _tags(cell)
        if TEACHER_TAG in tags:
            continue
        if cell.cell_type == "markdown":
            cell.source = strip_teacher_only(cell.source)
        if cell.cell_type == "code" and SOLUTION_TAG not in tags and (
                _SEED_LINE.search(cell.source) or _DRAWS.search(cell.source)):
            line = seeds.source(chapter)
            if line is not None and _SEED_LINE.search(cell.source):
                cell.source = _SEED_LINE.sub(lambda _: line, cell.source, count=1)
                seeded = True
            if SEED_TAG not in tags:
                cell.metadata["tags"] = tags = tags + [SEED_TAG]
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
            # the full edition folds the verdict (it names the answer); a student's own is shown
            jupyter = cell.metadata.get("jupyter", {})
            jupyter.pop("outputs_hidden", None)
            if not jupyter:
                cell.metadata.pop("jupyter", None)
        else:
            after_answer = False
        cells.append(cell)
    banner = nbformat.v4.new_markdown_cell(BANNER + (SEED_NOTE if seeded else ""))
    if cells and "id" in cells[0]:
        banner["id"] = BANNER_ID
    else:
        banner.pop("id", None)
    nb.cells = [banner] + cells
    return nb, answers


def chapter_paths(chapters: Path) -> list[Path]:
    """The chapter notebooks of ``chapters`` (``NN_*.ipynb``), in order."""
    return sorted(chapters.glob(CHAPTER_GLOB))


def select_chapters(paths: list[Path], only: str | None) -> list[Path]:
    """The chapters ``only`` names: ``"00,01,02"``, ``"00-02"``, ``"5,7"`` (all of them for None)."""
    if not only:
        return paths
    wanted: set[str] = set()
    for part in only.split(","):
        part = part.strip()
        if not part:
            continue
        lo, _, hi = part.partition("-")
        if not lo.strip().isdigit() or (hi and not hi.strip().isdigit()):
            raise ValueError(f"--only {only!r}: give chapter numbers such as 00,01,02 or 00-02")
        for n in range(int(lo), int(hi or lo) + 1):
            wanted.add(f"{n:02d}")
    chosen = [p for p in paths if chapter_key(p) in wanted]
    missing = sorted(wanted - {chapter_key(p) for p in paths})
    if missing:
        raise ValueError(f"--only {only!r}: no chapter {', '.join(missing)} "
                         f"(there are {', '.join(chapter_key(p) for p in paths)})")
    return chosen


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


def build(chapters: Path, out: Path, *, force: bool = False, only: str | None = None,
          seeds: Seeds = Seeds()) -> Edition:
    """Write the student edition of ``chapters`` into ``out``; raise :class:`EditionExists` on a clash."""
    import nbformat

    chapters, out = chapters.resolve(), out.resolve()
    sources = chapter_paths(chapters)
    if not sources:
        raise FileNotFoundError(f"no chapter notebooks ({CHAPTER_GLOB}) in {chapters}")
    sources = select_chapters(sources, only)
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
        nb, n = student_notebook(nbformat.read(path, as_version=4), chapter_key(path), seeds)
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
    parser.add_argument("--only", metavar="LIST",
                        help="only these chapters: 00,01,02 or 00-02 (a weekly release)")
    parser.add_argument("--per-student-seed", action="store_true",
                        help="every student gets their own variants of the seeded exercises: the seed cells "
                             "compute a seed from the JupyterHub user name and --salt (or, with --roster, one "
                             "folder per student with their seed written in)")
    parser.add_argument("--salt", metavar="TEXT",
                        help="the course salt of the per-student seeds, e.g. os-2027 (keep it: grading needs it)")
    parser.add_argument("--roster", type=Path, metavar="FILE",
                        help="one name a line (or a CSV with a username column): write OUT_DIR/NAME/ per student")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Build the edition; 0 on success, 1 (with a message on stderr) when nothing was written."""
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.salt or args.roster) and not args.per_student_seed:
        parser.error("--salt and --roster go with --per-student-seed")
    if args.per_student_seed and not args.salt:
        parser.error("--per-student-seed needs --salt TEXT (a course salt, e.g. os-2027; grading needs the same)")
    try:
        if args.chapters is None:
            from workbook.cli import find_chapters

            args.chapters = find_chapters(option="--chapters")
        if args.roster is not None:
            from workbook.teaching.seeds import read_roster

            names = read_roster(args.roster)
            editions = [build(args.chapters, args.out / name, force=args.force, only=args.only,
                              seeds=Seeds(args.salt, name)) for name in names]
        else:
            editions = [build(args.chapters, args.out, force=args.force, only=args.only,
                              seeds=Seeds(args.salt if args.per_student_seed else None))]
    except (OSError, ValueError) as err:
        print(f"memhotplug-workbook student: {err}", file=sys.stderr)
        return 1
    for edition in editions:
        for path in edition.notebooks + edition.files:
            print(f"wrote {path}")
    first = editions[0]
    seeds = (f"; per-student seeds (salt {args.salt!r}" + (f", {len(editions)} students" if args.roster else
                                                         ", from the JupyterHub user name") + ")"
             if args.per_student_seed else "")
    print(f"student edition: {len(first.notebooks)} notebooks, {first.answers} exercises to answer, "
          f"in {args.out.resolve() if args.roster else first.out}{seeds}")
    print(f"open it with: memhotplug-workbook lab --root {first.out}")
    return 0
