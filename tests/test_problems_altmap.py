"""Chapter 04 problem: what altmap_alloc_block_buf() hands out."""
from __future__ import annotations

import pytest

from workbook.problems import generate
from workbook.problems.altmap import altmap_handouts


def test_handouts_follow_the_kernel_arithmetic() -> None:
    altmap, got = altmap_handouts(0x100000, 2, 1024, [2 << 20, 2 << 20])
    assert got == [0x100200, None]
    assert (altmap.alloc, altmap.align, altmap.nr_free()) == (512, 510, 2)
    altmap, got = altmap_handouts(0x100000, 0, 512, [2 << 20])
    assert got == [0x100000] and altmap.nr_free() == 0 and altmap.offset() == 512


@pytest.mark.parametrize("seed", range(30))
def test_altmap_alloc_problem(seed: int) -> None:
    p = generate("altmap-alloc", seed)
    assert str(p) == str(generate("altmap-alloc", seed))
    assert isinstance(p.answer, int) and p.check(p.answer).ok and p.answer not in p.mistakes
    base = int(p.params["base_pfn"], 16)
    assert p.answer >= base + p.params["reserve"]
    for wrong in p.mistakes:
        assert "rule: altmap_alloc_block_buf()" in repr(p.check(wrong))


def test_altmap_alloc_sometimes_needs_alignment() -> None:
    assert any("alignment" in h for s in range(30) for h in generate("altmap-alloc", s).mistakes.values())
