"""The README states what the code does: its kernel table is workbook.kernel.CHANGES, verbatim."""
from __future__ import annotations

from pathlib import Path

from workbook.kernel import changes_markdown

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_kernel_versions_table_is_the_change_table():
    start = README.index("<!-- kernel-changes:begin -->\n") + len("<!-- kernel-changes:begin -->\n")
    end = README.index("<!-- kernel-changes:end -->")
    assert README[start:end] == changes_markdown()
