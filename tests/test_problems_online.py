"""Chapter 06 problems: zone counters after onlining, and the zone plain `online` picks."""
from __future__ import annotations

import pytest

from workbook.arch import MiB
from workbook.problems import generate
from workbook.problems.memmap_on_memory import hotplug_vm
from workbook.problems.online import node_memtotal_kb, zone_counters

MEM = "/sys/devices/system/memory"


def expected_counter(kernel: str, size: int, asked: str) -> int:
    """Node 1's counter after onlining every block of one DIMM (node 1 had no memory), from the rule alone.

    n pfns arrive; each 128 MiB block self-hosts 512 of them when the kernel takes the add
    (memmap_on_memory=1: one block per add before 6.8, any size on 6.12). present counts all
    n, managed all but the self-hosted ones, MemTotal is managed in kB (4 KiB pages).
    """
    n, blocks = size >> 12, size // (128 * MiB)
    v = 512 * blocks if blocks == 1 or kernel == "6.12" else 0
    return {"present": n, "managed": n - v, "present - managed": v, "MemTotal kB": (n - v) * 4}[asked]


@pytest.mark.parametrize("seed", range(40))
def test_online_counters_problem(seed: int) -> None:
    p = generate("online-counters", seed)
    assert str(p) == str(generate("online-counters", seed))
    assert isinstance(p.answer, int) and p.answer >= 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert "rule: online: present +=" in repr(p.check(wrong))
    assert "memory_hotplug.memmap_on_memory=1" in p.params["command line"]
    zone = "Movable" if p.params["online type (echo ... > state, every block)"] == "online_movable" else "Normal"
    assert p.params["asked"] == "MemTotal kB" or f"zone {zone}, in pages" in p.question
    assert p.answer == expected_counter(p.params["kernel"], p.params["hot-added bytes (one DIMM on node 1)"],
                                        p.params["asked"])


def expected_zone(policy: str, first_block: str) -> str:
    """The zone plain 'online' gives the DIMM's second block (zone_for_pfn_range(MMOP_ONLINE)).

    contig-zones: the blocks only touch, so the second intersects no zone: the kernel zone,
    or ZONE_MOVABLE with movable_node. auto-movable, NUMA aware: node 1 has no boot (early)
    kernel memory, so no MOVABLE is allowed there. Not NUMA aware: the whole machine's 1 GiB
    of early kernel memory allows 3x MOVABLE, unless the DIMM's memory group (ACPI registers
    one static group per DIMM) already holds kernel memory.
    """
    if policy.startswith("contig-zones"):
        return "Movable" if "movable_node" in policy else "Normal"
    if policy == "auto-movable":
        return "Normal"
    return "Normal" if first_block == "echo online_kernel > state" else "Movable"


@pytest.mark.parametrize("seed", range(30))
def test_online_zone_problem(seed: int) -> None:
    p = generate("online-zone", seed)
    assert p.answer in ("Normal", "Movable") and p.check(p.answer).ok
    other = "Normal" if p.answer == "Movable" else "Movable"
    assert "valid_zones" in repr(p.check(other)) and "zone_for_pfn_range" in repr(p.check(other))
    assert f"so plain 'online' picks {p.answer}" in p.explanation
    assert p.answer == expected_zone(p.params["online policy"], p.params["memory32"])


def test_online_zone_varies() -> None:
    problems = [generate("online-zone", s) for s in range(30)]
    assert {p.answer for p in problems} == {"Normal", "Movable"}
    assert len({(p.params["online policy"], p.params["memory32"]) for p in problems}) >= 10


def test_counters_of_one_self_hosted_block() -> None:
    m = hotplug_vm("6.12")
    m.dimm_add(128 * MiB, 1)
    m.write(f"{MEM}/memory32/state", "online_movable")
    c = zone_counters(m, 1, "Movable")
    assert (c["spanned"], c["present"], c["managed"], c["free"]) == (32768, 32768, 32256, 32256)
    assert c["start_pfn"] == 0x100000 and node_memtotal_kb(m, 1) == 129024


@pytest.mark.parametrize("seed", range(40))
def test_online_counters_names_the_usual_mistakes(seed: int) -> None:
    """The memmap counted wrongly (none, one block's, every block's), one block's value, another quantity, units."""
    p = generate("online-counters", seed)
    kernel, size, asked = p.params["kernel"], p.params["hot-added bytes (one DIMM on node 1)"], p.params["asked"]
    blocks = size // (128 * MiB)
    wrong = {expected_counter(k, size, asked) for k in ("5.13", "6.12")} - {p.answer}
    if blocks > 1:
        wrong.add(p.answer // blocks)                     # one block's value: every quantity grows per block
    for other in ("present", "managed", "present - managed", "MemTotal kB"):
        wrong.add(expected_counter(kernel, size, other))
    wrong.discard(p.answer)
    for value in wrong:
        assert "that is not it" not in p.check(value).message, (value, p.params)
    if asked == "MemTotal kB":
        assert "MB, as numactl -H prints it" in p.check(p.answer >> 10).message
    elif p.answer:
        assert "that is kB" in p.check(p.answer * 4).message or p.answer * 4 in (
            expected_counter(kernel, size, q) for q in ("present", "managed", "MemTotal kB"))


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_movable_watermarks_by_hand_match_the_model_and_every_capture(kernel: str) -> None:
    """__setup_per_zone_wmarks() by hand gives node 1's Movable watermarks: the model's and the real kernels'.

    Every captured step where node 1 has movable memory and no kernel zone (with one, the
    5 % cap of min_free_kbytes decides, which the helper leaves out).
    """
    from workbook.captures import load_scenario, step_file
    from workbook.problems.online import movable_wmarks_by_hand, zone_watermarks

    m = hotplug_vm(kernel)
    m.dimm_add(256 * MiB, node=1, id="dimm1")
    m.write(f"{MEM}/memory32/state", "online_movable")
    like_highmem = m.kernel.movable_min_wmark_like_highmem
    assert like_highmem == (kernel == "6.12")
    texts = [str(m.read("/proc/zoneinfo"))]
    for scenario in "ABCDEFGHIJK":
        for step in load_scenario(kernel, scenario)["steps"]:
            try:
                texts.append(step_file(kernel, scenario, step["name"], "zoneinfo"))
            except (FileNotFoundError, KeyError):
                continue
    compared = 0
    for text in texts:
        zones = zone_watermarks(text)
        if not zones.get((1, "Movable"), {}).get("managed") or any(
                zones.get((1, z), {}).get("present") for z in ("DMA", "DMA32", "Normal")):
            continue
        marks, steps = movable_wmarks_by_hand(text, like_highmem)
        real = zones[(1, "Movable")]
        assert {k: marks[k] for k in ("min", "low", "high", "promo") if k in real} == \
            {k: real[k] for k in ("min", "low", "high", "promo") if k in real}
        compared += 1
    assert compared >= 10
    if kernel == "6.12":
        assert movable_wmarks_by_hand(texts[0], True)[0]["min"] == 32          # 32,256 / 1024 = 31, clamped to 32
