"""Chapter 07 problem and helpers: what `echo offline` returns; the capture-C writes and log lines."""
from __future__ import annotations

import pytest

from workbook.arch import MiB
from workbook.pagemap import PageKind
from workbook.problems import generate
from workbook.problems.memmap_on_memory import hotplug_vm
from workbook.problems.offline import captured_block_usage, captured_writes, offline_log_lines
from workbook.walkers import page_state


def expected_result(onlined: str, target: str, twice: bool) -> str:
    """What 'echo offline' gives, from the problem's parameters alone.

    The block that gave node 1 its first kernel-zone memory (the first online_kernel write)
    holds the kernel's bring-up allocations, unmovable: isolation fails, EBUSY. Pinned pipe
    buffers are kernel allocations too and land beside them in that block (checked in
    test_pins_land_beside_the_bring_up_allocations), so they add no second busy block;
    anonymous pages migrate. A block offlined by the first write is EINVAL the second time.
    """
    order = [part.split("=") for part in onlined.split(", ")]
    kernel_blocks = [block for block, online_type in order if online_type == "online_kernel"]
    first = "EBUSY" if kernel_blocks[:1] == [target] else "ok"
    if twice and first == "ok":
        return "EINVAL"
    return first


@pytest.mark.parametrize("seed", range(40))
def test_offline_result_problem(seed: int) -> None:
    p = generate("offline-result", seed)
    assert str(p) == str(generate("offline-result", seed))
    assert p.answer in ("ok", "EBUSY", "EINVAL", "EINTR") and p.check(p.answer).ok
    assert p.answer not in p.mistakes and "EBUSY" in p.mistakes or p.answer == "EBUSY"
    for wrong in p.mistakes:
        assert "rule: offline_pages()" in repr(p.check(wrong))
    if p.answer == "EBUSY":
        assert "failed due to failure to isolate range" in p.explanation
    assert p.answer == expected_result(p.params["onlined, in order"], p.params["offline"], p.params["written twice"])


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
@pytest.mark.parametrize("order", [("memory32", "memory33"), ("memory33", "memory32")])
def test_pins_land_beside_the_bring_up_allocations(kernel: str, order: tuple[str, str]) -> None:
    m = hotplug_vm(kernel)
    m.dimm_add(256 * MiB, 1, "dimm1")
    for block in order:
        m.write(f"/sys/devices/system/memory/{block}/state", "online_kernel")
    m.pin(1, 16 * MiB)
    kinds = {b: page_state(m, m.blocks[b].start_pfn, 32768).kind for b in (32, 33)}
    used = {b: int(((k != PageKind.FREE) & (k != PageKind.SELFHOSTED)).sum()) for b, k in kinds.items()}
    first, second = (int(name.removeprefix("memory")) for name in order)
    assert used[second] == 0 and used[first] >= 4096          # 16 MiB of pins and the bring-up pages


def test_offline_result_covers_success_ebusy_and_einval() -> None:
    problems = [generate("offline-result", s) for s in range(40)]
    assert {p.answer for p in problems} >= {"ok", "EBUSY", "EINVAL"}
    assert len({p.params["load on node 1"] for p in problems}) == 4          # nothing, stress, pins, pins freed


@pytest.mark.parametrize("series", ["6.1", "6.12"])
def test_capture_c_writes(series: str) -> None:
    rows = captured_writes(series, "C", "offline")
    first = [(r["block"], r["errno"]) for r in rows if r["step"] == "05-offline-attempt-while-pinned"]
    assert first == [("memory32", 16), ("memory33", 16), ("memory34", 16)] + [(f"memory{b}", 0) for b in range(35, 40)]
    assert {r["errno"] for r in rows if r["step"] == "06-offline-after-unpin"} == {16, 22}
    assert all(r["value"] == "offline" for r in rows)
    assert len(captured_writes(series, "C")) == len(rows) + 8          # plus the eight online writes


def test_capture_c_log_lines() -> None:
    old = offline_log_lines("6.1", "C", "05-offline-attempt-while-pinned")
    new = offline_log_lines("6.12", "C", "05-offline-attempt-while-pinned")
    assert "[mem 0x100000000-0x107ffffff] failed due to failure to isolate range" in old[0]
    assert "[mem 0x100200000-0x107ffffff] failed due to failure to isolate range" in new[0]
    assert old[-1].endswith("Offlined Pages 32768") and new[-1].endswith("Offlined Pages 32256")


def test_captured_block_usage() -> None:
    old = captured_block_usage("6.1", "C", "04-pinned")
    new = captured_block_usage("6.12", "C", "04-pinned")
    assert sorted(new) == list(range(32, 40)) and all(sum(u.values()) == 32768 for u in new.values())
    assert {b: u["memmap"] for b, u in new.items()} == dict.fromkeys(range(32, 40), 512)
    assert {b: u["memmap"] for b, u in old.items()} == dict.fromkeys(range(32, 40), 0)   # 6.1: not on a 1 GiB DIMM
    for usage in (old, new):
        assert usage[33]["in use"] > 30000 and usage[35]["in use"] == 0                  # pinned vs untouched
    after = captured_block_usage("6.12", "C", "06-offline-after-unpin")
    assert after[35]["offline"] == 32768 and 0 < after[32]["in use"] < 100


def test_captured_writes_mark_the_writes_that_never_returned() -> None:
    """6.12's later offlines of F's Normal block timed out: no errno, outcome 'timed out'; 6.1 gave EBUSY."""
    new = [w for w in captured_writes("6.12", "F", "offline") if w["block"] == "memory32"]
    assert [w["outcome"] for w in new] == ["EBUSY", "timed out", "timed out", "timed out"]
    assert all(w["errno"] is None for w in new if w["timed_out"])
    old = [w["outcome"] for w in captured_writes("6.1", "F", "offline") if w["block"] == "memory32"]
    assert old == ["EBUSY"] * 4


@pytest.mark.parametrize("seed", range(40))
def test_offline_result_eintr_hint_fits_the_answer(seed: int) -> None:
    p = generate("offline-result", seed)
    if p.answer == "EINTR":
        return
    hint = p.check("EINTR").message
    assert ("isolation refuses" in hint) == (p.answer == "EBUSY") and "retry loop" in hint
