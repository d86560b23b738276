"""Hot-add, online, offline and hot-remove of memory (mm/memory_hotplug.c).

Every function here is named after the kernel function it models and follows its order
of operations, including what happens on failure.  Where the model takes a shortcut to
the same end state (bulk free-list updates instead of page-by-page loops), the
docstring says so.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from . import page_alloc as pa
from .cmdline import MMOP_OFFLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE
from .errors import E2BIG, EBUSY, EEXIST, EINTR, EINVAL, KernelError
from .memory import MEM_OFFLINE, MemoryBlock, MemoryGroup
from .memremap import VmemAltmap
from .mmzone import ZONE_DEVICE, ZONE_MOVABLE, ZONE_NORMAL, Zone
from .pagemap import MIGRATE_ISOLATE, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, PageKind
from .resource import release_resource
from .trace import kernel_function

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine
    from .resource import Resource

__all__ = [
    "MHP_NONE", "MHP_MERGE_RESOURCE", "MHP_MEMMAP_ON_MEMORY", "MHP_NID_IS_MGID",
    "memory_block_memmap_size", "memory_block_memmap_on_memory_pages", "mhp_supports_memmap_on_memory",
    "memmap_on_memory_refusal", "check_hotplug_memory_range", "add_memory_resource", "add_memory",
    "register_memory_resource",
    "zone_for_pfn_range", "default_kernel_zone_for_pfn", "default_zone_for_pfn",
    "move_pfn_range_to_zone", "remove_pfn_range_from_zone", "adjust_present_page_count",
    "mhp_init_memmap_on_memory", "mhp_deinit_memmap_on_memory", "online_pages", "offline_pages",
    "memory_block_online", "memory_block_offline", "try_remove_memory", "scan_movable_pages",
    "add_memory_driver_managed", "remove_memory",
]

# memory_block_online()/memory_block_offline() live in drivers/base/memory.c (memory.py);
# they are re-exported at the end of this module for convenience.

# include/linux/memory_hotplug.h
MHP_NONE = 0
MHP_MERGE_RESOURCE = 1 << 0
MHP_MEMMAP_ON_MEMORY = 1 << 1
MHP_NID_IS_MGID = 1 << 2
MHP_OFFLINE_INACCESSIBLE = 1 << 3


# --------------------------------------------------------------------------------------------
# memmap_on_memory: how big, and is it allowed
# --------------------------------------------------------------------------------------------
def memory_block_memmap_size(m: "Machine", size: int | None = None) -> int:
    """memory_block_memmap_size(): bytes of struct pages for one memory block (or ``size`` bytes)."""
    size = m.block_size if size is None else size
    return m.arch.memmap_bytes(size >> m.arch.page_shift)


def memory_block_memmap_on_memory_pages(m: "Machine", size: int | None = None) -> int:
    """memory_block_memmap_on_memory_pages(): PFN_UP(memmap size), padded to pageblocks in force mode."""
    nr = -(-memory_block_memmap_size(m, size) // m.arch.page_size)
    if m.params.memmap_on_memory == "force":
        pb = m.arch.pageblock_nr_pages
        nr = -(-nr // pb) * pb
    return nr


def memmap_on_memory_refusal(m: "Machine", size: int | None = None) -> str | None:
    """Why mhp_supports_memmap_on_memory() says no for this kernel, or None if it says yes."""
    k, a = m.kernel, m.arch
    size = m.block_size if size is None else size
    if not k.memmap_on_memory:
        return "this kernel has no memmap_on_memory (before 5.13)"
    if m.params.memmap_on_memory == "N":
        return "memory_hotplug.memmap_on_memory is off"
    if not m.arch_mhp_memmap_enabled():
        return f"{a.name}: ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE is not set in {k.label}"
    if k.hvo_excludes_memmap_on_memory and m.hvo_enabled:
        return "HugeTLB vmemmap optimisation is enabled (5.14-5.19 exclude each other)"
    if not k.altmap_per_block:
        # 5.13 .. 6.7: size == memory_block_size_bytes(); then 5.13-6.5 PMD && pageblock
        # alignment, 6.6-6.7 the 6.6 conditions below
        vmemmap_size = a.memmap_bytes(size >> a.page_shift)
        remaining = size - vmemmap_size
        if size != m.block_size:
            return (f"the add spans {size // m.block_size if size >= m.block_size else 0} memory blocks; "
                    f"{k.label} supports exactly one block per add (size == memory_block_size_bytes())")
        if k.memmap_force_mode:
            return _refusal_6_6(m, size)
        if vmemmap_size % a.pmd_size:
            return (f"the memmap ({vmemmap_size} bytes) is not a multiple of PMD_SIZE ({a.pmd_size}): "
                    "IS_ALIGNED(vmemmap_size, PMD_SIZE)")
        if remaining % (a.pageblock_nr_pages << a.page_shift):
            return ("the memory left after the memmap is not a whole number of pageblocks: "
                    "IS_ALIGNED(remaining_size, pageblock_nr_pages << PAGE_SHIFT)")
        return None
    return _refusal_6_6(m, m.block_size)


def _refusal_6_6(m: "Machine", size: int) -> str | None:
    """The 6.6+ conditions of mhp_supports_memmap_on_memory()."""
    a = m.arch
    vmemmap_size = memory_block_memmap_size(m, size)
    memmap_pages = memory_block_memmap_on_memory_pages(m, size)
    if vmemmap_size % a.page_size:
        return "the memmap of a block is not a whole number of pages: IS_ALIGNED(vmemmap_size, PAGE_SIZE)"
    if memmap_pages % a.pageblock_nr_pages:
        return (f"the memmap ({memmap_pages} pages) is not a whole number of pageblocks "
                f"({a.pageblock_nr_pages} pages): pageblock_aligned(memmap_pages); "
                "memory_hotplug.memmap_on_memory=force pads it")
    if memmap_pages == size >> a.page_shift:
        return "the memmap would fill the whole block: \"No effective hotplugged memory doesn't make sense.\""
    return arch_supports_memmap_on_memory(m, vmemmap_size)


def arch_supports_memmap_on_memory(m: "Machine", vmemmap_size: int) -> str | None:
    """arch_supports_memmap_on_memory(): PMD alignment, except ppc64 radix (arch/powerpc/include/asm/pgtable.h)."""
    a = m.arch
    if a.name.startswith("ppc64"):
        if not a.radix:
            return "ppc64 without the radix MMU: arch_supports_memmap_on_memory() returns false"
        if a.page_shift != 12:
            return None     # "our vmemmap allocation code can fallback correctly"
    if vmemmap_size % a.pmd_size:
        return (f"the memmap ({vmemmap_size} bytes) is not a multiple of PMD_SIZE ({a.pmd_size}): "
                "arch_supports_memmap_on_memory()")
    return None


def mhp_supports_memmap_on_memory(m: "Machine", size: int | None = None) -> bool:
    """mhp_supports_memmap_on_memory(): may the memmap of ``size`` bytes of hot-added memory live on it?"""
    return memmap_on_memory_refusal(m, size) is None


# --------------------------------------------------------------------------------------------
# hot-add
# --------------------------------------------------------------------------------------------
@kernel_function("mm/memory_hotplug.c")
def check_hotplug_memory_range(m: "Machine", start: int, size: int) -> None:
    """check_hotplug_memory_range(): start and size must be non-zero multiples of the block size."""
    bs = m.block_size
    if not size or start % bs or size % bs or start + size <= start:
        msg = f"Block size [{bs:#x}] unaligned hotplug range: start {start:#x}, size {size:#x}"
        m.printk(msg, level="err")
        raise KernelError(EINVAL, msg, [msg], "check_hotplug_memory_range")


@kernel_function("mm/memory_hotplug.c")
def mhp_range_allowed(m: "Machine", start: int, size: int) -> None:
    """mhp_range_allowed() (5.11+): the range must lie in the pluggable range, below 2^MAX_PHYSMEM_BITS.

    The message prints the request with an exclusive end and the allowed range with an
    inclusive one.  On x86-64 the limit is KASLR's direct-map end, which is 2^46 (4-level
    paging) only with CONFIG_ZONE_DEVICE=y, as Debian builds it.
    """
    end = start + size
    max_addr = m.arch.max_phys_addr
    if not (start < end and end - 1 <= max_addr - 1):
        msg = (f"Hotplug memory [{start:#x}-{end:#x}] exceeds maximum addressable range "
               f"[{0:#x}-{max_addr - 1:#x}]")
        m.printk(msg, level="warn")
        raise KernelError(E2BIG, msg, [msg], "mhp_range_allowed")


@kernel_function("mm/memory_hotplug.c")
def register_memory_resource(m: "Machine", start: int, size: int, resource_name: str = "System RAM") -> "Resource":
    """register_memory_resource(): E2BIG outside the pluggable range, EEXIST if __request_region() fails."""
    if m.kernel.mhp_range_check:
        mhp_range_allowed(m, start, size)
    res = m.request_memory_region(start, size, resource_name)
    if res is None:
        msg = f"Unable to reserve System RAM region: {start:016x}->{start + size:016x}"
        printed = m.pr_debug("mm/memory_hotplug.c", msg)          # only with dynamic debug on
        raise KernelError(EEXIST, msg, [msg] if printed else [], "register_memory_resource")
    return res


@kernel_function("mm/memory_hotplug.c", "__add_memory")
def add_memory(m: "Machine", nid: int, start: int, size: int, mhp_flags: int,
               group: MemoryGroup | None = None, resource_name: str = "System RAM") -> list[MemoryBlock]:
    """__add_memory(): register the resource (E2BIG and EEXIST come first), then add_memory_resource()."""
    res = register_memory_resource(m, start, size, resource_name)
    try:
        return add_memory_resource(m, nid, start, size, mhp_flags, group)
    except KernelError:
        release_resource(res)                   # release_memory_resource()
        raise


@kernel_function("mm/memory_hotplug.c")
def add_memory_resource(m: "Machine", nid: int, start: int, size: int, mhp_flags: int,
                        group: MemoryGroup | None = None) -> list[MemoryBlock]:
    """add_memory_resource(): sections, memmap (maybe on the memory itself) and memory block devices.

    The resource is already registered (:func:`add_memory`, :func:`add_memory_driver_managed`):
    E2BIG and EEXIST came first.  Then, in the kernel's order: block alignment (EINVAL), the
    node (EINVAL), memmap_on_memory where an unsupported request fails (5.13-6.5, EINVAL).
    When arch_add_memory() fails part-way, the caller releases the resource but nothing takes
    back the sections added before the failing one (see Machine.add_sections); from 6.8,
    blocks that a multi-block add had already completed are removed again
    (create_altmaps_and_memory_blocks()).
    """
    check_hotplug_memory_range(m, start, size)
    if nid not in m.nodes:
        msg = f"node {nid} was absent from the node_possible_map"
        m.printk(msg, level="warn")                 # WARN(1, ...): the splat around it is not modelled
        raise KernelError(EINVAL, msg, [msg], "add_memory_resource")
    k = m.kernel
    use_altmap = False
    if mhp_flags & MHP_MEMMAP_ON_MEMORY:
        if mhp_supports_memmap_on_memory(m, size if not k.altmap_per_block else None):
            use_altmap = True
        elif k.unsupported_flag_fails:
            raise KernelError(EINVAL, memmap_on_memory_refusal(m, size) or "", function="add_memory_resource")
    blocks: list[MemoryBlock] = []
    bs = m.block_size
    if use_altmap and k.altmap_per_block:
        # create_altmaps_and_memory_blocks(): one altmap per block, at the start of that block
        for cur in range(start, start + size, bs):
            altmap = VmemAltmap(base_pfn=m.arch.pfn(cur), end_pfn=m.arch.pfn(cur + bs - 1),
                                free=memory_block_memmap_on_memory_pages(m),
                                inaccessible=bool(mhp_flags & MHP_OFFLINE_INACCESSIBLE))
            try:
                arch_add_memory(m, nid, cur, bs, altmap)
            except KernelError:
                remove_memory_blocks_and_altmaps(m, blocks)
                raise
            blocks += create_memory_block_devices(m, cur, bs, nid, altmap, 0, group)
    elif use_altmap and k.altmap_in_memory_block:
        # 6.6-6.7: one altmap for the (single-block) range, free = the block's memmap pages
        # (padded in force mode); the block keeps a heap copy (kmalloc + memcpy) as mem->altmap
        altmap = VmemAltmap(base_pfn=m.arch.pfn(start), end_pfn=m.arch.pfn(start + size - 1),
                            free=memory_block_memmap_on_memory_pages(m))
        arch_add_memory(m, nid, start, size, altmap)
        blocks += create_memory_block_devices(m, start, size, nid, altmap, 0, group)
    elif use_altmap:
        # 5.13..6.5: one altmap for the (single-block) range, on the stack, free = the whole
        # range; only what it handed out survives, as the block's nr_vmemmap_pages
        altmap = VmemAltmap(base_pfn=m.arch.pfn(start), free=size >> m.arch.page_shift)
        arch_add_memory(m, nid, start, size, altmap)
        blocks += create_memory_block_devices(m, start, size, nid, None, altmap.alloc, group)
    else:
        arch_add_memory(m, nid, start, size, None)
        blocks += create_memory_block_devices(m, start, size, nid, None, 0, group)
    if m.params.default_online_type != MMOP_OFFLINE:
        for b in blocks:
            online_memory_block(m, b)
    return blocks


@kernel_function("mm/memory_hotplug.c")
def add_memory_driver_managed(m: "Machine", nid: int, start: int, size: int, resource_name: str,
                              mhp_flags: int) -> list[MemoryBlock]:
    """add_memory_driver_managed(): memory a driver manages, named "System RAM ($DRIVER)" in /proc/iomem.

    With MHP_NID_IS_MGID, ``nid`` is the id of a registered memory group and the group's
    node is used.  The resource is IORESOURCE_SYSRAM_DRIVER_MANAGED, so a kexec'd kernel
    does not take it as RAM.
    """
    if not resource_name.startswith("System RAM (") or not resource_name.endswith(")"):
        raise KernelError(EINVAL, f"resource name {resource_name!r} is not 'System RAM ($DRIVER)'",
                          function="add_memory_driver_managed")
    group = None
    if mhp_flags & MHP_NID_IS_MGID:
        group = next((g for g in m.memory_groups if g.id == nid), None)
        if group is None:
            raise KernelError(EINVAL, f"no memory group {nid}", function="add_memory_resource")
        nid = group.nid
    res = register_memory_resource(m, start, size, resource_name)
    try:
        return add_memory_resource(m, nid, start, size, mhp_flags, group)
    except KernelError:
        release_resource(res)
        raise


@kernel_function("mm/memory_hotplug.c")
def remove_memory(m: "Machine", start: int, size: int) -> None:
    """remove_memory(): try_remove_memory() under the device hotplug lock (EBUSY while a block is online)."""
    try_remove_memory(m, start, size)


@kernel_function("arch/x86/mm/init_64.c")
def arch_add_memory(m: "Machine", nid: int, start: int, size: int, altmap: VmemAltmap | None) -> None:
    """arch_add_memory() -> add_pages() -> __add_pages(): sparse_add_section() for each section, memmap included.

    x86's add_pages() raises max_pfn (update_end_of_memory_vars()) whatever __add_pages()
    returned; the WARN_ON_ONCE() splat it prints on failure is not modelled.  Other
    architectures raise it only on success.
    """
    pfn, nr = m.arch.pfn(start), size >> m.arch.page_shift
    try:
        if altmap is not None and (altmap.base_pfn != pfn or altmap.offset() > nr):
            printed = m.printk_once("__add_pages invalid altmap", "memory add fail, invalid altmap", level="warn")
            raise KernelError(EINVAL, "memory add fail, invalid altmap", ["memory add fail, invalid altmap"]
                              if printed else [], function="__add_pages")
        if altmap is not None:
            altmap.alloc = 0
        m.add_sections(nid, pfn, nr, altmap)
    except KernelError:
        if m.arch.name.startswith("x86_64"):
            m.raise_max_pfn(pfn + nr)
        raise
    m.raise_max_pfn(pfn + nr)


def remove_memory_blocks_and_altmaps(m: "Machine", blocks: list[MemoryBlock]) -> None:
    """remove_memory_blocks_and_altmaps() (6.8+): each block's device, then its sections, then its altmap."""
    for b in blocks:
        m.unregister_block(b)                      # remove_memory_block_devices()
        start = b.start_pfn << m.arch.page_shift
        m.remove_sections(start, b.nr_pages << m.arch.page_shift)      # arch_remove_memory()
        if b.altmap is not None:
            b.altmap.free_pages(b.altmap.alloc)
            if b.altmap.alloc:
                m.printk("Altmap not fully unmapped", level="warn")


