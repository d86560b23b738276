"""``memhotplug-workbook pdf``: chapters printed to PDF by Debian's Chromium from the offline site."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser.conftest import CHROMIUM, require_chromium
from workbook import cli

pytestmark = pytest.mark.browser


def test_pdf_of_two_chapters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_chromium()
    out = tmp_path / "paper"
    assert cli.main(["pdf", str(out), "--only", "00,01", "--no-execute", "--chromium", str(CHROMIUM)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["00_start_here.pdf", "01_pages_pfns_struct_page.pdf"]
    for pdf in out.iterdir():
        data = pdf.read_bytes()
        assert data.startswith(b"%PDF-")
        pages = len(re.findall(rb"/Type\s*/Page[^s]", data))
        assert pages >= 3, (pdf.name, pages)
        # the figures are on paper: Chromium prints a painted canvas as an image
        assert re.search(rb"/Subtype\s*/Image", data), pdf.name
    assert "wrote 2 PDF file(s)" in capsys.readouterr().out
