"""The model's views driven without a browser: set widget values, click buttons, then check both
the machine's state and the data the bokeh figures would draw."""
from __future__ import annotations

import re

import numpy as np
import pytest
from bokeh.models import NumeralTickFormatter
from ipywidgets import Play, Widget
from jupyter_bokeh.widgets import BokehModel

from widgets._common import make_machine, run_action, run_actions
from widgets.blockmap import BlockMapView
from widgets.compare import VersionCompare
from widgets.controls import ControlPanel
from widgets.counters import CountersView, parse_zoneinfo
from widgets.dashboard import Workbench
from widgets.geometry import GeometryExplorer
from widgets.pagemap import FREE0, SELFHOSTED, PageMapView, rgba, selfhosted_label
from widgets.walker import WalkerAnimation
from workbook.machine import Machine
from workbook.pagemap import MIGRATE_ISOLATE

MEM = "/sys/devices/system/memory"
MiB, GiB = 1 << 20, 1 << 30


def _machine(kernel: str = "6.12") -> Machine:
    """Node 0 with 1 GiB at boot, empty node 1, memmap_on_memory=1, blocks come up offline."""
    return make_machine(kernel)


@pytest.fixture
def m() -> Machine:
    return _machine()


@pytest.fixture
def online_block(m: Machine) -> Machine:
    """128 MiB hot-added on node 1 and onlined movable through the control panel's buttons."""
    cp = ControlPanel(m)
    cp.add_size.value, cp.add_node.value = 128 * MiB, 1
    cp.add_button.click()
    assert cp.block.value == 32
    cp.state.value = "online_movable"
    cp.state_button.click()
    assert m.blocks[32].state_name() == "online" and m.blocks[32].zone.name == "Movable"
    return m


def _no_traceback(html: str) -> None:
    assert "Traceback" not in html and "File \"" not in html


# ----------------------------------------------------------------------------------------------
# page map
# ----------------------------------------------------------------------------------------------
def test_pagemap_counts_and_image_after_hot_add_online_movable(online_block: Machine) -> None:
    pv = PageMapView(online_block, 32)
    c = pv.counts()
    assert c["selfhosted"] == 512 and c["free"] == 32256
    assert c["movable"] == c["unmovable"] == c["offline"] == c["isolated"] == 0
    assert pv.free_by_order() == {9: 512, 10: 31744}
    img, code = pv.source.data["image"][0], pv.source.data["code"][0]
    assert img.shape == code.shape == (64, 512) and img.dtype == np.uint32
    table = rgba(pv._colors)
    assert (img[0] == table[SELFHOSTED]).all()                      # row 0 = the 512 memmap pfns
    assert (img[1:] != table[SELFHOSTED]).all()
    assert img[-1, -1] == table[FREE0 + 10]                           # order-10 free blocks at the end
    assert pv.source.data["dh"] == [64] and pv.source.data["dw"] == [512]
    # the number is in the DOM, and the hover knows how 6.12 flags the memmap pages
    assert "data-selfhosted='512'" in pv.stats.value and "vmemmap pages: 512" in pv.stats.value
    labels, kpf = pv.hover_fmt.args["labels"], pv.hover_fmt.args["kpf"]
    first = int(code[0, 0])
    assert "VmemmapSelfHosted (not PageReserved)" in labels[first] and kpf[first].startswith("OWNER_PRIVATE")
    assert pv.hover_fmt.args["start"] == 0x100000 and pv.hover_fmt.args["nr"] == 32768
    assert "data-key='selfhosted' data-count='512'" in pv.legend.value
    # altmap fields annotated
    assert "base_pfn" in pv.altmap.value and "0x100000" in pv.altmap.value
    assert any("base_pfn + reserve + free" in t for t in pv.labels.data["text"])
    assert pv.lines.data["x0"] == []                                  # a row is a pageblock: no grid lines
    assert "1 row = 1 pageblock = PMD" in pv.subtitle.text
    assert isinstance(pv.plot, BokehModel) and isinstance(pv.widget, Widget)


