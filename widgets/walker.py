"""WalkerAnimation: a pfn walker stepping over a memory block, pfn by pfn, showing what it visits and what it skips.

The walk itself is ``workbook.walkers.walk()`` (the kernel function's decision for every
pfn, computed at once); the animation only reveals it step by step.  Lanes side by side
compare two walkers on one machine (generic vs hotplug) or one walker on two kernels
(6.1 skips the self-hosted memmap as PageReserved, 6.12 visits it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from bokeh.models import ColumnDataSource, CustomJSHover, HoverTool, Range1d, Title
from bokeh.plotting import figure
from ipywidgets import HTML, BoundedIntText, Button, Dropdown, HBox, IntSlider, Layout, Play, VBox, jslink

from widgets._bokeh import bokeh_widget
from jupyter_bokeh.widgets import BokehModel

from widgets import palette
from widgets._common import (Action, display_bundle, esc, first_added_block, make_machine, resync, run_actions,
                             summary_html)
from widgets.pagemap import compact, grid_width, rgba
from widgets.units import format_bytes
from workbook.machine import Machine
from workbook.walkers import REASONS, WALKERS, WalkResult, walk

__all__ = ["DOWNWARDS", "Lane", "WalkerAnimation", "REASON_COLORS"]

#: One colour per walkers.REASONS entry (visited first), Okabe-Ito based (widgets/palette.py).  "visited" has
#: a colour of its own (sky blue, no page map uses it); the reasons reuse the page map's colours:
#: vermillion = the memmap, orange = unmovable, pale blue = free (PageBuddy), grey = offline, brown = boot.
REASON_COLORS = palette.WALKER
_PENDING = "#ffffff"            # not walked yet: white
#: Walkers that run from the end of the range downwards (compaction's free scanner).
DOWNWARDS = frozenset({"compaction-free"})

_HOVER_JS = """
const ij = special_vars.image_index;
const fi = (ij == null) ? -1 : ij.flat_index;
if (fi < 0 || fi >= nr) { return "-"; }
if (format == "pfn") { return "0x" + (start + fi).toString(16) + " (+" + fi + ")"; }
return (value < names.length) ? names[value] : "-";
"""


@dataclass
class Lane:
    """One walker on one machine's block: what a panel of the animation shows."""

    machine: Machine
    walker: str
    block_id: int
    title: str = ""


