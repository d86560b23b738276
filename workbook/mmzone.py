"""Zones and nodes: struct zone and struct pglist_data (include/linux/mmzone.h).

A zone holds the counters ``/proc/zoneinfo`` prints (spanned, present, managed, free,
watermarks) and the buddy allocator's free lists.  Memory that was present at boot is
kept as counts only (``boot_free``): the model does not track boot memory page by page,
and nothing it reports depends on where boot pages sit.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field

import numpy as np

from .pagemap import MIGRATE_TYPES

__all__ = ["Zone", "Node", "PerCpuPages", "Run", "ZONE_NAMES", "ZONE_DMA", "ZONE_DMA32",
           "ZONE_NORMAL", "ZONE_MOVABLE", "ZONE_DEVICE", "MAX_NR_ZONES", "NODE_STAT_ITEMS"]

# include/linux/mmzone.h enum zone_type (x86_64 with ZONE_DMA, ZONE_DMA32, ZONE_DEVICE)
ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, ZONE_DEVICE = 0, 1, 2, 3, 4
MAX_NR_ZONES = 5
ZONE_NAMES = ("DMA", "DMA32", "Normal", "Movable", "Device")

# per-node counters the model keeps (mm/vmstat.c vmstat_text names)
NODE_STAT_ITEMS = ("nr_inactive_anon", "nr_active_anon", "nr_anon_pages", "nr_anon_transparent_hugepages",
                   "nr_slab_unreclaimable", "nr_kernel_stack", "nr_page_table_pages", "nr_kernel_misc")


class Run:
    """A run of consecutive max-order free blocks of one memory block, kept as one free-list entry.

    Onlining a 2 GiB block frees 504 order-10 blocks in a row; the model keeps them as one
    entry (first pfn, count) and peels blocks off its head as the allocator takes them.  The
    order of the free list is exactly the kernel's: a run stands where its blocks would.
    """

    __slots__ = ("start", "count", "order", "block")

    def __init__(self, start: int, count: int, order: int, block: object) -> None:
        self.start, self.count, self.order, self.block = start, count, order, block

    def __repr__(self) -> str:
        return f"Run({self.start:#x}, {self.count} x order-{self.order})"


@dataclass
class PerCpuPages:
    """struct per_cpu_pages: one CPU's cache of free pages for one zone."""

    batch: int = 1
    high: int = 0
    high_min: int = 0
    high_max: int = 0
    alloc_factor: int = 0
    free_count: int = 0
    count: int = 0
    lists: dict[tuple[int, int], deque] = field(default_factory=dict)

    def list(self, order: int, mt: int) -> deque:
        """pcp->lists[order_to_pindex(mt, order)]."""
        key = (order, mt)
        lst = self.lists.get(key)
        if lst is None:
            lst = self.lists[key] = deque()
        return lst


