"""The virtual memory map: struct page addresses, PMD mappings, who pays for a new memmap (chapters 01, 03).

With ``CONFIG_SPARSEMEM_VMEMMAP`` the memmap is one virtually contiguous array of
``struct page`` starting at ``vmemmap``, so ``pfn_to_page()`` is array indexing
(include/asm-generic/memory_model.h)::

    #define __pfn_to_page(pfn)   (vmemmap + (pfn))
    #define __page_to_pfn(page)  (unsigned long)((page) - vmemmap)

Only the parts of the array that describe present sections are mapped; x86 maps them
with PMD-sized (2 MiB) pages (arch/x86/mm/init_64.c ``vmemmap_populate_hugepages()``).
The helpers below give the addresses and mapping counts the chapters print; the
``memmap-source`` problem runs a :class:`~workbook.machine.Machine` to see which node
pays for the memmap of a hot-add.
"""
from __future__ import annotations

from ..arch import GiB, MiB
from ..machine import Machine, NodeSpec
from ..memory_hotplug import memmap_on_memory_refusal
from . import Problem, register, rng

__all__ = ["VMEMMAP_BASE", "vmemmap_base", "pfn_to_page", "page_to_pfn", "vmemmap_range", "vmemmap_pmds",
           "node_memfree_pages", "vmstat_value", "memmap_source_machine", "memmap_source_by_hand",
           "memmap_source_mistakes"]

# the address arithmetic lives in the model (include/asm-generic/memory_model.h)
from ..memory_model import (VMEMMAP_BASE, page_to_pfn, pfn_to_page, vmemmap_base,  # noqa: E402,F401
                            vmemmap_pmds, vmemmap_range)


def node_memfree_pages(m: Machine, nid: int) -> int:
    """``MemFree`` of ``/sys/devices/system/node/node<nid>/meminfo``, in pages."""
    for line in m.read(f"/sys/devices/system/node/node{nid}/meminfo").splitlines():
        fields = line.split()
        if fields[2] == "MemFree:":
            return int(fields[3]) * 1024 // m.arch.page_size
    raise ValueError(f"node{nid}/meminfo has no MemFree line")


def vmstat_value(m: Machine, name: str) -> int:
    """One counter of ``/proc/vmstat`` (KeyError if this kernel does not print it, e.g. nr_memmap_pages before 6.11)."""
    for line in m.read("/proc/vmstat").splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    raise KeyError(f"{m.kernel.label} has no {name} in /proc/vmstat")


def memmap_source_machine(kernel: str, memmap_on_memory: str, node1_bytes: int) -> Machine:
    """The chapter-03 VM: node 0 with 1 GiB and CPU 0, node 1 with CPU 1 and ``node1_bytes`` of boot memory."""
    return Machine(kernel, "x86_64", [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], node1_bytes)],
                   cmdline=f"memory_hotplug.memmap_on_memory={memmap_on_memory} memhp_default_state=offline")


def memmap_source_by_hand(kernel: str, memmap_on_memory: str, node1_bytes: int, size: int,
                          block: int = 128 * MiB) -> tuple[int, list[str]]:
    """Node 0's MemFree drop in pages, by the rules of chapter 03 (independent of the machine), with the steps."""
    memmap = size // 4096 * 64 // 4096
    steps = [f"the memmap of {size >> 20} MiB: {size >> 12:,} pages x 64 B = {memmap:,} pages of 4 KiB"]
    if memmap_on_memory != "1":
        steps.append("memmap_on_memory is off: the memmap is allocated from existing memory")
    elif kernel == "6.1" and size != block:
        steps.append(f"6.1 puts the memmap on the new memory only for a one-block add; this add is "
                     f"{size // block} blocks: it comes from existing memory")
    else:
        return 0, steps + ["memmap_on_memory accepts the add: the memmap sits on the hot-added range; node 0 "
                           "pays nothing"]
    if node1_bytes:
        return 0, steps + ["node 1 has memory of its own: the memmap comes from node 1; node 0 pays nothing"]
    return memmap, steps + [f"node 1 has no memory: the allocation falls back to node 0, which pays {memmap:,} "
                            "pages"]


