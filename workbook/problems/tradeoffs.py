"""Problems on what memmap-on-memory costs: gigantic pages over the memmap heads (chapter 11)."""
from __future__ import annotations

from ..arch import GiB, MiB
from ..hugetlb import gigantic_windows as _windows
from ..machine import Machine
from . import Problem, register, rng

__all__ = ["GIGANTIC_RULE", "gigantic_machine", "gigantic_windows", "gigantic_pages", "huge_pages_by_hand"]

GIGANTIC_RULE = ("a 1 GiB gigantic page is allocated with GFP_HIGHUSER (hugepage_movable_supported() is false for "
                 "gigantic pages), so ZONE_MOVABLE is never tried; in a kernel zone it needs a naturally aligned "
                 "1 GiB range whose every pfn alloc_contig_range() can take, and the self-hosted memmap at the head "
                 "of each block is PageReserved (<= 6.10) or unmovable (6.11+): every aligned GiB that holds a "
                 "block head is lost")
HUGE_RULE = ("a huge page needs a naturally aligned range whose every pfn the allocator can take: the self-hosted "
             "memmap at the head of each block is never free; a 1 GiB gigantic page also never comes from "
             "ZONE_MOVABLE (GFP_HIGHUSER), a 2 MiB page may")
#: What every gigantic-pages question assumes: no program and none of the kernel's own pages on node 1.
_NOTHING_ELSE = ("nothing allocated on node 1: assume the kernel put none of its own pages there either, where "
                 "real runs put 0 to 27")
#: The wrong answer of a learner who, like chapter 08, takes a GiB out for the kernel's own page.
_OWN_PAGE = ("if you took a GiB out for the kernel's own page on node 1 (chapter 08's slab page at 0x100400): this "
             "question assumes the kernel put none there")
_MOVABLE = ("ZONE_MOVABLE: gigantic pages are allocated with GFP_HIGHUSER (hugepage_movable_supported() is false "
            "for them), so alloc_contig_pages() never tries this zone")


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
    """For each aligned ``page``-sized window of ``[start, start + size)``: can a huge page come from it?"""
    return [ok for ok, _ in _windows(m, start, size, page)]


def gigantic_pages(kernel: str, block_size: int, dimm_size: int, memmap_on_memory: str = "1",
                   online: str = "online_movable") -> int:
    """How many 1 GiB gigantic pages fit in the DIMM's range (nothing else running)."""
    m = gigantic_machine(kernel, block_size, dimm_size, memmap_on_memory, online)
    return sum(gigantic_windows(m, 4 * GiB, dimm_size))


