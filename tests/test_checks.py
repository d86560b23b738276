"""Check-cell helpers: right answers, named mistakes, and the rule they print."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from widgets.checks import CheckResult, check_memmap_bytes, check_number
from workbook.arch import ARCHES, GiB, KiB, MiB, get_arch

RULE = "memmap bytes = (size / PAGE_SIZE) x sizeof(struct page) = (1 GiB / 4 KiB) x 64 B"


def test_right_answer() -> None:
    result = check_memmap_bytes(16 * MiB)
    assert result.ok and bool(result)
    assert repr(result) == "right: 16,777,216"


def test_whole_float_is_accepted() -> None:
    assert check_memmap_bytes(2**30 / 4096 * 64).ok


@pytest.mark.parametrize(("answer", "hint"), [
    (262_144, "that is the number of pages; each page needs one struct page"),
    (4096, "that is the memmap in pages; the question asks for bytes"),
    (16, "that is the size in MiB; answer in bytes"),
    (16_384, "that is the size in KiB; answer in bytes"),
    (64 * GiB, "that multiplies bytes, not pages, by sizeof(struct page)"),
    (12345, "that is not it"),
])
def test_mistakes_name_the_rule(answer: int, hint: str) -> None:
    result = check_memmap_bytes(answer)
    assert not result.ok
    assert repr(result) == f"not yet: {answer:,}: {hint}\nrule: {RULE}"


@pytest.mark.parametrize(("answer", "message"), [
    (None, "not answered yet: replace None with a number"),
    ("16 MiB", "'16 MiB' is not a whole number"),
    (1.5, "1.5 is not a whole number"),
    (True, "True is not a whole number"),
])
def test_unusable_answers(answer: object, message: str) -> None:
    assert check_memmap_bytes(answer) == CheckResult(False, message, RULE)


def test_other_arch_and_size() -> None:
    result = check_memmap_bytes(512 * KiB, size=512 * MiB, arch="arm64-64k")
    assert result.ok
    assert "(512 MiB / 64 KiB) x 64 B" in check_memmap_bytes(0, size=512 * MiB, arch="arm64-64k").rule


RULE_1_3 = "memmap bytes = (size / PAGE_SIZE) x sizeof(struct page) = (12 GiB / 64 KiB) x 64 B"
FOUR_K_RULE = ("that is 64/4,096 = 1/64 of 12 GiB, the rule for 4 KiB pages; with 64 KiB pages one 64-byte "
               "struct page describes 64 KiB, so the memmap is 64/65,536 = 1/1,024 of the memory")


@pytest.mark.parametrize(("answer", "hint"), [
    (192 * MiB, FOUR_K_RULE),                                        # the 1/64 rule of chapter 01's 4 KiB pages
    (192, "that is the memmap in pages; the question asks for bytes; read as MiB, " + FOUR_K_RULE),
    (12, "that is the size in MiB; answer in bytes"),
    (196_608, "that is the number of pages; each page needs one struct page"),
])
def test_exercise_1_3_names_the_4k_rule(answer: int, hint: str) -> None:
    """Exercise 1.3 (12 GiB, arm64 with 64 KiB pages): 192 MiB is 1/64, the 4 KiB share, not a division slip."""
    assert check_memmap_bytes(12 * MiB, size=12 * GiB, arch="arm64-64k").ok
    result = check_memmap_bytes(answer, size=12 * GiB, arch="arm64-64k")
    assert repr(result) == f"not yet: {answer:,}: {hint}\nrule: {RULE_1_3}"


@given(name=st.sampled_from([n for n, a in sorted(ARCHES.items()) if a.page_size != 4 * KiB]),
       blocks=st.integers(min_value=1, max_value=4096))
def test_the_4k_share_is_named_on_every_bigger_page(name: str, blocks: int) -> None:
    arch = get_arch(name)
    size = blocks * arch.section_size
    result = check_memmap_bytes(size // 64, size=size, arch=name)
    assert not result.ok and "the rule for 4 KiB pages" in result.message
    assert f"{arch.struct_page_size}/{arch.page_size:,}" in result.message


def test_check_number_without_mistakes() -> None:
    assert repr(check_number(3, 4, rule="r")) == "not yet: 3: that is not it\nrule: r"


@given(name=st.sampled_from(sorted(ARCHES)), blocks=st.integers(min_value=1, max_value=4096))
def test_model_answer_is_always_right_and_never_a_mistake(name: str, blocks: int) -> None:
    arch = get_arch(name)
    size = blocks * arch.section_size
    expected = arch.memmap_bytes(size // arch.page_size)
    assert check_memmap_bytes(expected, size=size, arch=name).ok
    assert not check_memmap_bytes(expected + 1, size=size, arch=name).ok
