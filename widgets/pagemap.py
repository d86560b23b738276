"""PageMapView: one memory block, one cell per pfn, coloured by what its struct page says.

The block's pfns are laid out as a 2-D grid (one pageblock per row where that fits, so
512 columns on x86_64) and drawn as one bokeh ``image_rgba``: a 2 GiB block is a single
glyph of 524 288 cells.  The state of every pfn comes from ``Machine.page_state()``;
the kpageflags words shown on hover come from ``Machine.kpageflags()``.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from bokeh.models import (ColumnDataSource, CustomJSHover, CustomJSTickFormatter, HoverTool, LabelSet, Range1d,
                          Title)
from bokeh.plotting import figure
from ipywidgets import HTML, BoundedIntText, Dropdown, HBox, Layout, VBox

from widgets._bokeh import bokeh_widget
from jupyter_bokeh.widgets import BokehModel

from widgets import palette
from widgets._common import block_options, block_picker, display_bundle, esc, refresh_block_picker, summary_html
from widgets.units import format_bytes
from workbook.machine import Machine
from workbook.memory import MemoryBlock
from workbook.pagemap import MIGRATE_ISOLATE, MIGRATETYPE_NAMES, PageKind, kpf_names

__all__ = ["LEGEND_WIDTH", "PageMapView", "STATE_KEYS", "classify", "free_colors", "grid_width", "legend_rows", "rgba",
           "selfhosted_label", "swatch"]

# the legend's classes (uint8 codes); free blocks get one code per order from FREE0 on
OFFLINE, BOOT, SELFHOSTED, PCP, MOVABLE, UNMOVABLE, ISOLATED, FREE0 = range(8)
STATE_KEYS = ("offline", "boot", "selfhosted", "pcp", "movable", "unmovable", "isolated", "free")
# Okabe-Ito based (widgets/palette.py): told apart under protanopia, deuteranopia and tritanopia
_BASE_COLORS = tuple(palette.PAGEMAP[k] for k in STATE_KEYS[:-1])
_PAD = 255                                                         # code of the cells past the block
_SELFHOSTED_TEXT = "#8F3F00"                                       # the self-hosted memmap's name above the map
#: the memmap's second cue, beside its colour: hatched and outlined on the map, hatched in the legend
_HATCH = "/"
_HATCH_CSS = ("repeating-linear-gradient(135deg, rgba(0,0,0,0.55) 0 1.5px, transparent 1.5px 4px), ")
LEGEND_WIDTH = "300px"                                             # the legend column (counts never wrap)
_LINE_PX = 15                                                      # one label line in the band above the map
_MIN_ROW_PX, _MIN_MAP_PX, _MAX_MAP_PX = 6, 300, 600                # rows are at least 6 px tall where they fit

# PageKind -> class (FREE is refined by order, isolation and boot memory afterwards)
_KIND_CLASS = np.full(16, UNMOVABLE, dtype=np.uint8)
_KIND_CLASS[PageKind.UNINIT] = OFFLINE
_KIND_CLASS[PageKind.SELFHOSTED] = SELFHOSTED
_KIND_CLASS[PageKind.FREE] = FREE0
_KIND_CLASS[PageKind.PCP] = PCP
for _k in PageKind.MOVABLE:
    _KIND_CLASS[_k] = MOVABLE

_HOVER_JS = """
const ij = special_vars.image_index;
const fi = (ij == null) ? -1 : ij.flat_index;
if (fi < 0 || fi >= nr) { return "-"; }
const pfn = start + fi;
if (format == "pfn") { return "0x" + pfn.toString(16) + " (+" + fi + ")"; }
if (format == "addr") { return "0x" + (pfn * page_size).toString(16); }
if (format == "state") { return (value < labels.length) ? labels[value] : "-"; }
if (format == "kpf") { return (value < kpf.length) ? kpf[value] : "-"; }
return String(value);
"""


def selfhosted_label(m: Machine) -> str:
    """How this kernel marks self-hosted memmap pages (PageReserved up to 6.10, only VmemmapSelfHosted from 6.11)."""
    k = m.kernel
    if k.selfhosted_reserved and k.vmemmap_self_hosted_flag:
        return "PageReserved + VmemmapSelfHosted"
    if k.selfhosted_reserved:
        return "PageReserved (memmap on memory; no VmemmapSelfHosted flag yet)"
    return "VmemmapSelfHosted (not PageReserved)"


def grid_width(m: Machine) -> int:
    """Cells per row: one pageblock (512 pfns on x86_64) when that is 64..1024 pfns wide, else 512 or 1024."""
    pb = m.arch.pageblock_nr_pages
    if 64 <= pb <= 1024:
        return pb
    return 1024 if pb > 1024 else 512


def _hex(c: str) -> tuple[int, int, int]:
    return int(c[1:3], 16), int(c[3:5], 16), int(c[5:7], 16)


def free_colors(max_order: int) -> list[str]:
    """Colour of a free block of each order 0..max_order: the largest pale, the next one clearly darker, then darker."""
    return palette.free_ramp(max_order)


def swatch(color: str, size: int = 12, hatched: bool = False) -> str:
    """A legend swatch: a square of ``color``, hatched for the self-hosted memmap (its second cue)."""
    pattern = _HATCH_CSS if hatched else ""
    return (f"<span style='display:inline-block;width:{size}px;height:{size}px;background:{pattern}{color};"
            f"border:1px solid {'#000' if hatched else '#888'}'></span>")


def _colors(max_order: int) -> list[str]:
    """The colour of every class code: the fixed classes, then the free-order ramp."""
    return list(_BASE_COLORS) + free_colors(max_order)


def rgba(colors: list[str]) -> np.ndarray:
    """uint32 RGBA words (little-endian, as image_rgba wants them) of ``#rrggbb`` colours, plus a transparent pad."""
    out = np.zeros(256, dtype=np.uint32)
    for i, c in enumerate(colors):
        r, g, b = _hex(c)
        out[i] = r | g << 8 | b << 16 | 0xFF << 24
    return out


