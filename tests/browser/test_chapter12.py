"""Chapter 12 in real JupyterLab + Chromium: load kmem from the control panel, online both blocks, see 512 + 512.

After Run All the chapter's workbench holds a 6.12 machine whose dax0.0 has no driver yet (the chapter's cell
loaded device_dax and dax_hmem and wrote memmap_on_memory=1; the module dropdown says kmem). The test clicks
``modprobe`` (kmem binds dax0.0 and hot-adds memory32 and memory33, offline), then ``echo > state`` for each
block (the state dropdown says online_movable), and checks in the page: the dax device view names kmem as the
driver and shows System RAM (kmem) inside dax0.0 inside Soft Reserved, memory tier 22 appears, and its two page
maps, one per block of the device, each count 512 self-hosted memmap pfns, in their stats and in the shared legend.
"""
from __future__ import annotations

import pytest

from tests.browser.conftest import LabPage

pytestmark = pytest.mark.browser


def test_chapter_12_kmem_and_a_page_map_per_block(lab: LabPage) -> None:
    from playwright.sync_api import expect

    page = lab.page
    lab.open_notebook("12_cxl_memory_and_dax_kmem.ipynb")
    lab.run_all_cells()

    # the workbench: the output that holds the modprobe button and the dax device view
    bench = (page.locator(".jp-OutputArea-output .widget-vbox")
             .filter(has=page.locator("button", has_text="modprobe"))
             .filter(has=page.locator(".dax-device-view")).first)
    bench.scroll_into_view_if_needed()
    view = bench.locator(".dax-device-view")
    expect(view).to_have_attribute("data-driver", "", timeout=30_000)
    expect(bench.locator("select").filter(has_text="kmem").first).to_have_value("kmem")
    before = lab.screenshot("chapter12-device-before", view)

    # modprobe kmem: it binds dax0.0 at once (6.3+) and hot-adds two offline blocks
    bench.locator("button", has_text="modprobe").click()
    expect(view).to_have_attribute("data-driver", "kmem", timeout=30_000)
    expect(bench.locator(".action-record pre.command")).to_contain_text("modprobe kmem")
    expect(view.locator("pre.iomem")).to_contain_text("System RAM (kmem)")
    maps = (bench.locator(".widget-vbox").filter(has=page.locator(".dax-device-view"))
            .filter(has=page.locator(".dax-legend")).last)
    stats = maps.locator(".pagemap-stats")
    expect(stats).to_have_count(2, timeout=30_000)
    expect(stats.nth(0)).to_have_attribute("data-block", "32")
    expect(stats.nth(1)).to_have_attribute("data-block", "33")
    expect(stats.nth(0)).to_have_attribute("data-selfhosted", "0")          # offline: no struct page to show

    # online both blocks movable from the memory-block row
    picker = bench.locator(".widget-hbox").filter(has=page.locator("button", has_text="echo > state")).locator(
        "select").first
    for block in ("32", "33"):
        picker.select_option(label=f"memory{block} (offline)")
        bench.locator("button", has_text="echo > state").click()
        expect(bench.locator(".action-record")).to_contain_text(f"memory{block} is online in zone Movable",
                                                                timeout=30_000)
    for i in range(2):
        expect(stats.nth(i)).to_have_attribute("data-selfhosted", "512", timeout=30_000)
        expect(stats.nth(i)).to_contain_text("32,768 pfns; vmemmap pages: 512; free: 32,256")
    row = maps.locator(".dax-legend tr[data-key='selfhosted'] td[data-count]")
    expect(row).to_have_count(2)
    for i in range(2):
        expect(row.nth(i)).to_have_attribute("data-count", "512")
    expect(view.locator("pre.tiers")).to_contain_text("memory_tier22 nodelist=1")
    maps.scroll_into_view_if_needed()
    page.wait_for_timeout(500)                                               # let the canvases paint
    after = lab.screenshot("chapter12-pagemaps-online", maps)
    assert after != before

    kernel_side = lab.kernel_exec("print(bench.dax_view.selfhosted(), bench.dax_view.blocks(), "
                                  "bench_machine.nodes[1].zones[3].managed_pages, sep='|')")
    assert kernel_side.strip() == "[512, 512]|[32, 33]|64512"
    assert lab.blocked == []
