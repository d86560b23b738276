"""The vmemmap view and the memmap timeline in real JupyterLab + Chromium, from a scratch notebook.

No chapter uses the views yet, so the test writes a small notebook into the served (temporary)
folder: a VmemmapView of its own machine with 2 GiB blocks, one 2 GiB DIMM hot-added and onlined
movable from Python, and a MemmapTimeline.  Then it clicks: memmap_on_memory=0 (the machine reboots
and replays the DIMM: the 16 PMDs are now backed by node 0), offline + device_del (the block and
its mappings are gone), the arch dropdown (arm64 with 16K pages: the model refuses memmap on memory
and the memmap is mapped with base pages), and the timeline's step button and kernel dropdown.
Each time it checks the view's data attributes and the figure's ColumnDataSource in
window.Bokeh.documents, and saves a screenshot in test-output/.

A second test builds the static site from a scratch chapter that shows the view, then changes it
(as chapter 05 does with its page map), and checks in Chromium, with every other host blocked, that
the page shows the final figure, not the first-displayed one.
"""
from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import (OUTPUT, TITLES_JS, LabPage, count_pixels, offline_page, require_chromium,
                                    serve_folder)

pytestmark = pytest.mark.browser

NOTEBOOK = "vmemmap_scratch.ipynb"
CELLS = [
    "from widgets import MemmapTimeline, VmemmapView, load_bokeh\n\nload_bokeh()",
    "view = VmemmapView(block_size=2 << 30)\n"
    "view.controls.hot_add(2 << 30, 1, 'dimm1')\n"
    "view.controls.set_state(2, 'online_movable')\n"
    "view",
    "timeline = MemmapTimeline('6.12')\ntimeline",
]

#: the backing of every mapping -> physical link in the window figure (the source with a 'backing' column
#: and x0/x1 columns), from window.Bokeh.documents
_LINKS = """() => {
    if (!window.Bokeh || !window.Bokeh.documents) return null;
    for (const doc of window.Bokeh.documents)
        for (const m of doc.all_models) {
            if (m.type !== 'ColumnDataSource') continue;
            const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
            if (d && d.backing && d.x0 && d.x1) return Array.from(d.backing);
        }
    return null;
}"""
#: the 'key' column of the vmemmap band's source (one per mapping, or 'unmapped' per absent section)
_VKEYS = """() => {
    for (const doc of window.Bokeh.documents)
        for (const m of doc.all_models) {
            if (m.type !== 'ColumnDataSource') continue;
            const d = m.data instanceof Map ? Object.fromEntries(m.data) : m.data;
            if (d && d.key && d.vaddr) return Array.from(d.key);
        }
    return null;
}"""


def _write_notebook(lab: LabPage) -> None:
    nb = {"cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
                     "source": src} for i, src in enumerate(CELLS)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (lab.server.root / NOTEBOOK).write_text(json.dumps(nb))


def _dropdown(view: Any, label: str) -> Any:
    """The <select> of the ipywidgets Dropdown whose description is exactly ``label``."""
    return (view.locator(".widget-dropdown")
            .filter(has=view.page.locator("label", has_text=re.compile(f"^{re.escape(label)}$"))).first
            .locator("select"))


def _kernel_true(lab: LabPage, expr: str, timeout: float = 30) -> None:
    """Wait until ``expr`` is true in the notebook's kernel (a widget's new value has arrived there)."""
    deadline = time.monotonic() + timeout
    while lab.kernel_exec(f"print(bool({expr}))").strip() != "True":
        assert time.monotonic() < deadline, f"not true in the kernel after {timeout} s: {expr}"
        lab.page.wait_for_timeout(200)


def _count(keys: list[str] | None, key: str) -> int:
    return sum(1 for k in keys or [] if k == key)


