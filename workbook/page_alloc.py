"""The buddy allocator and its per-cpu lists (mm/page_alloc.c).

Free lists are ordered exactly as the kernel orders them (head first); where a page lands
follows __rmqueue_smallest(), the fallback/stealing rules and the pcp batch sizes of the
chosen kernel.  Simplifications, each named where it happens: no page shuffling
(page_alloc.shuffle is off by default), no watermark boosting, no reclaim or compaction
on the allocation path (an allocation that finds no page fails), no CMA, no highatomic
reserves.
"""
from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from math import isqrt
from typing import TYPE_CHECKING

from .mmzone import ZONE_MOVABLE, ZONE_NORMAL, Run, Zone
from .pagemap import (MIGRATE_HIGHATOMIC, MIGRATE_ISOLATE, MIGRATE_MOVABLE, MIGRATE_PCPTYPES,
                      MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE, PageKind, PageMap)

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["Gfp", "GFP_KERNEL", "GFP_HIGHUSER", "GFP_HIGHUSER_MOVABLE", "online_chunks",
           "add_to_free_list", "del_page_from_free_list", "expand", "rmqueue", "alloc_pages_zonelist",
           "free_pages", "drain_zone_pages", "zone_batchsize", "zone_set_pageset_high_and_batch",
           "setup_per_zone_wmarks", "setup_per_zone_lowmem_reserve", "pcp_allowed_order",
           "append_free_range", "remove_free_range", "online_layout"]

# mm/page_alloc.c fallbacks[]: where an allocation of each migratetype may steal from
FALLBACKS = {
    MIGRATE_UNMOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_MOVABLE),
    MIGRATE_MOVABLE: (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE),
    MIGRATE_RECLAIMABLE: (MIGRATE_UNMOVABLE, MIGRATE_MOVABLE),
}
PAGE_ALLOC_COSTLY_ORDER = 3
SWAP_CLUSTER_MAX = 32
CONFIG_PCP_BATCH_SCALE_MAX = 5
MIN_PERCPU_PAGELIST_HIGH_FRACTION = 8


@dataclass(frozen=True)
class Gfp:
    """The parts of a gfp_t the model uses: the highest zone and the migratetype (gfp_zone(), gfp_migratetype())."""

    name: str
    highest_zoneidx: int
    migratetype: int


GFP_KERNEL = Gfp("GFP_KERNEL", ZONE_NORMAL, MIGRATE_UNMOVABLE)
GFP_HIGHUSER = Gfp("GFP_HIGHUSER", ZONE_NORMAL, MIGRATE_UNMOVABLE)
GFP_HIGHUSER_MOVABLE = Gfp("GFP_HIGHUSER_MOVABLE", ZONE_MOVABLE, MIGRATE_MOVABLE)


def online_chunks(start_pfn: int, end_pfn: int, max_order: int) -> list[tuple[int, int]]:
    """The (pfn, order) blocks online_pages_range() frees: order = min(MAX_PAGE_ORDER, __ffs(pfn))."""
    lead, run_start, run_count, trail = online_layout(start_pfn, end_pfn, max_order)
    step = 1 << max_order
    return lead + [(run_start + i * step, max_order) for i in range(run_count)] + trail


