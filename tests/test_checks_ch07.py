"""Chapter 07 check cells: the errno of an offline, the range offline_pages() logs, migrated memory."""
from __future__ import annotations

import pytest

from widgets.checks_ch07 import check_migrated_kb, check_offline_errno, check_offline_log_start, check_slab_offline


def test_offline_errno() -> None:
    assert repr(check_offline_errno("EBUSY")) == "right: EBUSY (Device or resource busy)"
    assert check_offline_errno(16).ok and check_offline_errno(-16).ok
    assert "kernel's first allocations" in check_offline_errno("ok").message
    assert "already offline" in check_offline_errno("EINVAL").message
    assert check_offline_errno("ok", online="online_movable").ok
    assert "vmemmap pages are not in the range" in check_offline_errno("EBUSY", online="online_movable").message
    assert not check_offline_errno(None).ok and not check_offline_errno(1.5).ok


def test_offline_log_start() -> None:
    assert repr(check_offline_log_start(0x108000000)) == "right: 0x108000000"         # 6.1: no memmap on a 1 GiB add
    assert "one block per add" in check_offline_log_start(0x108200000).message
    assert check_offline_log_start(0x108200000, kernel="6.12").ok
    r = check_offline_log_start(0x108000000, kernel="6.12")
    assert not r.ok and "after the vmemmap pages" in r.message and "start_pfn + nr_vmemmap_pages" in r.rule
    assert "that is the pfn" in check_offline_log_start(0x108200, kernel="6.12").message


def test_migrated_kb() -> None:
    assert check_migrated_kb(65536).ok
    assert "in pages" in check_migrated_kb(16384).message
    assert "only the pages in use move" in check_migrated_kb(129024).message
    assert check_migrated_kb(32768, workload=32 << 20).ok


def test_offline_errno_accepts_any_case_and_a_minus_sign():
    from widgets.checks_ch07 import check_offline_errno
    for spelling in ("EBUSY", "ebusy", "-EBUSY", " Ebusy "):
        assert check_offline_errno(spelling, kernel="6.12", online="online_kernel"), spelling
    assert not check_offline_errno("eintr", kernel="6.12", online="online_kernel")


def test_offline_log_start_of_exercise_7_3() -> None:
    """memory34 of a 1 GiB DIMM on 6.1: the block's first byte; the 6.12 answer is named."""
    assert repr(check_offline_log_start(0x110000000, block=34)) == "right: 0x110000000"
    assert "one block per add" in check_offline_log_start(0x110200000, block=34).message


def test_offline_errno_eintr_hint_names_the_fresh_slab() -> None:
    assert "fresh CPU slab" in check_offline_errno("EINTR").message


@pytest.mark.parametrize(("kernel", "state", "position", "expected"), [
    ("6.12", "cpu_partial", 6, "EINTR"),        # 0b110: looks movable
    ("6.12", "cpu_partial", 7, "EBUSY"),        # 0b111: PAGE_MAPPING_KSM's bits, not movable
    ("6.12", "off", 1, "EINTR"),                # LIST_POISON2 ends in 0b10
    ("6.12", "cpu", 0, "EBUSY"),                # a fresh CPU slab: mapping 0
    ("6.1", "off", 1, "EBUSY"),                 # word 3 is slab_cache
    ("7.2", "off", 1, "EBUSY"),                 # 6.17+: a compound page off the LRU is unmovable
])
def test_slab_offline(kernel: str, state: str, position: int, expected: str) -> None:
    assert check_slab_offline(expected, kernel, state, position).ok
    other = "EBUSY" if expected == "EINTR" else "EINTR"
    r = check_slab_offline(other, kernel, state, position)
    assert not r.ok and "that is not it" not in r.message and "__folio_test_movable()" in r.rule


def test_slab_offline_names_each_mistake_of_exercise_7_4() -> None:
    assert "low two bits 10: that is PAGE_MAPPING_MOVABLE" in check_slab_offline("EBUSY").message
    assert "nothing can migrate it" in check_slab_offline("ok").message
    assert "already offline" in check_slab_offline("EINVAL").message
    assert "before 6.2 struct slab keeps slab_cache" in check_slab_offline("EINTR", "6.1", "off").message
    assert "movable_ops rework" in check_slab_offline("EINTR", "7.2", "off").message
    assert check_slab_offline(-4).ok and check_slab_offline("eintr").ok and not check_slab_offline(None).ok
