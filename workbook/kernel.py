"""Kernel versions: every switch where memory hotplug or memmap-on-memory changed, with its source.

A :class:`KernelProfile` is a bundle of booleans and small numbers.  The model's code
branches on these switches, never on version numbers, so a reader can see exactly
which behaviour each version has and where it comes from.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["KernelProfile", "KERNELS", "get_kernel"]


@dataclass(frozen=True)
class KernelProfile:
    """What one kernel version does (one field per behaviour change, each citing its commit)."""

    name: str
    version: tuple[int, int]

    # --- memmap_on_memory -------------------------------------------------------------
    # a08a2ae34613 "mm,memory_hotplug: allocate memmap from the added memory range" (v5.13).
    memmap_on_memory: bool = True
    # 2d1f649c7c08 (v6.6): memory_hotplug.memmap_on_memory=force; the memmap is padded to
    # whole pageblocks (memory_block_memmap_on_memory_pages()).
    memmap_force_mode: bool = False
    # 1a8c64e11043 "mm/memory_hotplug: embed vmem_altmap details in memory block" (v6.6, Aneesh
    # Kumar, same series as force mode): add_memory_resource() keeps a heap copy of the altmap
    # (kmalloc + memcpy; kmemdup from 6.8) with free = memory_block_memmap_on_memory_pages() in
    # struct memory_block::altmap, and try_remove_memory() takes mem->altmap back instead of
    # rebuilding one from nr_vmemmap_pages.  5.13-6.5: an altmap on the stack with
    # free = PHYS_PFN(size), and only nr_vmemmap_pages (= altmap.alloc) survives the add.
    # 6.6 and 6.7 still add and remove a self-hosted range one memory block at a time.
    altmap_in_memory_block: bool = False
    # 6b8f0798b85a "split memmap_on_memory requests across memblocks" (v6.8, Vishal Verma): one
    # altmap per memory block (create_altmaps_and_memory_blocks(),
    # remove_memory_blocks_and_altmaps()), so any number of blocks per add and per remove;
    # before it: size == memory_block_size_bytes().
    altmap_per_block: bool = False
    # <= 6.5: add_memory_resource() returns -EINVAL when MHP_MEMMAP_ON_MEMORY is passed and
    # unsupported; e3c2bfdd33a3 "allow memmap on memory hotplug request to fallback" (v6.6)
    # silently ignores the flag ("fallback to not using altmap").
    unsupported_flag_fails: bool = True
    # drivers/acpi/acpi_memhotplug.c: <= 6.5 passes the flag only if
    # mhp_supports_memmap_on_memory(info->length) (and keeps it for later ranges: sticky);
    # e3c2bfdd33a3 (v6.6) always passes it and lets the core decide.
    acpi_always_passes_flag: bool = False
    # mhp_supports_memmap_on_memory(): 5.13-6.5 require IS_ALIGNED(vmemmap_size, PMD_SIZE)
    # in the generic code; 6.6+ moved it to arch_supports_memmap_on_memory() (ppc64 radix
    # overrides it).
    arch_memmap_override: bool = False
    # Self-hosted memmap pages: PageReserved in 5.13-6.10 (memmap_init_range(MEMINIT_HOTPLUG)
    # sets PG_reserved); 503b158fc30f "initialize memmap of !ZONE_DEVICE with PageOffline()
    # instead of PageReserved()" (D. Hildenbrand, posted 2024-06-07, merged for v6.11) makes
    # them neither Reserved nor Offline, only VmemmapSelfHosted.  The model's "6.12" profile
    # (and its captures) show the 6.11+ state.
    selfhosted_reserved: bool = True
    # PageVmemmapSelfHosted (= PG_owner_priv_1), set in mhp_init_memmap_on_memory() since
    # 66361095129b (v6.0), which also made HVO and memmap_on_memory coexist.
    vmemmap_self_hosted_flag: bool = True
    # 5.14-5.19: HugeTLB vmemmap optimisation disables memmap_on_memory.
    hvo_excludes_memmap_on_memory: bool = False

    # --- hot-add and remove ---------------------------------------------------------------
    # 028fc57a1c36 / e83a437faa62 (v5.15): memory groups and the auto-movable online policy.
    memory_groups: bool = True
    # struct memory_block::zone (v5.15+); 5.13 used test_pages_in_a_zone() for valid_zones.
    memory_block_zone: bool = True
    # memory_block_online() returns -EHWPOISON for blocks with poisoned pages (<= 6.12).
    hwpoison_online_check: bool = False
    # Default for memhp_default_state without command line: CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE
    # (6.1) / CONFIG_MHP_DEFAULT_ONLINE_TYPE_* (6.12, backported); Debian builds: offline.
    default_online_type: str = "offline"

    # --- page allocator -------------------------------------------------------------------
    # 6.7 "mm, pcp: ..." series: per-cpu lists with high_min/high_max auto-tuning and an
    # alloc_factor that doubles batch refills (nr_pcp_alloc()).
    pcp_auto_tune: bool = False
    # __setup_per_zone_wmarks(): ZONE_MOVABLE gets the highmem-style min watermark
    # (managed/1024, clamped to [SWAP_CLUSTER_MAX, 128]) in newer kernels.
    movable_min_wmark_like_highmem: bool = False
    # /proc/zoneinfo prints "promo" (memory tiering watermark, v6.4+).
    zoneinfo_promo: bool = False

    # --- counters and output formats ------------------------------------------------------
    # mm/vmstat.c: nr_memmap_pages / nr_memmap_boot_pages (v6.11+).
    vmstat_memmap_pages: bool = False
    # dump_page() prints "page:(____ptrval____) refcount:" up to 6.1, "page: refcount:" later.
    dump_page_ptrval: bool = True
    # Node meminfo fixes FileHugePages:/FilePmdMapped: padding and adds Unaccepted (6.12).
    node_meminfo_6_12: bool = False
    # The memory tiering code prints "Demotion targets for Node N:" when N_MEMORY changes.
    demotion_targets_log: bool = False

    # --- dax/kmem, soft-reserved memory, memory tiers ------------------------------------------
    # ef6dcbdd8eb2 "driver core: Flow the return code from ->probe() through to sysfs bind"
    # (v5.14): a driver's bind file returns the probe's errno, and EBUSY for a device that
    # already has a driver; before it (5.10) both read ENODEV (drivers/base/bus.c bind_store()).
    bind_returns_probe_error: bool = False
    # 992bf77591cb "mm/demotion: add support for explicit memory tiers" (v6.1): memory tiers
    # (/sys/devices/virtual/memory_tiering/memory_tierN, N = abstract distance >> 7); kmem
    # gives its node the DAX memory type (MEMTIER_DEFAULT_DAX_ADISTANCE = 5 x DRAM's).
    memory_tiers: bool = False
    # 7dab174e2e27 "dax/hmem: Move hmem device registration to dax_hmem.ko" (v6.3): the boot
    # code only records Soft Reserved ranges and registers one hmem_platform.0 device;
    # dax_hmem.ko creates hmem.N (with no iomem resource).  Before: hmem.N is registered at
    # boot with the range as its resource, which /proc/iomem shows as the parent of "Soft
    # Reserved" (drivers/dax/hmem/device.c).
    hmem_platform_device: bool = False
    # e9ee9fe3a9d4 "dax: Assign RAM regions to memory-hotplug by default" (v6.3): hmem regions
    # carry IORESOURCE_DAX_KMEM and the dax bus matches a driver by type (dax_match_type()):
    # kmem binds them as soon as it is loaded, device_dax only through new_id.  Before:
    # device_dax has match_always and binds every dax device; kmem only devices in its new_id
    # list (drivers/dax/bus.c dax_bus_match()).
    dax_bus_match_type: bool = False
    # 73954d379efd "dax: add a sysfs knob to control memmap_on_memory behavior" (v6.8, Vishal
    # Verma): /sys/bus/dax/devices/daxX.Y/memmap_on_memory; kmem passes MHP_MEMMAP_ON_MEMORY
    # when it is set.  Before: no such file, and kmem never self-hosts the memmap.
    dax_memmap_on_memory: bool = False
    # bc62f5b308cb "dax/hmem, e820, resource: Defer Soft Reserved insertion until hmem is
    # ready" (v7.0): e820__reserve_resources_late() puts Soft Reserved ranges in the separate
    # soft_reserve_resource tree, so /proc/iomem no longer lists them; a driver's request
    # (kmem's "daxX.Y") is then a top-level iomem entry.
    soft_reserved_deferred: bool = False
    # The same 7.0 series (Dan Williams, Smita Koralahalli; commit not pinned, as read in 7.2):
    # hmem_register_device() makes hmem.N a child of hmem_platform.0 (pdev->dev.parent = host),
    # so a dax device lives at /sys/devices/platform/hmem_platform.0/hmem.N/daxN.0.
    hmem_child_of_platform: bool = False

    @property
    def label(self) -> str:
        """Short human name, e.g. ``"Linux 6.12"``."""
        return f"Linux {self.name}"

    def switches(self) -> dict[str, object]:
        """All switches as a dict (for tables in the chapters)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("name", "version")}


