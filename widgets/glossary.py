"""The workbook's glossary: every kernel name the chapters use, one line each, and a search box over it.

:data:`TERMS` is the single source: the glossary chapter's tables are generated from it
(:func:`table_markdown`; ``tools/glossary_tables.py`` writes them into the notebook), and
:class:`GlossaryLookup` searches it.  Each term says where it is *defined* (the chapter that
teaches it, chosen by hand) and is *first used*: computed by :func:`first_uses` from the
chapters' own text, so a term another chapter starts to use earlier shows up at once.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ipywidgets import HTML, Dropdown, HBox, Text, VBox

from widgets._common import esc

__all__ = ["Term", "TERMS", "GROUPS", "CHAPTERS", "GlossaryLookup", "find", "chapters_dir", "chapter_texts",
           "first_uses", "table_markdown"]


@dataclass(frozen=True)
class Term:
    """One glossary entry: the name, a one-line meaning, where it lives in the kernel, the chapter that defines it.

    ``uses`` is a regular expression for the ways the chapters write the term, where the name
    itself would not find it (``pcp`` for "pcp list"); empty means "the name, as a word".
    """

    name: str
    meaning: str
    where: str
    chapter: str
    group: str
    uses: str = ""

    @property
    def defined(self) -> str:
        """The chapter that teaches the term (two digits)."""
        return self.chapter

    @property
    def pattern(self) -> re.Pattern[str]:
        """How a chapter's text names the term: ``uses``, or each ``/``-separated part of the name as a word."""
        if self.uses:
            return re.compile(self.uses)
        parts = []
        for alt in re.sub(r"\s*\(.*\)$", "", self.name).split(" / "):
            alt = alt.strip().removesuffix("()")
            if re.fullmatch(r"[a-z -]+", alt):             # plain words: any case, plural too
                parts.append(rf"(?i:\b{re.escape(alt)}s?\b)")
            else:                                          # a kernel identifier or path: as written
                parts.append(rf"(?<![\w/]){re.escape(alt)}(?!\w)")
        return re.compile("|".join(parts))


#: Chapter numbers and titles (chapter 00's table).
CHAPTERS = {
    "00": "start here", "01": "pages, pfns and struct page", "02": "sections and memory blocks", "03": "the vmemmap",
    "04": "the altmap", "05": "memmap on memory", "06": "online and zones", "07": "offline and migration",
    "08": "pfn walkers", "09": "hot-remove", "10": "the test procedure", "11": "kernel versions and trade-offs",
    "12": "CXL memory and dax/kmem",
}

_G1, _G2, _G3, _G4, _G5, _G6, _G7 = ("Pages and the memmap", "Sections and memory blocks", "The altmap and "
                                     "memmap-on-memory", "Zones and the page allocator", "Offline, walkers and page "
                                     "flags", "Hot-add and hot-remove", "Observing and versions")
_G8 = "CXL memory, dax and kmem"
GROUPS = (_G1, _G2, _G3, _G4, _G5, _G6, _G7, _G8)

