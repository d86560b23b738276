"""QEMU pc memory layout: the e820 map, SRAT node ranges and where DIMMs land (the captures' console.log)."""
from __future__ import annotations

from workbook.arch import GiB, MiB
from workbook.machine import Machine, NodeSpec
from workbook.qemu import Dimm, next_dimm_addr, pc_memory_layout


def test_one_gib_guest_matches_the_captured_e820():
    lay = pc_memory_layout(GiB, 32 * GiB, 8, {0: GiB, 1: 0})
    rows = [(e.start, e.end, e.type) for e in lay.e820]
    # BIOS-e820 lines printed by the captured 6.1 and 6.12 kernels
    assert (0x0, 0x9FBFF, "usable") in rows and (0x100000, 0x3FFDFFFF, "usable") in rows
    assert (0x3FFE0000, 0x3FFFFFFF, "reserved") in rows and (0xFD00000000, 0xFFFFFFFFFF, "reserved") in rows
    assert lay.device_memory_base == 4 * GiB
    assert lay.device_memory_end == 0xAC0000000          # SRAT: Node 1 [mem 0x100000000-0xabfffffff] hotplug
    assert lay.pci_hole64_start == 0xAC0000000


def test_big_guest_splits_ram_around_the_pci_hole():
    lay = pc_memory_layout(4 * GiB, 8 * GiB, 2, {0: 2 * GiB, 1: 2 * GiB})
    assert (lay.below_4g, lay.above_4g) == (3 * GiB, GiB)
    assert lay.node_ranges[0] == [(0, 2 * GiB)]
    assert lay.node_ranges[1] == [(2 * GiB, 3 * GiB), (4 * GiB, 5 * GiB)]
    assert lay.device_memory_base == 5 * GiB


def test_dimms_are_placed_first_fit():
    lay = pc_memory_layout(GiB, 32 * GiB, 8, {0: GiB})
    d1 = Dimm("a", next_dimm_addr(lay, [], 128 * MiB), 128 * MiB, 1, 0)
    assert d1.addr == 4 * GiB
    assert next_dimm_addr(lay, [d1], 256 * MiB) == 4 * GiB + 128 * MiB


def test_boot_zones_and_blocks_from_the_layout():
    m = Machine("6.1", nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB)
    dma, dma32 = m.nodes[0].zones[0], m.nodes[0].zones[1]
    assert (dma.zone_start_pfn, dma.spanned_pages, dma.present_pages) == (1, 4095, 3998)
    assert (dma32.zone_start_pfn, dma32.spanned_pages, dma32.present_pages) == (4096, 258016, 258016)
    assert sorted(m.blocks) == list(range(8))
    assert m.read("/sys/devices/system/memory/memory0/valid_zones") == "none\n"   # DMA + DMA32
    assert m.read("/sys/devices/system/memory/memory7/valid_zones") == "DMA32\n"
    assert "nr_memmap_boot_pages" not in m.read("/proc/vmstat")
    m12 = Machine("6.12", nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB)
    assert "nr_memmap_boot_pages 4096\n" in m12.read("/proc/vmstat")
