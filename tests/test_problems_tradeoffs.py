"""Chapter 11 problem: how many 1 GiB gigantic pages fit on a hot-added DIMM."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.tradeoffs import gigantic_machine, gigantic_pages, gigantic_windows


K = "online_kernel"


def test_128_mib_blocks_leave_no_gigantic_page_and_2_gib_blocks_leave_the_upper_half() -> None:
    assert gigantic_pages("6.12", 128 * MiB, 4 * GiB, "1", K) == 0
    m = gigantic_machine("6.12", 2 * GiB, 4 * GiB, "1", K)
    assert gigantic_windows(m, 4 * GiB, 4 * GiB) == [False, True, False, True]


def test_without_a_self_hosted_memmap_every_gib_is_possible() -> None:
    assert gigantic_pages("6.12", 128 * MiB, 4 * GiB, "0", K) == 4
    assert gigantic_pages("6.1", 128 * MiB, 4 * GiB, "1", K) == 4     # 6.1: one block per add, else no altmap
    assert gigantic_pages("6.1", 1 * GiB, 1 * GiB, "1", K) == 0       # a single 1 GiB block self-hosts on 6.1


@pytest.mark.parametrize("kernel, mom", [("6.1", "0"), ("6.12", "0"), ("6.12", "1"), ("7.2", "0")])
def test_zone_movable_never_gives_a_gigantic_page(kernel, mom) -> None:
    # hugepage_movable_supported() is false for gigantic pages: GFP_HIGHUSER stops below ZONE_MOVABLE
    assert gigantic_pages(kernel, 2 * GiB, 4 * GiB, mom, "online_movable") == 0


def test_movable_gigantic_pages_sysctl_from_6_19() -> None:
    m = gigantic_machine("7.2", 2 * GiB, 4 * GiB, "0", "online_movable")
    m.write("/proc/sys/vm/movable_gigantic_pages", "1")
    assert gigantic_windows(m, 4 * GiB, 4 * GiB) == [True] * 4
    m12 = gigantic_machine("6.12", 2 * GiB, 4 * GiB, "0", "online_movable")
    with pytest.raises(Exception):
        m12.write("/proc/sys/vm/movable_gigantic_pages", "1")


def expected_gigantic_pages(kernel: str, block_mib: int, dimm_gib: int, memmap_on_memory: str, online: str) -> int:
    """Aligned 1 GiB ranges of the DIMM (at 4 GiB) that hold no block head with a self-hosted memmap.

    ZONE_MOVABLE never gives a gigantic page. In a kernel zone, the memmap sits at the head of
    every block when memmap_on_memory=1 and the kernel takes the add (6.1: only a one-block
    DIMM; 6.12: any). A block of 1 GiB or more puts one head in every block_size-th GiB; a
    smaller block puts a head in every GiB.
    """
    if online == "online_movable":
        return 0
    self_hosted = memmap_on_memory == "1" and (kernel == "6.12" or block_mib == dimm_gib * 1024)
    if not self_hosted:
        return dimm_gib
    if block_mib < 1024:
        return 0
    return dimm_gib - dimm_gib * 1024 // block_mib


@pytest.mark.parametrize("seed", range(30))
def test_gigantic_pages_problem(seed: int) -> None:
    p = generate("gigantic-pages", seed)
    assert str(p) == str(generate("gigantic-pages", seed))
    assert isinstance(p.answer, int) and p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert not p.check(wrong).ok
    assert p.params["hot-add"].startswith("one DIMM at 0x100000000 ")
    online = p.params["machine"].split("memhp_default_state=")[1]
    assert p.answer == expected_gigantic_pages(p.params["kernel"], p.params["memory block size (MiB)"],
                                               p.params["DIMM size (GiB)"], p.params["memory_hotplug.memmap_on_memory"],
                                               online)


def test_gigantic_pages_problems_cover_every_case() -> None:
    answers = {(p.answer == 0, p.answer == p.params["DIMM size (GiB)"])
               for p in (generate("gigantic-pages", s) for s in range(30))}
    assert answers == {(True, False), (False, True), (False, False)}      # none, all, some


def test_common_mistakes_are_named() -> None:
    """The 6.1 multi-block trap, ZONE_MOVABLE, one altmap per add, 2 MiB pages: each wrong answer gets its rule."""
    trap = generate("gigantic-pages", 7)                  # chapter 11's seed: 6.1, a 4 GiB DIMM of 128 MiB blocks
    assert (trap.params["kernel"], trap.params["DIMM size (GiB)"], trap.answer) == ("6.1", 4, 4)
    for wrong in (0, 2, 3):
        assert "multi-block add" in trap.check(wrong).message
    assert "2 MiB huge pages" in trap.check(4 * 512).message
    movable = generate("gigantic-pages", 3)
    assert movable.params["machine"].endswith("online_movable") and movable.answer == 0
    assert all("ZONE_MOVABLE" in movable.check(w).message for w in (1, 2))
    per_block = generate("gigantic-pages", 1)            # 6.12, 256 MiB blocks, 4 GiB online_kernel
    assert per_block.answer == 0 and "first block" in per_block.check(3).message
    for seed in range(60):                                # every DIMM, none of it, half of it: always explained
        p = generate("gigantic-pages", seed)
        total = p.params["DIMM size (GiB)"]
        for wrong in {total, 0, total // 2} - {p.answer}:
            assert "that is not it" not in p.check(wrong).message, (seed, wrong)


def test_gigantic_question_assumes_no_kernel_pages_and_names_that_mistake() -> None:
    """Chapter 08 takes the GiB of the kernel's own slab page out; the question assumes none and says so."""
    p = generate("gigantic-pages", 7)
    assert p.params["machine"].endswith("online_kernel") and p.answer == 4
    assert "none of its own pages" in p.params["hot-add"]
    assert "kernel's own page" in p.check(3).message
