"""/proc files and tool output in the kernel's exact formats (mm/vmstat.c, fs/proc/*.c, drivers/base/node.c).

The formats are byte-exact; the values are the model's.  Counters the model does not
track (page cache, file LRU, reclaim and fault events, ...) print 0 for hot-added
memory; boot memory is described by counts only (see ``machine.py``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .mmzone import MAX_NR_ZONES, ZONE_NAMES
from .pagemap import KPF, MIGRATE_TYPES, MIGRATETYPE_NAMES, kind_table

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["zoneinfo", "buddyinfo", "pagetypeinfo", "meminfo", "node_meminfo", "vmstat", "iomem",
           "kpageflags", "numactl_hardware", "node_vmstat", "NODE_STATS_6_1", "NODE_STATS_6_12"]

NODE_STATS_6_1 = (
    "nr_inactive_anon nr_active_anon nr_inactive_file nr_active_file nr_unevictable nr_slab_reclaimable "
    "nr_slab_unreclaimable nr_isolated_anon nr_isolated_file workingset_nodes workingset_refault_anon "
    "workingset_refault_file workingset_activate_anon workingset_activate_file workingset_restore_anon "
    "workingset_restore_file workingset_nodereclaim nr_anon_pages nr_mapped nr_file_pages nr_dirty "
    "nr_writeback nr_writeback_temp nr_shmem nr_shmem_hugepages nr_shmem_pmdmapped nr_file_hugepages "
    "nr_file_pmdmapped nr_anon_transparent_hugepages nr_vmscan_write nr_vmscan_immediate_reclaim "
    "nr_dirtied nr_written nr_throttled_written nr_kernel_misc_reclaimable nr_foll_pin_acquired "
    "nr_foll_pin_released nr_kernel_stack nr_page_table_pages nr_sec_page_table_pages nr_swapcached "
    "pgpromote_success pgpromote_candidate").split()
NODE_STATS_6_12 = (" ".join(NODE_STATS_6_1).replace("nr_sec_page_table_pages", "nr_sec_page_table_pages nr_iommu_pages")
                   + " pgdemote_kswapd pgdemote_direct pgdemote_khugepaged").split()
ZONE_STATS_6_1 = ("nr_free_pages nr_zone_inactive_anon nr_zone_active_anon nr_zone_inactive_file "
                  "nr_zone_active_file nr_zone_unevictable nr_zone_write_pending nr_mlock nr_bounce "
                  "nr_zspages nr_free_cma").split()
ZONE_STATS_6_12 = ZONE_STATS_6_1 + ["nr_unaccepted"]
NUMA_STATS = "numa_hit numa_miss numa_foreign numa_interleave numa_local numa_other".split()
_EVENTS_6_1 = (
    "pgpgin pgpgout pswpin pswpout pgalloc_dma pgalloc_dma32 pgalloc_normal pgalloc_movable pgalloc_device "
    "allocstall_dma allocstall_dma32 allocstall_normal allocstall_movable allocstall_device pgskip_dma "
    "pgskip_dma32 pgskip_normal pgskip_movable pgskip_device pgfree pgactivate pgdeactivate pglazyfree "
    "pgfault pgmajfault pglazyfreed pgrefill pgreuse pgsteal_kswapd pgsteal_direct pgdemote_kswapd "
    "pgdemote_direct pgscan_kswapd pgscan_direct pgscan_direct_throttle pgscan_anon pgscan_file "
    "pgsteal_anon pgsteal_file zone_reclaim_failed pginodesteal slabs_scanned kswapd_inodesteal "
    "kswapd_low_wmark_hit_quickly kswapd_high_wmark_hit_quickly pageoutrun pgrotated drop_pagecache "
    "drop_slab oom_kill numa_pte_updates numa_huge_pte_updates numa_hint_faults numa_hint_faults_local "
    "numa_pages_migrated pgmigrate_success pgmigrate_fail thp_migration_success thp_migration_fail "
    "thp_migration_split compact_migrate_scanned compact_free_scanned compact_isolated compact_stall "
    "compact_fail compact_success compact_daemon_wake compact_daemon_migrate_scanned "
    "compact_daemon_free_scanned htlb_buddy_alloc_success htlb_buddy_alloc_fail unevictable_pgs_culled "
    "unevictable_pgs_scanned unevictable_pgs_rescued unevictable_pgs_mlocked unevictable_pgs_munlocked "
    "unevictable_pgs_cleared unevictable_pgs_stranded thp_fault_alloc thp_fault_fallback "
    "thp_fault_fallback_charge thp_collapse_alloc thp_collapse_alloc_failed thp_file_alloc "
    "thp_file_fallback thp_file_fallback_charge thp_file_mapped thp_split_page thp_split_page_failed "
    "thp_deferred_split_page thp_split_pmd thp_scan_exceed_none_pte thp_scan_exceed_swap_pte "
    "thp_scan_exceed_share_pte thp_split_pud thp_zero_page_alloc thp_zero_page_alloc_failed thp_swpout "
    "thp_swpout_fallback balloon_inflate balloon_deflate balloon_migrate swap_ra swap_ra_hit "
    "ksm_swpin_copy cow_ksm zswpin zswpout direct_map_level2_splits direct_map_level3_splits nr_unstable").split()
_EVENTS_6_12 = (" ".join(_EVENTS_6_1)
                .replace("pgsteal_direct pgdemote_kswapd pgdemote_direct pgscan_kswapd pgscan_direct",
                         "pgsteal_direct pgsteal_khugepaged pgscan_kswapd pgscan_direct pgscan_khugepaged")
                .replace("pgsteal_file zone_reclaim_failed", "pgsteal_file zone_reclaim_success zone_reclaim_failed")
                .replace("thp_deferred_split_page thp_split_pmd", "thp_deferred_split_page thp_underused_split_page thp_split_pmd")
                .replace("swap_ra_hit ksm_swpin_copy", "swap_ra_hit swpin_zero swpout_zero ksm_swpin_copy")
                .replace("zswpout direct_map", "zswpout zswpwb direct_map")).split()


def _node_stats(m: "Machine") -> list[str]:
    return NODE_STATS_6_12 if m.kernel.vmstat_names_6_12 else NODE_STATS_6_1


def _zone_stats(m: "Machine") -> list[str]:
    return ZONE_STATS_6_12 if m.kernel.vmstat_names_6_12 else ZONE_STATS_6_1


def _node_stat_value(m: "Machine", nid: int, name: str) -> int:
    s = m.nodes[nid].stats
    if name == "nr_anon_transparent_hugepages":
        return s.get(name, 0)
    if name == "nr_kernel_stack":
        return 0
    return s.get(name, 0)


def _zone_free(z) -> int:
    return z.nr_free_pages


def _zone_stat_value(m: "Machine", z, name: str) -> int:
    if name == "nr_free_pages":
        return _zone_free(z)
    return z.stats.get(name, 0)


def _stat_threshold(m: "Machine", z) -> int:
    """calculate_normal_threshold()."""
    mem = z.managed_pages >> (27 - m.arch.page_shift)
    fls = lambda x: x.bit_length()  # noqa: E731
    return min(125, 2 * fls(len(m.cpus)) * (1 + fls(mem)))


def zoneinfo(m: "Machine") -> str:
    """/proc/zoneinfo (zoneinfo_show_print())."""
    out = []
    for nid in sorted(m.nodes):
        node = m.nodes[nid]
        first_populated = next((z.idx for z in node.zones if z.populated()), None)
        for z in node.zones:
            s = f"Node {nid}, zone {z.name:>8}"
            if z.idx == first_populated:
                s += "\n  per-node stats"
                for name in _node_stats(m):
                    s += f"\n      {name:<12} {_node_stat_value(m, nid, name)}"
            s += f"\n  pages free     {_zone_free(z)}"
            if m.kernel.zoneinfo_boost_cma:
                s += "\n        boost    0"
            s += (f"\n        min      {z.watermark[0]}"
                  f"\n        low      {z.watermark[1]}"
                  f"\n        high     {z.watermark[2]}")
            if m.kernel.zoneinfo_promo:
                s += f"\n        promo    {z.watermark[3]}"
            s += (f"\n        spanned  {z.spanned_pages}"
                  f"\n        present  {z.present_pages}"
                  f"\n        managed  {z.managed_pages}")
            if m.kernel.zoneinfo_boost_cma:
                s += "\n        cma      0"
            s += "\n        protection: (" + ", ".join(str(v) for v in z.lowmem_reserve) + ")"
            if not z.populated():
                out.append(s + "\n")
                continue
            for name in _zone_stats(m):
                s += f"\n      {name:<12} {_zone_stat_value(m, z, name)}"
            for name in NUMA_STATS:
                s += f"\n      {name:<12} {z.stats.get(name, 0)}"
            s += "\n  pagesets"
            for cpu in sorted(m.cpu_online):           # for_each_online_cpu()
                pcp = z.pcp.get(cpu)
                count, high, batch = (pcp.count, pcp.high, pcp.batch) if pcp else (0, 0, 1)
                s += (f"\n    cpu: {cpu}"
                      f"\n              count: {count}"
                      f"\n              high:  {high}"
                      f"\n              batch: {batch}"
                      f"\n  vm stats threshold: {_stat_threshold(m, z)}")
            s += f"\n  node_unreclaimable:  0\n  start_pfn:           {z.zone_start_pfn}"
            out.append(s + "\n")
    return "".join(out)


def _boot_free_by_order(m: "Machine", z) -> np.ndarray:
    """Boot memory is counted, not placed: shown as max-order blocks plus the binary remainder."""
    orders = np.zeros(z.nr_orders, dtype=np.int64)
    free = z.boot_free
    mo = z.nr_orders - 1
    orders[mo] = free >> mo
    rem = free & ((1 << mo) - 1)
    for o in range(mo):
        if rem >> o & 1:
            orders[o] += 1
    return orders


def buddyinfo(m: "Machine") -> str:
    """/proc/buddyinfo (frag_show_print()): free blocks per order, populated zones only."""
    out = []
    for nid in sorted(m.nodes):
        for z in m.nodes[nid].zones:
            if not z.populated():
                continue
            per_order = z.nr_free[:, :4].sum(axis=1) + _boot_free_by_order(m, z)
            out.append(f"Node {nid}, zone {z.name:>8} " + "".join(f"{int(v):6d} " for v in per_order) + "\n")
    return "".join(out)


def pagetypeinfo(m: "Machine") -> str:
    """/proc/pagetypeinfo (pagetypeinfo_show()): per node with memory, free blocks and pageblocks per migratetype."""
    pb = m.arch.pageblock_order
    out = []
    for nid in sorted(m.nodes):
        node = m.nodes[nid]
        if not node.has_memory():
            continue
        out.append(f"Page block order: {pb}\nPages per block:  {1 << pb}\n\n")
        out.append(f"{'Free pages count per migrate type at order':<43} " +
                   "".join(f"{o:6d} " for o in range(m.arch.nr_page_orders)) + "\n")
        for z in node.zones:
            if not z.populated():
                continue
            for mt in range(MIGRATE_TYPES):
                row = z.nr_free[:, mt].copy()
                if mt == 1:
                    row = row + _boot_free_by_order(m, z)
                out.append(f"Node {nid:4d}, zone {z.name:>8}, type {MIGRATETYPE_NAMES[mt]:>12} " +
                           "".join(f"{int(v):6d} " for v in row) + "\n")
        out.append(f"\n{'Number of blocks type ':<23}" + "".join(f"{n:>12} " for n in MIGRATETYPE_NAMES) + "\n")
        for z in node.zones:
            if not z.populated():
                continue
            counts = np.zeros(MIGRATE_TYPES, dtype=np.int64)
            boot = sum(hi - lo for lo, hi in m.boot_zone_ranges(z))
            counts[1] += -(-boot // (1 << pb))
            for b in m.blocks.values():
                if b.zone is not z or b.boot:
                    continue
                if b.pagemap is not None:
                    counts += np.bincount(b.pagemap.pb_mt, minlength=MIGRATE_TYPES)[:MIGRATE_TYPES]
                else:
                    v = b.vmemmap_pages >> pb
                    counts[0] += v
                    counts[1] += (b.nr_pages >> pb) - v
            out.append(f"Node {nid}, zone {z.name:>8} " + "".join(f"{int(c):12d} " for c in counts) + "\n")
    return "".join(out)


def _kb(m: "Machine", pages: int) -> int:
    return pages * (m.arch.page_size >> 10)


def meminfo(m: "Machine") -> str:
    """/proc/meminfo (fs/proc/meminfo.c); the model fills what it tracks, the rest is 0."""
    total = sum(n.managed_pages() for n in m.nodes.values())
    free = sum(_zone_free(z) for n in m.nodes.values() for z in n.zones)
    anon = sum(n.stats["nr_anon_pages"] for n in m.nodes.values())
    thp = sum(n.stats["nr_anon_transparent_hugepages"] for n in m.nodes.values())
    slab = sum(n.stats["nr_slab_unreclaimable"] for n in m.nodes.values())
    reserve = sum(z.high_wmark for n in m.nodes.values() for z in n.zones)
    fields = [("MemTotal", _kb(m, total)), ("MemFree", _kb(m, free)),
              ("MemAvailable", _kb(m, max(free - reserve, 0))), ("Buffers", 0), ("Cached", 0),
              ("SwapCached", 0), ("Active", _kb(m, anon)), ("Inactive", 0), ("Active(anon)", _kb(m, anon)),
              ("Inactive(anon)", 0), ("Active(file)", 0), ("Inactive(file)", 0), ("Unevictable", 0),
              ("Mlocked", 0), ("SwapTotal", 0), ("SwapFree", 0), ("Zswap", 0), ("Zswapped", 0), ("Dirty", 0),
              ("Writeback", 0), ("AnonPages", _kb(m, anon)), ("Mapped", 0), ("Shmem", 0), ("KReclaimable", 0),
              ("Slab", _kb(m, slab)), ("SReclaimable", 0), ("SUnreclaim", _kb(m, slab)), ("KernelStack", 0),
              ("PageTables", 0), ("SecPageTables", 0), ("NFS_Unstable", 0), ("Bounce", 0), ("WritebackTmp", 0),
              ("CommitLimit", _kb(m, total // 2)), ("Committed_AS", _kb(m, anon)),
              ("VmallocTotal", 34359738367), ("VmallocUsed", 0), ("VmallocChunk", 0), ("Percpu", 0),
              ("HardwareCorrupted", 0), ("AnonHugePages", _kb(m, thp << (m.arch.pmd_shift - m.arch.page_shift))),
              ("ShmemHugePages", 0), ("ShmemPmdMapped", 0), ("FileHugePages", 0), ("FilePmdMapped", 0)]
    if m.kernel.node_meminfo_6_12:
        fields.append(("Unaccepted", 0))
    lines = [f"{k + ':':<15}{v:>9} kB" if k != "VmallocTotal" else f"{k + ':':<15}{v:>9} kB" for k, v in fields]
    lines += ["HugePages_Total:       0", "HugePages_Free:        0", "HugePages_Rsvd:        0",
              "HugePages_Surp:        0", f"Hugepagesize:       {1 << (m.arch.pmd_shift - 10)} kB",
              "Hugetlb:               0 kB"]
    return "\n".join(lines) + "\n"


def node_meminfo(m: "Machine", nid: int) -> str:
    """/sys/devices/system/node/nodeN/meminfo (node_read_meminfo())."""
    node = m.nodes[nid]
    total = node.managed_pages()
    free = sum(_zone_free(z) for z in node.zones)
    anon = node.stats["nr_anon_pages"]
    slab = node.stats["nr_slab_unreclaimable"]
    thp = node.stats["nr_anon_transparent_hugepages"] << (m.arch.pmd_shift - m.arch.page_shift)
    v = {"MemTotal": total, "MemFree": free, "MemUsed": total - free, "Active": anon, "Active(anon)": anon,
         "AnonPages": anon, "Slab": slab, "SUnreclaim": slab, "AnonHugePages": thp}
    names = ["MemTotal", "MemFree", "MemUsed", "SwapCached", "Active", "Inactive", "Active(anon)",
             "Inactive(anon)", "Active(file)", "Inactive(file)", "Unevictable", "Mlocked", "Dirty", "Writeback",
             "FilePages", "Mapped", "AnonPages", "Shmem", "KernelStack", "PageTables", "SecPageTables",
             "NFS_Unstable", "Bounce", "WritebackTmp", "KReclaimable", "Slab", "SReclaimable", "SUnreclaim",
             "AnonHugePages", "ShmemHugePages", "ShmemPmdMapped", "FileHugePages", "FilePmdMapped"]
    if m.kernel.node_meminfo_6_12:
        names.append("Unaccepted")
    lines = []
    for name in names:
        width = 15 if name in ("FileHugePages", "FilePmdMapped") and not m.kernel.node_meminfo_6_12 else 16
        lines.append(f"Node {nid} {name + ':':<{width}}{_kb(m, v.get(name, 0)):8d} kB")
    for name in ("HugePages_Total", "HugePages_Free", "HugePages_Surp"):
        lines.append(f"Node {nid} {name}: {0:5d}")
    return "\n".join(lines) + "\n"


def node_vmstat(m: "Machine", nid: int) -> str:
    """/sys/devices/system/node/nodeN/vmstat: the node's zone and node counters."""
    node = m.nodes[nid]
    lines = []
    for name in _zone_stats(m):
        lines.append(f"{name} {sum(_zone_stat_value(m, z, name) for z in node.zones)}")
    for name in NUMA_STATS:
        lines.append(f"{name} 0")
    for name in _node_stats(m):
        lines.append(f"{name} {_node_stat_value(m, nid, name)}")
    return "\n".join(lines) + "\n"


