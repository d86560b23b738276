"""pfn <-> struct page with SPARSEMEM_VMEMMAP (include/asm-generic/memory_model.h, arch/x86/mm/init_64.c).

The memmap is one virtually contiguous array of ``struct page`` starting at ``vmemmap``,
so ``pfn_to_page()`` is array indexing::

    #define __pfn_to_page(pfn)   (vmemmap + (pfn))
    #define __page_to_pfn(page)  (unsigned long)((page) - vmemmap)

Only the parts of the array that describe present sections are mapped; x86 maps them
with PMD-sized (2 MiB) pages (``vmemmap_populate_hugepages()``).
"""
from __future__ import annotations

from .arch import ArchProfile, get_arch

__all__ = ["VMEMMAP_BASE", "vmemmap_base", "pfn_to_page", "page_to_pfn", "vmemmap_range", "vmemmap_pmds"]

#: ``VMEMMAP_START`` without KASLR: ``__VMEMMAP_BASE_L4`` / ``__VMEMMAP_BASE_L5``
#: (arch/x86/include/asm/pgtable_64_types.h).  With CONFIG_RANDOMIZE_MEMORY the kernel
#: uses ``vmemmap_base``, randomised at boot (arch/x86/mm/kaslr.c); the offsets stay the same.
VMEMMAP_BASE: dict[str, int] = {"x86_64": 0xFFFF_EA00_0000_0000, "x86_64-la57": 0xFFD4_0000_0000_0000}


def vmemmap_base(arch: str | ArchProfile) -> int:
    """``vmemmap``: the virtual address of the struct page of pfn 0 (x86_64 only; no KASLR)."""
    a = get_arch(arch)
    try:
        return VMEMMAP_BASE[a.name]
    except KeyError:
        raise ValueError(f"{a.name}: the workbook models the vmemmap address on x86_64 only "
                         f"(have: {', '.join(VMEMMAP_BASE)})") from None


def pfn_to_page(arch: str | ArchProfile, pfn: int) -> int:
    """``pfn_to_page(pfn)``: ``vmemmap + pfn``, i.e. ``vmemmap + pfn * sizeof(struct page)`` in bytes."""
    a = get_arch(arch)
    if pfn < 0:
        raise ValueError("a pfn is never negative")
    return vmemmap_base(a) + pfn * a.struct_page_size


def page_to_pfn(arch: str | ArchProfile, page: int) -> int:
    """``page_to_pfn(page)``: ``page - vmemmap``, counted in struct pages (the address must point at one)."""
    a = get_arch(arch)
    offset = page - vmemmap_base(a)
    if offset < 0 or offset % a.struct_page_size:
        raise ValueError(f"{page:#x} is not the address of a struct page in the vmemmap")
    return offset // a.struct_page_size


def vmemmap_range(arch: str | ArchProfile, start_pfn: int, nr_pages: int) -> tuple[int, int]:
    """``[pfn_to_page(start_pfn), pfn_to_page(start_pfn + nr_pages))``: the vmemmap bytes describing the range."""
    return pfn_to_page(arch, start_pfn), pfn_to_page(arch, start_pfn + nr_pages)


def vmemmap_pmds(arch: str | ArchProfile, start_pfn: int, nr_pages: int) -> int:
    """How many PMD-sized vmemmap mappings cover the memmap of ``[start_pfn, start_pfn + nr_pages)``.

    This is the number of ``PMD_SIZE`` steps ``vmemmap_populate_hugepages()`` walks over
    (arch/x86/mm/init_64.c); the offset of the memmap inside the vmemmap, not only its
    size, decides it, so the count is taken on pmd-aligned virtual addresses.
    """
    a = get_arch(arch)
    if nr_pages <= 0:
        return 0
    start = start_pfn * a.struct_page_size
    end = (start_pfn + nr_pages) * a.struct_page_size
    return -(-end // a.pmd_size) - start // a.pmd_size
