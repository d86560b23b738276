"""Kernel versions: every switch where memory hotplug or memmap-on-memory changed, with its source.

A :class:`KernelProfile` is a bundle of booleans and small values.  The model's code
branches on these switches, never on version numbers.  Each switch changes in exactly
one place, the dated table :data:`CHANGES` (release, commit, one line of what changed),
and every profile is built from that table, so a reader can see which behaviour each
version has and where it comes from, and two profiles can never disagree about a change
that both of them postdate.

Releases: a commit id where the commit was identified; "by date" where only the posting
and merge-window dates place it (the Debian trees the workbook reads have no history).
The trees read are Debian's 5.10.223, 6.1.192, 6.12.117 and 7.2.13 (the kernels of the
shipped captures); the 5.13, 6.6, 6.8 and 6.18 profiles follow from the same table.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["KernelProfile", "Change", "CHANGES", "KERNELS", "get_kernel", "changes_between", "changes_markdown"]


@dataclass(frozen=True)
class KernelProfile:
    """What one kernel version does: one field per behaviour change (defaults: as in 5.10, before the feature)."""

    name: str
    version: tuple[int, int]

    # --- memmap_on_memory -------------------------------------------------------------
    memmap_on_memory: bool = False
    memmap_force_mode: bool = False
    altmap_in_memory_block: bool = False
    altmap_per_block: bool = False
    unsupported_flag_fails: bool = True
    acpi_always_passes_flag: bool = False
    arch_memmap_override: bool = False
    selfhosted_reserved: bool = False
    vmemmap_self_hosted_flag: bool = False
    hvo_excludes_memmap_on_memory: bool = False

    # --- hot-add, online, offline and remove --------------------------------------------
    mhp_range_check: bool = False
    memory_groups: bool = False
    memory_block_zone: bool = False
    hwpoison_online_check: bool = False
    mem_prepare_online: bool = False
    node_notify: bool = False
    isolate_ends_first: bool = False
    isolate_bit: bool = False
    slab_mapping_aliases_movable: bool = False
    movable_gigantic_pages: bool = False
    # The default for memhp_default_state (auto_online_blocks) of the upstream Kconfig
    # defaults: offline (CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=n; from 6.14, and 6.12.110 via
    # stable, CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE).  A build's own choice comes with its
    # config (Machine(config=...)): Debian's 6.12.117 and 7.2.13 set ONLINE_AUTO (online),
    # Debian's 5.10 and 6.1 leave it offline; each capture's scenario.json has the config.
    default_online_type: str = "offline"

    # --- page allocator -------------------------------------------------------------------
    pcp_high_from_low_wmark: bool = False
    pcp_auto_tune: bool = False
    movable_min_wmark_like_highmem: bool = False

    # --- command line -----------------------------------------------------------------------
    kstrtobool_tf: bool = False

    # --- counters and output formats ------------------------------------------------------
    zoneinfo_boost_cma: bool = False
    zoneinfo_promo: bool = False
    vmstat_memmap_pages: bool = False
    offlined_pages_info: bool = True
    fallback_order_log: bool = False
    anon_exclusive_kpf: bool = False
    kpf_offline_reads_zero: bool = False
    dump_page_ptrval: bool = True
    slab_page_type: bool = False
    node_meminfo_6_12: bool = False
    vmstat_names_6_12: bool = False
    demotion_targets_log: bool = False

    # --- dax/kmem, soft-reserved memory, memory tiers ------------------------------------------
    bind_returns_probe_error: bool = False
    memory_tiers: bool = False
    hmem_platform_device: bool = False
    dax_bus_match_type: bool = False
    dax_memmap_on_memory: bool = False
    soft_reserved_deferred: bool = False
    hmem_child_of_platform: bool = False

    @property
    def label(self) -> str:
        """Short human name, e.g. ``"Linux 6.12"``."""
        return f"Linux {self.name}"

    def switches(self) -> dict[str, object]:
        """All switches as a dict (for tables in the chapters)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "version")}


@dataclass(frozen=True)
class Change:
    """One behaviour change: ``switch`` takes ``value`` from release ``since`` (until ``until``, if it went again)."""

    switch: str
    since: tuple[int, int]
    source: str                          # commit id, or how the release is known
    what: str                            # one line, for tables and chapter 11
    value: object = True
    until: tuple[int, int] | None = None

    @property
    def release(self) -> str:
        """``"6.6"``, or ``"5.14-5.19"`` for a change that went again."""
        s = f"{self.since[0]}.{self.since[1]}"
        if self.until is not None:
            u = self.until
            last = (u[0], u[1] - 1) if u[1] else (u[0] - 1, 19)
            s += f"-{last[0]}.{last[1]}"
        return s


