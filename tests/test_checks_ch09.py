"""Chapter 09 check cells: the memmap after offline, removal granularity, the block that fails an eject."""
from __future__ import annotations

import pytest

from widgets.checks_ch09 import check_failed_block, check_memmap_after_offline, check_node0_freed_kb, check_remove_errno
from workbook.arch import MiB


@pytest.mark.parametrize("kernel", ["5.13", "6.1", "6.12"])
def test_memmap_stays_after_offline(kernel: str) -> None:
    assert check_memmap_after_offline(512, kernel=kernel).ok
    assert "arch_remove_memory" in check_memmap_after_offline(0, kernel=kernel).message


def test_remove_granularity() -> None:
    for answer in ("EINVAL", 22, -22, "einval"):
        assert check_remove_errno(answer, kernel="6.1").ok
    assert check_remove_errno("EINVAL", kernel="5.13").ok
    assert check_remove_errno("ok", kernel="6.12").ok and check_remove_errno(0, kernel="6.12").ok
    assert "6.8+" in check_remove_errno("EINVAL", kernel="6.12").message
    assert "still online" in check_remove_errno("EBUSY").message
    assert "one whole block" in check_remove_errno("ok").message
    assert not check_remove_errno(None).ok


def test_failed_block() -> None:
    assert check_failed_block("memory33").ok and check_failed_block(33).ok
    assert "first kernel block" in check_failed_block("memory35").message
    assert "ZONE_MOVABLE" in check_failed_block("memory34").message
    assert "never completes" in check_failed_block("deleted").message
    assert check_failed_block("deleted", online_types=("online_movable", "online_movable")).ok


def test_node0_freed_exercise_9_1() -> None:
    """6.1, a 1 GiB DIMM: its memmap (16 MiB) came from node 0 and goes back there at removal."""
    assert check_node0_freed_kb(16384).ok
    assert "only for a one-block add" in check_node0_freed_kb(0).message
    assert "one block's memmap" in check_node0_freed_kb(2048).message
    assert "in pages" in check_node0_freed_kb(4096).message
    assert "never node 0's" in check_node0_freed_kb(1048576).message
    assert check_node0_freed_kb(0, kernel="6.12").ok                      # 6.8+: every block self-hosts
    assert "vmem_altmap_free()" in check_node0_freed_kb(16384, kernel="6.12").message
    assert check_node0_freed_kb(0, kernel="6.1", size=128 * MiB).ok        # a one-block add self-hosts


def test_remove_errno_of_one_multi_block_dimm_exercise_9_2() -> None:
    """One 256 MiB DIMM on 6.1 did not self-host: no granularity check, removed in one call."""
    assert check_remove_errno("ok", kernel="6.1", dimms=(256 * MiB,)).ok
    r = check_remove_errno("EINVAL", kernel="6.1", dimms=(256 * MiB,))
    assert not r.ok and "only to a range with self-hosted memmap" in r.message
    assert check_remove_errno("ok", kernel="6.12", dimms=(256 * MiB,)).ok
    assert check_remove_errno("EINVAL", kernel="6.1", dimms=(128 * MiB, 128 * MiB)).ok