def vmstat(m: "Machine") -> str:
    """/proc/vmstat: zone, node and global counters, then events (0: the model counts no events)."""
    lines = []
    for name in _zone_stats(m):
        lines.append(f"{name} {sum(_zone_stat_value(m, z, name) for n in m.nodes.values() for z in n.zones)}")
    for name in NUMA_STATS:
        lines.append(f"{name} 0")
    for name in _node_stats(m):
        lines.append(f"{name} {sum(_node_stat_value(m, nid, name) for nid in m.nodes)}")
    free = sum(_zone_free(z) for n in m.nodes.values() for z in n.zones)
    dirty = free // 5
    lines.append(f"nr_dirty_threshold {dirty}")
    lines.append(f"nr_dirty_background_threshold {dirty // 2}")
    if m.kernel.vmstat_memmap_pages:
        lines.append(f"nr_memmap_pages {m.nr_memmap_pages}")
        lines.append(f"nr_memmap_boot_pages {m.nr_memmap_boot_pages}")
    for name in (_EVENTS_6_12 if m.kernel.vmstat_names_6_12 else _EVENTS_6_1):
        lines.append(f"{name} 0")
    return "\n".join(lines) + "\n"


def iomem(m: "Machine") -> str:
    """/proc/iomem as root (r_show() over iomem_resource): the firmware map, the PCI windows and every claim."""
    from .resource import render
    return render(m.iomem)


