"""VersionCompare: one script of actions run on two kernels, side by side: page maps, key counters, differences.

Two fresh machines (same hardware, same command line) run the same list of actions;
each side shows what every action answered, the page map of the chosen block, and a
table of the numbers a learner compares (how the memmap pages are flagged, what a
pfn walker does with them, zone counters, /proc/vmstat's nr_memmap_pages, ...).
"""
from __future__ import annotations

from typing import Any, Sequence

from ipywidgets import HTML, Dropdown, HBox, Layout, VBox

from widgets._common import (Action, ActionRecord, display_bundle, esc, first_added_block, make_machine, pre,
                             run_actions)
from widgets.counters import parse_zoneinfo
from widgets.pagemap import PageMapView, compact, legend_rows, selfhosted_label
from workbook.errors import KernelError
from workbook.kernel import KERNELS
from workbook.machine import Machine
from workbook.memory_hotplug import memmap_on_memory_refusal
from workbook.pagemap import kpf_names
from workbook.walkers import walk

__all__ = ["DEFAULT_ACTIONS", "VersionCompare", "key_numbers"]

#: Hot-add one 128 MiB DIMM on node 1 and online it movable.
DEFAULT_ACTIONS: list[Action] = [("dimm_add", 128 << 20, 1, "dimm1"), ("online", 32, "online_movable")]


def _vmstat(m: Machine, name: str) -> str:
    for line in str(m.read("/proc/vmstat")).splitlines():
        k, _, v = line.partition(" ")
        if k == name:
            return v
    return "(not in /proc/vmstat)"


def key_numbers(m: Machine, block_id: int, records: Sequence[ActionRecord], page_map: PageMapView | None = None
                ) -> dict[str, str]:
    """The numbers compared across kernels for one block (every value read through the model's public API)."""
    out: dict[str, str] = {}
    for i, r in enumerate(records):
        out[f"action {i + 1}: {r.command.splitlines()[-1] if r.command else r.action}"] = (
            "ok" if r.ok else (r.errno_name or r.result))
    out["memmap_on_memory refusal"] = memmap_on_memory_refusal(m) or "(none: allowed)"
    b = m.blocks.get(block_id)
    if b is None:
        out[f"memory{block_id}"] = "does not exist"
        return out
    d = f"/sys/devices/system/memory/memory{block_id}"
    out["state"] = str(m.read(f"{d}/state")).strip()
    try:
        out["valid_zones"] = str(m.read(f"{d}/valid_zones")).strip()
    except KernelError as e:
        out["valid_zones"] = e.errno_name
    out["vmemmap pages (altmap / nr_vmemmap_pages)"] = str(b.vmemmap_pages)
    out["altmap kept in struct memory_block"] = "yes" if b.altmap is not None else "no"
    out["self-hosted memmap pages are"] = selfhosted_label(m) if b.vmemmap_pages else "-"
    words = m.kpageflags(b.start_pfn, 1)
    word = int(words[0]) if words.size else 0
    out["kpageflags of the block's first pfn"] = kpf_names(word)
    if page_map is not None:
        c = page_map.counts()
        for k in ("selfhosted", "free", "movable", "unmovable", "offline"):
            out[f"page map: {k} pfns"] = str(c.get(k, 0))
    for w in ("generic", "hotplug"):
        res = walk(m, w, b.start_pfn, b.nr_pages)
        out[f"{w} walker"] = ", ".join(f"{k} {v}" for k, v in res.counts().items())
    if b.zone is not None:
        for r in parse_zoneinfo(str(m.read("/proc/zoneinfo"))):
            if r["node"] == b.nid and r["zone"] == b.zone.name:
                for k in ("spanned", "present", "managed", "free"):
                    out[f"node {b.nid} {b.zone.name} {k}"] = str(r[k])
    out["/proc/vmstat nr_memmap_pages"] = _vmstat(m, "nr_memmap_pages")
    return out


