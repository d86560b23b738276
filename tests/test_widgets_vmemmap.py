"""The vmemmap view and the memmap timeline driven without a browser: set widget values, click buttons,
then check the machine and the data the bokeh figures would draw."""
from __future__ import annotations

import time

import pytest
from ipywidgets import Widget
from jupyter_bokeh.widgets import BokehModel

from widgets import MemmapTimeline, VmemmapView
from widgets._common import make_machine, run_action, run_actions
from widgets.controls import ControlPanel
from widgets.vmemmap import BACKING_COLORS, PHYS_COLORS
from workbook.sparse_vmemmap import ALTMAP, BOOT, NODE

MiB, GiB = 1 << 20, 1 << 30


def _rows(src, key: str) -> list[int]:
    """Indexes of the vmemmap band's rows whose key (backing, or 'unmapped') is ``key``."""
    return [i for i, k in enumerate(src.data["key"]) if k == key]


def _section_rows(v: VmemmapView, section: int) -> list[int]:
    return [i for i, s in enumerate(v.vsrc.data["section"]) if s == section]


def _links(v: VmemmapView, backing: str) -> list[tuple[float, float]]:
    d = v.links.data
    return [(x0, x1) for x0, x1, b in zip(d["x0"], d["x1"], d["backing"]) if b == backing]


def _stats(v: VmemmapView) -> dict[str, str]:
    html = v.stats.value
    return {k: html.split(f"data-{k}='")[1].split("'")[0] for k in ("block", "present", "mappings", "huge",
                                                                    "altmap", "node", "boot", "error")}


def test_a_128_mib_block_added_and_onlined_with_the_buttons() -> None:
    v = VmemmapView()
    assert v.block_id == 7 and _stats(v)["boot"] == "1"              # no DIMM yet: the last boot block
    assert "data-supported='1'" in v.policy.value and "512 pages (2 MiB) = 1 PMD(s) of 2 MiB" in v.policy.value
    v.controls.add_button.click()                                     # 128 MiB on node 1, the panel's defaults
    assert v.block_id == 32 and v.picker.value == 32
    assert _stats(v) == {"block": "32", "present": "1", "mappings": "1", "huge": "1", "altmap": "1", "node": "0",
                         "boot": "0", "error": "0"}
    (i,) = _section_rows(v, 32)
    d = v.vsrc.data
    assert d["key"][i] == ALTMAP and d["color"][i] == BACKING_COLORS[ALTMAP] and d["kind"][i] == "PMD (2 MiB)"
    assert d["vaddr"][i] == "vmemmap + 0x4000000 = 0xffffea0004000000"     # pfn_to_page(0x100000), 64 B each
    assert d["describes"][i] == "0x100000-0x107fff" and "own pfns 0x100000-0x1001ff" in d["backing"][i]
    # the self-hosted memmap is drawn in the block's first section, wider than to scale, and the PMD's line ends in it
    (cx,), (w,) = v.slices.data["x"], v.slices.data["w"]
    assert v.slices.data["text"] == ["pfns 0x100000-0x1001ff (drawn wider than to scale)"]
    ((x0, x1),) = _links(v, ALTMAP)
    assert cx - w / 2 <= x1 <= cx + w / 2 and x0 == pytest.approx(d["x"][i])
    assert "data-key='altmap' data-count='1'" in v.legend.value
    assert v.psrc.data["color"][v.psrc.data["section"].index(32)] == PHYS_COLORS["offline"]
    # online through the panel: the section's memory turns online, the mapping stays the same
    v.controls.state.value = "online_movable"
    v.controls.state_button.click()
    j = v.psrc.data["section"].index(32)
    assert v.psrc.data["color"][j] == PHYS_COLORS["online"] and v.psrc.data["state"][j] == "online, Movable (node 1)"
    assert "memory32\nonline (Movable)" in v.labels.data["text"]          # two lines: a narrow window
    assert "1 PMD of 2 MiB\nfrom its own\nfirst 512 pfns" in v.labels.data["text"]
    assert v.counts() == {ALTMAP: 1, NODE: 0, BOOT: 2, "unmapped": 0}          # the two boot sections beside it
    assert v.script == [("dimm_add", 128 * MiB, 1, "dimm1"), ("write", "/sys/devices/system/memory/memory32/state",
                                                                "online_movable")]
    assert isinstance(v.plot, BokehModel) and isinstance(v.overview_plot, BokehModel)
    assert isinstance(v.widget, Widget)