def kpageflags(m: "Machine", start_pfn: int, count: int) -> np.ndarray:
    """/proc/kpageflags for ``count`` pfns from ``start_pfn`` as uint64 words (fs/proc/page.c).

    Reading stops at round_up(max_pfn, PAGES_PER_SECTION) as the kernel's does.  The holes of
    boot memory (pfns of a boot section the e820 map does not give as RAM) read as the kernel
    left them: see :func:`boot_hole_words`.  The RAM of boot memory, which the model keeps as
    counts only, reads 0: the model has no flags to give (a real kernel reads each page's own).
    """
    pps = m.arch.pages_per_section
    limit = -(-m.max_pfn // pps) * pps
    count = max(0, min(count, limit - start_pfn))
    if not count:
        return np.zeros(0, dtype=np.uint64)
    from .walkers import page_kinds
    table = kind_table(m.kernel.selfhosted_reserved, m.kernel.vmemmap_self_hosted_flag, m.kernel.anon_exclusive_kpf)
    kinds, online, boot = page_kinds(m, start_pfn, count)
    words = table[kinds]
    nopage = np.uint64(0 if m.kernel.kpf_offline_reads_zero else 1 << KPF.NOPAGE)
    # masks only where needed: a range of online hot-added blocks has neither case
    if boot.any():
        words[boot] = boot_hole_words(m, start_pfn, count, nopage)[boot]
    if not online.all():
        # stable_page_flags(NULL) reads NOPAGE; from 6.16 kpage_read() writes 0 when
        # pfn_to_online_page() finds no page (KernelProfile.kpf_offline_reads_zero)
        words[~online] = nopage
    return words


def boot_hole_words(m: "Machine", start_pfn: int, count: int, nopage: np.uint64) -> np.ndarray:
    """kpageflags of boot-section pfns: RESERVED in a hole, NOPAGE (or 0) in a subsection without RAM, else 0.

    memmap_init() (mm/mm_init.c) hands every pfn of a boot section that memblock has no memory
    for (pfn 0, which trim_bios_range() reserves on x86, 0x9f-0xff, the end of the last
    range) to init_unavailable_range(), which initialises its struct page PageReserved; the
    kernel logs "On node N, zone Z: K pages in unavailable ranges".  That only happens where
    pfn_valid(): the pfn's subsection (2 MiB, SUBSECTION_SHIFT) holds some memory, else
    pfn_to_online_page() finds no page.  The RAM itself reads 0 here (the model keeps no
    per-page state of boot memory).
    """
    shift = m.arch.page_shift
    sub = m.arch.pages_per_subsection
    lo, hi = start_pfn // sub * sub, -(-(start_pfn + count) // sub) * sub
    ram = np.zeros(hi - lo, dtype=bool)
    for s, e in m.boot_ranges:
        a, b = max(s >> shift, lo), min(e >> shift, hi)
        if b > a:
            ram[a - lo:b - lo] = True
    valid = np.repeat(ram.reshape(-1, sub).any(axis=1), sub)
    words = np.where(ram, np.uint64(0), np.where(valid, np.uint64(1 << KPF.RESERVED), nopage)).astype(np.uint64)
    return words[start_pfn - lo:start_pfn - lo + count]


def numactl_hardware(m: "Machine") -> str:
    """The text of ``numactl -H`` (libnuma): nodes, CPUs, size and free in MB, distances."""
    nodes = sorted(m.online_nodes())
    rng = f"{nodes[0]}-{nodes[-1]}" if len(nodes) > 1 and nodes == list(range(nodes[0], nodes[-1] + 1)) \
        else ",".join(map(str, nodes))
    out = [f"available: {len(nodes)} nodes ({rng})"]
    for nid in nodes:
        node = m.nodes[nid]
        total_kb = _kb(m, node.managed_pages())
        free_kb = _kb(m, sum(_zone_free(z) for z in node.zones))
        out.append(f"node {nid} cpus:" + "".join(f" {c}" for c in node.cpus))
        out.append(f"node {nid} size: {total_kb >> 10} MB")
        out.append(f"node {nid} free: {free_kb >> 10} MB")
    out.append("node distances:")
    out.append("node " + "".join(f"{n:3d} " for n in nodes))
    for a in nodes:
        out.append(f"{a:3d}: " + "".join(f"{m.node_distance[(a, b)]:3d} " for b in nodes))
    return "\n".join(out) + "\n"


_ = (MAX_NR_ZONES, ZONE_NAMES)
