"""Chapter 02 check cells: sections per memory block, which memoryN holds an address."""
from __future__ import annotations

import pytest

from widgets.checks_ch02 import check_block_id, check_sections_per_block
from workbook.arch import GiB, MiB


@pytest.mark.parametrize(("block", "arch", "expected"), [
    (2 * GiB, "x86_64", 16), (128 * MiB, "x86_64", 1), (1 * GiB, "s390x", 4), (256 * MiB, "ppc64-radix-64k", 16),
])
def test_sections_per_block(block: int, arch: str, expected: int) -> None:
    assert check_sections_per_block(expected, block, arch).ok


@pytest.mark.parametrize(("answer", "hint"), [
    (524288, "number of pages in the block"), (32768, "PAGES_PER_SECTION"), (2048, "block size in MiB"),
    (None, "not answered yet"), (3, "that is not it"),
])
def test_sections_per_block_mistakes(answer: object, hint: str) -> None:
    r = check_sections_per_block(answer, 2 * GiB)
    assert not r.ok and hint in repr(r) and "SECTION_SIZE_BITS" in r.rule


def test_block_id() -> None:
    assert check_block_id(2, 0x140000000, 2 * GiB).ok
    assert check_block_id(40, 0x140000000, 128 * MiB).ok
    r = check_block_id(40, 0x140000000, 2 * GiB)
    assert not r.ok and "section number" in r.message and "memory_block_id" in r.rule
    assert "hexadecimal" in repr(check_block_id(0x140000000 // 80000000, 0x140000000, 2 * GiB))
