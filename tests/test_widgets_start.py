"""Chapter 00's widget driven in plain Python: controls in, model numbers and bokeh data out."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

import pytest
from ipywidgets import Dropdown, SelectionSlider
from jupyter_bokeh.widgets import BokehModel

from widgets.start import (HOT_ADD_SIZES, OVERVIEW, MemmapCost, block_size, captured_kernels, kernel_overview,
                           size_options)
from workbook.arch import ARCHES, GiB, KiB, MiB, get_arch
from workbook.captures import CAPTURES_DIR
from workbook.kernel import CHANGES, KERNELS


@pytest.fixture
def cost() -> MemmapCost:
    """A fresh widget at its defaults (x86_64, 12 GiB)."""
    return MemmapCost()


def test_default_is_the_12_gib_example(cost: MemmapCost) -> None:
    x86 = get_arch("x86_64")
    nr_pages = 12 * GiB // x86.page_size
    assert x86.memmap_bytes(nr_pages) == 192 * MiB == 12 * GiB // 64
    assert cost.source.data["mib"] == [12 * 1024, 192]
    assert cost.source.data["text"] == ["12 GiB", "192 MiB"]
    assert cost.fig.title.text == "x86_64: 12 GiB hot-added needs 192 MiB of memmap"
    assert "3,145,728 pages of 4 KiB" in cost.summary.value
    assert f"{x86.memmap_pages(nr_pages):,} pages" in cost.summary.value
    assert cost.per_block.value == "per 128 MiB memory block: 2 MiB of memmap = 512 pages"


def _bundle_models(plot: BokehModel) -> Iterator[dict[str, Any]]:
    """Every bokeh model in the widget's render bundle: what a browser view is built from on first display."""
    def walk(node: Any) -> Iterator[dict[str, Any]]:
        if isinstance(node, dict):
            if node.get("type") == "object":
                yield node
            for v in node.values():
                yield from walk(v)
        elif isinstance(node, list):
            for v in node:
                yield from walk(v)
    for doc in plot.render_bundle["docs_json"].values():
        yield from walk(doc)


def test_first_display_shows_the_real_numbers() -> None:
    """jupyter_bokeh takes the first view from the bundle made when the figure was wrapped: no placeholder bars."""
    cost = MemmapCost(arch="x86_64", size=12 * GiB)
    models = list(_bundle_models(cost.plot))
    titles = [m["attributes"].get("text") for m in models if m["name"] == "Title"]
    assert "x86_64: 12 GiB hot-added needs 192 MiB of memmap" in titles
    data = next(dict(m["attributes"]["data"]["entries"]) for m in models if m["name"] == "ColumnDataSource")
    assert data["mib"] == [12 * 1024, 192] and data["text"] == ["12 GiB", "192 MiB"]
    y_range = next(m["attributes"] for m in models if m["name"] == "Range1d")
    assert y_range["end"] == 12 * 1024 * 4


def test_redisplay_after_a_change_shows_the_change(cost: MemmapCost) -> None:
    cost.arch.value = "arm64-64k"
    cost._repr_mimebundle_()
    titles = [m["attributes"].get("text") for m in _bundle_models(cost.plot) if m["name"] == "Title"]
    assert titles == ["arm64-64k: 12 GiB hot-added needs 12 MiB of memmap"]


def test_view_is_made_of_real_widgets(cost: MemmapCost) -> None:
    assert isinstance(cost.arch, Dropdown) and isinstance(cost.size, SelectionSlider)
    assert isinstance(cost.plot, BokehModel)
    assert cost.plot in cost.view.children
    assert "application/vnd.jupyter.widget-view+json" in cost._repr_mimebundle_()


def test_slider_moves_the_bars(cost: MemmapCost) -> None:
    cost.size.value = 1 * GiB
    assert cost.source.data["mib"] == [1024, 16]
    assert cost.fig.title.text == "x86_64: 1 GiB hot-added needs 16 MiB of memmap"
    assert cost.fig.y_range.end == 4 * 1024
    cost.size.value = 64 * GiB
    assert cost.source.data["text"] == ["64 GiB", "1 GiB"]


