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


def kernel_handouts(base_pfn: int, reserve: int, free: int, calls: list[int]) -> list[int | None]:
    """altmap_alloc_block_buf() of mm/sparse-vmemmap.c, transcribed: the first pfn of each call (None: NULL)."""
    alloc = align = 0
    out: list[int | None] = []
    for nr_pfns in calls:
        pfn = base_pfn + reserve + alloc + align                       # vmem_altmap_next_pfn()
        nr_align = 1 << ((nr_pfns & -nr_pfns).bit_length() - 1)       # 1UL << find_first_bit(&nr_pfns)
        nr_align = -(-pfn // nr_align) * nr_align - pfn                # ALIGN(pfn, nr_align) - pfn
        if nr_pfns + nr_align > max(free - (alloc + align), 0):        # vmem_altmap_nr_free()
            out.append(None)
            continue
        alloc += nr_pfns
        align += nr_align
        out.append(pfn + nr_align)
    return out


@pytest.mark.parametrize("seed", range(40))
def test_altmap_alloc_problem(seed: int) -> None:
    p = generate("altmap-alloc", seed)
    assert str(p) == str(generate("altmap-alloc", seed))
    assert isinstance(p.answer, int) and p.check(p.answer).ok and p.answer not in p.mistakes
    base = int(p.params["base_pfn"], 16)
    calls = [int(kib.split()[0]) // 4 for kib in p.params["altmap_alloc_block_buf() calls, in order"].split(", ")]
    got = kernel_handouts(base, p.params["reserve"], p.params["free"], calls)
    assert None not in got and p.answer == got[-1]
    for wrong in p.mistakes:
        assert "rule: altmap_alloc_block_buf()" in repr(p.check(wrong))


def test_altmap_alloc_sometimes_needs_alignment() -> None:
    assert any("alignment" in h for s in range(30) for h in generate("altmap-alloc", s).mistakes.values())


def test_altmap_alloc_echoes_pfns_in_hex_and_names_kib_and_hex_digit_slips() -> None:
    p = generate("altmap-alloc", 3)            # base 0x100010, one 2 MiB call: 0x100200
    assert p.answer == 0x100200 and repr(p.check(0x100200)) == "right: 0x100200 (1049088)"
    assert p.check(100200).message.startswith("0x18768 (100200): that is the pfn's hex digits")
    assert p.check("0x100010").message.startswith("0x100010 (1048592): that ignores the alignment")
    kib = [p for p in (generate("altmap-alloc", s) for s in range(40)) if any("in KiB" in h for h in p.mistakes.values())]
    assert kib
