"""Chapter 02 problems: memory-block-size (x86 probe) and block-of-address."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.blocks import probe_block_size


@pytest.mark.parametrize(("end", "bare", "expected"), [
    (4 * GiB, False, 128 * MiB), (4 * GiB, True, 128 * MiB), (96 * GiB, True, 2 * GiB), (65 * GiB, True, 2 * GiB),
    (96 * GiB, False, 2 * GiB), (65 * GiB, False, 1 * GiB), (64 * GiB + 128 * MiB, False, 128 * MiB),
    (100 * GiB + 256 * MiB, False, 256 * MiB), (192 * GiB + 512 * MiB, False, 512 * MiB),
])
def test_probe_rules(end: int, bare: bool, expected: int) -> None:
    assert probe_block_size(end, bare) == expected


# x86 probe_memory_block_size() by hand, in MiB, for every end of boot memory the problem
# draws: below 64 GiB 128; bare metal 2048; a VM the largest of 2048/1024/512/256 MiB
# that divides the end, else 128.
VM_BLOCK_MIB = {
    2 * GiB: 128, 16 * GiB: 128, 63 * GiB: 128, 64 * GiB: 2048, 64 * GiB + 128 * MiB: 128, 65 * GiB: 1024,
    96 * GiB: 2048, 100 * GiB + 256 * MiB: 256, 129 * GiB: 1024, 192 * GiB + 512 * MiB: 512, 258 * GiB: 2048,
    1024 * GiB: 2048,
}


@pytest.mark.parametrize("seed", range(30))
def test_memory_block_size_problem(seed: int) -> None:
    p = generate("memory-block-size", seed)
    end = int(p.params["end of boot memory (max_pfn << PAGE_SHIFT)"].split()[0], 16)
    bare = p.params["machine"] == "bare metal"
    assert p.answer == ((128 if end < 64 * GiB else 2048) if bare else VM_BLOCK_MIB[end])
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    wrong = next(iter(p.mistakes))
    assert "rule: x86 probe_memory_block_size()" in repr(p.check(wrong))


def test_memory_block_size_varies() -> None:
    assert len({generate("memory-block-size", s).answer for s in range(40)}) >= 3
    assert {generate("memory-block-size", s).params["machine"] for s in range(30)} == {
        "bare metal", "VM (X86_FEATURE_HYPERVISOR)"}


@pytest.mark.parametrize("seed", range(20))
def test_block_of_address(seed: int) -> None:
    p = generate("block-of-address", seed)
    block = int(p.params["block_size_bytes"], 16)
    addr = int(p.params["physical address"], 16)
    assert p.answer == addr // block
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    assert "hexadecimal" in repr(p.check(addr // int(p.params["block_size_bytes"])))


@pytest.mark.parametrize("seed", range(40))
def test_memory_block_size_names_every_other_probe_size(seed: int) -> None:
    """Every size the probe can return, when wrong, gets the rule it misses; so do bytes and block_size_bytes."""
    p = generate("memory-block-size", seed)
    for mib in (2048, 1024, 512, 256, 128):
        if mib != p.answer:
            assert "that is not it" not in repr(p.check(mib)), mib
    assert "in bytes" in repr(p.check(p.answer << 20))
    assert "read as a decimal number" in repr(p.check(int(f"{p.answer << 20:x}")))


def test_memory_block_size_bare_metal_is_not_the_vm_rule() -> None:
    p = next(p for p in (generate("memory-block-size", s) for s in range(60))
             if p.params["machine"] == "bare metal" and p.answer == 2048)
    assert "the rule for VMs" in repr(p.check(1024))


@pytest.mark.parametrize("seed", range(20))
def test_block_of_address_names_off_by_one_and_hex_phys_index(seed: int) -> None:
    p = generate("block-of-address", seed)
    assert "one block too far" in repr(p.check(p.answer + 1))
    written = f"{p.answer:x}"
    if written.isdigit() and int(written) != p.answer:
        assert "phys_index prints" in repr(p.check(int(written)))
