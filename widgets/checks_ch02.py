"""Check cells of chapter 02 (sections and memory blocks): sections per block, which block holds an address."""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from workbook.arch import get_arch

__all__ = ["check_sections_per_block", "check_block_id"]


def check_sections_per_block(answer: object, block_size: int, arch: str = "x86_64") -> CheckResult:
    """Check "how many memory sections make up one memory block of ``block_size`` bytes?"."""
    a = get_arch(arch)
    expected = block_size // a.section_size
    mistakes = {
        block_size >> a.page_shift: "that is the number of pages in the block",
        a.pages_per_section: "that is PAGES_PER_SECTION, the pages in one section",
        block_size >> 20: "that is the block size in MiB",
        a.section_size >> 20: "that is the section size in MiB",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule=f"sections_per_block = memory_block_size_bytes() / MIN_MEMORY_BLOCK_SIZE, "
                             f"and MIN_MEMORY_BLOCK_SIZE = 1 << SECTION_SIZE_BITS = {a.section_size >> 20} MiB")


def check_block_id(answer: object, addr: int, block_size: int, arch: str = "x86_64") -> CheckResult:
    """Check "which memoryN holds physical address ``addr`` when blocks are ``block_size`` bytes?"."""
    a = get_arch(arch)
    section_nr = a.pfn(addr) // a.pages_per_section
    expected = section_nr // (block_size // a.section_size)
    mistakes = {
        section_nr: "that is the section number; a memory block is sections_per_block sections",
        a.pfn(addr): "that is the pfn",
        addr // int(f"{block_size:x}"): f"that reads block_size_bytes as decimal; '{block_size:x}' is hexadecimal",
        addr >> 20: "that is the address in MiB",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="block id = phys_addr / memory_block_size_bytes() = section_nr / sections_per_block "
                             "(drivers/base/memory.c memory_block_id())")
