"""Chapter 05 problem: how many pfns of a hot-added block hold its own memmap."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.memmap_on_memory import hotplug_vm


# Pfns of one block that hold its own memmap when the kernel takes the add with
# memmap_on_memory=1 / =force (6.6+), worked out by hand per build:
# (arch, sizeof(struct page)) -> (block MiB, pages with =1, pages with =force).
SELF_HOSTED = {
    ("x86_64", 64): (128, 512, 512),          # 2 MiB memmap: 512 pages = 1 pageblock, 1 PMD
    ("x86_64", 80): (128, 0, 0),              # KMSAN: 2.5 MiB = 640 pages: no whole pageblocks; padded
                                              # to 1024 in force mode, but 2.5 MiB is still not a PMD multiple
    ("arm64-4k", 64): (128, 512, 512),        # as x86_64
    ("arm64-16k", 64): (128, 0, 0),           # 512 KiB = 32 pages; pageblock 2048 pages, PMD 32 MiB
    ("ppc64-radix-64k", 64): (256, 0, 32),    # 256 KiB = 4 pages; pageblock 32 pages; force pads to 32,
                                              # and radix with 64 KiB pages needs no PMD alignment
    ("s390x", 64): (256, 1024, 1024),         # 4 MiB = 1024 pages = 4 pageblocks of 256; PMD 1 MiB
}


def expected_self_hosted(kernel: str, arch: str, struct_page: int, mode: str, nblocks: int) -> int:
    """mhp_supports_memmap_on_memory() for the DIMM's last block, from the parameters alone.

    Before 6.6 'force' is no value of the parameter (read as off) and ppc64/s390 do not
    select ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE; before 6.8 an add of more than one block is refused.
    """
    if kernel in ("5.13", "6.1") and (mode == "force" or nblocks > 1 or arch in ("ppc64-radix-64k", "s390x")):
        return 0
    _, plain, forced = SELF_HOSTED[arch, struct_page]
    return forced if mode == "force" else plain


@pytest.mark.parametrize("seed", range(80))
def test_selfhosted_pages_problem(seed: int) -> None:
    p = generate("selfhosted-pages", seed)
    assert str(p) == str(generate("selfhosted-pages", seed)) and "ANSWER" not in str(p)
    assert isinstance(p.answer, int) and p.answer >= 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes and not p.check(None).ok
    for wrong in p.mistakes:
        assert "rule: mhp_supports_memmap_on_memory()" in repr(p.check(wrong))
    arch, sp = p.params["arch"], p.params["sizeof(struct page)"]
    block_mib = SELF_HOSTED[arch, sp][0]
    assert p.params["memory block size"] == f"{block_mib} MiB"
    nblocks = p.params["hot-added bytes (one DIMM on node 1)"] // (block_mib * MiB)
    assert p.answer == expected_self_hosted(p.params["kernel"], arch, sp,
                                            p.params["memory_hotplug.memmap_on_memory"], nblocks)


def test_selfhosted_pages_covers_the_interesting_cases() -> None:
    problems = [generate("selfhosted-pages", s) for s in range(80)]
    assert {p.answer for p in problems} == {0, 32, 512, 1024}
    assert {(p.params["arch"], p.params["sizeof(struct page)"]) for p in problems} == set(SELF_HOSTED)


@pytest.mark.parametrize(("kernel", "size", "expected"), [
    ("5.13", 128 * MiB, 512), ("6.1", 128 * MiB, 512), ("6.12", 128 * MiB, 512),
    ("5.13", 1 * GiB, 0), ("6.1", 1 * GiB, 0), ("6.12", 1 * GiB, 512)])
def test_the_single_block_rule_before_6_8(kernel: str, size: int, expected: int) -> None:
    m = hotplug_vm(kernel)
    blocks = m.dimm_add(size, 1).blocks
    assert {m.blocks[b].vmemmap_pages for b in blocks} == {expected}


def test_force_is_a_6_6_word() -> None:
    for kernel, read in (("5.13", "N"), ("6.1", "N"), ("6.12", "force")):
        assert hotplug_vm(kernel, mode="force").params.memmap_on_memory == read
    m = hotplug_vm("6.12", "ppc64-radix-64k", "force")
    assert m.blocks[m.dimm_add(256 * MiB, 1).blocks[0]].vmemmap_pages == 32