def test_pagemap_makes_the_self_hosted_memmap_unmistakable(online_block: Machine) -> None:
    """Rows >= 6 px, the memmap named above the map, the buddy-start rule below the memmap, distinct free shades."""
    pv = PageMapView(online_block, 32)
    map_px = pv.fig.height - 100 - 2 * 15 - 6                         # band: the memmap's name + one boundary
    assert map_px / 64 >= 6
    assert pv.fig.y_range.start == 64 and pv.fig.y_range.end < 0       # a band above row 0 for the labels
    assert pv.callout.data["text"] == ["\u25bc self-hosted memmap (hatched): 512 pfns (2 MiB), not PageReserved"]
    assert pv.callout.data["y"] == [0]
    # its second cue beside the colour: one hatched, outlined quad over exactly the 512 memmap pfns (row 0)
    assert pv.memmap_area.data == {"left": [0], "right": [512], "top": [0], "bottom": [1]}
    # the dashed rule at the buddy start lies on the buddy's side of the boundary, never across row 0
    rule = [(x0, y0, x1, y1) for x0, y0, x1, y1 in zip(*(pv.marks.data[k] for k in ("x0", "y0", "x1", "y1")))
            if y0 >= 0]
    assert rule and all(1 < y0 <= 1.25 and y0 == y1 for _, y0, _, y1 in rule)
    assert all(y < 0 for y in pv.labels.data["y"])                     # the boundary's name is in the band
    # order 9 and order 10 are clearly different shades (squared RGB distance)
    c9, c10 = (tuple(int(pv.colors[FREE0 + o][i:i + 2], 16) for i in (1, 3, 5)) for o in (9, 10))
    assert sum((a - b) ** 2 for a, b in zip(c9, c10)) > 60 ** 2
    # the legend: one line per state, no MiB column, the detail in a tooltip
    assert "memmap (self-hosted)</td>" in pv.legend.value and "MiB</td>" not in pv.legend.value
    assert "title='self-hosted memmap: VmemmapSelfHosted (not PageReserved)'" in pv.legend.value
    assert pv.legend.layout.width == "300px"


def test_pagemap_without_free_orders_names_no_order(online_block: Machine) -> None:
    """free_orders=False: one shade for every free pfn, and neither legend, summary nor hover names an order."""
    pv = PageMapView(online_block, 32, free_orders=False)
    assert pv.counts()["selfhosted"] == 512 and pv.counts()["free"] == 32256
    assert pv.free_by_order() == {}
    img = pv.source.data["image"][0]
    table = rgba(pv._colors)
    assert (img[1:] == table[FREE0 + online_block.arch.max_page_order]).all()   # the order-9 row too
    texts = [pv.legend.value, pv.summary.value, pv.stats.value, pv.inspected.value,
             " ".join(pv.hover_fmt.args["labels"])]
    assert not any(re.search(r"\border\b", t) for t in texts), texts
    assert "free-order-" not in pv.legend.value and "data-key='free' data-count='32256'" in pv.legend.value
    pv.inspect.value = 600                                           # a pfn of the order-9 block
    assert "free (buddy)" in pv.inspected.value and not re.search(r"\border\b", pv.inspected.value)
    # the default still breaks the free pages down by order
    assert PageMapView(online_block, 32).free_by_order() == {9: 512, 10: 31744}


def test_pagemap_picker_labels_follow_the_block_state(m: Machine) -> None:
    run_action(m, ("dimm_add", 128 * MiB, 1, "dimm1"))
    pv = PageMapView(m, 32)
    assert ("memory32 (offline)", 32) in pv.picker.options
    run_action(m, ("online", 32, "online_movable"))
    pv.refresh()
    assert ("memory32 (online)", 32) in pv.picker.options and pv.picker.value == 32
    assert pv.block_id == 32


def test_pagemap_on_6_1_says_page_reserved() -> None:
    m = _machine("6.1")
    run_actions(m, [("dimm_add", 128 * MiB, 1, "dimm1"), ("online", 32, "online_movable")])
    pv = PageMapView(m, 32)
    assert pv.counts()["selfhosted"] == 512
    assert selfhosted_label(m) == "PageReserved + VmemmapSelfHosted"
    code = pv.source.data["code"][0]
    assert "RESERVED" in pv.hover_fmt.args["kpf"][int(code[0, 0])]
    assert "nr_vmemmap_pages = 512" in pv.altmap.value               # 6.1 keeps no altmap in the block