class _LanePanel:
    """The figure and legend of one lane."""

    def __init__(self, lane: Lane, width: int, plot_width: int) -> None:
        self.lane = lane
        self.W = width
        self.result: WalkResult | None = None
        self.nr = 0
        self.rows = 1
        self.source = ColumnDataSource(data={"image": [np.zeros((1, width), np.uint32)],
                                             "reason": [np.zeros((1, width), np.uint8)],
                                             "x": [0], "y": [0], "dw": [width], "dh": [1]})
        self.pending = ColumnDataSource(data={"left": [], "right": [], "top": [], "bottom": []})
        self.fig = figure(width=plot_width, height=220, x_range=Range1d(0, width), y_range=Range1d(1, 0),
                          tools="pan,wheel_zoom,reset", toolbar_location="right",
                          x_axis_label=f"pfn offset in row ({width} per row)", y_axis_label="row")
        self.image = self.fig.image_rgba(image="image", x="x", y="y", dw="dw", dh="dh", source=self.source)
        self.fig.quad(left="left", right="right", top="top", bottom="bottom", source=self.pending,
                      fill_color=_PENDING, fill_alpha=1.0, line_color="#bbbbbb", line_width=1)
        self.fig.grid.visible = False
        self.fig.outline_line_color = "#888888"
        self.subtitle = Title(text="", text_font_size="9pt", text_font_style="normal")
        self.fig.add_layout(self.subtitle, "above")
        self.fmt = CustomJSHover(code=_HOVER_JS, args={"start": 0, "nr": 0, "names": list(REASONS)})
        self.fig.add_tools(HoverTool(renderers=[self.image],
                                     tooltips=[("pfn", "@reason{pfn}"), ("walker", "@reason{why}")],
                                     formatters={"@reason": self.fmt}))
        self.legend = HTML()
        self.summary = HTML()
        # the hover's answer for any pfn, without a mouse (Tab reaches it)
        self.inspect = BoundedIntText(value=0, min=0, max=0, description="inspect pfn +",
                                      style={"description_width": "initial"}, layout=Layout(width="190px"))
        self.inspected = HTML()
        self.inspect.observe(lambda _: self._inspect(), names="value")
        self.plot: BokehModel | None = None
        self.widget: VBox | None = None
        self._rgba = rgba(list(REASON_COLORS))

    def wrap(self) -> VBox:
        """The lane's widget; the figure is wrapped after the first draw so its first render is current."""
        if self.widget is None:
            self.plot = bokeh_widget(self.fig)
            self.widget = VBox([self.plot, self.legend, self.summary, HBox([self.inspect, self.inspected])])
        return self.widget

    def _inspect(self) -> None:
        """What the hover says about one pfn, as text."""
        if self.result is None or not self.nr:
            self.inspected.value = ""
            return
        i = min(int(self.inspect.value), self.nr - 1)
        pfn = self.result.start_pfn + i
        self.inspected.value = (f"<span class='walker-inspect' style='font-size:12px'>pfn {pfn:#x} (+{i}): "
                                f"{esc(REASONS[int(self.result.reason[i])])}</span>")

    def compute(self) -> None:
        """Run the walker over the whole block (the kernel function's decision for every pfn)."""
        m, lane = self.lane.machine, self.lane
        b = m.blocks.get(lane.block_id)
        if b is None:
            self.result, self.nr, self.rows = None, 0, 1
            self.fig.title.text = f"{lane.title}memory{lane.block_id}: no such block"
            self.subtitle.text = ""
            return
        self.result = walk(m, lane.walker, b.start_pfn, b.nr_pages)
        self.nr = b.nr_pages
        W = self.W
        self.rows = rows = -(-self.nr // W)
        img = np.zeros(rows * W, dtype=np.uint32)
        img[:self.nr] = self._rgba[self.result.reason]
        code = np.full(rows * W, 255, dtype=np.uint8)
        code[:self.nr] = self.result.reason
        self.fmt.args = {"start": b.start_pfn, "nr": self.nr, "names": list(REASONS)}
        self.source.data = {"image": [img.reshape(rows, W)], "reason": [code.reshape(rows, W)],
                            "x": [0], "y": [0], "dw": [W], "dh": [rows]}
        self.fig.y_range.update(start=rows, end=0)
        self.fig.height = int(min(max(rows * 5, 240), 560)) + 110
        where = "" if lane.title else f"{m.kernel.label}, "
        way = "from the end downwards" if self.downwards else "from the start upwards"
        self.fig.title.text = f"{lane.title}{self.result.walker}"
        self.subtitle.text = f"{where}memory{b.id} ({b.state_name()}), walked {way}"
        self.fig.yaxis.axis_label = f"row ({format_bytes(W * m.arch.page_size)} each)"

    @property
    def downwards(self) -> bool:
        """True for a walker that starts at the end of the range (compaction's free scanner)."""
        return self.lane.walker in DOWNWARDS

    def _walked(self, pos: int) -> slice:
        """The pfn offsets walked after ``pos`` steps' worth of pfns: the first ``pos``, or the last for a downward walker."""
        pos = max(0, min(pos, self.nr))
        return slice(self.nr - pos, self.nr) if self.downwards else slice(0, pos)

    def show(self, pos: int) -> dict[str, int]:
        """Reveal ``pos`` pfns (from the start, or from the end for a downward walker); returns the counts so far."""
        W, rows = self.W, self.rows
        pos = max(0, min(pos, self.nr))
        quads: list[tuple[int, int, int, int]] = []      # (left, right, top, bottom) not walked yet
        if pos < self.nr and not self.downwards:
            r, x = divmod(pos, W)
            if x:
                quads.append((x, W, r, r + 1))
                r += 1
            if r < rows:
                quads.append((0, W, r, rows))
        elif pos < self.nr:                               # pending: [0, nr - pos)
            r, x = divmod(self.nr - pos, W)
            if r:
                quads.append((0, W, 0, r))
            if x:
                quads.append((0, x, r, r + 1))
        self.pending.data = {k: [q[i] for q in quads] for i, k in enumerate(("left", "right", "top", "bottom"))}
        counts = self.counts(pos)
        total = self.result.counts() if self.result is not None else {}
        lines = []
        for i, name in enumerate(REASONS):
            n, t = counts.get(name, 0), total.get(name, 0)
            if not t:
                continue
            lines.append(f"<tr data-reason='{i}' data-count='{n}'><td><span style='display:inline-block;width:12px;"
                         f"height:12px;background:{REASON_COLORS[i]};border:1px solid #888'></span></td>"
                         f"<td>{esc(name)}</td><td style='text-align:right'>{n:,}</td>"
                         f"<td style='text-align:right;color:#888'>/ {t:,}</td></tr>")
        self.legend.value = (f"<div class='walker-legend' data-walker='{esc(self.lane.walker)}' "
                             f"data-kernel='{esc(self.lane.machine.kernel.name)}' data-pos='{pos}' "
                             f"data-visited='{counts.get(REASONS[0], 0)}'>walked {pos:,} of {self.nr:,} pfns"
                             f"{' (from the end)' if self.downwards else ''}"
                             "<table style='font-size:12px'>" + compact("".join(lines)) + "</table></div>")
        b = self.lane.machine.blocks.get(self.lane.block_id)
        where = f"memory{b.id} ({b.state_name()}, {self.lane.machine.kernel.label})" if b is not None else "no block"
        self.summary.value = summary_html(
            f"Walker {self.lane.walker} over {where}: {pos:,} of {self.nr:,} pfns walked"
            f"{' from the end' if self.downwards else ''}; "
            + (", ".join(f"{n:,} {name}" for name, n in counts.items()) or "nothing yet") + ".")
        self.inspect.max = max(self.nr - 1, 0)
        self._inspect()
        return counts

    def counts(self, pos: int | None = None) -> dict[str, int]:
        """Outcomes of the first ``pos`` pfns (all when None)."""
        if self.result is None:
            return {}
        pos = self.nr if pos is None else pos
        c = np.bincount(self.result.reason[self._walked(pos)], minlength=len(REASONS))
        return {REASONS[i]: int(c[i]) for i in range(len(REASONS)) if c[i]}


class WalkerAnimation:
    """Step / play a pfn walker over a block; lanes side by side (two walkers, or one walker on two kernels)."""

    def __init__(self, machine: Machine | None = None, block_id: int | None = None,
                 walkers: Sequence[str] = ("generic", "hotplug"), lanes: Sequence[Lane] | None = None,
                 step_pfns: int | None = None, plot_width: int = 420) -> None:
        """Lanes for ``walkers`` on ``machine``'s ``block_id`` (default: first hot-plugged block), or ``lanes``."""
        if lanes is None:
            if machine is None:
                raise ValueError("give a machine (and walkers) or lanes")
            if block_id is None:
                hot = [b.id for b in machine.blocks.values() if not b.boot]
                block_id = min(hot) if hot else min(machine.blocks)
            lanes = [Lane(machine, w, block_id) for w in walkers]
        self.lanes = list(lanes)
        m0 = self.lanes[0].machine
        self.width = grid_width(m0)
        self.panels = [_LanePanel(lane, self.width, plot_width) for lane in self.lanes]
        self.step_pfns = step_pfns or self.width
        self.position = 0
        self.stride = Dropdown(options=self._stride_options(m0), value=self.step_pfns, description="pfns per step",
                               style={"description_width": "initial"})
        self.play = Play(value=0, min=0, max=1, step=1, interval=200, description="play")
        self.slider = IntSlider(value=0, min=0, max=1, description="step", continuous_update=True,
                                layout=Layout(width="360px"))
        self.speed = IntSlider(value=200, min=20, max=1000, step=20, description="ms / step",
                               style={"description_width": "initial"})
        self.step_button = Button(description="step", icon="step-forward")
        self.reset_button = Button(description="reset", icon="undo")
        self.end_button = Button(description="to end", icon="fast-forward")
        self.walker_pick = [Dropdown(options=list(WALKERS), value=lane.walker, description="walker",
                                     layout=Layout(width="260px")) for lane in self.lanes]
        jslink((self.play, "value"), (self.slider, "value"))
        self.slider.observe(self._on_slider, names="value")
        self.play.observe(self._on_slider, names="value")
        self.speed.observe(lambda c: setattr(self.play, "interval", c["new"]), names="value")
        self.stride.observe(self._on_stride, names="value")
        self.step_button.on_click(lambda _b: self.step())
        self.reset_button.on_click(lambda _b: self.seek(0, from_view=True))
        self.end_button.on_click(lambda _b: self.seek(self.nr, from_view=True))
        for pick, panel in zip(self.walker_pick, self.panels):
            pick.observe(lambda c, p=panel: self._on_walker(p, c["new"]), names="value")
        self.refresh()
        self.widget = VBox([
            HBox([self.play, self.slider, self.step_button, self.reset_button, self.end_button]),
            HBox([self.stride, self.speed]),
            HBox([VBox([pick, p.wrap()]) for pick, p in zip(self.walker_pick, self.panels)]),
        ])

    # ------------------------------------------------------------------------------------------
    def _stride_options(self, m: Machine) -> list[tuple[str, int]]:
        pb = m.arch.pageblock_nr_pages
        opts = {1: "1 pfn", 64: "64 pfns", self.width: f"1 row ({self.width} pfns)", pb: f"1 pageblock ({pb} pfns)",
                8 * self.width: f"8 rows ({8 * self.width} pfns)", 64 * self.width: f"64 rows ({64 * self.width} pfns)"}
        return [(v, k) for k, v in sorted(opts.items())]

    @property
    def nr(self) -> int:
        """pfns of the longest lane."""
        return max((p.nr for p in self.panels), default=0)

    def _steps(self) -> int:
        return max(-(-self.nr // self.step_pfns), 1)

    def refresh(self) -> None:
        """Re-run every lane's walker on its machine's current state and redraw at the current position."""
        for p in self.panels:
            p.compute()
        n = self._steps()
        self.slider.max = self.play.max = n
        self.seek(min(self.position, self.nr))

    def seek(self, pos: int, *, from_view: bool = False) -> None:
        """Show the walk up to pfn offset ``pos``.

        Called from a cell (not from this widget's own controls), the figures' render bundles
        are rebuilt too: a cell that seeks right after the one that displayed the widget can
        run before the browser has built the view, and jupyter_bokeh's patches reach only
        views that exist (a Run All then showed an empty lane).
        """
        self._seek(pos)
        if not from_view:
            resync(self.bokeh_models())

    def _seek(self, pos: int) -> None:
        self.position = max(0, min(int(pos), self.nr))
        for p in self.panels:
            p.show(self.position)
        step = -(-self.position // self.step_pfns)
        # both: jslink copies play's value onto the slider when a stored view is rendered, so a play
        # left behind would reset the slider ("step 0" beside "walked 512")
        if self.slider.value != step or self.play.value != step:
            self._syncing = True
            try:
                self.slider.value = step
                self.play.value = step
            finally:
                self._syncing = False

    def step(self, n: int = 1) -> None:
        """Advance ``n`` steps of ``pfns per step``."""
        self.seek(self.position + n * self.step_pfns)

    def counts(self, lane: int = 0, pos: int | None = None) -> dict[str, int]:
        """Outcome counts of one lane up to the current position (or ``pos``)."""
        return self.panels[lane].counts(self.position if pos is None else pos)

    def total_counts(self) -> list[dict[str, int]]:
        """Outcome counts of every lane over the whole block."""
        return [p.counts() for p in self.panels]

    def _on_slider(self, change: dict[str, Any]) -> None:
        if getattr(self, "_syncing", False):
            return
        self.seek(int(change["new"]) * self.step_pfns, from_view=True)

    def _on_stride(self, change: dict[str, Any]) -> None:
        self.step_pfns = int(change["new"])
        n = self._steps()
        pos = self.position
        self.slider.max = self.play.max = n
        self.seek(pos, from_view=True)

    def _on_walker(self, panel: _LanePanel, walker: str) -> None:
        panel.lane.walker = walker
        panel.compute()
        panel.show(self.position)

    # ------------------------------------------------------------------------------------------
    @classmethod
    def across_kernels(cls, actions: Sequence[Action] | None = None, kernels: Sequence[str] = ("6.1", "6.12"),
                       walker: str = "generic", block_id: int | None = None, step_pfns: int | None = None,
                       **machine_kwargs: Any) -> "WalkerAnimation":
        """The same walker on the same block of machines that ran the same ``actions`` on different kernels."""
        if actions is None:
            actions = [("dimm_add", 128 << 20, 1, "dimm1"), ("online", 32, "online_movable")]
        lanes = []
        for k in kernels:
            m = make_machine(k, **machine_kwargs)
            recs = run_actions(m, actions)
            bid = block_id if block_id is not None else first_added_block(recs)
            if bid is None:
                bid = min(m.blocks)
            lanes.append(Lane(m, walker, bid, f"{m.kernel.label}: "))
        return cls(lanes=lanes, step_pfns=step_pfns)

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [p.plot for p in self.panels if p.plot is not None]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figures' current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
