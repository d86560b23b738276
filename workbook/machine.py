"""A simulated machine running a simulated kernel: boot, sections, memory blocks, logs.

``Machine`` is what a learner drives.  It owns the model's state and the kernel-shaped
interface (``read``/``write`` of sysfs and procfs paths, ``dimm_add``/``dimm_del`` as QEMU
does them); the mechanisms live in the modules named after kernel files.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

import numpy as np

from . import page_alloc as pa
from .arch import GiB, MiB, ArchProfile, get_arch
from .cmdline import HotplugParams, parse_cmdline
from .errors import EEXIST, ENOMEM, KernelError
from .kernel import KernelProfile, get_kernel
from .memory import MEM_ONLINE, MemoryBlock
from .memremap import VmemAltmap
from .mmzone import ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NAMES, ZONE_NORMAL, Node, Zone
from .pagemap import PageKind, PageMap
from .qemu import Dimm, PcMemoryLayout, pc_memory_layout
from .trace import CallTrace

if TYPE_CHECKING:  # pragma: no cover
    from . import walkers

__all__ = ["Machine", "NodeSpec"]


def _default_online_type(config: dict[str, str]) -> int | None:
    """The build's default for memhp_default_state (CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE, CONFIG_MHP_DEFAULT_ONLINE_TYPE_*)."""
    from .cmdline import MMOP_OFFLINE, MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE
    if config.get("CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE") == "y":
        return MMOP_ONLINE
    for key, t in (("CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO", MMOP_ONLINE),
                   ("CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_KERNEL", MMOP_ONLINE_KERNEL),
                   ("CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE", MMOP_ONLINE_MOVABLE),
                   ("CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE", MMOP_OFFLINE)):
        if config.get(key) == "y":
            return t
    if config.get("CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE") == "n":
        return MMOP_OFFLINE
    return None

# SPARSEMEM_EXTREME: mem_section[root][nr]; SECTIONS_PER_ROOT = PAGE_SIZE / sizeof(struct mem_section)
SECTIONS_PER_ROOT = 256
SECTION_MARKED_PRESENT = 1 << 0
SECTION_HAS_MEM_MAP = 1 << 1
SECTION_IS_ONLINE = 1 << 2
SECTION_IS_EARLY = 1 << 3

# Boot-time memory the model does not derive page by page (node 0's exact totals are out of
# scope): the kernel image and early allocations, the swiotlb bounce buffer, and what the
# booted system has allocated by the time user space runs.
BOOT_KERNEL_RESERVED = 48 * MiB
BOOT_SWIOTLB = 64 * MiB
BOOT_IN_USE = 40 * MiB


@dataclass
class NodeSpec:
    """A NUMA node of the machine: id, CPUs and boot memory (QEMU ``-numa node``)."""

    id: int
    cpus: list[int]
    boot_memory_bytes: int = 0