#: Every behaviour change the model follows (sorted oldest first below).
CHANGES: tuple[Change, ...] = (
    Change("memmap_on_memory", (5, 13), "a08a2ae34613",
           "memmap-on-memory merged: memory_hotplug.memmap_on_memory=, the memmap of a hot-added block on the block "
           "itself (one block per add)"),
    Change("selfhosted_reserved", (5, 13), "a08a2ae34613",
           "the self-hosted memmap pages are PageReserved (memmap_init_range(MEMINIT_HOTPLUG))"),
    Change("hvo_excludes_memmap_on_memory", (5, 14), "by date (HVO series, 2021-06)",
           "the HugeTLB vmemmap optimisation switches memmap_on_memory off", until=(6, 0)),
    Change("pcp_high_from_low_wmark", (5, 14), "by date (Mel Gorman's pcp-high series)",
           "per-cpu list high = the zone's low watermark / its node's CPUs (zone_highsize()); was 6 * batch"),
    Change("memory_groups", (5, 15), "028fc57a1c36, e83a437faa62",
           "memory groups and the auto-movable online policy (online_policy, auto_movable_ratio)"),
    Change("zoneinfo_boost_cma", (5, 16), "boost: 5.16 by date; cma: after 5.10, by 6.1, release not pinned",
           "/proc/zoneinfo prints the zone's boost and cma lines"),
    Change("mhp_range_check", (5, 11), "by date (Anshuman Khandual, mhp_range_allowed())",
           "hot-add refuses a range outside the pluggable range with E2BIG"),
    Change("offlined_pages_info", (5, 12), "by date (Laurent Dufour)",
           "'Offlined Pages N' is logged with pr_debug instead of pr_info", value=False),
    Change("fallback_order_log", (5, 12), "release not pinned: after 5.10, by 6.1 (5.12 assumed)",
           "build_zonelists() logs 'Fallback order for Node N:'"),
    Change("memory_block_zone", (5, 18), "395f6081bad4",
           "struct memory_block::zone: valid_zones of an online block read from it instead of a pfn scan"),
    Change("kstrtobool_tf", (5, 19), "by date",
           "kstrtobool() reads t/T as true and f/F as false ('force' as false on a bool parameter)"),
    Change("isolate_ends_first", (5, 19), "by date (Zi Yan, isolate_single_pageblock())",
           "start_isolate_page_range() isolates the first and the last pageblock first, then the rest in order"),
    Change("anon_exclusive_kpf", (5, 19), "by date (PG_anon_exclusive reuses PG_mappedtodisk)",
           "anonymous pages read bit 34 in /proc/kpageflags"),
    Change("vmemmap_self_hosted_flag", (6, 0), "66361095129b",
           "PageVmemmapSelfHosted (PG_owner_priv_1) marks the self-hosted memmap; HVO and memmap_on_memory coexist"),
    Change("hwpoison_online_check", (6, 2), "5033091de814",
           "memory_block_online() refuses a block with hwpoisoned pages: -EHWPOISON"),
    Change("slab_mapping_aliases_movable", (6, 2), "130d4df57390",
           "struct slab's list word overlays page->mapping: a slab can look movable to isolation, and offline "
           "then retries until a signal", until=(6, 17)),
    Change("zoneinfo_promo", (6, 4), "by date", "/proc/zoneinfo prints the promo watermark"),
    Change("memmap_force_mode", (6, 6), "2d1f649c7c08",
           "memory_hotplug.memmap_on_memory=force: the memmap padded to whole pageblocks"),
    Change("altmap_in_memory_block", (6, 6), "1a8c64e11043",
           "the altmap is kept in struct memory_block (mem->altmap)"),
    Change("unsupported_flag_fails", (6, 6), "e3c2bfdd33a3",
           "an add that cannot self-host its memmap falls back to ordinary memory instead of failing", value=False),
    Change("acpi_always_passes_flag", (6, 6), "e3c2bfdd33a3",
           "the ACPI driver always passes MHP_MEMMAP_ON_MEMORY and lets the core decide"),
    Change("arch_memmap_override", (6, 6), "2d1f649c7c08 series",
           "arch_supports_memmap_on_memory(): the PMD check moves to the architecture (ppc64 radix)"),
    Change("pcp_auto_tune", (6, 7), "by date (Huang Ying's pcp series)",
           "per-cpu lists tune high between high_min and high_max; refills scale with alloc_factor"),
    Change("altmap_per_block", (6, 8), "6b8f0798b85a",
           "a multi-block add gets one altmap per memory block: every block self-hosts its memmap"),
    Change("mem_prepare_online", (6, 8), "by date (Sumanth Korikkar); removed by 300709fbefd1",
           "MEM_PREPARE_ONLINE / MEM_FINISH_OFFLINE notifiers and MHP_OFFLINE_INACCESSIBLE (s390)",
           until=(6, 19)),
    Change("dump_page_ptrval", (6, 8), "release not pinned (between 6.6 and 6.8)",
           "dump_page() prints 'page: refcount:' without '(____ptrval____)'", value=False),
    Change("slab_page_type", (6, 10), "by date (Matthew Wilcox, PageSlab becomes a page type)",
           "slab is a page type, not a page flag: dump_page() prints 'page_type: f5(slab)'"),
    Change("vmstat_memmap_pages", (6, 11), "by date (Sourav Panda)",
           "/proc/vmstat nr_memmap_pages and nr_memmap_boot_pages"),
    Change("selfhosted_reserved", (6, 11), "503b158fc30f",
           "the self-hosted memmap pages are no longer PageReserved, only VmemmapSelfHosted", value=False),
    Change("movable_min_wmark_like_highmem", (6, 12), "release not pinned (as read in 6.12)",
           "ZONE_MOVABLE's min watermark computed like highmem's (managed / 1024, clamped)"),
    Change("node_meminfo_6_12", (6, 12), "as read in 6.12",
           "node meminfo: FileHugePages/FilePmdMapped padding fixed, Unaccepted added"),
    Change("vmstat_names_6_12", (6, 12), "as read in 6.12 (the model keeps two lists: 6.1's and 6.12's)",
           "/proc/vmstat and zoneinfo print 6.12's counter names (nr_iommu_pages, pgdemote_khugepaged, ...)"),
    Change("demotion_targets_log", (6, 12), "release not pinned (as read in 6.12)",
           "memory tiering logs 'Demotion targets for Node N:' when N_MEMORY changes"),
    Change("kpf_offline_reads_zero", (6, 16), "by date (Liu Ye, fs/proc/page.c refactor)",
           "/proc/kpageflags reads 0 for a pfn with no online struct page, where it read NOPAGE"),
    Change("node_notify", (6, 17), "e4e2806b639c",
           "NUMA node notifier: NODE_ADDING_FIRST_MEMORY / NODE_REMOVING_LAST_MEMORY around online and offline"),
    Change("isolate_bit", (6, 17), "by date (Zi Yan)",
           "MIGRATE_ISOLATE becomes a pageblock bit: a pageblock keeps its migratetype through isolation"),
    Change("bind_returns_probe_error", (5, 14), "ef6dcbdd8eb2",
           "a driver's sysfs bind returns the probe's errno, and EBUSY for a device that has a driver (was ENODEV)"),
    Change("memory_tiers", (6, 1), "992bf77591cb",
           "memory tiers (/sys/devices/virtual/memory_tiering/memory_tierN); kmem gives its node the DAX memory type"),
    Change("hmem_platform_device", (6, 3), "7dab174e2e27",
           "hmem devices are registered by dax_hmem.ko from one hmem_platform.0 device, with no iomem resource"),
    Change("dax_bus_match_type", (6, 3), "e9ee9fe3a9d4",
           "the dax bus matches by type: kmem binds hmem (RAM) regions as soon as it loads, device_dax only via new_id"),
    Change("dax_memmap_on_memory", (6, 8), "73954d379efd",
           "/sys/bus/dax/devices/daxX.Y/memmap_on_memory: kmem self-hosts each block's memmap when it is set"),
    Change("soft_reserved_deferred", (7, 0), "bc62f5b308cb",
           "Soft Reserved ranges move to their own resource tree: /proc/iomem no longer lists them"),
    Change("hmem_child_of_platform", (7, 0), "as read in 7.2 (same series, commit not pinned)",
           "hmem.N becomes a child of hmem_platform.0 in sysfs"),
    Change("movable_gigantic_pages", (6, 19), "by date (Gregory Price)",
           "vm.movable_gigantic_pages (default 0) lets 1 GiB hugetlb pages come from ZONE_MOVABLE"),
)

