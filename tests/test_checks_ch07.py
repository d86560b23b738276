"""Chapter 07 check cells: the errno of an offline, the range offline_pages() logs, migrated memory."""
from __future__ import annotations

from widgets.checks_ch07 import check_migrated_kb, check_offline_errno, check_offline_log_start


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
