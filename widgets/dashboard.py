"""Workbench: the control panel, the block map, the page map and the counters of one machine, wired together.

A machine with Soft Reserved memory also shows its dax device (DaxDeviceView).

An action in the control panel refreshes every view; a hot-add or a state change opens
the block it touched in the page map; a click in the block map opens that block and
selects it in the control panel.
"""
from __future__ import annotations

from typing import Any

from ipywidgets import HTML, VBox

from widgets._common import ActionRecord, dax_device_blocks, display_bundle, refresh_block_picker
from widgets.blockmap import BlockMapView
from widgets.controls import ControlPanel
from widgets.counters import CountersView
from widgets.dax import DaxDeviceView
from widgets.pagemap import PageMapView
from workbook.machine import Machine

__all__ = ["Workbench"]


class Workbench:
    """Controls + block map + page map + counters of one machine, refreshed after every action."""

    def __init__(self, machine: Machine, block_id: int | None = None, free_orders: bool = True) -> None:
        """Build and link the four views (``free_orders`` goes to the :class:`PageMapView`)."""
        self.m = machine
        self.controls = ControlPanel(machine)
        self.page_map = PageMapView(machine, block_id, free_orders=free_orders)
        self.block_map = BlockMapView(machine, page_map=self.page_map)
        self.counters = CountersView(machine)
        # a machine with Soft Reserved memory: the dax device, its claims and a page map per block
        self.dax_view = DaxDeviceView(machine) if self.controls.has_dax else None
        self.controls.on_change.append(self._after_action)
        self.block_map.on_select.append(self._on_select)
        views = [self.dax_view.widget] if self.dax_view is not None else []
        self.widget = VBox([HTML(f"<b>{machine.kernel.label}, {machine.arch.name}</b>"), self.controls.widget]
                           + views + [self.block_map.widget, self.page_map.widget, self.counters.widget])

    def _on_select(self, block_id: int) -> None:
        """A block was clicked: make it the control panel's block too."""
        refresh_block_picker(self.controls.block, self.m, block_id)

    def _after_action(self, rec: ActionRecord) -> None:
        """Redraw every view; open the block the action touched."""
        target = None
        if rec.action == "dimm_add" and getattr(rec.value, "blocks", None):
            target = rec.value.blocks[0]
        elif rec.action == "online":
            target = self.controls.block.value
        elif rec.action in ("insmod", "write", "daxctl") and self.controls.has_dax and self.controls.dax_dev.value:
            blocks = dax_device_blocks(self.m, self.controls.dax_dev.value)
            if blocks and self.page_map.block_id not in blocks:
                target = blocks[0]                      # kmem added them: open the device's first block
                refresh_block_picker(self.controls.block, self.m, target)
        self.block_map.refresh()
        if target is not None and target in self.m.blocks and target != self.page_map.block_id:
            self.block_map.select(target)
        else:
            self.page_map.refresh()
        self.counters.refresh()
        if self.dax_view is not None:
            self.dax_view.refresh()

    def refresh(self) -> None:
        """Redraw every view from the machine's current state."""
        self.controls.refresh()
        self.block_map.refresh()
        self.page_map.refresh()
        self.counters.refresh()
        if self.dax_view is not None:
            self.dax_view.refresh()

    def bokeh_models(self) -> list[Any]:
        """The BokehModel widgets of every view."""
        dax = self.dax_view.bokeh_models() if self.dax_view is not None else []
        return self.block_map.bokeh_models() + self.page_map.bokeh_models() + self.counters.bokeh_models() + dax

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figures' current state)."""
        return display_bundle(self.widget, self.bokeh_models(), **kwargs)
