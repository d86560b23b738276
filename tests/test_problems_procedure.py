"""Chapter 10 problem: one number of node 1's /proc/zoneinfo after a random sequence."""
from __future__ import annotations

import re

import pytest

from workbook.problems import generate
from workbook.problems.procedure import parse_actions, run_sequence, zoneinfo_field


def test_one_self_hosted_block_online_movable() -> None:
    m = run_sequence("6.12", "1", [("add", 128 << 20), ("state", 32, "online_movable")])
    assert [zoneinfo_field(m, 1, "Movable", k) for k in ("spanned", "present", "managed")] == [32768, 32768, 32256]
    m = run_sequence("6.12", "0", [("add", 128 << 20), ("state", 32, "online_movable")])
    assert zoneinfo_field(m, 1, "Movable", "managed") == 32768


def test_offline_takes_the_block_out_of_the_zone() -> None:
    m = run_sequence("6.1", "1", [("add", 128 << 20), ("state", 32, "online_movable"), ("state", 32, "offline")])
    assert zoneinfo_field(m, 1, "Movable", "present") == 0


@pytest.mark.parametrize("seed", range(25))
def test_zoneinfo_after_problem(seed: int) -> None:
    p = generate("zoneinfo-after", seed)
    assert str(p) == str(generate("zoneinfo-after", seed))
    assert isinstance(p.answer, int) and p.answer > 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert "rule: per block onlined" in repr(p.check(wrong))
    mom = p.params["machine"].split("memmap_on_memory=")[1].split()[0]
    m = run_sequence(p.params["kernel"], mom, parse_actions(p.params["actions, in order"]))
    zone, key = re.search(r"zone\s+(\w+)' show as (\w+)", p.question).groups()
    assert zoneinfo_field(m, 1, zone, key) == p.answer
