"""Chapter 11 check cells: the first kernel with per-block altmaps, force-mode waste, the hot-add ceiling."""
from __future__ import annotations

from widgets.checks_ch11 import (VERSIONS, check_first_self_hosting_kernel, check_force_waste, check_max_hotplug_end,
                                 self_hosted_blocks)
from workbook.arch import MiB


def test_multi_block_adds_self_host_from_6_8() -> None:
    assert [self_hosted_blocks(k) for k in VERSIONS] == [0, 0, 0, 0, 4, 4, 4]
    assert self_hosted_blocks("6.1", 128 * MiB) == 1
    assert check_first_self_hosting_kernel("6.8").ok
    assert "force" in check_first_self_hosting_kernel("6.6").message
    assert check_first_self_hosting_kernel("5.13", size=128 * MiB).ok


def test_force_waste() -> None:
    assert check_force_waste(28).ok
    assert check_force_waste(0, arch="x86_64").ok
    assert "padding only" in check_force_waste(32).message
    assert "in bytes" in check_force_waste(28 * 65536).message
    # 512 MiB blocks: memmap 8 pages, padded to a 32-page pageblock; the default block's 28 is a named mistake
    assert check_force_waste(24, block_size=512 * MiB).ok
    assert "256 MiB block" in check_force_waste(28, block_size=512 * MiB).message


def test_max_hotplug_end() -> None:
    assert repr(check_max_hotplug_end(1 << 46)) == "right: 0x400000000000"
    assert check_max_hotplug_end(1 << 52, arch="x86_64-la57").ok
    assert "MAX_PHYSMEM_BITS = 46" in check_max_hotplug_end(1 << 47).message


def test_max_hotplug_end_explains_the_inclusive_end():
    from widgets.checks_ch11 import check_max_hotplug_end
    v = check_max_hotplug_end((1 << 46) - 1)
    assert not v and "one past it" in v.message
    assert check_max_hotplug_end(1 << 46)


def test_multiblock_managed_before_and_after_per_block_altmaps():
    from widgets.checks_ch11 import check_multiblock_managed, multiblock_managed
    assert [multiblock_managed(k) for k in VERSIONS] == [131072] * 4 + [129024] * 3
    assert check_multiblock_managed(131072).ok and check_multiblock_managed(129024, kernel="6.8").ok
    assert "per-block altmaps came with 6.8" in check_multiblock_managed(129024).message
    assert "first block only" in check_multiblock_managed(131072 - 512).message
    assert "falls back" in check_multiblock_managed(0).message


def test_max_hotplug_start():
    from workbook.arch import GiB
    from widgets.checks_ch11 import check_max_hotplug_start
    assert repr(check_max_hotplug_start((1 << 46) - 2 * GiB)) == "right: 0x3fff80000000"
    assert check_max_hotplug_start((1 << 52) - 2 * GiB, arch="x86_64-la57").ok
    assert "where the range may end" in check_max_hotplug_start(1 << 46).message
    assert "exclusive" in check_max_hotplug_start((1 << 46) - 2 * GiB - 1).message


def test_max_hotplug_start_names_what_the_kernel_answers_a_wrong_start():
    """A wrong start gets the guest kernel's own answer: EINVAL unaligned, E2BIG past 2^46, EEXIST over RAM."""
    from workbook.arch import GiB, MiB
    from widgets.checks_ch11 import check_max_hotplug_start
    unaligned = check_max_hotplug_start((1 << 46) - 2 * GiB - 2 * MiB)
    assert not unaligned and "block size" in unaligned.message and "EINVAL" in unaligned.message
    assert "unaligned hotplug range" in unaligned.message
    past = check_max_hotplug_start((1 << 46) + 2 * GiB)
    assert not past and "E2BIG" in past.message and "exceeds maximum addressable range" in past.message
    assert "EEXIST" in check_max_hotplug_start(0).message
    lower = check_max_hotplug_start((1 << 46) - 4 * GiB)
    assert not lower and "not the highest start" in lower.message
    assert "unaligned" not in repr(check_max_hotplug_start(None)).split("rule:")[0]
