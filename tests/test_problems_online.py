"""Chapter 06 problems: zone counters after onlining, and the zone plain `online` picks."""
from __future__ import annotations

import pytest

from workbook.arch import MiB
from workbook.problems import generate
from workbook.problems.memmap_on_memory import hotplug_vm
from workbook.problems.online import node_memtotal_kb, zone_counters

MEM = "/sys/devices/system/memory"


@pytest.mark.parametrize("seed", range(30))
def test_online_counters_problem(seed: int) -> None:
    p = generate("online-counters", seed)
    assert str(p) == str(generate("online-counters", seed))
    assert isinstance(p.answer, int) and p.answer >= 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert "rule: online: present +=" in repr(p.check(wrong))


@pytest.mark.parametrize("seed", range(30))
def test_online_zone_problem(seed: int) -> None:
    p = generate("online-zone", seed)
    assert p.answer in ("Normal", "Movable") and p.check(p.answer).ok
    other = "Normal" if p.answer == "Movable" else "Movable"
    assert "valid_zones" in repr(p.check(other)) and "zone_for_pfn_range" in repr(p.check(other))
    assert f"so plain 'online' picks {p.answer}" in p.explanation


def test_online_zone_varies() -> None:
    assert {generate("online-zone", s).answer for s in range(30)} == {"Normal", "Movable"}


def test_counters_of_one_self_hosted_block() -> None:
    m = hotplug_vm("6.12")
    m.dimm_add(128 * MiB, 1)
    m.write(f"{MEM}/memory32/state", "online_movable")
    c = zone_counters(m, 1, "Movable")
    assert (c["spanned"], c["present"], c["managed"], c["free"]) == (32768, 32768, 32256, 32256)
    assert c["start_pfn"] == 0x100000 and node_memtotal_kb(m, 1) == 129024
