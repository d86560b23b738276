"""What uses memory: anonymous (movable) workloads, pinned kernel pages, and the kernel's own allocations.

An :class:`Allocation` owns allocation units (pfn, order) in zones.  Anonymous memory is
movable (ZONE_MOVABLE allowed, migrated on offline); pipe buffers and slab are unmovable
(kernel zones only, they block offlining).  Leaves out: reclaim and swap, page cache, the
exact SLUB object layout (the model keeps a slab page per ``PAGE_SIZE // 512`` pipes of
per-pipe kernel objects, and those slab pages outlive the pipes, as partially used slabs
do), and anonymous memory that the kernel backs with 4 KiB pages because the mapping is
not 2 MiB aligned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from . import page_alloc as pa
from .errors import EINVAL, ENOMEM, KernelError
from .mmzone import ZONE_MOVABLE, ZONE_NORMAL, Zone
from .pagemap import PageKind
from .trace import kernel_function

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine
    from .mmzone import Node

__all__ = ["Allocation", "kernel_alloc", "free_unit", "alloc_unit", "start_anon_workload", "stop_workload",
           "start_pipe_pin", "node_bringup_allocations", "kernel_own_alloc", "kernel_own_free",
           "kernel_own_pages", "alloc_for_migration", "move_allocation"]

_HEAD_TAIL = {PageKind.THP_HEAD: PageKind.THP_TAIL, PageKind.SLAB_HEAD: PageKind.SLAB_TAIL,
              PageKind.COMPOUND_HEAD: PageKind.COMPOUND_TAIL}


@dataclass
class Allocation:
    """Memory owned by one user: a workload, a pinning process, or a kernel subsystem."""

    owner: int
    name: str
    kind: str                     # "anon", "pin", "kernel"
    nid: int
    cpu: int
    units: dict[int, tuple[Zone, int, int]] = field(default_factory=dict)   # key -> (zone, pfn, order)
    retained: list[tuple[Zone, int, int]] = field(default_factory=list)    # outlive the owner (slab)
    requested_bytes: int = 0
    _next_key: int = 0

    def add(self, zone: Zone, pfn: int, order: int) -> None:
        """Record one allocation unit."""
        key = pfn if pfn >= 0 else -(1 + self._next_key)
        self._next_key += 1
        self.units[key] = (zone, pfn, order)

    def __repr__(self) -> str:
        return f"<Allocation {self.owner} {self.name!r} ({self.kind}) node {self.nid}: {self.pages} pages>"

    @property
    def pages(self) -> int:
        """Pages held."""
        return sum(1 << o for _, _, o in self.units.values())


def _mark(m: "Machine", pfn: int, order: int, kind: int, owner: int) -> None:
    pm = m.pagemap_of(pfn)
    i = pfn - pm.start_pfn
    n = 1 << order
    tail = _HEAD_TAIL.get(kind)
    pm.kind[i] = kind
    if n > 1:
        pm.kind[i + 1:i + n] = tail if tail is not None else kind
    pm.order[i] = order
    pm.fl_mt[i] = -1
    pm.owner[i:i + n] = owner


def _account(m: "Machine", zone: Zone, kind: int, order: int, sign: int) -> None:
    node = m.nodes[zone.nid]
    n = sign << order
    if kind in (PageKind.ANON, PageKind.THP_HEAD):
        node.stats["nr_anon_pages"] += n
        node.stats["nr_active_anon"] += n
        if kind == PageKind.THP_HEAD:
            node.stats["nr_anon_transparent_hugepages"] += sign
    elif kind in (PageKind.SLAB, PageKind.SLAB_HEAD):
        node.stats["nr_slab_unreclaimable"] += n
    elif kind in (PageKind.KERNEL, PageKind.COMPOUND_HEAD):
        node.stats["nr_kernel_misc"] += n


def alloc_unit(m: "Machine", zonelist: list[Zone], order: int, gfp: pa.Gfp, cpu: int, kind: int,
               owner: int) -> tuple[Zone, int] | None:
    """Allocate one unit through the page allocator and mark its pages."""
    got = pa.alloc_pages_zonelist(m, zonelist, order, gfp, cpu)
    if got is None:
        return None
    zone, pfn = got
    if pfn >= 0:
        _mark(m, pfn, order, kind, owner)
    _account(m, zone, kind, order, +1)
    return zone, pfn


def free_unit(m: "Machine", zone: Zone, pfn: int, order: int, cpu: int, kind: int | None = None) -> None:
    """Give one unit back (__free_pages())."""
    if pfn < 0:
        zone.boot_free += 1 << order
        if kind is not None:
            _account(m, zone, kind, order, -1)
        return
    pm = m.pagemap_of(pfn)
    if kind is None:
        kind = int(pm.kind[pfn - pm.start_pfn])
    m.slab_states.pop(pfn, None)
    _account(m, zone, kind, order, -1)
    pa.free_pages(m, zone, pfn, order, cpu)


def kernel_alloc(m: "Machine", nid: int, order: int, kind: int, name: str, cpu: int,
                 thisnode: bool = False) -> tuple[Zone, int, int] | None:
    """A GFP_KERNEL allocation preferring ``nid`` (other nodes by distance unless ``thisnode``)."""
    zl = m.zonelist(nid, ZONE_NORMAL, [nid] if thisnode else None)
    got = alloc_unit(m, zl, order, pa.GFP_KERNEL, cpu, kind, 0)
    if got is None:
        return None
    return got[0], got[1], order


def _kernel_own(m: "Machine", nid: int) -> Allocation:
    """The Allocation that holds the kernel's own pages on node ``nid`` (created on first use)."""
    owner = m.kernel_own_owner.get(nid)
    if owner is None or owner not in m.allocations:
        from .cpu import first_online_cpu
        alloc = Allocation(m.new_owner(), f"kernel (node {nid})", "kernel", nid, first_online_cpu(m, nid))
        m.allocations[alloc.owner] = alloc
        m.kernel_own_owner[nid] = alloc.owner
    return m.allocations[m.kernel_own_owner[nid]]