def test_vmemmap_view_and_timeline(lab: LabPage) -> None:
    from playwright.sync_api import expect

    page = lab.page
    _write_notebook(lab)
    lab.open_notebook(NOTEBOOK)
    lab.run_all_cells()

    view = (page.locator(".jp-OutputArea-output .widget-vbox")
            .filter(has=page.locator(".vmemmap-stats")).first)
    stats = view.locator(".vmemmap-stats")
    expect(stats).to_have_attribute("data-block", "2", timeout=30_000)
    expect(stats).to_have_attribute("data-mappings", "16")          # 2 GiB = 16 sections, 1 PMD each
    expect(stats).to_have_attribute("data-altmap", "16")
    expect(stats).to_have_attribute("data-huge", "1")
    expect(view.locator(".vmemmap-policy")).to_have_attribute("data-supported", "1")
    expect(view.locator(".vmemmap-legend tr[data-key='altmap']")).to_have_attribute("data-count", "16")
    page.wait_for_function(f"() => ({_LINKS})() !== null")
    links = page.evaluate(_LINKS)
    assert _count(links, "altmap") == 16
    figure = view.locator(".bk-Figure").last
    figure.scroll_into_view_if_needed()
    expect(figure.locator("canvas").first).to_be_visible()
    page.wait_for_timeout(500)
    on_png = lab.screenshot("vmemmap-2gib-memmap-on", view)

    # memmap_on_memory=0: the machine reboots and replays the DIMM; node 0 now backs the 16 PMDs
    view.locator("button", has_text="memmap_on_memory=0").click()
    expect(stats).to_have_attribute("data-altmap", "0", timeout=30_000)
    expect(stats).to_have_attribute("data-node", "16")
    expect(stats).to_have_attribute("data-mappings", "16")
    expect(view.locator(".vmemmap-policy")).to_have_attribute("data-supported", "0")
    expect(view.locator(".reboot")).to_contain_text("replayed 2 action(s)")
    page.wait_for_function(f"() => {{ const l = ({_LINKS})(); return l && !l.includes('altmap'); }}")
    assert _count(page.evaluate(_LINKS), "node") == 16
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    assert lab.screenshot("vmemmap-2gib-memmap-off", view) != on_png

    # offline, then device_del through the control panel: the block and its 16 mappings are gone
    _dropdown(view, "state").select_option("offline")
    _kernel_true(lab, "view.controls.state.value == 'offline'")
    view.locator("button", has_text="echo > state").click()
    expect(view.locator(".action-record")).to_contain_text("memory2 is offline")
    view.locator("button", has_text="device_del").click()
    expect(stats).to_have_attribute("data-present", "0", timeout=30_000)
    expect(stats).to_have_attribute("data-mappings", "0")
    page.wait_for_function(f"() => {{ const k = ({_VKEYS})(); return k && k.filter(x => x === 'unmapped')"
                           f".length === 16; }}")
    page.wait_for_function(f"() => {{ const l = ({_LINKS})(); return l && !l.includes('node'); }}")

    # arm64 with 16K pages and its own block size (a new, empty machine): memmap on memory refused, and the
    # memmap mapped with base pages
    # (each change reboots the machine; wait for it before the next click: ipywidgets orders the
    # messages of one widget, not of several)
    policy = view.locator(".vmemmap-policy")
    _dropdown(view, "block size").select_option(label="the arch's own")
    expect(policy).to_contain_text("x86_64, 128 MiB blocks", timeout=30_000)
    _dropdown(view, "arch").select_option("arm64-16k")
    expect(policy).to_contain_text("arm64-16k, 128 MiB blocks", timeout=30_000)
    view.locator("button", has_text="memmap_on_memory=1").click()
    expect(policy).to_contain_text("memory_hotplug.memmap_on_memory=Y", timeout=30_000)
    expect(policy).to_have_attribute("data-supported", "0")
    expect(policy).to_contain_text("32 base pages (PTEs) of 16 KiB")
    view.locator("button", has_text="device_add").click()
    expect(stats).to_have_attribute("data-huge", "0", timeout=30_000)
    expect(stats).to_have_attribute("data-mappings", "32")          # 512 KiB of struct pages in 16 KiB pages
    expect(stats).to_have_attribute("data-node", "32")
    page.wait_for_function(f"() => {{ const k = ({_VKEYS})(); return k && k.filter(x => x === 'node')"
                           f".length === 32; }}")
    figure.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    lab.screenshot("vmemmap-arm64-16k", view)

    # the timeline: step forward to online (6.12: OWNER_PRIVATE), then 6.1 (RESERVED|OWNER_PRIVATE)
    timeline = page.locator(".jp-OutputArea-output .widget-vbox").filter(has=page.locator(".memmap-timeline")).first
    timeline.scroll_into_view_if_needed()
    pic = timeline.locator(".memmap-timeline")
    expect(pic).to_have_attribute("data-stage", "hot-add")
    timeline.locator("button", has_text="next").click()
    expect(pic).to_have_attribute("data-stage", "online", timeout=30_000)
    expect(pic).to_have_attribute("data-kpageflags", "0x2000000000")
    _dropdown(timeline, "kernel").select_option("6.1")
    expect(pic).to_have_attribute("data-kpageflags", "0x2100000000", timeout=30_000)
    expect(timeline.locator(".memmap-timeline-row")).to_contain_text("PageReserved + PageVmemmapSelfHosted")
    lab.screenshot("memmap-timeline-6.1-online", timeline)

    kernel_side = lab.kernel_exec("print(view.m.arch.name, view.block_id, view.counts()['node'], "
                                  "timeline.row.kpageflags_names, sep=';')")
    assert kernel_side.strip().split(";") == ["arm64-16k", "32", "32", "RESERVED|OWNER_PRIVATE"]
    assert lab.blocked == []