def huge_pages_by_hand(kernel: str, block: int, size: int, memmap_on_memory: str, online: str = "online_kernel",
                       page: int = 1 * GiB) -> tuple[int, list[str]]:
    """Huge pages of ``page`` bytes that fit in a DIMM at 4 GiB by chapter 11's rule, with the steps."""
    total = size // page
    steps = [f"the DIMM holds {total} naturally aligned {page >> 20} MiB range(s)"]
    if page >= GiB and online == "online_movable":
        return 0, steps + [f"{_MOVABLE}: 0"]
    own = memmap_on_memory == "1" and (kernel != "6.1" or size == block)
    if not own:
        why = ("memmap_on_memory is off" if memmap_on_memory != "1"
               else f"{kernel} self-hosts the memmap only for a one-block add")
        return total, steps + [f"{why}: no memmap in the DIMM, every range is free: {total}"]
    head = block // 64           # bytes of memmap at the start of each block (64-byte struct page, 4 KiB pages)
    lost = {w for k in range(size // block) for w in range((k * block) // page, (k * block + head - 1) // page + 1)}
    steps.append(f"{size // block} block(s) of {block >> 20} MiB, each starting with {head >> 20} MiB of its own "
                 "memmap that the allocator cannot take")
    steps.append(f"{page >> 20} MiB ranges holding a block head: {len(lost)}; free ones: {total - len(lost)}")
    return total - len(lost), steps


def _gigantic_mistakes(kernel: str, block: int, size: int, mom: str, online: str, total: int) -> dict[object, str]:
    """Wrong answers to a gigantic-pages question that name a misunderstood rule, each with that rule."""
    mistakes: dict[object, str] = {
        total: "that ignores the memmap at the head of each block: alloc_contig_range() cannot take it",
        0: "a 1 GiB window with no block head in it is free for a gigantic page",
        total // 2: "that is right only for 2 GiB blocks: the memmap sits in the lower GiB of each block",
        total * 512: "that counts 2 MiB huge pages; a gigantic page is 1 GiB",
    }
    if size > block and block < GiB and total > 1:
        mistakes[total - 1] = ("that puts a memmap only at the head of the DIMM's first block, as if the add had one "
                               "altmap; 6.8+ give every block its own, and 6.1 self-hosts none of a multi-block add")
    if online == "online_movable":
        kernel_zone = gigantic_pages(kernel, block, size, mom, "online_kernel")
        why = ("gigantic pages never come from ZONE_MOVABLE: htlb_alloc_mask() is GFP_HIGHUSER for them "
               "(hugepage_movable_supported() is false), whatever the memmap does")
        for wrong in {total, total // 2, kernel_zone, total - 1}:
            mistakes[wrong] = why + (" (that is what online_kernel blocks would give)" if wrong == kernel_zone else "")
    elif kernel == "6.1" and size > block and mom == "1":
        trap = ("Linux 6.1 refuses memmap_on_memory for a multi-block add (size must equal the block size until "
                "6.8): this DIMM's memmap came from node 0, so nothing of it sits in the DIMM")
        mistakes[0] = mistakes[total // 2] = trap
        if total > 1:
            mistakes[total - 1] = trap
    elif mom == "0":
        mistakes[0] = "memmap_on_memory is off: the memmap is in node 0's memory, not in the DIMM"
    return mistakes


@register("gigantic-pages", difficulty=2, chapter="11")
def gigantic_pages_problem(seed: int, exam: bool = False) -> Problem:
    """How many 1 GiB hugetlb pages can be allocated on a freshly hot-added DIMM?"""
    if exam:
        return _huge_pages_exam(seed)
    r = rng(seed, "gigantic-pages")
    kernel = r.choice(["6.1", "6.12", "6.12"])
    block = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB])
    size = max(block, r.choice([1, 2, 4]) * GiB)
    mom = r.choice(["1", "1", "0"])
    online = r.choice(["online_kernel", "online_kernel", "online_movable"])
    answer = gigantic_pages(kernel, block, size, mom, online)
    hand, steps = huge_pages_by_hand(kernel, block, size, mom, online)
    total = size // GiB
    mistakes = _gigantic_mistakes(kernel, block, size, mom, online, total)
    mistakes.pop(answer, None)
    if online == "online_kernel" and answer >= 1:
        mistakes[answer - 1] = f"{mistakes[answer - 1]}; or, {_OWN_PAGE}" if answer - 1 in mistakes else _OWN_PAGE
    why = ("ZONE_MOVABLE never gives a gigantic page" if online == "online_movable"
           else f"{answer} of the DIMM's {total} aligned GiB ranges hold no memmap")
    return Problem(
        "gigantic-pages", seed,
        {"kernel": kernel,
         "machine": f"x86_64, memhp_default_state={online}",
         "memory_hotplug.memmap_on_memory": mom,
         "memory block size (MiB)": block >> 20,
         "DIMM size (GiB)": size >> 30,
         "hot-add": f"one DIMM at 0x100000000 on node 1 (every block {online}; {_NOTHING_ELSE})"},
        "How many 1 GiB gigantic pages (echo N > .../node1/hugepages/hugepages-1048576kB/nr_hugepages) "
        "can alloc_contig_pages() find in the DIMM?",
        answer,
        f"{answer}: {why}",
        rule=GIGANTIC_RULE,
        mistakes=mistakes, derivation=steps, by_hand=hand == answer)


def _huge_pages_exam(seed: int) -> Problem:
    """The exam variant: 2 MiB or 1 GiB hugetlb pages on a DIMM of 1 to 16 GiB, kernel or movable zone."""
    r = rng(seed, "gigantic-pages", True)
    kernel = r.choice(["6.1", "6.12", "6.12"])
    block = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB])
    size = block * r.randrange(1, 16 * GiB // block + 1)     # a whole number of blocks, up to 16 GiB
    mom = r.choice(["1", "1", "1", "0"])
    page = r.choice([2 * MiB, 2 * MiB, 1 * GiB]) if size % GiB == 0 else 2 * MiB
    online = r.choice(["online_kernel", "online_kernel", "online_movable"])
    m = gigantic_machine(kernel, block, size, mom, online)
    answer = sum(gigantic_windows(m, 4 * GiB, size, page))
    hand, steps = huge_pages_by_hand(kernel, block, size, mom, online, page)
    name = "1048576kB" if page == GiB else "2048kB"
    mistakes = {size // page: "that ignores the memmap at the head of each block"} if answer != size // page else {}
    if page >= GiB and online == "online_movable" and size // page:
        mistakes[size // page] = "gigantic pages never come from ZONE_MOVABLE (GFP_HIGHUSER)"
    return Problem(
        "gigantic-pages", seed,
        {"kernel": kernel, "machine": f"x86_64, memhp_default_state={online}",
         "memory_hotplug.memmap_on_memory": mom, "memory block size (MiB)": block >> 20,
         "DIMM size (MiB)": size >> 20,
         "hot-add": f"one DIMM at 0x100000000 on node 1 (every block {online}; {_NOTHING_ELSE})"},
        f"How many {page >> 20} MiB hugetlb pages (echo N > .../node1/hugepages/hugepages-{name}/nr_hugepages) "
        "can the kernel allocate in the DIMM?",
        answer, f"{answer} of the DIMM's {size // page} aligned {page >> 20} MiB ranges can hold one",
        rule=HUGE_RULE, mistakes=mistakes, derivation=steps, by_hand=hand == answer, exam=True)
