"""Chapter 08 check cells: online memmap pfns, kpageflags words, walker visits."""
from __future__ import annotations

import pytest

from widgets.checks_ch08 import check_kpageflags_word, check_online_memmap_pfns, check_walker_visits
from workbook.arch import GiB


def test_online_memmap_pfns_follow_the_section() -> None:
    assert check_online_memmap_pfns(512).ok
    assert check_online_memmap_pfns(8192, block_size=2 * GiB).ok
    r = check_online_memmap_pfns(0)
    assert not r.ok and "per section" in r.message and "online_section_nr" in r.rule
    assert check_online_memmap_pfns(0, state="offline").ok
    assert "offline" in check_online_memmap_pfns(512, state="offline").message


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
