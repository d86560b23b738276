"""Check cells of chapter 04 (the altmap): what altmap_alloc_block_buf() returns, where the buddy part starts."""
from __future__ import annotations

from collections.abc import Sequence

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB, get_arch
from workbook.machine import Machine
from workbook.problems.altmap import altmap_handouts
from workbook.problems.vmemmap import memmap_source_machine

__all__ = ["check_altmap_pfn", "check_buddy_start_pfn", "check_altmap_free"]


def check_altmap_pfn(answer: object, base_pfn: int, reserve: int, free: int, calls: Sequence[int]) -> CheckResult:
    """Check "which pfn does the last of these altmap_alloc_block_buf() calls return?" (``calls`` in pages)."""
    a = get_arch("x86_64")
    sizes = [n * a.page_size for n in calls]
    _, got = altmap_handouts(base_pfn, reserve, free, sizes, a.page_size)
    expected = got[-1]
    rule = ("altmap_alloc_block_buf(): first pfn = base_pfn + reserve + alloc + align, rounded up to a multiple "
            "of the lowest set bit of nr_pfns; NULL when nr_pfns + padding > free - (alloc + align)")
    if expected is None:
        if answer is None:
            return CheckResult(False, "not answered yet: replace None with a pfn, or with -1 if the call fails", rule)
        return (CheckResult(True, "-1: the altmap is exhausted, the call returns NULL") if answer == -1 else
                CheckResult(False, f"{answer!r}: the altmap has too few free pfns left; the call fails (-1)", rule))
    mistakes = {
        base_pfn + reserve + sum(calls[:-1]): "that ignores the alignment padding (->align)",
        base_pfn + sum(calls[:-1]): "that ignores ->reserve: allocation starts at base_pfn + reserve",
        expected + calls[-1]: "that is one past the end of the block handed out",
        -1: "the call succeeds: enough pfns are free",
    }
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes, rule=rule), answer, expected)


def check_buddy_start_pfn(answer: object, kernel: str = "6.12", size: int = 128 * MiB,
                          block: int | None = None) -> CheckResult:
    """Check "which is the first pfn of memory<block> (default: the first block of the add) that the buddy gets?".

    The machine is the chapter's VM with memmap_on_memory=1 and one DIMM of ``size`` bytes on node 1.
    """
    m = memmap_source_machine(kernel, "1", 0)
    blocks = m.dimm_add(size, 1).blocks
    b = m.blocks[blocks[0] if block is None else block]
    expected = b.start_pfn + b.vmemmap_pages
    mistakes = {
        b.start_pfn: "that is the first pfn of the block; its first pages hold the block's own memmap",
        b.start_pfn + (b.vmemmap_pages << m.arch.page_shift): "that adds the memmap in bytes; add it in pages",
        b.end_pfn - b.vmemmap_pages: "the memmap sits at the start of the block, not at its end",
    }
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes,
                               rule="buddy_start_pfn = start_pfn + nr_vmemmap_pages (= vmem_altmap_offset()); "
                                    "online_pages() gets only [buddy_start_pfn, end_pfn)"),
                  answer, expected)


def check_altmap_free(answer: object, block_size: int = 2 * GiB, kernel: str = "6.12") -> CheckResult:
    """Check "what is ->free of the altmap of one hot-added memory block of ``block_size`` bytes?"."""
    m = Machine(kernel, "x86_64", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                block_size=block_size)
    bid = m.dimm_add(block_size, 1).blocks[0]
    b = m.blocks[bid]
    expected = b.altmap.free if b.altmap is not None else b.nr_vmemmap_pages
    a = m.arch
    mistakes = {
        a.memmap_bytes(b.nr_pages): "that is the memmap in bytes; ->free counts pfns",
        a.memmap_bytes(b.nr_pages) // a.pmd_size: "that is the number of PMDs; ->free counts pfns",
        b.nr_pages: "that is the whole block; ->free is only the part set aside for the memmap",
        a.memmap_bytes(b.nr_pages) >> 20: "that is the memmap in MiB; ->free counts pfns",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="altmap.free = memory_block_memmap_on_memory_pages() = "
                             "PFN_UP(block_size / PAGE_SIZE x sizeof(struct page))")
