"""Memory block devices and their sysfs files (drivers/base/memory.c, include/linux/memory.h).

A memory block is the unit user space onlines and offlines: ``memoryN`` under
``/sys/devices/system/memory``.  Its ``state`` file is the learner's main control.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .cmdline import (MMOP_OFFLINE, MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE,
                      mhp_online_type_from_str)
from .errors import EHWPOISON, EINVAL, KernelError
from .memremap import VmemAltmap
from .pagemap import PageMap
from .trace import kernel_function

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine
    from .mmzone import Zone

__all__ = ["MemoryBlock", "MemoryGroup", "MEM_ONLINE", "MEM_GOING_OFFLINE", "MEM_OFFLINE",
           "state_store", "online_store", "valid_zones_show", "state_show", "device_online", "device_offline",
           "memory_block_online", "memory_block_offline"]

# include/linux/memory.h (6.1 bit values; only the first three are visible to user space)
MEM_ONLINE = 1 << 0
MEM_GOING_OFFLINE = 1 << 1
MEM_OFFLINE = 1 << 2
MEM_GOING_ONLINE = 1 << 3
MEM_CANCEL_ONLINE = 1 << 4
MEM_CANCEL_OFFLINE = 1 << 5


@dataclass
class MemoryGroup:
    """struct memory_group (v5.15+): the blocks of one device, e.g. one ACPI DIMM (a static group)."""

    id: int
    nid: int
    max_pages: int
    is_dynamic: bool = False
    present_kernel_pages: int = 0
    present_movable_pages: int = 0
    blocks: list[int] = field(default_factory=list)


@dataclass(eq=False)
class MemoryBlock:
    """struct memory_block: one ``memoryN`` device."""

    id: int
    start_pfn: int
    nr_pages: int
    nid: int
    state: int = MEM_OFFLINE
    online_type: int = MMOP_OFFLINE
    zone: "Zone | None" = None
    # 5.13-6.5: nr_vmemmap_pages; 6.6+: altmap (its ->free is the number of vmemmap pages;
    # one block per add up to 6.7, one altmap per block of any add from 6.8)
    nr_vmemmap_pages: int = 0
    altmap: VmemAltmap | None = None
    group: MemoryGroup | None = None
    boot: bool = False
    dev_offline: bool = True            # struct device::offline
    pagemap: PageMap | None = None      # per-pfn state, only once something touched the pages
    runs: list = field(default_factory=list)   # this block's Run entries on the free lists
    # what online_pages_range() freed: (leading blocks, first max-order pfn, count, trailing blocks)
    online_chunks: tuple = ([], 0, 0, [])

    @property
    def end_pfn(self) -> int:
        """First pfn after the block."""
        return self.start_pfn + self.nr_pages

    @property
    def vmemmap_pages(self) -> int:
        """Pages at the start of the block that hold its memmap (0 unless memmap_on_memory)."""
        if self.altmap is not None:
            return self.altmap.free
        return self.nr_vmemmap_pages

    @property
    def name(self) -> str:
        """The device name, ``memoryN``."""
        return f"memory{self.id}"

    def state_name(self) -> str:
        """What ``state`` prints."""
        return {MEM_ONLINE: "online", MEM_OFFLINE: "offline", MEM_GOING_OFFLINE: "going-offline"}.get(
            self.state, f"ERROR-UNKNOWN-{self.state}")


@kernel_function("drivers/base/memory.c")
def state_show(m: "Machine", mem: MemoryBlock) -> str:
    """state_show()."""
    return mem.state_name() + "\n"


@kernel_function("drivers/base/memory.c")
def valid_zones_show(m: "Machine", mem: MemoryBlock) -> str:
    """valid_zones_show(): the block's zone if online, else the default zone then the other choices."""
    from .memory_hotplug import zone_for_pfn_range
    if mem.state == MEM_ONLINE:
        if not m.kernel.memory_block_zone:
            z = m.test_pages_in_a_zone(mem.start_pfn, mem.end_pfn)
            return (z.name if z is not None else "none") + "\n"
        return (mem.zone.name if mem.zone is not None else "none") + "\n"
    default = zone_for_pfn_range(m, MMOP_ONLINE, mem.nid, mem.group, mem.start_pfn, mem.nr_pages)
    out = default.name
    for t in (MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE):
        z = zone_for_pfn_range(m, t, mem.nid, mem.group, mem.start_pfn, mem.nr_pages)
        if z is not default:
            out += " " + z.name
    return out + "\n"


@kernel_function("drivers/base/core.c")
def device_online(m: "Machine", mem: MemoryBlock) -> int:
    """device_online(): 1 if already online, else memory_subsys_online()."""
    if not mem.dev_offline:
        return 1
    memory_subsys_online(m, mem)
    mem.dev_offline = False
    return 0


@kernel_function("drivers/base/core.c")
def device_offline(m: "Machine", mem: MemoryBlock) -> int:
    """device_offline(): 1 if already offline, else memory_subsys_offline()."""
    if mem.dev_offline:
        return 1
    memory_subsys_offline(m, mem)
    mem.dev_offline = True
    return 0


@kernel_function("drivers/base/memory.c")
def memory_subsys_online(m: "Machine", mem: MemoryBlock) -> None:
    """memory_subsys_online(): the ``online`` file path maps MMOP_OFFLINE to MMOP_ONLINE.

    Whatever the outcome, mem->online_type goes back to MMOP_OFFLINE afterwards, so that a
    later ``echo 1 > online`` picks the zone itself (5.10-7.2 alike).
    """
    if mem.state == MEM_ONLINE:
        return
    if mem.online_type == MMOP_OFFLINE:
        mem.online_type = MMOP_ONLINE
    try:
        memory_block_change_state(m, mem, MEM_ONLINE, MEM_OFFLINE)
    finally:
        mem.online_type = MMOP_OFFLINE


