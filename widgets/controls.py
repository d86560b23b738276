"""ControlPanel: the buttons a learner presses on a machine (hot-add, online/offline, hot-remove, workloads).

Every action prints the command one would type on a real system (the QEMU monitor line
or the shell line), then the result; a refusal shows the kernel's errno name and its log
lines, never a traceback.  Views register in ``on_change`` to redraw after each action.
"""
from __future__ import annotations

from typing import Any, Callable

from ipywidgets import HTML, Button, Dropdown, HBox, Label, Layout, Text, ToggleButtons, VBox

from widgets._common import (ActionRecord, block_picker, notify, record_html, refresh_block_picker,
                             run_action)
from widgets.units import format_bytes
from workbook.arch import GiB, MiB
from workbook.machine import Machine

__all__ = ["ControlPanel", "DIMM_SIZES", "STATES", "WORKLOAD_SIZES"]

DIMM_SIZES: tuple[int, ...] = (128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB)
WORKLOAD_SIZES: tuple[int, ...] = (16 * MiB, 64 * MiB, 128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB)
STATES: tuple[str, ...] = ("online", "online_kernel", "online_movable", "offline")
_STYLE = {"description_width": "initial"}


def _head(text: str) -> Label:
    return Label(text, layout=Layout(width="110px"))


