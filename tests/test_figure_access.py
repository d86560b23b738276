"""Figures anyone can read: a text summary under every figure, and the hover's information without a mouse."""
from __future__ import annotations

import pytest

from widgets._common import make_machine
from widgets.blockmap import BlockMapView
from widgets.counters import CountersView
from widgets.pagemap import PageMapView
from widgets.start import MemmapCost
from widgets.walker import WalkerAnimation
from workbook.arch import GiB, MiB
from workbook.machine import Machine
from workbook.pagemap import kpf_names

MEM = "/sys/devices/system/memory"


@pytest.fixture()
def online() -> Machine:
    m = make_machine("6.1")
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{MEM}/memory32/state", "online_movable")
    m.start_workload(1, 16 * MiB)
    return m


def test_page_map_summary_says_what_the_figure_shows(online: Machine) -> None:
    pv = PageMapView(online, 32)
    text = pv.describe()
    assert "Page map of memory32 (Linux 6.1, node 1, online, Movable)" in text
    assert "The first 512 pfns (2 MiB) are the block's self-hosted memmap, hatched: PageReserved" in text
    c = pv.counts()
    assert f"{c['movable']:,} movable" in text and f"{c['free']:,} free (buddy)" in text
    assert "class='figure-summary'" in pv.summary.value and "Figure:</b> Page map of memory32" in pv.summary.value
    assert pv.summary in pv.widget.children                      # under the figure, part of the view


def test_page_map_inspector_gives_what_the_hover_gives(online: Machine) -> None:
    pv = PageMapView(online, 32)
    b = online.blocks[32]
    for offset in (0, 511, 512, b.nr_pages - 1):
        pv.inspect.value = offset
        pfn = b.start_pfn + offset
        word = int(online.kpageflags(pfn, 1)[0])
        text = pv.inspected.value
        assert f"pfn {pfn:#x} (+{offset})" in text and f"phys {pfn << 12:#x}" in text
        assert kpf_names(word) in text and f"({word:#x})" in text
    pv.inspect.value = 3
    assert "self-hosted memmap" in pv.inspected.value
    assert pv.inspect.max == b.nr_pages - 1
    # the hover's labels for the memmap's code say the same thing
    hover = pv.hover_fmt.args["labels"]
    assert any("VmemmapSelfHosted" in label or "self-hosted" in label.lower() for label in hover)


def test_legend_hatches_the_memmap_swatch(online: Machine) -> None:
    legend = PageMapView(online, 32).legend.value
    row = legend.split("data-key='selfhosted'")[1].split("</tr>")[0]
    assert "repeating-linear-gradient" in row
    free = legend.split("data-key='free'")[1].split("</tr>")[0]
    assert "repeating-linear-gradient" not in free


def test_block_map_summary_and_keyboard_selection(online: Machine) -> None:
    pv = PageMapView(online, 0)
    bm = BlockMapView(online, page_map=pv)
    assert "Block map: 9 memory blocks of 128 MiB (Linux 6.1)" in bm.summary.value
    assert "Hot-added: memory32. " in bm.summary.value and "memory32 to memory32" not in bm.summary.value
    bm.goto.value = 32                        # typed, no mouse: the same as a click on the cell
    assert bm.selected == 32 and pv.block_id == 32 and "data-block='32'" in bm.details.value
    info = bm.block_info(32)
    assert info["zone"] in bm.details.value and str(info["vmemmap"]) in bm.details.value
    bm.goto.value = 20                        # no such block: nothing changes
    assert bm.selected == 32


def test_walker_summary_and_inspector(online: Machine) -> None:
    anim = WalkerAnimation(online, 32)
    panel = anim.panels[0]
    anim.seek(anim.nr)
    assert "Walker" in panel.summary.value and "memory32" in panel.summary.value
    assert "PageReserved" in panel.summary.value            # 6.1: the generic walker skips the memmap
    panel.inspect.value = 0
    assert "pfn 0x100000 (+0)" in panel.inspected.value


def test_counters_and_start_summaries(online: Machine) -> None:
    cv = CountersView(online)
    assert "node 1 Movable: spanned 32,768, present 32,768, managed 32,256" in cv.summary.value
    cost = MemmapCost(arch="x86_64", size=12 * GiB)
    assert "12 GiB of hot-added memory and the 192 MiB of memmap" in cost.figure_summary.value
