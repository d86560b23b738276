"""Where a node's boot memory goes before user space runs (mm/mm_init.c mem_init(), memblock_free_all()).

A node's ``MemTotal`` (and the ``size`` that ``numactl -H`` prints, ``MemTotal >> 10`` MB) is the
sum of its zones' managed pages: the RAM of the firmware's memory map (e820), in whole pages,
less what the kernel reserved while it booted and never handed to the buddy allocator. The
model derives the first part and the boot memmap (one 64-byte struct page per page of every
present section) from the machine; the rest it keeps as three round constants of
:mod:`workbook.machine`: ``BOOT_KERNEL_RESERVED`` (the kernel image, page tables, per-cpu areas,
ACPI tables and other early allocations), ``BOOT_SWIOTLB`` (the 64 MiB bounce buffer the boot
log announces as ``software IO TLB: mapped [...] (64MB)``) and ``BOOT_IN_USE`` (what the booted
system has allocated by the time user space reads ``MemFree``).  The split over zones rounds
down per zone.  Real kernels differ in the exact sizes, version by version: the model does not
derive the kernel image or the early allocations.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["BootMemory", "boot_memory"]


@dataclass(frozen=True)
class BootMemory:
    """Pages of one node at boot: present, what boot reserved, managed (MemTotal), in use, free (MemFree)."""

    nid: int
    page_kb: int
    ram: int                # the node's RAM as QEMU gives it (-numa node,memdev=...), in pages
    present: int            # e820 RAM of the node, whole pages: the zones' present pages
    memmap: int             # the node's share of the boot memmap (nr_memmap_boot_pages)
    kernel_reserved: int    # the node's share of BOOT_KERNEL_RESERVED
    swiotlb: int            # the node's share of BOOT_SWIOTLB
    managed: int            # the zones' managed pages, as the model set them
    in_use: int             # the node's share of BOOT_IN_USE
    free: int               # the zones' free pages at boot

    @property
    def rounding(self) -> int:
        """Pages the per-zone split rounded away (managed - (present - reservations))."""
        return self.managed - (self.present - self.memmap - self.kernel_reserved - self.swiotlb)

    def rows(self) -> list[tuple[str, int, str]]:
        """(what, kB, where it comes from), from present down to MemFree."""
        kb = self.page_kb
        rows = [("the node's RAM", self.ram * kb, "QEMU's -numa node,memdev=..."),
                ("- firmware holes", (self.ram - self.present) * kb, "not RAM in the e820 map (BIOS area, "
                 "ACPI tables), and page 0"),
                ("= present: e820 RAM in whole pages", self.present * kb, "the zones' present pages"),
                ("- boot memmap", self.memmap * kb, "nr_memmap_boot_pages: 64 B per page of each present section"),
                ("- kernel image and early allocations", self.kernel_reserved * kb,
                 "a round figure in the model: the real size depends on the build"),
                ("- swiotlb bounce buffer", self.swiotlb * kb,
                 "its default size: 'software IO TLB: mapped ... (64MB)'")]
        if self.rounding:
            rows.append(("+ per-zone rounding", self.rounding * kb, "the reservations split over the zones, rounded down"))
        rows += [("= managed: MemTotal", self.managed * kb, f"numactl -H: size {self.managed * kb >> 10} MB"),
                 ("- in use when user space starts", self.in_use * kb, "a round figure in the model"),
                 ("= MemFree", self.free * kb, f"numactl -H: free {self.free * kb >> 10} MB")]
        return rows

    def __str__(self) -> str:
        return "\n".join(f"{what:<38} {value:>10,} kB   {why}" for what, value, why in self.rows())


def boot_memory(m: "Machine", nid: int = 0) -> BootMemory:
    """How ``m`` accounted node ``nid``'s boot memory (read back from its zones and the BOOT_* constants).

    Only for a node whose zones hold boot memory alone: hot-added memory would mix into managed.
    """
    from .machine import BOOT_IN_USE, BOOT_KERNEL_RESERVED, BOOT_SWIOTLB

    a = m.arch
    if any(z.present_pages != z.present_early_pages for z in m.nodes[nid].zones):
        raise ValueError(f"node {nid} has hot-added memory: its managed pages are no longer boot memory alone")
    zones = [z for z in m.nodes[nid].zones if z.present_early_pages]
    all_present = sum(z.present_early_pages for n in m.nodes.values() for z in n.zones)
    present = sum(z.present_early_pages for z in zones)
    share = present / all_present if all_present else 0.0
    pages = lambda nbytes: round((nbytes >> a.page_shift) * share)  # noqa: E731
    return BootMemory(
        nid=nid, page_kb=a.page_size // 1024, ram=m.nodes[nid].boot_memory_bytes >> a.page_shift, present=present,
        memmap=round(m.nr_memmap_boot_pages * share), kernel_reserved=pages(BOOT_KERNEL_RESERVED),
        swiotlb=pages(BOOT_SWIOTLB), managed=sum(z.managed_pages for z in zones),
        in_use=pages(BOOT_IN_USE), free=sum(z.boot_free for z in zones))