def test_pagemap_of_boot_memory_says_what_is_modelled(m: Machine) -> None:
    """Boot memory is kept as counts: its RAM has no kpageflags word in the model, its holes read RESERVED."""
    pv = PageMapView(m, 0)
    assert pv.counts()["boot"] == 32768
    code = pv.source.data["code"][0]
    kpf = pv.hover_fmt.args["kpf"][int(code[0, 0])]                   # one hover text for every boot pfn
    assert kpf.startswith("not modelled") and "RESERVED in the holes" in kpf
    assert "boot memory (the model keeps its counts, not each page" in pv.legend.value
    pv.inspect.value = 0                                               # pfn 0: trim_bios_range()'s page
    assert "kpageflags RESERVED (0x100000000) (a hole in boot memory: PageReserved)" in pv.inspected.value
    pv.inspect.value = 1
    assert "kpageflags not modelled" in pv.inspected.value

def test_pagemap_offline_block_pcp_unmovable_and_isolated(m: Machine) -> None:
    run_action(m, ("dimm_add", 128 * MiB, 1, "dimm1"))
    pv = PageMapView(m, 32)
    assert pv.counts()["offline"] == 32768 and "data-selfhosted='0'" in pv.stats.value
    assert pv.callout.data["text"] == ["offline: the first 512 pfns already hold the block's memmap"]
    # the memmap exists though no pfn is drawn as such: the stats line and the caption say so, and the caption's
    # counts still add up to the block (512 + 32,768 would not)
    assert "vmemmap pages: 512 (not online: drawn as offline)" in pv.stats.value
    assert "still hold the block's memmap" in pv.describe() and "All pfns: 32,768 offline." in pv.describe()
    run_actions(m, [("online", 32, "online_kernel"), ("pin", 1, 16 * MiB)])
    pv.refresh()
    c = pv.counts()
    assert c["unmovable"] > 4096 and c["pcp"] > 0 and c["selfhosted"] == 512
    assert sum(c.values()) == 32768
    # a pageblock marked MIGRATE_ISOLATE (what offline_pages() does while it works) is shown as isolated
    b = m.blocks[32]
    pfn = b.start_pfn + 1024 * 20
    m.pagemap_of(pfn).set_pageblock_mt(pfn, 512, MIGRATE_ISOLATE)
    pv.refresh()
    assert pv.counts()["isolated"] == 512


def test_pagemap_picker_and_removed_block(online_block: Machine) -> None:
    pv = PageMapView(online_block)
    assert pv.block_id == 32
    pv.picker.value = 3
    assert pv.block_id == 3 and pv.counts()["boot"] == 32768
    pv.show_block(99)
    assert "no such block" in pv.fig.title.text and pv.counts()["selfhosted"] == 0


# ----------------------------------------------------------------------------------------------
# control panel
# ----------------------------------------------------------------------------------------------
def test_controls_show_commands_and_refresh_views(m: Machine) -> None:
    cp = ControlPanel(m)
    seen = []
    cp.on_change.append(seen.append)
    cp.add_button.click()
    assert "(qemu) device_add pc-dimm,id=dimm1,memdev=mem-dimm1,node=1" in cp.output.value
    assert "(qemu) object_add memory-backend-ram,id=mem-dimm1,size=128M" in cp.output.value
    cp.state.value = "online_movable"
    cp.state_button.click()
    assert f"echo online_movable &gt; {MEM}/memory32/state" in cp.output.value
    assert cp.last.ok and cp.last.result == "memory32 is online in zone Movable"
    assert [r.action for r in cp.action_log] == ["dimm_add", "online"] and len(seen) == 2
    assert cp.dimm.value == "dimm1"


def test_failed_offline_shows_ebusy_inline(m: Machine) -> None:
    cp = ControlPanel(m)
    cp.add_button.click()
    cp.state.value = "online_kernel"
    cp.state_button.click()
    assert m.blocks[32].zone.name == "Normal"
    cp.state.value = "offline"
    cp.state_button.click()
    rec = cp.last
    assert not rec.ok and rec.errno_name == "EBUSY"
    assert "EBUSY" in cp.output.value and "Device or resource busy" in cp.output.value
    assert "failure to isolate range" in cp.output.value and "unmovable page" in cp.output.value
    assert "data-errno='EBUSY'" in cp.output.value
    _no_traceback(cp.output.value)
    assert m.blocks[32].state_name() == "online"                      # the kernel left it online
    # hot-remove of that DIMM fails the same way, and says so
    cp.dimm.value = "dimm1"
    cp.remove_button.click()
    assert cp.last.errno_name == "EBUSY" and "device_del dimm1" in cp.output.value
    assert "Offline failed" in cp.output.value and "dimm1" in m.dimms
    _no_traceback(cp.output.value)