# ----------------------------------------------------------------------------------------------
# the static site: the stored figure is the final one
# ----------------------------------------------------------------------------------------------
SITE_CHAPTER = "03_vmemmap_scratch"
SITE_CELLS = [
    "from widgets import MemmapTimeline, VmemmapView, load_bokeh\n\nload_bokeh()",
    "view = VmemmapView(block_size=2 << 30)\nview",                   # displayed before any DIMM ...
    "view.controls.hot_add(2 << 30, 1, 'dimm1')\nview.controls.set_state(2, 'online_movable')",  # ... then changed
    "timeline = MemmapTimeline('6.12', stage='online')\ntimeline",
]
VERMILLION = (0xD5, 0x5E, 0x00)        # widgets/vmemmap.py BACKING_COLORS[ALTMAP]
@pytest.fixture(scope="module")
def vmemmap_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A site of one scratch chapter that shows the views (executed), served on 127.0.0.1; its base URL."""
    from workbook.teaching import site

    require_chromium()
    base = tmp_path_factory.mktemp("vmemmap-site")
    chapters = base / "chapters"
    chapters.mkdir()
    nb = {"cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# 03 · vmemmap scratch"}]
          + [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {}, "outputs": [],
              "source": src} for i, src in enumerate(SITE_CELLS)],
          "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
          "nbformat": 4, "nbformat_minor": 5}
    (chapters / f"{SITE_CHAPTER}.ipynb").write_text(json.dumps(nb))
    out = base / "site"
    site.build_site(out, chapters, log=lambda line: None)
    with serve_folder(out) as url:
        yield url


def test_the_views_render_on_the_static_site_in_their_final_state(vmemmap_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    with offline_page(browser) as off:
        page = off.page
        page.goto(f"{vmemmap_site}/{SITE_CHAPTER}.html")
        stats = page.locator(".vmemmap-stats")
        expect(stats).to_have_attribute("data-block", "2")
        expect(stats).to_have_attribute("data-altmap", "16")
        page.wait_for_function(f"() => ({TITLES_JS})().some(t => t.startsWith('vmemmap of 18 sections around "
                               "memory2'))")
        assert not any("memory0" in t for t in page.evaluate(TITLES_JS))        # not the first-displayed figure
        view = page.locator(".widget-vbox").filter(has=page.locator(".vmemmap-stats")).first
        figure = view.locator(".bk-Figure").last
        expect(figure.locator("canvas").first).to_be_attached()
        figure.scroll_into_view_if_needed()
        page.wait_for_timeout(500)
        canvas = figure.screenshot()
        assert count_pixels(canvas, VERMILLION) > 16 * 200, "the 16 self-hosted PMDs are not on the canvas"
        OUTPUT.mkdir(exist_ok=True)
        view.screenshot(path=str(OUTPUT / "site-vmemmap-2gib.png"))
        expect(page.locator(".memmap-timeline")).to_have_attribute("data-stage", "online")
        expect(page.locator(".memmap-timeline-row tr[data-field='kpageflags']")).to_have_attribute(
            "data-value", "OWNER_PRIVATE (0x2000000000)")

