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
from . import e820
from .cmdline import HotplugParams, parse_cmdline, split_cmdline
from .errors import EEXIST, ENOMEM, KernelError
from .kernel import KernelProfile, get_kernel
from .memory import MEM_ONLINE, MemoryBlock, MemoryGroup
from .memremap import VmemAltmap
from .mmzone import ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NAMES, ZONE_NORMAL, Node, Zone
from .pagemap import PageKind, PageMap
from .qemu import Dimm, PcMemoryLayout, pc_memory_layout
from .resource import (IORESOURCE_BUSY, IORESOURCE_MEM, IORESOURCE_SYSRAM_DRIVER_MANAGED, IORESOURCE_SYSTEM_RAM,
                       Resource, insert_resource, release_resource, request_region, walk)
from .trace import CallTrace

if TYPE_CHECKING:  # pragma: no cover
    from . import walkers
    from .module import Module

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

# include/linux/mm.h: memmap pages a compound ZONE_DEVICE page keeps when its vmemmap is optimized
VMEMMAP_RESERVE_NR = 2

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
                 hotplug_node: int | None = None, config: dict[str, str] | None = None,
                 kernel_own_pages: str = "typical", machine_options: dict[str, int] | None = None) -> None:
        if kernel_own_pages not in ("typical", "none"):
            raise ValueError(f"kernel_own_pages must be 'typical' or 'none', not {kernel_own_pages!r}")
        self.kernel = get_kernel(kernel)
        # What the kernel allocates for itself on a node's first kernel-zone memory (see
        # workload.node_bringup_allocations): "typical" for teaching, "none" for a replay.
        self.kernel_own_pages_policy = kernel_own_pages
        self.kernel_own_owner: dict[int, int] = {}
        # SLUB's state of each slab page (workbook.slub), where it is not a fresh CPU slab
        self.slab_states: dict[int, tuple[str, int]] = {}
        self.sysctl: dict[str, int] = {}           # /proc/sys values a learner has written
        self.arch = get_arch(arch)
        if nodes is None:
            nodes = [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)]
        self.node_specs = nodes
        self.cmdline = cmdline
        self.config = dict(config or {})
        self.params: HotplugParams = parse_cmdline(cmdline, self.kernel, _default_online_type(self.config))
        self.dyndbg_files = set(re.findall(r"file\s+(\S+)\s+\+p", cmdline))
        self.cpus = sorted(c for n in nodes for c in n.cpus) or [0]
        self.cpu_online: set[int] = set(self.cpus)
        self.trace = CallTrace()
        self.dmesg_lines: list[str] = []
        self._printed_once: set[str] = set()                # printk_once() sites that have printed
        self.clock = 0.0
        self.hvo_enabled = False
        ram = ram_bytes if ram_bytes is not None else sum(n.boot_memory_bytes for n in nodes)
        self.maxmem_bytes = maxmem_bytes if maxmem_bytes is not None else ram + 32 * GiB
        self.machine_options = dict(machine_options or {})      # QEMU -M pc,<options>
        self.layout: PcMemoryLayout = pc_memory_layout(
            ram, self.maxmem_bytes, slots,
            {n.id: n.boot_memory_bytes for n in nodes}, hotplug_node,
            max_ram_below_4g=self.machine_options.get("max-ram-below-4g"),
            # QEMU 7.2's vCPU models with 5-level paging are Intel's: no AMD HyperTransport hole
            amd_ht_hole=not self.arch.name.endswith("la57"))
        # the kernel's e820: the firmware's, with the command line's memmap= applied
        # (parse_memmap_opt()) and page 0 reserved (trim_bios_range())
        self.e820_log: list[str] = []
        self.e820 = e820.parse_memmap_opt(e820.from_qemu(self.layout.e820),
                                          [v for k, v in split_cmdline(cmdline) if k == "memmap" and v],
                                          self.e820_log)
        self.e820 = e820.e820_update_table(e820._update(self.e820, 0, 4096, e820.E820_TYPE_RAM,
                                                        e820.E820_TYPE_RESERVED))
        self.slots = slots
        self.dimms: dict[str, Dimm] = {}
        self.nodes: dict[int, Node] = {n.id: Node(n.id, n.cpus, self.arch.nr_page_orders) for n in nodes}
        for n in nodes:
            self.nodes[n.id].boot_memory_bytes = n.boot_memory_bytes
        self.blocks: dict[int, MemoryBlock] = {}
        self._sections: dict[int, np.ndarray] = {}      # root -> flags
        self._sections_end = 0                           # no section was ever marked at or above this pfn
        self._section_nid: dict[int, np.ndarray] = {}
        self.modules_loaded: dict[str, "Module"] = {}              # insmod order
        self.iomem = Resource(0, (1 << 52) - 1, "PCI mem")          # iomem_resource
        self.soft_reserve_resource = Resource(0, (1 << 52) - 1, "Soft Reserved")
        self.memory_groups: list[MemoryGroup] = []
        self.totalram_pages = 0
        self.min_free_kbytes = 0
        self.nr_memmap_pages = 0
        self.nr_memmap_boot_pages = 0
        self.max_pfn = 0
        self.allocations: dict[int, "object"] = {}      # owner id -> workload.Allocation
        self._memmap_allocs_for: dict[tuple[int, int], list] = {}   # memmap taken from node memory
        # memmap taken from an altmap: (first pfn, pfns) runs in the order vmemmap_populate() took them
        self._memmap_altmap_for: dict[tuple[int, int], list[tuple[int, int]]] = {}
        self._memmap_counted: dict[tuple[int, int], int] = {}       # nr_memmap_pages per section, per added range
        self._next_owner = 1
        self.node_distance = {(a, b): 10 if a == b else 20 for a in self.nodes for b in self.nodes}
        self.bare_metal = bare_metal
        self._boot(block_size)

    # ------------------------------------------------------------------------------------------
    # boot
    # ------------------------------------------------------------------------------------------
    def _boot(self, block_size: int | None) -> None:
        """setup_arch() .. memory_dev_init(): memblock from e820, zones, sections, boot memory blocks."""
        a = self.arch
        ps = a.page_size
        usable = []
        for r in self.e820:
            if r.type != e820.E820_TYPE_RAM:
                continue
            s, e = -(-r.start // ps) * ps, r.end // ps * ps
            if e > s:
                usable.append((s, e))
        self.boot_ranges = usable
        boot_end = max((e for _, e in usable), default=0)
        self.max_pfn = boot_end >> a.page_shift
        self.block_size = block_size or self.probe_memory_block_size(boot_end)
        if self.cmdline:
            self.printk(f"Kernel command line: {self.cmdline}")
        for line in self.params.log:     # start_kernel(): parse_args("Booting kernel", ...) refusals, pr_err
            self.printk(line, level="err")
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
        self._reserve_resources()
        from .memory_tiers import MemoryTiers
        self.memory_tiers = MemoryTiers(self)
        from .dax import DaxSubsystem
        self.dax = DaxSubsystem(self)

    def _reserve_resources(self) -> None:
        """e820__reserve_resources() and _late(), plus the PCI windows: the boot contents of /proc/iomem."""
        root = self.iomem
        for r in self.e820:
            name = e820.e820_type_to_string(r.type)
            flags = IORESOURCE_SYSTEM_RAM if r.type == e820.E820_TYPE_RAM else IORESOURCE_MEM
            res = Resource(r.start, r.end - 1, name, flags)
            if r.type == e820.E820_TYPE_SOFT_RESERVED and self.kernel.soft_reserved_deferred:
                insert_resource(self.soft_reserve_resource, res)     # set aside for dax_hmem
                continue
            if r.start < 1 << 20 or r.type not in (e820.E820_TYPE_RESERVED, e820.E820_TYPE_SOFT_RESERVED,
                                                   e820.E820_TYPE_PMEM, e820.E820_TYPE_PRAM):
                res.flags |= IORESOURCE_BUSY      # do_mark_busy(): system ranges are busy
            insert_resource(root, res)
        lay = self.layout
        insert_resource(root, Resource(lay.below_4g, 0xFEBFFFFF, "PCI Bus 0000:00"))
        insert_resource(root, Resource(lay.pci_hole64_start, lay.pci_hole64_start + lay.pci_hole64_size - 1,
                                       "PCI Bus 0000:00"))

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

    def add_sections(self, nid: int, pfn: int, nr_pages: int, altmap: VmemAltmap | None,
                     vmemmap_shift: int = 0) -> None:
        """__add_pages(): sparse_add_section() for every section, marked present with its memmap (altmap or node memory).

        The first section that fails stops the loop, and, as in the kernel, nothing takes back
        the sections added before it: they stay present with their memmap.  A section that is
        already present is -EEXIST (fill_subsection_map()); a memmap that cannot be allocated
        is -ENOMEM, and only that section's own memmap is freed (section_deactivate()).

        ``vmemmap_shift`` is a ZONE_DEVICE pgmap's compound page order (device_dax: the
        device's align): without an altmap, every compound page then needs only
        VMEMMAP_RESERVE_NR (2) pages of memmap, the rest of its vmemmap maps the same tail
        page (vmemmap_populate_compound_pages(); section_nr_vmemmap_pages() counts it so).
        """
        a = self.arch
        pps = a.pages_per_section
        memmap_bytes_per_section = a.memmap_bytes(pps)
        self.trace.record("sparse_add_section", "mm/sparse.c")
        nsec = nr_pages // pps
        compound = bool(vmemmap_shift) and altmap is None and a.memmap_pages(1 << vmemmap_shift) > \
            VMEMMAP_RESERVE_NR and a.struct_page_size & (a.struct_page_size - 1) == 0
        per_section = (VMEMMAP_RESERVE_NR * pps >> vmemmap_shift) if compound else a.memmap_pages(pps)
        counted = per_section if self.kernel.vmstat_memmap_pages else 0     # nr_memmap_pages per section
        if altmap is not None and memmap_bytes_per_section % a.pmd_size == 0 and (
                altmap.next_pfn() % (a.pmd_size // a.page_size) == 0) and (
                nsec * (memmap_bytes_per_section // a.page_size) <= altmap.nr_free()) and (
                not self.sections_present(pfn, nr_pages)):
            # Every section takes whole, naturally aligned PMDs from the altmap: the per-PMD
            # loop of vmemmap_populate_hugepages() adds up to one step (same alloc, no align).
            need = nsec * (memmap_bytes_per_section // a.page_size)
            self._memmap_altmap_for[(pfn, nr_pages)] = [(altmap.next_pfn(), need)]
            altmap.alloc += need

            def mark(root, arr, lo, hi):
                arr[lo:hi] = SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP
                self._section_nid[root][lo:hi] = nid
            self._section_range_op(pfn, nr_pages, mark)
            self._sections_end = max(self._sections_end, pfn + nr_pages)
            self._memmap_counted[(pfn, nr_pages)] = counted
            self.nr_memmap_pages += nsec * counted
            self._memmap_allocs_for[(pfn, nr_pages)] = []
            return
        allocs: list = []
        runs: list[tuple[int, int]] = []
        done = 0
        try:
            for sec in range(pfn // pps, (pfn + nr_pages) // pps):
                if self.section_present(sec * pps):
                    raise KernelError(EEXIST, f"section {sec} is already present",
                                      function="fill_subsection_map")
                if compound:
                    got = self._alloc_memmap_pages(nid, per_section)
                    if got is None:
                        raise KernelError(ENOMEM, "vmemmap_populate: no memory for the memmap",
                                          function="vmemmap_populate_compound_pages")
                    allocs += got
                elif altmap is not None:
                    # vmemmap_populate_hugepages(): one PMD at a time from the altmap, "no fallback"
                    taken, remaining, sec_runs = altmap.alloc, memmap_bytes_per_section, []
                    while remaining > 0:
                        step = min(a.pmd_size, -(-remaining // a.page_size) * a.page_size)
                        got = altmap.alloc_block_buf(step, a.page_size)
                        if got is None:
                            altmap.alloc = taken           # section_deactivate(): vmemmap_free()
                            raise KernelError(ENOMEM, "vmemmap_populate: altmap exhausted",
                                              function="vmemmap_populate")
                        sec_runs.append((got, step // a.page_size))
                        remaining -= step
                    for got, n in sec_runs:
                        if runs and runs[-1][0] + runs[-1][1] == got:
                            runs[-1] = (runs[-1][0], runs[-1][1] + n)
                        else:
                            runs.append((got, n))
                else:
                    got = self._alloc_memmap(nid, memmap_bytes_per_section)
                    if got is None:
                        raise KernelError(ENOMEM, "vmemmap_populate: no memory for the memmap",
                                          function="vmemmap_populate")
                    allocs += got
                self._set_section(sec, SECTION_MARKED_PRESENT | SECTION_HAS_MEM_MAP, nid)
                self.nr_memmap_pages += counted
                done += pps
        finally:
            if done:
                self._memmap_allocs_for[(pfn, done)] = allocs
                self._memmap_counted[(pfn, done)] = counted
                if runs:
                    self._memmap_altmap_for[(pfn, done)] = runs

    def _alloc_memmap_pages(self, nid: int, n: int) -> list | None:
        """vmemmap_alloc_block(PAGE_SIZE): ``n`` base pages from the node's zonelist (all or none)."""
        from .workload import kernel_alloc
        out = []
        for _ in range(n):
            got = kernel_alloc(self, nid, 0, PageKind.KERNEL, "vmemmap", cpu=self.cpus[0])
            if got is None:
                self._free_memmap_allocs(out)
                return None
            out.append(got)
        return out

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
        """sparse_remove_section(): depopulate the memmap and clear the sections (each present one takes its count off nr_memmap_pages)."""
        a = self.arch
        pfn, nr = start >> a.page_shift, size >> a.page_shift
        inside = lambda k: k[0] >= pfn and k[0] + k[1] <= pfn + nr  # noqa: E731
        for key in [k for k in self._memmap_allocs_for if inside(k)]:
            self._free_memmap_allocs(self._memmap_allocs_for.pop(key))
        for key in [k for k in self._memmap_altmap_for if inside(k)]:
            del self._memmap_altmap_for[key]     # vmem_altmap_free(): the pfns leave with the block
        counted = [(k, v) for k, v in self._memmap_counted.items() if k[0] < pfn + nr and k[0] + k[1] > pfn]
        pps = a.pages_per_section
        for sec in range(pfn // pps, (pfn + nr) // pps):
            arr, idx = self._root(sec, False)
            if arr is not None and arr[idx] & SECTION_MARKED_PRESENT:
                arr[idx] = 0
                self._section_nid[sec // SECTIONS_PER_ROOT][idx] = -1
                # depopulate_section_memmap(): memmap_pages_add(-section_nr_vmemmap_pages())
                self.nr_memmap_pages -= next((v for k, v in counted if k[0] <= sec * pps < k[0] + k[1]), 0)
        for key in [k for k, _ in counted if inside(k)]:
            del self._memmap_counted[key]

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
        for nid in sorted(self.nodes) if self.kernel.fallback_order_log else ():
            order = " ".join(str(n) for n in self.node_order(nid))
            self.printk(f"Fallback order for Node {nid}: {order} ")
        total = sum(max(z.managed_pages - z.high_wmark, 0) for n in self.nodes.values() for z in n.zones)
        self.printk(f"Built {len(self.nodes)} zonelists, mobility grouping on.  Total pages: {total}")
        policy = max((z.idx for n in self.nodes.values() for z in n.zones[:ZONE_MOVABLE] if z.populated()),
                     default=ZONE_NORMAL)
        self.printk(f"Policy zone: {ZONE_NAMES[policy]}")

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
        if name.startswith("ppc64"):
            return self.kernel.arch_memmap_override     # 6.6: selected with PPC_RADIX_MMU
        if name.startswith("s390"):
            return self.kernel.mem_prepare_online       # 6.8: with MEM_PREPARE_ONLINE (s390 series)
        return False

    def test_pages_in_a_zone(self, start_pfn: int, end_pfn: int) -> Zone | None:
        """test_pages_in_a_zone() (5.13's valid_zones): the zone of an online block's pages."""
        b = self.block_of_pfn(start_pfn)
        return b.zone

    # ------------------------------------------------------------------------------------------
    # resources, logs
    # ------------------------------------------------------------------------------------------
    def next_memory_group_id(self) -> int:
        """memory_group_register(): the lowest free id (xa_alloc() of memory_groups)."""
        used = {g.id for g in self.memory_groups}
        return min(set(range(len(used) + 1)) - used)

    def request_memory_region(self, start: int, size: int, name: str = "System RAM") -> Resource | None:
        """__request_region() for hot-added RAM: a busy System RAM claim (nested in non-busy claims), or None."""
        flags = IORESOURCE_SYSTEM_RAM | (IORESOURCE_SYSRAM_DRIVER_MANAGED if name != "System RAM" else 0)
        return request_region(self.iomem, start, size, name, flags)

    def release_mem_region_adjustable(self, start: int, size: int) -> None:
        """release_mem_region_adjustable(): drop the System RAM claim on [start, start + size), splitting it if wider."""
        end = start + size - 1
        for r, _ in list(walk(self.iomem)):
            if not (r.busy and r.flags & IORESOURCE_SYSTEM_RAM == IORESOURCE_SYSTEM_RAM) or r.end < start \
                    or r.start > end:
                continue
            if r.start >= start and r.end <= end:
                release_resource(r)
            elif r.start < start and r.end > end:
                tail = Resource(end + 1, r.end, r.name, r.flags)
                r.end = start - 1
                parent = r.parent
                parent.children.insert(parent.children.index(r) + 1, tail)
                tail.parent = parent
            elif r.start < start:
                r.end = start - 1
            else:
                r.start = end + 1

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
        """dump_page() (mm/debug.c): the page line, a compound page's head line, flags, page_type, the reason.

        Leaves out the hex word before the flags' names, lastcpupid, and the raw: lines (kernel
        addresses).  Slab is a page flag up to 6.9 and a page type from 6.10.
        """
        pm = self.pagemap_of(pfn)
        i = pfn - pm.start_pfn
        kind = int(pm.kind[i])
        node = self.block_of_pfn(pfn).nid
        zone = self.block_of_pfn(pfn).zone
        zid = zone.idx if zone is not None else 0
        k = self.kernel
        slab = kind in (PageKind.SLAB, PageKind.SLAB_HEAD)
        compound = kind in (PageKind.SLAB_HEAD, PageKind.COMPOUND_HEAD, PageKind.THP_HEAD)
        names = (["slab"] if slab and not k.slab_page_type else []) + (["head"] if compound else []) + \
            (["lru"] if kind == PageKind.THP_HEAD else [])
        flags = "|".join(names + [f"node={node}", f"zone={zid}"])
        ptr = "(____ptrval____)" if k.dump_page_ptrval else ""
        self.printk(f"page:{ptr} refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{pfn:#x}")
        if compound:
            order = max(int(pm.order[i]), 0)
            if k.dump_page_ptrval:
                self.printk(f"head:(____ptrval____) order:{order} compound_mapcount:0 compound_pincount:0")
            else:
                self.printk(f"head: order:{order} mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0")
        self.printk(f"flags: ({flags})")
        if slab and k.slab_page_type:
            self.printk("page_type: f5(slab)")
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
        a free list: a failed offline reorders the free lists, as in the kernel.  Up to 6.16
        unset_migratetype_isolate() makes each such pageblock MIGRATE_MOVABLE; from 6.17
        (KernelProfile.isolate_bit) isolation is a bit beside the migratetype, which stays.
        Pageblocks are isolated in order up to 5.18, the first and the last one first from
        5.19 (isolate_single_pageblock(), KernelProfile.isolate_ends_first).
        """
        from .pagemap import MIGRATE_MOVABLE
        pb = self.arch.pageblock_nr_pages
        nblocks = (end_pfn - start_pfn) // pb
        failed = (bad - start_pfn) // pb
        if not self.kernel.isolate_ends_first:
            undo = list(range(0, failed))
        elif failed == 0:
            undo = []
        elif failed == nblocks - 1:
            undo = [0]
        else:
            undo = list(range(0, failed)) + [nblocks - 1]
        pm = self.pagemap_of(start_pfn)
        for i in undo:
            pfn0 = start_pfn + i * pb
            target = pm.pageblock_mt(pfn0) if self.kernel.isolate_bit else MIGRATE_MOVABLE
            lo = pfn0 - pm.start_pfn
            heads = np.nonzero((pm.kind[lo:lo + pb] == PageKind.FREE) & (pm.order[lo:lo + pb] >= 0))[0] + lo
            for j in heads.tolist():
                o, fmt = int(pm.order[j]), int(pm.fl_mt[j])
                pa.move_to_free_list(self, zone, pm.start_pfn + j, o, fmt, target)
            pm.set_pageblock_mt(pfn0, pb, target)

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

    def insmod(self, name: str) -> None:
        """``insmod NAME.ko``: load a module (its drivers bind what they match); KernelError EEXIST/ENOENT/probe."""
        from .module import insmod
        insmod(self, name)

    def rmmod(self, name: str) -> None:
        """``rmmod NAME``: unload a module (its drivers let go of their devices)."""
        from .module import rmmod
        rmmod(self, name)

    def modules_available(self) -> dict[str, "Module"]:
        """The modules this kernel has as .ko files (the dax ones, as its config builds them)."""
        return self.dax.modules

    def readlink(self, path: str) -> str:
        """``readlink PATH`` for the sysfs links the model has (a dax device's ``driver``)."""
        from . import sysfs
        return sysfs.readlink(self, path)

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
