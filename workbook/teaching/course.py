"""What a course needs to know about each chapter: time, learning outcomes, OS-course topics, points.

The instructor's guide (``docs/instructors-guide.md``, written by ``tools/instructors_guide.py``),
the graders (``grade``, ``nbgrader``) and ``student --only`` read this table.  Times are
estimates for a lab with the workbook open (reading, running every cell, answering every
exercise), from a lecturer's trial run and the chapters' length; they are not measured with a
class.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CHAPTERS", "ChapterPlan", "LEVELS", "OS_TOPICS", "exercise_points", "plan"]

#: The release levels of a course: the core path every student takes, then the rest.
LEVELS = {"core": "00-02", "intermediate": "03-06", "advanced": "07-12"}


@dataclass(frozen=True)
class ChapterPlan:
    """One chapter, as a teacher plans it."""

    key: str                         # "05"
    minutes_undergrad: int           # a lab for undergraduates who know C and virtual memory
    minutes_professional: int        # kernel or SRE engineers who know Linux
    level: str                       # "core", "intermediate", "advanced", "reference"
    topics: tuple[str, ...]          # where it sits in an operating-systems course
    outcomes: tuple[str, ...]        # assessable: "after the chapter a student can ..."


CHAPTERS: tuple[ChapterPlan, ...] = (
    ChapterPlan("00", 30, 15, "core", ("memory management overview", "cost of per-frame metadata"), (
        "compute the memmap size of any amount of memory from PAGE_SIZE and sizeof(struct page);",
        "use a check cell: replace `answer = None`, run the check, and act on the rule it names.")),
    ChapterPlan("01", 60, 30, "core", ("page frames", "physical addresses", "frame table (struct page)"), (
        "convert between a physical address and its pfn for 4, 16 and 64 KiB pages, in hex;",
        "compute the virtual address of a pfn's struct page from the vmemmap base;",
        "predict the memmap of a hot-add in bytes and in pages on any modelled architecture.")),
    ChapterPlan("02", 60, 30, "core", ("physical memory model (SPARSEMEM)", "memory sections", "sysfs"), (
        "derive x86_64's memory block size from the end of boot memory, on bare metal and in a VM;",
        "name the memoryN directory that holds a physical address, reading block_size_bytes as hex;",
        "tell a section (the kernel's unit) from a memory block (user space's unit).")),
    ChapterPlan("03", 50, 25, "intermediate", ("kernel virtual memory", "huge (PMD) mappings", "NUMA"), (
        "count the PMD mappings the vmemmap of a hot-add needs;",
        "predict which node pays for the memmap of a hot-add, with and without memmap-on-memory;",
        "explain why 'memory is needed to add memory'.")),
    ChapterPlan("04", 60, 35, "intermediate", ("allocators", "alignment"), (
        "trace altmap_alloc_block_buf() call by call: reserve, alignment padding, alloc and align;",
        "compute buddy_start_pfn = start_pfn + nr_vmemmap_pages for a hot-added block;",
        "state what the kernel keeps of the altmap after a hot-add, per kernel version.")),
    ChapterPlan("05", 110, 60, "intermediate", ("memory hotplug", "boot parameters", "kernel versions"), (
        "decide whether mhp_supports_memmap_on_memory() accepts an add, naming the rule that refuses it;",
        "predict how many pfns at a block's start hold its own memmap (force padding included);",
        "read the /proc/kpageflags word of a memmap pfn on 5.13, 6.1 and 6.12.")),
    ChapterPlan("06", 80, 45, "intermediate", ("zones", "buddy allocator", "NUMA node statistics"), (
        "predict present, managed and MemTotal after onlining a DIMM, and say why they differ;",
        "give the order of the first block online_pages_range() frees (alignment of buddy_start_pfn);",
        "predict the zone plain `online` picks under contig-zones, auto-movable and movable_node.")),
    ChapterPlan("07", 80, 45, "advanced", ("page migration", "offlining", "unmovable allocations"), (
        "predict the result of `echo offline` (ok, EBUSY, EINVAL) from the zone and what the block holds;",
        "explain why offline_pages() never needs to look at the memmap pfns;",
        "compute the start address of the 'memory offlining ... failed' log line.")),
    ChapterPlan("08", 75, 40, "advanced", ("pfn walkers", "compaction", "contiguous allocation"), (
        "predict how many pfns of a block each walker visits, per kernel;",
        "explain why pfn_to_online_page() returns pages for the memmap pfns once a block is online;",
        "name the kpageflags bits that mark a self-hosted memmap page per version.")),
    ChapterPlan("09", 70, 40, "advanced", ("device hot-remove", "resource lifetime"), (
        "predict whether a DIMM ejects, or which block 'Offline failed.' names;",
        "state why the memmap leaves with its block and what offlining leaves mapped;",
        "predict try_remove_memory()'s errno for a range across blocks, per kernel.")),
    ChapterPlan("10", 60, 35, "advanced", ("experimental method", "procfs", "NUMA tools"), (
        "read a hot-add off numactl -H, node meminfo, /proc/zoneinfo and /proc/vmstat;",
        "predict /proc/zoneinfo's spanned, present and managed after a sequence of adds and (off)lines;",
        "say what a model-against-kernel replay compares and what it cannot.")),
    ChapterPlan("11", 65, 40, "advanced", ("kernel evolution", "huge pages", "design trade-offs"), (
        "predict a multi-block DIMM's managed pages on each kernel: one block per add until 6.8, per-block altmaps "
        "after (6b8f0798b85a);",
        "count the gigantic pages a DIMM can still provide, for any block size and online type;",
        "compute what memmap_on_memory=force wastes per block.")),
    ChapterPlan("12", 60, 35, "advanced", ("device drivers and resources", "NUMA memory tiers"), (
        "trace Soft Reserved memory from the firmware map through dax_hmem and kmem to System RAM in /proc/iomem;",
        "predict what writing the dax device's memmap_on_memory attribute returns (ok, EBUSY, EINVAL, EOPNOTSUPP);",
        "compute the managed pages of a kmem device with and without memmap_on_memory;",
        "predict what unbinding kmem leaves behind when some of its blocks cannot go offline.")),
    ChapterPlan("99", 0, 0, "reference", ("glossary",), ()),
)

#: The usual topics of an operating-systems course's memory-management part, and the chapters that serve them.
OS_TOPICS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("page frames and the frame table (struct page)", ("00", "01")),
    ("physical memory layout: sections, SPARSEMEM, memory blocks", ("02",)),
    ("kernel virtual memory, page tables, huge (PMD) mappings", ("03",)),
    ("memory allocators: the buddy allocator, special-purpose allocators", ("04", "06")),
    ("zones: DMA32, Normal, Movable", ("06", "07")),
    ("NUMA: nodes, fallback, per-node statistics, memory tiers", ("03", "06", "10", "12")),
    ("page migration, compaction, contiguous allocation", ("07", "08")),
    ("huge pages", ("08", "11")),
    ("devices: hotplug, hot-remove, drivers, resource lifetime", ("05", "09", "12")),
    ("the kernel-user interface: sysfs, procfs, boot parameters", ("02", "05", "10")),
    ("kernel evolution and design trade-offs, read from commits", ("05", "11")),
)

_BY_KEY = {c.key: c for c in CHAPTERS}


def plan(key: str) -> ChapterPlan:
    """The plan of chapter ``key`` (``"05"``)."""
    return _BY_KEY[key]


def exercise_points(label: str) -> int:
    """Points of an exercise by its heading: a seeded (per-student) exercise 2, a fixed one 1."""
    return 2 if "seeded" in label else 1