def memmap_source_mistakes(m: Machine, size: int, drop: int, nid: int = 1) -> dict[int, str]:
    """The wrong answers to "by how many pages does node 0's MemFree drop at this hot-add?", and what each misread.

    ``m`` is the machine *before* the add of ``size`` bytes to node ``nid``; ``drop`` is the right
    answer (never a key).  Shared by the seeded ``memmap-source`` problem and chapter 03's fixed
    check, so both name the same rule, the 6.1 multi-block trap among them.
    """
    a = m.arch
    nr = size >> a.page_shift
    memmap = a.memmap_pages(nr)
    blocks = max(size // m.block_size, 1)
    refusal = memmap_on_memory_refusal(m, size)
    one_block_ok = memmap_on_memory_refusal(m, m.block_size) is None
    own = m.nodes[nid].has_memory()
    k = m.kernel
    mistakes: dict[int, str] = {}
    if drop:
        if refusal is not None and one_block_ok and blocks > 1:
            mistakes[0] = (f"memmap_on_memory is on, but {k.label} puts the memmap on the new memory only for a "
                           f"one-block add (mhp_supports_memmap_on_memory(size): size == "
                           f"memory_block_size_bytes()), and this DIMM is {blocks} blocks: ACPI does not pass "
                           "MHP_MEMMAP_ON_MEMORY, so the memmap comes from node 0 as if the option were off")
        elif refusal is not None:
            mistakes[0] = (f"the memmap cannot live on the new memory here ({refusal}), and node {nid} has no "
                           "memory of its own: the allocation falls back to node 0")
        if blocks > 1:
            mistakes[memmap // blocks] = (f"that is the memmap of one {m.block_size >> 20} MiB block; node 0 pays "
                                          f"for all {blocks} blocks of the DIMM")
    else:
        if refusal is None:
            where = ("each block's at that block's own start (one altmap per block since 6.8)"
                     if k.altmap_per_block and blocks > 1 else "in the block's first pfns")
            mistakes[memmap] = (f"{memmap:,} pages is the memmap, but memmap_on_memory accepted this add: it lives "
                                f"on the hot-added memory itself, {where}; node 0 pays nothing")
        elif own:
            mistakes[memmap] = (f"{memmap:,} pages is the memmap, but node {nid} has memory of its own: "
                                f"alloc_pages_node({nid}) finds it there, so node 0 pays nothing")
    mistakes.setdefault(memmap * a.page_size // 1024, "that is the memmap in kB (MemFree's unit); the question "
                                                       "asks for pages")
    mistakes.setdefault(a.memmap_bytes(nr), "that is the memmap in bytes; the question asks for pages")
    mistakes.setdefault(a.memmap_bytes(nr) >> 20, "that is the memmap in MiB; the question asks for pages")
    mistakes.setdefault(a.memmap_bytes(nr) // a.pmd_size, f"that is the number of {a.pmd_size >> 20} MiB PMDs "
                                                            f"of memmap; each is {a.pmd_size // a.page_size} pages")
    mistakes.setdefault(nr, "that is the number of pages hot-added, not the pages of memmap describing them")
    mistakes.pop(drop, None)
    return mistakes


@register("memmap-source", difficulty=2, chapter="03")
def memmap_source(seed: int, exam: bool = False) -> Problem:
    """How many pages of node 0's free memory does a hot-add to node 1 take, before any onlining?"""
    r = rng(seed, "memmap-source", exam)
    kernel = r.choice(["6.1", "6.12"])
    if exam:        # any whole number of blocks up to 3 GiB, and few free rides: a wide answer space
        while True:
            mom = r.choice(["0", "1"])
            node1 = r.choice([0, 0, 512 * MiB])
            size = r.randrange(1, 25) * 128 * MiB
            if memmap_source_by_hand(kernel, mom, node1, size)[0] or r.random() < 0.2:
                break
    else:
        mom = r.choice(["0", "1"])
        node1 = r.choice([0, 0, 512 * MiB])
        size = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB])
    m = memmap_source_machine(kernel, mom, node1)
    before = node_memfree_pages(m, 0)
    refusal = memmap_on_memory_refusal(m, size)
    result = m.dimm_add(size, 1)
    if result.error is not None:        # pragma: no cover - every choice above fits in node 0
        raise RuntimeError(f"memmap-source seed {seed}: {result.error}")
    drop = before - node_memfree_pages(m, 0)
    # what a wrong answer misread depends on the machine before the add: a fresh one of the same kind
    mistakes = memmap_source_mistakes(memmap_source_machine(kernel, mom, node1), size, drop)
    a = m.arch
    memmap = a.memmap_pages(size >> a.page_shift)
    if refusal is None:
        where = "lives on the hot-added memory itself (memmap_on_memory)"
    elif node1:
        where = "comes from node 1, which has memory of its own"
    else:
        where = "comes from node 0: node 1 has no memory, so the allocation falls back along node 1's zonelist"
    why = f"memmap_on_memory refused: {refusal}" if refusal else "memmap_on_memory accepted the add"
    hand, steps = memmap_source_by_hand(kernel, mom, node1, size, m.block_size)
    return Problem(
        "memmap-source", seed,
        {"kernel": kernel, "memory_hotplug.memmap_on_memory": mom, "node 0 boot memory": "1 GiB",
         "node 1 boot memory": f"{node1 >> 20} MiB", "hot-added to node 1": f"{size >> 20} MiB",
         "memhp_default_state": "offline"},
        "By how many pages does node 0's MemFree drop when the DIMM is hot-added (before anything is onlined)?",
        drop,
        f"the memmap is {memmap} pages; {why}; it {where}: node 0 loses {drop} pages",
        rule="sparse_add_section() populates the memmap at hot-add: from the altmap when memmap_on_memory is "
             "used, else vmemmap_alloc_block() -> alloc_pages_node(nid) with fallback to other nodes",
        mistakes=mistakes, derivation=steps, by_hand=hand == drop, exam=exam)
