"""Chapter 11 problem: how many 1 GiB gigantic pages fit on a hot-added DIMM."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.tradeoffs import gigantic_machine, gigantic_pages, gigantic_windows


def test_128_mib_blocks_leave_no_gigantic_page_and_2_gib_blocks_leave_the_upper_half() -> None:
    assert gigantic_pages("6.12", 128 * MiB, 4 * GiB) == 0
    m = gigantic_machine("6.12", 2 * GiB, 4 * GiB)
    assert gigantic_windows(m, 4 * GiB, 4 * GiB) == [False, True, False, True]


def test_without_a_self_hosted_memmap_every_gib_is_possible() -> None:
    assert gigantic_pages("6.12", 128 * MiB, 4 * GiB, "0") == 4
    assert gigantic_pages("6.1", 128 * MiB, 4 * GiB) == 4          # 6.1: one block per add, else no altmap
    assert gigantic_pages("6.1", 1 * GiB, 1 * GiB) == 0            # a single 1 GiB block self-hosts on 6.1


@pytest.mark.parametrize("seed", range(20))
def test_gigantic_pages_problem(seed: int) -> None:
    p = generate("gigantic-pages", seed)
    assert str(p) == str(generate("gigantic-pages", seed))
    assert isinstance(p.answer, int) and p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert not p.check(wrong).ok
    assert p.answer == gigantic_pages(p.params["kernel"], p.params["memory block size (MiB)"] * MiB,
                                      p.params["DIMM size (GiB)"] * GiB, p.params["memory_hotplug.memmap_on_memory"])