def test_hot_remove_and_qemu_errors(m: Machine) -> None:
    cp = ControlPanel(m)
    cp.hot_add(128 * MiB, 1, "dimm1")
    cp.hot_add(128 * MiB, 1, "dimm1")                                 # QEMU refuses the duplicate id
    assert not cp.last.ok and "Duplicate device ID" in cp.output.value
    cp.add_size.value = 256 * MiB
    cp.add_button.click()                                             # two blocks, auto id
    assert cp.last.ok and len(cp.last.value.blocks) == 2
    cp.dimm.value = "dimm1"
    cp.remove_button.click()
    assert cp.last.ok and "dimm1: deleted" in cp.output.value and 32 not in m.blocks
    assert "dimm1" not in [v for _, v in cp.dimm.options]
    cp.hot_add(128 * MiB, 1, "")                                      # empty id -> the first free dimmN
    assert cp.last.ok and cp.last.value.id == "dimm1"


def test_workloads_start_and_stop(online_block: Machine) -> None:
    m = online_block
    cp = ControlPanel(m)
    pv = PageMapView(m, 32)
    cp.on_change.append(lambda _r: pv.refresh())
    cp.wl_kind.value, cp.wl_node.value, cp.wl_size.value = "movable", 1, 64 * MiB
    cp.wl_button.click()
    assert "stress-ng --vm 1 --vm-bytes 64M" in cp.output.value and "--membind=1" in cp.output.value
    assert pv.counts()["movable"] == 16384 and pv.counts()["free"] == 32256 - 16384
    owner = cp.wl_running.value
    assert owner == cp.last.value.owner
    cp.stop_button.click()
    assert f"kill {owner}" in cp.output.value and pv.counts()["movable"] == 0
    cp.wl_kind.value = "unmovable"                                    # only ZONE_MOVABLE on node 1: nothing
    cp.wl_button.click()
    assert "pipe" in cp.last.command and "ran out" in cp.last.result


# ----------------------------------------------------------------------------------------------
# counters
# ----------------------------------------------------------------------------------------------
def test_counters_bars_and_text(online_block: Machine) -> None:
    cv = CountersView(online_block)
    assert cv.value(1, "Movable", "managed") == 32256
    assert cv.value(1, "Movable", "present") == cv.value(1, "Movable", "spanned") == 32768
    assert cv.value(1, "Movable", "free") == 32256
    assert ("node1 Movable", "managed") in [tuple(x) for x in cv.fig.x_range.factors]
    assert "Node 1, zone  Movable" in cv.zoneinfo.value and "Node 0" not in cv.zoneinfo.value
    assert "node 1 size: 126 MB" in cv.numactl.value
    assert {tuple(x)[0] for x in cv.source.data["x"]} == {"node1 Movable"}
    cv.which.value = "all"
    assert "Node 0, zone      DMA" in cv.zoneinfo.value
    assert {tuple(x)[0] for x in cv.source.data["x"]} == {"node0 DMA", "node0 DMA32", "node1 Movable"}
    run_action(online_block, ("start_workload", 1, 64 * MiB))
    cv.refresh()
    assert cv.value(1, "Movable", "free") == 32256 - 16384
    rows = parse_zoneinfo(str(online_block.read("/proc/zoneinfo")))
    assert {(r["node"], r["zone"]) for r in rows} >= {(0, "DMA32"), (1, "Movable")}


