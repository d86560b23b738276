"""``memhotplug-workbook grade SUBMISSIONS_DIR --csv OUT``: run every submitted notebook, record every verdict.

    SUBMISSIONS_DIR/alice/01_pages_pfns_struct_page.ipynb      # one folder per student (any depth below it)
    SUBMISSIONS_DIR/bob/week1/01_pages_pfns_struct_page.ipynb

    memhotplug-workbook grade submissions/ --csv grades.csv --salt os-2027

Each notebook is matched to its chapter by file name and graded with the workbook's own check
cells: the seed cells and check cells of the submission are replaced by those of a fresh student
edition (by cell id; a deleted check cell is put back after its answer cell), so a student who
edited a check or chose another seed is graded on the real check of their own variant.  The
notebook then runs top to bottom in a kernel of its own, with ``MEMHOTPLUG_STUDENT`` set to the
student's folder name (the per-student seed cells read it; pass the edition's ``--salt``), from the
submission's folder.  Every exercise gets one CSV row: ``right`` (its points), ``wrong``,
``not answered``, ``missing`` (no answer cell) or ``error`` (the check raised, or never ran).

What this does not stop: a student's own code runs in the same kernel as the checks, as in any
notebook autograder; ``p.answer`` is there to read.  Grade understanding on paper with
``problems --exam``.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import csv
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbook.teaching.exercises import exercises, verdict_of
from workbook.teaching.seeds import STUDENT_ENV

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = ["COLUMNS", "Row", "grade_dir", "main", "prepare"]

COLUMNS = ["student", "notebook", "exercise", "verdict", "points", "max_points", "message", "seconds"]


@dataclass(frozen=True)
class Row:
    """One exercise of one student's notebook."""

    student: str
    notebook: str
    exercise: str
    verdict: str
    points: int
    max_points: int
    message: str
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The CSV row."""
        return {c: getattr(self, c) for c in COLUMNS}


def _reference(chapters: Path, salt: str | None) -> dict[str, Any]:
    """The student edition of every chapter (as notebooks, by file name) the submissions are checked with."""
    import nbformat

    from workbook.teaching.student import Seeds, chapter_key, chapter_paths, student_notebook

    out = {}
    for path in chapter_paths(chapters):
        nb, _ = student_notebook(nbformat.read(path, as_version=4), chapter_key(path), Seeds(salt))
        out[path.name] = nb
    return out


def prepare(submission: nbformat.NotebookNode, reference: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The submission with the reference's seed and check cells, ready to run (outputs cleared)."""
    nb = copy.deepcopy(submission)
    ref_ex = exercises(reference)
    by_id = {c.get("id"): i for i, c in enumerate(nb.cells) if c.get("id")}
    for cell in reference.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if "seed" in tags and cell.get("id") in by_id:
            nb.cells[by_id[cell["id"]]].source = cell.source
    for ex in ref_ex:
        check = reference.cells[ex.check]
        answer_id = reference.cells[ex.answer].get("id")
        if check.get("id") in by_id:
            nb.cells[by_id[check["id"]]].source = check.source
        elif answer_id in by_id:                 # the student deleted the check cell: put it back
            nb.cells.insert(by_id[answer_id] + 1, copy.deepcopy(check))
            by_id = {c.get("id"): i for i, c in enumerate(nb.cells) if c.get("id")}
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


async def _run(nb: nbformat.NotebookNode, folder: Path, student: str, timeout: int) -> float:
    """Execute ``nb`` in ``folder`` as ``student``; the seconds it took."""
    from nbclient import NotebookClient

    start = time.monotonic()
    env = {**os.environ, STUDENT_ENV: student}
    env.pop("JUPYTERHUB_USER", None)
    client = NotebookClient(nb, kernel_name="python3", timeout=timeout, allow_errors=True,
                            resources={"metadata": {"path": str(folder)}})
    with tempfile.TemporaryFile(mode="w+") as kernel_log:     # the kernel's own warnings are no grade
        await client.async_execute(env=env, stderr=kernel_log)
    return time.monotonic() - start


