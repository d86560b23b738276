"""Per-student seeds: each student's variants from their user name, a course salt and the chapter.

    SEED = course_seed("05", salt="os-2027")      # in a per-student edition's seed cell

:func:`student_seed` is a hash, so the same (salt, student, chapter) always gives the same
seed on any machine, and a student cannot guess a neighbour's seed without the salt.  The salt
is not a secret in a JupyterHub edition (the seed cells carry it), only different per course
and year, so that this year's answers are not last year's.  :func:`current_student` finds the
student: ``MEMHOTPLUG_STUDENT`` (set by ``memhotplug-workbook grade`` and by the nbgrader
preprocessor while they execute a submission), else ``JUPYTERHUB_USER`` (set in every JupyterHub
single-user server), else the login name.
"""
from __future__ import annotations

import csv
import getpass
import hashlib
import io
import os
import re
from pathlib import Path

__all__ = ["STUDENT_ENV", "course_seed", "current_student", "read_roster", "student_seed", "valid_name"]

#: The variable that names the student whose notebook runs (grading sets it).
STUDENT_ENV = "MEMHOTPLUG_STUDENT"
#: Seeds have six digits: short enough to read out, far more than a class.
SEED_RANGE = 1_000_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_HEADERS = ("username", "user", "login", "student_id", "student", "id", "name")


def valid_name(name: str) -> bool:
    """A roster name usable as a folder name and a JupyterHub user name."""
    return bool(_NAME.fullmatch(name))


def student_seed(student: str, salt: str, chapter: str = "") -> int:
    """The seed of ``student`` for ``chapter`` (e.g. ``"05"``, or ``"problems"``) in the course ``salt``."""
    digest = hashlib.sha256(f"memhotplug-workbook\0{salt}\0{student}\0{chapter}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % SEED_RANGE


def current_student() -> str:
    """Who is running this notebook: ``$MEMHOTPLUG_STUDENT``, ``$JUPYTERHUB_USER``, else the login name."""
    for var in (STUDENT_ENV, "JUPYTERHUB_USER"):
        name = os.environ.get(var, "").strip()
        if name:
            return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):          # no passwd entry (a container with an arbitrary uid)
        return "student"


def course_seed(chapter: str, salt: str) -> int:
    """The current student's seed for ``chapter``: what a per-student edition's seed cell calls."""
    student = current_student()
    seed = student_seed(student, salt, chapter)
    print(f"seed {seed} for {student} (course {salt!r}, chapter {chapter})")
    return seed


def read_roster(path: Path) -> list[str]:
    """Student names from ``path``: one per line, or a CSV file whose header names the user column.

    Blank lines and ``#`` comments are skipped; a name that cannot be a folder name, or a name
    given twice, is an error (raised as ValueError naming the line).
    """
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip() and
            not row[0].lstrip().startswith("#")]
    column = 0
    if rows:
        header = [cell.strip().lower() for cell in rows[0]]
        known = [h for h in _HEADERS if h in header]
        if known:
            column = header.index(known[0])
            rows = rows[1:]
        elif len(header) > 1 and not valid_name(rows[0][0].strip()):
            raise ValueError(f"{path}: a CSV roster needs a header with one of {', '.join(_HEADERS)}")
    names: list[str] = []
    for number, row in enumerate(rows, 1):
        name = row[column].strip() if column < len(row) else ""
        if not valid_name(name):
            raise ValueError(f"{path}: {name!r} (entry {number}) is no user name: letters, digits and ._@+- only")
        if name in names:
            raise ValueError(f"{path}: {name!r} is listed twice")
        names.append(name)
    if not names:
        raise ValueError(f"{path}: no student names")
    return names