def _own_kind(order: int, slab: bool) -> int:
    if slab:
        return PageKind.SLAB_HEAD if order else PageKind.SLAB
    return PageKind.COMPOUND_HEAD if order else PageKind.KERNEL


@kernel_function("mm/page_alloc.c", "__alloc_pages")
def kernel_own_alloc(m: "Machine", nid: int, order: int, slab: bool) -> tuple[Zone, int] | None:
    """One page block the kernel allocates for itself on node ``nid`` (GFP_KERNEL | __GFP_THISNODE).

    What the kernel allocates on a node by itself (slab of the threads that run on its CPUs,
    their stacks, per-node structures) and when, varies from run to run; the model only
    places such an allocation, with the buddy allocator's rules, on the node's first CPU.
    """
    alloc = _kernel_own(m, nid)
    got = alloc_unit(m, m.zonelist(nid, ZONE_NORMAL, [nid]), order, pa.GFP_KERNEL, alloc.cpu,
                     _own_kind(order, slab), alloc.owner)
    if got is not None:
        alloc.add(got[0], got[1], order)
    return got


@kernel_function("mm/page_alloc.c", "__free_pages")
def kernel_own_free(m: "Machine", nid: int, order: int, slab: bool) -> bool:
    """The kernel frees one of its own page blocks on node ``nid`` (the most recent of that order and kind)."""
    alloc = _kernel_own(m, nid)
    kind = _own_kind(order, slab)
    for key in reversed(list(alloc.units)):
        zone, pfn, o = alloc.units[key]
        if o == order and pfn >= 0 and int(m.pagemap_of(pfn).kind[pfn - m.pagemap_of(pfn).start_pfn]) == kind:
            del alloc.units[key]
            free_unit(m, zone, pfn, order, alloc.cpu)
            return True
    return False


def kernel_own_pages(m: "Machine", nid: int) -> dict[tuple[str, int, bool], int]:
    """{(zone name, order, slab): count} of the kernel's own page blocks on node ``nid``."""
    owner = m.kernel_own_owner.get(nid)
    alloc = m.allocations.get(owner) if owner is not None else None
    out: dict[tuple[str, int, bool], int] = {}
    if alloc is None:
        return out
    slab_kinds = (PageKind.SLAB, PageKind.SLAB_HEAD)
    for zone, pfn, order in alloc.units.values():
        if pfn < 0:
            continue
        pm = m.pagemap_of(pfn)
        key = (zone.name, order, int(pm.kind[pfn - pm.start_pfn]) in slab_kinds)
        out[key] = out.get(key, 0) + 1
    return out


@kernel_function("mm/memory_hotplug.c", "node_bringup")
def node_bringup_allocations(m: "Machine", node: "Node") -> None:
    """A node just got kernel-zone memory: the kernel starts allocating there (``Machine(kernel_own_pages=)``).

    ``"typical"``: one order-1 slab page, for teaching (real kernels took 0 to 27 pages in
    the workbook's captures, differently from run to run); ``"none"``: nothing, for a replay,
    which takes the kernel's own pages from the capture instead.
    """
    if m.kernel_own_pages_policy == "typical":
        kernel_own_alloc(m, node.nid, 1, slab=True)


