"""Problems on what memmap-on-memory costs: gigantic pages over the memmap heads (chapter 11)."""
from __future__ import annotations

import numpy as np

from ..arch import GiB, MiB
from ..machine import Machine
from ..walkers import walk
from . import Problem, register, rng

__all__ = ["GIGANTIC_RULE", "gigantic_machine", "gigantic_windows", "gigantic_pages"]

GIGANTIC_RULE = ("a 1 GiB gigantic page needs a naturally aligned 1 GiB range whose every pfn alloc_contig_range() "
                 "can take: the self-hosted memmap at the head of each block is PageReserved (<= 6.1) or "
                 "unmovable (6.12), so every aligned GiB that holds a block head is lost")


def gigantic_machine(kernel: str, block_size: int, dimm_size: int, memmap_on_memory: str = "1") -> Machine:
    """A VM with ``block_size`` blocks and one DIMM of ``dimm_size`` at 4 GiB on node 1, every block online_movable."""
    m = Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={memmap_on_memory} "
                                "memhp_default_state=online_movable",
                block_size=block_size, maxmem_bytes=40 * GiB)
    m.dimm_add(dimm_size, 1, "dimm1", addr=4 * GiB)
    return m


def gigantic_windows(m: Machine, start: int, size: int, page: int = 1 * GiB) -> list[bool]:
    """For each aligned ``page``-sized window of ``[start, start + size)``: can alloc_contig_range() take all of it?"""
    a = m.arch
    res = walk(m, "alloc-contig", a.pfn(start), size >> a.page_shift)
    per = page >> a.page_shift
    ok = res.visited.reshape(-1, per) if len(res.visited) % per == 0 else None
    if ok is None:
        return []
    return [bool(x) for x in np.all(ok, axis=1)]


def gigantic_pages(kernel: str, block_size: int, dimm_size: int, memmap_on_memory: str = "1") -> int:
    """How many 1 GiB gigantic pages fit in the DIMM's range (nothing else running)."""
    m = gigantic_machine(kernel, block_size, dimm_size, memmap_on_memory)
    return sum(gigantic_windows(m, 4 * GiB, dimm_size))


@register("gigantic-pages")
def gigantic_pages_problem(seed: int) -> Problem:
    """How many 1 GiB hugetlb pages can be allocated on a freshly hot-added, online_movable DIMM?"""
    r = rng(seed, "gigantic-pages")
    kernel = r.choice(["6.1", "6.12", "6.12"])
    block = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB])
    size = max(block, r.choice([1, 2, 4]) * GiB)
    mom = r.choice(["1", "1", "0"])
    answer = gigantic_pages(kernel, block, size, mom)
    total = size // GiB
    mistakes: dict[object, str] = {
        total: "that ignores the memmap at the head of each block: alloc_contig_range() cannot take it",
        0: "a 1 GiB window with no block head in it is free for a gigantic page",
        total // 2: "that is right only for 2 GiB blocks: the memmap sits in the lower GiB of each block",
    }
    if kernel == "6.1" and size > block:
        mistakes[0] = ("Linux 6.1 refuses memmap_on_memory for a multi-block add: this DIMM's memmap came from "
                       "node 0, so nothing of it sits in the DIMM")
    if mom == "0":
        mistakes[0] = "memmap_on_memory is off: the memmap is in node 0's memory, not in the DIMM"
    mistakes.pop(answer, None)
    return Problem(
        "gigantic-pages", seed,
        {"kernel": kernel,
         "machine": "x86_64, memhp_default_state=online_movable",
         "memory_hotplug.memmap_on_memory": mom,
         "memory block size (MiB)": block >> 20,
         "DIMM size (GiB)": size >> 30,
         "hot-add": "one DIMM at 0x100000000 on node 1 (every block online_movable, nothing runs)"},
        "How many 1 GiB gigantic pages (echo N > .../node1/hugepages/hugepages-1048576kB/nr_hugepages) "
        "can alloc_contig_pages() find in the DIMM?",
        answer,
        f"{answer} of the DIMM's {total} aligned GiB ranges hold no memmap",
        rule=GIGANTIC_RULE,
        mistakes=mistakes)
