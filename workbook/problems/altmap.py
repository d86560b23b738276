"""Problems on struct vmem_altmap: what altmap_alloc_block_buf() hands out (chapter 04)."""
from __future__ import annotations

from ..arch import get_arch
from ..memremap import VmemAltmap
from . import Problem, register, rng

__all__ = ["altmap_alloc", "altmap_handouts"]


def altmap_handouts(base_pfn: int, reserve: int, free: int, sizes: list[int],
                    page_size: int = 4096) -> tuple[VmemAltmap, list[int | None]]:
    """A fresh altmap and the first pfn of each ``altmap_alloc_block_buf(size)`` call (None: exhausted)."""
    altmap = VmemAltmap(base_pfn=base_pfn, reserve=reserve, free=free)
    return altmap, [altmap.alloc_block_buf(size, page_size) for size in sizes]


@register("altmap-alloc")
def altmap_alloc(seed: int) -> Problem:
    """Which pfn does the last of a few altmap_alloc_block_buf() calls return?"""
    r = rng(seed, "altmap-alloc")
    a = get_arch("x86_64")
    while True:
        base = r.choice([0x100000, 0x140000, 0x208000, 0x100010, 0x1c0004])
        reserve = r.choice([0, 0, 2, 16, 64, 513])
        calls = r.choice([[512], [512, 512], [1, 512], [512, 1, 512], [8, 8, 512], [1, 1, 1]])
        free = r.choice([512, 1024, 1536, 2048])
        sizes = [n * a.page_size for n in calls]
        altmap, got = altmap_handouts(base, reserve, free, sizes, a.page_size)
        if all(p is not None for p in got):
            break
    answer = got[-1]
    _, no_reserve = altmap_handouts(base, 0, free + reserve, sizes, a.page_size)
    no_align = base + reserve + sum(calls[:-1])
    mistakes = {
        no_align: "that ignores the alignment: each block starts on a multiple of its own size "
                  "(the lowest set bit of nr_pfns), and the skipped pfns count in ->align",
        no_reserve[-1]: "that ignores ->reserve: allocation starts at base_pfn + reserve",
        base + sum(calls[:-1]): "that ignores both ->reserve and the alignment",
        answer + calls[-1]: "that is one past the end of the last block; the call returns its first pfn",
    }
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
        mistakes=mistakes)
