"""The workbook's check cells as autograder tests (nbgrader): show the verdict, fail unless it is right."""
from __future__ import annotations

from workbook.problems import Verdict

__all__ = ["require_right"]


def require_right(verdict: Verdict) -> None:
    """Print ``verdict`` (``right: ...`` or ``not yet: ...`` and the rule); raise AssertionError unless it is right.

    The print is what the student reads; the exception is what nbgrader counts.  Nothing is
    returned: nbgrader would read a cell's value as partial credit.
    """
    print(repr(verdict))
    if not verdict.ok:
        raise AssertionError(verdict.message)
