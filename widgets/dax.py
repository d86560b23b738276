"""DaxDeviceView: a dax device's sysfs files, its /proc/iomem claims, memory tiers, and a page map per memory block.

kmem adds a dax device as whole memory blocks, and with ``memmap_on_memory`` set every
block carries its own memmap at its start: the view draws one page map per block of the
device side by side, so that the self-hosted pfns show up at the start of *each* block.
Everything shown is read through the machine's files (``read``, ``ls``, ``readlink``).
"""
from __future__ import annotations

from typing import Any

from ipywidgets import HTML, HBox, Layout, VBox

from widgets._common import dax_device_blocks, display_bundle, esc, pre
from widgets.pagemap import PageMapView, compact, legend_rows
from workbook.errors import KernelError
from workbook.machine import Machine

__all__ = ["DaxDeviceView", "DAX_ATTRS"]

#: the attribute files the view shows, in this order (those a kernel lacks are left out)
DAX_ATTRS = ("size", "target_node", "numa_node", "align", "resource", "memmap_on_memory")


class DaxDeviceView:
    """One dax device: attributes and driver, iomem lines, memory tiers, and a page map per block it added."""

    def __init__(self, machine: Machine, device: str = "dax0.0", plot_width: int = 460) -> None:
        """Build the view of ``device`` (it may not exist yet: the view says so and fills in on refresh)."""
        self.m = machine
        self.device = device
        self.plot_width = plot_width
        self.info = HTML()
        self.legend = HTML(layout=Layout(width="430px"))
        self.maps_box = HBox()
        self.page_maps: list[PageMapView] = []
        self.widget = VBox([self.info, self.maps_box, self.legend])
        self.refresh()

    # ------------------------------------------------------------------------------------------
    def _cat(self, path: str) -> str:
        try:
            return str(self.m.read(path)).strip()
        except KernelError as e:
            return f"({e.errno_name})"

    def attributes(self) -> dict[str, str]:
        """The device's driver and attribute files, as ``cat`` shows them (empty if there is no such device)."""
        d = f"/sys/bus/dax/devices/{self.device}"
        if not self.m.exists(d):
            return {}
        out = {"driver": self.m.readlink(f"{d}/driver").rsplit("/", 1)[1] if self.m.exists(f"{d}/driver") else ""}
        have = self.m.ls(d)
        out.update({a: self._cat(f"{d}/{a}") for a in DAX_ATTRS if a in have})
        return out

    def iomem(self) -> list[str]:
        """The /proc/iomem lines of the device's range (Soft Reserved, daxX.Y, System RAM (kmem))."""
        dev = self.m.dax.device(self.device)
        if dev is None or not dev.ranges:
            return []
        lo, hi = dev.ranges[0].start, dev.ranges[-1].end
        out = []
        for ln in str(self.m.read("/proc/iomem")).splitlines():
            a, b = ln.split(" : ")[0].strip().split("-")
            if int(a, 16) <= hi and int(b, 16) >= lo:
                out.append(ln)
        return out

    def tiers(self) -> list[str]:
        """``memory_tierN nodelist=...`` for every tier (none before 6.1)."""
        base = "/sys/devices/virtual/memory_tiering"
        try:
            names = [t for t in self.m.ls(base) if t.startswith("memory_tier")]
        except KernelError:
            return []
        return [f"{t} nodelist={self._cat(f'{base}/{t}/nodelist')}" for t in names]

    def blocks(self) -> list[int]:
        """The memory blocks of the device's range that exist (kmem added them)."""
        return dax_device_blocks(self.m, self.device)

    # ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the device and redraw: one page map per block, one shared legend."""
        attrs = self.attributes()
        if not attrs:
            self.info.value = (f"<div class='dax-device-view' data-device='{esc(self.device)}' data-driver=''>"
                               f"<b>{esc(self.device)}</b>: no such dax device yet (load dax_hmem)</div>")
        else:
            rows = "".join(f"<tr><td><code>{esc(k)}</code></td><td data-attr='{esc(k)}'><code>{esc(v or '(none)')}"
                           "</code></td></tr>" for k, v in attrs.items())
            self.info.value = (
                f"<div class='dax-device-view' data-device='{esc(self.device)}' data-driver='{esc(attrs['driver'])}'>"
                f"<b>/sys/bus/dax/devices/{esc(self.device)}</b>"
                + compact(f"<table style='font-size:12px'>{rows}</table>")
                + "<div style='font-size:12px'>/proc/iomem</div>" + pre("\n".join(self.iomem()) or "-", "iomem")
                + "<div style='font-size:12px'>memory tiers</div>" + pre("\n".join(self.tiers()) or "-", "tiers")
                + "</div>")
        blocks = self.blocks()
        if [pm.block_id for pm in self.page_maps] != blocks:
            self.page_maps = [PageMapView(self.m, b, picker=False, plot_width=self.plot_width, legend=False,
                                          title=f"{self.device} block {i}: ") for i, b in enumerate(blocks)]
            self.maps_box.children = [pm.widget for pm in self.page_maps]
        else:
            for pm in self.page_maps:
                pm.refresh()
        if self.page_maps:
            head = "".join(f"<th style='text-align:right'>memory{pm.block_id}</th>" for pm in self.page_maps)
            self.legend.value = ("<table class='pagemap-legend dax-legend' style='font-size:12px;"
                                 "border-collapse:collapse;width:100%'>"
                                 + compact(f"<tr><th></th><th style='text-align:left'>pfns per state</th>{head}</tr>")
                                 + legend_rows(self.m, self.page_maps[0].colors,
                                               [(pm.counts(), pm.free_by_order()) for pm in self.page_maps])
                                 + "</table>")
        else:
            self.legend.value = "<i>no memory blocks: kmem has not added this device</i>"

    def selfhosted(self) -> list[int]:
        """Self-hosted memmap pfns of each block of the device (512 per 128 MiB block with the attribute set)."""
        return [pm.counts().get("selfhosted", 0) for pm in self.page_maps]

    def bokeh_models(self) -> list[Any]:
        """The BokehModel widgets of this view."""
        return [bm for pm in self.page_maps for bm in pm.bokeh_models()]

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figures' current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