def _thp_order(m: "Machine") -> int:
    return m.arch.pmd_shift - m.arch.page_shift


@kernel_function("mm/memory.c", "handle_mm_fault")
def start_anon_workload(m: "Machine", nid: int, nbytes: int, cpu: int | None = None,
                        name: str = "stress") -> Allocation:
    """Map and touch ``nbytes`` of anonymous memory bound to node ``nid`` (MPOL_BIND), THP first.

    Pages come from the node's zones with GFP_HIGHUSER_MOVABLE (ZONE_MOVABLE first).  If
    the node runs out, the workload stops where it is (the real process would be reclaimed
    from or OOM-killed; the model has no reclaim).
    """
    if nid not in m.nodes:
        raise KernelError(EINVAL, f"node {nid} does not exist", function="set_mempolicy")
    cpu = m.nodes[nid].cpus[0] if cpu is None and m.nodes[nid].cpus else (cpu if cpu is not None else m.cpus[0])
    alloc = Allocation(m.new_owner(), name, "anon", nid, cpu, requested_bytes=nbytes)
    pages = nbytes >> m.arch.page_shift
    thp = _thp_order(m)
    zl = m.zonelist(nid, ZONE_MOVABLE, [nid])
    while pages >= 1 << thp:
        got = alloc_unit(m, zl, thp, pa.GFP_HIGHUSER_MOVABLE, cpu, PageKind.THP_HEAD, alloc.owner)
        if got is None:
            break                                   # thp_fault_fallback: 4 KiB pages
        alloc.add(got[0], got[1], thp)
        got[0].tainted = True
        pages -= 1 << thp
    while pages > 0:
        got = alloc_unit(m, zl, 0, pa.GFP_HIGHUSER_MOVABLE, cpu, PageKind.ANON, alloc.owner)
        if got is None:
            break
        alloc.add(got[0], got[1], 0)
        got[0].tainted = True
        pages -= 1
    m.allocations[alloc.owner] = alloc
    return alloc