@kernel_function("drivers/base/memory.c")
def memory_subsys_offline(m: "Machine", mem: MemoryBlock) -> None:
    """memory_subsys_offline()."""
    if mem.state == MEM_OFFLINE:
        return
    memory_block_change_state(m, mem, MEM_OFFLINE, MEM_ONLINE)


@kernel_function("drivers/base/memory.c")
def memory_block_change_state(m: "Machine", mem: MemoryBlock, to_state: int, from_state: int) -> None:
    """memory_block_change_state(): -EINVAL unless in ``from_state``; GOING_OFFLINE while offlining."""
    if mem.state != from_state:
        raise KernelError(EINVAL, f"{mem.name} is not {from_state}", function="memory_block_change_state")
    if to_state == MEM_OFFLINE:
        mem.state = MEM_GOING_OFFLINE
    try:
        if to_state == MEM_ONLINE:
            memory_block_online(m, mem)
        else:
            memory_block_offline(m, mem)
    except KernelError:
        mem.state = from_state
        raise
    mem.state = to_state


@kernel_function("drivers/base/memory.c")
def state_store(m: "Machine", mem: MemoryBlock, buf: str) -> int:
    """state_store(): ``online``, ``online_kernel``, ``online_movable`` or ``offline``; bytes written or KernelError."""
    online_type = mhp_online_type_from_str(buf)
    if online_type < 0:
        raise KernelError(EINVAL, f"invalid state {buf!r}", function="state_store")
    if online_type in (MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE, MMOP_ONLINE):
        # set before device_online(): memory_subsys_online() resets it after an attempt, but
        # an already online block never gets there (device_online() returns 1), so the type
        # written stays in mem->online_type, where a later ``echo 1 > online`` finds it
        mem.online_type = online_type
        ret = device_online(m, mem)
    else:
        ret = device_offline(m, mem)
    if ret:
        # device_online()/device_offline() return 1 when there is nothing to do
        raise KernelError(EINVAL, f"{mem.name} is already {mem.state_name()}", function="state_store")
    return len(buf)


@kernel_function("drivers/base/core.c")
def online_store(m: "Machine", mem: MemoryBlock, buf: str) -> int:
    """online_store(): kstrtobool; writing the current state succeeds (only ret < 0 is an error)."""
    from .cmdline import kstrtobool
    val = kstrtobool(buf, m.kernel.kstrtobool_tf)                  # the raw buffer: " 1" is EINVAL, "1\n" and "yes" are true
    if val is None:
        raise KernelError(EINVAL, f"invalid value {buf!r}", function="online_store")
    if val:
        device_online(m, mem)
    else:
        device_offline(m, mem)
    return len(buf)


# --------------------------------------------------------------------------------------------
# memory_block_online() / memory_block_offline(): the block-level steps around
# online_pages() / offline_pages() (drivers/base/memory.c since 5.13's memmap_on_memory)
# --------------------------------------------------------------------------------------------
@kernel_function("drivers/base/memory.c")
def memory_block_online(m: "Machine", mem: MemoryBlock) -> None:
    """memory_block_online(): pick the zone, initialise the vmemmap pages, online the rest."""
    from .memory_hotplug import (adjust_present_page_count, mhp_deinit_memmap_on_memory,
                                 mhp_init_memmap_on_memory, online_pages, zone_for_pfn_range)
    if m.kernel.hwpoison_online_check and m.hwpoisoned_pages(mem):
        raise KernelError(EHWPOISON, f"{mem.name} has hwpoisoned pages", function="memory_block_online")
    zone = zone_for_pfn_range(m, mem.online_type, mem.nid, mem.group, mem.start_pfn, mem.nr_pages)
    V = mem.vmemmap_pages
    if V and m.kernel.mem_prepare_online:
        # 6.8-6.18: s390 makes the range accessible first (MHP_OFFLINE_INACCESSIBLE)
        m.memory_notify("MEM_PREPARE_ONLINE", mem, mem.start_pfn, mem.nr_pages)
    if V:
        mhp_init_memmap_on_memory(m, mem, zone)
    try:
        online_pages(m, mem, mem.start_pfn + V, mem.nr_pages - V, zone)
    except KernelError:
        if V:
            mhp_deinit_memmap_on_memory(m, mem, zone)
        raise
    if V:
        # "Account once onlining succeeded."
        adjust_present_page_count(m, zone, mem.group, V)
    mem.zone = zone


@kernel_function("drivers/base/memory.c")
def memory_block_offline(m: "Machine", mem: MemoryBlock) -> None:
    """memory_block_offline(): unaccount the vmemmap pages, offline the rest, then deinit the vmemmap."""
    from .memory_hotplug import adjust_present_page_count, mhp_deinit_memmap_on_memory, offline_pages
    if mem.zone is None:
        raise KernelError(EINVAL, f"{mem.name} spans several zones", function="memory_block_offline")
    zone = mem.zone
    V = mem.vmemmap_pages
    if V:
        # "Unaccount before offlining, such that unpopulated zone and kthreads can properly be torn down"
        adjust_present_page_count(m, zone, mem.group, -V)
    try:
        offline_pages(m, mem, mem.start_pfn + V, mem.nr_pages - V, zone)
    except KernelError:
        if V:
            adjust_present_page_count(m, zone, mem.group, V)
        raise
    if V:
        mhp_deinit_memmap_on_memory(m, mem, zone)
        if m.kernel.mem_prepare_online:
            m.memory_notify("MEM_FINISH_OFFLINE", mem, mem.start_pfn, mem.nr_pages)
    mem.zone = None
