"""device_dax: a dax device as a character device, its memory in ZONE_DEVICE (drivers/dax/device.c).

Probe claims each range in /proc/iomem as ``daxR.N`` and maps it with memremap_pages():
the pages get a memmap (compound pages of the device's align, so a 2 MiB-aligned
device needs only 2 memmap pages per 2 MiB) in the node's ZONE_DEVICE, which spans
them but never counts them as present or managed.  The memory is never System RAM: no
memory blocks, no buddy allocator, /proc/kpageflags reads NOPAGE for it.  Unbinding
undoes it all, except the Device zone's span.

The model leaves out the character device itself (open, mmap, faults).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EBUSY, EINVAL, KernelError
from ..memremap import DevPagemap, memremap_pages, memunmap_pages
from ..resource import release_resource, request_region
from .bus import DAXDRV_DEVICE_TYPE, DaxDeviceDriver, DevDax

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["dev_dax_probe", "device_dax_driver"]


def dev_dax_probe(m: "Machine", dev: DevDax) -> None:
    """dev_dax_probe(): devm_request_mem_region() per range, then devm_memremap_pages()."""
    if dev.region.is_static() and len(dev.ranges) > 1:
        raise KernelError(EINVAL, "static pgmap / multi-range device conflict", function="dev_dax_probe")
    for i, r in enumerate(dev.ranges):
        res = request_region(m.iomem, r.start, r.len(), dev.name)
        if res is None:
            m.printk(f"device_dax {dev.name}: mapping{i}: {r.start:#x}-{r.end:#x} could not reserve range")
            raise KernelError(EBUSY, f"{dev.name}: mapping{i} could not reserve range", function="dev_dax_probe")
        dev.devm_add_action(lambda res=res: release_resource(res))
    shift = 0
    if dev.align > m.arch.page_size:
        shift = (dev.align >> m.arch.page_shift).bit_length() - 1      # order_base_2()
    pgmap = DevPagemap([(r.start, r.end) for r in dev.ranges], dev.numa_node, shift)
    memremap_pages(m, pgmap)
    dev.pgmap = pgmap

    def unmap() -> None:
        memunmap_pages(m, pgmap)
        dev.pgmap = None
    dev.devm_add_action(unmap)


def device_dax_driver(m: "Machine") -> DaxDeviceDriver:
    """device_dax_driver (module device_dax): type DAXDRV_DEVICE_TYPE; before 6.3 it matches every device."""
    return DaxDeviceDriver(name="device_dax", probe=dev_dax_probe, remove=None, module="device_dax",
                           type=DAXDRV_DEVICE_TYPE, match_always=not m.kernel.dax_bus_match_type)