@kernel_function("fs/pipe.c", "pipe_write")
def start_pipe_pin(m: "Machine", nid: int, nbytes: int, pipes: int, cpu: int | None = None,
                   name: str = "pin") -> Allocation:
    """Fill ``pipes`` pipes bound to node ``nid`` with ``nbytes`` in all: unmovable kernel pages.

    Per pipe: the enlarged pipe_buffer array (kmalloc_large(), an order-2 compound page for
    256 slots), then the data pages (GFP_HIGHUSER: kernel zones only).  Every
    ``PAGE_SIZE // 512`` pipes the per-pipe kernel objects need a new slab page.
    """
    if nid not in m.nodes:
        raise KernelError(EINVAL, f"node {nid} does not exist", function="set_mempolicy")
    cpu = m.nodes[nid].cpus[0] if cpu is None and m.nodes[nid].cpus else (cpu if cpu is not None else m.cpus[0])
    alloc = Allocation(m.new_owner(), name, "pin", nid, cpu, requested_bytes=nbytes)
    zl = m.zonelist(nid, ZONE_NORMAL, [nid])
    ps = m.arch.page_size
    per_pipe = (nbytes // max(pipes, 1)) // ps
    slots = max(per_pipe, 16)
    array_order = max(((slots * 40 - 1) // ps).bit_length(), 0) if slots * 40 > 8192 else -1
    objs_per_slab = ps // 512
    for i in range(pipes):
        if i % objs_per_slab == 0:
            got = alloc_unit(m, zl, 0, pa.GFP_KERNEL, cpu, PageKind.SLAB, alloc.owner)
            if got is not None:
                alloc.retained.append((got[0], got[1], 0))
                got[0].tainted = True
        if array_order >= 0:
            got = alloc_unit(m, zl, array_order, pa.GFP_KERNEL, cpu, PageKind.COMPOUND_HEAD, alloc.owner)
            if got is None:
                break
            alloc.add(got[0], got[1], array_order)
            got[0].tainted = True
        for _ in range(per_pipe):
            got = alloc_unit(m, zl, 0, pa.GFP_HIGHUSER, cpu, PageKind.KERNEL, alloc.owner)
            if got is None:
                break
            alloc.add(got[0], got[1], 0)
            got[0].tainted = True
    m.allocations[alloc.owner] = alloc
    return alloc


# (order 0, order > 0) -> PageKind of an allocation unit in boot memory, per owner kind
_BOOT_UNIT_KIND = {"anon": (PageKind.ANON, PageKind.THP_HEAD), "pin": (PageKind.KERNEL, PageKind.COMPOUND_HEAD),
                   "kernel": (PageKind.KERNEL, PageKind.COMPOUND_HEAD)}


@kernel_function("kernel/exit.c", "do_exit")
def stop_workload(m: "Machine", owner: int) -> None:
    """The owner exits: its pages are freed (retained slab pages stay allocated)."""
    alloc = m.allocations.pop(owner, None)
    if alloc is None:
        raise KernelError(EINVAL, f"no workload {owner}", function="do_exit")
    for zone, pfn, order in sorted(alloc.units.values(), key=lambda u: u[1]):
        # boot memory has no per-pfn state: what the unit was follows from the owner and the order
        kind = None if pfn >= 0 else _BOOT_UNIT_KIND[alloc.kind][order > 0]
        free_unit(m, zone, pfn, order, alloc.cpu, kind)
    if alloc.retained:
        keep = Allocation(m.new_owner(), f"slab left by {alloc.name}", "kernel", alloc.nid, alloc.cpu)
        for z, p, o in alloc.retained:
            keep.add(z, p, o)
            if p >= 0:
                pm = m.pagemap_of(p)
                pm.owner[p - pm.start_pfn] = keep.owner
        m.allocations[keep.owner] = keep


def alloc_for_migration(m: "Machine", nodemask: list[int], src_nid: int, order: int, owner: int,
                        kind: int) -> tuple[Zone, int] | None:
    """alloc_migration_target(): a movable page on the allowed nodes, nearest to the source first."""
    zl = m.zonelist(src_nid, ZONE_MOVABLE, nodemask)
    return alloc_unit(m, zl, order, pa.GFP_HIGHUSER_MOVABLE, m.cpus[0], kind, owner)


def move_allocation(m: "Machine", owner: int, old_pfn: int, order: int, zone: Zone, new_pfn: int) -> None:
    """migrate_pages() bookkeeping: the owner's unit moves; the old pages are free (not yet in the buddy)."""
    pm = m.pagemap_of(old_pfn)
    i = old_pfn - pm.start_pfn
    kind = int(pm.kind[i])
    old_zone = m.block_of_pfn(old_pfn).zone
    if old_zone is not None:
        _account(m, old_zone, kind, order, -1)
    pm.kind[i:i + (1 << order)] = PageKind.FREE
    pm.order[i] = -1
    pm.owner[i:i + (1 << order)] = 0
    alloc = m.allocations.get(owner)
    if alloc is not None:
        alloc.units.pop(old_pfn, None)
        alloc.add(zone, new_pfn, order)
        zone.tainted = True


def isolate_block_free_pages(m: "Machine", zone: Zone, mem) -> int:
    """start_isolate_page_range() on a whole block: its free blocks leave the free lists (NR_FREE_PAGES drops)."""
    counted = pa.remove_free_range(m, zone, mem)
    zone.free_pages -= counted
    return counted


def unisolate_block_free_pages(m: "Machine", zone: Zone, mem) -> None:
    """undo_isolate_page_range(): every free page of the block returns, merged, to a free list's tail.

    Up to 6.16 the isolated pageblocks become MIGRATE_MOVABLE; from 6.17 (isolate_bit) each
    keeps its migratetype and its free pages go back to that list.
    """
    from .pagemap import MIGRATE_MOVABLE
    pm = m.pagemap_of(mem.start_pfn)
    if not m.kernel.isolate_bit:
        first = mem.start_pfn + mem.vmemmap_pages
        pm.set_pageblock_mt(first, mem.end_pfn - first, MIGRATE_MOVABLE)
    free = pm.kind == PageKind.FREE
    idx = np.nonzero(free)[0]
    i = 0
    max_order = zone.nr_orders - 1
    while i < len(idx):
        start = int(idx[i])
        # the largest aligned buddy block of free pages starting here
        order = 0
        while order < max_order:
            size = 2 << order
            pfn = pm.start_pfn + start
            if pfn % size or start + size > pm.nr_pages or not free[start:start + size].all():
                break
            order += 1
        pa.add_to_free_list(m, zone, pm.start_pfn + start, order, pm.pageblock_mt(pm.start_pfn + start), tail=True,
                            pm=pm)
        zone.free_pages += 1 << order
        i = int(np.searchsorted(idx, start + (1 << order)))


def owner_name(m: "Machine", owner: int) -> str:
    """Who owns an allocation (for hover text and dump_page)."""
    a = m.allocations.get(owner)
    return a.name if a is not None else ("kernel" if owner == 0 else f"owner {owner}")


__all__ += ["isolate_block_free_pages", "unisolate_block_free_pages", "owner_name", "ENOMEM"]