def test_a_2_gib_block_is_16_pmds_backed_by_its_own_first_pfns_then_by_node_0_then_gone() -> None:
    v = VmemmapView(block_size=2 * GiB)
    assert v.controls.add_size.value == 2 * GiB
    v.controls.hot_add()
    v.controls.set_state(2, "online_movable")
    assert v.block_id == 2 and v.columns[-16:] == list(range(32, 48))
    sections = range(32, 48)
    rows = [i for s in sections for i in _section_rows(v, s)]
    assert len(rows) == 16 and {v.vsrc.data["key"][i] for i in rows} == {ALTMAP}
    # PMD k of the block holds the struct pages of section 32 + k and lives in pfns 0x100000 + 512 k ...
    pmd_pages = 2 * MiB // 4096
    for k, i in enumerate(rows):
        first = 0x100000 + k * pmd_pages
        assert f"own pfns {first:#x}-{first + pmd_pages - 1:#x}" in v.vsrc.data["backing"][i]
    # ... all inside the block's first 2 GiB / 64 = 32 MiB: a slice of the first section, drawn to scale
    assert v.slices.data["text"] == [f"pfns 0x100000-{0x100000 + 16 * pmd_pages - 1:#x}"]
    assert v.slices.data["w"][0] == pytest.approx(0.92 / 4)
    ends = [x1 for _, x1 in _links(v, ALTMAP)]
    assert len(ends) == 16 and ends == sorted(ends) and len(set(ends)) == 16
    assert "16 PMDs of 2 MiB from memory2's own first 8,192 pfns" in v.labels.data["text"]
    assert _stats(v)["altmap"] == "16" and _stats(v)["mappings"] == "16"

    # memmap_on_memory=0: a reboot, the DIMM and the online replayed; node 0 backs the same 16 PMDs
    v.memmap_on_memory.value = False
    assert v.m.params.memmap_on_memory == "N" and v.m.blocks[2].state_name() == "online"
    assert _stats(v)["node"] == "16" and _stats(v)["altmap"] == "0"
    assert "data-supported='0'" in v.policy.value and "memmap_on_memory is off" in v.policy.value
    node_box = v.nodes.data["x"][v.nodes.data["nid"].index("0")]
    assert [x1 for _, x1 in _links(v, NODE)] == [node_box] * 16
    assert v.slices.data["x"] == []
    assert "replayed 2 action(s)" in v.controls.output.value
    assert "16 PMDs of 2 MiB from node 0 memory" in v.labels.data["text"]
    i = _section_rows(v, 32)[0]
    assert v.vsrc.data["backing"][i].startswith("node 0 ") and "order-9 block" in v.vsrc.data["backing"][i]

    # offline and device_del: the block's sections and their mappings are gone
    v.controls.set_state(2, "offline")
    v.controls.hot_remove("dimm1")
    assert 2 not in v.m.blocks and v.block_id == 2 and v.picker.value is None
    assert _stats(v)["present"] == "0" and _stats(v)["mappings"] == "0"
    assert len(_rows(v.vsrc, "unmapped")) == 16 and _links(v, NODE) == [] and _links(v, ALTMAP) == []
    assert {v.psrc.data["color"][v.psrc.data["section"].index(s)] for s in sections} == {PHYS_COLORS["removed"]}
    assert "memory2: removed" in v.labels.data["text"]
    # switched back on, the replay adds, onlines, offlines and removes again: still nothing mapped there
    v.memmap_on_memory.value = True
    assert len(_rows(v.vsrc, "unmapped")) == 16


def test_6_1_does_not_self_host_a_two_block_dimm_and_6_12_does() -> None:
    v = VmemmapView(kernel="6.1")
    # the policy line answers for a one-block add, and says that a bigger one is refused on 6.1
    assert "data-supported='1'" in v.policy.value and "only in an add of exactly one block" in v.policy.value
    v.controls.hot_add(256 * MiB, 1, "d")
    assert _stats(v)["node"] == "1" and v.block_id == 32
    assert [v.vsrc.data["key"][i] for s in (32, 33) for i in _section_rows(v, s)] == [NODE, NODE]
    v.kernel.value = "6.12"                                            # reboot, the DIMM replayed
    assert v.m.kernel.name == "6.12" and "exactly one block" not in v.policy.value
    assert [v.vsrc.data["key"][i] for s in (32, 33) for i in _section_rows(v, s)] == [ALTMAP, ALTMAP]
    v.show_block(33)
    assert v.picker.value == 33 and _stats(v)["altmap"] == "1"
    assert "own pfns 0x108000-0x1081ff" in v.vsrc.data["backing"][_section_rows(v, 33)[0]]


