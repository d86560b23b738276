"""Boot memory of a node: present, what boot reserved, managed (MemTotal, numactl's size) and MemFree."""
from __future__ import annotations

import re

import pytest

from workbook.arch import MiB
from workbook.captures import step_file
from workbook.e820 import E820_TYPE_RAM
from workbook.machine import BOOT_IN_USE, BOOT_KERNEL_RESERVED, BOOT_SWIOTLB, Machine, NodeSpec
from workbook.mm_init import boot_memory


def vm(kernel: str) -> Machine:
    return Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                   nodes=[NodeSpec(0, [0], 1 << 30), NodeSpec(1, [1], 0)], ram_bytes=1 << 30, maxmem_bytes=32 << 30)


@pytest.mark.parametrize("kernel", ["5.10", "6.1", "6.12", "7.2"])
def test_present_is_the_e820_ram_the_real_boot_log_reports(kernel: str) -> None:
    m = vm(kernel)
    b = boot_memory(m, 0)
    ram_pages = sum((r.end >> 12) - (-(-r.start >> 12)) for r in m.e820 if r.type == E820_TYPE_RAM)
    assert b.present == ram_pages                              # page 0 is already reserved (e820 update)
    line = next(l for l in step_file(kernel, "A", "00-boot", "dmesg.new").splitlines() if "Memory: " in l)
    assert f"/{b.present * 4}K available" in line              # 1048056K on every captured kernel


def test_managed_and_free_are_what_meminfo_and_numactl_print() -> None:
    m = vm("6.12")
    b = boot_memory(m, 0)
    meminfo = m.read("/sys/devices/system/node/node0/meminfo")
    assert int(re.search(r"MemTotal:\s+(\d+)", meminfo).group(1)) == b.managed * 4
    assert int(re.search(r"MemFree:\s+(\d+)", meminfo).group(1)) == b.free * 4
    assert f"node 0 size: {b.managed * 4 >> 10} MB" in m.numactl_hardware()
    assert b.memmap == m.nr_memmap_boot_pages == 8 * 512       # 8 present sections, 64 B per 4 KiB page
    assert (b.kernel_reserved, b.swiotlb, b.in_use) == (BOOT_KERNEL_RESERVED >> 12, BOOT_SWIOTLB >> 12,
                                                         BOOT_IN_USE >> 12)
    assert 0 <= b.rounding < 3                                 # one rounding per zone (DMA, DMA32)
    assert b.present - b.memmap - b.kernel_reserved - b.swiotlb + b.rounding == b.managed
    assert "= managed: MemTotal" in str(b) and "895 MB" in str(b)
    # QEMU's pc BIOS keeps 0x9fc00-0xfffff and the top 128 KiB below 1 GiB out of the RAM it reports, and the
    # kernel reserves page 0: 1 + 97 + 32 pages (the boot log's "pages in unavailable ranges" are 1, 97, 32)
    assert b.ram == 262144 and b.ram - b.present == 1 + 97 + 32
    assert [r[1] for r in b.rows()][:3] == [b.ram * 4, (b.ram - b.present) * 4, b.present * 4]


def test_a_node_with_hot_added_memory_is_refused() -> None:
    m = vm("6.12")
    assert boot_memory(m, 1).present == 0
    m.dimm_add(128 * MiB, 0, "dimm0")
    m.write("/sys/devices/system/memory/memory32/state", "online_movable")
    with pytest.raises(ValueError, match="hot-added memory"):
        boot_memory(m, 0)
