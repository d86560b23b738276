"""Problems on struct vmem_altmap: what altmap_alloc_block_buf() hands out (chapter 04)."""
from __future__ import annotations

from ..arch import get_arch
from ..memremap import VmemAltmap
from . import Problem, register, rng

__all__ = ["altmap_alloc", "altmap_handouts", "altmap_by_hand", "hex_digits_mistake"]


def altmap_handouts(base_pfn: int, reserve: int, free: int, sizes: list[int],
                    page_size: int = 4096) -> tuple[VmemAltmap, list[int | None]]:
    """A fresh altmap and the first pfn of each ``altmap_alloc_block_buf(size)`` call (None: exhausted)."""
    altmap = VmemAltmap(base_pfn=base_pfn, reserve=reserve, free=free)
    return altmap, [altmap.alloc_block_buf(size, page_size) for size in sizes]


def hex_digits_mistake(pfn: int) -> dict[int, str]:
    """The pfn's hex digits typed as a decimal number (``100200`` for 0x100200), when they are all digits."""
    written = f"{pfn:x}"
    if written.isdigit() and int(written) != pfn:
        return {int(written): f"that is the pfn's hex digits read as a decimal number; write it as 0x{written}"}
    return {}


def altmap_by_hand(base: int, reserve: int, free: int, calls: list[int]) -> tuple[int | None, list[str]]:
    """The last call's pfn worked out the way chapter 04 does it on paper, with one step per call."""
    alloc = align = 0
    steps = [f"start: next pfn = base_pfn + reserve = {base:#x} + {reserve} = {base + reserve:#x}; "
             f"alloc = align = 0"]
    got: int | None = None
    for n in calls:
        nxt = base + reserve + alloc + align
        low = n & -n
        pad = -nxt % low
        if n + pad > free - alloc - align:
            return None, steps + [f"{n} pfn(s) + {pad} padding do not fit in the {free - alloc - align} free "
                                  "pfn(s) left: NULL"]
        got = nxt + pad
        steps.append(f"{n} pfn(s): next pfn {nxt:#x}, aligned up to a multiple of {low} (lowest set bit of {n})"
                     f" -> {got:#x} (padding {pad}); alloc += {n}, align += {pad}")
        alloc += n
        align += pad
    return got, steps + [f"the last call returns {got:#x}"]


@register("altmap-alloc", difficulty=2, chapter="04")
def altmap_alloc(seed: int, exam: bool = False) -> Problem:
    """Which pfn does the last of a few altmap_alloc_block_buf() calls return?"""
    r = rng(seed, "altmap-alloc", exam)
    a = get_arch("x86_64")
    while True:
        if exam:    # any base pfn and reserve, two to four calls of mixed sizes: a wide answer space
            base = 0x100000 + r.randrange(0, 0x40000)
            reserve = r.choice([0, r.randrange(1, 64), r.randrange(64, 1024)])
            calls = [r.choice([1, 2, 8, 64, 512, 512]) for _ in range(r.choice([2, 3, 4]))]
            free = r.choice([1024, 1536, 2048, 4096])
        else:
            base = r.choice([0x100000, 0x140000, 0x208000, 0x100010, 0x1c0004])
            reserve = r.choice([0, 0, 2, 16, 64, 513])
            calls = r.choice([[512], [512, 512], [1, 512], [512, 1, 512], [8, 8, 512], [1, 1, 1]])
            free = r.choice([512, 1024, 1536, 2048])
        sizes = [n * a.page_size for n in calls]
        altmap, got = altmap_handouts(base, reserve, free, sizes, a.page_size)
        if all(p is not None for p in got):
            break
    answer = got[-1]
    hand, steps = altmap_by_hand(base, reserve, free, calls)
    _, no_reserve = altmap_handouts(base, 0, free + reserve, sizes, a.page_size)
    no_align = base + reserve + sum(calls[:-1])
    # the first rule a wrong answer breaks wins a collision (setdefault); ->reserve only matters when set
    mistakes: dict[int, str] = {}
    mistakes.setdefault(no_align, "that ignores the alignment: each block starts on a multiple of its own size "
                                  "(the lowest set bit of nr_pfns), and the skipped pfns count in ->align")
    if reserve:
        mistakes.setdefault(no_reserve[-1], "that ignores ->reserve: allocation starts at base_pfn + reserve")
        mistakes.setdefault(base + sum(calls[:-1]), "that ignores both ->reserve and the alignment")
    mistakes.setdefault(answer + calls[-1], "that is one past the end of the last block; the call returns its "
                                            "first pfn")
    mistakes.setdefault(base + reserve + sum(n * a.page_size >> 10 for n in calls[:-1]),
                        "that adds the sizes in KiB; the altmap counts pfns of 4 KiB (2048 KiB = 512 pfns)")
    for wrong, why in hex_digits_mistake(answer).items():
        mistakes.setdefault(wrong, why)
    if len(calls) > 1:
        mistakes.setdefault(got[0], "that is what the FIRST call returns; the question asks for the last")
    mistakes.pop(answer, None)
    shown = ", ".join(f"{n * a.page_size >> 10} KiB" for n in calls)
    return Problem(
        "altmap-alloc", seed,
        {"arch": a.name, "base_pfn": f"{base:#x}", "reserve": reserve, "free": free,
         "altmap_alloc_block_buf() calls, in order": shown},
        "Which pfn does the LAST call return? (an int; 0x... literals are fine)",
        answer,
        f"returns {', '.join(f'{p:#x}' for p in got)}; afterwards alloc={altmap.alloc}, align={altmap.align}, "
        f"nr_free={altmap.nr_free()}",
        rule="altmap_alloc_block_buf(): pfn = base_pfn + reserve + alloc + align, rounded up to a multiple of "
             "the lowest set bit of nr_pfns; alloc += nr_pfns, align += the padding (mm/sparse-vmemmap.c)",
        mistakes=mistakes, derivation=["sizes in pfns (4 KiB each): " + ", ".join(map(str, calls))] + steps,
        answer_format="hex", by_hand=hand == answer, exam=exam)
