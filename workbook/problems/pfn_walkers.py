"""Problems on pfn walkers: which pfns of a hot-added block each walker visits, per kernel (chapter 08)."""
from __future__ import annotations

import gzip

import numpy as np

from ..arch import MiB
from ..captures import capture_dir
from ..machine import Machine
from ..walkers import REASONS, WALKERS, walk
from . import Problem, register, rng

__all__ = ["WALKER_RULES", "walker_machine", "walker_counts", "walker_visits", "visits_by_hand", "walker_mistakes",
           "captured_kpageflags"]

#: One line per walker: what the kernel function skips (the rule a wrong answer breaks).
WALKER_RULES = {
    "generic": "a generic pfn walker (page_owner's pagetypeinfo_showmixedcount_print(), ...) takes "
               "pfn_to_online_page() and skips PageReserved pages; the self-hosted memmap is PageReserved up to "
               "6.10, not from 6.11 (the model's 6.12)",
    "hotplug": "offline_pages()' walkers (scan_movable_pages(), start_isolate_page_range()) start at "
               "buddy_start_pfn = start_pfn + nr_vmemmap_pages: they never see the memmap pages",
    "compaction-migrate": "isolate_migratepages_block() takes only LRU or __PageMovable pages; free pages and "
                          "the memmap (not LRU, not movable) are passed over",
    "compaction-free": "isolate_freepages_block() takes only PageBuddy pages as migration targets",
    "alloc-contig": "pfn_range_valid_contig() rejects offline, PageReserved and PageHuge pfns; on 6.12 the memmap "
                    "passes that test but cannot be isolated or migrated (refcount 1, not LRU, not movable)",
}

_STATE_KEY, _STRESS_KEY = "memory32 state", "stress on node 1 (MiB of anonymous memory)"
#: The seeded variants' states: a movable block always runs a workload (without one the compaction scanners'
#: answers are the bare rules: 0 and the buddy part).
_DRAWN_SCENARIOS = ("offline",) + ("online_movable + stress", "online_kernel") * 3


def _worked_in_chapter(walker: str, scenario: str) -> bool:
    """Whether chapter 08 works this variant out above its seeded exercise (so its answer could be copied).

    The chapter walks an ``online_movable`` memory32 with the generic and hotplug walkers (6.1 and 6.12; 5.13
    marks the memmap as 6.1 does, and a workload does not change what they visit), says a gigantic page
    never comes from ``ZONE_MOVABLE``, which would make alloc-contig on an ``online_movable`` block a question
    about its caller, not the walker, and counts alloc-contig over kernel-zone blocks whose first holds the
    kernel's own slab page (memory32's buddy part less those 2 pfns). Its compaction run uses a 64 MiB
    workload, which the variants never draw.
    """
    if walker == "alloc-contig":
        return scenario != "offline"
    return scenario.startswith("online_movable") and walker in ("generic", "hotplug")


def walker_machine(kernel: str, scenario: str = "online_movable", stress_bytes: int = 0,
                   block_size: int = 128 * MiB) -> Machine:
    """The chapter's VM (memmap_on_memory=1) with one DIMM of one block on node 1 (the first hot-added block).

    With the default 128 MiB blocks that block is memory32; ``block_size`` changes both.
    """
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                block_size=None if block_size == 128 * MiB else block_size)
    bid = m.dimm_add(block_size, 1, "dimm1").blocks[0]
    if scenario != "offline":
        m.write(f"/sys/devices/system/memory/memory{bid}/state", scenario.split(" ")[0])
    if stress_bytes:
        m.start_workload(1, stress_bytes)
    return m


def walker_counts(kernel: str, walker: str, scenario: str = "online_movable", stress_bytes: int = 0,
                  block_size: int = 128 * MiB) -> dict[str, int]:
    """What ``walker`` does with each pfn of the hot-added block: {reason: pfns} (``"visited"`` first)."""
    m = walker_machine(kernel, scenario, stress_bytes, block_size)
    b = m.blocks[min(bid for bid, blk in m.blocks.items() if not blk.boot)]
    return walk(m, walker, b.start_pfn, b.nr_pages).counts()


