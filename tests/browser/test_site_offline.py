"""The static site in Chromium with every other host blocked: chapter 05's page map renders from local files.

The site is built from chapter 05 alone (executed, so its stored bokeh figure is the final one),
served by ``http.server`` on 127.0.0.1, and opened from its index.  Every request to any other
host is aborted and recorded; the test fails on any such request, on a local 404, and on any
page error.  The page map must show memory32 with 512 self-hosted pfns: in its stats line, in
the figure's title (from ``window.Bokeh.documents``), on the canvas itself, whose first row is
the self-hosted vermillion (hatched) and the rest the pale blue of free order-10 blocks, and in
its text alternative (role="img" with the figure's summary as aria-label, set by static/site.js).
"""
from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.conftest import OUTPUT, ROOT, TITLES_JS, count_pixels, offline_page, require_chromium, serve_folder
from workbook.teaching import site

pytestmark = pytest.mark.browser

CHAPTER = "05_memmap_on_memory"
SELFHOSTED_RED = (0xD5, 0x5E, 0x00)     # widgets/palette.py PAGEMAP["selfhosted"]: Okabe-Ito vermillion
FREE_ORDER_10 = (0xC6, 0xDB, 0xEF)      # palette.FREE_LARGE: the lightest free shade
BOOT_BROWN = (0x5A, 0x3E, 0x1B)         # what the first-displayed figure (memory0, boot memory) shows

@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A site of chapter 05 (executed), served on 127.0.0.1; its base URL."""
    require_chromium()
    base = tmp_path_factory.mktemp("site-offline")
    chapters = base / "chapters"
    chapters.mkdir()
    shutil.copy2(ROOT / "chapters" / f"{CHAPTER}.ipynb", chapters)
    out = base / "site"
    built = site.build_site(out, chapters, log=lambda line: None)
    assert [p.html for p in built.pages] == [f"{CHAPTER}.html"]
    with serve_folder(out) as url:
        yield url


def test_chapter_05_page_map_renders_offline(served_site: str, browser: Any) -> None:
    from playwright.sync_api import expect

    missing: list[str] = []
    with offline_page(browser) as off:
        page = off.page
        page.on("response", lambda r: missing.append(f"{r.status} {r.url}") if r.status >= 400 else None)
        page.goto(f"{served_site}/index.html")
        link = page.locator(f"a[href='{CHAPTER}.html']")
        expect(link).to_have_text("05 · Memmap on memory")
        link.click()
        page.wait_for_url(f"**/{CHAPTER}.html")

        # the workbench's page map: stats line, legend, figure (the widgets come from the stored state)
        bench = (page.locator(".widget-vbox").filter(has=page.locator("button", has_text="device_add"))
                 .filter(has=page.locator(".pagemap-stats")).first)
        stats = bench.locator(".pagemap-stats")
        expect(stats).to_have_attribute("data-block", "32")
        expect(stats).to_have_attribute("data-selfhosted", "512")
        expect(stats).to_contain_text("memory32: 32,768 pfns; vmemmap pages: 512; free: 32,256")
        expect(bench.locator(".pagemap-legend tr[data-key='selfhosted']")).to_have_attribute("data-count", "512")
        page_map = bench.locator(".widget-hbox").filter(has=page.locator(".pagemap-legend")).last
        figure = page_map.locator(".bk-Figure").first
        expect(figure).to_be_visible()
        expect(figure.locator("canvas").first).to_be_attached()
        page.wait_for_function(f"() => ({TITLES_JS})().some(t => t.startsWith('memory32: node 1, online, Movable'))")
        titles = page.evaluate(TITLES_JS)
        assert not any(t.startswith("memory0:") for t in titles), titles

        page_map.scroll_into_view_if_needed()
        page.wait_for_timeout(500)                          # let the canvas paint
        OUTPUT.mkdir(exist_ok=True)
        page_map.screenshot(path=str(OUTPUT / "site-chapter05-pagemap.png"))
        canvas_png = figure.screenshot()
        red, green, brown = (count_pixels(canvas_png, c) for c in (SELFHOSTED_RED, FREE_ORDER_10, BOOT_BROWN))
        assert red > 500, f"no self-hosted row on the canvas ({red} red pixels)"
        assert green > 20 * red, f"the free pages are missing ({green} green vs {red} red pixels)"
        assert brown == 0, "the canvas shows boot memory: the figure as first displayed, not its final state"
        # the figure's text alternative: its summary, as the plot's aria-label
        alt = page.locator("[role='img'][aria-label^='Page map of memory32']")
        expect(alt.first).to_be_attached()
        assert "self-hosted memmap" in alt.first.get_attribute("aria-label")
    assert missing == [], f"local files missing: {missing}"
