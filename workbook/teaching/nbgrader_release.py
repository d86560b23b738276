"""``memhotplug-workbook nbgrader COURSE_DIR``: an nbgrader course of the chapters, source versions included.

    memhotplug-workbook nbgrader course/ --only 00-02 --salt os-2027
    cd course && nbgrader generate_assignment ch01 && ... && nbgrader autograde ch01

Writes ``COURSE_DIR/nbgrader_config.py`` and ``COURSE_DIR/source/<assignment>/<chapter>.ipynb``,
one assignment per chapter (``ch01``, ...) or every chapter in one (``--assignment NAME``).  In each
source notebook:

* every exercise's solution is one nbgrader *solution* cell, the solution between
  ``### BEGIN SOLUTION`` and ``### END SOLUTION``; nbgrader's ``generate_assignment`` replaces
  the region with ``answer = None`` (``ClearSolutions.code_stub`` in the written config);
* its check cell becomes an *autograder test* cell worth the exercise's points (seeded exercises
  2, the others 1): it shows the check's verdict, then fails (AssertionError) unless it is right;
* the seed cells are read-only (nbgrader puts them back at autograding), and with ``--salt`` they
  compute each student's seed from the JupyterHub user name, which nbgrader uses as the student
  id; the config's ``Autograde`` runs submissions with ``MEMHOTPLUG_STUDENT`` set to that id
  (:class:`workbook.teaching.nbgrader_execute.ExecuteAsStudent`) so the seeds match;
* teacher-only passages are gone, outputs and widget state are cleared (the student edition's rules).

nbgrader itself is not a dependency of the workbook: the teacher installs it (``pip install
nbgrader``; the ``[test]`` extra pins a version that works with the pinned JupyterLab).
"""
from __future__ import annotations

import argparse
import ast
import copy
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from workbook.teaching.exercises import exercises

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = ["CONFIG", "main", "source_notebook", "write_course"]

CONFIG = '''\
# nbgrader configuration written by `memhotplug-workbook nbgrader` (edit freely; keep the two workbook lines)
c = get_config()  # noqa: F821

# ClearSolutions: an exercise's solution region becomes the workbook's own stub
c.ClearSolutions.code_stub = {"python": "answer = None"}
# Autograde: run each submission as its student (per-student seeds), with time for the model
from workbook.teaching.nbgrader_execute import autograde_preprocessors  # noqa: E402

c.Autograde.autograde_preprocessors = autograde_preprocessors()
c.ExecuteAsStudent.timeout = 600
'''

BANNER = ("**memhotplug-workbook, graded with nbgrader.** Each exercise has one cell ending in `answer = None`: "
          "replace `None` with your answer (a value, or code that computes it with the model) and run the test "
          "cell under it. The test cell shows `right`, or `not yet` and the kernel rule your answer breaks; "
          "the grader runs the same cells.")
_STUB_HEAD = "# Your answer: replace None (a value, or code using the model), then run the test cell below."


def _nbgrader(cell: nbformat.NotebookNode, grade_id: str, *, solution: bool = False, grade: bool = False,
              locked: bool = False, points: int | None = None) -> None:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution}
    if points is not None:
        meta["points"] = points
    cell.metadata["nbgrader"] = meta


def _test_source(check: str) -> str:
    """The check cell as an autograder test: the last expression's verdict goes through require_right()."""
    tree = ast.parse(check)
    last = tree.body[-1]
    if not isinstance(last, ast.Expr):
        raise ValueError(f"a check cell must end in the check call: {check!r}")
    lines = check.splitlines()
    head = "\n".join(lines[:last.lineno - 1])
    call = "\n".join(lines[last.lineno - 1:])
    return (("from workbook.teaching.autograde import require_right\n" + head).rstrip("\n")
            + f"\n\nrequire_right({call})")


