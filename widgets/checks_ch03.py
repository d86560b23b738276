"""Check cells of chapter 03 (the vmemmap): PMD mappings, and which node pays for a new memmap."""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from workbook.arch import GiB, get_arch
from workbook.problems.vmemmap import (memmap_source_machine, memmap_source_mistakes, node_memfree_pages,
                                      vmemmap_pmds)

__all__ = ["check_vmemmap_pmds", "check_node0_memmap_drop"]


def check_vmemmap_pmds(answer: object, start: int, size: int, arch: str = "x86_64") -> CheckResult:
    """Check "how many PMD mappings does the vmemmap need for ``size`` bytes hot-added at ``start``?"."""
    a = get_arch(arch)
    nr_pages = size >> a.page_shift
    expected = vmemmap_pmds(a, start >> a.page_shift, nr_pages)
    memmap = a.memmap_bytes(nr_pages)
    mistakes = {
        1: f"one PMD maps {a.pmd_size >> 20} MiB of memmap, which describes one "
           f"{a.pmd_size // a.struct_page_size * a.page_size >> 20} MiB section, not a whole block",
        a.memmap_pages(nr_pages): "that is the memmap in pages; a PMD mapping covers PMD_SIZE bytes of it",
        nr_pages: "that is the number of pages hot-added",
        memmap >> 20: "that is the memmap in MiB",
        memmap: "that is the memmap in bytes; count the PMD_SIZE steps that map it",
        size // a.pmd_size:
            "that divides the memory, not its memmap, by PMD_SIZE: the PMDs map struct pages (1/64 of the memory)",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule=f"vmemmap_populate_hugepages() maps the memmap (size / PAGE_SIZE x sizeof(struct page)) "
                             f"in PMD_SIZE = {a.pmd_size >> 20} MiB steps")


def check_node0_memmap_drop(answer: object, size: int = 1 * GiB, kernel: str = "6.12",
                            memmap_on_memory: str = "0", node1_bytes: int = 0) -> CheckResult:
    """Check "by how many pages does node 0's MemFree drop when ``size`` bytes are hot-added to node 1?"."""
    m = memmap_source_machine(kernel, memmap_on_memory, node1_bytes)
    before = node_memfree_pages(m, 0)
    m.dimm_add(size, 1)
    expected = before - node_memfree_pages(m, 0)
    a = m.arch
    mistakes = memmap_source_mistakes(memmap_source_machine(kernel, memmap_on_memory, node1_bytes), size, expected)
    if size != 1 * GiB:       # the chapter measured a 1 GiB DIMM just above the exercise
        mistakes.setdefault(a.memmap_pages(1 * GiB >> a.page_shift),
                            f"that is the drop for a 1 GiB DIMM; this one is {size / GiB:g} GiB, and the memmap "
                            "grows with it (1/64 of the memory added)")
        mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="the memmap is allocated at hot-add (sparse_add_section() -> vmemmap_alloc_block() -> "
                             "alloc_pages_node(nid)), falling back to the nearest node that has memory")
