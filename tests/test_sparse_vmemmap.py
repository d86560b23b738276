"""The vmemmap's mappings as the model records them (workbook.sparse_vmemmap), from the geometry alone."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB, get_arch
from workbook.machine import Machine, NodeSpec
from workbook.sparse_vmemmap import (ALTMAP, BOOT, NODE, memmap_backing, present_sections, section_mappings,
                                     vmemmap_mapping_pages, vmemmap_mappings)


def machine(kernel: str = "6.12", arch: str = "x86_64", mode: str = "1", block: int | None = None) -> Machine:
    return Machine(kernel, arch, [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)],
                   cmdline=f"memory_hotplug.memmap_on_memory={mode} memhp_default_state=offline",
                   maxmem_bytes=64 * GiB, block_size=block)


def test_boot_sections_are_pmds_of_boot_memory() -> None:
    m = machine()
    assert list(present_sections(m)) == list(range(8))                   # 1 GiB of 128 MiB sections
    (mp,) = section_mappings(m, 3)
    a = m.arch
    assert (mp.backing, mp.nid, mp.huge, mp.size, mp.backing_pfn) == (BOOT, 0, True, 2 * MiB, -1)
    assert (mp.pfn, mp.nr_pfns, mp.offset) == (3 * 32768, 32768, 3 * 32768 * a.struct_page_size)
    assert section_mappings(m, 8) == []                                   # nothing there: nothing mapped
    assert memmap_backing(m, m.blocks[3]) == BOOT


def test_6_12_self_hosts_every_block_of_a_1_gib_dimm_and_6_1_none() -> None:
    m = machine("6.12")
    m.dimm_add(1 * GiB, 1, "d")
    maps = vmemmap_mappings(m, range(32, 40))
    for s, (mp,) in maps.items():
        assert (mp.backing, mp.backing_pfn, mp.block, mp.nid) == (ALTMAP, s * 32768, s, 1)
        assert memmap_backing(m, m.blocks[s]) == ALTMAP
    old = machine("6.1")
    old.dimm_add(1 * GiB, 1, "d")
    for s, (mp,) in vmemmap_mappings(old, range(32, 40)).items():
        assert (mp.backing, mp.nid, mp.zone, mp.huge, mp.size) == (NODE, 0, "DMA32", True, 2 * MiB)
        assert memmap_backing(old, old.blocks[s]) == NODE


def test_a_2_gib_block_takes_16_consecutive_pmds_from_its_altmap() -> None:
    m = machine(block=2 * GiB)
    m.dimm_add(2 * GiB, 1, "d")
    maps = vmemmap_mappings(m, range(32, 48))
    assert [mp.backing_pfn for (mp,) in maps.values()] == [0x100000 + 512 * k for k in range(16)]
    assert {mp.block for (mp,) in maps.values()} == {2}


def test_s390x_maps_a_section_with_four_1_mib_segments() -> None:
    m = machine("6.12", "s390x")
    b = m.blocks[m.dimm_add(256 * MiB, 1, "d").blocks[0]]
    maps = section_mappings(m, b.start_pfn // m.arch.pages_per_section)
    assert [mp.size for mp in maps] == [1 * MiB] * 4 and all(mp.huge for mp in maps)
    assert [mp.backing_pfn for mp in maps] == [b.start_pfn + 256 * k for k in range(4)]
    assert [mp.nr_pfns for mp in maps] == [1 * MiB // 64] * 4


def test_arm64_16k_uses_base_pages_and_the_records_leave_with_the_block() -> None:
    m = machine("6.12", "arm64-16k")
    assert vmemmap_mapping_pages(m.arch) == 1
    b = m.blocks[m.dimm_add(128 * MiB, 1, "d").blocks[0]]
    sec = b.start_pfn // m.arch.pages_per_section
    maps = section_mappings(m, sec)
    assert len(maps) == 128 * MiB // (16 * 1024) * 64 // (16 * 1024)     # 512 KiB of struct pages / 16 KiB
    assert {(mp.backing, mp.huge, mp.size, mp.nr_pfns) for mp in maps} == {(NODE, False, 16 * 1024, 256)}
    assert m.dimm_del("d").result == "deleted"
    assert section_mappings(m, sec) == [] and m._memmap_allocs_for == {}


def test_the_altmap_records_leave_with_the_block() -> None:
    m = machine()
    m.dimm_add(128 * MiB, 1, "d")
    assert list(m._memmap_altmap_for) == [(0x100000, 32768)]
    assert m.dimm_del("d").result == "deleted"
    assert m._memmap_altmap_for == {} and section_mappings(m, 32) == []


@pytest.mark.parametrize("arch", ["ppc64-radix-4k", "ppc64-hash-64k"])
def test_a_pmd_shared_by_sections_is_not_described(arch: str) -> None:
    with pytest.raises(ValueError, match="more than one section"):
        vmemmap_mapping_pages(get_arch(arch))
    with pytest.raises(ValueError, match="2560 KiB"):
        vmemmap_mapping_pages(get_arch("x86_64").with_struct_page(80))
