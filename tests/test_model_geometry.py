"""Geometry and mhp_supports_memmap_on_memory() per architecture and kernel (kernel-semantics §10)."""
from __future__ import annotations

import pytest

from workbook.arch import ARCHES, GiB, MiB, X86_64, get_arch
from workbook.machine import Machine, NodeSpec
from workbook.memory_hotplug import (memmap_on_memory_refusal, memory_block_memmap_on_memory_pages,
                                     mhp_supports_memmap_on_memory)


def machine(kernel="6.12", arch="x86_64", mode="1", block=None):
    return Machine(kernel, arch, [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)],
                   cmdline=f"memory_hotplug.memmap_on_memory={mode}", block_size=block)


def test_x86_constants():
    a = X86_64
    assert (a.page_size, a.pages_per_section, a.pages_per_subsection) == (4096, 32768, 512)
    assert (a.pmd_size, a.pageblock_nr_pages, a.max_order_nr_pages) == (2 * MiB, 512, 1024)
    assert a.memmap_bytes(12 * GiB // 4096) == 192 * MiB          # 1/64 of memory
    assert a.memmap_pages(32768) == 512


@pytest.mark.parametrize("block,V", [(128 * MiB, 512), (256 * MiB, 1024), (512 * MiB, 2048),
                                     (1 * GiB, 4096), (2 * GiB, 8192)])
def test_x86_vmemmap_pages_per_block(block, V):
    m = machine(block=block)
    assert mhp_supports_memmap_on_memory(m)
    assert memory_block_memmap_on_memory_pages(m) == V


@pytest.mark.parametrize("arch,block,mode,supported,V,why", [
    ("arm64-4k", 128 * MiB, "1", True, 512, None),
    ("arm64-16k", 128 * MiB, "1", False, 32, "pageblock"),
    ("arm64-16k", 128 * MiB, "force", False, 2048, "PMD_SIZE"),
    ("arm64-64k", 512 * MiB, "1", False, 8, "pageblock"),
    ("arm64-64k", 512 * MiB, "force", False, 8192, "whole block"),
    ("ppc64-hash-64k", 256 * MiB, "1", False, 4, "pageblock"),
    ("ppc64-hash-64k", 256 * MiB, "force", False, 256, "radix"),
    ("ppc64-radix-64k", 256 * MiB, "1", False, 4, "pageblock"),
    ("ppc64-radix-64k", 256 * MiB, "force", True, 32, None),
    ("ppc64-radix-4k", 256 * MiB, "1", True, 1024, None),
    ("s390x", 256 * MiB, "1", True, 1024, None),
])
def test_refusal_table_6_12(arch, block, mode, supported, V, why):
    m = machine("6.12", arch, mode, block)
    assert m.block_size == block
    assert memory_block_memmap_on_memory_pages(m) == V
    reason = memmap_on_memory_refusal(m)
    assert (reason is None) == supported, reason
    if why:
        assert why in reason


def test_kmsan_struct_page_80():
    m = machine("6.12", X86_64.with_struct_page(80), "1", 128 * MiB)
    assert memory_block_memmap_on_memory_pages(m) == 640
    assert "pageblock" in memmap_on_memory_refusal(m)
    m = machine("6.12", X86_64.with_struct_page(80), "force", 128 * MiB)
    assert memory_block_memmap_on_memory_pages(m) == 1024
    assert "PMD_SIZE" in memmap_on_memory_refusal(m)
    for block, V in ((512 * MiB, 2560), (2 * GiB, 10240)):
        m = machine("6.12", X86_64.with_struct_page(80), "1", block)
        assert mhp_supports_memmap_on_memory(m) and memory_block_memmap_on_memory_pages(m) == V


def test_single_block_rule_before_6_8():
    m = machine("6.1")
    assert mhp_supports_memmap_on_memory(m, 128 * MiB)
    assert "exactly one block" in memmap_on_memory_refusal(m, 1 * GiB)
    m = machine("6.12")
    assert mhp_supports_memmap_on_memory(m, 1 * GiB)   # 6.8+: per-block altmaps


def test_off_and_old_kernels():
    assert "off" in memmap_on_memory_refusal(machine(mode="0"))
    assert memmap_on_memory_refusal(machine("5.13")) is None
    assert "ARCH_MHP" in memmap_on_memory_refusal(machine("6.1", "s390x", "1", 256 * MiB))


def test_force_is_rejected_before_6_6_and_bare_name_after():
    m = machine("6.1", mode="force")
    # 6.1's param is a plain bool: kstrtobool("force") reads the "f" of "false"
    assert m.params.memmap_on_memory == "N" and not m.params.log
    m = machine("6.1", mode="maybe")
    assert m.params.memmap_on_memory == "N" and "invalid" in m.params.log[0]
    m = Machine("6.1", cmdline="memory_hotplug.memmap_on_memory")
    assert m.params.memmap_on_memory == "Y"         # param_ops_bool: a bare name means Y
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory")
    assert m.params.memmap_on_memory == "N"         # memmap_mode_ops has no NOARG flag
    assert m.read("/sys/module/memory_hotplug/parameters/memmap_on_memory") == "N\n"
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=force")
    assert m.read("/sys/module/memory_hotplug/parameters/memmap_on_memory") == "force\n"


def test_x86_block_size_probe():
    m = Machine("6.1")
    assert m.probe_memory_block_size(1 * GiB) == 128 * MiB
    assert m.probe_memory_block_size(64 * GiB) == 2 * GiB
    assert m.probe_memory_block_size(65 * GiB) == 1 * GiB
    assert m.probe_memory_block_size(64 * GiB + 128 * MiB) == 128 * MiB
    m.bare_metal = True
    assert m.probe_memory_block_size(65 * GiB) == 2 * GiB


def test_every_arch_has_sane_geometry():
    for a in ARCHES.values():
        assert a.pageblock_order <= a.max_page_order
        assert a.section_size_bits > a.page_shift
        assert get_arch(a.name) is a
    with pytest.raises(ValueError):
        get_arch("vax")
