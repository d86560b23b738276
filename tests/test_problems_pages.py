"""Chapter 01 problems: pfn-of-address and struct-page-address."""
from __future__ import annotations

import pytest

from workbook.problems import generate
from workbook.problems.vmemmap import VMEMMAP_BASE, page_to_pfn, pfn_to_page


# PAGE_SHIFT of each build (arch/*/include/asm/page*.h): 4, 16 and 64 KiB pages.
PAGE_SHIFT = {"x86_64": 12, "arm64-4k": 12, "arm64-16k": 14, "arm64-64k": 16, "ppc64-radix-64k": 16, "s390x": 12}
# VMEMMAP_START without KASLR (arch/x86/include/asm/pgtable_64_types.h, __VMEMMAP_BASE_L4/_L5).
VMEMMAP_START = {"x86_64": 0xFFFF_EA00_0000_0000, "x86_64-la57": 0xFFD4_0000_0000_0000}


@pytest.mark.parametrize("seed", range(25))
def test_pfn_of_address_is_phys_pfn(seed: int) -> None:
    p = generate("pfn-of-address", seed)
    assert p == generate("pfn-of-address", seed)
    addr = int(p.params["physical address"], 16)
    shift = PAGE_SHIFT[p.params["arch"]]
    assert p.params["PAGE_SHIFT"] == shift and p.params["PAGE_SIZE"] == 1 << shift
    assert p.answer == addr >> shift == addr // p.params["PAGE_SIZE"]
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    v = p.check(addr)
    assert not v.ok and "address itself" in repr(v) and "rule: pfn = PHYS_PFN" in repr(v)


def test_pfn_of_address_varies_the_architecture() -> None:
    assert len({generate("pfn-of-address", s).params["arch"] for s in range(40)}) >= 4


def test_struct_page_address_covers_both_paging_modes() -> None:
    assert {generate("struct-page-address", s).params["arch"] for s in range(25)} == set(VMEMMAP_START)


@pytest.mark.parametrize("seed", range(25))
def test_struct_page_address_is_vmemmap_plus_pfn(seed: int) -> None:
    p = generate("struct-page-address", seed)
    pfn = int(p.params["pfn"], 16)
    base = VMEMMAP_START[p.params["arch"]]
    assert int(p.params["vmemmap (VMEMMAP_START, no KASLR)"], 16) == base
    assert p.answer == base + pfn * 64
    assert page_to_pfn(p.params["arch"], p.answer) == pfn
    assert "pointer arithmetic" in repr(p.check(base + pfn))


def test_page_to_pfn_rejects_non_struct_page_addresses() -> None:
    with pytest.raises(ValueError):
        page_to_pfn("x86_64", VMEMMAP_BASE["x86_64"] + 3)
    with pytest.raises(ValueError):
        pfn_to_page("x86_64", -1)


def test_pfn_of_address_names_the_other_page_sizes_and_the_offset() -> None:
    """The seeded exercise names what a wrong pfn misread, as the fixed one does (never only 'that is not it')."""
    for seed in range(40):
        p = generate("pfn-of-address", seed)
        addr, shift = int(p.params["physical address"], 16), p.params["PAGE_SHIFT"]
        for other in {12, 14, 16} - {shift}:
            assert f"shifts by {other}" in repr(p.check(addr >> other))
        offset = addr & (p.params["PAGE_SIZE"] - 1)
        if offset != p.answer:
            assert "offset inside the page" in repr(p.check(offset))
