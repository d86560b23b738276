"""Check cells of chapter 05 (memmap on memory): self-hosted pages per block, their /proc/kpageflags word.

Every expected value is read from a model machine that performed the hot-add (and the
online): the chapter's VM, node 0 with 1 GiB and an empty node 1.
"""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB
from workbook.memory_hotplug import memmap_on_memory_refusal, memory_block_memmap_on_memory_pages
from workbook.pagemap import kpf_names
from workbook.problems.memmap_on_memory import hotplug_vm

__all__ = ["check_selfhosted_pages", "check_kpageflags_word"]

MEM = "/sys/devices/system/memory"


def check_selfhosted_pages(answer: object, kernel: str = "6.1", size: int = 1 * GiB, block: int | None = None,
                           arch: str = "x86_64", mode: str = "1") -> CheckResult:
    """Check "how many pfns at the start of memory<block> hold its own memmap after hot-adding ``size`` bytes?".

    ``block`` defaults to the last block of the DIMM.
    """
    m = hotplug_vm(kernel, arch, mode)
    a = m.arch
    refusal = memmap_on_memory_refusal(m, size)
    res = m.dimm_add(size, 1, "dimm1")
    b = m.blocks[res.blocks[-1] if block is None else block]
    expected = b.vmemmap_pages
    exact = a.memmap_pages(b.nr_pages)
    padded = memory_block_memmap_on_memory_pages(m)
    whole = a.memmap_pages(size >> a.page_shift)
    mistakes: dict[int, str] = {}
    if expected == 0:
        why = refusal or "the memmap was allocated from other memory"
        mistakes[exact] = f"that is what the block's memmap needs, but it is not on the block: {why}"
        mistakes.setdefault(padded, f"the memmap is not on the block: {why}")
        mistakes.setdefault(whole, f"that is the whole DIMM's memmap, and it is not on the DIMM: {why}")
    else:
        mistakes[exact] = (f"{exact} pages is the memmap itself; memmap_on_memory=force pads it to whole "
                           f"pageblocks ({a.pageblock_nr_pages} pages)")
        mistakes.setdefault(expected - exact, "that is only the padding force mode adds; the block loses "
                                              "memmap + padding")
        mistakes.setdefault(whole, "that is the memmap of the whole DIMM; each block holds only its own, at its "
                                   "own start")
        mistakes.setdefault(0, "the kernel accepted memmap_on_memory for this add: the block carries its own "
                               "memmap")
    mistakes.setdefault(a.memmap_bytes(b.nr_pages), "that is the memmap in bytes; count pfns")
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="mhp_supports_memmap_on_memory(): <= 6.7 only a single-block add "
                             "(size == memory_block_size_bytes()), 6.8+ every block gets its own altmap; the "
                             "memmap must be whole pages, whole pageblocks (force pads it, 6.6+) and PMD-aligned; "
                             "vmemmap pages = memory_block_memmap_on_memory_pages()")


def _online_word(kernel: str, pfn: int) -> tuple[int, int]:
    """kpageflags of ``pfn`` and of the first buddy pfn after hot-add + online_movable of one 128 MiB DIMM."""
    m = hotplug_vm(kernel)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{MEM}/memory32/state", "online_movable")
    return int(m.kpageflags(pfn, 1)[0]), int(m.kpageflags(pfn + m.blocks[32].vmemmap_pages, 1)[0])


def check_kpageflags_word(answer: object, kernel: str = "6.1", pfn: int = 0x100000) -> CheckResult:
    """Check "which /proc/kpageflags word does ``pfn`` read after hot-add + online_movable of 128 MiB?"."""
    words = {k: _online_word(k, pfn)[0] for k in ("5.13", "6.1", "6.12")}
    expected, other = _online_word(kernel, pfn)
    mistakes = {w: f"{kpf_names(w)}: that is what {k} reads" for k, w in words.items()}
    mistakes[other] = f"{kpf_names(other)}: that is a free page of the buddy part, after the memmap"
    mistakes[1 << 20] = "NOPAGE: that is the word before onlining, when the section is not online"
    mistakes.pop(expected, None)
    rule = ("stable_page_flags(): KPF_RESERVED (bit 32) copies PG_reserved, KPF_OWNER_PRIVATE (bit 37) copies "
            "PG_owner_priv_1 = PG_vmemmap_self_hosted (6.0+); the memmap pages are PageReserved up to 6.10, "
            "only VmemmapSelfHosted from 6.11 (the model's 6.12)")
    result = check_number(answer, expected, mistakes=mistakes, rule=rule)
    result = in_hex(result, answer, expected)
    return (CheckResult(True, f"{expected:#x} = {kpf_names(expected)}", mistakes=result.mistakes) if result.ok
            else result)