class ControlPanel:
    """Hot-add a DIMM, change a block's state, hot-remove a DIMM, start/stop a workload; shows command and answer."""

    def __init__(self, machine: Machine, sizes: tuple[int, ...] = DIMM_SIZES, show_trace: bool = True) -> None:
        """Build the controls for ``machine``."""
        self.m = machine
        self.show_trace = show_trace
        self.action_log: list[ActionRecord] = []
        self.on_change: list[Callable[[ActionRecord], None]] = []
        nodes = sorted(machine.nodes)
        hp_node = machine.layout.hotplug_node if machine.layout.hotplug_node in machine.nodes else nodes[-1]
        size_opts = [(format_bytes(s), s) for s in sizes]
        default = next((s for s in sizes if s >= machine.block_size and s % machine.block_size == 0), sizes[0])
        # hot-add
        self.add_size = Dropdown(options=size_opts, value=default, description="size", style=_STYLE)
        self.add_node = Dropdown(options=nodes, value=hp_node, description="node", style=_STYLE,
                                 layout=Layout(width="110px"))
        self.add_id = Text(value="", placeholder="auto", description="id", style=_STYLE, layout=Layout(width="150px"))
        self.add_button = Button(description="device_add", button_style="primary", icon="plus")
        # state
        self.block = block_picker(machine, None, "block")
        self.state = Dropdown(options=list(STATES), value="online_movable", description="state", style=_STYLE)
        self.state_button = Button(description="echo > state", icon="pencil")
        # hot-remove
        self.dimm = Dropdown(options=[], description="DIMM", style=_STYLE)
        self.remove_button = Button(description="device_del", button_style="warning", icon="minus")
        # workloads
        self.wl_kind = ToggleButtons(options=[("movable (anon)", "movable"), ("unmovable (pin)", "unmovable")],
                                     value="movable", style={"button_width": "130px"})
        self.wl_node = Dropdown(options=nodes, value=hp_node, description="node", style=_STYLE,
                                layout=Layout(width="110px"))
        self.wl_size = Dropdown(options=[(format_bytes(s), s) for s in WORKLOAD_SIZES], value=64 * MiB,
                                description="size", style=_STYLE)
        self.wl_button = Button(description="start", icon="play")
        self.wl_running = Dropdown(options=[], description="running", style=_STYLE)
        self.stop_button = Button(description="stop", icon="stop")
        self.output = HTML(value="<i>no action yet</i>")
        self.add_button.on_click(lambda _b: self.hot_add())
        self.state_button.on_click(lambda _b: self.set_state())
        self.remove_button.on_click(lambda _b: self.hot_remove())
        self.wl_button.on_click(lambda _b: self.start_workload())
        self.stop_button.on_click(lambda _b: self.stop_workload())
        self.widget = VBox([
            HBox([_head("hot-add DIMM"), self.add_size, self.add_node, self.add_id, self.add_button]),
            HBox([_head("memory block"), self.block, self.state, self.state_button]),
            HBox([_head("hot-remove"), self.dimm, self.remove_button]),
            HBox([_head("workload"), self.wl_kind, self.wl_node, self.wl_size, self.wl_button]),
            HBox([_head(""), self.wl_running, self.stop_button]),
            self.output,
        ])
        self.refresh()

    # ------------------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Re-read the machine's blocks, DIMMs and workloads into the dropdowns."""
        refresh_block_picker(self.block, self.m)
        dimms = [(f"{d.id} ({format_bytes(d.size)}, node {d.node})", d.id) for d in self.m.dimms.values()]
        cur = self.dimm.value
        self.dimm.options = dimms
        ids = [v for _, v in dimms]
        self.dimm.value = cur if cur in ids else (ids[-1] if ids else None)
        wls = [(f"{a.name} #{a.owner} ({a.kind}, node {a.nid}, {format_bytes(a.pages << self.m.arch.page_shift)})",
                a.owner) for a in self.m.workloads() if a.kind != "kernel"]
        cur = self.wl_running.value
        self.wl_running.options = wls
        owners = [v for _, v in wls]
        self.wl_running.value = cur if cur in owners else (owners[-1] if owners else None)

    def _done(self, rec: ActionRecord) -> ActionRecord:
        """Log the action, show it, refresh the dropdowns and tell the other views."""
        self.action_log.append(rec)
        self.output.value = record_html(rec, self.show_trace)
        self.refresh()
        notify(self.on_change, rec)
        return rec

    # ------------------------------------------------------------------------------------------
    def hot_add(self, size: int | None = None, node: int | None = None, id: str | None = None) -> ActionRecord:
        """QEMU ``device_add pc-dimm`` of ``size`` bytes on ``node`` (default: the controls' values)."""
        size = self.add_size.value if size is None else size
        node = self.add_node.value if node is None else node
        did = (id if id is not None else self.add_id.value.strip()) or self._free_id()
        rec = self._done(run_action(self.m, ("dimm_add", size, node, did)))
        r = rec.value
        if r is not None and r.blocks:
            refresh_block_picker(self.block, self.m, r.blocks[0])
        self.add_id.value = ""
        return rec

    def _free_id(self) -> str:
        """The first ``dimmN`` id not in use (QEMU needs a unique id to unplug the DIMM later)."""
        n = 1
        while f"dimm{n}" in self.m.dimms:
            n += 1
        return f"dimm{n}"

    def set_state(self, block: int | None = None, state: str | None = None) -> ActionRecord:
        """``echo STATE > /sys/devices/system/memory/memoryN/state`` (default: the controls' values)."""
        block = self.block.value if block is None else block
        state = self.state.value if state is None else state
        if block is None:
            return self._done(ActionRecord("state", "", False, "no memory block to change"))
        return self._done(run_action(self.m, ("online", int(block), state)))

    def hot_remove(self, dimm: str | None = None) -> ActionRecord:
        """QEMU ``device_del`` of a DIMM: ejected only if the guest offlines all of its blocks."""
        dimm = self.dimm.value if dimm is None else dimm
        if dimm is None:
            return self._done(ActionRecord("hot-remove", "", False, "no DIMM to remove"))
        return self._done(run_action(self.m, ("dimm_del", dimm)))

    def start_workload(self, kind: str | None = None, node: int | None = None, size: int | None = None) -> ActionRecord:
        """Start a movable (anonymous) workload or pin unmovable pipe buffers on a node."""
        kind = self.wl_kind.value if kind is None else kind
        node = self.wl_node.value if node is None else node
        size = self.wl_size.value if size is None else size
        action = "start_workload" if kind == "movable" else "pin"
        rec = run_action(self.m, (action, node, size))
        if rec.ok and rec.value is not None:
            self.wl_running.value = None      # _done()'s refresh then selects the newest workload
        return self._done(rec)

    def stop_workload(self, owner: int | None = None) -> ActionRecord:
        """Stop a running workload (its pages go back to the buddy; slab it caused may stay)."""
        owner = self.wl_running.value if owner is None else owner
        if owner is None:
            return self._done(ActionRecord("stop", "", False, "no workload running"))
        return self._done(run_action(self.m, ("stop_workload", owner)))

    @property
    def last(self) -> ActionRecord | None:
        """The latest action."""
        return self.action_log[-1] if self.action_log else None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