def test_without_memmap_on_memory_a_block_can_hold_the_next_blocks_memmap() -> None:
    """memory32 online_kernel gives node 1 Normal memory: memory33's memmap is allocated there, at a placed pfn."""
    v = VmemmapView(memmap_on_memory=False)
    v.controls.hot_add(128 * MiB, 1, "d1")
    v.controls.set_state(32, "online_kernel")
    v.controls.hot_add(128 * MiB, 1, "d2")
    assert v.block_id == 33 and v.columns == [7, 32, 33]
    (i,) = _section_rows(v, 33)
    backing = v.vsrc.data["backing"][i]
    assert backing.startswith("node 1 Normal, order-9 block (pfn 0x")
    pfn = int(backing.split("(pfn ")[1].rstrip(")"), 16)
    assert 0x100000 <= pfn < 0x108000                                  # inside memory32
    assert v.m.block_of_pfn(pfn).id == 32
    (cx,), (w,) = v.slices.data["x"], v.slices.data["w"]
    assert v.slices.data["color"] == [BACKING_COLORS[NODE]]
    x32 = v.psrc.data["x"][v.psrc.data["section"].index(32)]
    assert x32 - 0.5 < cx < x32 + 0.5                                   # drawn in memory32's column
    ends = [x1 for _, x1 in _links(v, NODE)]
    assert any(cx - w / 2 <= x1 <= cx + w / 2 for x1 in ends)
    assert f"pfns {pfn:#x}-{pfn + 511:#x} (memory32, node 1 Normal)" in v.stats.value


def test_arm64_16k_refuses_memmap_on_memory_and_maps_the_memmap_with_base_pages() -> None:
    v = VmemmapView()
    v.controls.hot_add()
    v.block_size.value = 2 * GiB                                        # another geometry: an empty machine
    assert v.m.block_size == 2 * GiB and v.script == [] and v.controls.add_size.value == 2 * GiB
    assert v.block_id == 0 and "2 GiB blocks" in v.policy.value
    v.block_size.value = 0
    v.arch.value = "arm64-16k"
    assert v.script == [] and v.m.arch.name == "arm64-16k" and not any(not b.boot for b in v.m.blocks.values())
    assert "data-supported='0'" in v.policy.value
    assert "not a whole number of pageblocks" in v.policy.value
    assert "32 base pages (PTEs) of 16 KiB" in v.policy.value
    v.controls.add_button.click()
    assert v.block_id == 32 and _stats(v)["huge"] == "0" and _stats(v)["mappings"] == "32"
    rows = _section_rows(v, 32)
    assert len(rows) == 32 and {v.vsrc.data["kind"][i] for i in rows} == {"PTE (16 KiB)"}
    assert {v.vsrc.data["key"][i] for i in rows} == {NODE}
    assert v.vsrc.data["describes"][rows[0]] == "0x40000-0x400ff"      # 16 KiB / 64 B = 256 struct pages
    assert len(_links(v, NODE)) == 1                                     # one line per section for base pages
    assert "32 PTEs of 16 KiB\nfrom node 0 memory" in v.labels.data["text"]
    assert "vmemmap + 0x1000000" == v.vsrc.data["vaddr"][rows[0]]     # no vmemmap address modelled on arm64
    # 64K pages: 8 base pages per 512 MiB section
    v.arch.value = "arm64-64k"
    v.controls.hot_add(512 * MiB, 1, "d")
    assert _stats(v)["mappings"] == "8" and v.vsrc.data["kind"][_section_rows(v, v.columns[-1])[0]] == "PTE (64 KiB)"


def test_ppc64_is_not_drawn_and_says_why() -> None:
    m = make_machine("6.12", arch="ppc64-radix-4k")
    v = VmemmapView(m, controls=False)
    assert v.boot_row is None and v.controls is None
    assert _stats(v)["error"] == "1" and "holds the memmap of more than one section" in v.stats.value
    assert v.vsrc.data["x"] == [] and "more than one section" in v.fig.title.text
    with pytest.raises(RuntimeError):
        v.reboot(memmap_on_memory=False)


def test_follows_another_control_panel_and_the_picker_and_overview_move_the_window() -> None:
    m = make_machine("6.12")
    cp = ControlPanel(m)
    v = VmemmapView(m, controls=False)
    v.follow(cp)
    cp.hot_add(128 * MiB, 1, "d1")
    cp.hot_add(128 * MiB, 1, "d2")
    assert v.block_id == 33 and v.columns == [7, 32, 33]                  # 2 present sections before it
    v.picker.value = 32
    assert v.block_id == 32 and v.columns == [6, 7, 32, 33]
    # a tap on the overview's first cell (the boot sections) opens that boot block
    i = list(v.osrc.data["first_section"]).index(0)
    v.osrc.selected.indices = [i]
    assert v.block_id == 0 and v.columns[:3] == [0, 1, 2]
    assert v.osrc.data["color"][i] == BACKING_COLORS[BOOT]
    assert list(v.owin.data["left"]) == [0.0, 0.0]                     # the window and the block, outlined
    assert v.osrc.selected.indices == []                               # so a second click on it is a change
    j = list(v.osrc.data["first_section"]).index(32)
    v.osrc.selected.indices = [j]
    assert v.block_id == 32 and v.osrc.data["color"][j] == BACKING_COLORS[ALTMAP]


