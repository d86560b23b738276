"""Chapters 01 and 05 problems: memmap-size, memmap-on-memory-allowed."""
from __future__ import annotations

import pytest

from workbook.problems import generate

PAGE_SIZE = {"x86_64": 4096, "arm64-4k": 4096, "arm64-16k": 16384, "arm64-64k": 65536, "s390x": 4096}


@pytest.mark.parametrize("seed", range(30))
def test_memmap_size_problem(seed: int) -> None:
    p = generate("memmap-size", seed)
    page = PAGE_SIZE[p.params["arch"]]
    assert p.params["page_size"] == page and p.params["sizeof(struct page)"] == 64
    memmap_bytes = p.params["hot-added bytes"] // page * 64
    assert p.answer == -(-memmap_bytes // page)                          # PFN_UP()
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    assert "that is the memmap in bytes" in repr(p.check(memmap_bytes))


def test_memmap_size_examples() -> None:
    """12 GiB of 4 KiB pages needs 192 MiB of memmap; 128 MiB of 64 KiB pages, 2 pages of it."""
    answers = {(p.params["arch"], p.params["hot-added bytes"]): p.answer
               for p in (generate("memmap-size", s) for s in range(200))}
    assert answers[("x86_64", 12 << 30)] == 49152                        # 192 MiB / 4 KiB
    assert answers[("arm64-64k", 128 << 20)] == 2                        # 2048 x 64 B = 128 KiB = 2 pages


# mhp_supports_memmap_on_memory() worked out by hand for a block of 1, 2 or 4 sections:
# arch -> {sections per block: allowed} with memmap_on_memory=1 (force pads to pageblocks).
#   x86_64 / arm64-4k: 128 MiB sections, 2 MiB memmap each: pageblock (2 MiB) and PMD (2 MiB) multiples.
#   arm64-16k: memmap 512 KiB per 128 MiB section, pageblock and PMD 32 MiB: never (force pads the
#     pageblocks, not the PMD).  arm64-64k: 512 MiB sections, memmap 8 pages per section, pageblock
#     8192 pages = the whole first block, PMD 512 MiB: never.
#   ppc64-radix-64k: 16 MiB sections: 1 and 2 sections give 1/4 and 1/2 a page of memmap (not whole
#     pages); 4 sections 1 page, not a 32-page pageblock: only force (6.6+), and radix with 64 KiB
#     pages needs no PMD alignment.  s390x: 256 MiB sections, 4 MiB memmap = 4 pageblocks, PMD 1 MiB.
ALLOWED_6_12 = {"x86_64": {1: True, 2: True, 4: True}, "arm64-4k": {1: True, 2: True, 4: True},
                "arm64-16k": {1: False, 2: False, 4: False}, "arm64-64k": {1: False, 2: False, 4: False},
                "ppc64-radix-64k": {1: False, 2: False, 4: "force"}, "s390x": {1: True, 2: True, 4: True}}
SECTION_SIZE = {"x86_64": 128 << 20, "arm64-4k": 128 << 20, "arm64-16k": 128 << 20, "arm64-64k": 512 << 20,
                "ppc64-radix-64k": 16 << 20, "s390x": 256 << 20}


def expected_allowed(arch: str, kernel: str, mode: str, sections: int) -> bool:
    """Whether the block's memmap may live on the block, from the parameters alone."""
    if kernel == "6.1" and arch in ("ppc64-radix-64k", "s390x"):
        return False                          # ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE came to them in 6.6
    rule = ALLOWED_6_12[arch][sections]
    return mode == "force" if rule == "force" else rule


@pytest.mark.parametrize("seed", range(60))
def test_memmap_on_memory_allowed_problem(seed: int) -> None:
    p = generate("memmap-on-memory-allowed", seed)
    arch, block = p.params["arch"], p.params["block size"]
    sections, rest = divmod(block, SECTION_SIZE[arch])
    assert rest == 0 and sections in (1, 2, 4)
    assert p.params["kernel"] == "6.12" or p.params["memmap_on_memory"] == "1"
    assert p.answer is expected_allowed(arch, p.params["kernel"], p.params["memmap_on_memory"], sections)
    assert p.check(p.answer).ok and not p.check(not p.answer).ok


def test_memmap_on_memory_allowed_covers_both_answers_and_every_arch() -> None:
    problems = [generate("memmap-on-memory-allowed", s) for s in range(60)]
    assert {p.answer for p in problems} == {True, False}
    assert {p.params["arch"] for p in problems} == set(ALLOWED_6_12)


@pytest.mark.parametrize("seed", range(30))
def test_memmap_size_names_units_and_the_4k_rule(seed: int) -> None:
    p = generate("memmap-size", seed)
    page = PAGE_SIZE[p.params["arch"]]
    nr = p.params["hot-added bytes"] // page
    nbytes = nr * 64
    assert "memmap in KiB" in repr(p.check(nbytes >> 10)) or nbytes >> 10 == p.answer
    if page != 4096:
        assert "holds for 4 KiB pages only" in repr(p.check(nr // 64))
        assert "counts the memmap in 4 KiB pages" in repr(p.check(nbytes // 4096)) or nbytes // 4096 == nr // 64
