"""Check cells of chapter 07 (offline and migration): the errno of an offline, the logged range, migrated memory.

Every expected value comes from a model machine that performed the writes (the chapter's
VM with ``dyndbg="file mm/memory_hotplug.c +p"`` so that offline_pages() logs its failures).
"""
from __future__ import annotations

import errno as _errno
import os
import re

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB
from workbook.kernel import CHANGES
from workbook.problems.answers import normalize
from workbook.problems.memmap_on_memory import hotplug_vm
from workbook.problems.offline import DYNDBG, write_outcome
from workbook.problems.vmemmap import node_memfree_pages
from workbook.slub import set_slab_state, slab_heads, slab_word3

__all__ = ["check_offline_errno", "check_offline_log_start", "check_migrated_kb", "check_slab_offline",
           "slab_offline_machine"]

MEM = "/sys/devices/system/memory"
_RANGE = re.compile(r"memory offlining \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] failed due to (.*)")


def _outcome(answer: object) -> str | None:
    """A write's outcome as answered: "ok" or an errno's name ("-ebusy", 16, 0 and "OK" read as the answer key
    reads them, workbook.problems.answers.normalize()); None for an answer that is neither text nor a number."""
    if isinstance(answer, bool) or not isinstance(answer, (str, int)):
        return None
    return str(normalize(answer, "EBUSY"))


def check_offline_errno(answer: object, kernel: str = "6.12", online: str = "online_kernel") -> CheckResult:
    """Check "what does echo offline give right after onlining a fresh 128 MiB block with ``online``?"."""
    m = hotplug_vm(kernel, extra=DYNDBG)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{MEM}/memory32/state", online)
    expected = write_outcome(m, f"{MEM}/memory32/state", "offline")
    rule = ("offline_pages(): start_isolate_page_range() -> has_unmovable_pages() fails with EBUSY on an unmovable "
            "page in [buddy_start_pfn, end_pfn); a node's first kernel-zone memory gets the kernel's own "
            "allocations at once")
    hints = {
        "ok": "the block is in a kernel zone and already holds the kernel's first allocations on node 1: "
              "unmovable pages, so isolation fails",
        "EINVAL": "EINVAL is for a block that is already offline, or a bad string; this block is online",
        "EINTR": ("EINTR comes only from the retry loop, after isolation passed; the kernel's slab page here is a "
                  "fresh CPU slab (page->mapping, word 3, is 0), which isolation refuses at once"
                  if expected == "EBUSY" else "EINTR comes from a retry loop that a signal ends; here the loop "
                  "ends by itself once the block's pages have moved"),
        "ENOMEM": "offlining does not allocate memory of its own",
        "EBUSY": "nothing unmovable is in the block's buddy part: ZONE_MOVABLE holds only movable pages, and the "
                 "vmemmap pages are not in the range offline_pages() checks",
    }
    hints.pop(expected, None)
    if answer is None:
        return CheckResult(False, 'not answered yet: replace None with "ok" or an errno name such as "EINVAL"', rule,
                           hints)
    got = _outcome(answer)
    if got is None:
        return CheckResult(False, f"{answer!r}: answer \"ok\" or an errno name", rule, hints)
    if got == expected:
        if expected == "ok":
            return CheckResult(True, "ok: the block went offline", mistakes=hints)
        return CheckResult(True, f"{expected} ({os.strerror(getattr(_errno, expected))})", mistakes=hints)
    return CheckResult(False, f"{got!r}: {hints.get(got, 'that is not it')}", rule, hints)


def check_offline_log_start(answer: object, kernel: str = "6.1", size: int = 1 * GiB, block: int = 33) -> CheckResult:
    """Check "at which physical address does the failed-offline debug line of memory<block> start?".

    The block is onlined online_kernel as node 1's first kernel memory, so the kernel's own
    allocations land in it and offlining it fails.
    """
    m = hotplug_vm(kernel, extra=DYNDBG)
    m.dimm_add(size, 1, "dimm1")
    m.write(f"{MEM}/memory{block}/state", "online_kernel")
    outcome = write_outcome(m, f"{MEM}/memory{block}/state", "offline")
    lines = [mm for line in m.dmesg_lines if (mm := _RANGE.search(line))]
    if outcome != "EBUSY" or not lines:           # pragma: no cover - the kernel's first slab is always there
        raise RuntimeError(f"memory{block} offlined ({outcome}): no failure line to ask about")
    expected = int(lines[-1].group(1), 16)
    b = m.blocks[block]
    a = m.arch
    start = b.start_pfn << a.page_shift
    mistakes = {
        start: "that is the block's first byte; offline_pages() starts after the vmemmap pages",
        start + (512 << a.page_shift): "on this kernel the DIMM's memmap is not on the block (one block per add "
                                       "before 6.8): the range starts at the block's first byte",
        b.start_pfn + b.vmemmap_pages: "that is the pfn; the log prints the physical address (pfn << PAGE_SHIFT)",
        b.start_pfn: "that is the block's first pfn; the log prints physical addresses",
        int(lines[-1].group(2), 16): "that is the end of the range (inclusive)",
    }
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes,
                               rule="memory_block_offline() calls offline_pages(start_pfn + nr_vmemmap_pages, ...); "
                                    "its pr_debug prints [start_pfn << PAGE_SHIFT, (end_pfn << PAGE_SHIFT) - 1]"),
                  answer, expected)


