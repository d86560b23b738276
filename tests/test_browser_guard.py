"""The browser test skips without chromium on a workstation, and fails instead under CI=true."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser import conftest as browser_conftest


@pytest.fixture
def no_chromium(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Point the browser fixtures at a chromium that does not exist."""
    monkeypatch.setattr(browser_conftest, "CHROMIUM", tmp_path / "no-chromium")
    return monkeypatch


def test_fails_under_ci(no_chromium: pytest.MonkeyPatch) -> None:
    no_chromium.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI must run the browser test"):
        browser_conftest.require_chromium()


def test_skips_elsewhere(no_chromium: pytest.MonkeyPatch) -> None:
    no_chromium.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="is missing"):
        browser_conftest.require_chromium()


def test_chromium_flags_keep_the_browser_offline() -> None:
    assert "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1" in browser_conftest.CHROMIUM_ARGS
    assert browser_conftest._is_loopback("http://127.0.0.1:8888/lab")
    assert browser_conftest._is_loopback("data:image/png;base64,AAAA")
    assert not browser_conftest._is_loopback("https://cdn.bokeh.org/bokeh/release/bokeh-3.9.2.min.js")
