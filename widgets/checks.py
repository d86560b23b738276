"""Check cells: say whether an exercise answer is right and, if not, which rule it breaks.

A chapter's check cell calls one ``check_*`` function on the learner's ``answer``;
the result prints as one or two plain lines, so stored outputs stay deterministic.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Real

from widgets.units import format_bytes
from workbook.arch import GiB, KiB, MiB, get_arch

__all__ = ["CheckResult", "check_memmap_bytes", "check_number"]


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check cell: ``ok``, what was seen, and the rule that was broken."""

    ok: bool
    message: str
    rule: str = ""

    def __bool__(self) -> bool:
        """True when the answer is right."""
        return self.ok

    def __repr__(self) -> str:
        """``right: ...`` or ``not yet: ...`` followed by the rule on its own line."""
        head = f"{'right' if self.ok else 'not yet'}: {self.message}"
        return head if self.ok or not self.rule else f"{head}\nrule: {self.rule}"


def check_number(answer: object, expected: int, *, rule: str,
                 mistakes: Mapping[int, str] | None = None) -> CheckResult:
    """Compare a whole-number ``answer`` with ``expected``; name a known mistake when it matches one."""
    if answer is None:
        return CheckResult(False, "no answer yet: replace None with a number", rule)
    if isinstance(answer, bool) or not isinstance(answer, Real) or answer != int(answer):
        return CheckResult(False, f"{answer!r} is not a whole number", rule)
    value = int(answer)
    if value == expected:
        return CheckResult(True, f"{value:,}")
    hint = (mistakes or {}).get(value, "that is not it")
    return CheckResult(False, f"{value:,}: {hint}", rule)


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
        size // profile.struct_page_size: "that divides by sizeof(struct page); it multiplies the page count",
    }
    for unit, name in ((MiB, "MiB"), (KiB, "KiB")):
        if expected % unit == 0:
            mistakes.setdefault(expected // unit, f"that is the size in {name}; answer in bytes")
    mistakes.pop(expected, None)
    return check_number(answer, expected, rule=rule, mistakes=mistakes)
