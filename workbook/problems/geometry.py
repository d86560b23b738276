"""Problems on memmap sizes and whether memmap-on-memory is allowed (chapters 01, 05)."""
from __future__ import annotations

from ..arch import ARCHES, GiB, MiB, ArchProfile
from ..machine import Machine, NodeSpec
from ..memory_hotplug import memmap_on_memory_refusal, memory_block_memmap_on_memory_pages
from . import Problem, register, rng

__all__ = ["memmap_size", "memmap_on_memory_allowed", "allowed_by_hand"]


def _size(n: int) -> str:
    return f"{n >> 30} GiB" if n % GiB == 0 else f"{n >> 20} MiB"


def _memmap_size_mistakes(arch: ArchProfile, size: int, answer: int) -> dict[int, str]:
    """Wrong answers to "how many pages of memmap describe ``size`` bytes?" and what each misread."""
    nr = size >> arch.page_shift
    nbytes = arch.memmap_bytes(nr)
    page = arch.page_size
    mistakes = {nr: "that is the number of pages described, not the pages of memmap",
                nbytes: "that is the memmap in bytes; the question asks for pages"}
    for unit, name in ((1 << 10, "KiB"), (1 << 20, "MiB")):
        if nbytes % unit == 0:
            mistakes.setdefault(nbytes // unit, f"that is the memmap in {name}; the question asks for pages of "
                                                f"{page} bytes")
    if page != 4096:
        mistakes.setdefault(nr // 64, f"that is the 1/64 rule, which holds for 4 KiB pages only: with {page}-byte "
                                      f"pages the memmap is 64/{page} of the memory")
        mistakes.setdefault(nbytes // 4096, f"that counts the memmap in 4 KiB pages; this build's pages are "
                                            f"{page} bytes")
    mistakes.setdefault(size // 64, "that is 1/64 of the hot-added bytes; count the struct pages "
                                    "(one per page described), then the pages they fill")
    if nbytes % page:
        mistakes.setdefault(nbytes // page, "that rounds down; the memmap needs whole pages, PFN_UP() rounds up")
    mistakes.pop(answer, None)
    return mistakes


@register("memmap-size", difficulty=1, chapter="01")
def memmap_size(seed: int, exam: bool = False) -> Problem:
    """How many pages of memmap does a hot-added range need on a random architecture?"""
    r = rng(seed, "memmap-size", exam)
    arch = ARCHES[r.choice(["x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "s390x"])]
    if exam:        # any whole number of 128 MiB up to 64 GiB: a wide answer space
        size = r.randrange(1, 513) * 128 * MiB
    else:
        size = r.choice([128 * MiB, 512 * MiB, 1 * GiB, 2 * GiB, 12 * GiB, 64 * GiB])
    nr = size >> arch.page_shift
    ans = arch.memmap_pages(nr)
    nbytes = arch.memmap_bytes(nr)
    return Problem("memmap-size", seed, {"arch": arch.name, "page_size": arch.page_size,
                                         "sizeof(struct page)": arch.struct_page_size, "hot-added bytes": size},
                   f"How many {arch.page_size}-byte pages of memmap describe {size >> 20} MiB of hot-added memory?",
                   ans, f"{nr} pages x {arch.struct_page_size} B = {nbytes} B = {ans} pages",
                   rule="memmap pages = PFN_UP(nr_pages * sizeof(struct page))",
                   mistakes=_memmap_size_mistakes(arch, size, ans),
                   derivation=[f"pages described: {_size(size)} / {arch.page_size} B = {nr:,}",
                               f"memmap bytes: {nr:,} x {arch.struct_page_size} B = {nbytes:,}",
                               f"in pages, rounded up (PFN_UP): {nbytes:,} / {arch.page_size} = {ans:,}"
                               + ("" if nbytes % arch.page_size == 0 else " (rounded up)")],
                   exam=exam)


def allowed_by_hand(a: ArchProfile, kernel: str, mode: str, block: int) -> tuple[int, list[str]]:
    """The vmemmap pages per block by the rules chapter 05 teaches (0 if refused), with the steps that reach it.

    ``kernel`` is "5.13", "6.1" (the 5.13-6.5 rules) or a later one; ``mode`` the value the kernel
    read ("1" or "force").  Independent of the machine: a check of the model's
    mhp_supports_memmap_on_memory().
    """
    old = kernel in ("5.13", "6.1")
    pages = block // a.page_size
    memmap = pages * a.struct_page_size
    nr = -(-memmap // a.page_size)
    pb = a.pageblock_nr_pages
    steps = [f"one block: {_size(block)} / {a.page_size} B = {pages:,} pfns; memmap {pages:,} x "
             f"{a.struct_page_size} B = {memmap:,} B = {nr:,} page(s)"]
    enabled = a.name.startswith(("x86_64", "arm64")) or not old
    if not enabled:
        return 0, steps + [f"{a.name} selects ARCH_MHP_MEMMAP_ON_MEMORY_ENABLE only from 6.6: refused -> 0"]
    if old:
        if memmap % a.pmd_size:
            return 0, steps + [f"{kernel} needs the memmap to be a multiple of PMD_SIZE ({a.pmd_size:,} B): "
                               f"{memmap:,} is not -> refused, 0"]
        if (block - memmap) % (pb * a.page_size):
            return 0, steps + [f"{kernel} needs the rest of the block to be whole pageblocks: it is not -> 0"]
        return nr, steps + [f"PMD-aligned ({memmap // a.pmd_size} PMD(s)) and the rest is whole pageblocks: "
                            f"accepted, {nr:,} vmemmap pages"]
    if memmap % a.page_size:
        return 0, steps + ["the memmap is not a whole number of pages -> refused, 0"]
    if mode == "force":
        padded = -(-nr // pb) * pb
        if padded != nr:
            steps.append(f"force pads it to whole pageblocks of {pb} pages: {padded:,}")
        nr = padded
    elif nr % pb:
        return 0, steps + [f"{nr:,} is not a whole number of pageblocks ({pb} pages) and the mode is not force "
                           "-> refused, 0"]
    if nr == pages:
        return 0, steps + ["the memmap would fill the whole block -> refused, 0"]
    ppc64k = a.name.startswith("ppc64") and a.page_shift != 12
    if not ppc64k and memmap % a.pmd_size:
        return 0, steps + [f"arch_supports_memmap_on_memory(): {memmap:,} B is not a multiple of PMD_SIZE "
                           f"({a.pmd_size:,} B) -> refused, 0"]
    why = ("ppc64 with 64 KiB pages skips the PMD test" if ppc64k
           else f"a multiple of PMD_SIZE ({memmap // a.pmd_size} PMD(s))")
    return nr, steps + [f"whole pageblocks, {why}: accepted, {nr:,} vmemmap pages"]


_ALLOWED_ARCHES = ["x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "ppc64-radix-64k", "s390x"]


@register("memmap-on-memory-allowed", difficulty=2, chapter="05")
def memmap_on_memory_allowed(seed: int, exam: bool = False) -> Problem:
    """Does mhp_supports_memmap_on_memory() accept this architecture, block size and kernel?"""
    r = rng(seed, "memmap-on-memory-allowed", exam)
    while True:
        arch = r.choice(_ALLOWED_ARCHES)
        kernel = r.choice(["6.1", "6.12"])
        mode = r.choice(["1", "force"]) if kernel == "6.12" else "1"
        a = ARCHES[arch]
        factors = [1, 2, 4, 8, 16, 32] if exam else [1, 2, 4]
        block = r.choice([a.section_size * f for f in factors])
        m = Machine(kernel, arch, [NodeSpec(0, [0], GiB)], cmdline=f"memory_hotplug.memmap_on_memory={mode}",
                    block_size=block)
        refusal = memmap_on_memory_refusal(m)
        # an exam keeps one refusal in five: otherwise 0 would be the answer of half the class
        if not exam or refusal is None or r.random() < 0.2:
            break
    pages = memory_block_memmap_on_memory_pages(m)
    hand, steps = allowed_by_hand(a, kernel, mode, block)
    model = pages if refusal is None else 0
    params = {"arch": arch, "kernel": kernel, "memmap_on_memory": mode,
              "block size": f"{block:#x} ({_size(block)})" if exam else block}
    if exam:        # a number instead of True/False: a wider answer space
        return Problem("memmap-on-memory-allowed", seed, params,
                       "How many pages at the start of each hot-added memory block hold its own memmap? "
                       "(0 if mhp_supports_memmap_on_memory() refuses)",
                       model, f"vmemmap pages per block: {model}"
                       + ("" if refusal is None else f"; refused: {refusal}"),
                       rule="mhp_supports_memmap_on_memory(): whole pages, whole pageblocks (force pads), PMD "
                            "alignment (not ppc64 64K), not the whole block",
                       mistakes={pages: f"refused: {refusal}"} if refusal is not None and pages else {},
                       derivation=steps, by_hand=hand == model, exam=True)
    return Problem("memmap-on-memory-allowed", seed, params,
                   "Will the memmap of each hot-added memory block live on the block itself? (True/False)",
                   refusal is None,
                   f"vmemmap pages per block: {pages}; " + ("allowed" if refusal is None else f"refused: {refusal}"),
                   rule="mhp_supports_memmap_on_memory(): whole pages, whole pageblocks, PMD alignment, "
                        "not the whole block",
                   derivation=steps + [f"so: {refusal is None}"], by_hand=hand == model)