def visits_by_hand(kernel: str, walker: str, scenario: str, nr: int,
                   stress_pages: int = 0) -> tuple[int | None, list[str]]:
    """Pfns a walker visits in one hot-added block of ``nr`` pfns by chapter 08's rules (None: needs the model).

    ``stress_pages``: the pages of an anonymous workload running in an ``online_movable`` block.
    """
    v = nr // 64
    steps = [f"the block: {nr:,} pfns, its first {v:,} (1/64) hold its own memmap"]
    if scenario == "offline":
        return 0, steps + ["the block is offline: pfn_to_online_page() is NULL for every pfn: 0"]
    if walker == "hotplug":
        return nr - v, steps + [f"offline_pages()' walkers start at buddy_start_pfn: {nr:,} - {v:,} = {nr - v:,}"]
    if walker == "generic":
        if kernel == "6.12":
            return nr, steps + ["6.12: the memmap is not PageReserved, so a generic walker keeps every pfn: "
                                f"{nr:,}"]
        return nr - v, steps + [f"{kernel}: the memmap pages are PageReserved and skipped: {nr - v:,}"]
    if scenario.startswith("online_movable") and stress_pages and walker.startswith("compaction"):
        steps.append(f"the workload's {stress_pages:,} anonymous pages are on LRU lists, the rest after the memmap "
                     "is free")
        if walker == "compaction-migrate":
            return stress_pages, steps + [f"the migrate scanner takes the LRU pages: {stress_pages:,}"]
        free = nr - v - stress_pages
        return free, steps + [f"the free scanner takes the free pages: {nr - v:,} - {stress_pages:,} = {free:,}"]
    if scenario != "online_movable":
        return None, steps + ["which pages the kernel's own allocations or the workload take needs the model"]
    if walker == "compaction-migrate":
        return 0, steps + ["nothing runs: no page is LRU or movable: 0"]
    if walker == "compaction-free":
        return nr - v, steps + [f"every pfn after the memmap is free (PageBuddy): {nr - v:,}"]
    return nr - v, steps + ["alloc-contig takes every free pfn; the memmap is "
                            + ("PageReserved" if kernel != "6.12" else "not movable") + f": {nr - v:,}"]


def walker_visits(kernel: str, walker: str, scenario: str = "online_movable", stress_bytes: int = 0) -> int:
    """How many pfns of memory32 ``walker`` visits (looks at and keeps) on ``kernel``."""
    return walker_counts(kernel, walker, scenario, stress_bytes).get(REASONS[0], 0)


def captured_kpageflags(series: str, scenario: str, step: str) -> tuple[int, np.ndarray]:
    """(first pfn, one /proc/kpageflags word per pfn) of the range a captured step dumped."""
    folder = capture_dir(series, scenario) / step
    start, count = (int(v) for v in (folder / "kpf_range").read_text().split())
    words = np.frombuffer(gzip.open(folder / "range.kpageflags.gz").read(), dtype="<u8")[:count]
    return start, words


def walker_mistakes(walker: str, counts: dict[str, int], nr: int, v: int, stress_pages: int = 0) -> dict[int, str]:
    """What a wrong number of visited pfns shows was misunderstood, from what the walker did with each pfn.

    ``counts`` is :meth:`WalkResult.counts` of the block (``nr`` pfns, ``v`` of them memmap);
    ``stress_pages`` the pages of an anonymous workload running in it.
    """
    answer = counts.get(REASONS[0], 0)
    mistakes: dict[int, str] = {
        nr: "that is every pfn of the block; the walker passes some of them over",
        nr - v: f"that is the buddy part of the block (all pfns minus the {v} memmap pages)",
        v: "that is the number of self-hosted memmap pages",
        0: "the block's sections are online, so pfn_to_online_page() returns its pages",
    }
    skipped = {r: c for r, c in counts.items() if r != REASONS[0]}
    for reason, c in skipped.items():
        mistakes.setdefault(c, f"that is how many pfns it passes over ({reason}); the question asks for the ones "
                               "it visits")
        mistakes.setdefault(answer + c, f"that also counts the {c:,} pfns it passes over ({reason})")
    if stress_pages:
        if walker in ("generic", "hotplug"):
            what = ("every pfn with an online struct page that is not PageReserved" if walker == "generic"
                    else "every pfn from buddy_start_pfn on")
            mistakes.setdefault(stress_pages, f"that counts only the stress program's pages; the {walker} walker "
                                              f"visits {what}, free or in use")
            mistakes.setdefault(answer - stress_pages, f"that leaves out the stress program's pages; the {walker} "
                                                       "walker visits pages in use as well as free ones")
        elif walker == "compaction-free":
            mistakes.setdefault(stress_pages, "those are the stress program's pages, in use; the free scanner takes "
                                              "only free (PageBuddy) pages")
            mistakes.setdefault(answer - stress_pages, "that takes the stress program's pages away twice: the free "
                                                       "pages are the buddy part minus its pages, once")
            mistakes.setdefault(answer + v, f"that forgets the {v} memmap pages: they are not free either")
        elif walker == "alloc-contig":
            mistakes.setdefault(answer - stress_pages, "that leaves out the stress program's pages; they are movable, "
                                                       "so alloc_contig_range() can migrate them away: they count")
            mistakes.setdefault(stress_pages, "that counts only the stress program's pages; free pages can be taken "
                                              "as they are")
        elif walker == "compaction-migrate":
            mistakes.setdefault(nr - v - stress_pages, "those are the free pages; the migrate scanner takes only LRU "
                                                       "or movable pages (the stress program's)")
    mistakes.pop(answer, None)
    return mistakes


