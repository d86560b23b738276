"""Chapter 08 problem: how many pfns of a hot-added block a pfn walker visits."""
from __future__ import annotations

import re

import pytest

from workbook.machine import Machine
from workbook.problems import generate
from workbook.problems.pfn_walkers import WALKER_RULES, walker_counts, walker_visits
from workbook.walkers import WALKERS

N, V = 32768, 512                         # pfns of a 128 MiB block; its self-hosted memmap (2 MiB)
MEMMAP_RESERVED = {"5.13": True, "6.1": True, "6.12": False}      # PageReserved up to 6.10


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


def _node1_zone_free(kernel: str, state: str, stress_mib: int) -> int:
    """``pages free`` of node 1's zone in /proc/zoneinfo: the pages in the buddy allocator (PageBuddy)."""
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    m.dimm_add(128 << 20, 1)
    m.write("/sys/devices/system/memory/memory32/state", state)
    if stress_mib:
        m.start_workload(1, stress_mib << 20)
    zone = "Movable" if state == "online_movable" else "Normal"
    section = str(m.read("/proc/zoneinfo")).split(f"Node 1, zone {zone:>8}")[1]
    return int(re.search(r"pages free\s+(\d+)", section).group(1))


def expected_visits(kernel: str, walker: str, state: str, stress_mib: int) -> int:
    """What each walker's kernel function keeps of memory32, from the problem's parameters alone."""
    if state == "offline":
        return 0                          # pfn_to_online_page() is NULL for every pfn
    kernel_pages = 0                      # the node's first kernel memory gets the bring-up allocations
    if state == "online_kernel":
        kernel_pages = 2                  # Machine(kernel_own_pages="typical"): one order-1 slab page
    return {
        "generic": N - V if MEMMAP_RESERVED[kernel] else N,
        "hotplug": N - V,                 # from buddy_start_pfn on
        "compaction-migrate": stress_mib << 8,                # the stress's anonymous (LRU) pages
        "compaction-free": _node1_zone_free(kernel, state, stress_mib),
        "alloc-contig": N - V - kernel_pages,                 # memmap: Reserved, or (6.12) unmovable
    }[walker]


@pytest.mark.parametrize("seed", range(40))
def test_walker_visits_problem(seed: int) -> None:
    p = generate("walker-visits", seed)
    assert str(p) == str(generate("walker-visits", seed))
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    params = p.params
    assert p.answer == expected_visits(params["kernel"], params["walker"], params["memory32 state"],
                                       params["stress on node 1 (MiB of anonymous memory)"])
    for wrong in p.mistakes:
        assert not p.check(wrong).ok and "rule:" in repr(p.check(wrong))


def test_walker_visits_problems_cover_every_walker_kernel_and_state() -> None:
    params = [generate("walker-visits", s).params for s in range(40)]
    assert {q["kernel"] for q in params} == {"5.13", "6.1", "6.12"}
    assert {q["walker"] for q in params} == set(WALKERS)
    assert {q["memory32 state"] for q in params} == {"offline", "online_movable", "online_kernel"}
    assert {q["stress on node 1 (MiB of anonymous memory)"] for q in params} > {0}


@pytest.mark.parametrize("seed", range(40))
def test_walker_visits_names_the_stress_mistakes(seed: int) -> None:
    """A seed with a stress program: counting only its pages, or leaving them out, is named."""
    p = generate("walker-visits", seed)
    stress = p.params["stress on node 1 (MiB of anonymous memory)"] << 8          # pages
    if not stress or p.params["memory32 state"] == "offline":
        return
    for wrong in (stress, p.answer - stress):
        if wrong != p.answer:
            assert "that is not it" not in p.check(wrong).message, (wrong, p.params)


def test_captured_kpageflags_reads_the_dumped_range() -> None:
    from workbook.problems.pfn_walkers import captured_kpageflags
    start, words = captured_kpageflags("6.12", "A", "02-online")
    assert start == 0x100000 and len(words) == 32768
    assert int(words[0]) == 1 << 37 and int(words[512]) == 1 << 10      # OWNER_PRIVATE, then BUDDY