def classify(m: Machine, start_pfn: int, nr: int, free_orders: bool = True) -> tuple[np.ndarray, Any]:
    """Per-pfn legend class of ``[start_pfn, start_pfn + nr)`` from ``Machine.page_state()``; also the PageState.

    ``free_orders=False`` gives every free pfn the class of the largest order (one shade for all free pages).
    """
    ps = m.page_state(start_pfn, nr)
    cls = _KIND_CLASS[ps.kind]
    free = cls == FREE0
    order = np.clip(ps.free_order[free], 0, m.arch.max_page_order) if free_orders else m.arch.max_page_order
    cls[free] = FREE0 + np.asarray(order).astype(np.uint8)
    isolated = (ps.pageblock_mt == MIGRATE_ISOLATE) & (ps.kind != PageKind.UNINIT) & (ps.kind != PageKind.SELFHOSTED)
    cls[isolated] = ISOLATED
    cls[ps.boot] = BOOT
    return cls, ps


# short legend labels (the detail is the row's tooltip); the hover over a pfn gives the kernel's names
_SHORT = {OFFLINE: "offline", BOOT: "boot memory", SELFHOSTED: "memmap (self-hosted)", FREE0: "free (buddy)",
          PCP: "free, on a pcp list", MOVABLE: "movable (anon, THP)", UNMOVABLE: "unmovable (kernel, slab)",
          ISOLATED: "isolated pageblock"}
_LEGEND_ORDER = (SELFHOSTED, FREE0, PCP, MOVABLE, UNMOVABLE, ISOLATED, OFFLINE, BOOT)
_Y_TICKS_JS = "return tick < 0 ? '' : tick.toLocaleString('en-US');"   # no ticks in the label band
_CELL = "padding:1px 4px;line-height:16px;"                          # compact rows (Lab pads table cells)


def compact(table_html: str) -> str:
    """Compact table cells: JupyterLab's stylesheet pads every cell of rendered HTML."""
    return (table_html.replace("<td style='", f"<td style='{_CELL}").replace("<td>", f"<td style='{_CELL}'>")
            .replace("<th style='", f"<th style='{_CELL}").replace("<th>", f"<th style='{_CELL}'>"))


#: boot memory in the model: zone counts, no per-page state (so no kpageflags word but the holes')
_BOOT_MODEL = "the model keeps its counts, not each page's state"
_BOOT_KPF = ("not modelled for boot RAM (a real kernel reads each page's own flags); RESERVED in the holes "
             "(pfn 0, e820 gaps)")


def _detail(i: int, m: Machine, free_orders: bool = True) -> str:
    """The long description of a legend class (a legend row's tooltip, and the hover of boot/offline pfns)."""
    if i >= FREE0:
        return ("free in the buddy allocator; shade = order of the free block (light = large, dark = small)"
                if free_orders else "free in the buddy allocator")
    return {OFFLINE: "offline / no struct page", BOOT: f"boot memory ({_BOOT_MODEL})",
            SELFHOSTED: f"self-hosted memmap: {selfhosted_label(m)}", PCP: "free, on a per-cpu (pcp) list",
            MOVABLE: "movable (anon / THP)", UNMOVABLE: "unmovable (slab / kernel / compound / page table)",
            ISOLATED: "in an isolated pageblock (MIGRATE_ISOLATE)"}[i]