@kernel_function("drivers/base/memory.c")
def create_memory_block_devices(m: "Machine", start: int, size: int, nid: int, altmap: VmemAltmap | None,
                                nr_vmemmap_pages: int, group: MemoryGroup | None) -> list[MemoryBlock]:
    """create_memory_block_devices(): one offline ``memoryN`` per block of the range."""
    out = []
    ppb = m.block_size >> m.arch.page_shift
    for addr in range(start, start + size, m.block_size):
        bid = addr // m.block_size
        b = MemoryBlock(id=bid, start_pfn=bid * ppb, nr_pages=ppb, nid=nid,
                        nr_vmemmap_pages=nr_vmemmap_pages, altmap=altmap, group=group)
        m.register_block(b)
        out.append(b)
    return out


@kernel_function("drivers/base/memory.c")
def online_memory_block(m: "Machine", mem: MemoryBlock) -> None:
    """online_memory_block(): auto-online with the default online type (memhp_default_state)."""
    from .memory import device_online
    mem.online_type = m.params.default_online_type
    device_online(m, mem)


# --------------------------------------------------------------------------------------------
# zones
# --------------------------------------------------------------------------------------------
def default_kernel_zone_for_pfn(m: "Machine", nid: int, start_pfn: int, nr_pages: int) -> Zone:
    """default_kernel_zone_for_pfn(): the first kernel zone the range intersects, else ZONE_NORMAL."""
    node = m.nodes[nid]
    for zid in range(ZONE_NORMAL):
        if node.zones[zid].intersects(start_pfn, nr_pages):
            return node.zones[zid]
    return node.zones[ZONE_NORMAL]