CHANGES = tuple(sorted(CHANGES, key=lambda c: c.since))

def _profile(name: str, version: tuple[int, int]) -> KernelProfile:
    values: dict[str, object] = {}
    for c in CHANGES:                      # oldest first: a later change of a switch wins
        if c.since <= version and (c.until is None or version < c.until):
            values[c.switch] = c.value
    return KernelProfile(name, version, **values)


KERNELS: dict[str, KernelProfile] = {n: _profile(n, v) for n, v in (
    ("5.10", (5, 10)), ("5.13", (5, 13)), ("6.1", (6, 1)), ("6.6", (6, 6)), ("6.8", (6, 8)),
    ("6.12", (6, 12)), ("6.18", (6, 18)), ("7.2", (7, 2)))}


def changes_between(old: str | KernelProfile, new: str | KernelProfile) -> list[Change]:
    """The changes a kernel ``new`` has that ``old`` does not (in table order)."""
    a, b = get_kernel(old).version, get_kernel(new).version
    return [c for c in CHANGES if a < c.since <= b or (c.until is not None and a < c.until <= b)]


def changes_markdown() -> str:
    """The table of :data:`CHANGES` as Markdown (the README's "Kernel versions" section is this, verbatim)."""
    rows = ["| release | what changed | source | switch |", "|---|---|---|---|"]
    for c in CHANGES:
        rows.append(f"| {c.release} | {c.what} | {c.source} | `{c.switch}` |")
    return "\n".join(rows) + "\n"


def get_kernel(name: str | KernelProfile) -> KernelProfile:
    """Look up a :class:`KernelProfile` by version string (``"6.1"``, ``"6.12"``, ``"6.12.117+deb13-amd64"``)."""
    if isinstance(name, KernelProfile):
        return name
    key = str(name)
    if key not in KERNELS:
        parts = key.split(".")
        key = ".".join(parts[:2]).split("-")[0].split("+")[0]
    try:
        return KERNELS[key]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}") from None
