"""The model's views driven without a browser: set widget values, click buttons, then check both
the machine's state and the data the bokeh figures would draw."""
from __future__ import annotations

import numpy as np
import pytest
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
    assert len(pv.lines.data["x0"]) == 63                              # one line per pageblock = PMD boundary
    assert isinstance(pv.plot, BokehModel) and isinstance(pv.widget, Widget)


def test_pagemap_on_6_1_says_page_reserved() -> None:
    m = _machine("6.1")
    run_actions(m, [("dimm_add", 128 * MiB, 1, "dimm1"), ("online", 32, "online_movable")])
    pv = PageMapView(m, 32)
    assert pv.counts()["selfhosted"] == 512
    assert selfhosted_label(m) == "PageReserved + VmemmapSelfHosted"
    code = pv.source.data["code"][0]
    assert "RESERVED" in pv.hover_fmt.args["kpf"][int(code[0, 0])]
    assert "nr_vmemmap_pages = 512" in pv.altmap.value               # 6.1 keeps no altmap in the block


def test_pagemap_offline_block_pcp_unmovable_and_isolated(m: Machine) -> None:
    run_action(m, ("dimm_add", 128 * MiB, 1, "dimm1"))
    pv = PageMapView(m, 32)
    assert pv.counts()["offline"] == 32768 and "data-selfhosted='0'" in pv.stats.value
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


def test_walker_same_walker_on_two_kernels() -> None:
    w = WalkerAnimation.across_kernels(kernels=("6.1", "6.12"), walker="generic")
    assert [p.lane.machine.kernel.name for p in w.panels] == ["6.1", "6.12"]
    assert w.total_counts() == [{"visited": 32256, "PageReserved": 512}, {"visited": 32768}]
    w.seek(512)
    assert w.counts(0) == {"PageReserved": 512} and w.counts(1) == {"visited": 512}
    img = w.panels[0].source.data["image"][0]
    assert img.shape == (64, 512)


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
    v.block_pick.value = 3
    assert all(pm.block_id == 3 for pm in v.page_maps)
    v.set_actions([("dimm_add", 128 * MiB, 1, "dimm1"), ("online", 32, "online_kernel"), ("online", 32, "offline")])
    assert [r.errno_name for r in v.records[1]] == ["", "", "EBUSY"]
    assert "EBUSY" in v.results[1].value
    v.kernel_pick[0].value = "6.8"
    assert v.machines[0].kernel.name == "6.8"


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


def test_display_rebuilds_the_render_bundle(online_block: Machine) -> None:
    """jupyter_bokeh drops patches sent before a view exists: displaying re-serialises the figure."""
    pv = PageMapView(online_block, 3)
    pv.show_block(32)                                  # changed after the BokehModel was made
    assert "memory32" not in str(pv.plot.render_bundle)
    bundle = pv._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "memory32: pfn 0x100000-0x107fff" in str(pv.plot.render_bundle)


def test_pagemap_of_a_2_gib_block_and_force_padding() -> None:
    m2 = make_machine("6.12", block_size=2 * GiB, maxmem_bytes=64 * GiB)
    run_actions(m2, [("dimm_add", 2 * GiB, 1, "big"), ("online", 2, "online_movable")])
    pv = PageMapView(m2, 2)
    assert pv.source.data["image"][0].shape == (1024, 512)
    assert pv.counts()["selfhosted"] == 8192 and pv.counts()["free"] == 524288 - 8192
    assert len(pv.lines.data["x0"]) == 127                            # thinned to 4 MiB steps
    # ppc64 radix with 64 KiB pages: the memmap (16 pages) is padded to one pageblock (32) in force mode
    p = make_machine("6.12", arch="ppc64-radix-64k",
                     cmdline="memory_hotplug.memmap_on_memory=force memhp_default_state=online_movable")
    bid = run_action(p, ("dimm_add", 256 * MiB, 1, "d1")).value.blocks[0]
    pv = PageMapView(p, bid)
    assert pv.counts()["selfhosted"] == 32
    assert pv.labels.data["text"] == ["next altmap pfn: reserve + alloc + align = 16",
                                      "buddy starts: base_pfn + reserve + free = +32"]
