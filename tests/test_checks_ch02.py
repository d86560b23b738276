"""Chapter 02 check cells: sections per memory block, which memoryN holds an address."""
from __future__ import annotations

import pytest

from widgets.checks_ch02 import check_block_id, check_sections_per_block, check_sections_per_probed_block
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


def test_sections_per_probed_block_exercise_2_1() -> None:
    """96 GiB of RAM in a QEMU VM ends at 97 GiB: 1 GiB blocks, 8 sections; the RAM size gives 2 GiB, 16."""
    ask = dict(boot_mem_end=97 * GiB, bare_metal=False, ram=96 * GiB)
    assert check_sections_per_probed_block(8, **ask).ok
    assert "takes the RAM size, 96 GiB" in repr(check_sections_per_probed_block(16, **ask))
    assert "512 MiB divides the end, but so does the larger 1 GiB" in repr(check_sections_per_probed_block(4, **ask))
    assert "below 64 GiB" in repr(check_sections_per_probed_block(1, **ask))
    assert "block size in MiB" in repr(check_sections_per_probed_block(1024, **ask))
    r = check_sections_per_probed_block(3, **ask)
    assert not r.ok and "probe_memory_block_size()" in r.rule and "section size (128 MiB)" in r.rule


def test_sections_per_probed_block_bare_metal() -> None:
    assert check_sections_per_probed_block(16, 97 * GiB, True).ok
    assert "on bare metal: the probe takes 2 GiB at once" in repr(check_sections_per_probed_block(8, 97 * GiB, True))
    assert check_sections_per_probed_block(1, 63 * GiB, True).ok


@pytest.mark.parametrize(("answer", "hint"), [
    (3, "one block too far"), (5, "address in GiB"),
])
def test_block_id_more_mistakes(answer: int, hint: str) -> None:
    assert hint in repr(check_block_id(answer, 0x140000000, 2 * GiB))


def test_block_id_phys_index_read_as_decimal() -> None:
    # 0x140000000 / 128 MiB = block 40 = 0x28; phys_index prints 00000028
    assert "phys_index prints 00000028" in repr(check_block_id(28, 0x140000000, 128 * MiB))
