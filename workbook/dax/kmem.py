"""kmem: a dax device's memory hot-added as System RAM, and removed when kmem lets go (drivers/dax/kmem.c).

Probe: the device's ranges, shrunk to whole memory blocks, are claimed in /proc/iomem as
``daxR.N`` and added with add_memory_driver_managed() as ``System RAM (kmem)`` under
that claim, one static memory group for the device, MHP_MEMMAP_ON_MEMORY when the
device's ``memmap_on_memory`` attribute is set (6.8+).  The node gets the DAX memory
type (tier 22).  The blocks arrive offline unless ``auto_online_blocks`` says otherwise.

Remove (unbind): every range is removed with remove_memory(), which fails if any of its
blocks is still online; the kernel then logs that the range "cannot be hotremoved until
the next reboot", keeps it (blocks, iomem claims, memory type), and unbinds anyway.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import EBUSY, EINVAL, KernelError
from ..memory import MemoryGroup
from ..memory_hotplug import MHP_MEMMAP_ON_MEMORY, MHP_NID_IS_MGID, MHP_NONE, add_memory_driver_managed, remove_memory
from ..memory_tiers import MEMTIER_DEFAULT_DAX_ADISTANCE, MemoryDevType
from ..resource import IORESOURCE_SYSTEM_RAM, Resource, remove_resource, request_region
from .bus import DAXDRV_KMEM_TYPE, DaxDeviceDriver, DevDax

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["KMEM_NAME", "DaxKmemData", "dax_kmem_range", "dev_dax_kmem_probe", "dev_dax_kmem_remove", "kmem_driver"]

#: the resource name add_memory_driver_managed() gets ("Ensure that future kexec'd kernels will not treat
#: this as RAM automatically")
KMEM_NAME = "System RAM (kmem)"


@dataclass
class DaxKmemData:
    """struct dax_kmem_data: the iomem claims per range (None: not added, or removed) and the memory group."""

    res_name: str
    group: MemoryGroup | None
    res: list[Resource | None] = field(default_factory=list)


def dax_kmem_range(m: "Machine", dev: DevDax, i: int) -> tuple[int, int] | None:
    """dax_kmem_range(): range ``i`` shrunk to whole memory blocks (start, end inclusive), None if nothing is left."""
    r = dev.ranges[i]
    bs = m.block_size
    start = -(-r.start // bs) * bs
    end = (r.end + 1) // bs * bs - 1
    return None if start >= end else (start, end)


def _memtype(m: "Machine") -> MemoryDevType:
    """kmem_find_alloc_memory_type(MEMTIER_DEFAULT_DAX_ADISTANCE): one type shared by every kmem device."""
    mt = m.dax.kmem_memtype
    if mt is None:
        mt = m.dax.kmem_memtype = MemoryDevType(MEMTIER_DEFAULT_DAX_ADISTANCE)
    return mt


def dev_dax_kmem_probe(m: "Machine", dev: DevDax) -> None:
    """dev_dax_kmem_probe(): claim and hot-add every block-aligned range of the device."""
    numa_node = dev.target_node
    if numa_node < 0:
        m.printk(f"kmem {dev.name}: rejecting DAX region with invalid node: {numa_node}")
        raise KernelError(EINVAL, f"{dev.name}: invalid node {numa_node}", function="dev_dax_kmem_probe")
    total = 0
    for i, r in enumerate(dev.ranges):
        rng = dax_kmem_range(m, dev, i)
        if rng is None:
            m.printk(f"kmem {dev.name}: mapping{i}: {r.start:#x}-{r.end:#x} too small after alignment")
            continue
        total += rng[1] + 1 - rng[0]
    if not total:
        m.printk(f"kmem {dev.name}: rejecting DAX region without any memory after alignment")
        raise KernelError(EINVAL, f"{dev.name}: no whole memory block", function="dev_dax_kmem_probe")
    mtype = _memtype(m)
    m.memory_tiers.init_node_memory_type(numa_node, mtype)
    group = None
    flags = MHP_NONE
    if m.kernel.memory_groups:
        group = MemoryGroup(id=m.next_memory_group_id(), nid=numa_node, max_pages=total >> m.arch.page_shift)
        m.memory_groups.append(group)                      # memory_group_register_static()
        flags = MHP_NID_IS_MGID
    data = DaxKmemData(dev.name, group, [None] * len(dev.ranges))
    mapped = 0
    for i in range(len(dev.ranges)):
        rng = dax_kmem_range(m, dev, i)
        if rng is None:
            continue
        start, size = rng[0], rng[1] + 1 - rng[0]
        # "Region is permanently reserved if hotremove fails."
        res = request_region(m.iomem, start, size, data.res_name)
        if res is None:
            m.printk(f"kmem {dev.name}: mapping{i}: {start:#x}-{rng[1]:#x} could not reserve region")
            if mapped:
                continue
            _undo(m, numa_node, mtype, group)
            raise KernelError(EBUSY, f"{dev.name}: {start:#x}-{rng[1]:#x} is claimed", function="dev_dax_kmem_probe")
        data.res[i] = res
        # "Leave ..._BUSY clear so that add_memory() can add a child resource."
        res.flags = IORESOURCE_SYSTEM_RAM
        mhp = flags
        if m.kernel.dax_memmap_on_memory and dev.memmap_on_memory:
            mhp |= MHP_MEMMAP_ON_MEMORY
        try:
            add_memory_driver_managed(m, group.id if group is not None else numa_node, start, size, KMEM_NAME, mhp)
        except KernelError as e:
            m.printk(f"kmem {dev.name}: mapping{i}: {start:#x}-{rng[1]:#x} memory add failed")
            remove_resource(res)
            data.res[i] = None
            if mapped:
                continue
            _undo(m, numa_node, mtype, group)
            raise e
        mapped += 1
    dev.kmem_data = data


def _undo(m: "Machine", nid: int, mtype: MemoryDevType, group: MemoryGroup | None) -> None:
    """The error path of the probe: the memory group and the node's memory type go again."""
    if group is not None:
        m.memory_groups.remove(group)                      # memory_group_unregister()
    m.memory_tiers.clear_node_memory_type(nid, mtype)


