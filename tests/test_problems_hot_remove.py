"""Chapter 09 problem: does QEMU's device_del of a DIMM complete, and if not, which block fails?"""
from __future__ import annotations

import pytest

from workbook.problems import generate
from workbook.problems.hot_remove import eject_machine, eject_outcome


def test_movable_blocks_are_ejected_and_their_pages_migrate() -> None:
    assert eject_outcome("6.12", ["online_movable", "online_movable"], 64 << 20) == "deleted"
    assert eject_outcome("6.1", ["online_movable", "offline"]) == "deleted"


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_the_first_kernel_block_holds_the_nodes_first_kernel_allocations(kernel: str) -> None:
    types = ["online_movable", "online_kernel", "online_movable", "online_kernel"]
    assert eject_outcome(kernel, types) == "memory33"
    m, blocks = eject_machine(kernel, types)
    res = m.dimm_del("dimm1")
    assert res.result == "not-deleted" and res.error.errno_name == "EBUSY"
    assert [m.blocks[b].state_name() for b in blocks] == ["online"] * 4        # the others were re-onlined
    assert "memory memory33: Offline failed." in m.dmesg()


@pytest.mark.parametrize("seed", range(30))
def test_dimm_eject_problem(seed: int) -> None:
    p = generate("dimm-eject", seed)
    assert str(p) == str(generate("dimm-eject", seed))
    assert p.answer == "deleted" or p.answer.startswith("memory")
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    types = p.params["then echo to memory32, memory33, ... /state"].split(", ")
    # the first online_kernel block holds node 1's first kernel allocations: it cannot be offlined;
    # every other block offlines (movable pages migrate to node 0), so then the eject completes
    kernel_blocks = [f"memory{32 + i}" for i, t in enumerate(types) if t == "online_kernel"]
    if kernel_blocks:
        assert p.answer == kernel_blocks[0]
    else:
        assert p.answer == "deleted"
    for wrong in p.mistakes:
        assert not p.check(wrong).ok


def test_both_outcomes_occur() -> None:
    answers = {generate("dimm-eject", s).answer == "deleted" for s in range(25)}
    assert answers == {True, False}
