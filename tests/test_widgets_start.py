"""Chapter 00's widget driven in plain Python: controls in, model numbers and bokeh data out."""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from ipywidgets import Dropdown, SelectionSlider
from jupyter_bokeh.widgets import BokehModel

from widgets.start import HOT_ADD_SIZES, MemmapCost, block_size, size_options
from workbook.arch import ARCHES, GiB, KiB, MiB, get_arch


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