# ----------------------------------------------------------------------------------------------
# block map
# ----------------------------------------------------------------------------------------------
def test_blockmap_hover_data_and_click_opens_page_map(online_block: Machine) -> None:
    m = online_block
    run_action(m, ("dimm_add", 128 * MiB, 1, "dimm2"))
    pv = PageMapView(m, 3)
    bm = BlockMapView(m, page_map=pv)
    assert len(bm.source.data["id"]) == len(m.blocks) == 10
    info = bm.block_info(33)
    assert info == {"name": "memory33", "range": "0x108000000-0x10fffffff", "state": "offline", "zone": "none",
                    "node": 1, "valid_zones": str(m.read(f"{MEM}/memory33/valid_zones")).strip(),
                    "vmemmap": 512, "category": "offline"}
    assert bm.block_info(32)["valid_zones"] == "Movable" and bm.block_info(0)["state"] == "online (boot)"
    assert bm.counts() == {"online (boot)": 8, "online": 1, "offline": 1}
    got = []
    bm.on_select.append(got.append)
    row = list(bm.source.data["id"]).index(32)
    bm.source.selected.indices = [row]                                # what a TapTool click syncs back
    assert got == [32] and pv.block_id == 32 and pv.counts()["selfhosted"] == 512
    assert "data-block='32'" in bm.details.value and "Movable" in bm.details.value
    bm.select(33)
    assert pv.block_id == 33 and bm.source.selected.indices == [list(bm.source.data["id"]).index(33)]
    bm.color_by.value = "zone"
    assert bm.counts()["Movable"] == 1 and bm.counts()["offline (no zone)"] == 1
    assert bm.counts()["none (spans zones)"] == 1                     # memory0: DMA and DMA32
    bm.color_by.value = "node"
    assert bm.counts() == {"node 0": 8, "node 1": 2}


def test_blockmap_selection_keeps_the_legend_colours(online_block: Machine) -> None:
    bm = BlockMapView(online_block)
    bm.select(32)
    glyph = bm.renderer
    assert glyph.nonselection_glyph.fill_alpha == 1.0                 # unselected cells keep the legend's colour
    assert glyph.selection_glyph.line_color == "black" and glyph.selection_glyph.line_width >= 2
    labels = dict(zip(bm.cell_labels.data["text"], zip(bm.cell_labels.data["x"], bm.cell_labels.data["y"])))
    assert labels["32"] == (0, 2) and labels["0"] == (0, 0)           # every cell named by its block id
    assert bm.row_start.args == {"cols": 16} and bm.fig.yaxis[0].formatter is bm.row_start


def test_blockmap_of_a_big_machine() -> None:
    m = Machine("6.12", arch="x86_64-la57", cmdline="memory_hotplug.memmap_on_memory=1",
                block_size=2 << 30, ram_bytes=1 << 30, maxmem_bytes=80 << 40)
    r = m.dimm_add(8 << 40, 1, "big", addr=(2 << 30) * 2)
    assert r.error is None and len(r.blocks) == 4096
    bm = BlockMapView(m, valid_zones_limit=1024)
    assert len(bm.source.data["x"]) == 4097 and bm.counts()["offline"] == 4096
    assert bm.source.data["x"].dtype == np.int32                       # numeric columns travel as binary
    assert bm.block_info(5)["valid_zones"] == "(click the block to read it)"
    assert bm.block_info(5)["vmemmap"] == 8192
    assert bm.cell_labels.data["text"] == []                          # too many blocks to name each one
    bm.select(5)
    assert "Normal Movable" in bm.details.value                       # read on click


# ----------------------------------------------------------------------------------------------
# walker
# ----------------------------------------------------------------------------------------------
def test_walker_generic_vs_hotplug(online_block: Machine) -> None:
    w = WalkerAnimation(online_block, 32)
    assert [p.lane.walker for p in w.panels] == ["generic", "hotplug"]
    assert isinstance(w.play, Play) and w.slider.max == 64
    assert w.counts(0) == {} and w.counts(1) == {}
    w.step_button.click()
    assert w.position == 512
    assert w.counts(0) == {"visited": 512} and w.counts(1) == {"before buddy_start_pfn": 512}
    w.play.value = 10                                                 # what Play does in the browser
    assert w.position == 5120 and w.counts(1) == {"visited": 4608, "before buddy_start_pfn": 512}
    assert "data-pos='5120'" in w.panels[1].legend.value
    pend = w.panels[0].pending.data
    assert pend["top"] == [10] and pend["bottom"] == [64]             # rows not walked yet are covered
    w.end_button.click()
    assert w.total_counts() == [{"visited": 32768}, {"visited": 32256, "before buddy_start_pfn": 512}]
    w.reset_button.click()
    assert w.position == 0
    w.stride.value = 64
    w.step(3)
    assert w.position == 192
    w.walker_pick[1].value = "compaction-free"
    assert w.total_counts()[1] == {"visited": 32256, "not free": 512}
    w.speed.value = 100
    assert w.play.interval == 100