def dev_dax_kmem_remove(m: "Machine", dev: DevDax) -> None:
    """dev_dax_kmem_remove(): remove_memory() per range; what fails stays until reboot, and kmem unbinds anyway."""
    data: DaxKmemData = dev.kmem_data
    success = 0
    for i in range(len(dev.ranges)):
        rng = dax_kmem_range(m, dev, i)
        if rng is None:
            continue
        if data.res[i] is None:            # "range was never added during probe"
            success += 1
            continue
        try:
            remove_memory(m, rng[0], rng[1] + 1 - rng[0])
        except KernelError:
            m.dax.any_hotremove_failed = True
            m.printk(f"kmem {dev.name}: mapping{i}: {rng[0]:#x}-{rng[1]:#x} cannot be hotremoved until the "
                     "next reboot")
            continue
        remove_resource(data.res[i])
        data.res[i] = None
        success += 1
    if success >= len(dev.ranges):
        if data.group is not None:
            m.memory_groups.remove(data.group)
        dev.kmem_data = None
        # "Clear the memtype association on successful unplug."
        m.memory_tiers.clear_node_memory_type(dev.target_node, _memtype(m))


def kmem_driver() -> DaxDeviceDriver:
    """device_dax_kmem_driver (module kmem): type DAXDRV_KMEM_TYPE; before 6.3 it binds only its new_id list."""
    return DaxDeviceDriver(name="kmem", probe=dev_dax_kmem_probe, remove=dev_dax_kmem_remove, module="kmem",
                           type=DAXDRV_KMEM_TYPE)