class VersionCompare:
    """The same actions on two kernels: each side's action results and page map, key counters and a diff table."""

    def __init__(self, actions: Sequence[Action] | None = None, kernels: Sequence[str] = ("6.1", "6.12"),
                 block_id: int | None = None, plot_width: int = 440, **machine_kwargs: Any) -> None:
        """Boot one machine per kernel with ``machine_kwargs``, run ``actions`` on both, show ``block_id``."""
        self.actions: list[Action] = list(actions if actions is not None else DEFAULT_ACTIONS)
        self.machine_kwargs = machine_kwargs
        self.block_id = block_id
        self.plot_width = plot_width
        self.kernel_pick = [Dropdown(options=list(KERNELS), value=k, description=f"kernel {'AB'[i]}",
                                     layout=Layout(width="200px")) for i, k in enumerate(kernels)]
        self.block_pick = Dropdown(options=[], description="block", layout=Layout(width="220px"))
        self.script = HTML()
        self.results = [HTML(), HTML()]
        self.legend = HTML(layout=Layout(width="420px"))
        self.diff = HTML()
        self.machines: list[Machine] = []
        self.records: list[list[ActionRecord]] = []
        self.page_maps: list[PageMapView] = []
        self.numbers: list[dict[str, str]] = []
        self._sides = HBox()
        for p in self.kernel_pick:
            p.observe(lambda _c: self.rerun(), names="value")
        self.block_pick.observe(self._on_block, names="value")
        self.widget = VBox([HBox(self.kernel_pick + [self.block_pick]), self.script, self._sides, self.legend,
                            HTML("<b>differences</b>"), self.diff])
        self.rerun()

    def set_actions(self, actions: Sequence[Action]) -> None:
        """Replace the script and run it again on both kernels."""
        self.actions = list(actions)
        self.rerun()

    def rerun(self) -> None:
        """Boot fresh machines for the two kernels and run the script on both."""
        self.machines = [make_machine(p.value, **self.machine_kwargs) for p in self.kernel_pick]
        self.records = [run_actions(m, self.actions) for m in self.machines]
        bid = self.block_id
        if bid is None:
            bid = first_added_block(self.records[0])
        if bid is None:
            bid = min(self.machines[0].blocks)
        self.block_id = bid
        ids = sorted(set(self.machines[0].blocks) | set(self.machines[1].blocks))
        self._setting = True
        try:
            self.block_pick.options = [(f"memory{i}", i) for i in ids]
            self.block_pick.value = bid if bid in ids else (ids[0] if ids else None)
        finally:
            self._setting = False
        self.page_maps = [PageMapView(m, bid, picker=False, plot_width=self.plot_width, legend=False,
                                      title=f"{m.kernel.label}: ") for m in self.machines]
        self._align()
        self.script.value = pre("\n".join(r.command for r in self.records[0]), "script")
        for i, recs in enumerate(self.records):
            self.results[i].value = "".join(
                f"<div data-ok='{int(r.ok)}' data-errno='{esc(r.errno_name)}' style='font-size:12px'>"
                f"{'&#10003;' if r.ok else '&#10007;'} {esc(r.result)}"
                f"{' <b>' + esc(r.errno_name) + '</b>: ' + esc(r.message) if not r.ok and r.errno_name else ''}</div>"
                for r in recs)
        lane = Layout(width=f"{self.plot_width + 10}px", overflow="hidden")
        self._sides.children = [VBox([HTML(f"<b>{esc(m.kernel.label)}</b>"), self.results[i], pm.widget], layout=lane)
                                for i, (m, pm) in enumerate(zip(self.machines, self.page_maps))]
        self._update_numbers()

    def _on_block(self, change: dict[str, Any]) -> None:
        if getattr(self, "_setting", False) or change["new"] is None:
            return
        self.block_id = int(change["new"])
        for pm in self.page_maps:
            pm.min_band_lines = 0
            pm.show_block(self.block_id)
        self._align()
        self._update_numbers()

    def _align(self) -> None:
        """Give both page maps the same label band, so that their rows line up side by side."""
        need = max(pm.band_lines() for pm in self.page_maps)
        for pm in self.page_maps:
            if pm.band_lines() < need:
                pm.min_band_lines = need
                pm.refresh()

    def _update_legend(self) -> None:
        """One legend for both page maps: the pfns of every state on each kernel."""
        a, b = (m.kernel.label for m in self.machines)
        self.legend.value = ("<table class='pagemap-legend compare-legend' style='font-size:12px;"
                             "border-collapse:collapse;width:100%'>"
                             + compact(f"<tr><th></th><th style='text-align:left'>memory{self.block_id}: pfns per "
                                       f"state</th><th style='text-align:right'>{esc(a)}</th>"
                                       f"<th style='text-align:right'>{esc(b)}</th></tr>")
                             + legend_rows(self.machines[0], self.page_maps[0].colors,
                                           [(pm.counts(), pm.free_by_order()) for pm in self.page_maps])
                             + "</table>")

    def _update_numbers(self) -> None:
        self._update_legend()
        self.numbers = [key_numbers(m, self.block_id, recs, pm)
                        for m, recs, pm in zip(self.machines, self.records, self.page_maps)]
        rows = self.diff_rows()
        a, b = (m.kernel.label for m in self.machines)
        self.diff.value = compact(
            "<table class='version-diff' style='font-size:12px;border-collapse:collapse'>"
            f"<tr><th style='text-align:left'>memory{self.block_id}</th><th>{esc(a)}</th><th>{esc(b)}</th></tr>"
            + "".join(f"<tr data-differs='{int(x != y)}' style='{'background:#fff3cd' if x != y else ''}'>"
                      f"<td>{esc(k)}</td><td><code>{esc(x)}</code></td><td><code>{esc(y)}</code></td></tr>"
                      for k, x, y in rows)
            + "</table>")

    def diff_rows(self) -> list[tuple[str, str, str]]:
        """(quantity, kernel A's value, kernel B's value) for every compared number."""
        a, b = self.numbers
        keys = list(dict.fromkeys(list(a) + list(b)))
        return [(k, a.get(k, "-"), b.get(k, "-")) for k in keys]

    def differences(self) -> list[tuple[str, str, str]]:
        """Only the rows where the two kernels differ."""
        return [r for r in self.diff_rows() if r[1] != r[2]]

    def bokeh_models(self) -> list[Any]:
        """The BokehModel widgets of this view."""
        return [bm for pm in self.page_maps for bm in pm.bokeh_models()]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figures' current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
