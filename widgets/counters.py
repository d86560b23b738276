"""CountersView: spanned / present / managed / free pages of every zone, as bars, with /proc/zoneinfo and numactl -H.

The numbers are parsed from the machine's ``/proc/zoneinfo`` (exactly what the kernel
prints), so the bars and the text beside them never disagree.
"""
from __future__ import annotations

import re
from typing import Any

from bokeh.models import ColumnDataSource, FactorRange, HoverTool, LabelSet, NumeralTickFormatter, Range1d
from bokeh.plotting import figure
from ipywidgets import HTML, HBox, Layout, ToggleButtons, VBox

from widgets._bokeh import bokeh_widget
from jupyter_bokeh.widgets import BokehModel

from widgets import palette
from widgets._common import display_bundle, pre, summary_html
from workbook.machine import Machine

__all__ = ["CountersView", "METRICS", "parse_zoneinfo", "zone_stanza"]

METRICS = ("spanned", "present", "managed", "free")
_METRIC_COLORS = palette.COUNTERS          # Okabe-Ito based, told apart under colour-vision deficiencies
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


def zone_stanza(section: str) -> str:
    """A /proc/zoneinfo section without its per-node stats, vm counters and pagesets:
    the head line, ``pages free`` .. ``protection:`` and ``start_pfn:``."""
    lines = section.splitlines()
    out = lines[:1]
    inside = False
    for line in lines[1:]:
        if line.startswith("  pages free"):
            inside = True
        if inside:
            out.append(line)
            if line.lstrip().startswith("protection:"):
                inside = False
        elif line.startswith("  start_pfn:"):
            out.append(line)
    return "\n".join(out)


class CountersView:
    """Per node and zone: spanned, present, managed and free pages (bars), plus /proc/zoneinfo and numactl -H."""

    def __init__(self, machine: Machine, zoneinfo: str = "hot-plug nodes", plot_width: int = 640) -> None:
        """Build the bar chart and the two text panes for "hot-plug nodes" (all zones until they have one) or "all"."""
        self.m = machine
        self.rows: list[dict[str, Any]] = []
        self.source = ColumnDataSource(data={"x": [], "pages": [], "metric": [], "color": [], "mib": [],
                                             "label": [], "label_y": [], "label_color": [], "label_align": [],
                                             "change": []})
        self._last: dict[tuple[str, str], int] = {}
        self._delta: dict[tuple[str, str], int] = {}
        self.fig = figure(x_range=FactorRange(factors=[]), y_range=Range1d(0, 1), width=plot_width, height=340,
                          tools="pan,wheel_zoom,reset", toolbar_location="right", y_axis_label="pages")
        self.fig.vbar(x="x", top="pages", width=0.85, color="color", source=self.source)
        # the value on every bar (vertical text, inside a tall bar, above a short one): 32,768 vs 32,256 is readable
        self.fig.add_layout(LabelSet(x="x", y="label_y", text="label", source=self.source, angle=1.5707963267948966,
                                     text_align="label_align", text_baseline="middle", text_font_size="8pt",
                                     text_color="label_color", x_offset=0, y_offset=0))
        self.fig.add_tools(HoverTool(tooltips=[("zone", "@x"), ("pages", "@pages{0,0}"), ("MiB", "@mib{0,0.0}"),
                                               ("last change", "@change")]))
        self.fig.xaxis.major_label_orientation = 1.0
        self.fig.xaxis.group_label_orientation = 0.0
        self.fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
        self.fig.xgrid.grid_line_color = None
        self.which = ToggleButtons(options=["hot-plug nodes", "all"], value=zoneinfo,
                                   style={"button_width": "120px"})
        self.which.observe(lambda _c: self.refresh(), names="value")
        self.zoneinfo = HTML(layout=Layout(max_height="360px", overflow="auto", width="420px"))
        self.numactl = HTML(layout=Layout(width="300px"))
        self.summary = HTML()
        self.refresh()                      # before wrapping: the widget's first render is current
        self.plot = bokeh_widget(self.fig)
        self.widget = VBox([self.which, self.plot, self.summary,
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
        hot = [r for r in shown if r["node"] in hp]
        note = ""
        if self.which.value != "all":
            if hot:
                shown = hot
            else:        # bars and text agree: every zone, and the text says why
                note = "(no populated zone on a hot-plug node yet: every populated zone is shown)\n\n"
        xs, pages, metrics, colors, mib = [], [], [], [], []
        for r in shown:
            for k in METRICS:
                xs.append((f"node{r['node']} {r['zone']}", k))
                pages.append(r[k])
                metrics.append(k)
                colors.append(_METRIC_COLORS[k])
                mib.append(r[k] * self.m.arch.page_size / (1 << 20))
        values = {(f"node{r['node']} {r['zone']}", k): r[k] for r in rows if r["spanned"] or r["present"]
                  for k in METRICS}
        if values != self._last:            # a change of the machine (not of the toggle): remember the deltas
            self._delta = {k: v - self._last[k] for k, v in values.items() if k in self._last and v != self._last[k]}
            self._last = values
        top = max(pages, default=0) or 1
        labels, label_y, label_color, label_align, change = [], [], [], [], []
        for x, v, k in zip(xs, pages, metrics):
            d = self._delta.get(tuple(x), 0)
            labels.append(f"{v:,}" + (f" ({d:+,})" if d else ""))
            change.append(f"{d:+,} pages" if d else "none")
            inside = v >= 0.6 * top                  # room inside the bar for "65,536 (+32,768)"
            label_y.append(v - 0.02 * top if inside else v + 0.02 * top)
            label_align.append("right" if inside else "left")
            label_color.append(palette.text_on(_METRIC_COLORS[k]) if inside else "#222222")
        self.fig.x_range.factors = xs
        self.fig.y_range.update(start=0, end=top * 1.3)
        self.source.data = {"x": xs, "pages": pages, "metric": metrics, "color": colors, "mib": mib,
                            "label": labels, "label_y": label_y, "label_color": label_color,
                            "label_align": label_align, "change": change}
        self.fig.title.text = f"zones ({self.m.kernel.label}): spanned / present / managed / free pages"
        self.summary.value = summary_html(
            f"Zone counters ({self.m.kernel.label}), bars of spanned, present, managed and free pages per zone: "
            + "; ".join(f"node {r['node']} {r['zone']}: " + ", ".join(f"{k} {r[k]:,}" for k in METRICS)
                        for r in shown) + ".")
        stanzas = "\n".join(zone_stanza(r["text"]) for r in shown)
        if self.which.value == "all" or note:
            full = text
        else:
            full = "\n".join(r["text"] for r in rows if r["node"] in hp and r["present"])
        self.zoneinfo.value = (pre(note + stanzas if stanzas else "(no populated zone)", "zoneinfo")
                               + "<details><summary>full text (per-node stats, pagesets)</summary>"
                               f"{pre(full, 'zoneinfo-full')}</details>")
        self.numactl.value = pre(self.m.numactl_hardware(), "numactl")

    def bokeh_models(self) -> list[BokehModel]:
        """The BokehModel widgets of this view."""
        return [self.plot]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figure's current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