def legend_rows(m: Machine, colors: list[str], columns: list[tuple[dict[str, int], dict[int, int]]],
                free_orders: bool = True) -> str:
    """Legend table rows: one per class, then one per free order present; one count column per (counts, orders).

    ``free_orders=False``: one row for all free pfns, no row per order.
    """
    rows = []
    for i in _LEGEND_ORDER:
        key = STATE_KEYS[i] if i < FREE0 else "free"
        ns = [c.get(key, 0) for c, _ in columns]
        color = colors[-1] if i == FREE0 else colors[i]
        label = ("free (buddy); shade = order" if free_orders else "free (buddy)") if i == FREE0 else _SHORT[i]
        one = f" data-count='{ns[0]}'" if len(ns) == 1 else ""
        dim = "" if any(ns) else "color:#999;"
        rows.append(f"<tr style='{dim}' data-key='{key}'{one} title='{esc(_detail(i, m, free_orders))}'>"
                    f"<td style='width:16px'>{swatch(color, hatched=i == SELFHOSTED)}</td>"
                    f"<td style='white-space:nowrap'>{esc(label)}</td>"
                    + "".join(f"<td style='text-align:right' data-count='{n}'>{n:,}</td>" for n in ns) + "</tr>")
        if i == FREE0 and free_orders:
            orders = sorted({o for _, fo in columns for o in fo}, reverse=True)
            for o in orders:
                ks = [fo.get(o, 0) for _, fo in columns]
                one = f" data-count='{ks[0]}'" if len(ks) == 1 else ""
                blocks = ", ".join(f"{k // (1 << o):,}" for k in ks)
                rows.append(f"<tr data-key='free-order-{o}'{one} title='{blocks} free block(s) of order {o} "
                            f"({1 << o} pfns each)'><td></td><td style='white-space:nowrap;padding-left:8px'>"
                            f"{swatch(colors[FREE0 + o], 10)} order {o}: {blocks} block(s)</td>"
                            + "".join(f"<td style='text-align:right'>{k:,}</td>" for k in ks) + "</tr>")
    return compact("".join(rows))