def source_notebook(chapter: nbformat.NotebookNode, key: str, salt: str | None = None) -> nbformat.NotebookNode:
    """The nbgrader source version of one chapter (``key`` = ``"01"``)."""
    import nbformat

    from workbook.teaching.student import (_EXERCISE, SEED_TAG, Seeds, _tags, strip_teacher_only,
                                           student_notebook)

    # the student edition's rules for everything but the solutions: teacher-only passages, seeds, outputs
    solutions = {c.get("id"): c.source for c in chapter.cells if "solution" in _tags(c)}
    edition, _ = student_notebook(chapter, key, Seeds(salt))
    nb = copy.deepcopy(edition)
    nb.cells = nb.cells[1:]                                  # the student banner: ours instead
    banner = nbformat.v4.new_markdown_cell(BANNER)
    banner["id"] = "nbgrader-banner"
    nb.cells.insert(0, banner)
    for ex in exercises(nb):
        answer, check = nb.cells[ex.answer], nb.cells[ex.check]
        unit = [line for line in answer.source.splitlines() if _EXERCISE.match(line)]
        comment = unit[0].split("#", 1)[1].strip() if unit and "#" in unit[0] else ""
        solution = solutions[answer.get("id")]
        body = "\n".join(line for line in solution.splitlines() if not line.startswith("# Solution:"))
        answer.source = (f"{_STUB_HEAD}\n" + (f"# answer: {comment}\n" if comment else "")
                         + f"### BEGIN SOLUTION\n{body.strip()}\n### END SOLUTION")
        answer.metadata["tags"] = [t for t in _tags(answer) if t != "answer"]
        _nbgrader(answer, ex.grade_id, solution=True)
        check.source = _test_source(check.source)
        check.metadata["tags"] = [t for t in _tags(check) if t != "check"]
        _nbgrader(check, f"{ex.grade_id}_test", grade=True, locked=True, points=ex.points)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and SEED_TAG in _tags(cell):
            _nbgrader(cell, f"seed_{key}_{i}", locked=True)
        if not cell.metadata.get("tags"):
            cell.metadata.pop("tags", None)
        if cell.cell_type == "markdown":
            cell.source = strip_teacher_only(cell.source)
    nbformat.validate(nb)
    return nb


def write_course(chapters: Path, out: Path, *, only: str | None = None, salt: str | None = None,
                 assignment: str | None = None, force: bool = False) -> list[Path]:
    """Write the course folder; the files written."""
    import nbformat

    from workbook.teaching.student import chapter_key, chapter_paths, select_chapters

    paths = select_chapters(chapter_paths(chapters.resolve()), only)
    paths = [p for p in paths if exercises(nbformat.read(p, as_version=4))]      # the glossary has none
    if not paths:
        raise FileNotFoundError(f"no chapters with exercises in {chapters}")
    targets = [(p, out / "source" / (assignment or f"ch{chapter_key(p)}") / p.name) for p in paths]
    config = out / "nbgrader_config.py"
    clashes = [t for _, t in targets if t.exists()] + ([config] if config.exists() else [])
    if clashes and not force:
        raise FileExistsError(f"{out} already holds {', '.join(str(c.relative_to(out)) for c in clashes)}; "
                              "nothing written (pass --force to overwrite them)")
    written = []
    notebooks = [(source_notebook(nbformat.read(p, as_version=4), chapter_key(p), salt), t) for p, t in targets]
    for nb, target in notebooks:
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    out.mkdir(parents=True, exist_ok=True)
    config.write_text(CONFIG, encoding="utf-8")
    return written + [config]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook nbgrader",
        description="Write an nbgrader course folder: nbgrader_config.py and source/<assignment>/ notebooks with "
                    "solution regions, autograder test cells (points per exercise) and read-only seed cells.")
    parser.add_argument("out", type=Path, metavar="COURSE_DIR")
    parser.add_argument("--chapters", type=Path, default=None, metavar="DIR",
                        help="the chapters folder (default: ./chapters, else the one beside the package)")
    parser.add_argument("--only", metavar="LIST", help="only these chapters: 00,01,02 or 00-02")
    parser.add_argument("--salt", metavar="TEXT",
                        help="per-student seeds from the JupyterHub user name (nbgrader's student id) and TEXT")
    parser.add_argument("--assignment", metavar="NAME",
                        help="put every chapter in one assignment NAME (default: one per chapter, ch00, ch01, ...)")
    parser.add_argument("--force", action="store_true", help="overwrite source notebooks and the config")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``memhotplug-workbook nbgrader``: the exit code."""
    args = _parser().parse_args(argv)
    if args.assignment is not None and not args.assignment.replace("_", "").replace("-", "").isalnum():
        _parser().error("--assignment: letters, digits, _ and - only")
    try:
        if args.chapters is None:
            from workbook.cli import find_chapters

            args.chapters = find_chapters(option="--chapters")
        written = write_course(args.chapters, args.out, only=args.only, salt=args.salt,
                               assignment=args.assignment, force=args.force)
    except (OSError, ValueError) as err:
        print(f"memhotplug-workbook nbgrader: {err}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path}")
    assignments = sorted({p.parent.name for p in written if p.suffix == ".ipynb"})
    print(f"nbgrader course in {args.out}: {len(assignments)} assignment(s) ({', '.join(assignments)}). Next: "
          f"cd {args.out} && nbgrader generate_assignment {assignments[0]}")
    return 0
