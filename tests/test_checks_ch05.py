"""Chapter 05 check cells: self-hosted pages per block, the kpageflags word of a memmap pfn."""
from __future__ import annotations

from widgets.checks_ch05 import check_kpageflags_word, check_selfhosted_pages
from workbook.arch import MiB


def test_selfhosted_pages_single_block_rule() -> None:
    assert check_selfhosted_pages(0).ok                                # 6.1, 1 GiB DIMM: none on the memory
    r = check_selfhosted_pages(512)
    assert not r.ok and "one block per add" in r.message and "size == memory_block_size_bytes()" in r.rule
    assert "whole DIMM" in check_selfhosted_pages(4096).message
    assert check_selfhosted_pages(512, kernel="6.12").ok
    assert check_selfhosted_pages(512, kernel="6.1", size=128 * MiB).ok


def test_selfhosted_pages_force_padding() -> None:
    args = {"kernel": "6.12", "size": 256 * MiB, "arch": "ppc64-radix-64k", "mode": "force"}
    assert check_selfhosted_pages(32, **args).ok
    assert "pads it to whole pageblocks (32 pages)" in check_selfhosted_pages(4, **args).message
    assert "only the padding" in check_selfhosted_pages(28, **args).message
    assert not check_selfhosted_pages(None, **args).ok
    assert check_selfhosted_pages(0, **{**args, "mode": "1"}).ok    # 4 pages are no whole pageblock


def test_kpageflags_word_per_kernel() -> None:
    assert repr(check_kpageflags_word(0x2100000000)) == "right: 0x2100000000 = RESERVED|OWNER_PRIVATE"
    assert check_kpageflags_word(0x2000000000, kernel="6.12").ok
    assert check_kpageflags_word(1 << 32, kernel="5.13").ok
    r = check_kpageflags_word(0x2000000000)
    assert not r.ok and r.message == "0x2000000000: OWNER_PRIVATE: that is what 6.12 reads"
    assert "free page of the buddy part" in check_kpageflags_word(0x400).message
    assert "before onlining" in check_kpageflags_word(1 << 20).message
    assert "PG_reserved" in r.rule


def test_kpageflags_word_slips() -> None:
    assert "count from 0" in check_kpageflags_word(0x1080000000).message
    assert "hex digits" in check_kpageflags_word(2100000000).message
    assert "(1 << 32) | (1 << 37)" in check_kpageflags_word(37).message
    assert "upper 32 bits" in check_kpageflags_word(0x21).message


def test_selfhosted_pages_force_before_6_6() -> None:
    r = check_selfhosted_pages(512, kernel="6.1", size=128 * MiB, mode="force")
    assert not r.ok and "reads 'force' as false" in r.message
    r = check_selfhosted_pages(512, kernel="5.13", size=128 * MiB, mode="force")
    assert not r.ok and "rejects it" in r.message
    args = {"kernel": "6.12", "size": 256 * MiB, "arch": "ppc64-radix-64k", "mode": "force"}
    assert "x86_64's 128 MiB blocks" in check_selfhosted_pages(512, **args).message