TERMS: tuple[Term, ...] = (
    # pages and the memmap
    Term("page (page frame)", "A PAGE_SIZE piece of physical memory: 4 KiB on x86_64, 4/16/64 KiB on arm64.",
         "arch/*/include/asm/page*.h", "01", _G1,
         uses=r"(?i:\bpage frames?\b|\bpages?\b)"),
    Term("pfn", "Page frame number: physical address >> PAGE_SHIFT (PHYS_PFN()).", "include/linux/pfn.h", "01", _G1),
    Term("struct page", "The kernel's 64-byte record of one page frame: flags, refcount, mapping, lru.",
         "include/linux/mm_types.h", "00", _G1),
    Term("memmap", "The array of struct pages, one per page frame: 1/64 of the memory it describes with 4 KiB pages.",
         "mm/sparse.c", "00", _G1),
    Term("vmemmap", "The virtually contiguous memmap: pfn_to_page(pfn) = vmemmap + pfn, mapped section by section.",
         "mm/sparse-vmemmap.c", "01", _G1),
    Term("PMD mapping", "A PMD-level page-table entry that maps 2 MiB directly on x86_64 (a huge mapping): "
         "vmemmap_populate_hugepages() maps the memmap in PMDs.",
         "arch/x86/mm/init_64.c", "01", _G1,
         uses=r"\bPMDs?\b"),
    # sections and blocks
    Term("SPARSEMEM", "The memory model that cuts physical memory into sections, so holes need no memmap.",
         "include/linux/mmzone.h", "02", _G2),
    Term("section", "1 << SECTION_SIZE_BITS bytes (128 MiB on x86_64) with one struct mem_section.",
         "include/linux/mmzone.h", "02", _G2,
         uses=r"(?i:\bsections?\b)"),
    Term("subsection", "2 MiB piece of a section, one bit in its subsection_map: hot-added RAM sets them all, "
         "a ZONE_DEVICE (persistent memory) range may set only some.",
         "include/linux/mmzone.h", "02", _G2),
    Term("present / online section", "SECTION_MARKED_PRESENT: the section has a memmap (hot-add); "
         "SECTION_IS_ONLINE: its pages are in use (online).", "mm/sparse.c", "02", _G2,
         uses=r"(?i:\b(present|online) sections?\b)|SECTION_MARKED_PRESENT|SECTION_IS_ONLINE"),
    Term("memory block", "One or more whole sections, the unit user space onlines, offlines and removes "
         "(/sys/devices/system/memory/memoryN).", "drivers/base/memory.c", "02", _G2,
         uses=r"(?i:\bmemory blocks?\b)"),
    Term("block_size_bytes", "The memory block size in hex. x86_64 derives it from where boot memory ends: 128 MiB "
         "below 64 GiB; at or above, 2 GiB on bare metal, in a VM the largest of 2 GiB-256 MiB the end is aligned to.",
         "drivers/base/memory.c, arch/x86/mm/init_64.c", "02", _G2),
    Term("phys_index", "A block's number in %08lx: its start address divided by the block size.",
         "drivers/base/memory.c", "02", _G2),
    # altmap and memmap on memory
    Term("altmap (struct vmem_altmap)", "A pfn range whose own pages hold its memmap; made for persistent memory, "
         "reused by memmap-on-memory, and kept in struct memory_block from 6.6.", "include/linux/memremap.h", "04",
         _G3,
         uses=r"(?i:\baltmaps?\b)|vmem_altmap\b"),
    Term("vmem_altmap fields", "base_pfn (first pfn), end_pfn, reserve (pfns kept for the driver), free (pfns set "
         "aside for the memmap), align (padding), alloc (pfns handed out).", "include/linux/memremap.h", "04", _G3,
         uses=r"\bbase_pfn\b"),
    Term("vmem_altmap_offset()", "reserve + free: the first pfn after the memmap, relative to base_pfn.",
         "mm/memremap.c", "04", _G3),
    Term("altmap_alloc_block_buf()", "The altmap's allocator: hands out aligned pfns, no fallback when free runs "
         "out.", "mm/sparse-vmemmap.c", "04", _G3),
    Term("memmap_on_memory", "Boot option memory_hotplug.memmap_on_memory=: put a hot-added block's memmap on the "
         "block itself (off by default; 6.6+ also 'force').", "mm/memory_hotplug.c", "05", _G3),
    Term("MHP_MEMMAP_ON_MEMORY", "The add_memory() flag asking for a self-hosted memmap; ACPI, and in 6.12 dax/kmem, "
         "ppc64 and s390 pass it.", "include/linux/memory_hotplug.h", "05", _G3),
    Term("mhp_supports_memmap_on_memory()", "Whether the memmap may live on the block: whole pages, whole "
         "pageblocks, PMD alignment, not the whole block (5.13-6.7: one block per add).", "mm/memory_hotplug.c",
         "05", _G3),
    Term("self-hosted memmap", "The memmap pages at the start of a block that describe the block itself.",
         "mm/memory_hotplug.c", "05", _G3,
         uses=r"(?i:\bself-host)"),
    Term("nr_vmemmap_pages", "How many pfns of a block hold its memmap (V = 512 for 128 MiB): kept in struct "
         "memory_block up to 6.5, as mem->altmap->free from 6.6.", "include/linux/memory.h", "05", _G3),
    Term("buddy_start_pfn", "start_pfn + nr_vmemmap_pages: the first pfn online_pages() gives to the buddy "
         "allocator.", "drivers/base/memory.c (memory_block_online())", "05", _G3),
    Term("per-block altmaps", "6.8+: create_altmaps_and_memory_blocks() gives every block of an add its own altmap "
         "at its own start (6.6-6.7 keep the one altmap of a single-block add in that block).", "mm/memory_hotplug.c",
         "04", _G3,
         uses=r"(?i:per-block altmaps?|one altmap per (memory )?block|its own altmap|own .?struct vmem_altmap)"),
    Term("force mode", "memmap_on_memory=force (6.6+): pad the memmap to whole pageblocks and waste the rest.",
         "mm/memory_hotplug.c", "05", _G3,
         uses=r"\bforce\b"),
    # zones and allocator
    Term("NUMA node", "A set of CPUs and memory close to each other; hot-plugged DIMMs are added to one.",
         "include/linux/mmzone.h (pg_data_t)", "01", _G4,
         uses=r"\bNUMA\b|\bnode ?\d\b"),
    Term("zone", "A range of a node's memory with one use: ZONE_DMA, ZONE_DMA32, ZONE_NORMAL, ZONE_MOVABLE, "
         "ZONE_DEVICE.", "include/linux/mmzone.h", "06", _G4,
         uses=r"(?i:\bzones?\b)|\bZONE_"),
    Term("ZONE_DMA / ZONE_DMA32", "Memory below 16 MiB / 4 GiB, for devices with short addresses.",
         "include/linux/mmzone.h", "06", _G4,
         uses=r"\bZONE_DMA(32)?\b|\bDMA(32)?\b"),
    Term("ZONE_NORMAL", "Memory for every allocation, kernel ones (unmovable) included.", "include/linux/mmzone.h",
         "06", _G4,
         uses=r"\bZONE_NORMAL\b|\bNormal\b"),
    Term("ZONE_MOVABLE", "Memory only for movable allocations, so it can be offlined again; what hot-pluggable "
         "memory is onlined to.", "include/linux/mmzone.h", "06", _G4,
         uses=r"\bZONE_MOVABLE\b|\bMovable\b"),
    Term("zonelist", "The ordered zones an allocation on a node may try: that node's from the highest down, then "
         "other nodes' by NUMA distance.", "mm/page_alloc.c build_zonelists()", "03", _G4,
         uses=r"(?i:\bzonelists?\b)"),
    Term("OOM killer", "The out-of-memory killer: when reclaim cannot free enough, it ends a process to free its "
         "memory; __GFP_RETRY_MAYFAIL allocations fail instead of invoking it.", "mm/oom_kill.c", "03", _G4,
         uses=r"\bOOM killer\b|(?i:\bout-of-memory killer\b)"),
    Term("CMA", "The contiguous memory allocator: a region reserved at boot that only movable pages may borrow, so "
         "drivers can later get large physically contiguous buffers (dmesg's cma-reserved, zoneinfo's cma).",
         "mm/cma.c", "03", _G4, uses=r"\bCMA\b|cma-reserved"),
    Term("highmem", "On 32-bit machines, the memory the kernel cannot keep permanently mapped (ZONE_HIGHMEM); "
         "x86_64 has none.", "include/linux/highmem.h", "06", _G4, uses=r"(?i:\bhighmem\b)|ZONE_HIGHMEM"),
    Term("lowmem_reserve", "Pages a lower zone adds to its watermarks for an allocation that could have used a "
         "higher zone (/proc/zoneinfo's protection).", "mm/page_alloc.c setup_per_zone_lowmem_reserve()", "03", _G4),
    Term("spanned / present / managed", "Zone counts: pfns from first to last / pfns that exist / pfns the buddy "
         "allocator manages (present minus memmap and reservations).", "mm/vmstat.c (/proc/zoneinfo)", "06", _G4,
         uses=r"\bspanned\b|\bmanaged\b"),
    Term("online type", "What is written to memoryN/state: online, online_kernel, online_movable, offline "
         "(MMOP_*).", "drivers/base/memory.c", "06", _G4,
         uses=r"(?i:\bonline types?\b)|\bonline_(kernel|movable)\b"),
    Term("valid_zones", "memoryN/valid_zones: the zones an offline block could be onlined to, or the zone of an "
         "online one.", "drivers/base/memory.c", "02", _G4),
    Term("memhp_default_state / auto_online_blocks", "The online type a hot-added block gets automatically: "
         "offline by the upstream default; Debian's 6.12 and 7.2 builds auto-online (online); 5.10 and 6.1 offline.",
         "mm/memory_hotplug.c", "06", _G4),
    Term("memory group", "The blocks of one DIMM (static) or one virtio-mem device (dynamic), counted together "
         "(5.15+).", "include/linux/memory.h", "06", _G4),
    Term("auto-movable", "online_policy=auto-movable (5.15+): plain online picks ZONE_MOVABLE while the memory "
         "group has no kernel memory and movable memory, this block included, stays at or below auto_movable_ratio "
         "(301 %) of the kernel memory present at boot, over all nodes and (auto_movable_numa_aware, the default) on "
         "the block's node; else the kernel zone.", "mm/memory_hotplug.c", "06", _G4),
    Term("buddy allocator", "The page allocator: free memory kept as blocks of 2^order pages (order 0..10), "
         "split and merged in pairs.", "mm/page_alloc.c", "01", _G4,
         uses=r"(?i:\bbuddy\b)"),
    Term("pageblock", "pageblock_nr_pages pfns (512 = 2 MiB on x86_64) sharing one migratetype.",
         "include/linux/pageblock-flags.h", "01", _G4,
         uses=r"(?i:\bpageblocks?\b)"),
    Term("migratetype", "A pageblock's kind: MIGRATE_UNMOVABLE, MOVABLE, RECLAIMABLE, HIGHATOMIC, ISOLATE.",
         "include/linux/mmzone.h", "01", _G4,
         uses=r"(?i:\bmigratetypes?\b)|\bMIGRATE_[A-Z]+"),
    Term("pcp list", "Per-cpu lists of free order-0 (and small) pages, refilled from the buddy in batches.",
         "mm/page_alloc.c", "07", _G4,
         uses=r"\bpcp\b|(?i:per-cpu (free )?lists?)"),
    # offline, walkers, flags
    Term("offline_pages()", "Isolate a block's pageblocks, migrate its movable pages, take its free pages out of "
         "the buddy.", "mm/memory_hotplug.c", "07", _G5),
    Term("isolation (MIGRATE_ISOLATE)", "Marking pageblocks so the allocator hands nothing out of them; fails with "
         "EBUSY on an unmovable page.", "mm/page_isolation.c", "07", _G5,
         uses=r"(?i:\bisolat(e|es|ed|ing|ion)\b)|MIGRATE_ISOLATE"),
    Term("has_unmovable_pages()", "The isolation test: PageReserved pages, and in kernel zones any non-movable "
         "page, block it.", "mm/page_isolation.c", "07", _G5),
    Term("LRU list", "The lists (active / inactive, anonymous / file) of the pages processes use, which reclaim "
         "scans; a page on one (PageLRU) can be isolated and migrated.", "include/linux/mmzone.h, mm/vmscan.c",
         "07", _G5, uses=r"\bLRU\b"),
    Term("migration", "Copying a movable page to a new frame and switching its mappings over.", "mm/migrate.c",
         "07", _G5,
         uses=r"(?i:\bmigrat(e|es|ed|ing|ion)\b)"),
    Term("pfn walker", "Kernel code that loops over pfns and reads their struct pages (compaction, page_owner, "
         "memory offline, /proc/kpageflags).", "mm/compaction.c, mm/page_owner.c", "08", _G5,
         uses=r"(?i:\bwalkers?\b)"),
    Term("pfn_to_online_page()", "A pfn's struct page if its section is online, else NULL: every walker's gate.",
         "mm/memory_hotplug.c", "08", _G5),
    Term("PageReserved", "PG_reserved: a page the allocator does not own; walkers skip it. The self-hosted memmap "
         "has it in 5.13-6.10.", "include/linux/page-flags.h", "05", _G5,
         uses=r"\bPageReserved\b|\bPG_reserved\b"),
    Term("VmemmapSelfHosted", "PG_vmemmap_self_hosted (= PG_owner_priv_1, 6.0+): the page holds its block's own "
         "memmap; from 6.11 the only mark those pages carry.", "include/linux/page-flags.h", "05", _G5,
         uses=r"VmemmapSelfHosted|PG_vmemmap_self_hosted"),
    Term("PageOffline", "A page type for memory logically offline (balloons, virtio-mem); 6.11+ initialise "
         "hot-added memmaps with it instead of PageReserved.", "include/linux/page-flags.h", "05", _G5),
    Term("/proc/kpageflags", "One 64-bit word of KPF_* bits per pfn: BUDDY 10, NOPAGE 20, RESERVED 32, "
         "OWNER_PRIVATE 37.", "fs/proc/page.c", "01", _G5,
         uses=r"\bkpageflags\b"),
    Term("PG_anon_exclusive", "Flag (5.19+) of an anonymous page that one process maps alone; it reuses "
         "PG_mappedtodisk's bit, so /proc/kpageflags reads bit 34 on it.", "include/linux/page-flags.h", "08", _G5),
    Term("watermarks (min / low / high)", "A zone's free-page levels: below low kswapd reclaims until high; below "
         "min only reserve users (__GFP_HIGH, PF_MEMALLOC) allocate. From min_free_kbytes; 6.12 caps "
         "ZONE_MOVABLE's min like highmem's.", "mm/page_alloc.c", "06", _G4,
         uses=r"(?i:\bwatermarks?\b)"),
    Term("THP (transparent huge pages)", "Anonymous memory mapped with 2 MiB pages (one PMD entry each) where a "
         "free, aligned 2 MiB block exists; it raises min_free_kbytes.", "mm/huge_memory.c", "06", _G4),
    Term("slab / SLUB", "SLUB, the kernel's allocator of small objects, carves them out of slabs: pages whose "
         "struct page is reused as struct slab.", "mm/slub.c, mm/slab.h", "07", _G5,
         uses=r"SLUB|(?i:slabs?)|struct slab"),
    Term("folio", "The kernel's handle (5.16+) for one page or a compound page treated as one unit; most mm code "
         "now takes folios rather than pages.", "include/linux/mm_types.h", "07", _G5, uses=r"(?i:\bfolios?\b)"),
    Term("LIST_POISON2", "0xdead000000000122 on x86_64: what list_del() leaves in a removed entry's prev pointer, "
         "so that using it afterwards faults.", "include/linux/poison.h", "07", _G5),
    Term("the kernel's own pages", "Unmovable pages (slab, page tables) the kernel itself allocates in a kernel-zone "
         "block; offline refuses the block with EBUSY; how many varies from run to run.", "mm/page_alloc.c", "07",
         _G5, uses=r"(?i:kernel's own (pages?|slab))"),
    Term("compaction", "Moving movable pages (migrate scanner) into free pages (free scanner) to make large free "
         "blocks.", "mm/compaction.c", "08", _G5,
         uses=r"(?i:\bcompact(ion|ing|ed)?\b)"),
    Term("alloc_contig_range()", "Allocate a given pfn range by isolating and migrating it; used for 1 GiB "
         "gigantic pages and CMA.", "mm/page_alloc.c", "08", _G5),
    Term("hugetlb", "Huge pages (2 MiB or 1 GiB on x86_64) an administrator reserves in advance for programs that "
         "ask for them explicitly (hugetlbfs, MAP_HUGETLB); unlike THP, the kernel does not hand them out on its own.",
         "mm/hugetlb.c", "05", _G4, uses=r"(?i:\bhugetlb\b)"),
    Term("gigantic page", "A hugetlb page larger than the buddy's largest block (1 GiB on x86_64), taken by "
         "alloc_contig_pages() from kernel zones only (ZONE_MOVABLE only with 6.19's vm.movable_gigantic_pages=1).",
         "mm/hugetlb.c",
         "08", _G5,
         uses=r"(?i:\bgigantic\b)"),
    # add and remove
    Term("DIMM (pc-dimm)", "QEMU's hot-pluggable memory device: device_add / device_del through the monitor.",
         "QEMU hw/mem/pc-dimm.c", "05", _G6,
         uses=r"\bDIMMs?\b|\bpc-dimm\b"),
    Term("add_memory_resource()", "Hot-add: sections, memmap (maybe self-hosted) and memory block devices for a "
         "range.", "mm/memory_hotplug.c", "05", _G6),
    Term("hot-remove", "remove_memory() / try_remove_memory(): tear down offline blocks, their memmap and "
         "sections.", "mm/memory_hotplug.c", "09", _G6,
         uses=r"(?i:\bhot-?remov(e|ed|es|ing|al)\b)|\btry_remove_memory\b"),
    Term("ACPI eject", "device_del: acpi_scan_try_to_offline() offlines every block in two passes, then removes "
         "the memory; \"Offline failed.\" otherwise.", "drivers/acpi/scan.c, drivers/acpi/acpi_memhotplug.c", "09",
         _G6,
         uses=r"(?i:\beject(s|ed|ing)?\b)"),
    Term("wrong granularity", "5.13-6.7 refuse to remove a self-hosted range that is not exactly one memory block "
         "(EINVAL).", "mm/memory_hotplug.c", "09", _G6),
    Term("MAX_PHYSMEM_BITS", "Physical address bits: 46 on x86_64 with 4-level paging, 52 with 5-level; hot-add "
         "ending above 2^bits fails with E2BIG (the whole 2^46 needs CONFIG_ZONE_DEVICE=y under KASLR).",
         "arch/x86/include/asm/sparsemem.h", "03", _G6),
    # observing and versions
    Term("/proc/zoneinfo", "Per node and zone: free pages, watermarks, spanned, present, managed.", "mm/vmstat.c",
         "06", _G7,
         uses=r"\bzoneinfo\b"),
    Term("node meminfo", "/sys/devices/system/node/nodeN/meminfo: MemTotal (managed kB), MemFree, ...",
         "drivers/base/node.c", "06", _G7,
         uses=r"(?i:\bnode meminfo\b|node(\d+|N)/meminfo|node's .?meminfo)"),
    Term("numactl -H", "Nodes, CPUs, size and free in MB (MemTotal and MemFree >> 10), distances.", "numactl",
         "06", _G7,
         uses=r"\bnumactl\b"),
    Term("nr_memmap_pages", "/proc/vmstat (6.11+): memmap pages allocated after boot, self-hosted ones included.",
         "mm/vmstat.c", "01", _G7),
    Term("capture / replay", "A real kernel's files after each step of a scenario, and the model run through the "
         "same steps and compared field by field.", "workbook/replay.py", "10", _G7,
         uses=r"(?i:\bcaptures?\b|\breplay(s|ed)?\b)"),
    Term("KSM", "Kernel samepage merging: a daemon that merges identical anonymous pages of processes that "
         "ask for it (madvise MADV_MERGEABLE) into one shared page.", "mm/ksm.c", "10", _G7, uses=r"\bKSM\b"),
    Term("HVO", "HugeTLB Vmemmap Optimisation: frees most memmap pages of hugetlb pages; 5.14-5.19 exclude it with "
         "memmap_on_memory, 6.0+ skip self-hosted memmaps.", "mm/hugetlb_vmemmap.c", "11", _G7,
         uses=r"\bHVO\b|(?i:vmemmap optimi[sz]ation)"),
    # CXL memory, dax and kmem
    Term("CXL memory expander", "Memory on a CXL (PCIe) device; Linux hot-adds it through a dax device and kmem, "
         "not as a DIMM.", "drivers/cxl/, drivers/dax/cxl.c", "12", _G8,
         uses=r"\bCXL\b"),
    Term("Soft Reserved (EFI_MEMORY_SP)", "\"Specific purpose\" memory the firmware map reserves for a driver "
         "(e820 type 0xefffffff): not RAM at boot, its node memoryless.", "arch/x86/kernel/e820.c", "12", _G8,
         uses=r"Soft Reserved"),
    Term("memmap=nn%ss-1+0xefffffff", "Kernel command line: turn the usable RAM (type 1) at ss..ss+nn into Soft "
         "Reserved, as firmware would.", "arch/x86/kernel/e820.c parse_memmap_one()", "12", _G8,
         uses=r"memmap=\S*%\S*-1\+0xefffffff"),
    Term("hmem / dax_hmem", "Makes each Soft Reserved range a dax region with one device; 6.3+ registers "
         "hmem_platform.0 at boot and hmem.N when dax_hmem loads.", "drivers/dax/hmem/", "12", _G8,
         uses=r"\bdax_hmem\b|\bhmem\b"),
    Term("dax device (daxX.Y)", "A part of a dax region in /sys/bus/dax/devices: size, target_node, align, resource, "
         "mappingN/, and the driver that holds it.", "drivers/dax/bus.c", "12", _G8,
         uses=r"\bdax\d+\.\d+\b|(?i:dax devices?\b)"),
    Term("device_dax", "The dax driver that exposes a device as /dev/daxX.Y; its memmap sits in ZONE_DEVICE, never "
         "System RAM.", "drivers/dax/device.c", "12", _G8),
    Term("kmem", "The dax driver that hot-adds a device's memory blocks as System RAM (kmem) and removes them when "
         "it unbinds.", "drivers/dax/kmem.c", "12", _G8),
    Term("add_memory_driver_managed()", "Hot-add memory a driver manages, named \"System RAM ($DRIVER)\" so a "
         "kexec'd kernel does not take it as RAM.", "mm/memory_hotplug.c", "12", _G8,
         uses=r"add_memory_driver_managed\(\)"),
    Term("dax memmap_on_memory", "/sys/bus/dax/devices/daxX.Y/memmap_on_memory (6.8+): kmem passes "
         "MHP_MEMMAP_ON_MEMORY; EBUSY to change it while kmem holds the device.", "drivers/dax/bus.c", "12", _G8,
         uses=r"dax\S*/memmap_on_memory|(?i:the (dax )?attribute)"),
    Term("bind / unbind / new_id", "Driver files: bind or unbind a named device by hand; new_id adds a name to the "
         "dax driver's match list.", "drivers/base/bus.c, drivers/dax/bus.c", "12", _G8,
         uses=r"\b(bind|unbind|new_id)\b"),
    Term("ZONE_DEVICE", "The zone of device memory with a memmap but no buddy pages; its span never shrinks.",
         "mm/memremap.c", "02", _G8),
    Term("memory tier", "Nodes grouped by abstract distance (DRAM tier 4, kmem's memory tier 22 without HMAT data); "
         "with demotion_enabled, reclaim demotes to lower tiers, nearest first.", "mm/memory-tiers.c", "12", _G8,
         uses=r"(?i:memory[ _]tiers?)"),
    Term("SRAT", "ACPI's System Resource Affinity Table: which NUMA node each memory range and CPU belongs to, and "
         "which ranges are hotpluggable.", "drivers/acpi/numa/srat.c", "10", _G8, uses=r"\bSRAT\b"),
    Term("HMAT", "ACPI's Heterogeneous Memory Attribute Table: latency and bandwidth per node; 6.7+ derive a node's "
         "abstract distance (memory tier) from it.", "drivers/acpi/numa/hmat.c", "12", _G8, uses=r"\bHMAT\b"),
    Term("daxctl", "ndctl's tool: reconfigure-device --mode=system-ram writes remove_id, unbind, new_id, bind, then "
         "onlines the blocks.", "ndctl daxctl/", "12", _G8,
         uses=r"\bdaxctl\b"),
)