# dax/kmem switches by release (the fields above cite the commits)
_DAX_6_3 = dict(bind_returns_probe_error=True, memory_tiers=True, hmem_platform_device=True, dax_bus_match_type=True)
_DAX_6_8 = dict(_DAX_6_3, dax_memmap_on_memory=True)

K5_13 = KernelProfile("5.13", (5, 13), vmemmap_self_hosted_flag=False, memory_groups=False,
                      memory_block_zone=False)
K6_1 = KernelProfile("6.1", (6, 1), bind_returns_probe_error=True, memory_tiers=True)
K6_6 = KernelProfile("6.6", (6, 6), memmap_force_mode=True, arch_memmap_override=True,
                     altmap_in_memory_block=True, unsupported_flag_fails=False,
                     acpi_always_passes_flag=True, zoneinfo_promo=True, **_DAX_6_3)
K6_8 = KernelProfile("6.8", (6, 8), memmap_force_mode=True, arch_memmap_override=True,
                     altmap_in_memory_block=True, altmap_per_block=True, unsupported_flag_fails=False,
                     acpi_always_passes_flag=True, pcp_auto_tune=True, zoneinfo_promo=True,
                     dump_page_ptrval=False, **_DAX_6_8)
K6_12 = KernelProfile("6.12", (6, 12), memmap_force_mode=True, arch_memmap_override=True,
                      altmap_in_memory_block=True, altmap_per_block=True, unsupported_flag_fails=False,
                      acpi_always_passes_flag=True, selfhosted_reserved=False,
                      hwpoison_online_check=True, pcp_auto_tune=True,
                      movable_min_wmark_like_highmem=True, zoneinfo_promo=True,
                      vmstat_memmap_pages=True, dump_page_ptrval=False, node_meminfo_6_12=True,
                      demotion_targets_log=True, **_DAX_6_8)
K6_18 = KernelProfile("6.18", (6, 18), **{k: v for k, v in K6_12.switches().items()})

KERNELS: dict[str, KernelProfile] = {k.name: k for k in (K5_13, K6_1, K6_6, K6_8, K6_12, K6_18)}


def get_kernel(name: str | KernelProfile) -> KernelProfile:
    """Look up a :class:`KernelProfile` by version string (``"6.1"``, ``"6.12"``, ...)."""
    if isinstance(name, KernelProfile):
        return name
    key = str(name)
    if key not in KERNELS:
        # "6.1.0-56-amd64" or "6.12.117" -> the series
        parts = key.split(".")
        key = ".".join(parts[:2]).split("-")[0]
    try:
        return KERNELS[key]
    except KeyError:
        raise ValueError(f"unknown kernel {name!r}; known: {', '.join(KERNELS)}") from None