def test_a_big_machine_is_binned_in_the_overview_and_quick() -> None:
    # seven 128 GiB DIMMs: an eighth would cross QEMU's reserved HyperTransport range below 1 TiB
    m = make_machine("6.12", block_size=2 * GiB, maxmem_bytes=2048 * GiB)
    run_actions(m, [("dimm_add", 128 * GiB, 1, f"d{i}") for i in range(7)])
    assert len(m.blocks) == 1 + 448
    t = time.perf_counter()
    v = VmemmapView(m, block_id=300, controls=False)
    build = time.perf_counter() - t
    assert len(v.osrc.data["left"]) <= 512 and v.columns[2:18] == list(range(300 * 16, 301 * 16))
    assert set(v.osrc.data["what"]) == {"own pfns (altmap)", "boot memory"}
    t = time.perf_counter()
    v.show_block(301)
    assert time.perf_counter() - t < 1.0 and build < 2.0
    assert _stats(v)["altmap"] == "16"


def test_display_stores_the_current_figures() -> None:
    """A static export stores what the figures show when displayed (the site re-serialises live models)."""
    v = VmemmapView()
    before = str(v.plot.render_bundle)
    run_action(v.m, ("dimm_add", 128 * MiB, 1, "d1"))
    v.show_block(32)
    assert "memory32" not in before
    v._repr_mimebundle_()
    assert "memory32" in str(v.plot.render_bundle) and "own pfns 0x100000-0x1001ff" in str(v.plot.render_bundle)


# ----------------------------------------------------------------------------------------------
# the timeline
# ----------------------------------------------------------------------------------------------
def _attr(t: MemmapTimeline, name: str) -> str:
    return t.picture.value.split(f"data-{name}='")[1].split("'")[0]


def _field(t: MemmapTimeline, name: str) -> str:
    return t.row_html.value.split(f"data-field='{name}' data-value='")[1].split("'")[0]


def test_timeline_steps_through_the_stages_of_each_kernel() -> None:
    t = MemmapTimeline("6.12")
    assert _attr(t, "stage") == "hot-add" and t.back.disabled and not t.next.disabled
    assert _attr(t, "kpageflags") == "0x100000" and _attr(t, "block-state") == "offline"
    t.next.click()
    assert t.stage.value == "online" and _attr(t, "kpageflags") == "0x2000000000"
    assert "mhp_init_memmap_on_memory()" in t.row_html.value and "Movable (node 1)" in t.row_html.value
    t.kernel.value = "6.1"
    assert _attr(t, "kernel") == "6.1" and _attr(t, "kpageflags") == "0x2100000000"
    assert "PageReserved + PageVmemmapSelfHosted" in t.row_html.value
    t.stage.value = "hot-remove"
    assert t.next.disabled and _attr(t, "mapped") == "0" and _attr(t, "block-state") == "-"
    assert "vmem_altmap_free()" in t.row_html.value and "memory32: removed" in t.picture.value
    t.back.click()
    assert t.stage.value == "offline" and "mhp_deinit_memmap_on_memory()" in t.row_html.value
    t.kernel.value = "7.2"
    assert _attr(t, "kpageflags") == "0x0" and _field(t, "nr_memmap_pages") == "512"
    assert _field(t, "kpageflags") == "0 (0x0)" and _field(t, "mapped") == "yes"
    t.kernel.value = "5.10"                                             # the memmap is in node 0
    assert "DMA32 (node 0)" in t.picture.value and "not on the block" in t.picture.value
    assert _field(t, "nr_memmap_pages") == "no such line" and _field(t, "nr_vmemmap_pages") == "-"
    assert set(t._rows) == {"6.12", "6.1", "7.2", "5.10"}


def test_timeline_names_where_each_kernel_records_the_memmap_pages() -> None:
    """6.6 removed struct memory_block::nr_vmemmap_pages; from then on the number is the kept altmap's free."""
    import re

    from widgets.memmap_timeline import MemmapTimeline
    t = MemmapTimeline(stage="online")
    labels = {}
    for k in ("5.10", "6.1", "6.12"):
        t.kernel.value = k
        labels[k] = re.search(r"data-field='nr_vmemmap_pages' data-value='([^']*)'><td[^>]*>([^<]*)</td>",
                              t.row_html.value).groups()
    assert labels["6.12"] == ("512", "memmap pages the block records (mem-&gt;altmap-&gt;free)")
    assert labels["6.1"] == ("512", "memmap pages the block records (mem-&gt;nr_vmemmap_pages)")
    assert labels["5.10"][0] == "-" and "no such field" in labels["5.10"][1]
