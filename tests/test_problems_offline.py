"""Chapter 07 problem and helpers: what `echo offline` returns; the capture-C writes and log lines."""
from __future__ import annotations

import pytest

from workbook.problems import generate
from workbook.problems.offline import captured_block_usage, captured_writes, offline_log_lines


@pytest.mark.parametrize("seed", range(30))
def test_offline_result_problem(seed: int) -> None:
    p = generate("offline-result", seed)
    assert str(p) == str(generate("offline-result", seed))
    assert p.answer in ("ok", "EBUSY", "EINVAL", "EINTR") and p.check(p.answer).ok
    assert p.answer not in p.mistakes and "EBUSY" in p.mistakes or p.answer == "EBUSY"
    for wrong in p.mistakes:
        assert "rule: offline_pages()" in repr(p.check(wrong))
    if p.answer == "EBUSY":
        assert "failed due to failure to isolate range" in p.explanation


def test_offline_result_covers_success_ebusy_and_einval() -> None:
    assert {generate("offline-result", s).answer for s in range(40)} >= {"ok", "EBUSY", "EINVAL"}


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
