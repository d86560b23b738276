"""The dax bus: regions, dax devices, their sysfs attributes, and which driver takes a device (drivers/dax/bus.c).

A *dax region* is a range of physical memory a platform driver (dax_hmem for Soft
Reserved memory, or CXL) hands to the dax core; a *dax device* ``daxR.N`` is a part of a
region, shown in ``/sys/bus/dax/devices/``.  Two drivers can take a device: ``device_dax``
(a character device ``/dev/daxR.N``, the memory mapped by applications, its memmap in
ZONE_DEVICE) and ``kmem`` (the memory hot-added as System RAM).  Which one binds is the
bus's ``match``: from 6.3 by type (a region created for RAM goes to kmem), before 6.3
device_dax takes everything; ``new_id`` adds a device name to a driver's own list.

The model leaves out static (pmem) regions and the ``mapping`` write (assigning a
physical range by hand); ``size``, ``align``, ``create`` and ``delete`` are modelled.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..cmdline import kstrtobool
from ..driver_core import Bus, Device, Driver, device_add, sysfs_streq
from ..errors import EBUSY, EINVAL, ENOMEM, ENOSPC, ENXIO, EOPNOTSUPP, KernelError
from ..resource import IORESOURCE_MEM, Resource, release_resource, request_region

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["DaxRegion", "DevDax", "DaxDeviceDriver", "DAXDRV_KMEM_TYPE", "DAXDRV_DEVICE_TYPE",
           "IORESOURCE_DAX_STATIC", "IORESOURCE_DAX_KMEM", "dax_bus_type", "dax_bus_match", "alloc_dax_region",
           "devm_create_dev_dax", "do_id_store", "memmap_on_memory_store", "size_store", "align_store",
           "create_store", "delete_store", "dev_dax_size"]

DAXDRV_KMEM_TYPE, DAXDRV_DEVICE_TYPE = 0, 1
# include/linux/ioport.h (drivers/dax/bus.h): region flags
IORESOURCE_DAX_STATIC = 1 << 0
IORESOURCE_DAX_KMEM = 1 << 1
DAX_NAME_LEN = 30


@dataclass(eq=False)
class DaxRegion:
    """struct dax_region: a range given to the dax core by its parent device (hmem.N), and its free space."""

    id: int
    res: Resource                       # children: the devices' ranges (dev_dax_range)
    target_node: int
    align: int
    dev: Device                          # the parent platform device (dax_region/ lives in its sysfs directory)
    flags: int = 0
    ida: set[int] = field(default_factory=set)
    seed: "DevDax | None" = None
    youngest: "DevDax | None" = None

    def is_static(self) -> bool:
        """is_static()."""
        return bool(self.flags & IORESOURCE_DAX_STATIC)

    def avail_size(self) -> int:
        """dax_region_avail_size(): the region's bytes no device has claimed."""
        return self.res.size() - sum(c.size() for c in self.res.children)


@dataclass(eq=False)
class DevDaxRange:
    """struct dev_dax_range: one physical range of a device, its page offset, and its mappingN device id."""

    start: int
    end: int                             # inclusive
    pgoff: int
    mapping_id: int
    res: Resource

    def len(self) -> int:
        """range_len()."""
        return self.end - self.start + 1


@dataclass(eq=False)
class DevDax(Device):
    """struct dev_dax: ``daxR.N`` on the dax bus."""

    region: DaxRegion | None = None
    id: int = -1
    ranges: list[DevDaxRange] = field(default_factory=list)
    target_node: int = -1
    align: int = 0
    memmap_on_memory: bool = False
    mapping_ids: set[int] = field(default_factory=set)
    kmem_data: object = None             # dev_get_drvdata() while kmem holds it (kmem.DaxKmemData)
    pgmap: object = None                 # device_dax's dev_pagemap (memremap.DevPagemap)


@dataclass(eq=False)
class DaxDeviceDriver(Driver):
    """struct dax_device_driver: a driver of the dax bus, its type and its new_id list."""

    type: int = DAXDRV_DEVICE_TYPE
    match_always: bool = False           # before 6.3: device_dax
    ids: list[str] = field(default_factory=list)


def dev_dax_size(dev_dax: DevDax) -> int:
    """dev_dax_size(): the sum of the device's ranges."""
    return sum(r.len() for r in dev_dax.ranges)