#: Lines that name terms without using them: chapter 00's table of contents (``| 05 | memmap on memory | ...``)
#: and the "**Next:**" pointer that ends a chapter.
_NOT_A_USE = re.compile(r"^\s*\|\s*(\d\d)?\s*\|\s*(glossary|[a-z][a-z ,-]*)\s*\|.*$|^\*\*Next:\*\*.*$", re.M)
_TEACHER_SPAN = re.compile(r"<!-- teacher-only -->.*?<!-- /teacher-only -->", re.S)


def chapters_dir() -> Path | None:
    """The chapter notebooks: ``chapters/`` of a checkout, else the copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for d in (here.parent / "chapters", here.parent / "workbook" / "_chapters"):
        if any(d.glob("00_*.ipynb")):
            return d
    return None


def chapter_texts(directory: Path | None = None) -> dict[str, str]:
    """What a reader reads of each chapter 00-11: markdown and code, without solutions and teacher-only passages.

    Stored outputs are left out (they print the model's values, not the chapter's words), and
    so are chapter 00's table of contents and each chapter's closing "**Next:**" line.
    """
    directory = directory or chapters_dir()
    texts: dict[str, str] = {}
    if directory is None:
        return texts
    for number in CHAPTERS:
        found = sorted(Path(directory).glob(f"{number}_*.ipynb"))
        if not found:
            continue
        cells = json.loads(found[0].read_text())["cells"]
        parts = []
        for c in cells:
            tags = c.get("metadata", {}).get("tags", [])
            if "solution" in tags or "teacher-only" in tags:
                continue
            source = "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            if c["cell_type"] == "markdown":
                source = _NOT_A_USE.sub("", _TEACHER_SPAN.sub("", source))
            parts.append(source)
        texts[number] = "\n".join(parts)
    return texts


def first_uses(texts: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """For each term, the first chapter (in reading order) whose text names it, or None if none does."""
    texts = chapter_texts() if texts is None else texts
    order = sorted(texts)
    return {t.name: next((c for c in order if t.pattern.search(texts[c])), None) for t in TERMS}


@functools.lru_cache(maxsize=1)
def _first_uses_of_installed_chapters() -> dict[str, str | None]:
    return first_uses(chapter_texts())


def _chapter_label(number: str | None) -> str:
    return f"{number} {CHAPTERS[number]}" if number else "-"


def table_markdown(group: str, first: Mapping[str, str | None] | None = None) -> str:
    """The glossary chapter's markdown cell for ``group``: a heading and one row per term."""
    first = _first_uses_of_installed_chapters() if first is None else first
    rows = [f"## {group}", "", "| term | meaning | kernel source | first used in | defined in |",
            "|---|---|---|---|---|"]
    for t in TERMS:
        if t.group != group:
            continue
        rows.append(f"| **{t.name}** | {t.meaning} | `{t.where}` | {_chapter_label(first.get(t.name))} | "
                     f"{_chapter_label(t.defined)} |".replace("|**", "| **"))
    return "\n".join(rows)


