"""struct vmem_altmap and the altmap allocator (include/linux/memremap.h, mm/sparse-vmemmap.c).

An altmap hands out pfns of the memory being added, so that the memmap describing that
memory is stored inside it.  It was born for persistent memory (ZONE_DEVICE, 4b94ffdc4163)
and reused by memmap_on_memory (a08a2ae34613).
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["VmemAltmap"]


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
