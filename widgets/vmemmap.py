"""VmemmapView: the vmemmap drawn: struct pages above, physical memory below, the mappings in between.

The window figure shows a few sections around a selected memory block.  Above, the
virtual memmap (``vmemmap``, the ``struct page`` array) section by section, each section
cut into the page-table mappings that hold its struct pages: PMDs where
``vmemmap_populate_hugepages()`` maps them, base pages (PTEs) where the architecture only
maps base pages (arm64 with 16K or 64K pages).  Below, physical memory: the same sections,
and a box per node for memory whose pfns the model does not place (boot memory is kept as
counts).  Lines join every mapping to the memory behind it; colour says who backs it: the
block's own first pfns through the altmap (memmap_on_memory), memory of a node taken at
hot-add, or boot memory.  The overview above it shows every present section of the machine
(binned on a big machine); clicking it moves the window.

Every number comes from the model: the arch profile (sizes), the machine's sections and
blocks and its memmap records (:mod:`workbook.sparse_vmemmap`).  With its own machine
(``machine=None``) the view also reboots it with another kernel, architecture, block size or
``memory_hotplug.memmap_on_memory=`` and replays the DIMM and state actions done so far.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, LabelSet, Range1d, TapTool
from bokeh.plotting import figure
from ipywidgets import HTML, Dropdown, HBox, Layout, ToggleButtons, VBox
from jupyter_bokeh.widgets import BokehModel

from widgets._bokeh import bokeh_widget
from widgets._common import (Action, ActionRecord, block_picker, display_bundle, esc, make_machine,
                             refresh_block_picker, run_actions)
from widgets.controls import ControlPanel
from widgets.palette import BROWN, OKABE_ITO, PAGEMAP
from widgets.pagemap import compact
from widgets.units import format_bytes
from workbook.arch import GiB
from workbook.machine import Machine
from workbook.memory_hotplug import memmap_on_memory_refusal, memory_block_memmap_on_memory_pages
from workbook.memory_model import VMEMMAP_BASE
from workbook.sparse_vmemmap import (ALTMAP, BOOT, NODE, VmemmapMapping, memmap_backing, present_sections,
                                     vmemmap_mapping_pages, vmemmap_mappings)

__all__ = ["VmemmapView", "BACKING_COLORS", "PHYS_COLORS", "ARCH_CHOICES", "KERNEL_CHOICES"]

#: Who backs a vmemmap mapping (Okabe-Ito: vermillion as the page map's self-hosted memmap, blue, dark brown).
BACKING_COLORS = {ALTMAP: PAGEMAP["selfhosted"], NODE: OKABE_ITO["blue"], BOOT: BROWN}
_BACKING_NAMES = {ALTMAP: "the block's own first pfns (altmap, memmap_on_memory)",
                  NODE: "node memory, allocated at hot-add (vmemmap_alloc_block())",
                  BOOT: "boot memory of the node (allocated at boot)"}
_BACKING_SHORT = {ALTMAP: "own pfns (altmap)", NODE: "node memory (hot-add)", BOOT: "boot memory"}
#: Physical memory by the state of its block (light tints, so the mappings' colours stand out).
PHYS_COLORS = {"boot": "#E6DCCF", "online": "#CFE8DC", "offline": "#DDDDDD", "removed": "#FFFFFF"}
_UNMAPPED = "#FFFFFF"
ARCH_CHOICES = ("x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "s390x")
KERNEL_CHOICES = ("5.10", "6.1", "6.12", "7.2")
_STYLE = {"description_width": "initial"}

# y of the two bands' centres (the y range runs from -0.75 at the bottom to 3.75 at the top)
_VY, _PY, _BAND_H = 2.6, 0.4, 0.8
_NODE_W, _GAP_W, _MIN_SLICE = 1.6, 0.6, 0.12
_OVERVIEW_BINS = 512


def _hexr(lo: int, hi: int) -> str:
    return f"{lo:#x}-{hi - 1:#x}"


class VmemmapView:
    """The vmemmap of a few sections around a memory block: PMD/PTE mappings above, physical memory below."""

    def __init__(self, machine: Machine | None = None, block_id: int | None = None, context: int = 2,
                 controls: bool = True, kernel: str = "6.12", arch: str = "x86_64", block_size: int | None = None,
                 memmap_on_memory: bool = True, plot_width: int = 880) -> None:
        """Follow ``machine``, or (``machine=None``) boot one: ``kernel``, ``arch``, ``block_size``, the parameter.

        ``context`` present sections are shown on each side of the block; ``controls`` adds a
        :class:`~widgets.controls.ControlPanel` (hot-add, state, hot-remove) that drives the machine.
        """
        self.own_machine = machine is None
        self.m = machine if machine is not None else self._boot(kernel, arch, block_size, memmap_on_memory)
        self.context = context
        self.plot_width = plot_width
        self.script: list[Action] = []            # the DIMM and state actions, replayed after a reboot
        self.block_id = self._default_block() if block_id is None else int(block_id)
        self.columns: list[int] = []              # the sections of the window, left to right
        self.mappings: dict[int, list[VmemmapMapping]] = {}
        self._syncing = False
        self.error = ""
        # --- the window figure -----------------------------------------------------------------------
        self.vsrc = ColumnDataSource(self._empty("x", "y", "w", "color", "line", "dash", "hatch", "section",
                                                 "kind", "vaddr", "describes", "backing", "key"))
        self.psrc = ColumnDataSource(self._empty("x", "y", "w", "color", "dash", "section", "pfns", "block",
                                                 "state", "memmap", "key"))
        self.slices = ColumnDataSource(self._empty("x", "y", "w", "h", "color", "hatch", "text"))
        self.nodes = ColumnDataSource(self._empty("x", "y", "w", "text", "nid", "tip"))
        self.links = ColumnDataSource(self._empty("x0", "y0", "x1", "y1", "color", "backing"))
        self.labels = ColumnDataSource(self._empty("x", "y", "text", "align", "color"))
        self.fig = figure(width=plot_width, height=360, x_range=Range1d(0, 1), y_range=Range1d(-0.75, 3.75),
                          tools="pan,wheel_zoom,reset", toolbar_location="right")
        self.fig.segment("x0", "y0", "x1", "y1", source=self.links, line_color="color", line_alpha=0.75,
                         line_width=1.5)
        vr = self.fig.rect("x", _VY, width="w", height=_BAND_H, source=self.vsrc, fill_color="color",
                           line_color="line", line_dash="dash", hatch_pattern="hatch", hatch_color="white",
                           hatch_alpha=0.6, hatch_scale=6)
        pr = self.fig.rect("x", _PY, width="w", height=_BAND_H, source=self.psrc, fill_color="color",
                           line_color="#666666", line_dash="dash")
        self.fig.rect("x", "y", width="w", height="h", source=self.slices, fill_color="color", line_color="#222222",
                      hatch_pattern="hatch", hatch_color="white", hatch_alpha=0.7, hatch_scale=5)
        nr = self.fig.rect("x", _PY, width="w", height=_BAND_H, source=self.nodes, fill_color="#F4F4F4",
                           line_color="#222222")
        self.fig.add_layout(LabelSet(x="x", y=_PY, text="text", source=self.nodes, text_align="center",
                                     text_baseline="middle", text_font_size="8pt", text_color="#111111"))
        self.fig.add_layout(LabelSet(x="x", y="y", text="text", source=self.labels, text_align="align",
                                     text_baseline="middle", text_font_size="8.5pt", text_color="color"))
        self.fig.add_tools(HoverTool(renderers=[vr], tooltips=[
            ("section", "@section"), ("mapping", "@kind"), ("address", "@vaddr"), ("struct pages of", "@describes"),
            ("backed by", "@backing")]))
        self.fig.add_tools(HoverTool(renderers=[pr], tooltips=[
            ("section", "@section"), ("pfns", "@pfns"), ("block", "@block"), ("state", "@state"),
            ("its memmap", "@memmap")]))
        self.fig.add_tools(HoverTool(renderers=[nr], tooltips=[("node", "@nid"), ("memory", "@tip")]))
        self.fig.grid.visible = False
        self.fig.toolbar.logo = None
        self.fig.yaxis.ticker = FixedTicker(ticks=[_PY, _VY])
        self.fig.yaxis.major_label_overrides = {_PY: "physical memory", _VY: "vmemmap (virtual)"}
        self.fig.yaxis.major_label_text_font_size = "9pt"
        self.fig.xaxis.ticker = FixedTicker(ticks=[])
        self.fig.outline_line_color = "#888888"
        # --- the overview ----------------------------------------------------------------------------
        self.osrc = ColumnDataSource(self._empty("left", "right", "color", "first_section", "sections", "what"))
        self.owin = ColumnDataSource(self._empty("left", "right", "color"))
        self.overview = figure(width=plot_width, height=110, x_range=Range1d(0, 1), y_range=Range1d(0, 1),
                               tools="tap,reset", toolbar_location=None, x_axis_label="section")
        orr = self.overview.quad(left="left", right="right", bottom=0.15, top=0.85, source=self.osrc,
                                 fill_color="color", line_color=None, selection_fill_alpha=1.0,
                                 nonselection_fill_alpha=1.0, selection_line_color="black")
        self.overview.quad(left="left", right="right", bottom=0.02, top=0.98, source=self.owin, fill_alpha=0.0,
                           line_color="color", line_width=2)
        self.overview.add_tools(HoverTool(renderers=[orr], tooltips=[("sections", "@sections"), ("memmap", "@what")]))
        self.overview.select_one(TapTool).renderers = [orr]
        self.overview.yaxis.visible = False
        self.overview.grid.visible = False
        self.overview.toolbar.logo = None
        self.overview.title.text_font_size = "9pt"
        self.osrc.selected.on_change("indices", self._on_overview_tap)
        # --- ipywidgets ------------------------------------------------------------------------------
        self.picker = block_picker(self.m, self.block_id, "window on")
        self.picker.observe(self._on_pick, names="value")
        self.stats = HTML()
        self.policy = HTML()
        self.legend = HTML()
        self.boot_row: HBox | None = None
        if self.own_machine:
            self.kernel = Dropdown(options=list(KERNEL_CHOICES), value=self.m.kernel.name, description="kernel",
                                   style=_STYLE, layout=Layout(width="140px"))
            self.arch = Dropdown(options=list(ARCH_CHOICES), value=self.m.arch.name, description="arch",
                                 style=_STYLE, layout=Layout(width="170px"))
            self.block_size = Dropdown(options=[("the arch's own", 0), ("2 GiB", 2 * GiB)],
                                       value=block_size or 0, description="block size", style=_STYLE,
                                       layout=Layout(width="210px"))
            self.memmap_on_memory = ToggleButtons(options=[("memmap_on_memory=1", True),
                                                           ("memmap_on_memory=0", False)],
                                                  value=memmap_on_memory, style={"button_width": "185px"})
            for w in (self.kernel, self.arch, self.block_size, self.memmap_on_memory):
                w.observe(lambda _c: self.reboot(), names="value")
            self.boot_row = HBox([self.kernel, self.arch, self.block_size, self.memmap_on_memory])
        self.controls: ControlPanel | None = None
        if controls:
            self.controls = ControlPanel(self.m, show_trace=False)
            self.controls.on_change.append(self._after_action)
        self.refresh()                      # before wrapping: the widgets' first render is current
        self.overview_plot = bokeh_widget(self.overview)
        self.plot = bokeh_widget(self.fig)
        parts: list[Any] = []
        if self.boot_row is not None:
            parts.append(self.boot_row)
        if self.controls is not None:
            parts.append(self.controls.widget)
        parts += [self.policy, HBox([self.picker]), self.overview_plot, self.plot, self.legend, self.stats]
        self.widget = VBox(parts)

    # ------------------------------------------------------------------------------------------
    # the machine
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _boot(kernel: str, arch: str, block_size: int | None, memmap_on_memory: bool) -> Machine:
        """A fresh machine: node 0 with 1 GiB at boot, an empty node 1 for DIMMs, blocks come up offline."""
        kwargs: dict[str, Any] = {"arch": arch,
                                  "cmdline": f"memory_hotplug.memmap_on_memory={int(memmap_on_memory)} "
                                             "memhp_default_state=offline"}
        if block_size:
            kwargs.update(block_size=block_size, maxmem_bytes=max(64 * GiB, 16 * block_size))
        return make_machine(kernel, **kwargs)

    def _default_block(self) -> int:
        hot = [b.id for b in self.m.blocks.values() if not b.boot]
        return min(hot) if hot else max(self.m.blocks, default=0)

    def reboot(self, kernel: str | None = None, arch: str | None = None, block_size: int | None = None,
               memmap_on_memory: bool | None = None) -> list[ActionRecord]:
        """Boot a new machine (the view's own) with these settings.

        With the same architecture and block size, the DIMM and state actions done so far are
        replayed on it; another architecture or block size starts from an empty machine.
        """
        if not self.own_machine:
            raise RuntimeError("the view follows a machine it did not boot; reboot that machine instead")
        if self._syncing:
            return []
        self._syncing = True
        try:
            for w, v in ((self.kernel, kernel), (self.arch, arch), (self.block_size, block_size),
                         (self.memmap_on_memory, memmap_on_memory)):
                if v is not None:
                    w.value = v
        finally:
            self._syncing = False
        old = self.m
        self.m = self._boot(self.kernel.value, self.arch.value, self.block_size.value or None,
                            self.memmap_on_memory.value)
        same_geometry = (self.m.arch.name, self.m.block_size) == (old.arch.name, old.block_size)
        if not same_geometry:
            self.script = []                  # block ids and sizes mean something else now: start empty
        records = run_actions(self.m, self.script)
        if self.controls is not None:
            self.controls.m = self.m
            sizes = [v for _, v in self.controls.add_size.options]
            fit = [s for s in sizes if s >= self.m.block_size and s % self.m.block_size == 0]
            self.controls.add_size.value = fit[0] if fit else sizes[-1]
            self.controls.refresh()
            done = "; ".join(f"{r.command.splitlines()[-1] if r.command else r.action}: "
                             f"{'ok' if r.ok else r.errno_name or r.result}" for r in records)
            self.controls.output.value = (f"<div class='reboot'>booted {esc(self.m.kernel.label)}, "
                                          f"{esc(self.m.arch.name)}, <code>{esc(self.m.cmdline)}</code>; "
                                          f"replayed {len(records)} action(s){': ' + esc(done) if done else ''}</div>")
        if not same_geometry:
            self.block_id = self._default_block()
        self.refresh()
        return records

    def _after_action(self, rec: ActionRecord) -> None:
        """The control panel acted: remember the action for a reboot, open the block it touched, redraw."""
        action = self._replayable(rec)
        if action is not None:
            self.script.append(action)
        if rec.action == "dimm_add" and getattr(rec.value, "blocks", None):
            self.block_id = int(rec.value.blocks[0])
        elif rec.action == "online" and self.controls is not None and self.controls.block.value is not None:
            self.block_id = int(self.controls.block.value)
        self.refresh()

    def _replayable(self, rec: ActionRecord) -> Action | None:
        """The scripted action of a control-panel record (DIMMs and state writes; workloads are not replayed)."""
        if rec.action == "dimm_add" and rec.value is not None:
            d = self.m.dimms.get(rec.value.id)
            return None if d is None else ("dimm_add", d.size, d.node, d.id)
        if rec.action == "online" and rec.command.startswith("echo "):
            value, path = rec.command[5:].split(" > ", 1)
            return ("write", path, value)
        if rec.action == "dimm_del" and rec.value is not None:
            return ("dimm_del", rec.value.id)
        return None

    def follow(self, panel: ControlPanel) -> None:
        """Redraw after every action of another control panel on the same machine."""
        panel.on_change.append(lambda rec: self._after_action(rec))

    # ------------------------------------------------------------------------------------------
    # selection
    # ------------------------------------------------------------------------------------------
    def _on_pick(self, change: dict[str, Any]) -> None:
        if not self._syncing and change["new"] is not None and int(change["new"]) != self.block_id:
            self.show_block(int(change["new"]))

    def _on_overview_tap(self, attr: str, old: list[int], new: list[int]) -> None:
        """A click on the overview: open the block of the clicked bin's first present section."""
        if not new or self._syncing:
            return
        sec = int(self.osrc.data["first_section"][new[0]])
        bid = self.m.block_of_pfn(sec * self.m.arch.pages_per_section).id
        self.show_block(bid)                  # (the redraw clears the selection: the next click is a change)

    def show_block(self, block_id: int) -> None:
        """Centre the window on ``memory<block_id>``."""
        self.block_id = int(block_id)
        self.refresh()

    def _sync_picker(self) -> None:
        """The picker names the shown block; a removed block is no option: the dropdown then selects nothing."""
        self._syncing = True
        try:
            refresh_block_picker(self.picker, self.m, self.block_id)
            if self.block_id not in self.m.blocks and isinstance(self.picker, Dropdown):
                self.picker.value = None
        finally:
            self._syncing = False

    # ------------------------------------------------------------------------------------------
    # drawing
    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _empty(*keys: str) -> dict[str, list]:
        return {k: [] for k in keys}

    def window_sections(self) -> list[int]:
        """The block's sections (present or not) and up to ``context`` present sections on each side."""
        a, m = self.m.arch, self.m
        ppb = m.block_size >> a.page_shift
        first = self.block_id * ppb // a.pages_per_section
        last = (self.block_id + 1) * ppb // a.pages_per_section
        present = present_sections(m)
        before = present[present < first][-self.context:] if self.context else present[:0]
        after = present[present >= last][:self.context]
        return [int(s) for s in before] + list(range(first, last)) + [int(s) for s in after]

    def refresh(self) -> None:
        """Re-read the machine: window, overview, legend, stats and the memmap_on_memory decision."""
        self._sync_picker()
        self._draw_policy()
        self._draw_overview()
        try:
            vmemmap_mapping_pages(self.m.arch)
            self.error = ""
        except ValueError as e:
            self.error = str(e)
        if self.error:
            self.columns, self.mappings = [], {}
            for src in (self.vsrc, self.psrc, self.slices, self.nodes, self.links, self.labels):
                src.data = {k: [] for k in src.data}
            self.fig.title.text = self.error
            self._counts = {ALTMAP: 0, NODE: 0, BOOT: 0, "unmapped": 0}
            self.stats.value = (f"<p class='figure-summary vmemmap-stats' role='note' data-block='{self.block_id}' "
                                f"data-present='{int(self.block_id in self.m.blocks)}' data-mappings='0' "
                                "data-huge='0' data-altmap='0' data-node='0' data-boot='0' data-error='1' "
                                f"style='font-size:12px'><b>Figure:</b> not drawn: {esc(self.error)}</p>")
            self.legend.value = ""
            return
        self.columns = self.window_sections()
        self.mappings = vmemmap_mappings(self.m, self.columns)
        self._draw_window()

    def _draw_policy(self) -> None:
        """What mhp_supports_memmap_on_memory() says for one block of this machine, and why."""
        m, a = self.m, self.m.arch
        why = memmap_on_memory_refusal(m)
        V = memory_block_memmap_on_memory_pages(m)
        size = format_bytes(V * a.page_size)
        try:
            unit = vmemmap_mapping_pages(a)
            maps = f"{-(-V // unit)} PMD(s) of {format_bytes(a.pmd_size)}" if unit > 1 else \
                f"{V} base pages (PTEs) of {format_bytes(a.page_size)}: this arch maps the vmemmap with base pages"
        except ValueError:
            maps = "PMDs shared between sections"
        head = (f"{m.kernel.label}, {a.name}, {format_bytes(m.block_size)} blocks, "
                f"<code>memory_hotplug.memmap_on_memory={esc(m.params.memmap_on_memory)}</code>")
        # 5.13-6.7 ask mhp_supports_memmap_on_memory(size) of the whole add: only a one-block add self-hosts
        scope = ("" if m.kernel.altmap_per_block else
                 f", but only in an add of exactly one block: {esc(m.kernel.label)} takes a bigger add's memmap "
                 "from node memory")
        verdict = (f"memmap on memory: <b>yes</b>: each block's memmap, {V} pages ({size}) = {maps}, comes from "
                   f"the block's own first pfns{scope}" if why is None else
                   f"memmap on memory: <b>no</b>: {esc(why)}. A block's memmap is {V} pages ({size}) = {maps}, "
                   "taken from node memory")
        self.policy.value = (f"<div class='vmemmap-policy' data-supported='{int(why is None)}' "
                             f"style='font-size:12px;max-width:{self.plot_width}px'>{head}<br>{verdict}</div>")

    def _x_positions(self) -> tuple[dict[int, float], list[float], list[int], float]:
        """Left x of every window column, the x of the gaps (holes) between them, the nodes drawn, and the width."""
        cols = self.columns
        nids = {x.nid for maps in self.mappings.values() for x in maps if x.backing in (BOOT, NODE)
                and not self._in_window(x)} | {min(self.m.nodes)}
        nodes = sorted(nids)
        x = len(nodes) * (_NODE_W + 0.4) + 0.3
        xs: dict[int, float] = {}
        gaps: list[float] = []
        prev = None
        for s in cols:
            if prev is not None and s != prev + 1:
                gaps.append(x + _GAP_W / 2)
                x += _GAP_W
            xs[s] = x
            x += 1.0
            prev = s
        return xs, gaps, nodes, x + 0.2

    def _in_window(self, mp: VmemmapMapping) -> bool:
        """The memory behind ``mp`` is a placed pfn inside a section of the window."""
        if mp.backing_pfn < 0:
            return False
        return mp.backing_pfn // self.m.arch.pages_per_section in set(self.columns)

    def _draw_window(self) -> None:
        m, a = self.m, self.m.arch
        pps, ppb = a.pages_per_section, m.block_size >> a.page_shift
        xs, gaps, nodes, width = self._x_positions()
        node_x = {nid: 0.3 + i * (_NODE_W + 0.4) + _NODE_W / 2 for i, nid in enumerate(nodes)}
        base = VMEMMAP_BASE.get(a.name)
        v: dict[str, list] = self._empty(*self.vsrc.data)
        p: dict[str, list] = self._empty(*self.psrc.data)
        links: dict[str, list] = self._empty(*self.links.data)
        counts = {ALTMAP: 0, NODE: 0, BOOT: 0, "unmapped": 0}
        huge = set()
        # the block memmap slices first: where in its column each placed backing pfn is drawn
        slices = self._slices(xs)
        for s in self.columns:
            x0 = xs[s]
            maps = self.mappings[s]
            pfn0 = s * pps
            blk = m.blocks.get(pfn0 // ppb)
            # physical
            if blk is None:
                state, color, dash = "removed (no section)", PHYS_COLORS["removed"], "dashed"
            elif blk.boot:
                state, color, dash = f"online (boot, node {blk.nid})", PHYS_COLORS["boot"], "solid"
            else:
                zone = f", {blk.zone.name}" if blk.zone is not None and blk.state_name() == "online" else ""
                state, color, dash = f"{blk.state_name()}{zone} (node {blk.nid})", \
                    PHYS_COLORS["online" if blk.state_name() == "online" else "offline"], "solid"
            if maps:
                kinds = {x.backing for x in maps}
                memmap = " + ".join(_BACKING_NAMES[k] for k in sorted(kinds))
            else:
                memmap = "not mapped: the section is not present"
            p["x"].append(x0 + 0.5), p["y"].append(_PY), p["w"].append(0.92), p["color"].append(color)
            p["dash"].append(dash), p["section"].append(s), p["pfns"].append(_hexr(pfn0, pfn0 + pps))
            p["block"].append(f"memory{pfn0 // ppb}"), p["state"].append(state)
            p["memmap"].append(memmap), p["key"].append("removed" if blk is None else
                                                         "boot" if blk.boot else blk.state_name())
            # virtual
            if not maps:
                counts["unmapped"] += 1
                self._vrect(v, x0 + 0.5, 0.92, _UNMAPPED, "#888888", "dashed", "blank", s, "not mapped",
                            self._vaddr(base, pfn0 * a.struct_page_size), _hexr(pfn0, pfn0 + pps),
                            "nothing: no section here", "unmapped")
                continue
            n = len(maps)
            w = 1.0 / n
            for i, mp in enumerate(maps):
                counts[mp.backing] += 1
                huge.add(mp.huge)
                kind = f"{'PMD' if mp.huge else 'PTE'} ({format_bytes(mp.size)})"
                cx = x0 + (i + 0.5) * w
                # a PMD: a box with a dark outline; base pages (PTEs): side by side, white borders (stripes)
                self._vrect(v, cx, w * (0.9 if mp.huge else 1.0), BACKING_COLORS[mp.backing],
                            "#222222" if mp.huge else "#FFFFFF", "solid", "blank", s, kind,
                            self._vaddr(base, mp.offset), _hexr(mp.pfn, mp.pfn + mp.nr_pfns),
                            self._backing_text(mp), mp.backing)
                target = self._target(mp, xs, slices, node_x)
                if target is not None and (mp.huge or i == 0 or self._target(maps[i - 1], xs, slices, node_x)
                                           != target):
                    links["x0"].append(cx if mp.huge or n == 1 else x0 + 0.5)
                    links["y0"].append(_VY - _BAND_H / 2), links["x1"].append(target)
                    links["y1"].append(_PY + _BAND_H / 2), links["color"].append(BACKING_COLORS[mp.backing])
                    links["backing"].append(mp.backing)
        self.vsrc.data, self.psrc.data, self.links.data = v, p, links
        self.slices.data = {"x": [sl[0] for sl in slices.values()], "y": [_PY] * len(slices),
                            "w": [sl[1] for sl in slices.values()], "h": [_BAND_H * 0.7] * len(slices),
                            "color": [sl[2] for sl in slices.values()], "hatch": [sl[3] for sl in slices.values()],
                            "text": [sl[4] for sl in slices.values()]}
        self.nodes.data = {"x": [node_x[n] for n in nodes], "y": [_PY] * len(nodes), "w": [_NODE_W] * len(nodes),
                           "text": [f"node {n}\nmemory" for n in nodes], "nid": [str(n) for n in nodes],
                           "tip": ["its boot memory is kept as counts: the pfns behind these lines are not "
                                   "modelled"] * len(nodes)}
        self._draw_labels(xs, gaps, nodes, width)
        self.fig.x_range.update(start=0, end=width)
        self.fig.xaxis.ticker = FixedTicker(ticks=[xs[s] + 0.5 for s in self.columns])
        self.fig.xaxis.major_label_overrides = {xs[s] + 0.5: str(s) for s in self.columns}
        self.fig.xaxis.axis_label = (f"section ({format_bytes(a.section_size)} of memory, "
                                     f"{format_bytes(a.memmap_bytes(pps))} of struct pages each)")
        self._counts = counts
        self._draw_legend(counts)
        self._draw_stats(counts, huge)

    @staticmethod
    def _vrect(v: dict[str, list], x: float, w: float, color: str, line: str, dash: str, hatch: str, section: int,
               kind: str, vaddr: str, describes: str, backing: str, key: str) -> None:
        for k, val in (("x", x), ("y", _VY), ("w", w), ("color", color), ("line", line), ("dash", dash),
                       ("hatch", hatch), ("section", section), ("kind", kind), ("vaddr", vaddr),
                       ("describes", describes), ("backing", backing), ("key", key)):
            v[k].append(val)

    @staticmethod
    def _vaddr(base: int | None, offset: int) -> str:
        """``vmemmap + 0x...``, and the address itself where the model knows vmemmap (x86_64, no KASLR)."""
        return f"vmemmap + {offset:#x}" + (f" = {base + offset:#x}" if base is not None else "")

    def _backing_text(self, mp: VmemmapMapping) -> str:
        a = self.m.arch
        if mp.backing == ALTMAP:
            n = mp.size // a.page_size
            return f"memory{mp.block}'s own pfns {_hexr(mp.backing_pfn, mp.backing_pfn + n)} (altmap)"
        if mp.backing == NODE:
            where = (f"pfn {mp.backing_pfn:#x}" if mp.backing_pfn >= 0
                     else "boot memory there: pfn not modelled")
            return f"node {mp.nid} {mp.zone}, order-{(mp.size // a.page_size).bit_length() - 1} block ({where})"
        return f"node {mp.nid} boot memory (memblock; pfns not modelled)"

    def _slices(self, xs: dict[int, float]) -> dict[tuple[str, int], tuple[float, float, str, str, str, int, int]]:
        """The placed memory behind the window's mappings, per block: (x, width, colour, hatch, text, first, end).

        A block's self-hosted memmap is drawn to scale where that is wide enough, else widened to
        :data:`_MIN_SLICE` of a column; node memory allocated from a block in the window likewise.
        """
        a = self.m.arch
        pps = a.pages_per_section
        spans: dict[tuple[str, int], list[int]] = {}
        for maps in self.mappings.values():
            for mp in maps:
                if not self._in_window(mp):
                    continue
                key = (mp.backing, self.m.block_of_pfn(mp.backing_pfn).id)
                n = mp.size // a.page_size
                lo, hi = spans.get(key, [mp.backing_pfn, mp.backing_pfn + n])
                spans[key] = [min(lo, mp.backing_pfn), max(hi, mp.backing_pfn + n)]
        out = {}
        for key, (lo, hi) in spans.items():
            sec = lo // pps
            if sec not in xs:
                continue
            left = xs[sec] + 0.04 + 0.92 * (lo - sec * pps) / pps
            w = 0.92 * (hi - lo) / pps
            text = f"pfns {_hexr(lo, hi)}"
            if w < _MIN_SLICE:
                w, text = _MIN_SLICE, text + " (drawn wider than to scale)"
            out[key] = (left + w / 2, w, BACKING_COLORS[key[0]], "/" if key[0] == ALTMAP else "blank", text, lo, hi)
        return out

    def _target(self, mp: VmemmapMapping, xs: dict[int, float], slices: dict, node_x: dict[int, float]) -> float | None:
        """x of the memory behind a mapping: inside its slice when placed in the window, else its node's box."""
        if self._in_window(mp):
            key = (mp.backing, self.m.block_of_pfn(mp.backing_pfn).id)
            sl = slices.get(key)
            if sl is not None:
                cx, w, _c, _h, _t, lo, hi = sl
                frac = (mp.backing_pfn - lo + 0.5 * mp.size // self.m.arch.page_size) / max(hi - lo, 1)
                return cx - w / 2 + w * frac
        return node_x.get(mp.nid)

    def _draw_labels(self, xs: dict[int, float], gaps: list[float], nodes: list[int], width: float) -> None:
        """Block names under the physical band, the memmap's story above the vmemmap band, holes between."""
        m, a = self.m, self.m.arch
        ppb = m.block_size >> a.page_shift
        lab: dict[str, list] = self._empty(*self.labels.data)

        def put(x: float, y: float, text: str, align: str = "center", color: str = "#111111") -> None:
            lab["x"].append(x), lab["y"].append(y), lab["text"].append(text), lab["align"].append(align)
            lab["color"].append(color)

        groups: list[tuple[Any, list[int]]] = []
        for s in self.columns:
            bid = s * a.pages_per_section // ppb
            blk = m.blocks.get(bid)
            key = ("boot", blk.nid) if blk is not None and blk.boot else ("block", bid)
            if groups and groups[-1][0] == key and s == groups[-1][1][-1] + 1:
                groups[-1][1].append(s)
            else:
                groups.append((key, [s]))
        px = (self.plot_width - 140) / width
        for (kind, ident), secs in groups:
            lo, hi = xs[secs[0]], xs[secs[-1]] + 1.0
            room = (hi - lo) * px / 6.2                       # characters that fit at 8.5pt
            if kind == "boot":
                phys, virt = [f"node {ident} boot memory", f"node {ident} boot"], ["memmap from boot memory", "boot"]
            else:
                blk = m.blocks.get(ident)
                if blk is None:
                    phys, virt = [f"memory{ident}: removed", f"memory{ident}"], ["not mapped", "none"]
                else:
                    zone = f" ({blk.zone.name})" if blk.zone is not None and blk.state_name() == "online" else ""
                    phys = [f"memory{ident}: {blk.state_name()}{zone}", f"memory{ident}\n{blk.state_name()}{zone}",
                            f"memory{ident}", str(ident)]
                    virt = self._story(blk.id, [mp for s in secs for mp in self.mappings[s]])
            for texts, y in ((phys, -0.3), (virt, 3.3)):
                fit = [t for t in texts if max(len(line) for line in t.split("\n")) <= room]
                put((lo + hi) / 2, y, fit[0] if fit else "")
        for g in gaps:
            put(g, _PY, "\u2026", color="#666666")
            put(g, _VY, "\u2026", color="#666666")
        self.labels.data = lab

    def _story(self, bid: int, maps: list[VmemmapMapping]) -> list[str]:
        """What the vmemmap band says over a block, longest first: how many mappings, how big, backed by what."""
        if not maps:
            return ["not mapped", "none"]
        a = self.m.arch
        kinds = {mp.backing for mp in maps}
        n = len(maps)
        what = ("PMD" if maps[0].huge else "PTE") + ("s" if n > 1 else "")
        size = format_bytes(maps[0].size)
        if kinds == {ALTMAP}:
            pages = sum(mp.size for mp in maps) // a.page_size
            return [f"{n} {what} of {size} from memory{bid}'s own first {pages:,} pfns",
                    f"{n} {what} of {size}\nfrom its own first {pages:,} pfns",
                    f"{n} {what} of {size}\nfrom its own\nfirst {pages:,} pfns", f"{n} {what}, own pfns", f"{n} {what}"]
        nodes = ", ".join(str(nid) for nid in sorted({mp.nid for mp in maps}))
        return [f"{n} {what} of {size} from node {nodes} memory", f"{n} {what} of {size}\nfrom node {nodes} memory",
                f"{n} {what}, node {nodes}", f"{n} {what}"]

    def _draw_legend(self, counts: dict[str, int]) -> None:
        """Two small tables under the figure: the vmemmap's mappings (with counts) and physical memory."""
        sw = ("<span style='display:inline-block;width:12px;height:12px;background:{c};border:1px {b} #666;"
              "vertical-align:middle;{extra}'></span>")
        hatch = "background-image:repeating-linear-gradient(45deg,#fff8 0 2px,transparent 2px 5px);"
        virt = ["<table class='vmemmap-legend' style='font-size:12px;border-collapse:collapse'>",
                "<tr><th></th><th style='text-align:left'>vmemmap: a mapping backed by</th>"
                "<th style='text-align:right'>in window</th></tr>"]
        for key in (ALTMAP, NODE, BOOT):
            virt.append(f"<tr data-key='{key}' data-count='{counts[key]}' title='{esc(_BACKING_NAMES[key])}'>"
                        f"<td>{sw.format(c=BACKING_COLORS[key], b='solid', extra='')}</td>"
                        f"<td style='white-space:nowrap'>{esc(_BACKING_NAMES[key])}</td>"
                        f"<td style='text-align:right'>{counts[key]}</td></tr>")
        virt.append(f"<tr data-key='unmapped' data-count='{counts['unmapped']}'><td>"
                    f"{sw.format(c=_UNMAPPED, b='dashed', extra='')}</td><td>not mapped: no section there</td>"
                    f"<td style='text-align:right'>{counts['unmapped']}</td></tr>")
        stripes = "background-image:repeating-linear-gradient(90deg,transparent 0 3px,#fff 3px 4px);"
        virt.append(f"<tr data-key='pte'><td>{sw.format(c=BACKING_COLORS[NODE], b='solid', extra=stripes)}</td>"
                    "<td>striped: one base-page (PTE) mapping per stripe; a framed box is one PMD</td><td></td>"
                    "</tr></table>")
        phys = ["<table class='vmemmap-legend-phys' style='font-size:12px;border-collapse:collapse'>",
                "<tr><th></th><th style='text-align:left'>physical memory</th></tr>"]
        for key, c, label in (("boot", PHYS_COLORS["boot"], "boot memory"),
                              ("online", PHYS_COLORS["online"], "hot-added, online"),
                              ("offline", PHYS_COLORS["offline"], "hot-added, offline"),
                              ("removed", PHYS_COLORS["removed"], "removed, or a hole (\u2026)")):
            border = "dashed" if key == "removed" else "solid"
            phys.append(f"<tr data-key='phys-{key}'><td>{sw.format(c=c, b=border, extra='')}"
                        f"</td><td style='white-space:nowrap'>{esc(label)}</td></tr>")
        phys.append(f"<tr data-key='phys-memmap'><td>{sw.format(c=BACKING_COLORS[ALTMAP], b='solid', extra=hatch)}"
                    "</td><td style='white-space:nowrap'>pfns that hold a block's own memmap</td></tr>")
        phys.append(f"<tr data-key='phys-node-memmap'><td>{sw.format(c=BACKING_COLORS[NODE], b='solid', extra='')}"
                    "</td><td style='white-space:nowrap'>pfns that hold another block's memmap</td></tr>")
        phys.append("<tr data-key='phys-node'><td>" + sw.format(c="#F4F4F4", b="solid", extra="")
                    + "</td><td style='white-space:nowrap'>a node's memory whose pfns the model does not place</td>"
                    "</tr></table>")
        self.legend.value = compact("<div style='display:flex;gap:28px;align-items:flex-start'>"
                                    + "".join(virt) + "".join(phys) + "</div>")

    def _draw_stats(self, counts: dict[str, int], huge: set[bool]) -> None:
        """The figure's text summary: the selected block's mappings and who backs them (data-* for tests)."""
        m, a = self.m, self.m.arch
        blk = m.blocks.get(self.block_id)
        ppb = m.block_size >> a.page_shift
        own = [mp for s in range(self.block_id * ppb // a.pages_per_section,
                                 (self.block_id + 1) * ppb // a.pages_per_section)
               for mp in self.mappings.get(s, [])]
        by = {k: sum(1 for mp in own if mp.backing == k) for k in (ALTMAP, NODE, BOOT)}
        if blk is None:
            text = (f"memory{self.block_id} is not there (removed, or never added): its sections are not present "
                    "and no part of the vmemmap maps its struct pages.")
        else:
            what = "PMD" if own and own[0].huge else "base-page (PTE)"
            text = (f"memory{blk.id} ({format_bytes(m.block_size)}, {blk.state_name()}): the struct pages of its "
                    f"{ppb // a.pages_per_section} section(s) are mapped by {len(own)} {what} mapping(s); "
                    + ", ".join(f"{n} backed by {_BACKING_NAMES[k]}" for k, n in by.items() if n) + ".")
            if by[ALTMAP]:
                pfns = sorted(mp.backing_pfn for mp in own if mp.backing == ALTMAP)
                text += (f" They live in the block's first {blk.vmemmap_pages:,} pfns "
                         f"({_hexr(pfns[0], pfns[0] + blk.vmemmap_pages)}), which never reach the buddy allocator.")
            placed = sorted({(mp.backing_pfn, mp.size // a.page_size, mp.nid, mp.zone) for mp in own
                             if mp.backing == NODE and mp.backing_pfn >= 0})
            if placed:
                where = ", ".join(f"{_hexr(pfn, pfn + n)} (memory{m.block_of_pfn(pfn).id}, node {nid} {zone})"
                                  for pfn, n, nid, zone in placed[:4])
                text += f" Node memory behind them: pfns {where}{' ...' if len(placed) > 4 else ''}."
            elif by[NODE]:
                text += " That node memory is boot memory, whose pfns the model does not place."
        self.stats.value = (f"<p class='figure-summary vmemmap-stats' role='note' data-block='{self.block_id}' "
                            f"data-present='{int(blk is not None)}' data-mappings='{len(own)}' "
                            f"data-huge='{int(bool(own) and own[0].huge)}' data-altmap='{by[ALTMAP]}' "
                            f"data-node='{by[NODE]}' data-boot='{by[BOOT]}' data-error='0' "
                            f"style='font-size:12px;max-width:{self.plot_width}px'><b>Figure:</b> {esc(text)}</p>")
        self.fig.title.text = (f"vmemmap of {len(self.columns)} sections around memory{self.block_id} "
                               f"({m.kernel.label}, {a.name}; struct page = {a.struct_page_size} bytes, "
                               f"PMD = {format_bytes(a.pmd_size)})")

    def _draw_overview(self) -> None:
        """Every present section of the machine, binned, coloured by who backs its memmap; the window outlined."""
        m, a = self.m, self.m.arch
        pps, ppb = a.pages_per_section, m.block_size >> a.page_shift
        present = present_sections(m)
        if not len(present):
            self.osrc.data = {k: [] for k in self.osrc.data}
            return
        ids = sorted(m.blocks)
        cat_of = np.zeros(ids[-1] + 1, dtype=np.int8)          # 1 boot, 2 node, 3 altmap
        code = {BOOT: 1, NODE: 2, ALTMAP: 3}
        for bid in ids:
            cat_of[bid] = code[memmap_backing(m, m.blocks[bid])]
        blocks = present * pps // ppb
        cats = np.where(blocks < len(cat_of), cat_of[np.minimum(blocks, len(cat_of) - 1)], 2)
        span = int(present[-1]) + 1
        per_bin = max(1, -(-span // _OVERVIEW_BINS))
        bins = present // per_bin
        uniq, first_idx = np.unique(bins, return_index=True)
        best = np.zeros(len(uniq), dtype=np.int8)
        np.maximum.at(best, np.searchsorted(uniq, bins), cats)
        names = {1: BOOT, 2: NODE, 3: ALTMAP}
        colors = [BACKING_COLORS[names[int(c)]] for c in best]
        first = present[first_idx]
        if self.osrc.selected.indices:
            self._syncing = True
            try:
                self.osrc.selected.indices = []
            finally:
                self._syncing = False
        self.osrc.data = {"left": (uniq * per_bin).astype(float), "right": (uniq * per_bin + per_bin).astype(float),
                          "color": colors, "first_section": first.astype(int),
                          "sections": [f"{int(u * per_bin)}-{int(u * per_bin + per_bin - 1)}" if per_bin > 1
                                       else str(int(u)) for u in uniq],
                          "what": [_BACKING_SHORT[names[int(c)]] for c in best]}
        win = self.window_sections()
        lo_b, hi_b = self.block_id * ppb // pps, (self.block_id + 1) * ppb // pps
        self.owin.data = {"left": [float(min(win)), float(lo_b)], "right": [float(max(win) + 1), float(hi_b)],
                          "color": ["#888888", "#000000"]}
        self.overview.x_range.update(start=0, end=float(max(span, hi_b) + 1))
        cell = f"{per_bin} sections per cell; " if per_bin > 1 else ""
        self.overview.title.text = (f"all {len(present):,} present sections ({cell}colour: who backs their memmap; "
                                    "grey frame: the window, black: the block); click to move the window")

    # ------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Mappings in the window per backing (``altmap``, ``node``, ``boot``) and unmapped sections."""
        return dict(self._counts)

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [self.overview_plot, self.plot]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figures' current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
