"""Chapter 02 problems: memory-block-size (x86 probe) and block-of-address."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.blocks import probe_block_size


@pytest.mark.parametrize(("end", "bare", "expected"), [
    (4 * GiB, False, 128 * MiB), (4 * GiB, True, 128 * MiB), (96 * GiB, True, 2 * GiB), (65 * GiB, True, 2 * GiB),
    (96 * GiB, False, 2 * GiB), (65 * GiB, False, 1 * GiB), (64 * GiB + 128 * MiB, False, 128 * MiB),
    (100 * GiB + 256 * MiB, False, 256 * MiB), (192 * GiB + 512 * MiB, False, 512 * MiB),
])
def test_probe_rules(end: int, bare: bool, expected: int) -> None:
    assert probe_block_size(end, bare) == expected


@pytest.mark.parametrize("seed", range(20))
def test_memory_block_size_problem(seed: int) -> None:
    p = generate("memory-block-size", seed)
    end = int(p.params["end of boot memory (max_pfn << PAGE_SHIFT)"].split()[0], 16)
    assert p.answer == probe_block_size(end, p.params["machine"] == "bare metal") >> 20
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    wrong = next(iter(p.mistakes))
    assert "rule: x86 probe_memory_block_size()" in repr(p.check(wrong))


def test_memory_block_size_varies() -> None:
    assert len({generate("memory-block-size", s).answer for s in range(40)}) >= 3


@pytest.mark.parametrize("seed", range(20))
def test_block_of_address(seed: int) -> None:
    p = generate("block-of-address", seed)
    block = int(p.params["block_size_bytes"], 16)
    addr = int(p.params["physical address"], 16)
    assert p.answer == addr // block
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    assert "hexadecimal" in repr(p.check(addr // int(p.params["block_size_bytes"])))
