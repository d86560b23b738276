"""Kernel profiles 5.10 to 7.2: built from one dated table of changes, each switch where the source has it.

The expectations are a literal table read off the kernel trees (Debian's 5.10.223, 6.1.192,
6.12.117 and 7.2.13) and the commits the switches cite, not the table the profiles are
built from.
"""
from __future__ import annotations

import pytest

from workbook.captures import load_scenario
from workbook.kernel import CHANGES, KERNELS, KernelProfile, changes_between, get_kernel
from workbook.machine import Machine

# switch -> the kernels (of 5.10 5.13 6.1 6.6 6.8 6.12 6.18 7.2) where it is on
ON = {
    "memmap_on_memory": "5.13 6.1 6.6 6.8 6.12 6.18 7.2",
    "selfhosted_reserved": "5.13 6.1 6.6 6.8",              # PageReserved 5.13-6.10
    "vmemmap_self_hosted_flag": "6.1 6.6 6.8 6.12 6.18 7.2",  # 6.0+
    "memory_block_zone": "6.1 6.6 6.8 6.12 6.18 7.2",         # 5.18+
    "hwpoison_online_check": "6.6 6.8 6.12 6.18 7.2",         # 6.2+
    "slab_mapping_aliases_movable": "6.6 6.8 6.12",           # 6.2-6.16
    "kpf_offline_reads_zero": "6.18 7.2",
    "mem_prepare_online": "6.8 6.12 6.18",                    # 6.8-6.18
    "node_notify": "6.18 7.2",
    "movable_gigantic_pages": "7.2",
    "pcp_high_from_low_wmark": "6.1 6.6 6.8 6.12 6.18 7.2",   # 5.14+
    "kstrtobool_tf": "6.1 6.6 6.8 6.12 6.18 7.2",             # 5.19+
    "altmap_per_block": "6.8 6.12 6.18 7.2",
    "offlined_pages_info": "5.10",
    "isolate_ends_first": "6.1 6.6 6.8 6.12 6.18 7.2",
    "isolate_bit": "6.18 7.2",
}


@pytest.mark.parametrize("switch", sorted(ON))
def test_switch_is_on_exactly_where_the_source_has_it(switch):
    assert [k for k, p in KERNELS.items() if getattr(p, switch)] == ON[switch].split()


def test_every_switch_changes_in_the_table_and_every_change_names_a_source():
    switches = set(KernelProfile.__dataclass_fields__) - {"name", "version", "default_online_type"}
    assert switches == {c.switch for c in CHANGES}
    assert all(c.source and c.what for c in CHANGES)
    assert [c.since for c in CHANGES] == sorted(c.since for c in CHANGES)


def test_default_online_type_comes_with_the_build_config():
    # upstream Kconfig default: offline; CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO=y in Debian's 6.12.117
    # and 7.2.13 (their configs are in the captures), CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE=n in 6.1
    assert {p.default_online_type for p in KERNELS.values()} == {"offline"}
    aob = "/sys/devices/system/memory/auto_online_blocks"
    assert Machine("6.12").read(aob) == "offline\n"
    want = {"5.10": "offline\n", "6.1": "offline\n", "6.12": "online\n", "7.2": "online\n"}
    for series, text in want.items():
        config = load_scenario(series, "A")["kernel"]["config"]
        assert Machine(series, config=config).read(aob) == text
        # the command line wins over the build
        assert Machine(series, config=config, cmdline="memhp_default_state=online_movable").read(aob) == \
            "online_movable\n"


def test_changes_between():
    assert [c.switch for c in changes_between("6.12", "7.2")] == [
        "slab_mapping_aliases_movable", "mem_prepare_online", "kpf_offline_reads_zero", "node_notify",
        "isolate_bit", "movable_gigantic_pages", "soft_reserved_deferred", "hmem_child_of_platform"]
    assert "memmap_on_memory" in [c.switch for c in changes_between("5.10", "5.13")]
    assert get_kernel("7.2.13+deb14-amd64") is KERNELS["7.2"]
    assert get_kernel("5.10.0-32-amd64") is KERNELS["5.10"]


def test_5_10_has_no_memmap_on_memory_and_says_nothing_about_it():
    m = Machine("5.10", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    assert m.params.memmap_on_memory == "N"
    assert "invalid" not in m.dmesg() and "Unknown" not in m.dmesg()
    assert not m.exists("/sys/module/memory_hotplug/parameters/memmap_on_memory")
    r = m.dimm_add(128 << 20, 1, "d1")
    assert r.result == "ok" and m.blocks[32].vmemmap_pages == 0
    m.write("/sys/devices/system/memory/memory32/state", "online_movable")
    assert m.kpageflags(0x100000, 4).tolist() == [1 << 10] * 4          # BUDDY: the whole block reaches the buddy


def test_force_before_5_19_is_refused_on_the_command_line():
    m = Machine("5.13", cmdline="memory_hotplug.memmap_on_memory=force")
    assert "Booting kernel: `force' invalid for parameter `memory_hotplug.memmap_on_memory'" in m.dmesg()
    assert Machine("6.1", cmdline="memory_hotplug.memmap_on_memory=force").params.memmap_on_memory == "N"
    assert Machine("6.6", cmdline="memory_hotplug.memmap_on_memory=force").params.memmap_on_memory == "force"


def test_pcp_high_before_5_14_is_six_batches():
    def movable_pcp(kernel: str) -> tuple[int, int]:
        m = Machine(kernel, cmdline="memhp_default_state=offline")
        m.dimm_add(128 << 20, 1, "d1")
        m.write("/sys/devices/system/memory/memory32/state", "online_movable")
        pcp = m.nodes[1].zones[3].pcp[1]
        return pcp.batch, pcp.high
    assert movable_pcp("5.10") == (7, 42)
    batch, high = movable_pcp("6.1")
    assert batch == 7 and high > 6 * 7


@pytest.mark.parametrize("kernel, word", [("6.12", 1 << 20), ("7.2", 0)])
def test_kpageflags_of_an_offline_block(kernel, word):
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    m.dimm_add(128 << 20, 1, "d1")
    assert set(m.kpageflags(0x100000, 32768).tolist()) == {word}


def test_zoneinfo_boost_and_cma_lines_came_after_5_10():
    assert "boost" not in Machine("5.10").read("/proc/zoneinfo")
    assert "\n        boost    0" in Machine("6.1").read("/proc/zoneinfo")
