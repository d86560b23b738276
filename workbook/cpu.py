"""CPU hotplug as far as memory sees it: /sys/devices/system/cpu/cpuN/online (drivers/base/cpu.c, kernel/cpu.c).

Taking a node's last CPU offline clears the node from ``has_cpu`` (N_CPU) and drains that
CPU's per-cpu page lists back into the buddy allocator (``page_alloc_cpu_dead()``); the
kernel's own allocations for the node then come from other CPUs.  Leaves out: everything
else CPU hotplug does (tasks migrated, timers, the scheduler's domains).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import page_alloc as pa
from .cmdline import kstrtobool
from .errors import EBUSY, EINVAL, ENOENT, KernelError

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["cpu_online_show", "online_store", "cpu_device_down", "cpu_device_up", "first_online_cpu"]


def _check(m: "Machine", cpu: int, path: str) -> None:
    # x86: arch_register_cpu() makes only CPUs other than the boot CPU hotpluggable, so cpu0
    # has no online file
    if cpu not in m.cpus or cpu == m.cpus[0]:
        raise KernelError(ENOENT, f"{path}: No such file or directory")


def cpu_online_show(m: "Machine", cpu: int, path: str = "") -> str:
    """online_show(): ``1`` or ``0``."""
    _check(m, cpu, path)
    return "1\n" if cpu in m.cpu_online else "0\n"


def online_store(m: "Machine", cpu: int, buf: str, path: str = "") -> int:
    """online_store() (drivers/base/core.c): kstrtobool, then device_online()/device_offline()."""
    _check(m, cpu, path)
    val = kstrtobool(buf.rstrip("\n"), m.kernel.kstrtobool_tf)
    if val is None:
        raise KernelError(EINVAL, f"invalid value {buf!r}", function="online_store")
    if val:
        cpu_device_up(m, cpu)
    else:
        cpu_device_down(m, cpu)
    return len(buf)


def cpu_device_down(m: "Machine", cpu: int) -> None:
    """cpu_device_down() -> _cpu_down(): the CPU leaves; its pcp lists are drained (page_alloc_cpu_dead())."""
    if cpu not in m.cpu_online:
        return                                   # device_offline() of an offline device: nothing to do
    if len(m.cpu_online) == 1:
        raise KernelError(EBUSY, "cannot take the last CPU offline", function="_cpu_down")
    for node in m.nodes.values():
        for zone in node.zones:
            pcp = zone.pcp.get(cpu)
            if pcp is not None and pcp.count:
                pa.free_pcppages_bulk(m, zone, pcp, pcp.count)
    m.cpu_online.discard(cpu)
    m.printk(f"smpboot: CPU {cpu} is now offline")


def cpu_device_up(m: "Machine", cpu: int) -> None:
    """cpu_device_up(): the CPU comes back."""
    m.cpu_online.add(cpu)


def first_online_cpu(m: "Machine", nid: int) -> int:
    """The CPU that runs a node's kernel work: its first online CPU, else the boot CPU."""
    for c in m.nodes[nid].cpus:
        if c in m.cpu_online:
            return c
    return m.cpus[0]