def online_layout(start_pfn: int, end_pfn: int, max_order: int) -> tuple[list, int, int, list]:
    """online_chunks() in closed form: (leading blocks, first max-order pfn, max-order count, trailing blocks)."""
    lead: list[tuple[int, int]] = []
    pfn = start_pfn
    step = 1 << max_order
    while pfn < end_pfn and (pfn % step or pfn + step > end_pfn):
        order = max_order if pfn == 0 else min(max_order, (pfn & -pfn).bit_length() - 1)
        while pfn + (1 << order) > end_pfn:   # never past the end (section-aligned in practice)
            order -= 1
        lead.append((pfn, order))
        pfn += 1 << order
        if pfn % step == 0:
            break
    run_start = pfn
    run_count = max(0, (end_pfn - pfn) // step)
    pfn += run_count * step
    trail: list[tuple[int, int]] = []
    while pfn < end_pfn:
        order = min(max_order, (pfn & -pfn).bit_length() - 1)
        while pfn + (1 << order) > end_pfn:
            order -= 1
        trail.append((pfn, order))
        pfn += 1 << order
    return lead, run_start, run_count, trail


# --------------------------------------------------------------------------------------------
# free lists
# --------------------------------------------------------------------------------------------
def _list_add(zone: Zone, key: object, order: int, mt: int, tail: bool) -> None:
    od = zone.free_lists[order][mt]
    od[key] = None
    if not tail:
        od.move_to_end(key, last=False)


def add_to_free_list(m: "Machine", zone: Zone, pfn: int, order: int, mt: int, tail: bool = False,
                     pm: PageMap | None = None) -> None:
    """__add_to_free_list(): the block ``[pfn, pfn + 2^order)`` becomes one free buddy block."""
    pm = pm or m.pagemap_of(pfn)
    i = pfn - pm.start_pfn
    pm.kind[i:i + (1 << order)] = PageKind.FREE
    pm.order[i] = order
    pm.fl_mt[i] = mt
    pm.owner[i:i + (1 << order)] = 0
    _list_add(zone, pfn, order, mt, tail)
    zone.nr_free[order, mt] += 1


def del_page_from_free_list(m: "Machine", zone: Zone, pfn: int, order: int, mt: int,
                            pm: PageMap | None = None) -> None:
    """del_page_from_free_list(): take a free block off its list (its pages keep kind FREE until used)."""
    pm = pm or m.pagemap_of(pfn)
    od = zone.free_lists[order][mt]
    if pfn in od:
        del od[pfn]
    else:
        _remove_from_run(m, zone, pfn, order, mt)
    i = pfn - pm.start_pfn
    pm.order[i] = -1
    pm.fl_mt[i] = -1
    zone.nr_free[order, mt] -= 1


def _remove_from_run(m: "Machine", zone: Zone, pfn: int, order: int, mt: int) -> None:
    """Take one block out of the run that holds it, keeping the list order of the rest."""
    block = m.block_of_pfn(pfn)
    for run in block.runs:
        end = run.start + (run.count << run.order)
        if run.order == order and run.start <= pfn < end:
            break
    else:  # pragma: no cover - an inconsistent free list is a model bug
        raise AssertionError(f"pfn {pfn:#x} order {order} is on no free list")
    od = zone.free_lists[order][mt]
    if pfn == run.start:
        run.start += 1 << order
        run.count -= 1
        if run.count == 0:
            del od[run]
            block.runs.remove(run)
        return
    # split: [run.start, pfn) stays in place, (pfn, end) follows it
    keys = list(od.keys())
    pos = keys.index(run)
    tail_run = Run(pfn + (1 << order), (end - pfn >> order) - 1, order, block)
    run.count = (pfn - run.start) >> order
    new = OrderedDict()
    for k in keys[:pos + 1]:
        new[k] = None
    if tail_run.count:
        new[tail_run] = None
        block.runs.append(tail_run)
    for k in keys[pos + 1:]:
        new[k] = None
    zone.free_lists[order][mt] = new


def _first_on_list(zone: Zone, order: int, mt: int) -> int | None:
    """get_page_from_free_area(): the pfn at the head of a free list, or None."""
    od = zone.free_lists[order][mt]
    if not od:
        return None
    key = next(iter(od))
    return key.start if isinstance(key, Run) else key


def move_to_free_list(m: "Machine", zone: Zone, pfn: int, order: int, old_mt: int, new_mt: int) -> None:
    """move_to_free_list(): move a free block to the tail of another migratetype's list."""
    pm = m.pagemap_of(pfn)
    del_page_from_free_list(m, zone, pfn, order, old_mt, pm)
    _list_add(zone, pfn, order, new_mt, tail=True)
    zone.nr_free[order, new_mt] += 1
    i = pfn - pm.start_pfn
    pm.order[i] = order
    pm.fl_mt[i] = new_mt


def append_free_range(m: "Machine", zone: Zone, block: object, layout: tuple, mt: int = MIGRATE_MOVABLE) -> int:
    """Put freshly onlined blocks at the tail of the free lists, as online_pages() leaves them.

    online_pages_range() frees each block to the tail of the (isolated) free list and
    undo_isolate_page_range() moves them, pageblock by pageblock, to the tail of the
    MIGRATE_MOVABLE lists: the net effect is "append in pfn order".  The run of max-order
    blocks becomes one :class:`Run` entry.  ``layout`` is :func:`online_layout`'s result.
    Returns the number of pages added.
    """
    lead, run_start, run_count, trail = layout
    max_order = zone.nr_orders - 1
    total = 0
    for pfn, order in lead:
        _list_add(zone, pfn, order, mt, tail=True)
        zone.nr_free[order, mt] += 1
        total += 1 << order
    if run_count:
        run = Run(run_start, run_count, max_order, block)
        block.runs.append(run)
        _list_add(zone, run, max_order, mt, tail=True)
        zone.nr_free[max_order, mt] += run_count
        total += run_count << max_order
    for pfn, order in trail:
        _list_add(zone, pfn, order, mt, tail=True)
        zone.nr_free[order, mt] += 1
        total += 1 << order
    return total


def remove_free_range(m: "Machine", zone: Zone, block: object) -> int:
    """Take every free block of a memory block off the zone's lists (__offline_isolated_pages()).

    Returns how many of those pages NR_FREE_PAGES counted (blocks on isolate lists are not counted).
    """
    pm = block.pagemap
    counted = 0
    for run in list(block.runs):
        for mt in range(len(zone.free_lists[run.order])):
            od = zone.free_lists[run.order][mt]
            if run in od:
                del od[run]
                zone.nr_free[run.order, mt] -= run.count
                if mt != MIGRATE_ISOLATE:
                    counted += run.count << run.order
                break
    run_heads = set()
    for run in block.runs:
        run_heads.update(range(run.start, run.start + (run.count << run.order), 1 << run.order))
        if pm is not None:
            sl = slice(run.start - pm.start_pfn, run.start - pm.start_pfn + (run.count << run.order),
                       1 << run.order)
            pm.order[sl] = -1
            pm.fl_mt[sl] = -1
    block.runs.clear()
    if pm is None:
        # a pristine block: its free blocks are exactly what onlining freed
        lead, _, _, trail = block.online_chunks
        singles = [(p, o, MIGRATE_MOVABLE) for p, o in lead + trail if p not in run_heads]
    else:
        import numpy as np
        heads = np.nonzero((pm.kind == PageKind.FREE) & (pm.order >= 0))[0]
        singles = [(pm.start_pfn + i, int(pm.order[i]), int(pm.fl_mt[i])) for i in heads.tolist()
                   if pm.start_pfn + i not in run_heads]
    for pfn, order, mt in singles:
        del zone.free_lists[order][mt][pfn]
        zone.nr_free[order, mt] -= 1
        if pm is not None:
            pm.order[pfn - pm.start_pfn] = -1
            pm.fl_mt[pfn - pm.start_pfn] = -1
        if mt != MIGRATE_ISOLATE:
            counted += 1 << order
    return counted


# --------------------------------------------------------------------------------------------
# taking pages: __rmqueue_smallest(), fallback, pcp
# --------------------------------------------------------------------------------------------
def expand(m: "Machine", zone: Zone, pfn: int, low: int, high: int, mt: int) -> None:
    """expand(): split a 2^high block down to 2^low, the upper halves go to the list heads."""
    size = 1 << high
    while high > low:
        high -= 1
        size >>= 1
        add_to_free_list(m, zone, pfn + size, high, mt, tail=False)


def __rmqueue_smallest(m: "Machine", zone: Zone, order: int, mt: int) -> int | None:
    """__rmqueue_smallest(): the smallest free block >= order on this migratetype's lists."""
    for current_order in range(order, zone.nr_orders):
        pfn = _first_on_list(zone, current_order, mt)
        if pfn is None:
            continue
        del_page_from_free_list(m, zone, pfn, current_order, mt)
        expand(m, zone, pfn, order, current_order, mt)
        return pfn
    return None


def can_steal_fallback(m: "Machine", order: int, start_mt: int) -> bool:
    """can_steal_fallback()."""
    pb = m.arch.pageblock_order
    if order >= pb:
        return True
    return order >= pb // 2 or start_mt in (MIGRATE_RECLAIMABLE, MIGRATE_UNMOVABLE)


def find_suitable_fallback(m: "Machine", zone: Zone, order: int, start_mt: int) -> tuple[int, bool]:
    """find_suitable_fallback(): the first fallback migratetype with a free block of ``order``."""
    for fmt in FALLBACKS[start_mt]:
        if zone.free_lists[order][fmt]:
            return fmt, can_steal_fallback(m, order, start_mt)
    return -1, False


def move_freepages_block(m: "Machine", zone: Zone, pfn: int, new_mt: int) -> tuple[int, int]:
    """move_freepages_block(): move every free block of a pageblock to ``new_mt``; (free, movable) pages."""
    pm = m.pagemap_of(pfn)
    pb = 1 << m.arch.pageblock_order
    a = ((pfn - pm.start_pfn) >> m.arch.pageblock_order) << m.arch.pageblock_order
    free = movable = 0
    i = a
    while i < a + pb:
        if pm.kind[i] == PageKind.FREE and pm.order[i] >= 0:
            o, fmt = int(pm.order[i]), int(pm.fl_mt[i])
            if fmt != new_mt:
                move_to_free_list(m, zone, pm.start_pfn + i, o, fmt, new_mt)
            free += 1 << o
            i += 1 << o
            continue
        if pm.kind[i] in PageKind.MOVABLE:
            movable += 1
        i += 1
    return free, movable


def steal_suitable_fallback(m: "Machine", zone: Zone, pfn: int, current_order: int, start_mt: int,
                            old_list_mt: int, whole_block: bool) -> None:
    """steal_suitable_fallback(): claim the pageblock(s) of a free block for ``start_mt``.

    Leaves out watermark boosting (boost_watermark()).
    """
    pm = m.pagemap_of(pfn)
    pb_order = m.arch.pageblock_order
    old_block_mt = pm.pageblock_mt(pfn)
    if old_block_mt != MIGRATE_HIGHATOMIC:
        if current_order >= pb_order:
            pm.set_pageblock_mt(pfn, 1 << current_order, start_mt)   # change_pageblock_range()
        elif whole_block:
            free, movable = move_freepages_block(m, zone, pfn, start_mt)
            if free:
                if start_mt == MIGRATE_MOVABLE:
                    alike = movable
                else:
                    alike = (1 << pb_order) - (free + movable) if old_block_mt == MIGRATE_MOVABLE else 0
                if free + alike >= (1 << (pb_order - 1)):
                    pm.set_pageblock_mt(pfn, 1 << pb_order, start_mt)
                return
    # single_page:
    if pm.order[pfn - pm.start_pfn] == current_order and pm.fl_mt[pfn - pm.start_pfn] == old_list_mt:
        move_to_free_list(m, zone, pfn, current_order, old_list_mt, start_mt)


def __rmqueue_fallback(m: "Machine", zone: Zone, order: int, start_mt: int, nofragment: bool) -> bool:
    """__rmqueue_fallback(): steal the largest free block of another migratetype."""
    min_order = m.arch.pageblock_order if nofragment else order
    found = None
    for current_order in range(zone.nr_orders - 1, min_order - 1, -1):
        fmt, can_steal = find_suitable_fallback(m, zone, current_order, start_mt)
        if fmt == -1:
            continue
        if not can_steal and start_mt == MIGRATE_MOVABLE and current_order > order:
            # find_smallest: steal and split the smallest block instead
            for o in range(order, zone.nr_orders):
                fmt, can_steal = find_suitable_fallback(m, zone, o, start_mt)
                if fmt != -1:
                    found = (o, fmt, can_steal)
                    break
        else:
            found = (current_order, fmt, can_steal)
        break
    if found is None:
        return False
    current_order, fmt, can_steal = found
    pfn = _first_on_list(zone, current_order, fmt)
    steal_suitable_fallback(m, zone, pfn, current_order, start_mt, fmt, can_steal)
    return True


def __rmqueue(m: "Machine", zone: Zone, order: int, mt: int, nofragment: bool = False) -> int | None:
    """__rmqueue(): the migratetype's own lists first, then steal and retry."""
    while True:
        pfn = __rmqueue_smallest(m, zone, order, mt)
        if pfn is not None:
            return pfn
        if not __rmqueue_fallback(m, zone, order, mt, nofragment):
            return None


def pcp_allowed_order(m: "Machine", order: int) -> bool:
    """pcp_allowed_order(): orders up to PAGE_ALLOC_COSTLY_ORDER, and the THP order."""
    return order <= PAGE_ALLOC_COSTLY_ORDER or order == m.arch.pageblock_order


def nr_pcp_alloc(m: "Machine", zone: Zone, pcp, order: int) -> int:
    """How many blocks one pcp refill takes (nr_pcp_alloc(), 6.7+; the fixed batch before)."""
    base_batch = pcp.batch
    if not m.kernel.pcp_auto_tune:
        batch = base_batch
        if batch > 1:
            batch = max(batch >> order, 2)
        return batch
    high = pcp.high = min(max(pcp.high, pcp.high_min), pcp.high_max)
    if high < base_batch:
        return 1
    batch = base_batch if order else base_batch << pcp.alloc_factor
    if pcp.high_min != pcp.high_max:
        high = pcp.high = min(high + batch, pcp.high_max)
    if not order:
        max_nr_alloc = max(high - pcp.count - base_batch, base_batch)
        if batch <= max_nr_alloc and pcp.alloc_factor < CONFIG_PCP_BATCH_SCALE_MAX:
            pcp.alloc_factor += 1
        batch = min(batch, max_nr_alloc)
    if batch > 1:
        batch = max(batch >> order, 2)
    return batch


def rmqueue_bulk(m: "Machine", zone: Zone, order: int, count: int, mt: int, lst, nofragment: bool) -> int:
    """rmqueue_bulk(): take ``count`` blocks from the buddy onto a pcp list (tail), in allocation order."""
    got = 0
    for _ in range(count):
        pfn = __rmqueue(m, zone, order, mt, nofragment)
        if pfn is None:
            break
        pm = m.pagemap_of(pfn)
        i = pfn - pm.start_pfn
        pm.kind[i:i + (1 << order)] = PageKind.PCP
        pm.fl_mt[i] = mt
        lst.append(pfn)
        got += 1
    zone.free_pages -= got << order
    return got


def rmqueue(m: "Machine", zone: Zone, order: int, mt: int, cpu: int, nofragment: bool = False) -> int | None:
    """rmqueue(): through the CPU's pcp list for small orders, straight from the buddy otherwise."""
    if pcp_allowed_order(m, order):
        pcp = zone.pcp.get(cpu)
        if pcp is not None:
            lst = pcp.list(order, mt)
            if not lst:
                batch = nr_pcp_alloc(m, zone, pcp, order)
                got = rmqueue_bulk(m, zone, order, batch, mt, lst, nofragment)
                pcp.count += got << order
            if lst:
                pfn = lst.popleft()
                pcp.count -= 1 << order
                return pfn
            return None
    pfn = __rmqueue(m, zone, order, mt, nofragment)
    if pfn is not None:
        zone.free_pages -= 1 << order
    return pfn


def zone_watermark_ok(zone: Zone, order: int, mark: int, highest_zoneidx: int) -> bool:
    """__zone_watermark_ok() without the per-order check: free - 2^order + 1 > mark + lowmem_reserve."""
    free = zone.free_pages + zone.boot_free - (1 << order) + 1
    return free > mark + zone.lowmem_reserve[highest_zoneidx]


def alloc_nofragment(m: "Machine", zone: Zone) -> bool:
    """alloc_flags_nofragment(): ALLOC_NOFRAGMENT for ZONE_NORMAL when DMA32 of the node has memory."""
    if zone.idx != ZONE_NORMAL:
        return False
    lower = m.nodes[zone.nid].zones[zone.idx - 1]
    if len(m.online_nodes()) > 1 and not lower.populated():
        return False
    return True


def alloc_pages_zonelist(m: "Machine", zonelist: list[Zone], order: int, gfp: Gfp, cpu: int) -> tuple[Zone, int] | None:
    """get_page_from_freelist() over a zonelist: low watermark first, then min; (zone, pfn) or None.

    Leaves out the slow path's reclaim and compaction: what the first two passes cannot
    find is reported as a failed allocation.
    """
    for mark_i in (1, 0):
        for zone in zonelist:
            if not zone.managed_zone():
                continue
            if not zone_watermark_ok(zone, order, zone.watermark[mark_i], gfp.highest_zoneidx):
                continue
            if zone.free_pages + zone.pcp_pages() == 0 and zone.boot_free:
                zone.boot_free -= 1 << order      # boot memory: counted, not placed
                return zone, -1
            pfn = rmqueue(m, zone, order, gfp.migratetype, cpu, alloc_nofragment(m, zone))
            if pfn is None and alloc_nofragment(m, zone):
                pfn = rmqueue(m, zone, order, gfp.migratetype, cpu, False)
            if pfn is not None:
                return zone, pfn
            if zone.boot_free >= 1 << order:
                zone.boot_free -= 1 << order
                return zone, -1
    return None


# --------------------------------------------------------------------------------------------
# giving pages back
# --------------------------------------------------------------------------------------------
def _buddy_merge_likely(m: "Machine", zone: Zone, pfn: int, buddy_pfn: int, order: int, pm: PageMap) -> bool:
    """buddy_merge_likely(): put a block at the tail if its next-higher buddy is free."""
    if order >= zone.nr_orders - 2:
        return False
    higher = buddy_pfn & pfn
    higher_buddy = higher ^ (1 << (order + 1))
    j = higher_buddy - pm.start_pfn
    if not 0 <= j < pm.nr_pages:
        return False
    return bool(pm.kind[j] == PageKind.FREE and pm.order[j] == order + 1)


def __free_one_page(m: "Machine", zone: Zone, pfn: int, order: int, mt: int, to_tail: bool = False) -> None:
    """__free_one_page(): merge with free buddies and put the result on a free list."""
    pm = m.pagemap_of(pfn)
    max_order = zone.nr_orders - 1
    buddy_pfn = pfn
    while order < max_order:
        buddy_pfn = pfn ^ (1 << order)
        j = buddy_pfn - pm.start_pfn
        if not 0 <= j < pm.nr_pages:
            break
        if not (pm.kind[j] == PageKind.FREE and pm.order[j] == order):
            break
        bmt = int(pm.fl_mt[j])
        if zone.nr_isolate_pageblock and bmt != mt and (mt == MIGRATE_ISOLATE or bmt == MIGRATE_ISOLATE):
            break
        del_page_from_free_list(m, zone, buddy_pfn, order, bmt, pm)
        pfn &= buddy_pfn
        order += 1
    if not to_tail and order < max_order:
        to_tail = _buddy_merge_likely(m, zone, pfn, buddy_pfn, order, pm)
    add_to_free_list(m, zone, pfn, order, mt, tail=to_tail, pm=pm)


def free_one_page(m: "Machine", zone: Zone, pfn: int, order: int) -> None:
    """free_one_page(): straight to the buddy, with the pageblock's migratetype."""
    pm = m.pagemap_of(pfn)
    mt = pm.pageblock_mt(pfn)
    __free_one_page(m, zone, pfn, order, mt)
    if mt != MIGRATE_ISOLATE:
        zone.free_pages += 1 << order


def free_pcppages_bulk(m: "Machine", zone: Zone, pcp, count: int) -> None:
    """free_pcppages_bulk(): give pages from the tails of the pcp lists back to the buddy."""
    while count > 0 and pcp.count > 0:
        for (order, mt), lst in list(pcp.lists.items()):
            if not lst or count <= 0:
                continue
            pfn = lst.pop()
            pcp.count -= 1 << order
            count -= 1 << order
            pm = m.pagemap_of(pfn)
            bmt = pm.pageblock_mt(pfn)
            if bmt == MIGRATE_ISOLATE:
                mt = MIGRATE_ISOLATE
            __free_one_page(m, zone, pfn, order, mt)
            if mt != MIGRATE_ISOLATE:
                zone.free_pages += 1 << order


def drain_zone_pages(m: "Machine", zone: Zone) -> None:
    """drain_all_pages(zone): every CPU's pcp pages of this zone go back to the buddy."""
    for pcp in zone.pcp.values():
        if pcp.count:
            free_pcppages_bulk(m, zone, pcp, pcp.count)


def free_pages(m: "Machine", zone: Zone, pfn: int, order: int, cpu: int) -> None:
    """__free_pages(): small orders go to the CPU's pcp list head (free_unref_page()), others to the buddy.

    The pcp list is trimmed back to ``high - batch`` when it grows past ``high``
    (a simplification of nr_pcp_free()).
    """
    pm = m.pagemap_of(pfn)
    i = pfn - pm.start_pfn
    pm.owner[i:i + (1 << order)] = 0
    mt = pm.pageblock_mt(pfn)
    pcp = zone.pcp.get(cpu)
    if pcp is None or not pcp_allowed_order(m, order) or mt == MIGRATE_ISOLATE or mt >= MIGRATE_PCPTYPES:
        pm.kind[i:i + (1 << order)] = PageKind.FREE
        pm.order[i] = -1
        free_one_page(m, zone, pfn, order)
        return
    pm.kind[i:i + (1 << order)] = PageKind.PCP
    pm.order[i] = -1
    pm.fl_mt[i] = mt
    pcp.list(order, mt).appendleft(pfn)
    pcp.count += 1 << order
    if m.kernel.pcp_auto_tune:
        pcp.alloc_factor >>= 1
    high = pcp.high if pcp.high else pcp.batch * 4
    if pcp.count >= high:
        free_pcppages_bulk(m, zone, pcp, pcp.count - max(high - pcp.batch, 0))



# --------------------------------------------------------------------------------------------
# sizes: pcp batch/high, watermarks, lowmem reserve
# --------------------------------------------------------------------------------------------
def _rounddown_pow_of_two(n: int) -> int:
    return 1 << (n.bit_length() - 1) if n > 0 else 0


def zone_batchsize(m: "Machine", zone: Zone) -> int:
    """zone_batchsize(): ~0.1% of the zone or 1 MiB, clamped to 2^n - 1."""
    batch = min(zone.managed_pages >> 10, (1 << 20) // m.arch.page_size)
    batch //= 4
    if batch < 1:
        batch = 1
    return _rounddown_pow_of_two(batch + batch // 2) - 1


def zone_highsize(m: "Machine", zone: Zone, batch: int, high_fraction: int) -> int:
    """zone_highsize(): the low watermark (or managed/fraction) split over the node's CPUs."""
    total = zone.low_wmark if not high_fraction else zone.managed_pages // high_fraction
    nr_split = len(m.nodes[zone.nid].cpus) or len(m.cpus)
    high = total // nr_split
    return max(high, batch << 2)


def zone_set_pageset_high_and_batch(m: "Machine", zone: Zone) -> None:
    """zone_set_pageset_high_and_batch(): recompute every CPU's batch and high for the zone."""
    if not zone.managed_pages:
        zone.pcp.clear()
        return
    batch = max(1, zone_batchsize(m, zone))
    if not m.kernel.pcp_high_from_low_wmark:
        # <= 5.13 pageset_set_batch(): high = 6 * batch (percpu_pagelist_fraction unset)
        high_min = high_max = 6 * batch
    elif m.kernel.pcp_auto_tune:
        high_min = zone_highsize(m, zone, batch, 0)
        high_max = zone_highsize(m, zone, batch, MIN_PERCPU_PAGELIST_HIGH_FRACTION)
    else:
        high_min = high_max = zone_highsize(m, zone, batch, 0)
    for cpu in m.cpus:
        pcp = zone.pcp.get(cpu)
        if pcp is None:
            from .mmzone import PerCpuPages
            pcp = zone.pcp[cpu] = PerCpuPages()
            # 6.7+ leaves pcp->high at its boot value (0) until the first refill clamps it
            pcp.high = 0 if m.kernel.pcp_auto_tune else high_min
        pcp.batch, pcp.high_min, pcp.high_max = batch, high_min, high_max
        if not m.kernel.pcp_auto_tune:
            pcp.high = high_min
        # 6.7+: pcp->high is left alone here; nr_pcp_alloc() clamps it on the next refill


def calculate_min_free_kbytes(m: "Machine") -> int:
    """calculate_min_free_kbytes(): sqrt(lowmem_kbytes * 16), clamped to [128, 262144]."""
    lowmem = 0
    for node in m.nodes.values():
        for z in node.zones[:ZONE_MOVABLE]:
            lowmem += max(z.managed_pages - z.high_wmark, 0)
    kb = isqrt(lowmem * (m.arch.page_size >> 10) * 16)
    return min(max(kb, 128), 262144)


def nr_free_buffer_pages(m: "Machine") -> int:
    """nr_free_buffer_pages(): managed minus high watermark, over the zones GFP_USER may use."""
    return sum(max(z.managed_pages - z.high_wmark, 0) for n in m.nodes.values() for z in n.zones[:ZONE_MOVABLE])


def set_recommended_min_free_kbytes(m: "Machine") -> None:
    """mm/khugepaged.c set_recommended_min_free_kbytes(): THP raises min_free_kbytes for anti-fragmentation.

    Two free pageblocks per populated zone up to ZONE_NORMAL, plus MIGRATE_PCPTYPES^2
    pageblocks to fall back to, capped at 5% of lowmem; only ever raises the value.
    """
    nr_zones = sum(1 for n in m.nodes.values() for z in n.zones[:ZONE_MOVABLE] if z.populated())
    pb = m.arch.pageblock_nr_pages
    recommended = pb * nr_zones * 2 + pb * nr_zones * MIGRATE_PCPTYPES * MIGRATE_PCPTYPES
    recommended = min(recommended, nr_free_buffer_pages(m) // 20)
    recommended <<= m.arch.page_shift - 10
    if recommended > m.min_free_kbytes:
        m.min_free_kbytes = recommended
        setup_per_zone_wmarks(m)


def setup_per_zone_wmarks(m: "Machine") -> None:
    """__setup_per_zone_wmarks() with watermark_scale_factor = 10 (and no boost)."""
    pages_min = m.min_free_kbytes >> (m.arch.page_shift - 10)
    # before the highmem-like rule ZONE_MOVABLE counts as lowmem and takes its share
    movable_is_lowmem = not m.kernel.movable_min_wmark_like_highmem
    lowmem_pages = sum(z.managed_pages for n in m.nodes.values() for z in n.zones
                       if z.idx < ZONE_MOVABLE or (movable_is_lowmem and z.idx == ZONE_MOVABLE)) or 1
    for node in m.nodes.values():
        for z in node.zones:
            tmp = pages_min * z.managed_pages // lowmem_pages
            if z.idx == ZONE_MOVABLE and not movable_is_lowmem:
                z.watermark[0] = min(max(z.managed_pages // 1024, SWAP_CLUSTER_MAX), 128)
            else:
                z.watermark[0] = tmp
            if not z.managed_pages:
                z.watermark = [0, 0, 0, 0]
                continue
            delta = max(tmp >> 2, z.managed_pages * 10 // 10000)
            z.watermark[1] = z.watermark[0] + delta
            z.watermark[2] = z.watermark[1] + delta
            z.watermark[3] = z.watermark[2] + delta


def setup_per_zone_lowmem_reserve(m: "Machine") -> None:
    """setup_per_zone_lowmem_reserve() with sysctl_lowmem_reserve_ratio = {256, 256, 32, 0, 0}."""
    ratio = (256, 256, 32, 0, 0)
    for node in m.nodes.values():
        zones = node.zones
        for i, z in enumerate(zones):
            z.lowmem_reserve = [0] * len(zones)
            managed = 0
            for j in range(i + 1, len(zones)):
                managed += zones[j].managed_pages
                if ratio[i] and z.managed_pages:
                    z.lowmem_reserve[j] = managed // ratio[i]


__all__ += ["__rmqueue_smallest", "__rmqueue_fallback", "__rmqueue", "__free_one_page", "free_one_page",
            "free_pcppages_bulk", "rmqueue_bulk", "nr_pcp_alloc", "steal_suitable_fallback",
            "move_freepages_block", "move_to_free_list", "calculate_min_free_kbytes", "zone_watermark_ok",
            "MIGRATE_ISOLATE"]