def test_arch_switch_keeps_a_size_that_fits(cost: MemmapCost) -> None:
    cost.arch.value = "arm64-64k"
    arm = get_arch("arm64-64k")
    assert cost.size.value == 12 * GiB
    assert cost.source.data["mib"] == [12 * 1024, arm.memmap_bytes(12 * GiB // arm.page_size) / MiB] == [12288, 12]
    assert cost.fig.title.text == "arm64-64k: 12 GiB hot-added needs 12 MiB of memmap"
    assert cost.per_block.value == "per 512 MiB memory block: 512 KiB of memmap = 8 pages"
    assert cost.unit.value == "(whole 512 MiB memory blocks)"         # what the slider's steps are


def test_arch_switch_rounds_up_to_a_whole_block() -> None:
    cost = MemmapCost(size=128 * MiB)
    cost.arch.value = "arm64-64k"           # 512 MiB blocks: 128 MiB is no longer offered
    assert cost.size.value == 512 * MiB
    assert cost.source.data["mib"] == [512, 0.5]
    cost.arch.value = "s390x"               # 256 MiB sections: 512 MiB still fits
    assert cost.size.value == 512 * MiB
    assert cost.fig.title.text == "s390x: 512 MiB hot-added needs 8 MiB of memmap"


def test_block_sizes_follow_the_arch_profiles() -> None:
    assert block_size(get_arch("x86_64")) == 128 * MiB
    assert block_size(get_arch("arm64-64k")) == 512 * MiB
    assert block_size(get_arch("ppc64-radix-4k")) == 256 * MiB   # LMB size, not the 16 MiB section
    assert block_size(get_arch("s390x")) == 256 * MiB


@pytest.mark.parametrize("name", sorted(ARCHES))
def test_every_option_is_whole_blocks_in_range(name: str) -> None:
    arch = get_arch(name)
    values = [v for _, v in size_options(arch)]
    assert values and values == sorted(values)
    assert all(v % block_size(arch) == 0 and 128 * MiB <= v <= 64 * GiB for v in values)
    assert set(values) <= set(HOT_ADD_SIZES)


def test_plot_always_shows_the_model_numbers(cost: MemmapCost) -> None:
    """Every arch x every slider position, driven through the controls of one widget."""
    for name in ARCHES:
        cost.arch.value = name
        arch = get_arch(name)
        for label, size in cost.size.options:
            cost.size.value = size
            nr_pages = size // arch.page_size
            memmap = arch.memmap_bytes(nr_pages)
            assert cost.source.data["mib"] == [size / MiB, memmap / MiB]
            assert cost.source.data["text"][0] == label
            assert memmap * arch.page_size == size * arch.struct_page_size
            assert memmap >= 256 * KiB               # stays above the log axis floor of 0.1 MiB
            assert cost.fig.title.text.startswith(f"{name}: {label} hot-added needs ")
            assert f"{arch.memmap_pages(nr_pages):,} pages" in cost.summary.value


# --- the kernel overview (chapter 00's version table) -------------------------------------------------

def test_overview_names_only_changes_of_the_table() -> None:
    """Every entry is a start (or an end) of a change in workbook.kernel.CHANGES: the overview cannot drift."""
    events = {(c.switch, c.since) for c in CHANGES} | {(c.switch, c.until) for c in CHANGES if c.until}
    assert set(OVERVIEW) <= events
    for text, chapters in OVERVIEW.values():
        assert text and all(ch.isdigit() and len(ch) == 2 for ch in chapters.split(", "))


def _rows() -> dict[str, list[str]]:
    lines = kernel_overview().splitlines()
    assert lines[0].startswith("| kernel |") and lines[1].startswith("|---")
    return {cells[0].strip("* "): cells[1:] for cells in
            ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])}


def test_overview_runs_over_every_profile_from_before_the_feature() -> None:
    rows = _rows()
    assert list(rows) == list(KERNELS) and list(rows)[0] == "5.10" and list(rows)[-1] == "7.2"
    assert not KERNELS["5.10"].memmap_on_memory and rows["5.10"][0].startswith("no memmap-on-memory")
    assert rows["5.13"][0].startswith("memmap-on-memory merged")
    # a change lands in the first profile that has it, marked with its own release when that is earlier
    assert "(6.11) the memmap pages are no longer `PageReserved`" in rows["6.12"][0]
    assert "(5.14-5.19 only) switching on HVO" in rows["6.1"][0]  # came and went between 5.13 and 6.1
    assert "(6.17) offlining a block with an unmovable kernel page fails at once again" in rows["6.18"][0]
    assert "each block holds its own memmap" in rows["6.8"][0] and "(6.8)" not in rows["6.8"][0]


def test_overview_lists_the_shipped_captures() -> None:
    rows = _rows()
    # the DIMM captures, one folder per kernel (dax/ holds the kmem runs, which chapter 12 shows)
    shipped = sorted(p.name for p in CAPTURES_DIR.iterdir() if p.is_dir() and p.name != "dax")
    assert sorted(captured_kernels()) == shipped == ["5.10", "6.1", "6.12", "7.2"]
    assert {k: r[2] for k, r in rows.items() if r[2]} == {"5.10": "A, B", "6.1": "A-K", "6.12": "A-K", "7.2": "A, B"}


def test_chapter_00_shows_the_overview_as_written_from_the_table() -> None:
    """Chapter 00 holds the overview as Markdown (visible before running) and it is kernel_overview(), verbatim."""
    import nbformat

    from widgets.start import OVERVIEW_BEGIN, OVERVIEW_END

    path = Path(__file__).resolve().parent.parent / "chapters" / "00_start_here.ipynb"
    text = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown")
    assert text.count(OVERVIEW_BEGIN) == text.count(OVERVIEW_END) == 1
    held = text.split(OVERVIEW_BEGIN)[1].split(OVERVIEW_END)[0]
    assert held.strip() == kernel_overview().strip(), "paste widgets.start.kernel_overview() into chapter 00"