def check_migrated_kb(answer: object, kernel: str = "6.12", workload: int = 64 * MiB) -> CheckResult:
    """Check "by how many kB does node 0's MemFree drop when the block running the workload is offlined?"."""
    m = hotplug_vm(kernel)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{MEM}/memory32/state", "online_movable")
    m.start_workload(1, workload)
    before = node_memfree_pages(m, 0)
    m.write(f"{MEM}/memory32/state", "offline")
    kb = m.arch.page_size // 1024
    expected = (before - node_memfree_pages(m, 0)) * kb
    b = m.blocks[32]
    mistakes = {
        0: "offlining migrates the workload's pages: they need new pages, and node 0 is the only other node",
        workload // 1024 // kb: "that is the workload in pages; MemFree is in kB",
        (b.nr_pages - b.vmemmap_pages) * kb: "only the pages in use move; free pages of the block are just taken "
                                             "out of the buddy allocator",
        b.nr_pages * kb: "only the pages in use move, and never the vmemmap pages: they leave with the block",
        workload: "that is bytes; MemFree is in kB",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="offline_pages(): scan_movable_pages() + do_migrate_range() move every in-use movable "
                             "page to another node (alloc_migration_target()); free pages are not copied")


def slab_offline_machine(kernel: str, state: str, position: int = 1):
    """The chapter's 6.12-style VM: 128 MiB onlined online_kernel (node 1's first kernel memory), its slab in ``state``.

    Returns the machine and the head pfn of the kernel's own slab page in memory32.
    """
    m = hotplug_vm(kernel, extra=DYNDBG)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{MEM}/memory32/state", "online_kernel")
    b = m.blocks[32]
    head = slab_heads(m, b.start_pfn + b.vmemmap_pages, b.end_pfn)[0]
    if state != "cpu":
        set_slab_state(m, head, state, position)
    return m, head


def check_slab_offline(answer: object, kernel: str = "6.12", state: str = "cpu_partial",
                       position: int = 6) -> CheckResult:
    """Check "what does echo offline give when the node's first slab page is in SLUB ``state``?"."""
    m, head = slab_offline_machine(kernel, state, position)
    expected = write_outcome(m, f"{MEM}/memory32/state", "offline")
    word = slab_word3(state, position)
    looks = (word & 3) == 2
    bits = f"word 3 = {word:#x}, low two bits {word & 3:02b}"
    k = m.kernel
    rule = ("has_unmovable_pages(): a compound page off the LRU is unmovable unless __folio_test_movable(): "
            "(page->mapping & 3) == PAGE_MAPPING_MOVABLE (0b10); from 6.2 to 6.16 struct slab's list word is "
            "page->mapping. If isolation passes, MEM_GOING_OFFLINE flushes SLUB, scan_movable_pages() finds nothing, "
            "test_pages_isolated() fails, and offline_pages() retries until a signal (EINTR)")
    alias = next(c for c in CHANGES if c.switch == "slab_mapping_aliases_movable")
    if not k.slab_mapping_aliases_movable:
        bits = "whatever SLUB's list word holds"
        why_busy = (f"{k.label} refuses any slab page at isolation: " + (
            "before 6.2 struct slab keeps slab_cache, an aligned pointer, in word 3" if k.version < alias.since else
            "since 6.17 (the movable_ops rework) a compound page off the LRU is unmovable whatever its mapping says"))
    else:
        why_busy = f"{bits}: " + ("that is PAGE_MAPPING_MOVABLE, so isolation lets the slab pass; the failure "
                                  "comes later, in a retry loop that only a signal ends" if looks else
                                  "not PAGE_MAPPING_MOVABLE (0b10), so has_unmovable_pages() refuses the slab at once")
    hints = {
        "EBUSY": why_busy,
        "EINTR": why_busy,
        "ok": "the slab page is in use by the kernel: nothing can migrate it, so the block never becomes free",
        "EINVAL": "EINVAL is for a block that is already offline, or a bad string; this block is online",
        "ENOMEM": "offlining does not allocate memory of its own",
    }
    hints.pop(expected, None)
    if answer is None:
        return CheckResult(False, 'not answered yet: replace None with "ok" or an errno name such as "EBUSY"', rule,
                           hints)
    got = _outcome(answer)
    if got is None:
        return CheckResult(False, f"{answer!r}: answer \"ok\" or an errno name", rule, hints)
    if got == expected:
        detail = (f"{bits}: the slab passes isolation and the retry loop runs until the writer is signalled"
                  if expected == "EINTR" else f"{bits}{':' if k.slab_mapping_aliases_movable else ','} isolation "
                  "refuses the slab page at once")
        return CheckResult(True, f"{expected} ({os.strerror(getattr(_errno, expected))}); {detail}", mistakes=hints)
    return CheckResult(False, f"{got!r}: {hints.get(got, 'that is not it')}", rule, hints)
