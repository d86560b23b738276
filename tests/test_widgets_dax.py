"""The views drive a dax device as they drive DIMMs: modules, the attribute, driver files, daxctl, the page maps.

Clicks go through the control panel's methods and buttons; the checks read the machine and the data
the views would draw.
"""
from __future__ import annotations

import pytest

from widgets._common import make_machine, run_action
from widgets.controls import ControlPanel
from widgets.dashboard import Workbench
from widgets.dax import DaxDeviceView
from workbook.dax import soft_reserved_machine

MEMMAP_PFNS = ((128 << 20) >> 12) * 64 // 4096        # one 128 MiB block's struct pages, in 4 KiB pages


@pytest.fixture
def wb() -> Workbench:
    return Workbench(soft_reserved_machine("6.12"))


def test_dax_rows_only_on_a_machine_with_soft_reserved_memory(wb: Workbench) -> None:
    assert wb.controls.has_dax and wb.dax_view is not None
    assert wb.controls.modprobe_button in wb.controls.widget.children[0].children
    plain = ControlPanel(make_machine("6.12"))
    assert not plain.has_dax and plain.modprobe_button not in [w for row in plain.widget.children
                                                               for w in getattr(row, "children", [])]


def test_clicks_take_the_device_from_soft_reserved_to_self_hosted_blocks(wb: Workbench) -> None:
    c = wb.controls
    c.dax_module.value = "device_dax"
    c.modprobe_button.click()
    c.dax_module.value = "dax_hmem"
    c.modprobe_button.click()
    assert c.last.command == "modprobe dax_hmem" and c.dax_dev.value == "dax0.0"
    assert wb.dax_view.attributes()["driver"] == ""
    c.mom.value = "1"
    c.mom_button.click()
    assert c.last.command == "echo 1 > /sys/bus/dax/devices/dax0.0/memmap_on_memory" and c.last.ok
    c.dax_module.value = "kmem"
    c.modprobe_button.click()
    assert wb.dax_view.attributes()["driver"] == "kmem"
    assert wb.dax_view.blocks() == [32, 33] and wb.page_map.block_id == 32
    for b in (32, 33):
        c.set_state(b, "online_movable")
    assert wb.dax_view.selfhosted() == [MEMMAP_PFNS, MEMMAP_PFNS]        # 512 at the start of each block
    assert "memory_tier22 nodelist=1" in wb.dax_view.info.value
    assert "System RAM (kmem)" in wb.dax_view.info.value
    assert "dax-legend" in wb.dax_view.legend.value and "memory33" in wb.dax_view.legend.value
    # the attribute while kmem holds the device: the kernel's errno, inline
    c.mom.value = "0"
    c.mom_button.click()
    assert not c.last.ok and c.last.errno_name == "EBUSY"
    assert "EBUSY" in c.output.value


def test_driver_file_writes_and_their_errnos(wb: Workbench) -> None:
    c = wb.controls
    for mod in ("device_dax", "dax_hmem", "kmem"):
        c.load_module(mod)
    c.dax_driver.value, c.dax_op.value = "device_dax", "bind"
    c.dax_op_button.click()
    assert c.last.command == "echo dax0.0 > /sys/bus/dax/drivers/device_dax/bind"
    assert c.last.errno_name == "ENODEV"                     # a RAM region matches kmem only (6.3+)
    c.set_state(32, "online_movable")
    rec = c.dax_driver_write("kmem", "unbind")
    assert rec.ok and "driver none" in rec.result
    assert any("cannot be hotremoved until the next reboot" in ln for ln in rec.log)
    assert c.load_module("kmem").errno_name == "EEXIST"


def test_daxctl_reconfigure_writes_what_daxctl_writes(wb: Workbench) -> None:
    c = wb.controls
    c.load_module("device_dax")
    c.load_module("dax_hmem")
    c.set_memmap_on_memory("1")
    rec = c.daxctl("system-ram")
    assert rec.ok and rec.command.splitlines()[1:] == [
        "modprobe kmem",
        "echo dax0.0 > /sys/bus/dax/drivers/kmem/new_id",
        "echo dax0.0 > /sys/bus/dax/drivers/kmem/bind   # EBUSY",     # kmem took it when it was loaded
        "echo online_movable > /sys/devices/system/memory/memory32/state",
        "echo online_movable > /sys/devices/system/memory/memory33/state"]
    assert not c.daxctl("devdax").ok                               # online memory: daxctl refuses
    for b in (32, 33):
        c.set_state(b, "offline")
    rec = c.daxctl("devdax")
    assert rec.ok and rec.command.splitlines()[1:3] == [
        "echo dax0.0 > /sys/devices/platform/hmem.0/dax0.0/driver/remove_id",
        "echo dax0.0 > /sys/devices/platform/hmem.0/dax0.0/driver/unbind"]
    assert wb.dax_view.attributes()["driver"] == "device_dax" and wb.dax_view.blocks() == []


def test_6_1_device_view_has_no_attribute_and_device_dax_binds_first() -> None:
    m = soft_reserved_machine("6.1")
    v = DaxDeviceView(m)
    assert "no such dax device" in v.info.value
    for mod in ("device_dax", "dax_hmem"):
        run_action(m, ("insmod", mod))
    v.refresh()
    attrs = v.attributes()
    assert attrs["driver"] == "device_dax" and "memmap_on_memory" not in attrs
    rec = run_action(m, ("write", "/sys/bus/dax/devices/dax0.0/memmap_on_memory", "1"))
    assert rec.errno_name == "ENOENT"
