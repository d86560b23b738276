"""Chapter 08 problem: how many pfns of a hot-added block a pfn walker visits."""
from __future__ import annotations

import pytest

from workbook.problems import generate
from workbook.problems.pfn_walkers import WALKER_RULES, walker_counts, walker_visits
from workbook.walkers import WALKERS


def test_generic_walker_skips_the_memmap_only_while_it_is_reserved() -> None:
    assert walker_counts("6.1", "generic") == {"visited": 32256, "PageReserved": 512}
    assert walker_counts("5.13", "generic") == {"visited": 32256, "PageReserved": 512}
    assert walker_counts("6.12", "generic") == {"visited": 32768}


@pytest.mark.parametrize("kernel", ["5.13", "6.1", "6.12"])
def test_hotplug_walker_starts_at_buddy_start_pfn_and_offline_blocks_are_not_walked(kernel: str) -> None:
    assert walker_counts(kernel, "hotplug") == {"visited": 32256, "before buddy_start_pfn": 512}
    assert walker_visits(kernel, "generic", "offline") == 0


def test_every_walker_has_a_rule() -> None:
    assert set(WALKER_RULES) == set(WALKERS)


@pytest.mark.parametrize("seed", range(25))
def test_walker_visits_problem(seed: int) -> None:
    p = generate("walker-visits", seed)
    assert str(p) == str(generate("walker-visits", seed))
    assert isinstance(p.answer, int) and 0 <= p.answer <= 32768
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    # the answer is the model's walk, not a stored number
    assert p.answer == walker_visits(p.params["kernel"], p.params["walker"], p.params["memory32 state"],
                                     p.params["stress on node 1 (MiB of anonymous memory)"] << 20)
    for wrong in p.mistakes:
        assert not p.check(wrong).ok and "rule:" in repr(p.check(wrong))


def test_walker_visits_problems_differ_between_kernels() -> None:
    kernels = {generate("walker-visits", s).params["kernel"] for s in range(25)}
    assert kernels == {"5.13", "6.1", "6.12"}