def test_walker_colours_and_the_free_scanner_walks_downwards(online_block: Machine) -> None:
    from widgets.pagemap import free_colors
    from widgets.walker import REASON_COLORS
    run_action(online_block, ("start_workload", 1, 64 * MiB))
    w = WalkerAnimation(online_block, 32, walkers=("compaction-migrate", "compaction-free"))
    assert REASON_COLORS[0] not in free_colors(10) and REASON_COLORS[0] not in ("#ffffff", "#d9d9d9")
    quad = next(r.glyph for r in w.panels[0].fig.renderers if r.data_source is w.panels[0].pending)
    assert quad.fill_color == "#ffffff" and quad.fill_alpha == 1.0    # not walked yet: white, not a pale tint
    w.seek(512)
    migrate, free = w.panels
    assert migrate.pending.data["top"] == [1] and migrate.pending.data["bottom"] == [64]    # rows 1.. not walked
    assert free.pending.data["top"] == [0] and free.pending.data["bottom"] == [63]         # rows ..62 not walked
    assert w.counts(0) == {"not LRU / not movable": 512}               # the memmap, at the start
    assert w.counts(1) == {"visited": 512}                             # free pages, at the end
    assert "from the end" in free.legend.value and "downwards" in free.subtitle.text
    assert w.total_counts()[1] == free.counts(None) and sum(w.total_counts()[1].values()) == 32768


def test_walker_same_walker_on_two_kernels() -> None:
    w = WalkerAnimation.across_kernels(kernels=("6.1", "6.12"), walker="generic")
    assert [p.lane.machine.kernel.name for p in w.panels] == ["6.1", "6.12"]
    assert w.total_counts() == [{"visited": 32256, "PageReserved": 512}, {"visited": 32768}]
    w.seek(512)
    assert w.counts(0) == {"PageReserved": 512} and w.counts(1) == {"visited": 512}
    img = w.panels[0].source.data["image"][0]
    assert img.shape == (64, 512)
    assert w.panels[0].fig.title.text == "Linux 6.1: generic" and "Linux" not in w.panels[0].subtitle.text


# ----------------------------------------------------------------------------------------------
# geometry
# ----------------------------------------------------------------------------------------------
def test_geometry_explorer() -> None:
    g = GeometryExplorer()
    r = g.result()
    assert r["allowed"] and r["memmap_bytes"] == 2 * MiB and r["vmemmap_pages"] == 512
    assert "data-vmemmap-pages='512'" in g.output.value and "allowed" in g.output.value
    g.arch.value = "arm64-64k"
    assert g.block_size.value == 512 * MiB
    r = g.result()
    assert not r["allowed"] and r["page_size"] == 64 * 1024 and r["memmap_pages"] == 8
    assert "pageblock" in r["refusal"] and "refused" in g.output.value
    assert "not a whole number of pageblocks" in g.output.value
    g.mode.value = "force"
    r = g.result()
    assert r["vmemmap_pages"] == 8192 and r["wasted_pages"] == 8184
    assert "would fill the whole block" in r["refusal"] and "wasted by force padding" in g.output.value
    g.arch.value, g.mode.value = "x86_64", "1"
    g.struct_page.value = 56
    assert g.result()["memmap_bytes"] == 32768 * 56 and not g.result()["allowed"]
    g.struct_page.value = 64
    g.kernel.value, g.mode.value = "6.1", "force"
    assert g.result()["mode"] == "N" and "was read as N" in g.output.value
    g.block_size.value = 2 * GiB
    g.kernel.value, g.mode.value = "6.12", "1"
    assert g.result()["vmemmap_pages"] == 8192 and g.result()["allowed"]


