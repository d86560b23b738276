"""Soft Reserved ranges become dax regions: hmem devices and the dax_hmem module (drivers/dax/hmem/{device,hmem}.c).

At boot hmem_init() walks the Soft Reserved ranges of the firmware map.  From 6.3 it only
records them and registers one ``hmem_platform.0`` device; loading dax_hmem binds that
device, which creates one ``hmem.N`` platform device per range, and binds each ``hmem.N``,
which creates the dax region and its first device ``daxN.0`` (for RAM: IORESOURCE_DAX_KMEM,
so that kmem takes it).  Before 6.3 the boot code itself registers ``hmem.N`` with the
range as its resource (in /proc/iomem, the parent of "Soft Reserved"), and dax_hmem only
binds it.  The node of a range (``target_node``) is the SRAT node that contains it.

The model leaves out ACPI HMAT (which can claim ranges first and give performance
data), CXL regions (deferred to the CXL driver) and the ``region_idle`` parameter.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..driver_core import Device, Driver, device_add
from ..errors import ENOMEM, KernelError
from ..resource import IORESOURCE_MEM, Resource, insert_resource, walk
from .bus import IORESOURCE_DAX_KMEM, alloc_dax_region, devm_create_dev_dax

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["PlatformDevice", "hmem_init", "dax_hmem_drivers", "phys_to_target_node", "numa_map_to_online_node"]


class PlatformDevice(Device):
    """struct platform_device: ``name.id`` on the platform bus, with its platform data."""

    def __init__(self, base: str, id: int, numa_node: int = -1, data: dict | None = None,
                 resource: Resource | None = None) -> None:
        super().__init__(name=f"{base}.{id}", numa_node=numa_node)
        self.base, self.id = base, id
        self.data = dict(data or {})
        self.resource = resource


def platform_match(dev: Device, drv: Driver) -> bool:
    """platform_match(): the driver's name is the device's name without its id."""
    return getattr(dev, "base", None) == drv.name


def phys_to_target_node(m: "Machine", addr: int) -> int:
    """phys_to_target_node(): the SRAT node of ``addr`` (also for ranges that are not System RAM)."""
    for nid, ranges in m.layout.node_ranges.items():
        if any(s <= addr < e for s, e in ranges):
            return nid
    return -1


def numa_map_to_online_node(m: "Machine", nid: int) -> int:
    """numa_map_to_online_node(): the node itself if online, else the nearest online node."""
    online = m.online_nodes()
    if nid in online or not online:
        return nid
    return min(online, key=lambda n: (m.node_distance.get((nid, n), 255), n))


def _soft_reserved(m: "Machine") -> list[Resource]:
    """The Soft Reserved resources: in /proc/iomem, or in soft_reserve_resource (7.0+)."""
    root = m.soft_reserve_resource if m.kernel.soft_reserved_deferred else m.iomem
    return [r for r, _ in walk(root) if r.name == "Soft Reserved"]


def _region_intersects_soft_reserved(m: "Machine", start: int, end: int) -> bool:
    """region_intersects(..., IORES_DESC_SOFT_RESERVED) == REGION_INTERSECTS: wholly inside a Soft Reserved range."""
    return any(r.start <= start and end <= r.end for r in _soft_reserved(m))


def hmem_register_device(m: "Machine", target_nid: int, start: int, end: int, host: Device | None = None) -> None:
    """hmem_register_device(): one ``hmem.N`` platform device for a Soft Reserved range (``host``: hmem_platform.0)."""
    if not _region_intersects_soft_reserved(m, start, end):
        return
    dax = m.dax
    rid = dax.memregion_alloc()
    res = None
    if not m.kernel.hmem_platform_device:
        # before 6.3 the device carries the range as its resource: platform_device_add()
        # inserts it into iomem_resource, where it becomes the parent of "Soft Reserved"
        res = Resource(start, end, f"hmem.{rid}", IORESOURCE_MEM)
        insert_resource(m.iomem, res)
    pdev = PlatformDevice("hmem", rid, numa_map_to_online_node(m, target_nid),
                          {"target_node": target_nid, "start": start, "end": end}, res)
    if host is not None and m.kernel.hmem_child_of_platform:
        pdev.parent = host                            # 7.0+: /sys/devices/platform/hmem_platform.0/hmem.N
    device_add(m, dax.platform, pdev)
    if host is not None:
        def release_hmem() -> None:                 # platform_device_unregister(), release_memregion()
            from ..driver_core import device_del
            device_del(m, pdev)
            dax.memregion_ids.discard(rid)
        host.devm_add_action(release_hmem)


def hmem_init(m: "Machine") -> None:
    """hmem_init() (boot): record every Soft Reserved range; before 6.3 register its hmem.N at once."""
    for r in _soft_reserved(m):
        nid = phys_to_target_node(m, r.start)
        if m.kernel.hmem_platform_device:
            m.dax.hmem_active.append((nid, r.start, r.end))           # hmem_register_resource()
            if "hmem_platform.0" not in m.dax.platform.devices:
                device_add(m, m.dax.platform, PlatformDevice("hmem_platform", 0))
        else:
            hmem_register_device(m, nid, r.start, r.end)


def dax_hmem_platform_probe(m: "Machine", pdev: Device) -> None:
    """dax_hmem_platform_probe() (6.3+): walk_hmem_resources() -> hmem_register_device() for each range."""
    for nid, start, end in list(m.dax.hmem_active):
        hmem_register_device(m, nid, start, end, pdev)


def dax_hmem_probe(m: "Machine", pdev: Device) -> None:
    """dax_hmem_probe(): the dax region (2 MiB aligned, else ENOMEM) and its first device, with all of it."""
    d = pdev.data
    flags = IORESOURCE_DAX_KMEM if m.kernel.dax_bus_match_type else 0
    region = alloc_dax_region(m, pdev, pdev.id, d["start"], d["end"], d["target_node"], m.arch.pmd_size, flags)
    if region is None:
        raise KernelError(ENOMEM, f"{pdev.name}: range not aligned to {m.arch.pmd_size:#x}",
                          function="dax_hmem_probe")
    devm_create_dev_dax(m, region, -1, d["end"] + 1 - d["start"], False)


def dax_hmem_drivers(m: "Machine") -> list[Driver]:
    """The platform drivers dax_hmem.ko registers, in order (6.3+: hmem_platform first, then hmem)."""
    hmem = Driver("hmem", dax_hmem_probe, module="dax_hmem")
    if not m.kernel.hmem_platform_device:
        return [hmem]
    return [Driver("hmem_platform", dax_hmem_platform_probe, module="dax_hmem"), hmem]