# ----------------------------------------------------------------------------------------------
# matching and probing
# ----------------------------------------------------------------------------------------------
def dax_match_id(drv: DaxDeviceDriver, dev: Device) -> bool:
    """dax_match_id(): the device's name is in the driver's new_id list."""
    return any(sysfs_streq(i, dev.name) for i in drv.ids)


def dax_match_type(m: "Machine", drv: DaxDeviceDriver, dev: DevDax) -> bool:
    """dax_match_type() (6.3+): a region created for RAM (IORESOURCE_DAX_KMEM) goes to kmem, the rest to device_dax."""
    t = DAXDRV_KMEM_TYPE if dev.region.flags & IORESOURCE_DAX_KMEM else DAXDRV_DEVICE_TYPE
    if drv.type == t:
        return True
    # "default to device mode if dax_kmem is disabled"
    return drv.type == DAXDRV_DEVICE_TYPE and m.config.get("CONFIG_DEV_DAX_KMEM", "m") == "n"


def dax_bus_match(m: "Machine", dev: Device, drv: Driver) -> bool:
    """dax_bus_match(): the new_id list, then the type (6.3+) or match_always (before)."""
    if dax_match_id(drv, dev):
        return True
    if m.kernel.dax_bus_match_type:
        return dax_match_type(m, drv, dev)
    return drv.match_always


def dax_bus_probe(m: "Machine", dev: Device, drv: Driver) -> None:
    """dax_bus_probe(): a device of size 0 is refused (ENXIO); else the driver's probe."""
    if dev_dax_size(dev) == 0 or dev.id < 0:
        raise KernelError(ENXIO, f"{dev.name}: size 0", function="dax_bus_probe")
    drv.probe(m, dev)
    region = dev.region
    if not region.is_static() and region.seed is dev:
        region.seed = None              # "Track new seed creation only after successful probe"


def dax_bus_remove(m: "Machine", dev: Device, drv: Driver) -> None:
    """dax_bus_remove()."""
    if drv.remove is not None:
        drv.remove(m, dev)


def dax_bus_type(m: "Machine") -> Bus:
    """The dax bus (dax_bus_init(): built into the kernel, registered at boot)."""
    return Bus("dax", match=lambda dev, drv: dax_bus_match(m, dev, drv), probe=dax_bus_probe,
               remove=dax_bus_remove)


def do_id_store(m: "Machine", drv: DaxDeviceDriver, buf: str, add: bool) -> int:
    """do_id_store(): ``new_id`` / ``remove_id``: ``daxR.N`` exactly, else EINVAL; new_id then tries to bind."""
    import re
    name = buf.removesuffix("\n")
    mm = re.match(r"dax(-?\d+)\.(-?\d+)", name)
    if not mm or not sysfs_streq(buf, f"dax{int(mm.group(1))}.{int(mm.group(2))}"):
        raise KernelError(EINVAL, f"{drv.name}/{'new_id' if add else 'remove_id'}: {buf!r} is not daxR.N",
                          function="do_id_store")
    have = next((i for i in drv.ids if sysfs_streq(i, buf)), None)
    if have is None and add:
        drv.ids.append(name[:DAX_NAME_LEN - 1])
    elif have is not None and not add:
        drv.ids.remove(have)
    if add:
        from ..driver_core import driver_attach
        driver_attach(m, drv)           # its errors are not the write's
    return len(buf)


# ----------------------------------------------------------------------------------------------
# attributes that can be written
# ----------------------------------------------------------------------------------------------
def memmap_on_memory_store(m: "Machine", dev: DevDax, buf: str) -> int:
    """memmap_on_memory_store() (6.8+): kstrtobool; EOPNOTSUPP without memmap_on_memory; EBUSY to change it under kmem."""
    from ..memory_hotplug import mhp_supports_memmap_on_memory
    val = kstrtobool(buf)
    if val is None:
        raise KernelError(EINVAL, f"{dev.name}/memmap_on_memory: {buf!r} is not a boolean", function="kstrtobool")
    if val and not mhp_supports_memmap_on_memory(m):
        raise KernelError(EOPNOTSUPP, f"{dev.name}: memmap_on_memory is not available",
                          function="memmap_on_memory_store")
    if dev.memmap_on_memory != val and dev.driver is not None and dev.driver.type == DAXDRV_KMEM_TYPE:
        raise KernelError(EBUSY, f"{dev.name}: kmem holds the device; unbind it to change memmap_on_memory",
                          function="memmap_on_memory_store")
    dev.memmap_on_memory = val
    return len(buf)


