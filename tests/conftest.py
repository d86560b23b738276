"""Shared test set-up: hypothesis profiles ("ci" by default, "long" via HYPOTHESIS_PROFILE=long),
and the ``lsmem`` fixture: util-linux's lsmem, which CI must have."""
from __future__ import annotations

import os
import shutil

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=20_000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def which_lsmem() -> str | None:
    """The path of util-linux's lsmem; None without it, except under CI=true where that fails the test.

    The replay compares the model's ``lsmem`` tables with the captured ones only when lsmem is
    there; CI must not pass with those comparisons silently left out (``./dev test`` installs it).
    """
    path = shutil.which("lsmem")
    if path is None and os.environ.get("CI", "").lower() == "true":
        pytest.fail("lsmem is missing (apt-get install util-linux): CI must compare the lsmem tables",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def lsmem() -> str | None:
    """util-linux's lsmem for the replay tests (see :func:`which_lsmem`)."""
    return which_lsmem()