class Zone:
    """struct zone: one zone of one node."""

    def __init__(self, nid: int, idx: int, nr_orders: int) -> None:
        self.nid = nid
        self.idx = idx
        self.name = ZONE_NAMES[idx]
        self.zone_start_pfn = 0
        self.spanned_pages = 0
        self.present_pages = 0
        self.present_early_pages = 0
        self.managed_pages = 0
        self.free_pages = 0                 # NR_FREE_PAGES (pcp and isolated pages excluded)
        self.boot_free = 0                  # free boot-memory pages (counts only)
        self.nr_orders = nr_orders
        # zone->free_area[order].free_list[migratetype]: ordered, head first
        self.free_lists: list[list[OrderedDict]] = [
            [OrderedDict() for _ in range(MIGRATE_TYPES)] for _ in range(nr_orders)]
        self.nr_free = np.zeros((nr_orders, MIGRATE_TYPES), dtype=np.int64)  # blocks per list
        self.pcp: dict[int, PerCpuPages] = {}
        self.watermark = [0, 0, 0, 0]       # WMARK_MIN, LOW, HIGH, PROMO
        self.lowmem_reserve = [0] * MAX_NR_ZONES
        self.nr_isolate_pageblock = 0
        self.stats: dict[str, int] = {}     # zone vmstat items the model tracks
        self.tainted = False                # a workload has allocated here since it was populated

    # --- include/linux/mmzone.h helpers ---------------------------------------------------
    @property
    def zone_end_pfn(self) -> int:
        """zone_end_pfn()."""
        return self.zone_start_pfn + self.spanned_pages

    def populated(self) -> bool:
        """populated_zone(): the zone has present pages."""
        return self.present_pages > 0

    def managed_zone(self) -> bool:
        """managed_zone(): the zone has pages in the buddy allocator."""
        return self.managed_pages > 0

    def is_empty(self) -> bool:
        """zone_is_empty(): no span."""
        return self.spanned_pages == 0

    def intersects(self, start_pfn: int, nr_pages: int) -> bool:
        """zone_intersects()."""
        if self.is_empty():
            return False
        return start_pfn < self.zone_end_pfn and start_pfn + nr_pages > self.zone_start_pfn

    def spans_pfn(self, pfn: int) -> bool:
        """zone_spans_pfn()."""
        return self.zone_start_pfn <= pfn < self.zone_end_pfn

    @property
    def min_wmark(self) -> int:
        """min_wmark_pages()."""
        return self.watermark[0]

    @property
    def low_wmark(self) -> int:
        """low_wmark_pages()."""
        return self.watermark[1]

    @property
    def high_wmark(self) -> int:
        """high_wmark_pages()."""
        return self.watermark[2]

    @property
    def nr_free_pages(self) -> int:
        """NR_FREE_PAGES as /proc/zoneinfo prints it: buddy pages plus free boot memory (counted, not placed)."""
        return self.free_pages + self.boot_free

    def pcp_pages(self) -> int:
        """Pages sitting on the per-cpu lists of this zone."""
        return sum(p.count for p in self.pcp.values())

    def __repr__(self) -> str:
        return (f"<Zone node{self.nid} {self.name} start={self.zone_start_pfn:#x} spanned={self.spanned_pages}"
                f" present={self.present_pages} managed={self.managed_pages} free={self.free_pages}>")


class Node:
    """struct pglist_data: one NUMA node."""

    def __init__(self, nid: int, cpus: list[int], nr_orders: int) -> None:
        self.nid = nid
        self.cpus = list(cpus)
        self.zones = [Zone(nid, z, nr_orders) for z in range(MAX_NR_ZONES)]
        self.node_start_pfn = 0
        self.node_spanned_pages = 0
        self.node_present_pages = 0
        self.stats: dict[str, int] = {k: 0 for k in NODE_STAT_ITEMS}
        self.kthreads_started = False       # kswapd/kcompactd (kswapd_run(), kcompactd_run())
        self.got_kernel_memory = False      # the node has had ZONE_NORMAL (or lower) memory
        self.boot_memory_bytes = 0

    @property
    def node_end_pfn(self) -> int:
        """pgdat_end_pfn()."""
        return self.node_start_pfn + self.node_spanned_pages

    def managed_pages(self) -> int:
        """Sum of the zones' managed pages (node MemTotal, si_meminfo_node())."""
        return sum(z.managed_pages for z in self.zones)

    def free_pages(self) -> int:
        """Sum of the zones' NR_FREE_PAGES (node MemFree)."""
        return sum(z.free_pages for z in self.zones)

    def has_memory(self) -> bool:
        """N_MEMORY: the node has present pages in some zone."""
        return any(z.present_pages for z in self.zones)

    def has_normal_memory(self) -> bool:
        """N_NORMAL_MEMORY: present pages in a zone up to ZONE_NORMAL."""
        return any(z.present_pages for z in self.zones[:ZONE_MOVABLE])

    def __repr__(self) -> str:
        return f"<Node {self.nid} cpus={self.cpus} present={self.node_present_pages}>"
