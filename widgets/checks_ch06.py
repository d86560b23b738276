"""Check cells of chapter 06 (online and zones): the first buddy chunk, node MemTotal, the zone plain online picks.

Every expected value comes from a model machine that performed the hot-add and the
writes (the chapter's VM: node 0 with 1 GiB, an empty node 1, blocks arrive offline).
"""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from workbook.arch import MiB
from workbook.page_alloc import online_chunks
from workbook.problems.memmap_on_memory import hotplug_vm
from workbook.problems.online import counters_mistakes, node_memtotal_kb

__all__ = ["check_first_online_order", "check_node_memtotal_kb", "check_online_zone"]

MEM = "/sys/devices/system/memory"


def check_first_online_order(answer: object, kernel: str = "6.12", size: int = 128 * MiB) -> CheckResult:
    """Check "which order is the first block online_pages_range() frees in the DIMM's first memory block?"."""
    m = hotplug_vm(kernel)
    bid = m.dimm_add(size, 1, "dimm1").blocks[0]
    m.write(f"{MEM}/memory{bid}/state", "online_movable")
    b = m.blocks[bid]
    a = m.arch
    first_pfn, expected = online_chunks(b.start_pfn + b.vmemmap_pages, b.end_pfn, a.max_page_order)[0]
    mistakes = {
        a.max_page_order: f"pfn {first_pfn:#x} is not aligned to {1 << a.max_page_order} pages: the order of each "
                          "chunk is also limited by the alignment of its first pfn, __ffs(pfn)",
        0: "online_pages_range() frees the largest aligned blocks it can, not single pages",
        first_pfn: "that is the first pfn; the question asks for the order of the block freed there",
        b.vmemmap_pages: "that is the number of vmemmap pages; the order is log2 of the block's page count",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="online_pages_range(): order = min(MAX_PAGE_ORDER, __ffs(pfn)), starting at "
                             "buddy_start_pfn = start_pfn + nr_vmemmap_pages")


def check_node_memtotal_kb(answer: object, kernel: str = "6.12", size: int = 256 * MiB,
                           online: str = "online_movable") -> CheckResult:
    """Check "what is node 1's MemTotal (kB) after hot-adding ``size`` bytes and onlining every block?"."""
    m = hotplug_vm(kernel)
    blocks = m.dimm_add(size, 1, "dimm1").blocks
    for bid in blocks:
        m.write(f"{MEM}/memory{bid}/state", online)
    expected = node_memtotal_kb(m, 1)
    a = m.arch
    n = size >> a.page_shift
    v = sum(m.blocks[b].vmemmap_pages for b in blocks)
    mistakes = counters_mistakes(kernel, n, len(blocks), v, "MemTotal kB", a.page_size // 1024)
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="node MemTotal = sum of the node's zones' managed pages, in kB; online_pages() adds "
                             "nr_pages - nr_vmemmap_pages to managed (si_meminfo_node())")


def check_online_zone(answer: object, kernel: str = "6.12", first: str | None = "online_movable",
                      extra: str = "") -> CheckResult:
    """Check "which zone does plain ``online`` give memory33 once memory32 was onlined with ``first``?"."""
    m = hotplug_vm(kernel, extra=extra)
    b0, b1 = m.dimm_add(256 * MiB, 1, "dimm1").blocks
    if first:
        m.write(f"{MEM}/memory{b0}/state", first)
    valid = str(m.read(f"{MEM}/memory{b1}/valid_zones")).strip()
    m.write(f"{MEM}/memory{b1}/state", "online")
    expected = m.blocks[b1].zone.name
    rule = ("default_zone_for_pfn() (contig-zones): the zone the block's range already intersects; if none (or "
            "both), ZONE_MOVABLE only with movable_node, else the kernel zone. valid_zones lists it first")
    other = "Normal" if expected == "Movable" else "Movable"
    if other == "Movable" and first == "online_movable":
        other_hint = (f"memory{b1} does not intersect ZONE_MOVABLE: the zone spans only memory{b0}'s pfns, "
                      f"and zone_intersects() needs an overlap (valid_zones of memory{b1} read: {valid})")
    else:
        other_hint = f"valid_zones of memory{b1} read {valid}: plain online takes the first entry"
    known = {other: other_hint}
    if answer is None:
        return CheckResult(False, "not answered yet: replace None with a zone name such as \"Movable\"", rule, known)
    if not isinstance(answer, str):
        return CheckResult(False, f"{answer!r}: answer with the zone's name, a string", rule, known)
    if answer.strip() == expected:
        return CheckResult(True, f"{expected} (valid_zones read: {valid})", mistakes=known)
    name = answer.strip()
    if name.upper().startswith("ZONE_"):
        name = name[len("ZONE_"):]
    if name.lower() == expected.lower():
        # ZONE_NORMAL, normal: the right zone; say how valid_zones and /proc/zoneinfo spell it
        return CheckResult(True, f"{expected} (valid_zones read: {valid}; sysfs and /proc/zoneinfo write "
                                 f"{expected!r}, the source ZONE_{expected.upper()})", mistakes=known)
    if answer.strip() == "Movable" and first == "online_movable":
        hint = (f"memory{b1} does not intersect ZONE_MOVABLE: the zone spans only memory{b0}'s pfns, "
                f"and zone_intersects() needs an overlap (valid_zones of memory{b1} read: {valid})")
    else:
        hint = f"valid_zones of memory{b1} read {valid}: plain online takes the first entry"
    return CheckResult(False, f"{answer!r}: {hint}", rule, known)
