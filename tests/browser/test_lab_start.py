"""Chapter 00 in real JupyterLab + Chromium: the widget renders offline and reacts to its controls."""
from __future__ import annotations

import pytest

from tests.browser.conftest import LabPage

pytestmark = pytest.mark.browser

BEFORE = "arm64-64k: 64 GiB hot-added needs 64 MiB of memmap"   # the chapter's own cells leave this
AFTER = "x86_64: 12 GiB hot-added needs 192 MiB of memmap"


def _title(lab: LabPage) -> list[str]:
    """Texts of every bokeh Title in the page."""
    return [t["text"] for t in lab.bokeh_models("Title")]


def test_chapter_00_widget(lab: LabPage) -> None:
    from playwright.sync_api import expect

    lab.open_notebook("00_start_here.ipynb")
    lab.run_all_cells()

    widget = lab.page.locator(".jp-OutputArea-output .widget-vbox").filter(has=lab.page.locator("canvas")).first
    widget.scroll_into_view_if_needed()
    expect(widget.locator("canvas").first).to_be_visible()
    dropdown, handle = widget.locator("select"), widget.locator(".noUi-handle")
    expect(dropdown).to_be_visible()
    expect(handle).to_be_visible()
    plot = widget.locator(".bk-Figure").first
    assert _title(lab) == [BEFORE]
    before = lab.screenshot("chapter00-widget-before", widget)
    plot_before = plot.screenshot()

    dropdown.select_option("x86_64")
    lab.page.wait_for_function("t => window.Bokeh.documents.some(d => [...d.all_models]"
                               ".some(m => m.type === 'Title' && m.text === t))",
                               arg="x86_64: 64 GiB hot-added needs 1 GiB of memmap")
    handle.focus()
    for _ in range(5):                                   # 64 -> 48 -> 32 -> 24 -> 16 -> 12 GiB
        handle.press("ArrowLeft")
    lab.page.wait_for_function("t => window.Bokeh.documents.some(d => [...d.all_models]"
                               ".some(m => m.type === 'Title' && m.text === t))", arg=AFTER)
    expect(widget.get_by_text("3,145,728 pages of 4 KiB", exact=False)).to_be_visible()
    expect(widget.get_by_text("per 128 MiB memory block: 2 MiB of memmap = 512 pages")).to_be_visible()
    data = lab.bokeh_models("ColumnDataSource")[0]["data"]
    assert data["mib"] == [12288, 192]
    assert data["text"] == ["12 GiB", "192 MiB"]
    assert _title(lab) == [AFTER]

    after = lab.screenshot("chapter00-widget-after", widget)
    assert plot.screenshot() != plot_before
    assert after != before
    lab.screenshot("chapter00-page")

    kernel_side = lab.kernel_exec("print(cost.arch.value, cost.size.value, cost.source.data['mib'], "
                                  "cost.fig.title.text, sep='|')")
    assert kernel_side.strip() == f"x86_64|{12 * 2**30}|[12288.0, 192.0]|{AFTER}"
    assert lab.blocked == []
