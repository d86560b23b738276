"""CountersView: spanned / present / managed / free pages of every zone, as bars, with /proc/zoneinfo and numactl -H.

The numbers are parsed from the machine's ``/proc/zoneinfo`` (exactly what the kernel
prints), so the bars and the text beside them never disagree.
"""
from __future__ import annotations

import re
from typing import Any

from bokeh.models import ColumnDataSource, FactorRange, HoverTool
from bokeh.plotting import figure
from ipywidgets import HTML, HBox, Layout, ToggleButtons, VBox

from widgets._bokeh import bokeh_widget
from jupyter_bokeh.widgets import BokehModel

from widgets._common import display_bundle, pre
from workbook.machine import Machine

__all__ = ["CountersView", "METRICS", "parse_zoneinfo"]

METRICS = ("spanned", "present", "managed", "free")
_METRIC_COLORS = {"spanned": "#c7c7c7", "present": "#9ecae1", "managed": "#3182bd", "free": "#31a354"}
_SECTION = re.compile(r"^Node (\d+), zone\s+(\w+)$", re.M)


def parse_zoneinfo(text: str) -> list[dict[str, Any]]:
    """Sections of /proc/zoneinfo: node, zone, spanned, present, managed, free (pages) and the section's text."""
    out = []
    heads = list(_SECTION.finditer(text))
    for i, h in enumerate(heads):
        body = text[h.start():heads[i + 1].start() if i + 1 < len(heads) else len(text)]
        row: dict[str, Any] = {"node": int(h.group(1)), "zone": h.group(2), "text": body.rstrip("\n")}
        for key, pat in (("free", r"^\s+pages free\s+(\d+)"), ("spanned", r"^\s+spanned\s+(\d+)"),
                         ("present", r"^\s+present\s+(\d+)"), ("managed", r"^\s+managed\s+(\d+)")):
            mm = re.search(pat, body, re.M)
            row[key] = int(mm.group(1)) if mm else 0
        out.append(row)
    return out


class CountersView:
    """Per node and zone: spanned, present, managed and free pages (bars), plus /proc/zoneinfo and numactl -H."""

    def __init__(self, machine: Machine, zoneinfo: str = "hot-plug nodes", plot_width: int = 640) -> None:
        """Build the bar chart and the two text panes for "hot-plug nodes" (all zones until they have one) or "all"."""
        self.m = machine
        self.rows: list[dict[str, Any]] = []
        self.source = ColumnDataSource(data={"x": [], "pages": [], "metric": [], "color": [], "mib": []})
        self.fig = figure(x_range=FactorRange(factors=[]), width=plot_width, height=320,
                          tools="pan,wheel_zoom,reset", toolbar_location="right", y_axis_label="pages")
        self.fig.vbar(x="x", top="pages", width=0.85, color="color", source=self.source)
        self.fig.add_tools(HoverTool(tooltips=[("zone", "@x"), ("pages", "@pages{0,0}"), ("MiB", "@mib{0,0.0}")]))
        self.fig.xaxis.major_label_orientation = 1.0
        self.fig.xaxis.group_label_orientation = 0.0
        self.fig.xgrid.grid_line_color = None
        self.fig.y_range.start = 0
        self.which = ToggleButtons(options=["hot-plug nodes", "all"], value=zoneinfo,
                                   style={"button_width": "120px"})
        self.which.observe(lambda _c: self.refresh(), names="value")
        self.zoneinfo = HTML(layout=Layout(max_height="360px", overflow="auto", width="420px"))
        self.numactl = HTML(layout=Layout(width="300px"))
        self.refresh()                      # before wrapping: the widget's first render is current
        self.plot = bokeh_widget(self.fig)
        self.widget = VBox([self.which, self.plot,
                            HBox([VBox([HTML("<b>/proc/zoneinfo</b>"), self.zoneinfo]),
                                  VBox([HTML("<b>numactl -H</b>"), self.numactl])])])

    def hotplug_nodes(self) -> list[int]:
        """Nodes that had no memory at boot or got a DIMM."""
        nodes = {n.id for n in self.m.node_specs if not n.boot_memory_bytes}
        nodes |= {d.node for d in self.m.dimms.values()}
        return sorted(nodes)

    def value(self, node: int, zone: str, metric: str) -> int:
        """One bar's height (pages), from the figure's data source."""
        d = self.source.data
        key = (f"node{node} {zone}", metric)
        for x, v in zip(d["x"], d["pages"]):
            if tuple(x) == key:
                return int(v)
        raise KeyError(key)

    def refresh(self) -> None:
        """Re-read /proc/zoneinfo and numactl -H; redraw bars and text."""
        text = str(self.m.read("/proc/zoneinfo"))
        rows = parse_zoneinfo(text)
        self.rows = rows
        hp = set(self.hotplug_nodes())
        shown = [r for r in rows if r["spanned"] or r["present"]]
        if self.which.value != "all" and any(r["node"] in hp for r in shown):
            shown = [r for r in shown if r["node"] in hp]
        xs, pages, metrics, colors, mib = [], [], [], [], []
        for r in shown:
            for k in METRICS:
                xs.append((f"node{r['node']} {r['zone']}", k))
                pages.append(r[k])
                metrics.append(k)
                colors.append(_METRIC_COLORS[k])
                mib.append(r[k] * self.m.arch.page_size / (1 << 20))
        self.fig.x_range.factors = xs
        self.source.data = {"x": xs, "pages": pages, "metric": metrics, "color": colors, "mib": mib}
        self.fig.title.text = f"zones ({self.m.kernel.label}): spanned / present / managed / free pages"
        if self.which.value == "all":
            zi = text
        else:
            zi = "\n".join(r["text"] for r in rows if r["node"] in hp and r["present"]) \
                or "(no populated zone on a hot-plug node yet)"
        self.zoneinfo.value = pre(zi, "zoneinfo")
        self.numactl.value = pre(self.m.numactl_hardware(), "numactl")

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [self.plot]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figure's current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