def _kstrtoull(buf: str) -> int | None:
    """kstrtoull(s, 0): the whole string (one trailing newline allowed) is a number, base from its prefix."""
    s = buf.removesuffix("\n")
    try:
        if s[:2].lower() == "0x":
            return int(s[2:], 16)
        if s.startswith("0") and len(s) > 1:
            return int(s[1:], 8)
        return int(s, 10) if s.isdigit() else None
    except ValueError:
        return None


def _alloc_is_aligned(dev: DevDax, size: int) -> bool:
    """alloc_is_aligned(): whole multiples of the device's align."""
    return size % dev.align == 0


def alloc_dev_dax_range(m: "Machine", dev: DevDax, start: int, size: int) -> None:
    """alloc_dev_dax_range(): claim [start, start + size) of the region for the device (ENOMEM if taken)."""
    if not size:
        return
    res = request_region(dev.region.res, start, size, dev.name)
    if res is None:
        raise KernelError(ENOMEM, f"{dev.name}: {start:#x}+{size:#x} is not free in the region",
                          function="alloc_dev_dax_range")
    res.flags = IORESOURCE_MEM
    pgoff = sum(r.len() for r in dev.ranges) >> m.arch.page_shift
    mid = min(set(range(len(dev.mapping_ids) + 1)) - dev.mapping_ids)
    dev.mapping_ids.add(mid)
    dev.ranges.append(DevDaxRange(res.start, res.end, pgoff, mid, res))


def trim_dev_dax_range(dev: DevDax) -> None:
    """trim_dev_dax_range(): give the last range back to the region."""
    r = dev.ranges.pop()
    release_resource(r.res)
    dev.mapping_ids.discard(r.mapping_id)


def dev_dax_resize(m: "Machine", dev: DevDax, size: int) -> None:
    """dev_dax_resize(): shrink from the end, or grow into the region's first free space (ENOSPC if none)."""
    region = dev.region
    cur = dev_dax_size(dev)
    if dev.driver is not None:
        raise KernelError(EBUSY, f"{dev.name} has a driver", function="dev_dax_resize")
    if size == cur:
        return
    if size > cur and size - cur > region.avail_size():
        raise KernelError(ENOSPC, f"{dev.name}: the region has {region.avail_size()} bytes free",
                          function="dev_dax_resize")
    while size < dev_dax_size(dev):            # dev_dax_shrink()
        last = dev.ranges[-1]
        keep = last.len() - (dev_dax_size(dev) - size)
        if keep <= 0:
            trim_dev_dax_range(dev)
        else:
            last.end = last.start + keep - 1
            last.res.end = last.end
    to_alloc = size - dev_dax_size(dev)
    while to_alloc > 0:
        taken = sorted((c.start, c.end) for c in region.res.children)
        lo, gap = region.res.start, None
        for s, e in taken + [(region.res.end + 1, region.res.end + 1)]:
            if s > lo:
                gap = (lo, min(s - lo, to_alloc))
                break
            lo = max(lo, e + 1)
        start, n = gap
        last = dev.ranges[-1] if dev.ranges else None
        if last is not None and last.end + 1 == start:        # adjust_dev_dax_range(): extend in place
            last.end += n
            last.res.end = last.end
        else:
            alloc_dev_dax_range(m, dev, start, n)
        to_alloc -= n


def size_store(m: "Machine", dev: DevDax, buf: str) -> int:
    """size_store(): kstrtoull, a multiple of align, the region enabled, then dev_dax_resize()."""
    val = _kstrtoull(buf)
    if val is None:
        raise KernelError(EINVAL, f"{dev.name}/size: {buf!r} is not a number", function="kstrtoull")
    if not _alloc_is_aligned(dev, val):
        raise KernelError(EINVAL, f"{dev.name}: size {val} is not a multiple of align {dev.align}",
                          function="size_store")
    if dev.region.dev.driver is None:
        raise KernelError(ENXIO, f"{dev.region.dev.name} has no driver", function="size_store")
    dev_dax_resize(m, dev, val)
    return len(buf)


def dax_align_valid(m: "Machine", align: int) -> bool:
    """dax_align_valid(): PMD or PUD size if the CPU has them, or the page size."""
    a = m.arch
    return align in (a.page_size, a.pmd_size, getattr(a, "pud_size", 1 << 30))


