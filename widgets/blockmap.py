"""BlockMapView: every memory block of the machine as one cell, coloured by state, zone or node.

One ``rect`` glyph over one ColumnDataSource (one row per block), so a machine with
32 768 blocks is one glyph.  Clicking a cell (TapTool -> ``source.selected.indices``,
synced back to Python by jupyter_bokeh) opens the block in a linked
:class:`~widgets.pagemap.PageMapView`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from bokeh.models import (ColumnDataSource, CustomJSHover, CustomJSTickFormatter, HoverTool, LabelSet,
                          LinearColorMapper, Range1d, TapTool)
from bokeh.plotting import figure
from ipywidgets import HTML, BoundedIntText, Dropdown, HBox, Layout, VBox

from widgets._bokeh import bokeh_widget
from jupyter_bokeh.widgets import BokehModel

from widgets import palette
from widgets._common import MEM, display_bundle, esc, notify, summary_html
from widgets.pagemap import PageMapView, compact
from widgets.units import format_bytes
from workbook.errors import KernelError
from workbook.machine import Machine
from workbook.memory import MemoryBlock

__all__ = ["BlockMapView", "COLOR_BY", "block_category"]

COLOR_BY = ("state", "zone", "node")
# Okabe-Ito based, told apart under colour-vision deficiencies (widgets/palette.py, tests/test_palette.py)
_STATE_COLORS = palette.BLOCK_STATE
_ZONE_COLORS = palette.BLOCK_ZONE


def block_category(b: MemoryBlock, color_by: str) -> str:
    """The legend category of a block for ``color_by`` ("state", "zone" or "node")."""
    if color_by == "state":
        s = b.state_name()
        return "online (boot)" if s == "online" and b.boot else s
    if color_by == "zone":
        if b.state_name() == "offline":
            return "offline (no zone)"
        return b.zone.name if b.zone is not None else "none (spans zones)"
    return f"node {b.nid}"


#: Tooltips of the legend categories that need a word of explanation.
_TIPS = {"none (spans zones)": "the block's pfns lie in more than one zone (memory0: DMA and DMA32), "
                               "so it has no single zone and valid_zones reads 'none'",
         "online (boot)": "online since boot (boot memory)",
         "offline (no zone)": "an offline block belongs to no zone yet"}


def _tip(category: str) -> str:
    """`` title='...'`` for a legend category that has a tooltip."""
    return f" title='{esc(_TIPS[category])}'" if category in _TIPS else ""


def _color(category: str, color_by: str) -> str:
    if color_by == "state":
        return _STATE_COLORS.get(category, palette.OKABE_ITO["sky blue"])
    if color_by == "zone":
        return _ZONE_COLORS.get(category, palette.OKABE_ITO["sky blue"])
    nid = int(category.split()[-1])
    return palette.NODES[nid % len(palette.NODES)]


_HOVER_ID = """
const start = value * bs;
if (format == "range") { return "0x" + start.toString(16) + "-0x" + (start + bs - 1).toString(16); }
return "memory" + value;
"""
_HOVER_LOOKUP = """return (value >= 0 && value < names.length) ? names[value] : "-";"""
_ROW_START = """return (tick < 0 || tick % 1 != 0) ? "" : (cols > 0 ? "memory" + (tick * cols) : "");"""
#: label every cell with its block id when the cells are at least this many pixels wide
_LABEL_MIN_PX = 22


class BlockMapView:
    """All memory blocks (memoryN) as a grid of cells: state / zone / node, valid_zones and vmemmap pages on hover."""

    def __init__(self, machine: Machine, page_map: PageMapView | None = None, color_by: str = "state",
                 columns: int | None = None, layout: str = "auto", valid_zones_limit: int = 2048,
                 plot_width: int = 620) -> None:
        """Build the grid; ``page_map`` (if given) shows the block a click selects."""
        self.m = machine
        self.page_map = page_map
        self.layout = layout
        self.columns = columns
        self.valid_zones_limit = valid_zones_limit
        self.plot_width = plot_width
        self.on_select: list[Callable[[int], None]] = []
        self.selected: int | None = None
        self._ids: list[int] = []
        self._row_of: dict[int, int] = {}
        self._counts: dict[str, int] = {}
        self._tables: dict[str, list[str]] = {"category": [], "state": [], "zone": [], "valid_zones": []}
        self.color_by = Dropdown(options=list(COLOR_BY), value=color_by, description="colour by")
        self.color_by.observe(lambda _c: self.refresh(), names="value")
        self.source = ColumnDataSource(data=self._empty())
        self.fig = figure(width=plot_width, height=200, x_range=Range1d(-0.5, 63.5), y_range=Range1d(0.5, -0.5),
                          tools="pan,wheel_zoom,box_zoom,reset", toolbar_location="below",
                          x_axis_label="block (column)", y_axis_label="row")
        self.mapper = LinearColorMapper(palette=["#d9d9d9"], low=-0.5, high=0.5)
        # a selection is an outline only: unselected cells keep their colour, so the legend stays true
        self.renderer = self.fig.rect("x", "y", width=0.9, height=0.9, source=self.source, line_color=None,
                                      fill_color={"field": "category", "transform": self.mapper},
                                      selection_line_color="black", selection_line_width=3,
                                      selection_fill_alpha=1.0, nonselection_fill_alpha=1.0,
                                      nonselection_line_color=None)
        self.cell_labels = ColumnDataSource(data={"x": [], "y": [], "text": [], "color": []})
        self.fig.add_layout(LabelSet(x="x", y="y", text="text", source=self.cell_labels, text_align="center",
                                     text_baseline="middle", text_font_size="8pt", text_color="color"))
        self.row_start = CustomJSTickFormatter(code=_ROW_START, args={"cols": 0})
        self.fig.grid.visible = False
        self.fig.toolbar.logo = None          # a short map: the toolbar below, in one row, never folded
        self.fig.xaxis.ticker.min_interval = 1
        self.fig.yaxis.ticker.min_interval = 1
        self._plain = self.fig.yaxis[0].formatter
        self.fmt_id = CustomJSHover(code=_HOVER_ID, args={"bs": machine.block_size})
        self.fmt = {k: CustomJSHover(code=_HOVER_LOOKUP, args={"names": []}) for k in ("state", "zone", "valid_zones")}
        self.fig.add_tools(TapTool(renderers=[self.renderer]),
                           HoverTool(renderers=[self.renderer],
                                     tooltips=[("block", "@id{name}"), ("range", "@id{range}"),
                                               ("state", "@state{custom}"), ("zone", "@zone{custom}"),
                                               ("node", "@node"), ("valid_zones", "@valid_zones{custom}"),
                                               ("vmemmap pages", "@vmemmap")],
                                     formatters={"@id": self.fmt_id, "@state": self.fmt["state"],
                                                 "@zone": self.fmt["zone"], "@valid_zones": self.fmt["valid_zones"]}))
        self.source.selected.on_change("indices", self._on_indices)
        self.legend = HTML()
        self.details = HTML()
        self.summary = HTML()
        # a click's (and the hover's) information without a mouse: type a block number (Tab reaches it)
        self.goto = BoundedIntText(value=min(machine.blocks, default=0), min=0, max=max(machine.blocks, default=0),
                                   description="select memory", style={"description_width": "initial"},
                                   layout=Layout(width="190px"))
        self.goto.observe(self._on_goto, names="value")
        self.refresh()                      # before wrapping: the widget's first render is current
        self.plot = bokeh_widget(self.fig)
        self.widget = VBox([HBox([self.color_by, self.legend]),
                            HBox([self.plot, VBox([self.goto, self.details],
                                                  layout=Layout(width="330px", min_width="330px"))]),
                            self.summary])

    # ------------------------------------------------------------------------------------------
    @staticmethod
    def _empty() -> dict[str, Any]:
        return {k: np.zeros(0, dtype=np.int32) for k in ("x", "y", "id", "category", "state", "zone", "node",
                                                          "valid_zones", "vmemmap")}

    def _grid(self, ids: list[int]) -> tuple[np.ndarray, int]:
        """Cell index of every block (by id where the ids are dense enough, else packed) and the column count."""
        n = len(ids)
        by_id = self.layout == "id" or (self.layout == "auto" and n and ids[-1] + 1 <= 2 * n + 64)
        pos = np.asarray(ids, dtype=np.int64) if by_id else np.arange(n, dtype=np.int64)
        span = int(pos[-1]) + 1 if n else 1
        cols = self.columns or (16 if span <= 128 else 32 if span <= 1024 else 64 if span <= 8192 else 128)
        return pos, cols

    def counts(self) -> dict[str, int]:
        """Blocks per legend category of the current colouring."""
        return dict(self._counts)

    def block_info(self, block_id: int) -> dict[str, Any]:
        """What the hover shows for one block, decoded from the figure's ColumnDataSource."""
        i = self._row_of[block_id]
        d = self.source.data
        t = self._tables
        start = block_id * self.m.block_size
        return {"name": f"memory{block_id}", "range": f"{start:#x}-{start + self.m.block_size - 1:#x}",
                "state": t["state"][d["state"][i]], "zone": t["zone"][d["zone"][i]], "node": int(d["node"][i]),
                "valid_zones": t["valid_zones"][d["valid_zones"][i]], "vmemmap": int(d["vmemmap"][i]),
                "category": t["category"][d["category"][i]]}

    @staticmethod
    def _codes(values: list[str]) -> tuple[np.ndarray, list[str]]:
        table: dict[str, int] = {}
        codes = np.fromiter((table.setdefault(v, len(table)) for v in values), dtype=np.int16, count=len(values))
        return codes, list(table)

    def refresh(self) -> None:
        """Re-read every block: state, zone, node, vmemmap pages; valid_zones when the machine is small."""
        m, cb = self.m, self.color_by.value
        blocks = [m.blocks[i] for i in sorted(m.blocks)]
        ids = [b.id for b in blocks]
        pos, cols = self._grid(ids)
        cats = [block_category(b, cb) for b in blocks]
        cat_codes, cat_names = self._codes(cats)
        st_codes, st_names = self._codes([b.state_name() + (" (boot)" if b.boot else "") for b in blocks])
        zn_codes, zn_names = self._codes([b.zone.name if b.zone is not None else "none" for b in blocks])
        if len(blocks) <= self.valid_zones_limit:
            vz_codes, vz_names = self._codes([self._valid_zones(b.id) for b in blocks])
        else:
            vz_codes, vz_names = np.zeros(len(blocks), dtype=np.int16), ["(click the block to read it)"]
        self._tables = {"category": cat_names, "state": st_names, "zone": zn_names, "valid_zones": vz_names}
        counts = np.bincount(cat_codes, minlength=len(cat_names)) if len(blocks) else np.zeros(0, int)
        self._counts = {c: int(counts[i]) for i, c in enumerate(cat_names)}
        colors = [_color(c, cb) for c in cat_names] or [palette.GREY]
        self.mapper.update(palette=colors, low=-0.5, high=len(colors) - 0.5)
        for k, names in (("state", st_names), ("zone", zn_names), ("valid_zones", vz_names)):
            self.fmt[k].args = {"names": names}
        self.fmt_id.args = {"bs": m.block_size}
        data = {"x": (pos % cols).astype(np.int32), "y": (pos // cols).astype(np.int32),
                "id": np.asarray(ids, dtype=np.int32),
                "category": cat_codes, "state": st_codes, "zone": zn_codes,
                "node": np.fromiter((b.nid for b in blocks), dtype=np.int16, count=len(blocks)),
                "valid_zones": vz_codes,
                "vmemmap": np.fromiter((b.vmemmap_pages for b in blocks), dtype=np.int32, count=len(blocks))}
        rows = int(pos[-1]) // cols + 1 if len(pos) else 1
        self._ids, self._row_of = ids, {i: r for r, i in enumerate(ids)}
        self.source.data = data
        self.fig.x_range.update(start=-0.5, end=cols - 0.5)
        self.fig.y_range.update(start=rows - 0.5, end=-0.5)
        self.fig.height = int(min(max(rows * self.plot_width / cols, 120), 640)) + 90
        by_id = bool(len(pos)) and list(pos) == ids
        # every cell named by its block id where there is room; the rows by their first block
        if (self.plot_width - 80) / cols >= _LABEL_MIN_PX and len(ids) <= 1024:
            self.cell_labels.data = {"x": data["x"].tolist(), "y": data["y"].tolist(), "text": [str(i) for i in ids],
                                     "color": [palette.text_on(colors[c]) for c in cat_codes.tolist()]}
        else:
            self.cell_labels.data = {"x": [], "y": [], "text": [], "color": []}
        if by_id:
            self.row_start.args = {"cols": cols}
            self.fig.yaxis[0].formatter = self.row_start
            self.fig.yaxis.axis_label = f"{cols} blocks per row"
            self.fig.xaxis.axis_label = "+ column (block id = row's first block + column)"
        else:
            self.fig.yaxis[0].formatter = self._plain
            self.fig.yaxis.axis_label = f"row ({cols} per row, packed)"
            self.fig.xaxis.axis_label = "block (column)"
        bsize = format_bytes(m.block_size)
        self.fig.title.text = (f"{len(ids):,} memory blocks of {bsize} ({m.kernel.label}, {m.arch.name}); "
                               f"coloured by {cb}")
        order = sorted(range(len(cat_names)), key=lambda i: cat_names[i])
        self.legend.value = (f"<span class='blockmap-legend' data-blocks='{len(ids)}'>"
                             + " ".join(f"<span style='white-space:nowrap;margin-right:8px'"
                                        f"{_tip(cat_names[i])}><span style='display:"
                                        f"inline-block;width:11px;height:11px;background:{colors[i]};border:1px "
                                        f"solid #888'></span> {esc(cat_names[i])}: {int(counts[i]):,}</span>"
                                        for i in order)
                             + "</span>")
        self.goto.max = max(ids, default=0)
        hot = [b.id for b in blocks if not b.boot]
        self.summary.value = summary_html(
            f"Block map: {len(ids):,} memory blocks of {bsize} ({m.kernel.label}), one cell each, {cols} per row, "
            f"coloured by {cb}: " + ", ".join(f"{int(counts[i]):,} {cat_names[i]}" for i in order)
            + ("." if not hot else f". Hot-added: memory{hot[0]}." if len(hot) == 1
               else f". Hot-added: memory{min(hot)} to memory{max(hot)}.")
            + " Type a block number in 'select memory' to read its files.")
        if self.selected is not None:
            if self.selected in self._row_of:
                self.source.selected.indices = [self._row_of[self.selected]]
                self._show_details(self.selected)
            else:
                self.details.value = f"<div>memory{self.selected} is gone (hot-removed)</div>"

    def _valid_zones(self, bid: int) -> str:
        """``cat memoryN/valid_zones`` (the kernel's answer, errno name on failure)."""
        try:
            return str(self.m.read(f"{MEM}/memory{bid}/valid_zones")).strip()
        except KernelError as e:
            return e.errno_name

    # ------------------------------------------------------------------------------------------
    def _on_goto(self, change: dict[str, Any]) -> None:
        """A block number typed in: select it as a click would (numbers that are no block are ignored)."""
        if change["new"] in self._row_of and change["new"] != self.selected:
            self.select(int(change["new"]))

    def _on_indices(self, attr: str, old: list[int], new: list[int]) -> None:
        """Tap in the browser (or ``select()``): open the block."""
        if new and 0 <= new[0] < len(self._ids):
            bid = self._ids[new[0]]
            if bid != self.selected:
                self._select(bid)

    def select(self, block_id: int) -> None:
        """Select ``memory<block_id>`` as a click would: highlight it, show its details, open it in the page map."""
        if block_id not in self._row_of:
            raise KeyError(f"memory{block_id} is not a block of this machine")
        self._select(block_id)
        row = self._row_of[block_id]
        if self.source.selected.indices != [row]:
            self.source.selected.indices = [row]

    def _select(self, bid: int) -> None:
        self.selected = bid
        if self.goto.value != bid:
            self.goto.value = bid
        self._show_details(bid)
        if self.page_map is not None:
            self.page_map.show_block(bid)
        notify(self.on_select, bid)

    def _show_details(self, bid: int) -> None:
        """The selected block's sysfs files, read now."""
        b = self.m.blocks[bid]
        shift = self.m.arch.page_shift
        d = f"{MEM}/memory{bid}"
        rows = [("state", self.m.read(f"{d}/state")), ("valid_zones", self._valid_zones(bid)),
                ("phys_index", self.m.read(f"{d}/phys_index")),
                ("range", f"{b.start_pfn << shift:#x}-{(b.end_pfn << shift) - 1:#x}"),
                ("node", b.nid), ("zone", b.zone.name if b.zone is not None else "none"),
                ("vmemmap pages", b.vmemmap_pages)]
        self.details.value = compact(
            f"<div class='blockmap-selected' data-block='{bid}'><b>memory{bid}</b><table style='font-size:12px'>"
            + "".join(f"<tr><td style='white-space:nowrap'>{esc(k)}</td><td style='white-space:nowrap'><code>"
                      f"{esc(str(v).strip())}</code></td></tr>" for k, v in rows)
            + "</table></div>")

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [self.plot]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figure's current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
