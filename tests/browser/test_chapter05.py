"""Chapter 05 in real JupyterLab + Chromium: click hot-add and online, see 512 self-hosted pfns and new counters.

After Run All the chapter's workbench holds one online block (memory32, added and onlined by the
chapter's own cell).  The test then clicks the control panel's ``device_add`` (a second 128 MiB DIMM
arrives as memory33, offline) and ``echo > state`` (``online_movable``, the panel's default), and
checks in the page: the page map's stats and legend say 512 self-hosted memmap pfns for memory33, the
counters' bokeh data source has node 1 Movable managed = 2 x 32,256, the counters' text says so too,
and the chart looks different.
"""
from __future__ import annotations

import pytest

from tests.browser.conftest import LabPage

pytestmark = pytest.mark.browser

#: node 1 Movable managed pages, from the counters' ColumnDataSource in window.Bokeh.documents
_MANAGED = """() => {
    if (!window.Bokeh || !window.Bokeh.documents) return null;
    for (const doc of window.Bokeh.documents)
        for (const m of doc.all_models) {
            if (m.type !== 'ColumnDataSource') continue;
            const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
            if (!d || !d.metric || !d.x) continue;
            const xs = Array.from(d.x), pages = Array.from(d.pages);
            for (let i = 0; i < xs.length; i++)
                if (xs[i][0] === 'node1 Movable' && xs[i][1] === 'managed') return pages[i];
        }
    return null;
}"""


def test_chapter_05_hot_add_and_online_in_the_page(lab: LabPage) -> None:
    from playwright.sync_api import expect

    page = lab.page
    lab.open_notebook("05_memmap_on_memory.ipynb")
    lab.run_all_cells()

    # the workbench: the output that holds the control panel's buttons and the page map
    bench = (page.locator(".jp-OutputArea-output .widget-vbox")
             .filter(has=page.locator("button", has_text="device_add"))
             .filter(has=page.locator(".pagemap-stats")).first)
    bench.scroll_into_view_if_needed()
    stats = bench.locator(".pagemap-stats")
    expect(stats).to_have_attribute("data-block", "32", timeout=30_000)   # the chapter's own cell
    expect(stats).to_have_attribute("data-selfhosted", "512")
    assert page.evaluate(_MANAGED) == 32256

    counters = (bench.locator(".widget-vbox").filter(has=page.locator(".widget-toggle-buttons"))
                .filter(has=page.locator("pre.numactl")).last)
    chart = counters.locator(".bk-Figure").first
    expect(chart).to_be_visible()
    expect(counters.locator("pre.numactl")).to_contain_text("node 1 size: 126 MB")
    chart_before = lab.screenshot("chapter05-counters-before", chart)
    page_map = bench.locator(".widget-hbox").filter(has=page.locator(".pagemap-legend")).last

    # click device_add: dimm2 -> memory33, offline; the page map follows the new block
    bench.locator("button", has_text="device_add").click()
    expect(stats).to_have_attribute("data-block", "33", timeout=30_000)
    expect(stats).to_have_attribute("data-selfhosted", "0")
    expect(bench.locator(".pagemap-legend tr[data-key='offline']")).to_have_attribute("data-count", "32768")
    page_map.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    offline_png = lab.screenshot("chapter05-pagemap-offline", page_map)
    expect(bench.locator(".action-record pre.command")).to_contain_text("device_add pc-dimm,id=dimm2")

    # click echo > state (the state dropdown still says online_movable)
    expect(bench.locator("select").filter(has_text="online_movable").first).to_have_value("online_movable")
    bench.locator("button", has_text="echo > state").click()
    expect(stats).to_have_attribute("data-selfhosted", "512", timeout=30_000)
    expect(stats).to_contain_text("memory33: 32,768 pfns; vmemmap pages: 512; free: 32,256")
    expect(bench.locator(".pagemap-legend tr[data-key='selfhosted']")).to_have_attribute("data-count", "512")
    expect(bench.locator(".action-record")).to_contain_text("memory33 is online in zone Movable")
    expect(bench.locator(".altmap")).to_contain_text("0x108200")              # buddy starts after 512 pfns
    picker = bench.locator(".widget-hbox").filter(has=page.locator(".pagemap-stats")).locator("select")
    expect(picker.locator("option:checked")).to_have_text("memory33 (online)")  # no stale "(offline)" label
    page_map.scroll_into_view_if_needed()
    page.wait_for_timeout(500)                                                 # let the canvas repaint
    assert lab.screenshot("chapter05-pagemap-online", page_map) != offline_png

    # the counters: bokeh data, text, and the chart itself
    page.wait_for_function(f"() => ({_MANAGED})() === {2 * 32256}", timeout=30_000)
    expect(counters.locator("pre.numactl")).to_contain_text("node 1 size: 252 MB")
    expect(counters.locator("pre.zoneinfo")).to_contain_text("managed  64512")
    expect(counters.locator("pre.zoneinfo")).to_contain_text("present  65536")
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    chart_after = lab.screenshot("chapter05-counters-after", chart)
    assert chart_after != chart_before

    kernel_side = lab.kernel_exec("print(sorted(b for b in m.blocks if b >= 32), wb.page_map.block_id, "
                                  "wb.page_map.counts()['selfhosted'], sep='|')")
    assert kernel_side.strip() == "[32, 33]|33|512"
    assert lab.blocked == []