def align_store(m: "Machine", dev: DevDax, buf: str) -> int:
    """align_store(): ENXIO for a non-number (sic), EINVAL for an unsupported size, EBUSY while bound."""
    val = _kstrtoull(buf)
    if val is None:
        raise KernelError(ENXIO, f"{dev.name}/align: {buf!r} is not a number", function="align_store")
    if not dax_align_valid(m, val):
        raise KernelError(EINVAL, f"{dev.name}: align {val} is not a page, PMD or PUD size", function="align_store")
    if dev.region.dev.driver is None:
        raise KernelError(ENXIO, f"{dev.region.dev.name} has no driver", function="align_store")
    if dev.driver is not None:
        raise KernelError(EBUSY, f"{dev.name} has a driver", function="align_store")
    if any(r.len() % val for r in dev.ranges):
        raise KernelError(EINVAL, f"{dev.name}: align {val} does not divide its ranges",
                          function="dev_dax_validate_align")
    dev.align = val
    return len(buf)


def create_store(m: "Machine", region: DaxRegion, buf: str) -> int:
    """create_store(): ``1`` makes a new device of size 0 (the seed) if the region has free space."""
    if region.is_static():
        raise KernelError(EINVAL, "static region", function="create_store")
    v = _kstrtoull(buf)
    if v != 1:
        raise KernelError(EINVAL, f"dax_region/create: {buf!r} (only 1)", function="create_store")
    if region.avail_size() == 0:
        raise KernelError(ENOSPC, f"dax_region {region.id} has no free space", function="create_store")
    dev = devm_create_dev_dax(m, region, -1, 0, False)
    if region.seed is None:
        region.seed = dev
    region.youngest = dev
    return len(buf)


def delete_store(m: "Machine", region: DaxRegion, buf: str) -> int:
    """delete_store(): remove an unbound device of size 0 (never daxR.0)."""
    if region.is_static():
        raise KernelError(EINVAL, "static region", function="delete_store")
    dev = next((d for d in m.dax.dax_bus.devices.values()
                if getattr(d, "region", None) is region and sysfs_streq(d.name, buf)), None)
    if dev is None:
        raise KernelError(ENXIO, f"no {buf.strip()!r} in dax_region {region.id}", function="delete_store")
    if dev.driver is not None or dev_dax_size(dev) or dev.id <= 0:
        raise KernelError(EBUSY, f"{dev.name} is bound, has memory, or is the region's first device",
                          function="delete_store")
    region.ida.discard(dev.id)
    for attr in ("seed", "youngest"):
        if getattr(region, attr) is dev:
            setattr(region, attr, None)
    from ..driver_core import device_del
    device_del(m, dev)
    return len(buf)


# ----------------------------------------------------------------------------------------------
# regions and devices
# ----------------------------------------------------------------------------------------------
def alloc_dax_region(m: "Machine", parent: Device, region_id: int, start: int, end: int, target_node: int,
                     align: int, flags: int) -> DaxRegion | None:
    """alloc_dax_region(): the range must be aligned to ``align`` (else NULL: the caller's ENOMEM)."""
    if start % align or (end + 1 - start) % align:
        return None
    res = Resource(start, end, parent.name, IORESOURCE_MEM | flags)
    region = DaxRegion(region_id, res, target_node, align, parent, flags)
    m.dax.regions.append(region)
    parent.devm_add_action(lambda: m.dax.regions.remove(region))
    return region


def devm_create_dev_dax(m: "Machine", region: DaxRegion, id: int, size: int, memmap_on_memory: bool) -> DevDax:
    """devm_create_dev_dax(): ``daxR.N`` with the region's first ``size`` free bytes, added to the dax bus."""
    from ..driver_core import device_del
    if region.is_static():
        dev_id = id
    else:
        dev_id = min(set(range(len(region.ida) + 1)) - region.ida)      # alloc_dev_dax_id(): ida_alloc()
        region.ida.add(dev_id)
    dev = DevDax(name=f"dax{region.id}.{dev_id}", parent=region.dev, region=region, id=dev_id,
                 target_node=region.target_node, align=region.align, memmap_on_memory=memmap_on_memory)
    alloc_dev_dax_range(m, dev, region.res.start, size)

    def unregister_dev_dax() -> None:
        device_del(m, dev)
        while dev.ranges:
            trim_dev_dax_range(dev)
        region.ida.discard(dev.id)
    region.dev.devm_add_action(unregister_dev_dax)
    device_add(m, m.dax.dax_bus, dev)
    return dev