# ----------------------------------------------------------------------------------------------
# version compare, workbench
# ----------------------------------------------------------------------------------------------
def test_version_compare() -> None:
    v = VersionCompare(kernels=("6.1", "6.12"))
    assert [m.kernel.name for m in v.machines] == ["6.1", "6.12"] and v.block_id == 32
    assert [pm.counts()["selfhosted"] for pm in v.page_maps] == [512, 512]
    diff = {k: (a, b) for k, a, b in v.differences()}
    assert diff["kpageflags of the block's first pfn"] == ("RESERVED|OWNER_PRIVATE", "OWNER_PRIVATE")
    assert diff["generic walker"] == ("visited 32256, PageReserved 512", "visited 32768")
    assert diff["/proc/vmstat nr_memmap_pages"][1] == "512"
    assert "data-differs='1'" in v.diff.value
    # one shared legend, counts of both kernels; the lanes' titles name the kernel once
    assert "data-key='selfhosted'" in v.legend.value and v.legend.value.count("data-count='512'>512</td>") >= 2
    assert all(pm.legend not in pm.widget.children for pm in v.page_maps)
    assert v.page_maps[0].fig.title.text == "Linux 6.1: memory32: node 1, online, Movable"
    assert "Linux" not in v.page_maps[0].subtitle.text
    assert v.page_maps[0].callout.data["text"][0].endswith(", PageReserved")
    v.block_pick.value = 3
    assert all(pm.block_id == 3 for pm in v.page_maps)
    assert "memory3: pfns per state" in v.legend.value
    v.set_actions([("dimm_add", 128 * MiB, 1, "dimm1"), ("online", 32, "online_kernel"), ("online", 32, "offline")])
    assert [r.errno_name for r in v.records[1]] == ["", "", "EBUSY"]
    assert "EBUSY" in v.results[1].value
    v.kernel_pick[0].value = "6.8"
    assert v.machines[0].kernel.name == "6.8"


def test_version_compare_lines_the_page_maps_up() -> None:
    """6.1 does not self-host a multi-block DIMM, 6.12 does: the maps still start at the same height."""
    v = VersionCompare([("dimm_add", 512 * MiB, 1, "dimm1"), ("online", 32, "online_movable")], kernels=("6.1", "6.12"))
    old, new = v.page_maps
    assert old.counts()["selfhosted"] == 0 and new.counts()["selfhosted"] == 512
    assert old.callout.data["text"] == ["no self-hosted memmap pfns in this block"]
    assert old.fig.height == new.fig.height and old.fig.y_range.end == new.fig.y_range.end


def test_workbench_wires_the_views(m: Machine) -> None:
    wb = Workbench(m)
    wb.controls.add_button.click()
    assert wb.page_map.block_id == 32 and wb.page_map.counts()["offline"] == 32768
    assert wb.block_map.counts()["offline"] == 1
    wb.controls.state.value = "online_movable"
    wb.controls.state_button.click()
    assert wb.page_map.counts()["selfhosted"] == 512
    assert wb.counters.value(1, "Movable", "managed") == 32256
    wb.block_map.select(3)
    assert wb.page_map.block_id == 3 and wb.controls.block.value == 3
    wb.controls.state.value = "offline"
    wb.controls.state_button.click()                                  # boot memory block: the kernel decides
    _no_traceback(wb.controls.output.value)
    assert "application/vnd.jupyter.widget-view+json" in wb._repr_mimebundle_()


def test_counters_show_every_zone_until_a_hot_plug_node_has_memory(m: Machine) -> None:
    cv = CountersView(m)
    assert {tuple(x)[0] for x in cv.source.data["x"]} == {"node0 DMA", "node0 DMA32"}
    assert "no populated zone on a hot-plug node yet" in cv.zoneinfo.value
    # the text shows the zones the bars show
    stanzas = cv.zoneinfo.value.split("<details>")[0]
    assert "Node 0, zone      DMA\n" in stanzas and "Node 0, zone    DMA32\n" in stanzas


