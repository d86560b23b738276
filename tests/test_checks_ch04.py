"""Chapter 04 check cells: altmap_alloc_block_buf() results, buddy_start_pfn, altmap->free."""
from __future__ import annotations

import pytest

from widgets.checks_ch04 import check_altmap_free, check_altmap_pfn, check_buddy_start_pfn
from workbook.arch import GiB, MiB


def test_altmap_pfn_alignment_and_reserve() -> None:
    assert repr(check_altmap_pfn(0x100200, 0x100000, 2, 1024, [512])) == "right: 0x100200 (1049088)"
    r = check_altmap_pfn(0x100002, 0x100000, 2, 1024, [512])
    assert not r.ok and "alignment" in r.message and "lowest set bit" in r.rule
    assert "->reserve" in check_altmap_pfn(0x100000, 0x100000, 2, 1024, [1]).message
    assert check_altmap_pfn(0x100200, 0x100000, 0, 2048, [1, 512]).ok


def test_pfns_are_echoed_as_the_answer_key_writes_them() -> None:
    # asked about pfns in hex, a wrong answer is echoed 0x... (decimal) however it was typed
    r = check_altmap_pfn(0x100002, 0x100000, 2, 1024, [512])
    assert r.message.startswith("0x100002 (1048578): ")
    r = check_altmap_pfn(100600, 0x100000, 2, 2048, [512, 1, 512])          # 0x100600's digits typed in decimal
    assert r.message.startswith("0x188f8 (100600): ") and "write it as 0x100600" in r.message
    assert "base_pfn itself" in check_altmap_pfn(0x100000, 0x100000, 2, 2048, [512, 1, 512]).message
    assert repr(check_buddy_start_pfn("0x118200", size=1 * GiB, block=35)) == "right: 0x118200 (1147392)"


def test_altmap_pfn_exhausted() -> None:
    assert check_altmap_pfn(-1, 0x100000, 2, 512, [512]).ok
    assert not check_altmap_pfn(0x100200, 0x100000, 2, 512, [512]).ok
    assert not check_altmap_pfn(None, 0x100000, 2, 512, [512]).ok
    assert "succeeds" in check_altmap_pfn(-1, 0x100000, 0, 512, [512]).message


@pytest.mark.parametrize("kernel", ["5.13", "6.1", "6.12"])
def test_buddy_start_pfn(kernel: str) -> None:
    assert check_buddy_start_pfn(0x100200, kernel=kernel).ok
    r = check_buddy_start_pfn(0x100000, kernel=kernel)
    assert not r.ok and r.message.startswith("0x100000 (1048576): that is the first pfn of the block")


def test_buddy_start_pfn_of_a_later_block() -> None:
    assert check_buddy_start_pfn(0x118200, size=1 * GiB, block=35).ok
    assert "first pfn of the block" in check_buddy_start_pfn(0x118000, size=1 * GiB, block=35).message
    # 6.1 refuses memmap_on_memory for a multi-block add: the buddy gets the whole block
    assert check_buddy_start_pfn(0x118000, kernel="6.1", size=1 * GiB, block=35).ok
    r = check_buddy_start_pfn(0x118200, kernel="6.1", size=1 * GiB, block=35)
    assert not r.ok and "Linux 6.1 did not put this DIMM's memmap on the DIMM" in r.message
    assert "exactly one block per add" in r.message
    assert "whole DIMM" in check_buddy_start_pfn(0x119000, size=1 * GiB, block=35).message


def test_altmap_free() -> None:
    assert check_altmap_free(8192).ok
    assert check_altmap_free(512, block_size=128 * MiB).ok
    assert "number of PMDs" in check_altmap_free(16).message
    assert "whole block, as 5.13-6.5 set it" in check_altmap_free(2 * GiB >> 12).message
    assert "a 128 MiB block's" in check_altmap_free(512).message


def test_altmap_free_up_to_6_5_is_the_whole_range() -> None:
    """5.13-6.5: add_memory_resource()'s altmap has free = PHYS_PFN(size); the block keeps alloc."""
    assert check_altmap_free(32768, block_size=128 * MiB, kernel="6.1").ok
    r = check_altmap_free(512, block_size=128 * MiB, kernel="6.1")
    assert not r.ok and "->alloc" in r.message and "PHYS_PFN(size)" in r.rule
    assert check_altmap_free(32768, block_size=128 * MiB, kernel="5.13").ok
    with pytest.raises(ValueError):
        check_altmap_free(512, block_size=128 * MiB, kernel="5.10")
