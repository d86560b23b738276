"""struct vmem_altmap, the altmap allocator and ZONE_DEVICE pagemaps (include/linux/memremap.h, mm/memremap.c).

An altmap hands out pfns of the memory being added, so that the memmap describing that
memory is stored inside it.  It was born for persistent memory (ZONE_DEVICE, 4b94ffdc4163)
and reused by memmap_on_memory (a08a2ae34613).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["VmemAltmap", "DevPagemap", "memremap_pages", "memunmap_pages"]


@dataclass
class VmemAltmap:
    """struct vmem_altmap: pfns ``[base_pfn + reserve, base_pfn + reserve + free)`` may hold the memmap."""

    base_pfn: int            # base of the entire mapping
    end_pfn: int = 0         # last pfn of the mapping (hotplug sets it from 6.6; const)
    reserve: int = 0         # pages mapped, but reserved for driver use (relative to base)
    free: int = 0            # free pages set aside in the mapping for memmap storage
    align: int = 0           # pages reserved to meet allocation alignments
    alloc: int = 0           # track pages consumed, private to vmemmap_populate()
    inaccessible: bool = False  # MHP_OFFLINE_INACCESSIBLE (6.12, s390)

    def next_pfn(self) -> int:
        """vmem_altmap_next_pfn(): base_pfn + reserve + alloc + align."""
        return self.base_pfn + self.reserve + self.alloc + self.align

    def nr_free(self) -> int:
        """vmem_altmap_nr_free(): free - (alloc + align), floored at 0."""
        return max(self.free - (self.alloc + self.align), 0)

    def offset(self) -> int:
        """vmem_altmap_offset(): pfns from base where pfn_to_page() is valid (reserve + free)."""
        return self.reserve + self.free

    def alloc_block_buf(self, size: int, page_size: int) -> int | None:
        """altmap_alloc_block_buf(): take ``size`` bytes of pfns, aligned to the lowest set bit of the count.

        Returns the first pfn handed out, or None when the altmap is exhausted.
        """
        if size % page_size:
            return None
        nr_pfns = size // page_size
        pfn = self.next_pfn()
        low_bit = nr_pfns & -nr_pfns
        nr_align = ((pfn + low_bit - 1) // low_bit) * low_bit - pfn
        if nr_pfns + nr_align > self.nr_free():
            return None
        self.alloc += nr_pfns
        self.align += nr_align
        return pfn + nr_align

    def free_pages(self, nr_pfns: int) -> None:
        """vmem_altmap_free(): give pfns back (alloc -= n)."""
        self.alloc -= nr_pfns


@dataclass
class DevPagemap:
    """struct dev_pagemap: device memory with a memmap in ZONE_DEVICE (MEMORY_DEVICE_GENERIC for device_dax)."""

    ranges: list[tuple[int, int]]        # (start, end inclusive) in bytes
    nid: int
    vmemmap_shift: int = 0               # compound page order: order_base_2(align >> PAGE_SHIFT)
    type: str = "MEMORY_DEVICE_GENERIC"


def memremap_pages(m: "Machine", pgmap: DevPagemap) -> None:
    """memremap_pages() -> pagemap_range(): sections and memmap for each range, the pfns in ZONE_DEVICE.

    The range must not be System RAM (ENXIO).  arch_add_memory() runs with
    ``params->pgmap`` set, so max_pfn stays where it was (/proc/kpageflags does not grow);
    the memmap comes from node memory (the node of the device, falling back like any
    allocation: "potential offnode page_structs" when it lands elsewhere).
    """
    from .errors import ENXIO, KernelError
    from .memory_hotplug import move_pfn_range_to_zone
    from .mmzone import ZONE_DEVICE
    from .resource import IORESOURCE_SYSTEM_RAM, walk
    done = []
    for start, end in pgmap.ranges:
        ram = any(r.flags & IORESOURCE_SYSTEM_RAM == IORESOURCE_SYSTEM_RAM and r.start <= end and r.end >= start
                  for r, _ in walk(m.iomem))
        if ram:
            for s, e in done:
                _unmap_range(m, pgmap, s, e)
            msg = f"attempted on ram region {start:#x}-{end:#x}"
            m.printk(f"WARNING: {msg}", level="warn")
            raise KernelError(ENXIO, msg, [msg], "pagemap_range")
        nid = pgmap.nid if pgmap.nid >= 0 else min(m.nodes)
        pfn, nr = start >> m.arch.page_shift, (end + 1 - start) >> m.arch.page_shift
        m.add_sections(nid, pfn, nr, None, pgmap.vmemmap_shift)
        if not m.nodes[nid].has_memory() and "offnode" not in m._printed_once:
            m._printed_once.add("offnode")                               # pr_warn_once()
            page = 0xFFFFEA0000000000 + (pfn * m.arch.struct_page_size)    # the vmemmap address of the first page
            m.printk(f"[{page:016x}-{page + m.arch.page_size - 1:016x}] potential offnode page_structs")
        move_pfn_range_to_zone(m, m.nodes[nid].zones[ZONE_DEVICE], pfn, nr, 0)
        done.append((start, end))


def _unmap_range(m: "Machine", pgmap: DevPagemap, start: int, end: int) -> None:
    from .memory_hotplug import remove_pfn_range_from_zone
    from .mmzone import ZONE_DEVICE
    nid = pgmap.nid if pgmap.nid >= 0 else min(m.nodes)
    pfn, nr = start >> m.arch.page_shift, (end + 1 - start) >> m.arch.page_shift
    remove_pfn_range_from_zone(m, m.nodes[nid].zones[ZONE_DEVICE], pfn, nr)
    m.remove_sections(start, end + 1 - start)


def memunmap_pages(m: "Machine", pgmap: DevPagemap) -> None:
    """memunmap_pages(): the memmap and sections go; ZONE_DEVICE keeps its span (it never shrinks)."""
    for start, end in pgmap.ranges:
        _unmap_range(m, pgmap, start, end)
