"""Chapter 06 check cells: first online chunk, node MemTotal, the zone plain online picks."""
from __future__ import annotations

from widgets.checks_ch06 import check_first_online_order, check_node_memtotal_kb, check_online_zone
from workbook.arch import MiB


def test_first_online_order() -> None:
    assert check_first_online_order(9).ok
    r = check_first_online_order(10)
    assert not r.ok and "0x100200" in r.message and "__ffs(pfn)" in r.rule
    assert check_first_online_order(10, kernel="6.1", size=256 * MiB).ok   # 6.1: no memmap on a 2-block add


def test_node_memtotal() -> None:
    assert check_node_memtotal_kb(258048).ok
    assert "present but never managed" in check_node_memtotal_kb(262144).message
    assert "that is managed" in check_node_memtotal_kb(64512).message
    assert check_node_memtotal_kb(262144, kernel="6.1").ok
    assert check_node_memtotal_kb(129024, size=128 * MiB).ok


def test_online_zone() -> None:
    r = check_online_zone("Normal")
    assert r.ok and "Normal Movable" in r.message
    r = check_online_zone("Movable")
    assert not r.ok and "zone_intersects()" in r.message and "default_zone_for_pfn()" in r.rule
    assert check_online_zone("normal").ok and "sysfs and /proc/zoneinfo write" in check_online_zone("normal").message
    assert not check_online_zone(None).ok and not check_online_zone(2).ok
    assert check_online_zone("Movable", first=None, extra="movable_node").ok
    assert check_online_zone("Normal", first=None).ok


def test_online_zone_accepts_the_sources_spelling():
    from widgets.checks_ch06 import check_online_zone
    right = check_online_zone("Normal")
    assert right
    for spelling in ("ZONE_NORMAL", "normal", " zone_normal "):
        v = check_online_zone(spelling)
        assert v and "'Normal'" in v.message, (spelling, v)
    assert not check_online_zone("ZONE_MOVABLE")


def test_node_memtotal_names_the_memmap_and_block_mistakes() -> None:
    """Exercise 6.2 (256 MiB on 6.12): one block's value, one block's memmap only, units."""
    assert "one block's value" in check_node_memtotal_kb(129024).message
    assert "one altmap per block since 6.8" in check_node_memtotal_kb(260096).message
    assert "MB, as numactl -H prints it" in check_node_memtotal_kb(252).message
    assert "that is bytes" in check_node_memtotal_kb(258048 * 1024).message
    r = check_node_memtotal_kb(258048, kernel="6.1")               # 6.1 put no memmap on the 2-block DIMM
    assert not r.ok and "only for a one-block add" in r.message
