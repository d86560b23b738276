"""Chapter 01 problems: pfn-of-address and struct-page-address."""
from __future__ import annotations

import pytest

from workbook.arch import get_arch
from workbook.problems import generate
from workbook.problems.vmemmap import VMEMMAP_BASE, page_to_pfn, pfn_to_page


@pytest.mark.parametrize("seed", range(25))
def test_pfn_of_address_is_phys_pfn(seed: int) -> None:
    p = generate("pfn-of-address", seed)
    assert p == generate("pfn-of-address", seed)
    addr = int(p.params["physical address"], 16)
    assert p.answer == get_arch(p.params["arch"]).pfn(addr) == addr >> p.params["PAGE_SHIFT"]
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    v = p.check(addr)
    assert not v.ok and "address itself" in repr(v) and "rule: pfn = PHYS_PFN" in repr(v)


def test_pfn_of_address_varies_the_architecture() -> None:
    assert len({generate("pfn-of-address", s).params["arch"] for s in range(40)}) >= 4


@pytest.mark.parametrize("seed", range(25))
def test_struct_page_address_is_vmemmap_plus_pfn(seed: int) -> None:
    p = generate("struct-page-address", seed)
    pfn = int(p.params["pfn"], 16)
    base = VMEMMAP_BASE[p.params["arch"]]
    assert p.answer == base + pfn * 64 == pfn_to_page(p.params["arch"], pfn)
    assert page_to_pfn(p.params["arch"], p.answer) == pfn
    assert "pointer arithmetic" in repr(p.check(base + pfn))


def test_page_to_pfn_rejects_non_struct_page_addresses() -> None:
    with pytest.raises(ValueError):
        page_to_pfn("x86_64", VMEMMAP_BASE["x86_64"] + 3)
    with pytest.raises(ValueError):
        pfn_to_page("x86_64", -1)
