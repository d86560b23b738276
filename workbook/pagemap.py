"""Per-page state of one memory block: the block's slice of the memmap (include/linux/mm_types.h, page-flags.h).

The kernel keeps a 64-byte ``struct page`` per pfn.  The model keeps a few numpy bytes
per pfn, and only for memory blocks whose pages something has touched: a block that was
just onlined is described by its layout alone (``PageMap.pristine``) and gets arrays the
first time an allocation or a free touches it.  What the model leaves out: refcounts
beyond "in use or not", mapcounts, page->mapping, LRU lists and every flag that no
chapter reads.
"""
from __future__ import annotations

import numpy as np

__all__ = [
    "PageMap", "PageKind", "MIGRATE_UNMOVABLE", "MIGRATE_MOVABLE", "MIGRATE_RECLAIMABLE",
    "MIGRATE_HIGHATOMIC", "MIGRATE_ISOLATE", "MIGRATE_TYPES", "MIGRATE_PCPTYPES", "MIGRATETYPE_NAMES",
    "KPF", "kpf_names", "kind_table",
]

# include/linux/mmzone.h enum migratetype (CONFIG_CMA=n, as in the captured kernels)
MIGRATE_UNMOVABLE, MIGRATE_MOVABLE, MIGRATE_RECLAIMABLE, MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE = 0, 1, 2, 3, 4
MIGRATE_PCPTYPES = 3
MIGRATE_TYPES = 5
MIGRATETYPE_NAMES = ("Unmovable", "Movable", "Reclaimable", "HighAtomic", "Isolate")


class PageKind:
    """What a pfn's struct page says it is (one byte per pfn)."""

    UNINIT = 0        # no initialised struct page: the section is not online
    SELFHOSTED = 1    # holds the block's own memmap (vmemmap pages from the altmap)
    FREE = 2          # in the buddy allocator (head or tail of a free block)
    PCP = 3           # free, on a per-cpu list (not PageBuddy)
    ANON = 4          # anonymous LRU page (movable)
    THP_HEAD = 5      # head of a transparent huge page (movable)
    THP_TAIL = 6
    SLAB = 7          # order-0 slab page (unmovable)
    SLAB_HEAD = 8     # compound slab
    SLAB_TAIL = 9
    KERNEL = 10       # plain kernel page: pipe buffer, vmalloc, kernel stack (unmovable)
    COMPOUND_HEAD = 11  # kmalloc_large() and other compound kernel allocations (unmovable)
    COMPOUND_TAIL = 12
    PGTABLE = 13      # page-table page (unmovable)
    RESERVED = 14     # PageReserved memory that is not a memmap (boot allocations, holes)
    NAMES = ("uninit", "vmemmap (self-hosted)", "free (buddy)", "free (pcp)", "anon", "THP head",
             "THP tail", "slab", "slab head", "slab tail", "kernel", "compound head",
             "compound tail", "page table", "reserved")
    MOVABLE = (ANON, THP_HEAD, THP_TAIL)
    UNMOVABLE = (SLAB, SLAB_HEAD, SLAB_TAIL, KERNEL, COMPOUND_HEAD, COMPOUND_TAIL, PGTABLE, RESERVED)


class KPF:
    """/proc/kpageflags bit numbers (include/uapi/linux/kernel-page-flags.h, include/linux/kernel-page-flags.h)."""

    LOCKED, ERROR, REFERENCED, UPTODATE, DIRTY, LRU, ACTIVE, SLAB = 0, 1, 2, 3, 4, 5, 6, 7
    WRITEBACK, RECLAIM, BUDDY, MMAP, ANON, SWAPCACHE, SWAPBACKED = 8, 9, 10, 11, 12, 13, 14
    COMPOUND_HEAD, COMPOUND_TAIL, HUGE, UNEVICTABLE, HWPOISON, NOPAGE = 15, 16, 17, 18, 19, 20
    KSM, THP, OFFLINE, ZERO_PAGE, IDLE, PGTABLE = 21, 22, 23, 24, 25, 26
    RESERVED, MLOCKED, MAPPEDTODISK, PRIVATE, PRIVATE_2, OWNER_PRIVATE = 32, 33, 34, 35, 36, 37
    ARCH, UNCACHED, SOFTDIRTY, ARCH_2, ARCH_3 = 38, 39, 40, 41, 42


_KPF_NAMES = {v: k for k, v in vars(KPF).items() if k.isupper()}


def kpf_names(word: int) -> str:
    """Names of the bits set in a kpageflags word, joined by ``|`` (``"0"`` for none)."""
    names = [_KPF_NAMES[b] for b in sorted(_KPF_NAMES) if word >> b & 1]
    return "|".join(names) if names else "0"


def _bits(*bits: int) -> int:
    v = 0
    for b in bits:
        v |= 1 << b
    return v