def test_counters_are_readable(m: Machine) -> None:
    """Thousands separators, a value on every bar, the change of the last action, zone stanzas before the rest."""
    cv = CountersView(m, zoneinfo="all")
    assert isinstance(cv.fig.yaxis[0].formatter, NumeralTickFormatter) and cv.fig.yaxis[0].formatter.format == "0,0"
    run_action(m, ("dimm_add", 128 * MiB, 1, "dimm1"))
    run_action(m, ("online", 32, "online_movable"))
    cv.refresh()
    d = cv.source.data
    label = dict(zip((tuple(x) for x in d["x"]), d["label"]))
    assert label[("node1 Movable", "present")] == "32,768" and label[("node1 Movable", "managed")] == "32,256"
    assert cv.fig.y_range.end > max(d["pages"])                       # room for the labels above short bars
    run_action(m, ("start_workload", 1, 64 * MiB))
    cv.refresh()
    label = dict(zip((tuple(x) for x in cv.source.data["x"]), cv.source.data["label"]))
    assert label[("node1 Movable", "free")] == "15,872 (-16,384)"     # what the last action changed
    assert label[("node1 Movable", "managed")] == "32,256"
    cv.which.value = "hot-plug nodes"                                  # a toggle is no change of the machine
    label = dict(zip((tuple(x) for x in cv.source.data["x"]), cv.source.data["label"]))
    assert label[("node1 Movable", "free")] == "15,872 (-16,384)"
    # the zone stanza (pages free .. managed, start_pfn) comes first, the per-node stats behind <details>
    text = cv.zoneinfo.value
    head, rest = text.split("<details>")
    assert "pages free     15872" in head and "managed  32256" in head and "start_pfn:" in head
    assert "per-node stats" not in head and "nr_inactive_anon" in rest
    assert head.index("pages free") < head.index("managed") < head.index("start_pfn")


def test_display_rebuilds_the_render_bundle(online_block: Machine) -> None:
    """jupyter_bokeh drops patches sent before a view exists: displaying re-serialises the figure."""
    pv = PageMapView(online_block, 3)
    pv.show_block(32)                                  # changed after the BokehModel was made
    assert "memory32" not in str(pv.plot.render_bundle)
    bundle = pv._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "memory32: node 1, online, Movable" in str(pv.plot.render_bundle)
    assert "pfn 0x100000-0x107fff" in str(pv.plot.render_bundle)


def test_pagemap_of_a_2_gib_block_and_force_padding() -> None:
    m2 = make_machine("6.12", block_size=2 * GiB, maxmem_bytes=64 * GiB)
    run_actions(m2, [("dimm_add", 2 * GiB, 1, "big"), ("online", 2, "online_movable")])
    pv = PageMapView(m2, 2)
    assert pv.source.data["image"][0].shape == (1024, 512)
    assert pv.counts()["selfhosted"] == 8192 and pv.counts()["free"] == 524288 - 8192
    assert pv.lines.data["x0"] == []                                  # rows are pageblocks
    assert pv.fig.height - 100 <= 600 + 2 * 15 + 6
    # ppc64 radix with 64 KiB pages: the memmap (16 pages) is padded to one pageblock (32) in force mode
    p = make_machine("6.12", arch="ppc64-radix-64k",
                     cmdline="memory_hotplug.memmap_on_memory=force memhp_default_state=online_movable")
    bid = run_action(p, ("dimm_add", 256 * MiB, 1, "d1")).value.blocks[0]
    pv = PageMapView(p, bid)
    assert pv.counts()["selfhosted"] == 32
    assert pv.labels.data["text"] == ["next altmap pfn: reserve + alloc + align = 16",
                                      "buddy starts: base_pfn + reserve + free = +32"]


def test_walker_seek_from_a_cell_moves_play_and_slider_together() -> None:
    """A stored view renders play's value onto the slider (jslink): both must say the step the legend shows."""
    from widgets.walker import WalkerAnimation

    anim = WalkerAnimation.across_kernels(kernels=("6.1", "6.12"), walker="generic")
    anim.seek(512)
    assert anim.slider.value == anim.play.value == 1
    assert all("walked 512 of 32,768" in p.legend.value for p in anim.panels)
    anim.seek(anim.nr)
    assert anim.slider.value == anim.play.value == anim.slider.max == 64
    anim.play.value = 3                                              # the browser's play button
    assert anim.position == 1536 and anim.slider.value == 3
    anim.stride.value = 64                                           # a finer stride keeps the position
    assert anim.position == 1536 and anim.slider.value == anim.play.value == 24


def test_walker_seek_from_a_cell_rebuilds_the_render_bundle() -> None:
    """A view built after the seek (Run All outpacing the browser) must start from the new state."""
    from widgets.walker import WalkerAnimation

    anim = WalkerAnimation.across_kernels(kernels=("6.1", "6.12"), walker="generic")
    models = anim.bokeh_models()
    before = [m.render_bundle for m in models]
    anim.seek(512)
    after = [m.render_bundle for m in models]
    assert all(a != b for a, b in zip(after, before))
    anim.seek(1024, from_view=True)          # the widget's own slider: patches reach the live view
    assert [m.render_bundle for m in models] == after
