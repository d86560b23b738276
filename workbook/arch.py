"""Architecture geometry: page size, struct page, sections, PMDs, pageblocks (arch/*/include/asm/*.h).

One :class:`ArchProfile` per architecture and page size.  Every number is the
kernel's own constant for that configuration; the comments name the header it
comes from.  ``memory_block_size_bytes()`` follows each architecture's probe.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

KiB = 1 << 10
MiB = 1 << 20
GiB = 1 << 30
TiB = 1 << 40

__all__ = [
    "ArchProfile", "ARCHES", "X86_64", "X86_64_LA57", "ARM64_4K", "ARM64_16K", "ARM64_64K",
    "PPC64_RADIX_4K", "PPC64_RADIX_64K", "PPC64_HASH_64K", "S390X", "get_arch",
    "KiB", "MiB", "GiB", "TiB",
]


@dataclass(frozen=True)
class ArchProfile:
    """Geometry of one architecture/page-size build (arch/*/include/asm/{page,sparsemem,pgtable}.h)."""

    name: str
    page_shift: int                 # PAGE_SHIFT
    section_size_bits: int          # SECTION_SIZE_BITS (asm/sparsemem.h)
    pmd_shift: int                  # PMD_SHIFT: the size of one vmemmap huge mapping
    pageblock_order: int            # pageblock_order (include/linux/pageblock-flags.h)
    max_page_order: int             # largest buddy order, inclusive (MAX_PAGE_ORDER since v6.8)
    max_physmem_bits: int           # MAX_PHYSMEM_BITS
    struct_page_size: int = 64      # sizeof(struct page), include/linux/mm_types.h
    radix: bool = True              # ppc64 only: radix MMU (hash refuses memmap_on_memory)
    subsection_shift: int = 21      # SUBSECTION_SHIFT (include/linux/mmzone.h), all arches
    default_block_size: int = 0     # 0: the section size (drivers/base/memory.c weak default)
    # vmemmap_populate() maps the memmap with PMD_SIZE pages where it can (x86_64 with PSE:
    # vmemmap_populate_hugepages(); s390 segments; ppc64 radix); False: base pages only
    # (arm64 16K/64K: vmemmap_populate_basepages() unless CONFIG_ARM64_4K_PAGES, arch/arm64/mm/mmu.c)
    vmemmap_huge: bool = True
    description: str = ""

    # --- derived constants, named as in the kernel -------------------------------------
    @property
    def page_size(self) -> int:
        """PAGE_SIZE."""
        return 1 << self.page_shift

    @property
    def section_size(self) -> int:
        """Bytes per memory section (1 << SECTION_SIZE_BITS) = MIN_MEMORY_BLOCK_SIZE."""
        return 1 << self.section_size_bits

    @property
    def pages_per_section(self) -> int:
        """PAGES_PER_SECTION (include/linux/mmzone.h)."""
        return 1 << (self.section_size_bits - self.page_shift)

    @property
    def pages_per_subsection(self) -> int:
        """PAGES_PER_SUBSECTION (include/linux/mmzone.h)."""
        return 1 << max(self.subsection_shift - self.page_shift, 0)

    @property
    def pmd_size(self) -> int:
        """PMD_SIZE."""
        return 1 << self.pmd_shift

    @property
    def pageblock_nr_pages(self) -> int:
        """pageblock_nr_pages (include/linux/pageblock-flags.h)."""
        return 1 << self.pageblock_order

    @property
    def max_order_nr_pages(self) -> int:
        """MAX_ORDER_NR_PAGES: pages in the largest buddy block."""
        return 1 << self.max_page_order

    @property
    def nr_page_orders(self) -> int:
        """NR_PAGE_ORDERS = MAX_PAGE_ORDER + 1 (include/linux/mmzone.h, v6.8+)."""
        return self.max_page_order + 1

    @property
    def max_phys_addr(self) -> int:
        """One past the highest physical address the kernel can map (1 << MAX_PHYSMEM_BITS)."""
        return 1 << self.max_physmem_bits

    def memmap_bytes(self, nr_pages: int) -> int:
        """Bytes of struct pages needed to describe ``nr_pages`` pages."""
        return nr_pages * self.struct_page_size

    def memmap_pages(self, nr_pages: int) -> int:
        """Pages of memmap for ``nr_pages`` pages: PFN_UP(nr_pages * sizeof(struct page))."""
        return -(-self.memmap_bytes(nr_pages) // self.page_size)

    def pfn(self, addr: int) -> int:
        """PHYS_PFN(addr)."""
        return addr >> self.page_shift

    def with_struct_page(self, size: int) -> "ArchProfile":
        """The same build with another sizeof(struct page) (56..96 in steps of 8, mm.h)."""
        if size < 56 or size > 96 or size % 8:
            raise ValueError("sizeof(struct page) must be 56..96 in steps of 8 (include/linux/mm.h)")
        return replace(self, struct_page_size=size, name=f"{self.name}+page{size}")


# x86_64: arch/x86/include/asm/{page_types.h,sparsemem.h,pgtable_64_types.h}.
# MAX_PHYSMEM_BITS = pgtable_l5_enabled() ? 52 : 46.
X86_64 = ArchProfile("x86_64", 12, 27, 21, 9, 10, 46,
                     description="x86_64, 4 KiB pages, 4-level paging")
X86_64_LA57 = replace(X86_64, name="x86_64-la57", max_physmem_bits=52,
                      description="x86_64, 4 KiB pages, 5-level paging")
# arm64: arch/arm64/include/asm/sparsemem.h (27, or 29 with 64K pages); PMD_SHIFT =
# (PAGE_SHIFT - 3) * 2 + 3; pageblock order = min(HUGETLB_PAGE_ORDER, MAX_PAGE_ORDER).
ARM64_4K = ArchProfile("arm64-4k", 12, 27, 21, 9, 10, 48, description="arm64, 4 KiB pages")
ARM64_16K = ArchProfile("arm64-16k", 14, 27, 25, 11, 11, 48, vmemmap_huge=False, description="arm64, 16 KiB pages")
ARM64_64K = ArchProfile("arm64-64k", 16, 29, 29, 13, 13, 52, vmemmap_huge=False, description="arm64, 64 KiB pages")
# ppc64 Book3S: SECTION_SIZE_BITS 24 (arch/powerpc/include/asm/sparsemem.h); the block is
# the LMB size (256 MiB on pseries by default); pageblock order is set at boot from the
# default huge page (2 MiB radix, 16 MiB hash).
PPC64_RADIX_4K = ArchProfile("ppc64-radix-4k", 12, 24, 21, 9, 12, 51,
                             default_block_size=256 * MiB, description="ppc64 radix MMU, 4 KiB pages")
PPC64_RADIX_64K = ArchProfile("ppc64-radix-64k", 16, 24, 21, 5, 8, 51,
                              default_block_size=256 * MiB, description="ppc64 radix MMU, 64 KiB pages")
PPC64_HASH_64K = ArchProfile("ppc64-hash-64k", 16, 24, 24, 8, 8, 51, radix=False,
                             default_block_size=256 * MiB, description="ppc64 hash MMU, 64 KiB pages")
# s390x: SECTION_SIZE_BITS 28; the segment (PMD) is 1 MiB; HPAGE_SHIFT 20 -> pageblock order 8.
S390X = ArchProfile("s390x", 12, 28, 20, 8, 10, 46, description="s390x, 4 KiB pages")

ARCHES: dict[str, ArchProfile] = {a.name: a for a in (
    X86_64, X86_64_LA57, ARM64_4K, ARM64_16K, ARM64_64K,
    PPC64_RADIX_4K, PPC64_RADIX_64K, PPC64_HASH_64K, S390X)}


def get_arch(name: str | ArchProfile) -> ArchProfile:
    """Look up an :class:`ArchProfile` by name (``"x86_64"``, ``"arm64-64k"``, ...)."""
    if isinstance(name, ArchProfile):
        return name
    try:
        return ARCHES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}; known: {', '.join(ARCHES)}") from None
