"""nbgrader's Execute preprocessor, run as the student whose submission it grades (imported by nbgrader_config.py).

``nbgrader autograde`` executes every submission in the grader's environment, where no
``JUPYTERHUB_USER`` says whose it is.  :class:`ExecuteAsStudent` sets ``MEMHOTPLUG_STUDENT`` to
nbgrader's student id while the kernel starts, so a per-student seed cell computes that
student's seed (:func:`workbook.teaching.seeds.course_seed`), the one they saw on JupyterHub.
This module imports nbgrader; the workbook itself never does.
"""
from __future__ import annotations

import os
from typing import Any

from nbgrader.converters.autograde import Autograde
from nbgrader.preprocessors import Execute

from workbook.teaching.seeds import STUDENT_ENV

__all__ = ["ExecuteAsStudent", "autograde_preprocessors"]


class ExecuteAsStudent(Execute):
    """nbgrader's Execute with ``MEMHOTPLUG_STUDENT`` = the submission's student id."""

    def preprocess(self, nb: Any, resources: Any, *args: Any, **kwargs: Any) -> Any:
        """Execute ``nb`` with the student named in the environment the kernel inherits."""
        student = resources.get("nbgrader", {}).get("student")
        saved = os.environ.get(STUDENT_ENV)
        if student:
            os.environ[STUDENT_ENV] = str(student)
        try:
            return super().preprocess(nb, resources, *args, **kwargs)
        finally:
            if saved is None:
                os.environ.pop(STUDENT_ENV, None)
            else:
                os.environ[STUDENT_ENV] = saved


def autograde_preprocessors() -> list[type]:
    """nbgrader's default autograde preprocessors with Execute replaced by :class:`ExecuteAsStudent`."""
    default = Autograde.class_traits()["autograde_preprocessors"].default()
    return [ExecuteAsStudent if pp is Execute else pp for pp in default]
