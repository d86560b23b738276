"""Chapter 10 problem: one number of node 1's /proc/zoneinfo after a random sequence."""
from __future__ import annotations

import re

import pytest

from workbook.problems import generate
from workbook.problems.procedure import parse_actions, run_sequence, zoneinfo_field

BLOCK = 32768                             # pfns of a 128 MiB block
FIRST = 32                                # node 1's first block: the first DIMM lands at 4 GiB


def test_one_self_hosted_block_online_movable() -> None:
    m = run_sequence("6.12", "1", [("add", 128 << 20), ("state", 32, "online_movable")])
    assert [zoneinfo_field(m, 1, "Movable", k) for k in ("spanned", "present", "managed")] == [32768, 32768, 32256]
    m = run_sequence("6.12", "0", [("add", 128 << 20), ("state", 32, "online_movable")])
    assert zoneinfo_field(m, 1, "Movable", "managed") == 32768


def test_offline_takes_the_block_out_of_the_zone() -> None:
    m = run_sequence("6.1", "1", [("add", 128 << 20), ("state", 32, "online_movable"), ("state", 32, "offline")])
    assert zoneinfo_field(m, 1, "Movable", "present") == 0


def test_parse_actions_reads_back_the_steps() -> None:
    text = ("(qemu) device_add pc-dimm 256M node=1; echo online_kernel > memory33/state; "
            "echo offline > memory33/state")
    assert parse_actions(text) == [("add", 256 << 20), ("state", 33, "online_kernel"), ("state", 33, "offline")]


def _steps(actions: str) -> list[tuple]:
    """("add", MiB) and ("state", block, value) from a problem's 'actions, in order' line."""
    steps: list[tuple] = []
    for mib, value, block in re.findall(r"device_add pc-dimm (\d+)M node=1|echo (\w+) > memory(\d+)/state", actions):
        steps.append(("add", int(mib)) if mib else ("state", int(block), value))
    assert len(steps) == actions.count("; ") + 1
    return steps


def expected_zone(kernel: str, memmap_on_memory: str, actions: str, zone: str) -> dict[str, int]:
    """spanned, present and managed of node 1's ``zone`` after ``actions``, from the rule alone.

    A DIMM of n blocks self-hosts V = 512 pfns per block when memmap_on_memory=1 and the
    kernel accepts the add (one block per add before 6.8, any size on 6.12). Onlining adds
    the block's pfns to present and all but V to managed; spanned runs from the lowest to
    the highest online block of the zone; offline takes the block out again.
    """
    vmemmap: dict[int, int] = {}
    zone_of: dict[int, str] = {}
    for step in _steps(actions):
        if step[0] == "add":
            n = step[1] // 128
            v = 512 if memmap_on_memory == "1" and (n == 1 or kernel == "6.12") else 0
            start = FIRST + len(vmemmap)
            vmemmap.update(dict.fromkeys(range(start, start + n), v))
        elif step[2] == "offline":
            del zone_of[step[1]]
        else:
            zone_of[step[1]] = "Movable" if step[2] == "online_movable" else "Normal"
    blocks = sorted(b for b, z in zone_of.items() if z == zone)
    return {"spanned": (blocks[-1] + 1 - blocks[0]) * BLOCK if blocks else 0,
            "present": len(blocks) * BLOCK,
            "managed": sum(BLOCK - vmemmap[b] for b in blocks)}


@pytest.mark.parametrize("seed", range(40))
def test_zoneinfo_after_problem(seed: int) -> None:
    p = generate("zoneinfo-after", seed)
    assert str(p) == str(generate("zoneinfo-after", seed))
    assert isinstance(p.answer, int) and p.answer > 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert "rule: per block onlined" in repr(p.check(wrong))
    mom = p.params["machine"].split("memmap_on_memory=")[1].split()[0]
    zone, key = re.search(r"zone\s+(\w+)' show as (\w+)", p.question).groups()
    assert p.answer == expected_zone(p.params["kernel"], mom, p.params["actions, in order"], zone)[key]


def test_zoneinfo_after_varies_kernel_memmap_zone_and_field() -> None:
    problems = [generate("zoneinfo-after", s) for s in range(40)]
    assert {p.params["kernel"] for p in problems} == {"6.1", "6.12"}
    assert {p.params["machine"].split("memmap_on_memory=")[1][0] for p in problems} == {"0", "1"}
    asked = {re.search(r"zone\s+(\w+)' show as (\w+)", p.question).groups() for p in problems}
    assert {z for z, _ in asked} == {"Normal", "Movable"} and {k for _, k in asked} == {"spanned", "present", "managed"}
    assert any("echo offline" in p.params["actions, in order"] for p in problems)


def test_common_mistakes_are_named() -> None:
    """The 6.1 multi-block trap, the wrong zone, an offlined block counted, kB for pages: each gets its reason."""
    p = generate("zoneinfo-after", 11)                  # chapter 10's seed: 6.1, a 256 MiB DIMM among 128 MiB ones
    assert p.params["kernel"] == "6.1" and "pc-dimm 256M" in p.params["actions, in order"]
    assert "no self-hosted memmap at all" in p.check(p.answer - 1024).message       # 512 per block of the 256 MiB DIMM
    assert "kB" in p.check(p.answer * 4).message
    offlined = other_zone = 0
    for seed in range(40):
        p = generate("zoneinfo-after", seed)
        hints = set(p.mistakes.values())
        offlined += any("offlined again" in h for h in hints)
        other_zone += any("zone: online_kernel puts" in h for h in hints)
        assert p.answer * 4 in p.mistakes                  # kB for pages (or another mistake with that value)
    assert offlined >= 5 and other_zone >= 20
