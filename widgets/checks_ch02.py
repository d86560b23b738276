"""Check cells of chapter 02 (sections and memory blocks): sections per block, which block holds an address."""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from widgets.units import format_bytes
from workbook.arch import get_arch
from workbook.problems.blocks import block_id_mistakes, block_size_mistakes, probe_block_size

__all__ = ["check_sections_per_block", "check_sections_per_probed_block", "check_block_id"]


def _sections_mistakes(block_size: int, arch: str) -> dict[int, str]:
    """Counts that are not sections per block, and what each one counts instead."""
    a = get_arch(arch)
    return {
        block_size >> a.page_shift: "that is the number of pages in the block",
        a.pages_per_section: "that is PAGES_PER_SECTION, the pages in one section",
        block_size >> 20: "that is the block size in MiB",
        a.section_size >> 20: "that is the section size in MiB",
    }


def _sections_rule(arch: str) -> str:
    a = get_arch(arch)
    return (f"sections_per_block = memory_block_size_bytes() / MIN_MEMORY_BLOCK_SIZE, "
            f"and MIN_MEMORY_BLOCK_SIZE = 1 << SECTION_SIZE_BITS = {a.section_size >> 20} MiB")


def check_sections_per_block(answer: object, block_size: int, arch: str = "x86_64") -> CheckResult:
    """Check "how many memory sections make up one memory block of ``block_size`` bytes?"."""
    expected = block_size // get_arch(arch).section_size
    mistakes = _sections_mistakes(block_size, arch)
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes, rule=_sections_rule(arch))


def check_sections_per_probed_block(answer: object, boot_mem_end: int, bare_metal: bool,
                                    ram: int | None = None) -> CheckResult:
    """Check "how many sections make up one memory block of this x86_64 machine?" (probe, then divide).

    A count that belongs to another block size the probe can return names the probe rule it misses;
    with ``ram`` (the machine's RAM, when it differs from where boot memory ends) so does taking the
    RAM size for the end of boot memory.
    """
    a = get_arch("x86_64")
    block = probe_block_size(boot_mem_end, bare_metal)
    expected = block // a.section_size
    mistakes: dict[int, str] = {}
    if ram is not None and ram != boot_mem_end:
        mistakes[probe_block_size(ram, bare_metal) // a.section_size] = (
            f"that takes the RAM size, {format_bytes(ram)}, for the end of boot memory; the probe looks at the "
            f"address where boot memory ends, {boot_mem_end:#x} ({format_bytes(boot_mem_end)}) here")
    for size, why in block_size_mistakes(boot_mem_end, bare_metal).items():
        mistakes.setdefault(size // a.section_size, f"that is a {format_bytes(size)} block: {why}")
    for count, why in _sections_mistakes(block, "x86_64").items():
        mistakes.setdefault(count, why)
    mistakes.pop(expected, None)
    rule = ("the block size first (x86 probe_memory_block_size(): boot memory ending below 64 GiB -> 128 MiB; "
            "bare metal -> 2 GiB; a VM -> the largest of 2 GiB, 1 GiB, 512 MiB, 256 MiB that divides the end "
            "of boot memory, else 128 MiB), then sections = block size / section size (128 MiB)")
    return check_number(answer, expected, mistakes=mistakes, rule=rule)


def check_block_id(answer: object, addr: int, block_size: int, arch: str = "x86_64") -> CheckResult:
    """Check "which memoryN holds physical address ``addr`` when blocks are ``block_size`` bytes?"."""
    a = get_arch(arch)
    section_nr = a.pfn(addr) // a.pages_per_section
    expected = section_nr // (block_size // a.section_size)
    return check_number(answer, expected, mistakes=block_id_mistakes(addr, block_size, arch),
                        rule="block id = phys_addr / memory_block_size_bytes() = section_nr / sections_per_block "
                             "(drivers/base/memory.c memory_block_id())")
