"""Chapter 03 problem and helpers: who pays for the memmap, PMD mappings of the vmemmap."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.vmemmap import (memmap_source_machine, node_memfree_pages, vmemmap_pmds, vmemmap_range,
                                      vmstat_value)


def test_vmemmap_geometry() -> None:
    assert vmemmap_range("x86_64", 0x100000, 32768) == (0xFFFFEA0004000000, 0xFFFFEA0004200000)
    assert vmemmap_pmds("x86_64", 0x100000, 32768) == 1
    assert vmemmap_pmds("x86_64", 0x100000, 2 * GiB >> 12) == 16
    assert vmemmap_pmds("x86_64", 0x100000 + 16384, 32768) == 2       # straddles two PMDs
    assert vmemmap_pmds("x86_64", 0, 0) == 0
    assert vmemmap_pmds("x86_64-la57", 0x100000, 32768) == 1


def test_node_memfree_pages_matches_meminfo() -> None:
    m = memmap_source_machine("6.12", "0", 0)
    kb = [line for line in m.read("/sys/devices/system/node/node0/meminfo").splitlines() if "MemFree" in line]
    assert node_memfree_pages(m, 0) * 4 == int(kb[0].split()[3])


@pytest.mark.parametrize("seed", range(16))
def test_memmap_source(seed: int) -> None:
    p = generate("memmap-source", seed)
    assert str(p) == str(generate("memmap-source", seed))
    size = int(p.params["hot-added to node 1"].split()[0]) * MiB
    memmap = size >> 12 >> 6
    node1 = p.params["node 1 boot memory"] != "0 MiB"
    on_memory = p.params["memory_hotplug.memmap_on_memory"] == "1" and (
        p.params["kernel"] == "6.12" or size == 128 * MiB)
    assert p.answer == (0 if node1 or on_memory else memmap)
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    assert "rule: sparse_add_section()" in repr(p.check(size >> 12))


def test_memmap_source_covers_every_case() -> None:
    answers = {generate("memmap-source", s).answer > 0 for s in range(30)}
    assert answers == {True, False}


def test_vmstat_value() -> None:
    m = memmap_source_machine("6.12", "0", 0)
    assert vmstat_value(m, "nr_memmap_pages") == 0
    m.dimm_add(128 * MiB, 1)
    assert vmstat_value(m, "nr_memmap_pages") == 512
    with pytest.raises(KeyError):
        vmstat_value(memmap_source_machine("6.1", "0", 0), "nr_memmap_pages")


def test_memmap_source_names_the_6_1_multi_block_trap() -> None:
    """A seed whose DIMM is several blocks on 6.1 with memmap_on_memory=1: answering 0 gets the rule, not a shrug."""
    traps = [p for p in (generate("memmap-source", s) for s in range(60))
             if p.params["kernel"] == "6.1" and p.params["memory_hotplug.memmap_on_memory"] == "1"
             and p.params["hot-added to node 1"] != "128 MiB" and p.params["node 1 boot memory"] == "0 MiB"]
    assert traps
    for p in traps:
        assert p.answer > 0 and "only for a one-block add" in p.check(0).message
        assert "one 128 MiB block" in p.check(512).message
