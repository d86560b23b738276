"""Answers collected as text are marked like the Python values they write (issue 16)."""
from __future__ import annotations

import numpy as np
import pytest

from widgets.checks import check_number
from widgets.checks_ch01 import check_pfn
from widgets.checks_ch06 import check_online_zone
from workbook.problems import Problem, generate
from workbook.problems.answers import NOT_A_NUMBER, format_answer, normalize, parse_int


@pytest.mark.parametrize(("text", "number"), [
    ("1048642", 1048642), ("0x100042", 0x100042), ("0X100042", 0x100042), (" 0x100042 ", 0x100042),
    ("1_048_642", 1048642), ("1,048,642", 1048642), ("-22", -22), (np.int64(7), 7), (3.0, 3), (12, 12),
])
def test_whole_numbers_in_any_usual_writing(text: object, number: int) -> None:
    assert parse_int(text) == number


@pytest.mark.parametrize("text", ["16 MiB", "0x", "1,04,8642", "1.5", 1.5, True, False, None, "ten", [1]])
def test_what_is_no_whole_number(text: object) -> None:
    assert parse_int(text) is NOT_A_NUMBER


def _p(answer: object, mistakes: dict | None = None, fmt: str = "") -> Problem:
    return Problem("x", 1, {}, "q?", answer, "because", rule="the rule", mistakes=mistakes or {}, answer_format=fmt)


def test_hex_and_decimal_strings_for_a_pfn() -> None:
    p = _p(0x100042, {0x100000: "that ignores ->reserve"}, "hex")
    for written in (0x100042, "0x100042", "1048642", "1_048_642"):
        assert p.check(written).ok, written
    assert repr(p.check("0x100042")) == "right: 0x100042 (1048642) (written '0x100042')"
    assert repr(p.check(0x100042)) == "right: 0x100042 (1048642)"
    wrong = p.check("0x100000")                      # a known mistake, written in hex, is still named
    assert not wrong.ok and "ignores ->reserve" in repr(wrong)
    assert not p.check(True).ok and not p.check("0x100043").ok


@pytest.mark.parametrize(("answer", "written", "ok"), [
    (False, "False", True), (False, "false", True), (False, " no ", True), (True, "True", True),
    (True, "yes", True), (True, "False", False), (False, "maybe", False),
])
def test_true_false_words(answer: bool, written: str, ok: bool) -> None:
    assert _p(answer).check(written).ok is ok


@pytest.mark.parametrize(("answer", "written", "ok"), [
    ("Normal", "ZONE_NORMAL", True), ("Normal", "normal", True), ("Movable", "ZONE_MOVABLE", True),
    ("Movable", "zone_movable ", True), ("Normal", "ZONE_MOVABLE", False), ("DMA32", "zone_dma32", True),
])
def test_zone_names_with_or_without_zone_prefix(answer: str, written: str, ok: bool) -> None:
    assert _p(answer).check(written).ok is ok


@pytest.mark.parametrize(("answer", "written", "ok"), [
    ("EBUSY", "-EBUSY", True), ("EBUSY", "ebusy", True), ("EBUSY", 16, True), ("EBUSY", "-16", True),
    ("EINVAL", "EBUSY", False), ("ok", "OK", True), ("ok", 0, True), ("ok", "EBUSY", False),
    ("memory33", 33, True), ("memory33", "33", True), ("memory33", "Memory33", True), ("memory33", 34, False),
    ("deleted", "Deleted", True),
])
def test_errno_and_block_names(answer: str, written: object, ok: bool) -> None:
    assert _p(answer).check(written).ok is ok


def test_tuples_from_lists_or_text() -> None:
    p = _p(("ok", "EBUSY", "ok"))
    assert p.check("ok, ebusy, OK").ok and p.check(["ok", "-EBUSY", "ok"]).ok and p.check("ok EBUSY ok").ok
    assert not p.check("ok, ok, ok").ok and not p.check("ok, EBUSY").ok
    zones = _p(("Normal", "Movable"))
    assert zones.check("ZONE_NORMAL, ZONE_MOVABLE").ok and not zones.check("Movable, Normal").ok


def test_normalize_leaves_unknown_shapes_alone() -> None:
    assert normalize({"a": 1}, 3) == {"a": 1}
    assert normalize("words", 3) == "words"
    assert format_answer(0x100042, "hex") == "0x100042 (1048642)" and format_answer(7) == "7"


def test_check_number_takes_hex_strings_and_keeps_its_mistake_table() -> None:
    result = check_number("0x40", 64, rule="r", mistakes={32: "half"})
    assert result.ok and result.mistakes == {32: "half"}
    assert "half" in repr(check_number("0x20", 64, rule="r", mistakes={32: "half"}))
    assert check_pfn("0x7ffff", addr=0x7FFFF123).ok


def test_fixed_zone_check_takes_zone_prefix() -> None:
    assert check_online_zone("ZONE_NORMAL", kernel="6.12", first="online_movable").ok


def test_generated_problems_accept_their_answer_key_text() -> None:
    """What the answer key prints, typed back in, is right, for every generator (default and exam)."""
    from workbook.problems import GENERATORS, _load_all

    _load_all()
    for name in sorted(GENERATORS):
        for exam in (False, True):
            p = generate(name, 3, exam=exam)
            typed = p.answer_text.split(" (")[0] if p.answer_format == "hex" else p.answer_text
            assert p.check(typed).ok, (name, exam, typed)
            assert p.check(str(p.answer)).ok, (name, exam, p.answer)
