"""Check cells of chapter 05 (memmap on memory): self-hosted pages per block, their /proc/kpageflags word.

Every expected value is read from a model machine that performed the hot-add (and the
online): the chapter's VM, node 0 with 1 GiB and an empty node 1.
"""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB
from workbook.pagemap import kpf_names
from workbook.problems.memmap_on_memory import hotplug_vm, selfhosted_mistakes

__all__ = ["check_selfhosted_pages", "check_kpageflags_word"]

MEM = "/sys/devices/system/memory"


def check_selfhosted_pages(answer: object, kernel: str = "6.1", size: int = 1 * GiB, block: int | None = None,
                           arch: str = "x86_64", mode: str = "1") -> CheckResult:
    """Check "how many pfns at the start of memory<block> hold its own memmap after hot-adding ``size`` bytes?".

    ``block`` defaults to the last block of the DIMM.
    """
    m = hotplug_vm(kernel, arch, mode)
    res = m.dimm_add(size, 1, "dimm1")
    b = m.blocks[res.blocks[-1] if block is None else block]
    expected = b.vmemmap_pages
    mistakes = selfhosted_mistakes(m, size, mode, expected)
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
    words = {k: _online_word(k, pfn)[0] for k in ("6.12", "6.1", "5.13")}
    expected, other = _online_word(kernel, pfn)
    mistakes = {w: f"{kpf_names(w)}: that is what {k} reads" for k, w in words.items()}
    mistakes[other] = f"{kpf_names(other)}: that is a free page of the buddy part, after the memmap"
    mistakes[1 << 20] = "NOPAGE: that is the word before onlining, when the section is not online"
    mistakes.setdefault(0, "0: that is how 6.16+ read a pfn with no online struct page; once online, the memmap "
                           "pages carry flags")
    # bits counted from 1, and the hex digits typed as a decimal number
    mistakes.setdefault(expected >> 1, "that counts the bits from 1; KPF_* bit numbers count from 0 (1 << 32 is "
                                       "KPF_RESERVED)")
    bits = [b for b in range(64) if expected >> b & 1]
    if len(bits) > 1:
        for wrong in (sum(bits), bits[0] | bits[-1]):
            mistakes.setdefault(wrong, "that combines the bit numbers; the word has those bits set: "
                                       + " | ".join(f"(1 << {b})" for b in bits))
    if expected >> 32:
        mistakes.setdefault(expected >> 32, f"that is only the word's upper 32 bits; the word is 64 bits wide: "
                                            f"{expected:#x}")
    written = f"{expected:x}"
    if written.isdigit():
        mistakes.setdefault(int(written), f"that is the word's hex digits read as a decimal number; write it as "
                                          f"0x{written}")
    mistakes.pop(expected, None)
    rule = ("stable_page_flags(): KPF_RESERVED (bit 32) copies PG_reserved, KPF_OWNER_PRIVATE (bit 37) copies "
            "PG_owner_priv_1 = PG_vmemmap_self_hosted (6.0+); the memmap pages are PageReserved up to 6.10, "
            "only VmemmapSelfHosted from 6.11 (the model's 6.12)")
    result = check_number(answer, expected, mistakes=mistakes, rule=rule)
    result = in_hex(result, answer, expected)
    return (CheckResult(True, f"{expected:#x} = {kpf_names(expected)}", mistakes=result.mistakes) if result.ok
            else result)
