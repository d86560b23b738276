"""Check cells of chapter 01 (pages, pfns and struct page): pfn arithmetic and pfn_to_page().

Each function compares a learner's ``answer`` with what the model computes and, for a
wrong answer, names the mistake it looks like and the kernel rule it breaks.
"""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from workbook.problems.answers import NOT_A_NUMBER, parse_int
from workbook.arch import get_arch
from workbook.problems.pages import pfn_mistakes
from workbook.problems.vmemmap import pfn_to_page, vmemmap_base

__all__ = ["check_pfn", "check_struct_page_address", "in_hex"]


def in_hex(result: CheckResult, answer: object, expected: int) -> CheckResult:
    """``result`` with the numbers written in hex, as addresses and pfns are usually written."""
    if result.ok:
        return CheckResult(True, f"{expected:#x}", mistakes=result.mistakes)
    value = parse_int(answer)
    if value is not NOT_A_NUMBER and value >= 0:
        head = f"{value:,}"
        if result.message.startswith(head):
            return CheckResult(False, f"{value:#x}" + result.message[len(head):], result.rule, result.mistakes)
    return result


def check_pfn(answer: object, addr: int, arch: str = "x86_64") -> CheckResult:
    """Check "which pfn holds physical address ``addr``?" (PHYS_PFN)."""
    a = get_arch(arch)
    expected = a.pfn(addr)
    return in_hex(check_number(answer, expected, mistakes=pfn_mistakes(addr, a),
                               rule=f"pfn = PHYS_PFN(addr) = addr >> PAGE_SHIFT = addr >> {a.page_shift}"),
                  answer, expected)


def check_struct_page_address(answer: object, pfn: int, arch: str = "x86_64") -> CheckResult:
    """Check "at which virtual address is the struct page of ``pfn``?" (vmemmap + pfn)."""
    a = get_arch(arch)
    base = vmemmap_base(a)
    expected = pfn_to_page(a, pfn)
    mistakes = {
        base + pfn: "that adds the pfn as bytes; vmemmap + pfn steps over whole struct pages "
                    f"({a.struct_page_size} bytes each)",
        base + (pfn << a.page_shift): "that adds the physical address; index the array with the pfn",
        pfn * a.struct_page_size: "that is the offset inside the vmemmap; add the vmemmap base",
        base + pfn * a.page_size: "that multiplies by PAGE_SIZE; each array element is one struct page",
    }
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes,
                               rule=f"pfn_to_page(pfn) = vmemmap + pfn = {base:#x} + pfn x {a.struct_page_size}"),
                  answer, expected)
