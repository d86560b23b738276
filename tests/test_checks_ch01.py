"""Chapter 01 check cells: pfn arithmetic and pfn_to_page(), with the mistakes they name."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from widgets.checks import CheckResult
from widgets.checks_ch01 import check_pfn, check_struct_page_address, in_hex
from workbook.arch import GiB, get_arch


def test_pfn_right_and_in_hex() -> None:
    r = check_pfn(0x100000, 4 * GiB)
    assert r.ok and repr(r) == "right: 0x100000"


@pytest.mark.parametrize(("answer", "hint"), [
    (4 * GiB, "that is the address itself"),
    (4 * GiB >> 10, "shifts by 10"),
    (123, "that is not it"),
])
def test_pfn_mistakes(answer: int, hint: str) -> None:
    r = check_pfn(answer, 4 * GiB)
    assert not r.ok and hint in repr(r) and "rule: pfn = PHYS_PFN(addr)" in repr(r)


def test_pfn_rounding_up_and_other_page_sizes() -> None:
    assert "PFN_UP" in repr(check_pfn(0x100001, 0x100000fff))
    r = check_pfn(4 * GiB >> 12, 4 * GiB, arch="arm64-64k")
    assert not r.ok and "PAGE_SHIFT 16" in repr(r)
    assert check_pfn(4 * GiB >> 16, 4 * GiB, arch="arm64-64k").ok


@given(st.integers(min_value=0, max_value=(1 << 46) - 1))
def test_pfn_matches_the_model(addr: int) -> None:
    assert check_pfn(get_arch("x86_64").pfn(addr), addr).ok


def test_struct_page_address() -> None:
    assert repr(check_struct_page_address(0xFFFFEA0004000000, 0x100000)) == "right: 0xffffea0004000000"
    r = check_struct_page_address(0xFFFFEA0000100000, 0x100000)
    assert not r.ok and r.message.startswith("0xffffea0000100000: that adds the pfn as bytes")
    assert "sizeof" not in r.message and "vmemmap + pfn" in r.rule
    assert "offset inside the vmemmap" in repr(check_struct_page_address(0x100000 * 64, 0x100000))
    assert check_struct_page_address(0xFFD4000004000000, 0x100000, arch="x86_64-la57").ok
    with pytest.raises(ValueError):
        check_struct_page_address(0, 1, arch="arm64-4k")


def test_in_hex_keeps_non_numbers() -> None:
    bad = CheckResult(False, "'x' is not a whole number", "rule")
    assert in_hex(bad, "x", 5) is bad
    assert repr(in_hex(CheckResult(True, "5"), 5, 5)) == "right: 0x5"


@pytest.mark.parametrize(("answer", "hint"), [
    (0x7FFFF123 >> 12, "shifts by 12, as for 4 KiB pages (dropping three hex digits works only then); "
                       "arm64-16k has PAGE_SHIFT 14"),
    (0x7FFFF123 >> 16, "shifts by 16, as for 64 KiB pages; arm64-16k has PAGE_SHIFT 14"),
    (0x3123, "offset inside the page"),            # the low 14 bits
    (0x7FFFF123 * 16384, "that multiplies"),
])
def test_pfn_mistakes_of_exercise_1_1(answer: int, hint: str) -> None:
    """Exercise 1.1 (16 KiB pages): the x86 shortcut and the other page sizes are named, not 'that is not it'."""
    assert check_pfn(0x1FFFF, 0x7FFFF123, arch="arm64-16k").ok
    r = check_pfn(answer, 0x7FFFF123, arch="arm64-16k")
    assert not r.ok and hint in repr(r) and r.rule.endswith("addr >> 14")


def test_pfn_hex_digits_read_as_decimal() -> None:
    r = check_pfn(100001, 0x100001234)                      # pfn 0x100001 typed without its 0x
    assert not r.ok and "hex digits read as a decimal number" in repr(r)