class Machine:
    """A machine with NUMA nodes, boot memory, hot-pluggable DIMM slots and a kernel of one version."""

    def __init__(self, kernel: str | KernelProfile = "6.12", arch: str | ArchProfile = "x86_64",
                 nodes: list[NodeSpec] | None = None, cmdline: str = "",
                 ram_bytes: int | None = None, maxmem_bytes: int | None = None, slots: int = 8,
                 block_size: int | None = None, bare_metal: bool = False,
                 hotplug_node: int | None = None, config: dict[str, str] | None = None) -> None:
        self.kernel = get_kernel(kernel)
        self.arch = get_arch(arch)
        if nodes is None:
            nodes = [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)]
        self.node_specs = nodes
        self.cmdline = cmdline
        self.config = dict(config or {})
        self.params: HotplugParams = parse_cmdline(cmdline, self.kernel, _default_online_type(self.config))
        self.dyndbg_files = set(re.findall(r"file\s+(\S+)\s+\+p", cmdline))
        self.cpus = sorted(c for n in nodes for c in n.cpus) or [0]
        self.trace = CallTrace()
        self.dmesg_lines: list[str] = []
        self._printed_once: set[str] = set()
        self.clock = 0.0
        self.hvo_enabled = False
        ram = ram_bytes if ram_bytes is not None else sum(n.boot_memory_bytes for n in nodes)
        self.maxmem_bytes = maxmem_bytes if maxmem_bytes is not None else ram + 32 * GiB
        self.layout: PcMemoryLayout = pc_memory_layout(
            ram, self.maxmem_bytes, slots,
            {n.id: n.boot_memory_bytes for n in nodes}, hotplug_node)
        self.slots = slots
        self.dimms: dict[str, Dimm] = {}
        self.nodes: dict[int, Node] = {n.id: Node(n.id, n.cpus, self.arch.nr_page_orders) for n in nodes}
        for n in nodes:
            self.nodes[n.id].boot_memory_bytes = n.boot_memory_bytes
        self.blocks: dict[int, MemoryBlock] = {}
        self._sections: dict[int, np.ndarray] = {}      # root -> flags
        self._sections_end = 0                           # no section was ever marked at or above this pfn
        self._section_nid: dict[int, np.ndarray] = {}
        self.resources: list[tuple[int, int, str]] = []   # hot-added System RAM (start, end incl.)
        self.totalram_pages = 0
        self.min_free_kbytes = 0
        self.nr_memmap_pages = 0
        self.nr_memmap_boot_pages = 0
        self.max_pfn = 0
        self.allocations: dict[int, "object"] = {}      # owner id -> workload.Allocation
        self._memmap_allocs_for: dict[tuple[int, int], list] = {}   # memmap taken from node memory
        self._next_owner = 1
        self.node_distance = {(a, b): 10 if a == b else 20 for a in self.nodes for b in self.nodes}
        self.bare_metal = bare_metal
        for line in self.params.log:                    # start_kernel(): parse_args("Booting kernel", ...)
            self.printk(line, level="err")
        self._boot(block_size)

    # ------------------------------------------------------------------------------------------
    # boot
    # ------------------------------------------------------------------------------------------
    def _boot(self, block_size: int | None) -> None:
        """setup_arch() .. memory_dev_init(): memblock from e820, zones, sections, boot memory blocks."""
        a = self.arch
        ps = a.page_size
        usable = []
        for s, e in self.layout.usable_ranges():
            s = max(s, ps)                         # x86 trims the first page
            s, e = -(-s // ps) * ps, e // ps * ps
            if e > s:
                usable.append((s, e))
        self.boot_ranges = usable
        boot_end = max((e for _, e in usable), default=0)
        self.max_pfn = boot_end >> a.page_shift
        self.block_size = block_size or self.probe_memory_block_size(boot_end)
        if self.arch.name.startswith("x86_64"):
            self.printk(f"x86/mm: Memory block size: {self.block_size >> 20}MB")
        # zones per node from the node ranges (free_area_init())
        limits = [(ZONE_DMA, 0, 16 * MiB), (ZONE_DMA32, 16 * MiB, 4 * GiB), (ZONE_NORMAL, 4 * GiB, 1 << 60)]
        self._boot_zone_ranges: dict[tuple[int, int], list[tuple[int, int]]] = {}
        for nid, ranges in self.layout.node_ranges.items():
            node = self.nodes[nid]
            pieces = []
            for rs, re_ in ranges:
                for s, e in usable:
                    lo, hi = max(rs, s), min(re_, e)
                    if hi > lo:
                        pieces.append((lo >> a.page_shift, hi >> a.page_shift))
            if not pieces:
                continue
            nstart, nend = min(p[0] for p in pieces), max(p[1] for p in pieces)
            node.node_start_pfn, node.node_spanned_pages = nstart, nend - nstart
            for zid, zlo, zhi in limits:
                zlo_p, zhi_p = zlo >> a.page_shift, zhi >> a.page_shift
                z = node.zones[zid]
                span_lo, span_hi = max(zlo_p, nstart), min(zhi_p, nend)
                if span_hi <= span_lo:
                    continue
                present = sum(max(0, min(hi, zhi_p) - max(lo, zlo_p)) for lo, hi in pieces)
                if not present:
                    continue
                z.zone_start_pfn, z.spanned_pages = span_lo, span_hi - span_lo
                z.present_pages = z.present_early_pages = present
                self._boot_zone_ranges[(nid, zid)] = [(max(lo, zlo_p), min(hi, zhi_p)) for lo, hi in pieces
                                                      if min(hi, zhi_p) > max(lo, zlo_p)]
                node.node_present_pages += present
        # sections and boot memory blocks
        pps = a.pages_per_section
        for s, e in usable:
            pfn_s, pfn_e = s >> a.page_shift, e >> a.page_shift
            for sec in range(pfn_s // pps, (pfn_e - 1) // pps + 1):
                nid = self._node_of_boot_pfn(max(sec * pps, pfn_s))
                self._set_section(sec, SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP | SECTION_IS_ONLINE
                                  | SECTION_IS_EARLY, nid)
        nr_present_sections = sum(int(np.count_nonzero(r & SECTION_MARKED_PRESENT)) for r in self._sections.values())
        self.nr_memmap_boot_pages = nr_present_sections * a.memmap_pages(pps)
        ppb = self.block_size >> a.page_shift
        for bid in sorted({(sec * pps) // ppb for root, arr in self._sections.items()
                           for sec in (root * SECTIONS_PER_ROOT + np.nonzero(arr)[0]).tolist()}):
            start = bid * ppb
            nid = self._node_of_boot_pfn(self._first_present_pfn(start, start + ppb))
            b = MemoryBlock(id=bid, start_pfn=start, nr_pages=ppb, nid=nid, state=MEM_ONLINE,
                            boot=True, dev_offline=False)
            b.zone = self._early_zone_for_block(b)
            self.blocks[bid] = b
        # managed and free pages of boot zones: present - memmap - kernel reservations (counts)
        all_present = sum(z.present_pages for n in self.nodes.values() for z in n.zones)
        reserved_total = (self.nr_memmap_boot_pages * ps + BOOT_KERNEL_RESERVED + BOOT_SWIOTLB) >> a.page_shift
        in_use_total = BOOT_IN_USE >> a.page_shift
        for node in self.nodes.values():
            for z in node.zones:
                if not z.present_pages:
                    continue
                share = z.present_pages / all_present
                z.managed_pages = max(z.present_pages - int(reserved_total * share), 0)
                z.boot_free = max(z.managed_pages - int(in_use_total * share), 0)
                self.totalram_pages += z.managed_pages
        self.init_per_zone_wmark_min()
        if self.params.memmap_on_memory == "force":
            # set_memmap_mode(): pr_info_once() of the pages force mode pads each block with
            from .memory_hotplug import memory_block_memmap_on_memory_pages
            exact = -(-self.arch.memmap_bytes(self.block_size >> self.arch.page_shift) // ps)
            self.printk(f"Memory hotplug will waste {memory_block_memmap_on_memory_pages(self) - exact} "
                        "pages in each memory block")
        for node in self.nodes.values():
            node.kthreads_started = node.has_memory()
            node.got_kernel_memory = node.has_normal_memory()
        self.build_all_zonelists(log=False)

    def _node_of_boot_pfn(self, pfn: int) -> int:
        addr = pfn << self.arch.page_shift
        for nid, ranges in self.layout.node_ranges.items():
            for s, e in ranges:
                if s <= addr < e:
                    return nid
        return min(self.nodes)

    def _first_present_pfn(self, start: int, end: int) -> int:
        for s, e in self.boot_ranges:
            lo, hi = max(start, s >> self.arch.page_shift), min(end, e >> self.arch.page_shift)
            if hi > lo:
                return lo
        return start

    def _early_zone_for_block(self, b: MemoryBlock) -> Zone | None:
        """early_node_zone_for_memory_block(): the single zone the block's boot memory is in, else None."""
        zones = set()
        for (nid, zid), ranges in self._boot_zone_ranges.items():
            for lo, hi in ranges:
                if lo < b.end_pfn and hi > b.start_pfn:
                    zones.add((nid, zid))
        if len(zones) != 1:
            return None
        nid, zid = zones.pop()
        return self.nodes[nid].zones[zid]

    def boot_zone_ranges(self, zone: Zone) -> list[tuple[int, int]]:
        """The boot-memory pfn ranges of a zone."""
        return self._boot_zone_ranges.get((zone.nid, zone.idx), [])

    def probe_memory_block_size(self, boot_mem_end: int) -> int:
        """memory_block_size_bytes() as the architecture probes it (x86: probe_memory_block_size())."""
        a = self.arch
        if a.name.startswith("x86_64"):
            if boot_mem_end < 64 * GiB:
                return 128 * MiB
            if self.bare_metal:
                return 2 * GiB
            for bz in (2 * GiB, 1 * GiB, 512 * MiB, 256 * MiB):
                if boot_mem_end % bz == 0:
                    return bz
            return 128 * MiB
        if a.name.startswith("s390"):
            return max(a.section_size, 256 * MiB)
        return a.default_block_size or a.section_size

    # ------------------------------------------------------------------------------------------
    # sections (mm/sparse.c)
    # ------------------------------------------------------------------------------------------
    def _root(self, sec: int, create: bool) -> tuple[np.ndarray | None, int]:
        root, idx = divmod(sec, SECTIONS_PER_ROOT)
        arr = self._sections.get(root)
        if arr is None and create:
            arr = self._sections[root] = np.zeros(SECTIONS_PER_ROOT, dtype=np.uint8)
            self._section_nid[root] = np.full(SECTIONS_PER_ROOT, -1, dtype=np.int16)
        return arr, idx

    def _set_section(self, sec: int, flags: int, nid: int) -> None:
        arr, idx = self._root(sec, True)
        arr[idx] = flags
        self._section_nid[sec // SECTIONS_PER_ROOT][idx] = nid
        self._sections_end = max(self._sections_end, (sec + 1) * self.arch.pages_per_section)

    def _section_range_op(self, pfn: int, nr_pages: int, fn) -> None:
        pps = self.arch.pages_per_section
        first, last = pfn // pps, (pfn + nr_pages - 1) // pps
        sec = first
        while sec <= last:
            root, idx = divmod(sec, SECTIONS_PER_ROOT)
            n = min(SECTIONS_PER_ROOT - idx, last - sec + 1)
            arr, _ = self._root(sec, True)
            fn(root, arr, idx, idx + n)
            sec += n

    def section_flags(self, pfn: int) -> int:
        """The mem_section flags of the section holding ``pfn`` (0 if none)."""
        arr, idx = self._root(pfn // self.arch.pages_per_section, False)
        return 0 if arr is None else int(arr[idx])

    def section_online(self, pfn: int) -> bool:
        """online_section_nr(): the section holding ``pfn`` is online."""
        return bool(self.section_flags(pfn) & SECTION_IS_ONLINE)

    def section_present(self, pfn: int) -> bool:
        """present_section_nr()."""
        return bool(self.section_flags(pfn) & SECTION_MARKED_PRESENT)

    def set_sections_online(self, pfn: int, nr_pages: int, online: bool) -> None:
        """online_mem_sections() / offline_mem_sections() over whole sections of the range."""
        if nr_pages <= 0:
            return

        def op(root, arr, a, b):
            if online:
                arr[a:b] |= SECTION_IS_ONLINE
            else:
                arr[a:b] &= ~np.uint8(SECTION_IS_ONLINE)
        self._section_range_op(pfn, nr_pages, op)

    def sections_online_mask(self, pfn: int, nr_pages: int) -> np.ndarray:
        """Per-pfn boolean: is the pfn's section online (for /proc/kpageflags)."""
        pps = self.arch.pages_per_section
        out = np.zeros(nr_pages, dtype=bool)
        first = pfn // pps
        last = (pfn + nr_pages - 1) // pps
        for sec in range(first, last + 1):
            if self.section_flags(sec * pps) & SECTION_IS_ONLINE:
                lo, hi = max(sec * pps, pfn), min((sec + 1) * pps, pfn + nr_pages)
                out[lo - pfn:hi - pfn] = True
        return out

    def add_sections(self, nid: int, pfn: int, nr_pages: int, altmap: VmemAltmap | None) -> None:
        """__add_pages(): sparse_add_section() for every section, marked present with its memmap (altmap or node memory).

        The first section that fails stops the loop, and, as in the kernel, nothing takes back
        the sections added before it: they stay present with their memmap.  A section that is
        already present is -EEXIST (fill_subsection_map()); a memmap that cannot be allocated
        is -ENOMEM, and only that section's own memmap is freed (section_deactivate()).
        """
        a = self.arch
        pps = a.pages_per_section
        memmap_bytes_per_section = a.memmap_bytes(pps)
        self.trace.record("sparse_add_section", "mm/sparse.c")
        nsec = nr_pages // pps
        if altmap is not None and memmap_bytes_per_section % a.pmd_size == 0 and (
                altmap.next_pfn() % (a.pmd_size // a.page_size) == 0) and (
                nsec * (memmap_bytes_per_section // a.page_size) <= altmap.nr_free()) and (
                not self.sections_present(pfn, nr_pages)):
            # Every section takes whole, naturally aligned PMDs from the altmap: the per-PMD
            # loop of vmemmap_populate_hugepages() adds up to one step (same alloc, no align).
            altmap.alloc += nsec * (memmap_bytes_per_section // a.page_size)

            def mark(root, arr, lo, hi):
                arr[lo:hi] = SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP
                self._section_nid[root][lo:hi] = nid
            self._section_range_op(pfn, nr_pages, mark)
            self._sections_end = max(self._sections_end, pfn + nr_pages)
            if self.kernel.vmstat_memmap_pages:
                self.nr_memmap_pages += nsec * a.memmap_pages(pps)
            self._memmap_allocs_for[(pfn, nr_pages)] = []
            return
        allocs: list = []
        done = 0
        try:
            for sec in range(pfn // pps, (pfn + nr_pages) // pps):
                if self.section_present(sec * pps):
                    raise KernelError(EEXIST, f"section {sec} is already present",
                                      function="fill_subsection_map")
                if altmap is not None:
                    # vmemmap_populate_hugepages(): one PMD at a time from the altmap, "no fallback"
                    taken, remaining = altmap.alloc, memmap_bytes_per_section
                    while remaining > 0:
                        step = min(a.pmd_size, -(-remaining // a.page_size) * a.page_size)
                        if altmap.alloc_block_buf(step, a.page_size) is None:
                            altmap.alloc = taken           # section_deactivate(): vmemmap_free()
                            raise KernelError(ENOMEM, "vmemmap_populate: altmap exhausted",
                                              function="vmemmap_populate")
                        remaining -= step
                else:
                    got = self._alloc_memmap(nid, memmap_bytes_per_section)
                    if got is None:
                        raise KernelError(ENOMEM, "vmemmap_populate: no memory for the memmap",
                                          function="vmemmap_populate")
                    allocs += got
                self._set_section(sec, SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP, nid)
                if self.kernel.vmstat_memmap_pages:
                    self.nr_memmap_pages += a.memmap_pages(pps)
                done += pps
        finally:
            if done:
                self._memmap_allocs_for[(pfn, done)] = allocs

    def sections_present(self, pfn: int, nr_pages: int) -> bool:
        """Is any section of the range present (SECTION_MARKED_PRESENT)?"""
        if pfn >= self._sections_end:          # above every section ever marked: the common hot-add
            return False
        pps = self.arch.pages_per_section
        sec, last = pfn // pps, (pfn + nr_pages - 1) // pps
        while sec <= last:
            root, idx = divmod(sec, SECTIONS_PER_ROOT)
            n = min(SECTIONS_PER_ROOT - idx, last - sec + 1)
            arr = self._sections.get(root)
            if arr is not None and (arr[idx:idx + n] & SECTION_MARKED_PRESENT).any():
                return True
            sec += n
        return False

    def present_section_nrs(self) -> list[int]:
        """Every present section, by number (boot, hot-added, and any a failed hot-add left behind)."""
        out: list[int] = []
        for root in sorted(self._sections):
            idx = np.nonzero(self._sections[root] & SECTION_MARKED_PRESENT)[0]
            out += (root * SECTIONS_PER_ROOT + idx).tolist()
        return out

    def _alloc_memmap(self, nid: int, nbytes: int) -> list | None:
        """vmemmap_populate(): PMD-sized blocks from the node's zonelist (vmemmap_alloc_block()), else base pages.

        The first allocation that fails prints warn_alloc()'s first line, once per boot (the
        ``static bool warned`` of vmemmap_alloc_block()); the task name that starts the
        kernel's line, its cpuset suffix, the stack dump and the Mem-Info report that follow
        are not modelled.
        """
        from .workload import kernel_alloc
        a = self.arch
        order = max(a.pmd_shift - a.page_shift, 0)
        out = []
        left = -(-nbytes // a.page_size)
        while left > 0:
            o = order if left >= 1 << order else 0
            got = kernel_alloc(self, nid, o, PageKind.KERNEL, "vmemmap", cpu=self.cpus[0])
            if got is None:
                self.printk_once("vmemmap_alloc_block",
                                 f"vmemmap alloc failure: order:{o}, mode:0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), "
                                 "nodemask=(null)", level="warn")
            if got is None and o:
                o = 0
                got = kernel_alloc(self, nid, 0, PageKind.KERNEL, "vmemmap", cpu=self.cpus[0])
            if got is None:
                self._free_memmap_allocs(out)
                return None
            out.append(got)
            left -= 1 << o
        return out

    def _free_memmap_allocs(self, allocs: list) -> None:
        from .workload import free_unit
        for zone, pfn, order in allocs:
            free_unit(self, zone, pfn, order, self.cpus[0], PageKind.KERNEL)

    def remove_sections(self, start: int, size: int) -> None:
        """sparse_remove_section(): depopulate the memmap and clear the sections."""
        a = self.arch
        pfn, nr = start >> a.page_shift, size >> a.page_shift
        for key in [k for k in self._memmap_allocs_for if k[0] >= pfn and k[0] + k[1] <= pfn + nr]:
            self._free_memmap_allocs(self._memmap_allocs_for.pop(key))
        pps = a.pages_per_section
        for sec in range(pfn // pps, (pfn + nr) // pps):
            arr, idx = self._root(sec, False)
            if arr is not None and arr[idx] & SECTION_MARKED_PRESENT:
                arr[idx] = 0
                self._section_nid[sec // SECTIONS_PER_ROOT][idx] = -1
                if self.kernel.vmstat_memmap_pages:
                    self.nr_memmap_pages -= a.memmap_pages(pps)

    # ------------------------------------------------------------------------------------------
    # memory blocks
    # ------------------------------------------------------------------------------------------
    def register_block(self, b: MemoryBlock) -> None:
        """add_hotplug_memory_block()."""
        self.blocks[b.id] = b
        if b.group is not None:
            b.group.blocks.append(b.id)

    def unregister_block(self, b: MemoryBlock) -> None:
        """remove_memory_block()."""
        self.blocks.pop(b.id, None)
        if b.group is not None and b.id in b.group.blocks:
            b.group.blocks.remove(b.id)

    def block_of_pfn(self, pfn: int) -> MemoryBlock:
        """The memory block that holds ``pfn``."""
        return self.blocks[pfn // (self.block_size >> self.arch.page_shift)]

    def blocks_in_range(self, start: int, size: int) -> list[MemoryBlock]:
        """walk_memory_blocks(): the blocks of ``[start, start + size)``."""
        bs = self.block_size
        return [self.blocks[i] for i in range(start // bs, (start + size) // bs) if i in self.blocks]

    def pagemap_of(self, pfn: int) -> PageMap:
        """The per-pfn arrays of the block holding ``pfn``, created from its layout on first use."""
        b = self.block_of_pfn(pfn)
        if b.pagemap is None:
            b.pagemap = PageMap.pristine(b.start_pfn, b.nr_pages, b.vmemmap_pages,
                                         self.arch.pageblock_order, b.online_chunks, self.arch.max_page_order)
        return b.pagemap

    def memory_block(self, n: int) -> MemoryBlock:
        """``memoryN``."""
        return self.blocks[n]

    # ------------------------------------------------------------------------------------------
    # nodes, zonelists, watermarks
    # ------------------------------------------------------------------------------------------
    def online_nodes(self) -> list[int]:
        """N_ONLINE: nodes with memory or CPUs."""
        return [nid for nid, n in self.nodes.items() if n.has_memory() or n.cpus or
                any(b.nid == nid for b in self.blocks.values())]

    def node_order(self, nid: int) -> list[int]:
        """build_zonelists(): nodes with memory by distance, the local node first."""
        mem = [n for n, node in self.nodes.items() if node.has_memory()]
        return sorted(mem, key=lambda n: (self.node_distance[(nid, n)], n))

    def zonelist(self, nid: int, highest_zoneidx: int, nodemask: Iterable[int] | None = None) -> list[Zone]:
        """The zones an allocation on ``nid`` tries, in order (node by node, zone high to low)."""
        allowed = None if nodemask is None else set(nodemask)
        zl = []
        for n in self.node_order(nid):
            if allowed is not None and n not in allowed:
                continue
            for zid in range(highest_zoneidx, -1, -1):
                z = self.nodes[n].zones[zid]
                if z.managed_pages:
                    zl.append(z)
        return zl

    def init_per_zone_wmark_min(self) -> None:
        """init_per_zone_wmark_min(): min_free_kbytes, watermarks, lowmem reserve, pcp batch/high."""
        self.min_free_kbytes = max(pa.calculate_min_free_kbytes(self), self.min_free_kbytes)
        pa.setup_per_zone_wmarks(self)
        pa.set_recommended_min_free_kbytes(self)      # CONFIG_TRANSPARENT_HUGEPAGE (khugepaged)
        pa.setup_per_zone_lowmem_reserve(self)
        for node in self.nodes.values():
            for z in node.zones:
                pa.zone_set_pageset_high_and_batch(self, z)

    def build_all_zonelists(self, log: bool = True) -> None:
        """build_all_zonelists(): prints the fallback order of every node."""
        if not log:
            return
        for nid in sorted(self.nodes):
            order = " ".join(str(n) for n in self.node_order(nid))
            self.printk(f"Fallback order for Node {nid}: {order} ")
        total = sum(max(z.managed_pages - z.high_wmark, 0) for n in self.nodes.values() for z in n.zones)
        self.printk(f"Built {len(self.nodes)} zonelists, mobility grouping on.  Total pages: {total}")
        policy = max((z.idx for n in self.nodes.values() for z in n.zones[:ZONE_MOVABLE] if z.populated()),
                     default=ZONE_NORMAL)
        self.printk(f"Policy zone: {ZONE_NAMES[policy]}")

    def log_demotion_targets(self) -> None:
        """mm/memory-tiers.c establish_demotion_targets() output (6.12)."""
        for nid in sorted(self.nodes):
            self.printk(f"Demotion targets for Node {nid}: null")

    def try_offline_node(self, nid: int) -> None:
        """try_offline_node(): a node without memory, memory blocks or CPUs goes offline (nothing to do here)."""

    def node_gets_kernel_memory(self, node: Node) -> None:
        """The node has its first kernel-zone memory: the kernel starts allocating there."""
        if node.got_kernel_memory:
            return
        node.got_kernel_memory = True
        from .workload import node_bringup_allocations
        node_bringup_allocations(self, node)

    def memory_notify(self, event: str, mem: MemoryBlock, pfn: int, nr_pages: int) -> None:
        """memory_notify(): the notifier chain (recorded in the call trace)."""
        self.trace.record("memory_notify", "drivers/base/memory.c", event)

    def hwpoisoned_pages(self, mem: MemoryBlock) -> int:
        """memblk_nr_poison(): the model injects no hardware errors."""
        return 0

    def arch_mhp_memmap_enabled(self) -> bool:
        """CONFIG_ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE for this architecture and kernel (arch/*/Kconfig)."""
        name = self.arch.name
        if name.startswith(("x86_64", "arm64")):
            return True
        if name.startswith(("ppc64", "s390")):
            return self.kernel.version >= (6, 6)
        return False

    def test_pages_in_a_zone(self, start_pfn: int, end_pfn: int) -> Zone | None:
        """test_pages_in_a_zone() (5.13's valid_zones): the zone of an online block's pages."""
        b = self.block_of_pfn(start_pfn)
        return b.zone

    # ------------------------------------------------------------------------------------------
    # resources, logs
    # ------------------------------------------------------------------------------------------
    def resource_conflicts(self, start: int, size: int) -> bool:
        """register_memory_resource(): the range overlaps RAM that is already there."""
        end = start + size
        for s, e in self.boot_ranges:
            if start < e and end > s:
                return True
        return any(start <= e and end > s for s, e, _ in self.resources)

    def add_resource(self, start: int, size: int, name: str) -> None:
        """Insert a /proc/iomem resource."""
        self.resources.append((start, start + size - 1, name))
        self.resources.sort()

    def remove_resource(self, start: int, size: int) -> None:
        """release_mem_region_adjustable()."""
        end = start + size - 1
        out = []
        for s, e, n in self.resources:
            if e < start or s > end:
                out.append((s, e, n))
                continue
            if s < start:
                out.append((s, start - 1, n))
            if e > end:
                out.append((end + 1, e, n))
        self.resources = out

    def raise_max_pfn(self, pfn: int) -> None:
        """update_end_of_memory_vars(): hot-add raises max_pfn."""
        self.max_pfn = max(self.max_pfn, pfn)

    def tick(self, seconds: float = 0.05) -> None:
        """Advance the model's clock (dmesg timestamps)."""
        self.clock += seconds

    def printk(self, msg: str, level: str = "info") -> None:
        """Append a line to the kernel log."""
        self.clock += 0.0001
        self.dmesg_lines.append(f"[{self.clock:12.6f}] {msg}")

    def printk_once(self, key: str, msg: str, level: str = "info") -> bool:
        """printk_once() / pr_warn_once(): only the first call for ``key`` in this boot prints; True if it did."""
        if key in self._printed_once:
            return False
        self._printed_once.add(key)
        self.printk(msg, level)
        return True

    def pr_debug(self, file: str, msg: str) -> bool:
        """pr_debug(): printed only when dynamic debug is on for ``file`` (dyndbg="file F +p"); True if printed."""
        if file in self.dyndbg_files:
            self.printk(msg, level="debug")
            return True
        return False

    def dump_page(self, pfn: int, reason: str) -> None:
        """dump_page(): the lines the kernel prints about one page."""
        pm = self.pagemap_of(pfn)
        i = pfn - pm.start_pfn
        kind = int(pm.kind[i])
        node = self.block_of_pfn(pfn).nid
        zone = self.block_of_pfn(pfn).zone
        zid = zone.idx if zone is not None else 0
        names = {PageKind.SLAB: "slab", PageKind.SLAB_HEAD: "slab|head", PageKind.COMPOUND_HEAD: "head",
                 PageKind.THP_HEAD: "head|lru"}.get(kind, "")
        flags = (names + "|" if names else "") + f"node={node}|zone={zid}"
        head = "page:(____ptrval____)" if self.kernel.dump_page_ptrval else "page:"
        self.printk(f"{head} refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}")
        self.printk(f"flags: ({flags})")
        self.printk(f"page dumped because: {reason}")

    def dmesg_log_since(self, mark: int) -> list[str]:
        """The messages printed since the log had ``mark`` lines, without their timestamps."""
        return [line.split("] ", 1)[1] for line in self.dmesg_lines[mark:]]

    def dmesg(self) -> str:
        """The kernel log."""
        return "\n".join(self.dmesg_lines) + ("\n" if self.dmesg_lines else "")

    # ------------------------------------------------------------------------------------------
    # failed operations
    # ------------------------------------------------------------------------------------------
    def undo_failed_isolation(self, mem: MemoryBlock, zone: Zone, start_pfn: int, end_pfn: int, bad: int) -> None:
        """undo_isolate_page_range() after a failed start_isolate_page_range().

        The pageblocks isolated before the failure get their free blocks back at the tail of
        the MIGRATE_MOVABLE lists: a failed offline reorders the free lists, as in the kernel.
        """
        from .pagemap import MIGRATE_MOVABLE
        pb = self.arch.pageblock_nr_pages
        nblocks = (end_pfn - start_pfn) // pb
        failed = (bad - start_pfn) // pb
        if failed == 0:
            return
        if failed == nblocks - 1:
            undo = [0]
        else:
            undo = list(range(0, failed)) + [nblocks - 1]
        pm = self.pagemap_of(start_pfn)
        for i in undo:
            lo = start_pfn + i * pb - pm.start_pfn
            heads = np.nonzero((pm.kind[lo:lo + pb] == PageKind.FREE) & (pm.order[lo:lo + pb] >= 0))[0] + lo
            for j in heads.tolist():
                o, fmt = int(pm.order[j]), int(pm.fl_mt[j])
                pa.move_to_free_list(self, zone, pm.start_pfn + j, o, fmt, MIGRATE_MOVABLE)

    # ------------------------------------------------------------------------------------------
    # the kernel-shaped interface
    # ------------------------------------------------------------------------------------------
    def read(self, path: str) -> str | bytes:
        """``cat PATH``: a sysfs or procfs file, in the kernel's format (KernelError ENOENT if absent)."""
        from . import sysfs
        return sysfs.read(self, path)

    def write(self, path: str, value: str | bytes) -> int:
        """``echo -n VALUE > PATH``: one write(2) of ``value`` (str or bytes); bytes written, or KernelError.

        The KernelError carries the kernel's errno and, in ``log``, the lines this write
        printed.  A failed write leaves the machine as it was, except for what the kernel itself
        also leaves behind: a failed offline has drained the zone's per-cpu lists, and one
        interrupted while migrating (EINTR) leaves the pages it had migrated where they went.
        A value that is neither str nor bytes is a TypeError.
        """
        from . import sysfs
        mark = len(self.dmesg_lines)
        try:
            return sysfs.write(self, path, value)
        except KernelError as e:
            e.log = self.dmesg_log_since(mark)
            raise

    def ls(self, path: str) -> list[str]:
        """``ls PATH`` for the sysfs directories the model has."""
        from . import sysfs
        return sysfs.listdir(self, path)

    def exists(self, path: str) -> bool:
        """``test -e PATH``."""
        from . import sysfs
        return sysfs.exists(self, path)

    def export_sysfs(self, root: str) -> str:
        """Write ``sys/devices/system/{memory,node}`` under ``root`` for ``lsmem --sysroot root``."""
        from . import sysfs
        return sysfs.export_sysfs(self, root)

    def kpageflags(self, start_pfn: int, count: int) -> np.ndarray:
        """/proc/kpageflags words for a pfn range, as a numpy uint64 array."""
        from . import procfs
        return procfs.kpageflags(self, start_pfn, count)

    def page_state(self, start_pfn: int, nr_pages: int) -> "walkers.PageState":
        """Per-pfn state of a range for views: kind, free-block order, section online, pageblock migratetype."""
        from .walkers import page_state
        return page_state(self, start_pfn, nr_pages)

    def numactl_hardware(self) -> str:
        """The text ``numactl -H`` prints."""
        from . import procfs
        return procfs.numactl_hardware(self)

    def dimm_add(self, size: int, node: int, id: str | None = None, addr: int | None = None):
        """Hot-plug a pc-dimm of ``size`` bytes into ``node`` (QEMU device_add + the guest's ACPI driver)."""
        from .acpi_memhotplug import dimm_add
        return dimm_add(self, size, node, id, addr)

    def dimm_del(self, id: str):
        """Unplug a DIMM (QEMU device_del + ACPI eject): "deleted" only if the guest could offline it all."""
        from .acpi_memhotplug import dimm_del
        return dimm_del(self, id)

    def start_workload(self, node: int, nbytes: int, cpu: int | None = None, name: str = "stress"):
        """Start an anonymous (movable) workload of ``nbytes`` bound to ``node``; returns its Allocation."""
        from .workload import start_anon_workload
        return start_anon_workload(self, node, nbytes, cpu, name)

    def pin(self, node: int, nbytes: int, pipes: int = 0, cpu: int | None = None, name: str = "pin"):
        """Pin ``nbytes`` of unmovable kernel memory (pipe buffers) on ``node``; returns its Allocation."""
        from .workload import start_pipe_pin
        pipes = pipes or max(nbytes >> 20, 1)
        return start_pipe_pin(self, node, nbytes, pipes, cpu, name)

    def stop_workload(self, owner) -> None:
        """End a workload or pinning process (an Allocation or its owner id): its pages are freed."""
        from .workload import stop_workload
        stop_workload(self, getattr(owner, "owner", owner))

    def workloads(self, kind: str | None = None) -> list:
        """The running workloads (``kind``: "anon", "pin" or "kernel")."""
        return [a for a in self.allocations.values() if kind is None or a.kind == kind]

    def drop_caches(self) -> None:
        """``echo 3 > /proc/sys/vm/drop_caches``: the model has no page cache; slab pages in use stay."""
        self.printk("sh (1): drop_caches: 3")

    def compact_memory(self) -> None:
        """``echo 1 > /proc/sys/vm/compact_memory``: recorded; the model does not defragment free lists."""
        self.trace.record("compact_nodes", "mm/compaction.c")

    def new_owner(self) -> int:
        """A fresh allocation owner id."""
        o = self._next_owner
        self._next_owner += 1
        return o

    def clone(self) -> "Machine":
        """A deep copy (for comparisons and what-if questions)."""
        return copy.deepcopy(self)

    def __repr__(self) -> str:
        return (f"<Machine {self.kernel.label} {self.arch.name} nodes={list(self.nodes)} "
                f"blocks={len(self.blocks)} block_size={self.block_size >> 20}MiB>")
