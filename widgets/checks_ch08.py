"""Check cells of chapter 08 (pfn walkers): online struct pages of the memmap, kpageflags words, walker visits."""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import MiB
from workbook.machine import Machine
from workbook.pagemap import kpf_names
from workbook.problems.pfn_walkers import WALKER_RULES, walker_counts, walker_machine, walker_mistakes, walker_visits
from workbook.walkers import pfn_to_online_page

__all__ = ["check_online_memmap_pfns", "check_kpageflags_word", "check_walker_visits"]


def check_online_memmap_pfns(answer: object, kernel: str = "6.12", block_size: int = 128 * MiB,
                             state: str = "online_movable") -> CheckResult:
    """Check "for how many of the block's memmap pfns does pfn_to_online_page() return a page?"."""
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline", block_size=block_size)
    bid = m.dimm_add(block_size, 1, "dimm1").blocks[0]
    if state != "offline":
        m.write(f"/sys/devices/system/memory/memory{bid}/state", state)
    b = m.blocks[bid]
    v = b.vmemmap_pages
    expected = sum(pfn_to_online_page(m, p) for p in range(b.start_pfn, b.start_pfn + v))
    mistakes = {
        0: ("that is true before onlining, and online_pages() is handed only the pfns after the memmap; but "
            "SECTION_IS_ONLINE is set per section: online_mem_sections() sets it for every section the range touches, "
            "and the memmap shares its section with the buddy pages"),
        b.nr_pages: "that counts every pfn of the block; the question is about its memmap pfns only",
        b.nr_pages - v: "that is the buddy part of the block; the question is about its memmap pfns",
    }
    if state == "offline":
        mistakes[v] = "the block is offline: its sections are not online, so pfn_to_online_page() is NULL everywhere"
    sections = b.nr_pages // m.arch.pages_per_section
    mistakes.setdefault(m.arch.pages_per_section, "that is the pfns of one whole section (128 MiB); the question is "
                                                  "about the memmap pfns only")
    if block_size != 128 * MiB:
        mistakes.setdefault((128 * MiB >> 12) // 64, f"that is the memmap of a 128 MiB block; this block's is 1/64 of "
                                                     f"{block_size >> 20} MiB")
    mistakes.setdefault(sections, "that counts sections, not pfns")
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="pfn_to_online_page(pfn) is not NULL iff online_section_nr(pfn_to_section_nr(pfn)): "
                             "online_pages() sets SECTION_IS_ONLINE for whole sections (online_mem_sections())")


def _kpf_machine(kernel: str, state: str, size: int) -> Machine:
    """The chapter's VM with one DIMM of ``size`` bytes on node 1 (memory32...), every block written ``state``."""
    if size == 128 * MiB:
        return walker_machine(kernel, state)
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    for bid in m.dimm_add(size, 1, "dimm1").blocks:
        if state != "offline":
            m.write(f"/sys/devices/system/memory/memory{bid}/state", state)
    return m


def check_kpageflags_word(answer: object, kernel: str = "6.12", pfn: int = 0x100000,
                          state: str = "online_movable", size: int = 128 * MiB) -> CheckResult:
    """Check "which /proc/kpageflags word does ``pfn`` read after hot-adding ``size`` bytes on node 1?"."""
    m = _kpf_machine(kernel, state, size)
    expected = int(m.kpageflags(pfn, 1)[0])
    b = m.block_of_pfn(pfn)
    self_hosted = b.vmemmap_pages > 0 and pfn < b.start_pfn + b.vmemmap_pages
    rule = ("fs/proc/page.c stable_page_flags(): KPF_NOPAGE (bit 20) without an online struct page, KPF_BUDDY (10) "
            "for free pages, KPF_RESERVED (32) copies PG_reserved, KPF_OWNER_PRIVATE (37) copies PG_owner_priv_1 "
            "(= PG_vmemmap_self_hosted)")
    mistakes: dict[int, str] = {}
    blocks = size // m.block_size
    for other in ("5.13", "6.1", "6.12"):
        if other == kernel:
            continue
        word = int(_kpf_machine(other, state, size).kpageflags(pfn, 1)[0])
        if word != expected:
            why = f"that is Linux {other}'s word ({kpf_names(word)}); {kernel} reads {kpf_names(expected)}"
            if blocks > 1 and (word >> 37) & 1 != (expected >> 37) & 1:
                why += (": one altmap per block, so every block of a multi-block DIMM self-hosts its memmap, came "
                        "with 6.8" if self_hosted else ": before 6.8 only a one-block add self-hosts its memmap")
            mistakes.setdefault(word, why)
    if not self_hosted and state != "offline":
        memmap_word = int(walker_machine(kernel, state).kpageflags(0x100000, 1)[0])
        mistakes.setdefault(memmap_word, (
            f"that is the word of a self-hosted memmap pfn on {kernel}; " + (
                f"Linux {kernel} self-hosts the memmap only for a one-block add: this {blocks}-block DIMM's memmap "
                f"is in node 0's memory, and pfn {pfn:#x} is an ordinary page of memory{b.id}" if blocks > 1 else
                f"pfn {pfn:#x} is past the block's {b.vmemmap_pages} memmap pfns")))
    mistakes.setdefault(1 << 20, "that is KPF_NOPAGE: the word of a pfn without an online struct page; the block "
                                 "is online")
    mistakes.setdefault(1 << 10, "that is KPF_BUDDY, the word of a free page; this pfn holds memmap")
    for bit in (32, 37, 20, 10):
        mistakes.setdefault(bit, f"that is a bit number ({bit}), not a word; the word with bit {bit} set is "
                                 f"1 << {bit} = {1 << bit:#x}")
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes, rule=rule), answer, expected)


def check_walker_visits(answer: object, kernel: str = "6.1", walker: str = "generic",
                        state: str = "online_movable") -> CheckResult:
    """Check "how many of memory32's pfns does ``walker`` visit on ``kernel``?"."""
    counts = walker_counts(kernel, walker, state)
    expected = counts.get("visited", 0)
    mistakes: dict[int, str] = {}
    for other in ("5.13", "6.1", "6.12"):
        if other != kernel:
            theirs = walker_visits(other, walker, state)
            if theirs != expected:
                mistakes[theirs] = (f"that is what Linux {other} gives; on {kernel} the self-hosted memmap pages are "
                                    + ("PageReserved" if kernel != "6.12" else "not PageReserved"))
    mistakes.update({k: v for k, v in walker_mistakes(walker, counts, 32768, 512).items() if k not in mistakes})
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes, rule=WALKER_RULES[walker])