def find(text: str, group: str | None = None) -> list[Term]:
    """The terms whose name, meaning or source file mention ``text`` (case-insensitive), optionally of one group."""
    t = text.strip().lower()
    return [x for x in TERMS if (group is None or x.group == group)
            and (not t or t in x.name.lower() or t in x.meaning.lower() or t in x.where.lower())]


class GlossaryLookup:
    """A search box and a group filter over :data:`TERMS`."""

    def __init__(self, query: str = "", group: str = "all") -> None:
        """Build the controls and show the matches of ``query``."""
        self.query = Text(value=query, placeholder="search: altmap, zone, kpageflags ...", description="search",
                          continuous_update=True)
        self.group = Dropdown(options=["all", *GROUPS], value=group, description="group")
        self.output = HTML()
        self.query.observe(lambda _c: self.refresh(), names="value")
        self.group.observe(lambda _c: self.refresh(), names="value")
        self.widget = VBox([HBox([self.query, self.group]), self.output])
        self.refresh()

    def matches(self) -> list[Term]:
        """The terms shown now."""
        return find(self.query.value, None if self.group.value == "all" else self.group.value)

    def refresh(self) -> None:
        """Redraw the table."""
        rows = self.matches()
        first = _first_uses_of_installed_chapters()
        self.output.value = (
            f"<div class='glossary' data-count='{len(rows)}'><table style='font-size:12px'>"
            "<tr><th style='text-align:left'>term</th><th style='text-align:left'>meaning</th>"
            "<th style='text-align:left'>kernel source</th><th>first used in</th><th>defined in</th></tr>"
            + "".join(f"<tr><td><b>{esc(x.name)}</b></td><td>{esc(x.meaning)}</td><td><code>{esc(x.where)}</code>"
                      f"</td><td>{first.get(x.name) or '-'}</td><td>{x.defined}</td></tr>" for x in rows)
            + "</table></div>" if rows else "<div class='glossary' data-count='0'><i>no term matches</i></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
