"""Chapter 05 problem: how many pfns of a hot-added block hold its own memmap."""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.problems import generate
from workbook.problems.memmap_on_memory import hotplug_vm


@pytest.mark.parametrize("seed", range(40))
def test_selfhosted_pages_problem(seed: int) -> None:
    p = generate("selfhosted-pages", seed)
    assert str(p) == str(generate("selfhosted-pages", seed)) and "ANSWER" not in str(p)
    assert isinstance(p.answer, int) and p.answer >= 0
    assert p.check(p.answer).ok and p.answer not in p.mistakes and not p.check(None).ok
    for wrong in p.mistakes:
        assert "rule: mhp_supports_memmap_on_memory()" in repr(p.check(wrong))


def test_selfhosted_pages_covers_the_interesting_cases() -> None:
    answers = {generate("selfhosted-pages", s).answer for s in range(80)}
    assert {0, 512}.issubset(answers) and answers - {0, 512}      # 1024 (s390x) or 32 (ppc64 force) too


@pytest.mark.parametrize(("kernel", "size", "expected"), [
    ("5.13", 128 * MiB, 512), ("6.1", 128 * MiB, 512), ("6.12", 128 * MiB, 512),
    ("5.13", 1 * GiB, 0), ("6.1", 1 * GiB, 0), ("6.12", 1 * GiB, 512)])
def test_the_single_block_rule_before_6_8(kernel: str, size: int, expected: int) -> None:
    m = hotplug_vm(kernel)
    blocks = m.dimm_add(size, 1).blocks
    assert {m.blocks[b].vmemmap_pages for b in blocks} == {expected}


def test_force_is_a_6_6_word() -> None:
    for kernel, read in (("5.13", "N"), ("6.1", "N"), ("6.12", "force")):
        assert hotplug_vm(kernel, mode="force").params.memmap_on_memory == read
    m = hotplug_vm("6.12", "ppc64-radix-64k", "force")
    assert m.blocks[m.dimm_add(256 * MiB, 1).blocks[0]].vmemmap_pages == 32
