"""Check cells of chapter 04 (the altmap): what altmap_alloc_block_buf() returns, where the buddy part starts.

pfns are written as the course kit's answer key writes them, ``0x... (decimal)``, in a right
verdict and in a wrong one alike.
"""
from __future__ import annotations

from collections.abc import Sequence

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB, get_arch
from workbook.machine import Machine
from workbook.memory_hotplug import memmap_on_memory_refusal
from workbook.problems.altmap import altmap_handouts, hex_digits_mistake
from workbook.problems.answers import NOT_A_NUMBER, format_answer, parse_int
from workbook.problems.vmemmap import memmap_source_machine

__all__ = ["check_altmap_pfn", "check_buddy_start_pfn", "check_altmap_free", "pfn_verdict"]


def pfn_verdict(result: CheckResult, answer: object, expected: int) -> CheckResult:
    """``result`` with the pfns written ``0x... (decimal)``, as the answer key writes them."""
    result = in_hex(result, answer, expected)
    if result.ok:
        return CheckResult(True, format_answer(expected, "hex"), mistakes=result.mistakes)
    value = parse_int(answer)
    if value is not NOT_A_NUMBER and value >= 0 and result.message.startswith(f"{value:#x}"):
        rest = result.message[len(f"{value:#x}"):]
        return CheckResult(False, format_answer(value, "hex") + rest, result.rule, result.mistakes)
    return result


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
    mistakes.setdefault(base_pfn, "that is base_pfn itself; allocation starts at base_pfn + reserve and moves on "
                                  "with every call")
    for wrong, why in hex_digits_mistake(expected).items():
        mistakes.setdefault(wrong, why)
    mistakes.pop(expected, None)
    return pfn_verdict(check_number(answer, expected, mistakes=mistakes, rule=rule), answer, expected)


def check_buddy_start_pfn(answer: object, kernel: str = "6.12", size: int = 128 * MiB,
                          block: int | None = None) -> CheckResult:
    """Check "which is the first pfn of memory<block> (default: the first block of the add) that the buddy gets?".

    The machine is the chapter's VM with memmap_on_memory=1 and one DIMM of ``size`` bytes on node 1.
    """
    m = memmap_source_machine(kernel, "1", 0)
    blocks = m.dimm_add(size, 1).blocks
    b = m.blocks[blocks[0] if block is None else block]
    a = m.arch
    expected = b.start_pfn + b.vmemmap_pages
    mistakes = {
        b.start_pfn: "that is the first pfn of the block; its first pages hold the block's own memmap",
        b.start_pfn + (b.vmemmap_pages << m.arch.page_shift): "that adds the memmap in bytes; add it in pages",
        b.end_pfn - b.vmemmap_pages: "the memmap sits at the start of the block, not at its end",
    }
    mistakes.setdefault(b.start_pfn + a.memmap_pages(b.nr_pages * len(blocks)),
                        "that skips the memmap of the whole DIMM; each block holds only its own, at its own start")
    for wrong, why in hex_digits_mistake(expected).items():
        mistakes.setdefault(wrong, why)
    if not b.vmemmap_pages:
        mistakes[b.start_pfn + a.memmap_pages(b.nr_pages)] = (
            f"{m.kernel.label} did not put this DIMM's memmap on the DIMM ({memmap_on_memory_refusal(m, size)}): "
            "the buddy allocator gets the whole block")
    mistakes.pop(expected, None)
    rule = ("buddy_start_pfn = start_pfn + the block's vmemmap pages (nr_vmemmap_pages up to 6.5, "
            "mem->altmap->free = vmem_altmap_offset() from 6.6); online_pages() gets only [buddy_start_pfn, end_pfn)")
    return pfn_verdict(check_number(answer, expected, mistakes=mistakes, rule=rule), answer, expected)


def check_altmap_free(answer: object, block_size: int = 2 * GiB, kernel: str = "6.12") -> CheckResult:
    """Check "what is ->free of the altmap a one-block hot-add of ``block_size`` bytes builds?".

    From 6.6 the block keeps that altmap (``mem->altmap``) and ``free`` is its memmap pages; up
    to 6.5 the altmap lived on add_memory_resource()'s stack with ``free = PHYS_PFN(size)``, the
    whole range, and the block kept only ``alloc`` as ``nr_vmemmap_pages``.
    """
    m = Machine(kernel, "x86_64", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                block_size=block_size)
    if not m.kernel.memmap_on_memory:
        raise ValueError(f"{m.kernel.label} has no memmap_on_memory: no altmap is built at hot-add")
    bid = m.dimm_add(block_size, 1).blocks[0]
    b = m.blocks[bid]
    a = m.arch
    memmap = a.memmap_pages(b.nr_pages)
    if b.altmap is not None:
        expected = b.altmap.free
        rule = ("6.6+: altmap.free = memory_block_memmap_on_memory_pages() = "
                "PFN_UP(block_size / PAGE_SIZE x sizeof(struct page)), padded to pageblocks in force mode")
        mistakes = {b.nr_pages: "that is the whole block, as 5.13-6.5 set it; from 6.6 ->free is only the part "
                                "set aside for the memmap"}
    else:
        # 5.13-6.5: the altmap is gone after the add; its free was the size of the (single-block) range
        expected = b.nr_pages
        rule = ("5.13-6.5: add_memory_resource() sets altmap.free = PHYS_PFN(size), the whole range, and keeps "
                "altmap.alloc as nr_vmemmap_pages")
        mistakes = {memmap: f"that is ->alloc, the pfns the memmap used ({m.kernel.label} keeps it as "
                            "nr_vmemmap_pages); ->free was PHYS_PFN(size), the whole range"}
    mistakes.update({
        a.memmap_bytes(b.nr_pages): "that is the memmap in bytes; ->free counts pfns",
        a.memmap_bytes(b.nr_pages) // a.pmd_size: "that is the number of PMDs; ->free counts pfns",
        a.memmap_bytes(b.nr_pages) >> 20: "that is the memmap in MiB; ->free counts pfns",
        b.nr_pages * a.page_size: "that is the block in bytes; ->free counts pfns",
    })
    if block_size != 128 * MiB:
        mistakes.setdefault(a.memmap_pages(128 * MiB >> a.page_shift),
                            f"that is a 128 MiB block's; this block is {block_size >> 20} MiB "
                            f"({block_size // a.section_size} sections)")
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes, rule=rule)
