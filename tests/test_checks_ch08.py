"""Chapter 08 check cells: online memmap pfns, kpageflags words, walker visits."""
from __future__ import annotations

import pytest

from widgets.checks_ch08 import check_kpageflags_word, check_online_memmap_pfns, check_walker_visits
from workbook.arch import GiB, MiB


def test_online_memmap_pfns_follow_the_section() -> None:
    assert check_online_memmap_pfns(512).ok
    assert check_online_memmap_pfns(8192, block_size=2 * GiB).ok
    r = check_online_memmap_pfns(0)
    assert not r.ok and "per section" in r.message and "online_section_nr" in r.rule
    assert check_online_memmap_pfns(0, state="offline").ok
    assert "offline" in check_online_memmap_pfns(512, state="offline").message


def test_online_memmap_pfns_names_the_size_mistakes_of_exercise_8_1() -> None:
    """Exercise 8.1 gives no count: a 128 MiB block's memmap, a whole section or a count of sections is named."""
    two = {"kernel": "6.12", "block_size": 2 * GiB}
    assert "memmap of a 128 MiB block" in check_online_memmap_pfns(512, **two).message
    assert "one whole section" in check_online_memmap_pfns(32768, **two).message
    assert "counts sections" in check_online_memmap_pfns(16, **two).message
    assert "online_pages() is handed only the pfns after the memmap" in check_online_memmap_pfns(0, **two).message


@pytest.mark.parametrize("kernel,word", [("5.13", 1 << 32), ("6.1", (1 << 32) | (1 << 37)), ("6.12", 1 << 37)])
def test_kpageflags_word_of_the_first_memmap_pfn(kernel: str, word: int) -> None:
    assert repr(check_kpageflags_word(word, kernel=kernel)) == f"right: {word:#x}"


def test_kpageflags_word_mistakes() -> None:
    assert "Linux 6.1's word" in check_kpageflags_word(0x2100000000).message
    assert "bit number" in check_kpageflags_word(37).message
    assert "KPF_NOPAGE" in check_kpageflags_word(1 << 20).message
    assert check_kpageflags_word(1 << 20, state="offline").ok
    assert check_kpageflags_word(0x400, pfn=0x100200).ok


def test_walker_visits() -> None:
    assert check_walker_visits(32256).ok and check_walker_visits(32768, kernel="6.12").ok
    r = check_walker_visits(32768)
    assert not r.ok and "Linux 6.12" in r.message and "PageReserved" in r.rule
    assert not check_walker_visits(None).ok
    assert check_walker_visits(32256, kernel="6.12", walker="hotplug").ok


def test_kpageflags_word_of_a_multi_block_dimm_exercise_8_2() -> None:
    """6.1 self-hosts one-block adds only: memory33's first pfn of a 1 GiB DIMM is a free page; 6.12's is memmap."""
    ask = dict(pfn=0x108000, size=1 * GiB)
    assert repr(check_kpageflags_word(0x400, kernel="6.1", **ask)) == "right: 0x400"
    r = check_kpageflags_word(0x2100000000, kernel="6.1", **ask)
    assert not r.ok and "only for a one-block add" in r.message and "memory33" in r.message
    assert "before 6.8" in check_kpageflags_word(0x2000000000, kernel="6.1", **ask).message
    assert check_kpageflags_word(0x2000000000, kernel="6.12", **ask).ok
    assert "came with 6.8" in check_kpageflags_word(0x400, kernel="6.12", **ask).message
    assert check_kpageflags_word(0x400, kernel="6.1", pfn=0x108000, size=256 * MiB).ok


def test_walker_visits_names_what_was_passed_over() -> None:
    assert "self-hosted memmap pages" in check_walker_visits(512).message
    assert "that is what Linux 6.1 gives" in check_walker_visits(32256, walker="generic", kernel="6.12").message