def default_zone_for_pfn(m: "Machine", nid: int, start_pfn: int, nr_pages: int) -> Zone:
    """default_zone_for_pfn(): the zone the range already touches; if none or both, movable_node decides."""
    kernel_zone = default_kernel_zone_for_pfn(m, nid, start_pfn, nr_pages)
    movable = m.nodes[nid].zones[ZONE_MOVABLE]
    in_kernel = kernel_zone.intersects(start_pfn, nr_pages)
    in_movable = movable.intersects(start_pfn, nr_pages)
    if in_kernel and not in_movable:
        return kernel_zone
    if in_movable and not in_kernel:
        return movable
    return movable if m.params.movable_node else kernel_zone


def auto_movable_can_online_movable(m: "Machine", nid: int | None, nr_pages: int) -> bool:
    """auto_movable_can_online_movable(): would MOVABLE stay within auto_movable_ratio of early kernel memory?"""
    kernel_early = movable = 0
    nodes = m.nodes.values() if nid is None else [m.nodes[nid]]
    for node in nodes:
        for z in node.zones:
            if not z.populated():
                continue
            if z.idx == ZONE_MOVABLE:
                movable += z.present_pages
            else:
                kernel_early += z.present_early_pages
    movable += nr_pages
    return movable <= m.params.auto_movable_ratio * kernel_early // 100


