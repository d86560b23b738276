"""Problems on what memmap-on-memory costs: gigantic pages over the memmap heads (chapter 11)."""
from __future__ import annotations

from ..arch import GiB, MiB
from ..hugetlb import gigantic_windows as _windows
from ..machine import Machine
from . import Problem, register, rng

__all__ = ["GIGANTIC_RULE", "gigantic_machine", "gigantic_windows", "gigantic_pages"]

GIGANTIC_RULE = ("a 1 GiB gigantic page is allocated with GFP_HIGHUSER (hugepage_movable_supported() is false for "
                 "gigantic pages), so ZONE_MOVABLE is never tried; in a kernel zone it needs a naturally aligned "
                 "1 GiB range whose every pfn alloc_contig_range() can take, and the self-hosted memmap at the head "
                 "of each block is PageReserved (<= 6.10) or unmovable (6.11+): every aligned GiB that holds a "
                 "block head is lost")


def gigantic_machine(kernel: str, block_size: int, dimm_size: int, memmap_on_memory: str = "1",
                     online: str = "online_movable") -> Machine:
    """A VM with ``block_size`` blocks and one DIMM of ``dimm_size`` at 4 GiB on node 1, every block ``online``.

    Nothing else allocates on node 1 (``kernel_own_pages="none"``), so only the memmap matters.
    """
    m = Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={memmap_on_memory} "
                                f"memhp_default_state={online}",
                block_size=block_size, maxmem_bytes=40 * GiB, kernel_own_pages="none")
    m.dimm_add(dimm_size, 1, "dimm1", addr=4 * GiB)
    return m


def gigantic_windows(m: Machine, start: int, size: int, page: int = 1 * GiB) -> list[bool]:
    """For each aligned ``page``-sized window of ``[start, start + size)``: can a gigantic page come from it?"""
    return [ok for ok, _ in _windows(m, start, size, page)]


def gigantic_pages(kernel: str, block_size: int, dimm_size: int, memmap_on_memory: str = "1",
                   online: str = "online_movable") -> int:
    """How many 1 GiB gigantic pages fit in the DIMM's range (nothing else running)."""
    m = gigantic_machine(kernel, block_size, dimm_size, memmap_on_memory, online)
    return sum(gigantic_windows(m, 4 * GiB, dimm_size))


@register("gigantic-pages")
def gigantic_pages_problem(seed: int) -> Problem:
    """How many 1 GiB hugetlb pages can be allocated on a freshly hot-added DIMM?"""
    r = rng(seed, "gigantic-pages")
    kernel = r.choice(["6.1", "6.12", "6.12"])
    block = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB])
    size = max(block, r.choice([1, 2, 4]) * GiB)
    mom = r.choice(["1", "1", "0"])
    online = r.choice(["online_kernel", "online_kernel", "online_movable"])
    answer = gigantic_pages(kernel, block, size, mom, online)
    total = size // GiB
    mistakes: dict[object, str] = {
        total: "that ignores the memmap at the head of each block: alloc_contig_range() cannot take it",
        0: "a 1 GiB window with no block head in it is free for a gigantic page",
        total // 2: "that is right only for 2 GiB blocks: the memmap sits in the lower GiB of each block",
    }
    if online == "online_movable":
        mistakes[total] = ("gigantic pages never come from ZONE_MOVABLE: htlb_alloc_mask() is GFP_HIGHUSER for them, "
                           "so alloc_contig_pages() stops below it, whatever the memmap does")
        mistakes[total // 2] = mistakes[total]
    elif kernel == "6.1" and size > block and mom == "1":
        mistakes[0] = ("Linux 6.1 refuses memmap_on_memory for a multi-block add: this DIMM's memmap came from "
                       "node 0, so nothing of it sits in the DIMM")
    elif mom == "0":
        mistakes[0] = "memmap_on_memory is off: the memmap is in node 0's memory, not in the DIMM"
    mistakes.pop(answer, None)
    why = ("ZONE_MOVABLE is never used for gigantic pages" if online == "online_movable"
           else f"{answer} of the DIMM's {total} aligned GiB ranges hold no memmap")
    return Problem(
        "gigantic-pages", seed,
        {"kernel": kernel,
         "machine": f"x86_64, memhp_default_state={online}",
         "memory_hotplug.memmap_on_memory": mom,
         "memory block size (MiB)": block >> 20,
         "DIMM size (GiB)": size >> 30,
         "hot-add": f"one DIMM at 0x100000000 on node 1 (every block {online}, nothing allocated on node 1)"},
        "How many 1 GiB gigantic pages (echo N > .../node1/hugepages/hugepages-1048576kB/nr_hugepages) "
        "can alloc_contig_pages() find in the DIMM?",
        answer,
        f"{answer}: {why}",
        rule=GIGANTIC_RULE,
        mistakes=mistakes)