def kind_table(selfhosted_reserved: bool, selfhosted_flag: bool, anon_exclusive: bool = False) -> np.ndarray:
    """The kpageflags word of each PageKind for one kernel (fs/proc/page.c stable_page_flags()).

    ``anon_exclusive``: 5.19+ keeps PG_anon_exclusive in PG_mappedtodisk's bit (34) of an
    anonymous page that one process maps alone (the model's workloads are never shared).
    """
    k = PageKind
    t = np.zeros(16, dtype=np.uint64)
    sh = 0
    if selfhosted_reserved:
        sh |= _bits(KPF.RESERVED)
    if selfhosted_flag:
        sh |= _bits(KPF.OWNER_PRIVATE)       # PG_vmemmap_self_hosted == PG_owner_priv_1
    t[k.SELFHOSTED] = sh
    t[k.FREE] = _bits(KPF.BUDDY)
    t[k.ANON] = _bits(KPF.UPTODATE, KPF.LRU, KPF.MMAP, KPF.ANON, KPF.SWAPBACKED)
    t[k.THP_HEAD] = _bits(KPF.UPTODATE, KPF.LRU, KPF.MMAP, KPF.ANON, KPF.SWAPBACKED,
                          KPF.COMPOUND_HEAD, KPF.THP)
    t[k.THP_TAIL] = _bits(KPF.MMAP, KPF.ANON, KPF.COMPOUND_TAIL, KPF.THP)
    if anon_exclusive:
        t[k.ANON] |= _bits(KPF.MAPPEDTODISK)
        t[k.THP_HEAD] |= _bits(KPF.MAPPEDTODISK)
    t[k.SLAB] = _bits(KPF.SLAB)
    t[k.SLAB_HEAD] = _bits(KPF.SLAB, KPF.COMPOUND_HEAD)
    t[k.SLAB_TAIL] = _bits(KPF.SLAB, KPF.COMPOUND_TAIL)
    t[k.COMPOUND_HEAD] = _bits(KPF.COMPOUND_HEAD)
    t[k.COMPOUND_TAIL] = _bits(KPF.COMPOUND_TAIL)
    t[k.PGTABLE] = _bits(KPF.PGTABLE)
    t[k.RESERVED] = _bits(KPF.RESERVED)
    return t


class PageMap:
    """numpy per-pfn state of one memory block (its part of the memmap)."""

    __slots__ = ("start_pfn", "nr_pages", "kind", "order", "fl_mt", "owner", "pb_mt", "pageblock_order")

    def __init__(self, start_pfn: int, nr_pages: int, pageblock_order: int) -> None:
        self.start_pfn = start_pfn
        self.nr_pages = nr_pages
        self.pageblock_order = pageblock_order
        self.kind = np.zeros(nr_pages, dtype=np.uint8)
        # FREE head: buddy order; allocated head: allocation order; else -1
        self.order = np.full(nr_pages, -1, dtype=np.int8)
        # FREE/PCP head: the migratetype of the list it sits on, else -1
        self.fl_mt = np.full(nr_pages, -1, dtype=np.int8)
        # allocation owner (workload id; 0 = the kernel itself)
        self.owner = np.zeros(nr_pages, dtype=np.int32)
        # pageblock migratetype (include/linux/pageblock-flags.h)
        self.pb_mt = np.full(max(nr_pages >> pageblock_order, 1), MIGRATE_MOVABLE, dtype=np.uint8)

    @classmethod
    def pristine(cls, start_pfn: int, nr_pages: int, nr_vmemmap: int, pageblock_order: int,
                 layout: tuple, max_order: int) -> "PageMap":
        """The state right after onlining: vmemmap pages, then the free buddy blocks of ``layout``.

        ``layout`` is page_alloc.online_layout()'s (leading blocks, run start, run count, trailing blocks).
        """
        pm = cls(start_pfn, nr_pages, pageblock_order)
        pm.kind[:nr_vmemmap] = PageKind.SELFHOSTED
        pm.kind[nr_vmemmap:] = PageKind.FREE
        lead, run_start, run_count, trail = layout
        for p, o in lead + trail:
            pm.order[p - start_pfn] = o
            pm.fl_mt[p - start_pfn] = MIGRATE_MOVABLE
        if run_count:
            a = run_start - start_pfn
            heads = slice(a, a + (run_count << max_order), 1 << max_order)
            pm.order[heads] = max_order
            pm.fl_mt[heads] = MIGRATE_MOVABLE
        pm.pb_mt[: nr_vmemmap >> pageblock_order] = MIGRATE_UNMOVABLE
        return pm

    # --- helpers ---------------------------------------------------------------------------
    def idx(self, pfn: int) -> int:
        """Index of ``pfn`` in the arrays."""
        return pfn - self.start_pfn

    def pageblock_mt(self, pfn: int) -> int:
        """get_pfnblock_migratetype()."""
        return int(self.pb_mt[(pfn - self.start_pfn) >> self.pageblock_order])

    def set_pageblock_mt(self, pfn: int, nr_pages: int, mt: int) -> None:
        """set_pageblock_migratetype() over every pageblock of ``[pfn, pfn + nr_pages)``."""
        a = (pfn - self.start_pfn) >> self.pageblock_order
        b = max(a + 1, (pfn - self.start_pfn + nr_pages) >> self.pageblock_order)
        self.pb_mt[a:b] = mt

    def counts(self) -> dict[str, int]:
        """How many pfns of each kind (for legends and tests)."""
        c = np.bincount(self.kind, minlength=len(PageKind.NAMES))
        return {PageKind.NAMES[i]: int(c[i]) for i in range(len(PageKind.NAMES)) if c[i]}