def auto_movable_zone_for_pfn(m: "Machine", nid: int, group: MemoryGroup | None, pfn: int, nr_pages: int) -> Zone:
    """auto_movable_zone_for_pfn(): MOVABLE while the ratio allows and the group has no kernel memory."""
    if not m.params.auto_movable_ratio:
        return default_kernel_zone_for_pfn(m, nid, pfn, nr_pages)
    online = 0
    if group is not None and not group.is_dynamic:
        max_pages = group.max_pages
        online = group.present_movable_pages
        if group.present_kernel_pages:
            return default_kernel_zone_for_pfn(m, nid, pfn, nr_pages)
    else:
        max_pages = nr_pages
    need = max_pages - online
    if not auto_movable_can_online_movable(m, None, need):
        return default_kernel_zone_for_pfn(m, nid, pfn, nr_pages)
    if m.params.auto_movable_numa_aware and not auto_movable_can_online_movable(m, nid, need):
        return default_kernel_zone_for_pfn(m, nid, pfn, nr_pages)
    return m.nodes[nid].zones[ZONE_MOVABLE]


def zone_for_pfn_range(m: "Machine", online_type: int, nid: int, group: MemoryGroup | None,
                       start_pfn: int, nr_pages: int) -> Zone:
    """zone_for_pfn_range(): which zone ``online``/``online_kernel``/``online_movable`` would use."""
    if online_type == MMOP_ONLINE_KERNEL:
        return default_kernel_zone_for_pfn(m, nid, start_pfn, nr_pages)
    if online_type == MMOP_ONLINE_MOVABLE:
        return m.nodes[nid].zones[ZONE_MOVABLE]
    if m.params.online_policy == "auto-movable" and m.kernel.memory_groups:
        return auto_movable_zone_for_pfn(m, nid, group, start_pfn, nr_pages)
    return default_zone_for_pfn(m, nid, start_pfn, nr_pages)