@register("walker-visits", difficulty=2, by_hand="some", chapter="08")
def walker_visits_problem(seed: int, exam: bool = False) -> Problem:
    """How many pfns of a hot-added 128 MiB block does one pfn walker visit, on one kernel, in one state?"""
    if exam:
        return _walker_exam(seed)
    r = rng(seed, "walker-visits")
    while True:                          # deterministic: the draws depend on the seed only
        kernel = r.choice(["5.13", "6.1", "6.12"])
        walker = r.choice(sorted(WALKERS))
        # an offline block answers 0 for every walker: drawn less often, so that 0 does not dominate
        scenario = r.choice(_DRAWN_SCENARIOS)
        if not _worked_in_chapter(walker, scenario):
            break
    stress = r.choice([16, 32, 48]) * MiB if scenario.endswith("stress") else 0
    counts = walker_counts(kernel, walker, scenario, stress)
    answer = counts.get(REASONS[0], 0)
    hand, steps = visits_by_hand(kernel, walker, scenario, 32768, stress >> 12)
    nr, v = 32768, 512
    mistakes: dict[object, str] = {}
    if scenario == "offline":
        mistakes[nr - v] = "the block is offline: pfn_to_online_page() is NULL for every pfn, memmap included"
        mistakes[nr] = "the block is offline: its sections are not online, so no pfn is visited"
    own = nr - v - answer if scenario == "online_kernel" and walker in ("alloc-contig", "compaction-free") else 0
    if own > 0:
        mistakes[nr - v] = (
            "that is the whole buddy part; memory32 is node 1's first kernel-zone memory, so the kernel took pages of "
            "its own there (a learner's Machine: one order-1 slab page, 2 pfns" + (
                f", plus {own - 2} pfns its allocation left on CPU 1's per-cpu list, not PageBuddy" if own > 2 else "")
            + "), and the walker passes them over")
    for other in ("5.13", "6.1", "6.12"):
        if other != kernel:
            theirs = walker_visits(other, walker, scenario, stress)
            if theirs != answer:
                mistakes.setdefault(theirs, f"that is what Linux {other} gives; on {kernel} the memmap pages are "
                                            + ("PageReserved" if kernel != "6.12" else "no longer PageReserved"))
    mistakes.update({k: m for k, m in walker_mistakes(walker, counts, nr, v, stress >> 12).items()
                     if k not in mistakes})
    mistakes.pop(answer, None)
    return Problem(
        "walker-visits", seed,
        {"kernel": kernel, "machine": "x86_64, memory_hotplug.memmap_on_memory=1, 128 MiB blocks",
         "hot-add": "one 128 MiB DIMM on node 1 -> memory32 (pfns 0x100000-0x107fff)",
         _STATE_KEY: scenario.split(" ")[0], _STRESS_KEY: stress >> 20, "walker": walker},
        f"How many of memory32's 32768 pfns does the {walker} walker visit (look at and keep)?",
        answer,
        "per pfn: " + ", ".join(f"{k} {n}" for k, n in counts.items()),
        rule=WALKER_RULES[walker],
        mistakes=mistakes, derivation=steps, by_hand=hand == answer)


def _walker_exam(seed: int) -> Problem:
    """The exam variant: any block size, and only states whose answer follows from the rules."""
    r = rng(seed, "walker-visits", True)
    while True:
        kernel = r.choice(["5.13", "6.1", "6.12"])
        walker = r.choice(sorted(WALKERS))
        scenario = r.choice(["offline", "online_movable", "online_movable", "online_kernel"])
        block = r.choice([128, 256, 512, 1024, 2048]) * MiB
        nr = block // 4096
        hand, steps = visits_by_hand(kernel, walker, scenario, nr)
        if hand is None or (hand == 0 and r.random() > 0.2):
            continue
        answer = walker_counts(kernel, walker, scenario, 0, block).get(REASONS[0], 0)
        if answer == hand:
            break
    m = walker_machine(kernel, "offline", 0, block)
    b = m.blocks[min(bid for bid, blk in m.blocks.items() if not blk.boot)]
    return Problem(
        "walker-visits", seed,
        {"kernel": kernel, "machine": f"x86_64, memory_hotplug.memmap_on_memory=1, {block >> 20} MiB blocks",
         "hot-add": f"one {block >> 20} MiB DIMM on node 1 -> memory{b.id} (pfns {b.start_pfn:#x}-{b.end_pfn - 1:#x})",
         f"memory{b.id} state": scenario, "walker": walker, "load": "nothing runs"},
        f"How many of memory{b.id}'s {nr} pfns does the {walker} walker visit (look at and keep)?",
        answer, f"{walker} keeps {answer} of {nr} pfns", rule=WALKER_RULES[walker],
        mistakes={nr: "that is every pfn of the block; the walker passes some of them over",
                  nr - nr // 64: "that is the buddy part of the block (all pfns minus the memmap)",
                  nr // 64: "that is the number of self-hosted memmap pages"} if answer not in
        (nr, nr - nr // 64, nr // 64) else {}, derivation=steps, exam=True)
