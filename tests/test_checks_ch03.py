"""Chapter 03 check cells: vmemmap PMD mappings and which node pays for a memmap."""
from __future__ import annotations

import pytest

from widgets.checks_ch03 import check_node0_memmap_drop, check_vmemmap_pmds
from workbook.arch import GiB, MiB


@pytest.mark.parametrize(("size", "expected"), [(128 * MiB, 1), (2 * GiB, 16), (12 * GiB, 96)])
def test_vmemmap_pmds(size: int, expected: int) -> None:
    assert check_vmemmap_pmds(expected, 4 * GiB, size).ok


def test_vmemmap_pmds_mistakes() -> None:
    r = check_vmemmap_pmds(1, 4 * GiB, 2 * GiB)
    assert not r.ok and "one 128 MiB section" in r.message and "PMD_SIZE = 2 MiB" in r.rule
    assert "memmap in pages" in check_vmemmap_pmds(8192, 4 * GiB, 2 * GiB).message


def test_node0_pays_without_memmap_on_memory() -> None:
    assert check_node0_memmap_drop(4096).ok
    assert check_node0_memmap_drop(512, size=128 * MiB, kernel="6.1").ok
    assert "kB" in check_node0_memmap_drop(16384).message
    assert "memmap_on_memory" in check_node0_memmap_drop(0).message


def test_node0_keeps_its_memory_when_node1_or_the_block_pays() -> None:
    assert check_node0_memmap_drop(0, size=128 * MiB, memmap_on_memory="1").ok
    assert check_node0_memmap_drop(0, size=256 * MiB, node1_bytes=512 * MiB).ok
    # 6.1 refuses memmap_on_memory for an add of more than one block: node 0 pays again
    assert check_node0_memmap_drop(4096, size=1 * GiB, kernel="6.1", memmap_on_memory="1").ok


def test_node0_drop_names_the_common_mistakes() -> None:
    # the chapter's 6 GiB exercise: 24,576 pages; the 1 GiB drop measured above it is a known slip
    assert check_node0_memmap_drop(24576, size=6 * GiB).ok
    assert "1 GiB DIMM" in check_node0_memmap_drop(4096, size=6 * GiB).message
    assert "in MiB" in check_node0_memmap_drop(96, size=6 * GiB).message
    assert "PMDs" in check_node0_memmap_drop(48, size=6 * GiB).message
    # the 6.1 multi-block trap is named, not just "that is not it"
    r = check_node0_memmap_drop(0, size=1 * GiB, kernel="6.1", memmap_on_memory="1")
    assert "only for a one-block add" in r.message and "8 blocks" in r.message
    assert "one 128 MiB block" in check_node0_memmap_drop(512, size=1 * GiB, kernel="6.1", memmap_on_memory="1").message
    assert "own start" in check_node0_memmap_drop(4096, kernel="6.12", memmap_on_memory="1").message
    assert "node 1 has memory of its own" in check_node0_memmap_drop(1024, size=256 * MiB,
                                                                     node1_bytes=512 * MiB).message
