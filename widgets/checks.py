"""Check cells: say whether an exercise answer is right and, if not, which rule it breaks.

A chapter's check cell calls one ``check_*`` function on the learner's ``answer``;
the result prints as one or two plain lines, so stored outputs stay deterministic.
"""
from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from numbers import Real

from widgets.units import format_bytes
from workbook.arch import GiB, KiB, MiB, get_arch
from workbook.problems import Verdict
from workbook.problems.answers import NOT_A_NUMBER, parse_int

__all__ = ["CheckResult", "check_memmap_bytes", "check_number"]


# The verdict type is the model's own (workbook.problems.Verdict): one class for generated
# and fixed exercises, printed as "right: ..." or "not yet: ..." plus the broken rule.
CheckResult = Verdict


def check_number(answer: object, expected: int, *, rule: str,
                 mistakes: Mapping[int, str] | None = None) -> CheckResult:
    """Compare a whole-number ``answer`` with ``expected``; name a known mistake when it matches one.

    A string in decimal or hex (``"0x100042"``, ``"1_048_642"``) counts as the number it writes.
    """
    known = dict(mistakes or {})
    if answer is None:
        return CheckResult(False, "not answered yet: replace None with a number", rule, known)
    value = parse_int(answer)
    if value is NOT_A_NUMBER or (not isinstance(answer, (Real, str))):
        return CheckResult(False, f"{answer!r} is not a whole number", rule, known)
    if value == expected:
        return CheckResult(True, f"{value:,}", mistakes=known)
    hint = known.get(value, "that is not it")
    return CheckResult(False, f"{value:,}: {hint}", rule, known)


def _ratio(part: int, whole: int) -> str:
    """``64, 65536`` -> ``"64/65,536 = 1/1,024"``: a share as written and in lowest terms."""
    f = Fraction(part, whole)
    return f"{part}/{whole:,} = {f.numerator:,}/{f.denominator:,}"


def check_memmap_bytes(answer: object, size: int = 1 * GiB, arch: str = "x86_64") -> CheckResult:
    """Check "how many bytes of memmap describe ``size`` bytes of memory on ``arch``?"."""
    profile = get_arch(arch)
    nr_pages = size // profile.page_size
    expected = profile.memmap_bytes(nr_pages)
    rule = (f"memmap bytes = (size / PAGE_SIZE) x sizeof(struct page) = "
            f"({format_bytes(size)} / {format_bytes(profile.page_size)}) x {profile.struct_page_size} B")
    mistakes = {
        nr_pages: "that is the number of pages; each page needs one struct page",
        profile.memmap_pages(nr_pages): "that is the memmap in pages; the question asks for bytes",
        size * profile.struct_page_size: "that multiplies bytes, not pages, by sizeof(struct page)",
    }
    if profile.page_size != 4 * KiB:
        # The 1/64 rule belongs to 4 KiB pages (64 / 4,096); with bigger pages one struct page
        # describes more memory, so the share is sizeof(struct page) / PAGE_SIZE.
        four_k = size * profile.struct_page_size // (4 * KiB)
        sp, page = profile.struct_page_size, format_bytes(profile.page_size)
        share = (f"that is {_ratio(sp, 4 * KiB)} of {format_bytes(size)}, the rule for 4 KiB pages; "
                 f"with {page} pages one {sp}-byte struct page describes {page}, so the memmap is "
                 f"{_ratio(sp, profile.page_size)} of the memory")
        mistakes[four_k] = share
        if four_k % MiB == 0:                 # "192" for 192 MiB; it may also be a count read another way
            in_mib = four_k // MiB
            mistakes[in_mib] = (f"{mistakes[in_mib]}; read as MiB, {share}" if in_mib in mistakes
                                else f"{share} (and answer in bytes, not MiB)")
    mistakes.setdefault(size // profile.struct_page_size,
                        "that divides by sizeof(struct page); it multiplies the page count")
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if expected % unit == 0:
            mistakes.setdefault(expected // unit, f"that is the size in {name}; answer in bytes")
    mistakes.pop(expected, None)
    return check_number(answer, expected, rule=rule, mistakes=mistakes)
