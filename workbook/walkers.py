"""pfn walkers: how kernel code that walks physical memory treats the self-hosted memmap pages.

``pfn_to_online_page()`` (mm/memory_hotplug.c) is the gate every walker passes: it returns
no page for pfns in offline sections.  Once a block is online its whole first section is
online, vmemmap pfns included, so walkers must recognise those pages themselves: by
PageReserved in 5.13-6.10, and from 6.11 on (the model's 6.12) only by their state
(refcount 1, not LRU, not movable, PageVmemmapSelfHosted).  Each walker here reports, per pfn, whether it visited
the page and, if not, why: the same decision the kernel function makes, vectorised.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .pagemap import PageKind

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["WalkResult", "WALKERS", "walk", "pfn_to_online_page", "REASONS", "PageState", "page_state", "page_kinds"]

# why a walker did not visit (or did not take) a pfn
VISITED = 0
NO_ONLINE_PAGE = 1       # pfn_to_online_page() == NULL: section offline or absent
RESERVED = 2             # PageReserved(): skipped by walkers that honour it
BEFORE_BUDDY_START = 3   # the hotplug walkers start at start_pfn + nr_vmemmap_pages
NOT_MOVABLE = 4          # not LRU and not __PageMovable: compaction/migration leave it
FREE = 5                 # PageBuddy: nothing to migrate (migrate scanner) / taken (free scanner)
NOT_FREE = 6             # the free scanner only takes PageBuddy pages
BOOT = 7                 # boot memory, which the model keeps as counts only
REASONS = ("visited", "no online page (section offline)", "PageReserved", "before buddy_start_pfn",
           "not LRU / not movable", "free (PageBuddy)", "not free", "boot memory (not modelled per page)")


@dataclass
class WalkResult:
    """Per-pfn outcome of one walker over ``[start_pfn, start_pfn + len(reason))``."""

    walker: str
    start_pfn: int
    reason: np.ndarray          # uint8 per pfn: 0 = visited, else an index into REASONS

    @property
    def visited(self) -> np.ndarray:
        """Boolean mask of the pfns the walker looked at and kept."""
        return self.reason == VISITED

    def counts(self) -> dict[str, int]:
        """How many pfns for each outcome."""
        c = np.bincount(self.reason, minlength=len(REASONS))
        return {REASONS[i]: int(c[i]) for i in range(len(REASONS)) if c[i]}

    def skipped(self, reason: int) -> np.ndarray:
        """The pfns skipped for ``reason``."""
        return self.start_pfn + np.nonzero(self.reason == reason)[0]


def page_kinds(m: "Machine", start_pfn: int, nr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pfn: kind, section online, boot memory (from the blocks' page maps or their layouts)."""
    kinds = np.zeros(nr, dtype=np.uint8)
    boot = np.zeros(nr, dtype=bool)
    online = m.sections_online_mask(start_pfn, nr)
    ppb = m.block_size >> m.arch.page_shift
    end = start_pfn + nr
    for bid in range(start_pfn // ppb, (end - 1) // ppb + 1):
        b = m.blocks.get(bid)
        if b is None:
            continue
        lo, hi = max(b.start_pfn, start_pfn), min(b.end_pfn, end)
        if b.boot:
            boot[lo - start_pfn:hi - start_pfn] = True
        elif b.pagemap is not None:
            kinds[lo - start_pfn:hi - start_pfn] = b.pagemap.kind[lo - b.start_pfn:hi - b.start_pfn]
        elif b.zone is not None:
            seg = kinds[lo - start_pfn:hi - start_pfn]
            seg[:] = PageKind.FREE
            v_end = b.start_pfn + b.vmemmap_pages
            if lo < v_end:
                seg[: min(v_end, hi) - lo] = PageKind.SELFHOSTED
    return kinds, online, boot


@dataclass
class PageState:
    """What the memmap says about each pfn of a range (for page maps and tests)."""

    start_pfn: int
    kind: np.ndarray            # PageKind per pfn (UNINIT where there is no online struct page)
    free_order: np.ndarray      # order of the free buddy block a FREE pfn belongs to, else -1
    online: np.ndarray          # the pfn's section is online
    boot: np.ndarray            # boot memory (the model keeps its counts, not per-page state)
    pageblock_mt: np.ndarray    # migratetype per pfn (of its pageblock), -1 where unknown


def page_state(m: "Machine", start_pfn: int, nr: int) -> PageState:
    """The per-pfn state of ``[start_pfn, start_pfn + nr)``."""
    kinds, online, boot = page_kinds(m, start_pfn, nr)
    free_order = np.full(nr, -1, dtype=np.int8)
    mts = np.full(nr, -1, dtype=np.int8)
    ppb = m.block_size >> m.arch.page_shift
    pb = m.arch.pageblock_order
    end = start_pfn + nr
    for bid in range(start_pfn // ppb, (end - 1) // ppb + 1):
        b = m.blocks.get(bid)
        if b is None or b.boot or b.zone is None:
            continue
        lo, hi = max(b.start_pfn, start_pfn), min(b.end_pfn, end)
        pm = b.pagemap
        if pm is None:
            full = np.full(b.nr_pages, -1, dtype=np.int8)
            lead, rs, rc, trail = b.online_chunks
            for p, o in lead + trail:
                full[p - b.start_pfn:p - b.start_pfn + (1 << o)] = o
            if rc:
                full[rs - b.start_pfn:rs - b.start_pfn + (rc << m.arch.max_page_order)] = m.arch.max_page_order
            pbm = np.full(b.nr_pages >> pb, 1, dtype=np.int8)
            pbm[: b.vmemmap_pages >> pb] = 0
        else:
            full = np.full(b.nr_pages, -1, dtype=np.int8)
            heads = np.nonzero((pm.kind == PageKind.FREE) & (pm.order >= 0))[0]
            if len(heads):
                orders = pm.order[heads].astype(np.int64)
                idx = np.repeat(heads, 1 << orders) + (np.arange(int((1 << orders).sum()))
                                                       - np.repeat(np.cumsum(1 << orders) - (1 << orders), 1 << orders))
                full[idx] = np.repeat(orders, 1 << orders)
            pbm = pm.pb_mt.astype(np.int8)
        free_order[lo - start_pfn:hi - start_pfn] = full[lo - b.start_pfn:hi - b.start_pfn]
        mts[lo - start_pfn:hi - start_pfn] = np.repeat(pbm, 1 << pb)[lo - b.start_pfn:hi - b.start_pfn]
    kinds = np.where(online | boot, kinds, PageKind.UNINIT).astype(np.uint8)
    return PageState(start_pfn, kinds, free_order, online, boot, mts)


def pfn_to_online_page(m: "Machine", pfn: int) -> bool:
    """pfn_to_online_page(): is there an online struct page for ``pfn``?"""
    return m.section_online(pfn)


def _lut(pairs: dict[int, int], default: int) -> np.ndarray:
    """A 16-entry PageKind -> reason table."""
    t = np.full(16, default, dtype=np.uint8)
    for kinds, reason in pairs.items():
        t[kinds] = reason
    return t


_scratch = threading.local()


def _hits(kinds: np.ndarray, values: list[int]) -> np.ndarray:
    """``kinds == values[0] | kinds == values[1] ...`` in a reused buffer.

    Fresh 512 KiB temporaries on every walk cost more in page faults than the comparison
    itself (malloc trims them away between calls), so the mask lives per thread.
    """
    buf = getattr(_scratch, "buf", None)
    if buf is None or len(buf) < 2 * len(kinds):
        buf = _scratch.buf = np.empty(2 * len(kinds), dtype=bool)
    hit, more = buf[:len(kinds)], buf[len(kinds):2 * len(kinds)]
    np.equal(kinds, values[0], out=hit)
    for v in values[1:]:
        np.logical_or(hit, np.equal(kinds, v, out=more), out=hit)
    return hit


def _mark(seg: np.ndarray, kinds: np.ndarray, values: list[int], reason: int) -> None:
    """``seg[kinds in values] = reason``, touching only the span between the first and last hit."""
    hit = _hits(kinds, values)
    first = int(hit.argmax())
    if not hit[first]:
        return
    last = len(hit) - int(hit[::-1].argmax())
    np.copyto(seg[first:last], reason, where=hit[first:last])


def _walk_lut(m: "Machine", start_pfn: int, nr: int, lut: np.ndarray, skip_vmemmap: bool = False) -> np.ndarray:
    """One pass per block: reason = lut[kind]; boot memory and offline sections overridden by slices."""
    r = np.full(nr, NO_ONLINE_PAGE, dtype=np.uint8)
    ppb = m.block_size >> m.arch.page_shift
    end = start_pfn + nr
    # The common case (at most two kinds, with one reason, differ from the rest) costs
    # comparisons, not a gather: np.take() must first widen every uint8 kind to an index.
    # UNINIT is tested apart; an online section rarely holds one, and .all() says so cheaply.
    default = int(np.bincount(lut[1:]).argmax())
    special = [k for k in range(1, 16) if lut[k] != default]
    fast = len(special) <= 2 and len({int(lut[k]) for k in special}) <= 1
    for bid in range(start_pfn // ppb, (end - 1) // ppb + 1):
        b = m.blocks.get(bid)
        if b is None:
            continue
        lo, hi = max(b.start_pfn, start_pfn), min(b.end_pfn, end)
        seg = r[lo - start_pfn:hi - start_pfn]
        if b.boot:
            seg[:] = BOOT
        elif b.pagemap is not None:
            kinds = b.pagemap.kind[lo - b.start_pfn:hi - b.start_pfn]
            if fast:
                seg.fill(default)
                if special:
                    _mark(seg, kinds, special, int(lut[special[0]]))
                if lut[PageKind.UNINIT] != default and kinds.min() == PageKind.UNINIT:
                    _mark(seg, kinds, [PageKind.UNINIT], int(lut[PageKind.UNINIT]))
            else:
                np.take(lut, kinds, out=seg)
        elif b.zone is not None:
            seg[:] = lut[PageKind.FREE]
            v_end = b.start_pfn + b.vmemmap_pages
            if lo < v_end:
                seg[: min(v_end, hi) - lo] = lut[PageKind.SELFHOSTED]
        if skip_vmemmap and b.vmemmap_pages:
            v_end = min(b.start_pfn + b.vmemmap_pages, hi)
            if lo < v_end:
                seg[: v_end - lo] = BEFORE_BUDDY_START
    pps = m.arch.pages_per_section
    for sec in range(start_pfn // pps, (end - 1) // pps + 1):
        if not m.section_online(sec * pps):
            lo, hi = max(sec * pps, start_pfn), min((sec + 1) * pps, end)
            r[lo - start_pfn:hi - start_pfn] = NO_ONLINE_PAGE
    return r


def _reserved_kinds(m: "Machine") -> tuple[int, ...]:
    """The kinds PageReserved() is true for on this kernel."""
    return (PageKind.RESERVED, PageKind.SELFHOSTED) if m.kernel.selfhosted_reserved else (PageKind.RESERVED,)


def walk_generic(m: "Machine", start_pfn: int, nr: int) -> WalkResult:
    """A walker that skips offline sections and PageReserved pages (page_owner's pagetypeinfo_showmixedcount_print()).

    That function (mm/page_owner.c, behind /proc/pagetypeinfo with page_owner on) takes
    pfn_to_online_page() once per pageblock, then skips PageBuddy and PageReserved pages.
    On 6.1 it skips the vmemmap pages (Reserved); from 6.11 on (the model's 6.12) it visits
    them: they are no longer Reserved, the risk Oscar Salvador raised in review.
    """
    lut = _lut({k: RESERVED for k in _reserved_kinds(m)}, VISITED)
    lut[PageKind.UNINIT] = NO_ONLINE_PAGE
    return WalkResult("generic", start_pfn, _walk_lut(m, start_pfn, nr, lut))


def walk_hotplug(m: "Machine", start_pfn: int, nr: int) -> WalkResult:
    """scan_movable_pages()/start_isolate_page_range() of offline_pages(): each block from buddy_start_pfn on."""
    lut = _lut({}, VISITED)
    lut[PageKind.UNINIT] = NO_ONLINE_PAGE
    return WalkResult("hotplug", start_pfn, _walk_lut(m, start_pfn, nr, lut, skip_vmemmap=True))


def walk_compaction_migrate(m: "Machine", start_pfn: int, nr: int) -> WalkResult:
    """isolate_migratepages_block(): only LRU (movable) pages are isolated; free and other pages are passed over."""
    pairs = {k: VISITED for k in PageKind.MOVABLE}
    pairs.update({PageKind.FREE: FREE, PageKind.PCP: FREE})
    lut = _lut(pairs, NOT_MOVABLE)
    lut[PageKind.UNINIT] = NO_ONLINE_PAGE
    return WalkResult("compaction (migrate scanner)", start_pfn, _walk_lut(m, start_pfn, nr, lut))


def walk_compaction_free(m: "Machine", start_pfn: int, nr: int) -> WalkResult:
    """isolate_freepages_block(): only PageBuddy pages are taken as migration targets."""
    lut = _lut({PageKind.FREE: VISITED}, NOT_FREE)
    lut[PageKind.UNINIT] = NO_ONLINE_PAGE
    return WalkResult("compaction (free scanner)", start_pfn, _walk_lut(m, start_pfn, nr, lut))


def walk_alloc_contig(m: "Machine", start_pfn: int, nr: int) -> WalkResult:
    """pfn_range_valid_contig(): gigantic pages need online, non-Reserved pages (then isolation and migration)."""
    pairs = {k: NOT_MOVABLE for k in PageKind.UNMOVABLE + (PageKind.SELFHOSTED,)}
    pairs.update({k: RESERVED for k in _reserved_kinds(m)})
    lut = _lut(pairs, VISITED)
    lut[PageKind.UNINIT] = NO_ONLINE_PAGE
    return WalkResult("alloc_contig_range", start_pfn, _walk_lut(m, start_pfn, nr, lut))


_FILES = {"generic": "mm/page_owner.c", "hotplug": "mm/memory_hotplug.c", "compaction-migrate": "mm/compaction.c",
          "compaction-free": "mm/compaction.c", "alloc-contig": "mm/page_alloc.c"}
WALKERS = {"generic": walk_generic, "hotplug": walk_hotplug, "compaction-migrate": walk_compaction_migrate,
           "compaction-free": walk_compaction_free, "alloc-contig": walk_alloc_contig}


def walk(m: "Machine", walker: str, start_pfn: int, nr: int) -> WalkResult:
    """Run one of :data:`WALKERS` over a pfn range."""
    try:
        fn = WALKERS[walker]
    except KeyError:
        raise ValueError(f"unknown walker {walker!r}; known: {', '.join(WALKERS)}") from None
    m.trace.record(fn.__name__, _FILES[walker])
    return fn(m, start_pfn, nr)
