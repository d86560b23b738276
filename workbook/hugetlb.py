"""Where a 1 GiB gigantic hugetlb page can come from (mm/hugetlb.c alloc_gigantic_folio(), mm/page_alloc.c).

``alloc_contig_pages()`` walks the zones of the zonelist up to ``gfp_zone(gfp_mask)`` and
tries every naturally aligned range whose pfns ``pfn_range_valid_contig()`` accepts (online,
one zone, not PageReserved, no unmovable page) and then migrates what is there.  Gigantic
pages are allocated with ``htlb_alloc_mask()``: ``hugepage_movable_supported()`` is false for
a gigantic hstate, so the mask is GFP_HIGHUSER and ZONE_MOVABLE is never tried (6.1, 6.12);
from 6.19 the sysctl ``vm.movable_gigantic_pages`` (default 0) can allow it.  So memory onlined
``online_movable`` gives no gigantic page at all, and on kernel-zone memory every aligned
GiB that holds a self-hosted memmap is lost.  Leaves out: CMA areas, the hstate's reserves
and the migration step itself (nothing movable runs in these questions).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .mmzone import ZONE_MOVABLE, ZONE_NAMES
from .walkers import walk

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["hugepage_movable_supported", "gigantic_windows", "gigantic_pages_possible"]


def hugepage_movable_supported(m: "Machine", gigantic: bool = True) -> bool:
    """hugepage_movable_supported() (include/linux/hugetlb.h): false for gigantic pages unless the sysctl allows it."""
    if not gigantic:
        return True
    return bool(m.kernel.movable_gigantic_pages and m.sysctl.get("vm.movable_gigantic_pages", 0))


def gigantic_windows(m: "Machine", start: int, size: int, page: int = 1 << 30) -> list[tuple[bool, str]]:
    """For each aligned ``page``-sized window of ``[start, start + size)``: can a gigantic page come from it, and why not."""
    a = m.arch
    res = walk(m, "alloc-contig", a.pfn(start), size >> a.page_shift)
    per = page >> a.page_shift
    if len(res.visited) % per:
        return []
    ok = np.all(res.visited.reshape(-1, per), axis=1)
    gigantic = per > (1 << (a.nr_page_orders - 1))        # larger than the buddy's largest block
    out = []
    for i, whole in enumerate(ok.tolist()):
        b = m.block_of_pfn(a.pfn(start) + i * per)
        zone = b.zone
        if zone is not None and zone.idx == ZONE_MOVABLE and not hugepage_movable_supported(m, gigantic):
            out.append((False, "ZONE_MOVABLE: gigantic pages are allocated with GFP_HIGHUSER, which stops below it"))
        elif not whole:
            out.append((False, "a pfn alloc_contig_range() cannot take (the self-hosted memmap, or unmovable pages)"))
        else:
            out.append((True, f"every pfn online in {ZONE_NAMES[zone.idx] if zone else '?'} and free"))
    return out


def gigantic_pages_possible(m: "Machine", start: int, size: int) -> int:
    """How many 1 GiB gigantic pages alloc_contig_pages() could find in ``[start, start + size)``."""
    return sum(ok for ok, _ in gigantic_windows(m, start, size))