@kernel_function("mm/memory_hotplug.c")
def move_pfn_range_to_zone(m: "Machine", zone: Zone, start_pfn: int, nr_pages: int, migratetype: int) -> None:
    """move_pfn_range_to_zone(): grow the zone and node spans; the memmap gets the zone (memmap_init_range())."""
    if zone.is_empty():
        zone.zone_start_pfn = start_pfn           # init_currently_empty_zone()
    old_end = zone.zone_end_pfn
    if zone.is_empty() or start_pfn < zone.zone_start_pfn:
        zone.zone_start_pfn = start_pfn
    zone.spanned_pages = max(start_pfn + nr_pages, old_end) - zone.zone_start_pfn
    node = m.nodes[zone.nid]
    old_end = node.node_end_pfn
    if not node.node_spanned_pages or start_pfn < node.node_start_pfn:
        node.node_start_pfn = start_pfn
    node.node_spanned_pages = max(start_pfn + nr_pages, old_end) - node.node_start_pfn


def _find_online_pfn(m: "Machine", zone: Zone, start_pfn: int, end_pfn: int, smallest: bool) -> int:
    """find_smallest_section_pfn()/find_biggest_section_pfn(): an online pfn of ``zone`` in the range, or 0."""
    ppb = m.block_size >> m.arch.page_shift
    ids = range(start_pfn // ppb, (end_pfn - 1) // ppb + 1)
    for bid in (ids if smallest else reversed(ids)):
        b = m.blocks.get(bid)
        if b is None or b.zone is not zone or b.nid != zone.nid:
            continue
        lo, hi = max(b.start_pfn, start_pfn), min(b.end_pfn, end_pfn)
        if lo >= hi or not m.section_online(lo):
            continue
        return lo if smallest else hi - 1
    # boot memory that belongs to the zone (no memory_block->zone tracking needed)
    for lo, hi in m.boot_zone_ranges(zone):
        lo, hi = max(lo, start_pfn), min(hi, end_pfn)
        if lo < hi:
            return lo if smallest else hi - 1
    return 0


@kernel_function("mm/memory_hotplug.c")
def remove_pfn_range_from_zone(m: "Machine", zone: Zone, start_pfn: int, nr_pages: int) -> None:
    """remove_pfn_range_from_zone(): shrink_zone_span() and update_pgdat_span(); ZONE_DEVICE never shrinks.

    "Zone shrinking code cannot properly deal with ZONE_DEVICE. So we will not try to
    shrink the zones" (mm/memory_hotplug.c): a Device zone keeps its span after the
    device memory is gone.
    """
    if zone.idx == ZONE_DEVICE:
        return
    end_pfn = start_pfn + nr_pages
    if zone.zone_start_pfn == start_pfn:
        pfn = _find_online_pfn(m, zone, end_pfn, zone.zone_end_pfn, True)
        if pfn:
            zone.spanned_pages = zone.zone_end_pfn - pfn
            zone.zone_start_pfn = pfn
        else:
            zone.zone_start_pfn, zone.spanned_pages = 0, 0
    elif zone.zone_end_pfn == end_pfn:
        pfn = _find_online_pfn(m, zone, zone.zone_start_pfn, start_pfn, False)
        if pfn:
            zone.spanned_pages = pfn - zone.zone_start_pfn + 1
        else:
            zone.zone_start_pfn, zone.spanned_pages = 0, 0
    update_pgdat_span(m, m.nodes[zone.nid])


def update_pgdat_span(m: "Machine", node) -> None:
    """update_pgdat_span(): the node spans its zones."""
    lo, hi = None, 0
    for z in node.zones:
        if not z.spanned_pages:
            continue
        lo = z.zone_start_pfn if lo is None else min(lo, z.zone_start_pfn)
        hi = max(hi, z.zone_end_pfn)
    node.node_start_pfn = lo or 0
    node.node_spanned_pages = hi - (lo or 0) if lo is not None else 0


@kernel_function("mm/memory_hotplug.c")
def adjust_present_page_count(m: "Machine", zone: Zone, group: MemoryGroup | None, nr_pages: int) -> None:
    """adjust_present_page_count(): zone, node and memory group present counts (vmemmap pages included)."""
    zone.present_pages += nr_pages
    m.nodes[zone.nid].node_present_pages += nr_pages
    if group is not None:
        if zone.idx == ZONE_MOVABLE:
            group.present_movable_pages += nr_pages
        else:
            group.present_kernel_pages += nr_pages


@kernel_function("mm/memory_hotplug.c")
def mhp_init_memmap_on_memory(m: "Machine", mem: MemoryBlock, zone: Zone) -> None:
    """mhp_init_memmap_on_memory(): the vmemmap pages join the zone as unmovable, never the buddy.

    6.0+ marks them PageVmemmapSelfHosted; up to 6.10 they are also PageReserved, from
    6.11 on they are initialised PageOffline and then cleared (neither Reserved nor Offline).
    """
    V = mem.vmemmap_pages
    move_pfn_range_to_zone(m, zone, mem.start_pfn, V, MIGRATE_UNMOVABLE)
    if V >= m.arch.pages_per_section:
        m.set_sections_online(mem.start_pfn, V - V % m.arch.pages_per_section, True)


@kernel_function("mm/memory_hotplug.c")
def mhp_deinit_memmap_on_memory(m: "Machine", mem: MemoryBlock, zone: Zone) -> None:
    """mhp_deinit_memmap_on_memory(): undo the zone association of the vmemmap pages (they stay mapped)."""
    V = mem.vmemmap_pages
    if V >= m.arch.pages_per_section:
        m.set_sections_online(mem.start_pfn, V - V % m.arch.pages_per_section, False)
    remove_pfn_range_from_zone(m, zone, mem.start_pfn, V)


@kernel_function("mm/memory_hotplug.c")
def online_pages(m: "Machine", mem: MemoryBlock, pfn: int, nr_pages: int, zone: Zone) -> None:
    """online_pages(): the buddy part of a block enters the zone and its pages reach the free lists.

    The model applies the net effect of online_pages_range() + undo_isolate_page_range():
    every freed block lands at the tail of the MIGRATE_MOVABLE lists in pfn order.
    """
    a = m.arch
    if not nr_pages or pfn % a.pageblock_nr_pages or (pfn + nr_pages) % a.pages_per_section:
        raise KernelError(EINVAL, "WARN_ON_ONCE: misaligned range", function="online_pages")
    node = m.nodes[zone.nid]
    had_normal, had_memory = node.has_normal_memory(), node.has_memory()
    if m.kernel.node_notify and not had_memory:
        m.trace.record("node_notify", "drivers/base/node.c", "NODE_ADDING_FIRST_MEMORY")
    move_pfn_range_to_zone(m, zone, pfn, nr_pages, MIGRATE_ISOLATE)
    m.memory_notify("MEM_GOING_ONLINE", mem, pfn, nr_pages)
    zone.nr_isolate_pageblock += nr_pages // a.pageblock_nr_pages
    need_zonelists_rebuild = not zone.populated()
    m.trace.record("online_pages_range", "mm/memory_hotplug.c")
    layout = pa.online_layout(pfn, pfn + nr_pages, a.max_page_order)
    mem.online_chunks = layout
    zone.managed_pages += nr_pages          # generic_online_page() -> __free_pages_core()
    m.totalram_pages += nr_pages
    m.set_sections_online(pfn - pfn % a.pages_per_section, pfn + nr_pages - (pfn - pfn % a.pages_per_section), True)
    adjust_present_page_count(m, zone, mem.group, nr_pages)
    if need_zonelists_rebuild:
        m.build_all_zonelists()
    m.trace.record("undo_isolate_page_range", "mm/page_isolation.c")
    added = pa.append_free_range(m, zone, mem, layout, MIGRATE_MOVABLE)
    zone.free_pages += added
    zone.nr_isolate_pageblock -= nr_pages // a.pageblock_nr_pages
    m.init_per_zone_wmark_min()
    if not node.kthreads_started:
        node.kthreads_started = True        # kswapd_run(), kcompactd_run()
    m.memory_notify("MEM_ONLINE", mem, pfn, nr_pages)
    if m.kernel.node_notify and not had_memory:
        m.trace.record("node_notify", "drivers/base/node.c", "NODE_ADDED_FIRST_MEMORY")
    if node.has_memory() and not had_memory:
        m.memory_tiers.memtier_hotplug_callback("MEM_ONLINE", zone.nid)      # status_change_nid
    if node.has_normal_memory() and not had_normal:
        m.node_gets_kernel_memory(node)


# --------------------------------------------------------------------------------------------
# offline
# --------------------------------------------------------------------------------------------
def _first_unmovable(m: "Machine", mem: MemoryBlock, zone: Zone, start_pfn: int, end_pfn: int) -> int | None:
    """start_isolate_page_range() order: first pageblock, last pageblock, then the rest; has_unmovable_pages()."""
    pm = mem.pagemap
    if pm is None:
        return None                      # a pristine block holds only free pages and its memmap
    a = m.arch
    pb = a.pageblock_nr_pages
    kinds = pm.kind[start_pfn - pm.start_pfn:end_pfn - pm.start_pfn]
    if zone.idx == ZONE_MOVABLE:
        bad = kinds == PageKind.RESERVED            # only PageReserved blocks ZONE_MOVABLE
    else:
        bad = np.isin(kinds, PageKind.UNMOVABLE)
    if not bad.any():
        return None
    if m.kernel.slab_mapping_aliases_movable:
        # 6.2-6.16: a slab whose struct slab makes page->mapping look like PAGE_MAPPING_MOVABLE
        # passes has_unmovable_pages() (workbook.slub)
        from .slub import slab_heads, slab_looks_movable
        for head in slab_heads(m, start_pfn, end_pfn):
            if slab_looks_movable(m, head):
                i = head - start_pfn
                n = 1 << max(int(pm.order[head - pm.start_pfn]), 0)
                bad[i:i + n] = False
        if not bad.any():
            return None
    nblocks = (end_pfn - start_pfn + pb - 1) // pb
    if m.kernel.isolate_ends_first and nblocks > 1:
        order = [0, nblocks - 1] + list(range(1, nblocks - 1))
    else:
        order = list(range(nblocks))
    per_block = bad[: nblocks * pb].reshape(nblocks, pb) if len(bad) == nblocks * pb else None
    for i in order:
        seg = per_block[i] if per_block is not None else bad[i * pb:(i + 1) * pb]
        if seg.any():
            return start_pfn + i * pb + int(np.argmax(seg))
    return None


def _pages_in_use(m: "Machine", mem: MemoryBlock, start_pfn: int, end_pfn: int) -> bool:
    """test_pages_isolated() fails: a page of the range is neither free nor the block's own memmap."""
    pm = mem.pagemap
    if pm is None:
        return False
    kinds = pm.kind[start_pfn - pm.start_pfn:end_pfn - pm.start_pfn]
    return bool((~np.isin(kinds, (PageKind.FREE, PageKind.PCP, PageKind.SELFHOSTED))).any())


@kernel_function("mm/memory_hotplug.c")
def scan_movable_pages(m: "Machine", mem: MemoryBlock, start_pfn: int, end_pfn: int) -> list[tuple[int, int, int]]:
    """scan_movable_pages(): the movable (LRU) allocations in the range, as (pfn, order, owner)."""
    pm = mem.pagemap
    if pm is None:
        return []
    lo, hi = start_pfn - pm.start_pfn, end_pfn - pm.start_pfn
    kinds = pm.kind[lo:hi]
    heads = np.nonzero((kinds == PageKind.ANON) | (kinds == PageKind.THP_HEAD))[0] + lo
    return [(pm.start_pfn + int(i), max(int(pm.order[i]), 0), int(pm.owner[i])) for i in heads]


@kernel_function("mm/memory_hotplug.c")
def do_migrate_range(m: "Machine", mem: MemoryBlock, units: list[tuple[int, int, int]]) -> bool:
    """do_migrate_range(): move each movable allocation to another node with memory (same node if none).

    A THP that finds no huge page on the target is split and moved as base pages
    (thp_migration_split); it stays split even if none of them finds room.  Returns False
    at the first page that finds no target page: the kernel then retries until the writer
    gets a signal, and every retry stops at the same page while nothing frees memory.
    """
    from .workload import alloc_for_migration, move_allocation
    others = [n.nid for n in m.nodes.values() if n.nid != mem.nid and n.has_memory()]
    nodemask = others or [mem.nid]
    pm = mem.pagemap
    for pfn, order, owner in units:
        kind = int(pm.kind[pfn - pm.start_pfn])
        got = alloc_for_migration(m, nodemask, mem.nid, order, owner, kind)
        if got is not None:
            move_allocation(m, owner, pfn, order, got[0], got[1])
            continue
        if not order:
            return False
        # no huge page on the target: migrate_pages_batch() splits the THP (try_split_folio())
        # and moves its base pages until one finds no room; a split THP stays split
        pm.kind[pfn - pm.start_pfn:pfn - pm.start_pfn + (1 << order)] = PageKind.ANON
        pm.order[pfn - pm.start_pfn] = 0
        m.nodes[mem.nid].stats["nr_anon_transparent_hugepages"] -= 1
        alloc = m.allocations.get(owner)
        if alloc is not None:
            z, p, o = alloc.units.pop(pfn)
            for q in range(pfn, pfn + (1 << order)):
                alloc.add(z, q, 0)
        for sub in range(pfn, pfn + (1 << order)):
            got = alloc_for_migration(m, nodemask, mem.nid, 0, owner, PageKind.ANON)
            if got is None:
                return False
            move_allocation(m, owner, sub, 0, got[0], got[1])
    return True


@kernel_function("mm/memory_hotplug.c")
def offline_pages(m: "Machine", mem: MemoryBlock, start_pfn: int, nr_pages: int, zone: Zone) -> None:
    """offline_pages(): isolate, migrate what is movable, take the free pages out of the buddy.

    Raises EBUSY ("failure to isolate range") when a pageblock holds an unmovable page,
    as has_unmovable_pages() decides, and EINTR when migration cannot find room (the kernel
    retries until the writer is interrupted).  Like the kernel, a failed offline has already
    drained the per-cpu lists of the zone.
    """
    a = m.arch
    end_pfn = start_pfn + nr_pages
    if not nr_pages or start_pfn % a.pageblock_nr_pages or end_pfn % a.pages_per_section:
        raise KernelError(EINVAL, "WARN_ON_ONCE: misaligned range", function="offline_pages")
    reason = None
    if mem.boot:
        # The model keeps boot memory as counts: it cannot prove a boot block free of kernel
        # allocations, and the kernel almost never can either.
        reason, err = "failure to isolate range", EBUSY
        bad = None
    else:
        m.trace.record("zone_pcp_disable", "mm/page_alloc.c")
        pa.drain_zone_pages(m, zone)
        m.trace.record("start_isolate_page_range", "mm/page_isolation.c")
        bad = _first_unmovable(m, mem, zone, start_pfn, end_pfn)
        if bad is not None:
            m.dump_page(bad, "unmovable page")
            m.undo_failed_isolation(mem, zone, start_pfn, end_pfn, bad)
            reason, err = "failure to isolate range", EBUSY
    if reason is None:
        from .workload import isolate_block_free_pages, unisolate_block_free_pages
        m.memory_notify("MEM_GOING_OFFLINE", mem, start_pfn, nr_pages)
        node = m.nodes[zone.nid]
        if not m.kernel.node_notify or node.node_present_pages <= nr_pages:
            # SLUB's callback: every MEM_GOING_OFFLINE up to 6.16, NODE_REMOVING_LAST_MEMORY after
            from .slub import slab_memory_going_offline
            slab_memory_going_offline(m)
        units = scan_movable_pages(m, mem, start_pfn, end_pfn)
        isolated = bool(units)
        if units:
            isolate_block_free_pages(m, zone, mem)
            if not do_migrate_range(m, mem, units):
                reason, err = "signal backoff", EINTR
        if reason is None and _pages_in_use(m, mem, start_pfn, end_pfn):
            # test_pages_isolated() fails while nothing is left to migrate (a slab page that
            # passed isolation): offline_pages() retries until the writer gets a signal
            if not isolated:
                isolate_block_free_pages(m, zone, mem)
                isolated = True
            reason, err = "signal backoff", EINTR
        if reason is not None and isolated:
            unisolate_block_free_pages(m, zone, mem)
    if reason is not None:
        msg = (f"memory offlining [mem {start_pfn << a.page_shift:#010x}-"
               f"{(end_pfn << a.page_shift) - 1:#010x}] failed due to {reason}")
        m.pr_debug("mm/memory_hotplug.c", msg)
        e = KernelError(err, msg, [msg], "offline_pages")
        # EINTR: the kernel does not return by itself; the model stops where a signal would
        e.until_signal = err == EINTR
        raise e
    # __offline_isolated_pages(): sections offline, free pages out of the buddy
    m.trace.record("__offline_isolated_pages", "mm/memory_hotplug.c")
    counted = pa.remove_free_range(m, zone, mem)
    zone.free_pages -= counted
    m.set_sections_online(start_pfn - start_pfn % a.pages_per_section,
                          end_pfn - (start_pfn - start_pfn % a.pages_per_section), False)
    if m.kernel.offlined_pages_info:
        m.printk(f"Offlined Pages {nr_pages}")            # pr_info up to 5.11
    else:
        m.pr_debug("mm/memory_hotplug.c", f"Offlined Pages {nr_pages}")
    zone.managed_pages -= nr_pages
    m.totalram_pages -= nr_pages
    node = m.nodes[zone.nid]
    had_memory = node.has_memory()
    adjust_present_page_count(m, zone, mem.group, -nr_pages)
    m.init_per_zone_wmark_min()
    if not zone.populated():
        zone.pcp.clear()                   # zone_pcp_reset()
        zone.tainted = False
        m.build_all_zonelists()
    if had_memory and not node.has_memory():
        node.kthreads_started = False      # kcompactd_stop(), kswapd_stop()
    m.memory_notify("MEM_OFFLINE", mem, start_pfn, nr_pages)
    if m.kernel.node_notify and had_memory and not node.has_memory():
        m.trace.record("node_notify", "drivers/base/node.c", "NODE_REMOVED_LAST_MEMORY")
    if had_memory and not node.has_memory():
        m.memory_tiers.memtier_hotplug_callback("MEM_OFFLINE", zone.nid)     # status_change_nid
    remove_pfn_range_from_zone(m, zone, start_pfn, nr_pages)
    mem.pagemap = None
    mem.online_chunks = ([], 0, 0, [])


# --------------------------------------------------------------------------------------------
# hot-remove
# --------------------------------------------------------------------------------------------
@kernel_function("mm/memory_hotplug.c")
def try_remove_memory(m: "Machine", start: int, size: int) -> None:
    """try_remove_memory(): every block offline; self-hosted memmaps leave only with their own block."""
    check_hotplug_memory_range(m, start, size)
    blocks = m.blocks_in_range(start, size)
    nid = None
    for b in blocks:
        if b.state != MEM_OFFLINE:
            s, e = b.start_pfn << m.arch.page_shift, (b.end_pfn << m.arch.page_shift) - 1
            msg = f"removing memory fails, because memory [{s:#018x}-{e:#018x}] is onlined"
            m.printk(msg, level="warn")
            raise KernelError(EBUSY, msg, [msg], "check_memblock_offlined_cb")
        nid = b.nid
    k = m.kernel
    with_altmap = [b for b in blocks if b.vmemmap_pages]
    if m.params.memmap_on_memory != "N" and with_altmap:
        if not k.altmap_per_block:
            # 5.13-6.5 rebuild an altmap from nr_vmemmap_pages, 6.6-6.7 take mem->altmap (still
            # "in the same granularity it was added - a single memory block")
            if size != m.block_size:
                msg = f"Refuse to remove {start:#x} - {start + size:#x},wrong granularity"
                m.printk(msg, level="warn")
                raise KernelError(EINVAL, msg, [msg], "try_remove_memory")
        elif len(with_altmap) != len(blocks):
            # WARN_ON_ONCE(num_memblocks != num_altmaps): a splat with no message (not modelled)
            raise KernelError(EINVAL, "some blocks of the range have an altmap, others do not",
                              function="memory_blocks_have_altmaps")
    m.release_mem_region_adjustable(start, size)
    for b in blocks:
        m.unregister_block(b)              # remove_memory_block_devices()
    m.trace.record("arch_remove_memory", "arch/x86/mm/init_64.c")
    for b in blocks:
        if b.altmap is not None:
            # 6.6+: the block's own altmap (6.8+: block by block, remove_memory_blocks_and_altmaps())
            b.altmap.free_pages(b.altmap.alloc)      # vmem_altmap_free() per PMD: alloc back to 0
            if b.altmap.alloc:
                m.printk("Altmap not fully unmapped", level="warn")
    m.remove_sections(start, size)
    if nid is not None:
        m.try_offline_node(nid)


from .memory import memory_block_offline, memory_block_online  # noqa: E402  (drivers/base/memory.c)