def _grade_one(student: str, path: Path, reference: nbformat.NotebookNode, ran: nbformat.NotebookNode,
               seconds: float) -> list[Row]:
    rows = []
    by_id = {c.get("id"): c for c in ran.cells if c.get("id")}
    for ex in exercises(reference):
        answer_id = reference.cells[ex.answer].get("id")
        check = by_id.get(reference.cells[ex.check].get("id"))
        if answer_id not in by_id:
            verdict, message = "missing", "no answer cell for this exercise in the submission"
        elif check is None:                                    # pragma: no cover - prepare() puts it back
            verdict, message = "missing", "no check cell"
        else:
            verdict, message = verdict_of(check)
        rows.append(Row(student, path.name, ex.label, verdict, ex.points if verdict == "right" else 0, ex.points,
                        message, round(seconds, 1)))
    return rows


def grade_dir(submissions: Path, chapters: Path, *, salt: str | None = None, jobs: int = 2, timeout: int = 600,
              log: Any = print) -> list[Row]:
    """Grade every chapter notebook under ``submissions/<student>/``; one row per exercise."""
    import nbformat

    reference = _reference(chapters, salt)
    work: list[tuple[str, Path]] = []
    for folder in sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.rglob("[0-9][0-9]_*.ipynb")):
            if ".ipynb_checkpoints" in path.parts:
                continue
            if path.name in reference:
                work.append((folder.name, path))
            else:
                log(f"  skipped {path}: no chapter of that name")
    if not work:
        raise FileNotFoundError(f"no submitted chapter notebooks under {submissions}/<student>/")

    async def one(student: str, path: Path, gate: asyncio.Semaphore) -> list[Row]:
        async with gate:
            try:
                sub = nbformat.read(path, as_version=4)
            except Exception as exc:  # noqa: BLE001 - a broken file is the student's, not the grader's
                return [Row(student, path.name, ex.label, "error", 0, ex.points, f"unreadable notebook: {exc}", 0.0)
                        for ex in exercises(reference[path.name])]
            nb = prepare(sub, reference[path.name])
            seconds = await _run(nb, path.parent, student, timeout)
            rows = _grade_one(student, path, reference[path.name], nb, seconds)
            right = sum(r.verdict == "right" for r in rows)
            log(f"  {student}/{path.name}: {right} of {len(rows)} right ({seconds:.1f} s)")
            return rows

    async def run_all() -> list[list[Row]]:
        gate = asyncio.Semaphore(max(1, jobs))
        return await asyncio.gather(*(one(s, p, gate) for s, p in work))

    return [row for rows in asyncio.run(run_all()) for row in rows]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memhotplug-workbook grade",
        description="Execute every submitted chapter notebook (SUBMISSIONS_DIR/<student>/.../NN_*.ipynb) with the "
                    "workbook's own check cells and write one CSV row per exercise.")
    parser.add_argument("submissions", type=Path, metavar="SUBMISSIONS_DIR")
    parser.add_argument("--csv", type=Path, required=True, metavar="OUT", help="CSV file to write")
    parser.add_argument("--salt", metavar="TEXT",
                        help="the --salt of a per-student edition (without it: the chapters' own seeds)")
    parser.add_argument("--chapters", type=Path, default=None, metavar="DIR",
                        help="the chapters folder (default: ./chapters, else the one beside the package)")
    parser.add_argument("--jobs", "-j", type=int, default=2, metavar="N", help="notebooks run at a time (default 2)")
    parser.add_argument("--timeout", type=int, default=600, metavar="S", help="seconds per cell (default 600)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """``memhotplug-workbook grade``: the exit code (1 when nothing could be graded)."""
    args = _parser().parse_args(argv)
    try:
        if args.chapters is None:
            from workbook.cli import find_chapters

            args.chapters = find_chapters(option="--chapters")
        print(f"grading {args.submissions} ...", flush=True)
        rows = grade_dir(args.submissions, args.chapters, salt=args.salt, jobs=args.jobs, timeout=args.timeout,
                         log=lambda line: print(line, flush=True))
    except (OSError, ValueError) as err:
        print(f"memhotplug-workbook grade: {err}", file=sys.stderr)
        return 1
    args.csv.parent.mkdir(parents=True, exist_ok=True)
    with args.csv.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, COLUMNS)
        writer.writeheader()
        writer.writerows(r.as_dict() for r in rows)
    totals: dict[str, list[int]] = {}
    for r in rows:
        t = totals.setdefault(r.student, [0, 0])
        t[0] += r.points
        t[1] += r.max_points
    for student, (got, of) in totals.items():
        print(f"{student}: {got} of {of} points")
    print(f"wrote {len(rows)} rows ({len(totals)} students) to {args.csv}")
    return 0
