"""The exercises of a notebook: their heading, answer cell, check cell and points; and reading a verdict.

Shared by ``grade``, ``nbgrader`` and the instructor's guide, so that all three count the same
exercises.  In a chapter an exercise is a ``solution`` cell; in a student edition an ``answer``
cell; either way the check cell follows it and the nearest ``### Exercise N.M`` heading above
names it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbook.teaching.course import exercise_points

if TYPE_CHECKING:  # pragma: no cover
    import nbformat

__all__ = ["Exercise", "VERDICTS", "exercises", "verdict_of"]

_HEADING = re.compile(r"^#{1,6}\s+(Exercise\s+[0-9]+\.[0-9]+[^\n]*?)\s*$", re.MULTILINE)
#: What a check cell's output can say, worst first.
VERDICTS = ("error", "missing", "not answered", "wrong", "right")


@dataclass(frozen=True)
class Exercise:
    """One exercise of a notebook."""

    label: str          # "Exercise 1.4 (seeded)"
    answer: int         # index of the answer (or solution) cell
    check: int          # index of its check cell
    points: int

    @property
    def number(self) -> str:
        """``"1.4"``."""
        return self.label.split()[1]

    @property
    def grade_id(self) -> str:
        """An id nbgrader accepts: ``ex1_4``."""
        return "ex" + self.number.replace(".", "_")


def _tags(cell: nbformat.NotebookNode) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercises(nb: nbformat.NotebookNode) -> list[Exercise]:
    """Every exercise of ``nb`` in order (a chapter, a student edition or a submission)."""
    out: list[Exercise] = []
    label = ""
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown":
            found = _HEADING.findall(cell.source)
            if found:
                label = found[-1].strip()
            continue
        tags = _tags(cell)
        if cell.cell_type == "code" and ("solution" in tags or "answer" in tags):
            check = next((j for j in range(i + 1, len(nb.cells)) if nb.cells[j].cell_type == "code"
                          and ("check" in _tags(nb.cells[j]) or _is_check(nb.cells[j].source))), None)
            if check is None:
                raise ValueError(f"{label or 'an exercise'} (cell {i}) has no check cell after it")
            out.append(Exercise(label or f"Exercise ?.{len(out) + 1}", i, check, exercise_points(label)))
    return out


def _is_check(source: str) -> bool:
    from workbook.teaching.student import is_check_cell

    return is_check_cell(source)


def _text(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """What an executed cell printed (text/plain and streams), and its error if any."""
    parts, error = [], ""
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif out.get("output_type") in ("execute_result", "display_data"):
            parts.append(str(out.get("data", {}).get("text/plain", "")))
        elif out.get("output_type") == "error":
            error = f"{out.get('ename', 'Error')}: {out.get('evalue', '')}"
    return "".join(parts), error


def verdict_of(cell: nbformat.NotebookNode) -> tuple[str, str]:
    """The verdict an executed check cell shows (one of :data:`VERDICTS`) and its message."""
    text, error = _text(cell)
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("right:"):
            return "right", line[len("right:"):].strip()
        if line.startswith("not yet: not answered yet"):
            return "not answered", line[len("not yet:"):].strip()
        if line.startswith("not yet:"):
            return "wrong", line[len("not yet:"):].strip()
    if error:
        return "error", error
    return "error", "the check cell printed no verdict" + (f": {text.strip()[:200]}" if text.strip() else "")
