"""ControlPanel: the buttons a learner presses on a machine (hot-add, online/offline, hot-remove, workloads, dax).

A machine with Soft Reserved memory also gets the dax/kmem rows: load a module, write the
dax device's ``memmap_on_memory``, write a device name to a dax driver's ``bind``,
``unbind``, ``new_id`` or ``remove_id``, and ``daxctl reconfigure-device``.

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
from workbook.e820 import soft_reserved_ranges
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
        # dax/kmem (a machine with Soft Reserved memory): modules, the device's attribute, driver files, daxctl
        self.has_dax = bool(soft_reserved_ranges(machine.e820))
        self.dax_module = Dropdown(options=sorted(machine.modules_available()) or [""], description="module",
                                   style=_STYLE)
        self.modprobe_button = Button(description="modprobe", icon="plug")
        self.rmmod_button = Button(description="rmmod", icon="eject")
        self.dax_dev = Dropdown(options=[], description="device", style=_STYLE, layout=Layout(width="180px"))
        self.mom = ToggleButtons(options=[("0", "0"), ("1", "1")], value="1", description="memmap_on_memory",
                                 style={"button_width": "40px", "description_width": "initial"})
        self.mom_button = Button(description="echo > memmap_on_memory", icon="pencil",
                                 layout=Layout(width="220px"))
        self.dax_driver = Dropdown(options=["kmem", "device_dax"], value="kmem", description="driver", style=_STYLE,
                                   layout=Layout(width="180px"))
        self.dax_op = Dropdown(options=["bind", "unbind", "new_id", "remove_id"], value="bind", description="file",
                               style=_STYLE, layout=Layout(width="170px"))
        self.dax_op_button = Button(description="echo device > file", icon="pencil", layout=Layout(width="170px"))
        self.daxctl_mode = Dropdown(options=["system-ram", "devdax"], value="system-ram", description="daxctl --mode",
                                    style=_STYLE, layout=Layout(width="230px"))
        self.daxctl_button = Button(description="reconfigure-device", icon="cogs", layout=Layout(width="170px"))
        self.modprobe_button.on_click(lambda _b: self.load_module())
        self.rmmod_button.on_click(lambda _b: self.unload_module())
        self.mom_button.on_click(lambda _b: self.set_memmap_on_memory())
        self.dax_op_button.on_click(lambda _b: self.dax_driver_write())
        self.daxctl_button.on_click(lambda _b: self.daxctl())
        self.output = HTML(value="<i>no action yet</i>")
        self.add_button.on_click(lambda _b: self.hot_add())
        self.state_button.on_click(lambda _b: self.set_state())
        self.remove_button.on_click(lambda _b: self.hot_remove())
        self.wl_button.on_click(lambda _b: self.start_workload())
        self.stop_button.on_click(lambda _b: self.stop_workload())
        dax_rows = [
            HBox([_head("dax modules"), self.dax_module, self.modprobe_button, self.rmmod_button]),
            HBox([_head("dax device"), self.dax_dev, self.mom, self.mom_button]),
            HBox([_head("dax driver"), self.dax_driver, self.dax_op, self.dax_op_button]),
            HBox([_head("daxctl"), self.daxctl_mode, self.daxctl_button]),
        ] if self.has_dax else []
        self.widget = VBox(dax_rows + [
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
        if self.has_dax:
            devs = [d.name for d in self.m.dax.devices()]
            cur = self.dax_dev.value
            self.dax_dev.options = devs
            self.dax_dev.value = cur if cur in devs else (devs[0] if devs else None)

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

    # ------------------------------------------------------------------------------------------
    # dax/kmem
    # ------------------------------------------------------------------------------------------
    def load_module(self, name: str | None = None) -> ActionRecord:
        """``modprobe NAME`` (device_dax, dax_hmem, kmem): its drivers bind what they match."""
        return self._done(run_action(self.m, ("insmod", name or self.dax_module.value)))

    def unload_module(self, name: str | None = None) -> ActionRecord:
        """``rmmod NAME``: its drivers let go of their devices (kmem tries to remove the memory)."""
        return self._done(run_action(self.m, ("rmmod", name or self.dax_module.value)))

    def _dax_path(self, dev: str | None) -> str | None:
        dev = dev or self.dax_dev.value
        return f"/sys/bus/dax/devices/{dev}" if dev else None

    def set_memmap_on_memory(self, value: str | None = None, dev: str | None = None) -> ActionRecord:
        """``echo VALUE > /sys/bus/dax/devices/DEV/memmap_on_memory`` (6.8+; EBUSY to change it under kmem)."""
        path = self._dax_path(dev)
        if path is None:
            return self._done(ActionRecord("write", "", False, "no dax device (modprobe dax_hmem)"))
        return self._done(run_action(self.m, ("write", f"{path}/memmap_on_memory",
                                              self.mom.value if value is None else value)))

    def dax_driver_write(self, driver: str | None = None, op: str | None = None,
                         dev: str | None = None) -> ActionRecord:
        """``echo DEV > /sys/bus/dax/drivers/DRIVER/{bind,unbind,new_id,remove_id}``."""
        dev = dev or self.dax_dev.value
        if dev is None:
            return self._done(ActionRecord("write", "", False, "no dax device (modprobe dax_hmem)"))
        path = f"/sys/bus/dax/drivers/{driver or self.dax_driver.value}/{op or self.dax_op.value}"
        return self._done(run_action(self.m, ("write", path, dev)))

    def daxctl(self, mode: str | None = None, dev: str | None = None, online: bool = True) -> ActionRecord:
        """``daxctl reconfigure-device --mode=MODE DEV``: the sysfs writes daxctl makes, one by one."""
        dev = dev or self.dax_dev.value
        if dev is None:
            return self._done(ActionRecord("daxctl", "", False, "no dax device (modprobe dax_hmem)"))
        return self._done(run_action(self.m, ("daxctl", dev, mode or self.daxctl_mode.value, online)))

    @property
    def last(self) -> ActionRecord | None:
        """The latest action."""
        return self.action_log[-1] if self.action_log else None

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