class PageMapView:
    """One memory block's pfns as an image: self-hosted memmap, free by order, pcp, movable, unmovable, isolated."""

    def __init__(self, machine: Machine, block_id: int | None = None, width: int | None = None,
                 plot_width: int = 640, picker: bool = True, title: str = "", legend: bool = True,
                 free_orders: bool = True) -> None:
        """Build the figure for ``block_id`` (default: the first hot-plugged block, else block 0).

        ``legend=False`` leaves the legend out of :attr:`widget` (a caller that shows several page maps
        draws one shared legend); :attr:`legend` is filled either way.  ``free_orders=False`` draws every
        free pfn in one shade and names no order of a free block (legend, summary, hover): for a chapter
        that shows a freshly onlined block before the buddy allocator's orders are taught.
        """
        self.m = machine
        self.free_orders = free_orders
        self.width = width or grid_width(machine)
        self.plot_width = plot_width
        self.title_prefix = title
        if block_id is None:
            hot = [b.id for b in machine.blocks.values() if not b.boot]
            block_id = min(hot) if hot else min(machine.blocks, default=0)
        self.block_id: int = block_id
        self._syncing = False
        self._counts: dict[str, int] = {}
        self._free_orders: dict[int, int] = {}
        self._colors = _colors(machine.arch.max_page_order)
        self._rgba = rgba(self._colors)
        self.source = ColumnDataSource(data={"image": [np.zeros((1, self.width), np.uint32)],
                                             "code": [np.zeros((1, self.width), np.uint8)],
                                             "x": [0], "y": [0], "dw": [self.width], "dh": [1]})
        self.lines = ColumnDataSource(data={"x0": [], "y0": [], "x1": [], "y1": []})
        self.marks = ColumnDataSource(data={"x0": [], "y0": [], "x1": [], "y1": [], "color": []})
        self.labels = ColumnDataSource(data={"x": [], "y": [], "yo": [], "text": []})
        self.callout = ColumnDataSource(data={"x": [], "y": [], "color": [], "text": []})
        self.memmap_area = ColumnDataSource(data={"left": [], "right": [], "top": [], "bottom": []})
        self.min_band_lines = 0             # label lines above the map at least (aligns page maps side by side)
        self.fig = figure(width=plot_width, height=200, x_range=Range1d(0, self.width), y_range=Range1d(1, 0),
                          tools="pan,wheel_zoom,box_zoom,reset", toolbar_location="right",
                          x_axis_label="pfn offset in row", y_axis_label="row", match_aspect=False)
        self.image = self.fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source)
        # the self-hosted memmap's second cue: hatched and outlined in black over its colour
        self.fig.quad(left="left", right="right", top="top", bottom="bottom", source=self.memmap_area,
                      fill_alpha=0, hatch_pattern=_HATCH, hatch_color="black", hatch_alpha=0.55, hatch_scale=6,
                      line_color="black", line_width=1.5)
        self.fig.segment("x0", "y0", "x1", "y1", source=self.lines, line_color="black", line_alpha=0.25,
                         line_width=1)
        # the altmap / vmemmap boundaries: dashed, just below the boundary so they never cover the memmap
        self.fig.segment("x0", "y0", "x1", "y1", source=self.marks, line_color="color", line_width=1.5,
                         line_dash=[6, 3])
        self.fig.add_layout(LabelSet(x="x", y="y", text="text", source=self.callout, text_font_size="9pt",
                                     text_font_style="bold", text_color="color", x_offset=5, y_offset=3,
                                     text_baseline="bottom", text_align="left"))
        self.fig.add_layout(LabelSet(x="x", y="y", text="text", source=self.labels, text_font_size="9pt",
                                     x_offset=5, y_offset="yo", text_baseline="middle", text_align="left",
                                     text_color="#111111"))
        self.fig.grid.visible = False
        self.fig.yaxis.formatter = CustomJSTickFormatter(code=_Y_TICKS_JS)
        self.fig.yaxis.ticker.min_interval = 1
        self.fig.outline_line_color = "#888888"
        self.subtitle = Title(text="", text_font_size="9pt", text_font_style="normal")
        self.fig.add_layout(self.subtitle, "above")
        self.hover_fmt = CustomJSHover(code=_HOVER_JS, args={"start": 0, "nr": 0, "page_size": machine.arch.page_size,
                                                              "labels": [], "kpf": []})
        self.fig.add_tools(HoverTool(renderers=[self.image],
                                     tooltips=[("pfn", "@code{pfn}"), ("phys", "@code{addr}"),
                                               ("state", "@code{state}"), ("kpageflags", "@code{kpf}")],
                                     formatters={"@code": self.hover_fmt}))
        self.legend = HTML(layout=Layout(width=LEGEND_WIDTH))
        self.stats = HTML()
        self.altmap = HTML()
        self.summary = HTML()
        # what the hover shows, for any pfn, without a mouse: type an offset (Tab reaches it)
        self.inspect = BoundedIntText(value=0, min=0, max=0, description="inspect pfn +",
                                      style={"description_width": "initial"}, layout=Layout(width="190px"))
        self.inspected = HTML()
        self.inspect.observe(lambda _: self._inspect(), names="value")
        self.picker = block_picker(machine, self.block_id, "memory block") if picker else None
        if self.picker is not None:
            self.picker.observe(self._on_pick, names="value")
        self.refresh()                      # before wrapping: the widget's first render is current
        self.plot = bokeh_widget(self.fig)
        top = [self.picker, self.stats] if self.picker is not None else [self.stats]
        inspector = HBox([self.inspect, self.inspected])
        if legend:
            side = VBox([self.legend, self.altmap], layout=Layout(width=LEGEND_WIDTH, min_width=LEGEND_WIDTH))
            self.widget = VBox([HBox(top), HBox([self.plot, side]), self.summary, inspector])
        else:
            self.widget = VBox([HBox(top), self.plot, self.altmap, self.summary, inspector])

    # ------------------------------------------------------------------------------------------
    def _on_pick(self, change: dict[str, Any]) -> None:
        """The picker chose another block."""
        if not self._syncing and change["new"] is not None and change["new"] != self.block_id:
            self.show_block(int(change["new"]))

    def _sync_picker(self) -> None:
        """Select the shown block in the picker and re-read its labels (``memory32 (online)``, not a stale state)."""
        if self.picker is None:
            return
        if isinstance(self.picker, Dropdown):
            if list(self.picker.options) == block_options(self.m) and self.picker.value == self.block_id:
                return
        elif self.picker.value == self.block_id and self.picker.max == max(self.m.blocks, default=0):
            return
        self._syncing = True
        try:
            refresh_block_picker(self.picker, self.m, self.block_id)
        finally:
            self._syncing = False

    def show_block(self, block_id: int) -> None:
        """Show ``memory<block_id>``."""
        self.block_id = int(block_id)
        self.refresh()

    @property
    def block(self) -> MemoryBlock | None:
        """The shown memory block (None once it was removed)."""
        return self.m.blocks.get(self.block_id)

    def counts(self) -> dict[str, int]:
        """pfns per legend class (keys of :data:`STATE_KEYS`; ``free`` sums every order)."""
        return dict(self._counts)

    def free_by_order(self) -> dict[int, int]:
        """Free (buddy) pfns of the block per order of its free block (none with ``free_orders=False``)."""
        return dict(self._free_orders)

    @property
    def colors(self) -> list[str]:
        """The colour of every class code (the fixed classes, then one per free order)."""
        return list(self._colors)

    # ------------------------------------------------------------------------------------------
    def _size(self, rows: int, band_lines: int) -> tuple[float, int, float]:
        """Rows of label band above the map, the figure height and pixels per row: rows get >= 6 px where that fits."""
        map_px = min(max(rows * _MIN_ROW_PX, _MIN_MAP_PX), _MAX_MAP_PX)
        band_px = band_lines * _LINE_PX + 6
        return band_px * rows / map_px, map_px + band_px + 100, map_px / rows

    def band_lines(self) -> int:
        """Label lines the band above the map needs for the shown block (the memmap's line + one per boundary)."""
        b = self.block
        return 1 + len(self._marks(b)) if b is not None else 0

    def refresh(self) -> None:
        """Re-read the block's page state and push image, boundaries, labels and legend."""
        self._sync_picker()
        b = self.block
        W = self.width
        if b is None:
            self._counts, self._free_orders = {k: 0 for k in STATE_KEYS}, {}
            self.source.data = {"image": [np.zeros((1, W), np.uint32)], "code": [np.full((1, W), _PAD, np.uint8)],
                                "x": [0], "y": [0], "dw": [W], "dh": [1]}
            self.fig.title.text = f"{self.title_prefix}memory{self.block_id}: no such block (removed?)"
            self.subtitle.text = ""
            self.stats.value = (f"<span class='pagemap-stats' data-block='{self.block_id}' data-selfhosted='0'>"
                                f"memory{self.block_id} does not exist</span>")
            self.legend.value = self.altmap.value = ""
            self.summary.value = summary_html(f"Page map: memory{self.block_id} does not exist (removed).")
            self.inspect.max = 0
            self.inspected.value = ""
            self.memmap_area.data = {"left": [], "right": [], "top": [], "bottom": []}
            self.lines.data = {"x0": [], "y0": [], "x1": [], "y1": []}
            self.marks.data = {"x0": [], "y0": [], "x1": [], "y1": [], "color": []}
            self.labels.data = {"x": [], "y": [], "yo": [], "text": []}
            self.callout.data = {"x": [], "y": [], "color": [], "text": []}
            return
        nr = b.nr_pages
        cls, ps = classify(self.m, b.start_pfn, nr, self.free_orders)
        rows = -(-nr // W)
        # legend counts
        bc = np.bincount(cls, minlength=len(self._colors))
        c = {k: int(bc[i]) for i, k in enumerate(STATE_KEYS[:-1])}
        c["free"] = int(bc[FREE0:].sum())
        self._counts = c
        self._free_orders = ({o: int(bc[FREE0 + o]) for o in range(len(bc) - FREE0) if bc[FREE0 + o]}
                             if self.free_orders else {})
        # hover codes: one per (class, PageKind, pageblock migratetype) combination present
        key = cls.astype(np.uint16) << 7
        key |= ps.kind.astype(np.uint16) << 3
        key |= (ps.pageblock_mt + 1).astype(np.uint16)
        present = np.bincount(key)
        ids = np.nonzero(present)[0]
        lut = np.zeros(len(present), dtype=np.uint8)
        lut[ids[:_PAD]] = np.arange(min(len(ids), _PAD), dtype=np.uint8)
        code_flat = lut[key]
        if len(ids) >= _PAD:       # never in practice; keep the class alone
            code_flat, ids = cls, np.arange(len(self._colors))
            labels, kpf = [self._class_label(i) for i in range(len(ids))], ["" for _ in ids]
        else:
            labels, kpf = self._hover_tables(b, ids, key)
        if rows * W == nr:
            img, code = self._rgba[cls], code_flat
        else:
            img = np.zeros(rows * W, dtype=np.uint32)
            img[:nr] = self._rgba[cls]
            code = np.full(rows * W, _PAD, dtype=np.uint8)
            code[:nr] = code_flat
        self.hover_fmt.args = {"start": b.start_pfn, "nr": nr, "page_size": self.m.arch.page_size,
                               "labels": labels, "kpf": kpf}
        self.source.data = {"image": [img.reshape(rows, W)], "code": [code.reshape(rows, W)],
                            "x": [0], "y": [0], "dw": [W], "dh": [rows]}
        marks = self._marks(b)
        band, height, px_row = self._size(rows, max(1 + len(marks), self.min_band_lines))
        self.fig.x_range.update(start=0, end=W)
        self.fig.y_range.update(start=rows, end=-band)
        self.fig.height = int(height)
        self._draw_boundaries(b, rows, marks, c["selfhosted"], px_row)
        zone = b.zone.name if b.zone is not None else "no zone"
        self.fig.title.text = f"{self.title_prefix}memory{b.id}: node {b.nid}, {b.state_name()}, {zone}"
        self._draw_legend(b)
        self._kinds, self._words = cls, None
        self.inspect.max = nr - 1
        self.summary.value = summary_html(self.describe())
        self._inspect()

    # ------------------------------------------------------------------------------------------
    def _class_label(self, i: int) -> str:
        if i >= FREE0:
            return f"free (buddy), order {i - FREE0}" if self.free_orders else "free (buddy)"
        return _detail(i, self.m)

    def _hover_tables(self, b: MemoryBlock, ids: np.ndarray, key: np.ndarray) -> tuple[list[str], list[str]]:
        """Per hover code: the kernel's name of the state and the kpageflags names of one pfn of that state."""
        labels: list[str] = []
        kpf: list[str] = []
        for k in ids.tolist():
            ci, rest = divmod(k, 128)
            kind, mt = divmod(rest, 8)
            mt -= 1
            first = int(np.argmax(key == k))
            word = int(self.m.kpageflags(b.start_pfn + first, 1)[0]) if first < b.nr_pages else 0
            name = PageKind.NAMES[kind] if ci not in (OFFLINE, BOOT) else self._class_label(ci)
            if ci >= FREE0 and self.free_orders:
                name += f", order-{ci - FREE0} block"
            if ci == SELFHOSTED:
                name += f": {selfhosted_label(self.m)}"
            if mt >= 0:
                name += f"; pageblock {MIGRATETYPE_NAMES[mt]}"
            labels.append(name)
            kpf.append(_BOOT_KPF if ci == BOOT else f"{kpf_names(word)} ({word:#x})")
        return labels, kpf

    def describe(self) -> str:
        """The figure in words: what the map shows, the memmap first, then every class present (its alt text)."""
        b = self.block
        if b is None:
            return f"Page map: memory{self.block_id} does not exist (removed)."
        c, a = self._counts, self.m.arch
        zone = b.zone.name if b.zone is not None else "no zone"
        parts = [f"Page map of memory{b.id} ({self.m.kernel.label}, node {b.nid}, {b.state_name()}, {zone}): "
                 f"{b.nr_pages:,} pfns from {b.start_pfn:#x}, {self.width} per row."]
        sh = c.get("selfhosted", 0)
        if sh:
            parts.append(f"The first {sh:,} pfns ({format_bytes(sh * a.page_size)}) are the block's self-hosted "
                         f"memmap, hatched: {selfhosted_label(self.m)}.")
        elif b.vmemmap_pages:
            # offline: the memmap is still there (mapped since hot-add), but its pfns are drawn, and counted
            # below, with the rest of the block's pfns, which no online section describes
            parts.append(f"Its first {b.vmemmap_pages:,} pfns still hold the block's memmap, allocated and mapped "
                         f"at hot-add; the block is {b.state_name()}, so the map draws them like every other pfn.")
        rest = [f"{c[k]:,} {_SHORT[STATE_KEYS.index(k) if k != 'free' else FREE0]}"
                for k in STATE_KEYS if k != "selfhosted" and c.get(k)]
        if rest:
            parts.append(("Then " if sh or not b.vmemmap_pages else "All pfns: ") + ", ".join(rest) + ".")
        if self._free_orders and self.free_orders:
            big = max(self._free_orders)
            parts.append(f"The largest free blocks are order {big} ({self._free_orders[big]:,} pfns).")
        return " ".join(parts)

    def _inspect(self) -> None:
        """What the hover says about pfn ``start_pfn + inspect.value``, as text."""
        b = self.block
        if b is None:
            return
        i = min(int(self.inspect.value), b.nr_pages - 1)
        pfn = b.start_pfn + i
        ci = int(self._kinds[i])
        word = int(self.m.kpageflags(pfn, 1)[0])
        state = self._class_label(ci) if ci in (OFFLINE, BOOT) or ci >= FREE0 else _detail(ci, self.m)
        kpf = f"{kpf_names(word)} ({word:#x})"
        if ci == BOOT:
            kpf = "not modelled" if word == 0 else f"{kpf} (a hole in boot memory: PageReserved)"
        self.inspected.value = (f"<span class='pagemap-inspect' data-pfn='{pfn}' style='font-size:12px'>pfn {pfn:#x} "
                                f"(+{i}), phys {pfn * self.m.arch.page_size:#x}: {esc(state)}; kpageflags "
                                f"{esc(kpf)}</span>")

    def _segments(self, p: int, rows: int, dy: float = 0.0) -> list[tuple[float, float, float, float]]:
        """Line segments separating pfn offsets ``< p`` from ``>= p`` in the grid (moved ``dy`` rows down)."""
        W = self.width
        r, x = divmod(p, W)
        if x == 0:
            return [(0, r + dy, W, r + dy)]
        segs = [(x, r + dy, W, r + dy), (x, r, x, r + 1)]
        if r + 1 <= rows:
            segs.append((0, r + 1 + dy, x, r + 1 + dy))
        return segs

    @staticmethod
    def _columns(segs: list[tuple[float, float, float, float]]) -> dict[str, list[float]]:
        """Segments as the x0/y0/x1/y1 columns of a segment glyph."""
        return {k: [s[i] for s in segs] for i, k in enumerate(("x0", "y0", "x1", "y1"))}

    def _marks(self, b: MemoryBlock) -> list[tuple[int, str]]:
        """The altmap / vmemmap boundaries of the block: (pfn offset, label)."""
        v, am = b.vmemmap_pages, b.altmap
        marks: list[tuple[int, str]] = []
        if am is not None:
            if am.reserve:
                marks.append((am.reserve, f"base_pfn + reserve ({am.reserve})"))
            nxt = am.reserve + am.alloc + am.align
            if nxt != am.reserve + am.free:
                marks.append((nxt, f"next altmap pfn: reserve + alloc + align = {nxt}"))
            marks.append((am.reserve + am.free, f"buddy starts: base_pfn + reserve + free = +{am.reserve + am.free}"))
        elif v:
            marks.append((v, f"buddy starts: start_pfn + nr_vmemmap_pages = +{v}"))
        return marks

    def _draw_boundaries(self, b: MemoryBlock, rows: int, marks: list[tuple[int, str]], selfhosted: int,
                         px_row: float) -> None:
        """Pageblock grid (where a row is not one pageblock), the self-hosted memmap's name and the altmap's
        boundaries: dashed lines just below each boundary (never across the memmap), named in the band above."""
        a, W = self.m.arch, self.width
        pb, pmd = a.pageblock_nr_pages, a.pmd_size >> a.page_shift
        kind = "pageblock = PMD" if pb == pmd else "pageblock"
        grid: list[tuple[float, float, float, float]] = []
        if pb > W:              # whole rows per pageblock: horizontal lines (at most 64 of them)
            step = pb
            while b.nr_pages // step > 64:
                step *= 2
            grid = [s for p in range(step, b.nr_pages, step) for s in self._segments(p, rows)]
            note = (f"lines: {kind} boundaries every {format_bytes(step * a.page_size)}"
                    + ("" if step == pb else f" ({step // pb} pageblocks)"))
        elif pb < W:            # several pageblocks per row: vertical lines
            grid = [(p, 0, p, rows) for p in range(pb, W, pb)]
            note = f"lines: {kind} boundaries every {format_bytes(pb * a.page_size)}"
        else:                   # one row = one pageblock: the rows are the grid
            note = f"1 row = 1 {kind}"
        if pmd != pb and pmd > 0:
            note += f"; PMD = {format_bytes(a.pmd_size)} = {pmd} pfns"
        self.lines.data = self._columns(grid)
        # the band above the map, from the map upwards: the memmap's name, then one line per boundary
        # with a short dashed sample of its line (y in rows: negative is above row 0)
        dy = min(1.0 / px_row, 0.25)
        x_px = W / max(self.plot_width - 80, 100)                     # pfns per pixel, roughly
        line_y = [-((1 + i) * _LINE_PX + 10) / px_row for i in range(len(marks))]
        color = ["#111111" if t.startswith("buddy starts") else "#777777" for _, t in marks]
        segs = [(s, c) for (p, _), c in zip(marks, color) for s in self._segments(p, rows, dy)]
        segs += [((5 * x_px, y, 25 * x_px, y), c) for y, c in zip(line_y, color)]   # clear of the y axis
        self.marks.data = {**self._columns([s for s, _ in segs]), "color": [c for _, c in segs]}
        self.labels.data = {"x": [28 * x_px] * len(marks), "y": line_y, "yo": [0] * len(marks),
                            "text": [t for _, t in marks]}
        full, part = divmod(selfhosted, W)
        quads = ([(0, W, 0, full)] if full else []) + ([(0, part, full, full + 1)] if part else [])
        self.memmap_area.data = {"left": [q[0] for q in quads], "right": [q[1] for q in quads],
                                 "top": [q[2] for q in quads], "bottom": [q[3] for q in quads]}
        if selfhosted:
            n = selfhosted
            flag = "PageReserved" if self.m.kernel.selfhosted_reserved else "not PageReserved"
            self.callout.data = {"x": [0], "y": [0], "color": [_SELFHOSTED_TEXT], "text": [
                f"\u25bc self-hosted memmap (hatched): {n:,} pfns ({format_bytes(n * a.page_size)}), {flag}"]}
        else:
            v = b.vmemmap_pages
            text = (f"{b.state_name()}: the first {v:,} pfns already hold the block's memmap" if v
                    else "no self-hosted memmap pfns in this block")
            self.callout.data = {"x": [0], "y": [0], "color": ["#777777"], "text": [text]}
        where = "" if self.title_prefix else f"{self.m.kernel.label}, {a.name}; "
        self.subtitle.text = f"{where}pfn {b.start_pfn:#x}-{b.end_pfn - 1:#x}; {note}"
        self.fig.xaxis.axis_label = f"pfn offset in row ({W} pfns per row)"
        self.fig.yaxis.axis_label = f"row ({format_bytes(W * a.page_size)} each, {rows} rows)"

    def _draw_legend(self, b: MemoryBlock) -> None:
        """Legend with live counts, the stats line (data-selfhosted=...) and the altmap fields."""
        a = self.m.arch
        c = self._counts
        self.legend.value = ("<table class='pagemap-legend' style='font-size:12px;border-collapse:collapse;"
                             "width:100%'>" + compact("<tr><th></th><th style='text-align:left'>state</th>"
                                                      "<th style='text-align:right'>pfns</th></tr>")
                             + legend_rows(self.m, self._colors, [(c, self._free_orders)], self.free_orders)
                             + "</table>")
        sh = c.get("selfhosted", 0)
        self.stats.value = (f"<span class='pagemap-stats' data-block='{b.id}' data-selfhosted='{sh}' "
                            f"data-free='{c.get('free', 0)}' data-nr-pages='{b.nr_pages}'>"
                            f"memory{b.id}: {b.nr_pages:,} pfns; vmemmap pages: {b.vmemmap_pages}"
                            f"{'' if sh or not b.vmemmap_pages else ' (not online: drawn as ' + b.state_name() + ')'}; "
                            f"free: {c.get('free', 0):,}</span>")
        am = b.altmap
        if am is not None:
            self.altmap.value = compact("<div class='altmap' style='font-size:12px'><b>struct vmem_altmap</b> "
                                 f"(block's memmap: {format_bytes(a.memmap_bytes(b.nr_pages))})<table>"
                                 f"<tr><td>base_pfn</td><td>{am.base_pfn:#x}</td></tr>"
                                 f"<tr><td>reserve</td><td>{am.reserve}</td></tr>"
                                 f"<tr><td>free</td><td>{am.free}</td></tr>"
                                 f"<tr><td>align</td><td>{am.align}</td></tr>"
                                 f"<tr><td>alloc</td><td>{am.alloc}</td></tr>"
                                 f"<tr><td>buddy starts at</td><td>{am.base_pfn + am.reserve + am.free:#x}</td></tr>"
                                 "</table></div>")
        elif b.vmemmap_pages:
            self.altmap.value = (f"<div class='altmap' style='font-size:12px'>no altmap kept after the add "
                                 f"({self.m.kernel.label}): nr_vmemmap_pages = {b.vmemmap_pages}</div>")
        else:
            self.altmap.value = ("<div class='altmap' style='font-size:12px'>memmap not on this memory "
                                 "(no altmap): it was allocated from other memory</div>")

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [self.plot]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figure's current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
