"""Problems on memmap sizes and whether memmap-on-memory is allowed (chapters 01, 05)."""
from __future__ import annotations

from ..arch import ARCHES, GiB, MiB
from ..machine import Machine, NodeSpec
from ..memory_hotplug import memmap_on_memory_refusal, memory_block_memmap_on_memory_pages
from . import Problem, register, rng


@register("memmap-size")
def memmap_size(seed: int) -> Problem:
    """How many pages of memmap does a hot-added range need on a random architecture?"""
    r = rng(seed, "memmap-size")
    arch = ARCHES[r.choice(["x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "s390x"])]
    size = r.choice([128 * MiB, 512 * MiB, 1 * GiB, 2 * GiB, 12 * GiB, 64 * GiB])
    nr = size >> arch.page_shift
    ans = arch.memmap_pages(nr)
    return Problem("memmap-size", seed, {"arch": arch.name, "page_size": arch.page_size,
                                         "sizeof(struct page)": arch.struct_page_size, "hot-added bytes": size},
                   f"How many {arch.page_size}-byte pages of memmap describe {size >> 20} MiB of hot-added memory?",
                   ans, f"{nr} pages x {arch.struct_page_size} B = {arch.memmap_bytes(nr)} B = {ans} pages",
                   rule="memmap pages = PFN_UP(nr_pages * sizeof(struct page))",
                   mistakes={nr: "that is the number of pages described, not the pages of memmap",
                             arch.memmap_bytes(nr): "that is the memmap in bytes; the question asks for pages"})


@register("memmap-on-memory-allowed")
def memmap_on_memory_allowed(seed: int) -> Problem:
    """Does mhp_supports_memmap_on_memory() accept this architecture, block size and kernel?"""
    r = rng(seed, "memmap-on-memory-allowed")
    arch = r.choice(["x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "ppc64-radix-64k", "s390x"])
    kernel = r.choice(["6.1", "6.12"])
    mode = r.choice(["1", "force"]) if kernel == "6.12" else "1"
    a = ARCHES[arch]
    block = r.choice([a.section_size, a.section_size * 2, a.section_size * 4])
    m = Machine(kernel, arch, [NodeSpec(0, [0], GiB)], cmdline=f"memory_hotplug.memmap_on_memory={mode}",
                block_size=block)
    refusal = memmap_on_memory_refusal(m)
    pages = memory_block_memmap_on_memory_pages(m)
    return Problem("memmap-on-memory-allowed", seed,
                   {"arch": arch, "kernel": kernel, "memmap_on_memory": mode, "block size": block},
                   "Will the memmap of each hot-added memory block live on the block itself? (True/False)",
                   refusal is None,
                   f"vmemmap pages per block: {pages}; " + ("allowed" if refusal is None else f"refused: {refusal}"),
                   rule="mhp_supports_memmap_on_memory(): whole pages, whole pageblocks, PMD alignment, "
                        "not the whole block")
