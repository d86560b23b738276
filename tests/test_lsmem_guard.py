"""lsmem is optional on a workstation, but under CI=true a missing lsmem fails the run."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import which_lsmem


def test_ci_has_lsmem() -> None:
    """Fails under CI=true without lsmem (the replay would skip its lsmem comparisons)."""
    path = which_lsmem()
    if path is None:
        pytest.skip("util-linux lsmem not installed: the replay leaves out the lsmem tables")
    assert Path(path).name == "lsmem"


@pytest.fixture
def no_lsmem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """A PATH on which no lsmem is found."""
    monkeypatch.setenv("PATH", str(tmp_path))
    return monkeypatch


def test_missing_lsmem_fails_under_ci(no_lsmem: pytest.MonkeyPatch) -> None:
    no_lsmem.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must compare the lsmem tables"):
        which_lsmem()


def test_missing_lsmem_is_none_elsewhere(no_lsmem: pytest.MonkeyPatch) -> None:
    no_lsmem.delenv("CI", raising=False)
    assert which_lsmem() is None


def test_lsmem_found_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "lsmem"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("CI", "true")
    assert which_lsmem() == str(fake)
