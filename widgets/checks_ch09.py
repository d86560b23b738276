"""Check cells of chapter 09 (hot-remove): the memmap after offline, removal granularity, the failing block."""
from __future__ import annotations

import errno as _errno
from typing import Sequence

from widgets.checks import CheckResult, check_number
from workbook.arch import GiB, MiB
from workbook.errors import KernelError
from workbook.machine import Machine
from workbook.memory_hotplug import try_remove_memory
from workbook.problems.hot_remove import EJECT_RULE, eject_outcome

__all__ = ["check_memmap_after_offline", "check_node0_freed_kb", "check_remove_errno", "two_adjacent_dimms",
           "dimms_offline", "node0_memfree_kb", "check_failed_block"]

_CMDLINE = "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline"
_MEM = "/sys/devices/system/memory"


def check_memmap_after_offline(answer: object, kernel: str = "6.12") -> CheckResult:
    """Check "after offlining memory32, how many pfns of its self-hosted memmap are still mapped?"."""
    m = Machine(kernel, cmdline=_CMDLINE)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{_MEM}/memory32/state", "online_movable")
    m.write(f"{_MEM}/memory32/state", "offline")
    b = m.blocks[32]
    expected = b.altmap.alloc if b.altmap is not None else b.nr_vmemmap_pages
    mistakes = {
        0: ("offlining does not free the memmap: mhp_deinit_memmap_on_memory() only undoes the zone and present "
            "accounting; the vmemmap stays mapped until arch_remove_memory()"),
        32256: "that is the buddy part, which offlining took out of the free lists",
        32768: "that is the whole block; its memmap is only the first part of it",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="\"vmemmap pages have a different lifecycle than the pages they describe (they remain "
                             "until the memory is unplugged)\" (drivers/base/memory.c, memory_block_online())")


def node0_memfree_kb(m: Machine) -> int:
    """MemFree of node 0's meminfo, in kB."""
    for line in str(m.read("/sys/devices/system/node/node0/meminfo")).splitlines():
        if line.split()[2:3] == ["MemFree:"]:
            return int(line.split()[3])
    raise ValueError("node0/meminfo has no MemFree line")


def check_node0_freed_kb(answer: object, kernel: str = "6.1", size: int = 1 * GiB) -> CheckResult:
    """Check "by how many kB does node 0's MemFree grow when a DIMM of ``size`` (onlined, offlined) is removed?"."""
    m = Machine(kernel, cmdline=_CMDLINE)
    blocks = m.dimm_add(size, 1, "dimm1").blocks
    for state in ("online_movable", "offline"):
        for bid in blocks:
            m.write(f"{_MEM}/memory{bid}/state", state)
    self_hosted = sum(m.blocks[b].vmemmap_pages for b in blocks)
    before = node0_memfree_kb(m)
    m.dimm_del("dimm1")
    expected = node0_memfree_kb(m) - before
    a = m.arch
    kb = a.page_size // 1024
    memmap_pages = a.memmap_pages(size >> a.page_shift)
    n = len(blocks)
    if self_hosted:
        zero_why = ""
        why_memmap = (f"on {kernel} this DIMM's memmap is on the DIMM itself: vmem_altmap_free() gives its pfns back "
                      "to the altmap, and they leave with the DIMM; node 0 gets nothing")
    else:
        why_memmap = ""
        zero_why = (f"that would hold if the memmap were on the DIMM; Linux {kernel} self-hosts it only for a one-block "
                    f"add, so this {n}-block DIMM's memmap was allocated from node 0 at hot-add, and removal frees it "
                    "back there (free_pagetable())")
    mistakes = {
        0: zero_why,
        memmap_pages * kb: why_memmap,
        memmap_pages: "that is the memmap in pages; MemFree is in kB",
        memmap_pages * a.page_size: "that is the memmap in bytes; MemFree is in kB",
        (memmap_pages * kb) // n: (f"that is one block's memmap; the DIMM has {n} blocks, and node 0 held the "
                                   "memmap of every one"),
        size // 1024: "that is the DIMM itself: its pages were never node 0's",
        (size // 1024) - memmap_pages * kb: "that is the DIMM's managed memory; it was node 1's, and it left with "
                                            "the DIMM",
    }
    mistakes = {k: v for k, v in mistakes.items() if v}
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="arch_remove_memory() -> vmemmap_free(): a memmap taken from node memory at hot-add is "
                             "freed back to it (free_pagetable()); a self-hosted one is only given back to its altmap "
                             "(vmem_altmap_free()) and leaves with the DIMM")


def two_adjacent_dimms(kernel: str) -> Machine:
    """The chapter's VM with two 128 MiB DIMMs on node 1 (memory32 and memory33, both offline)."""
    m = Machine(kernel, cmdline=_CMDLINE)
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.dimm_add(128 * MiB, 1, "dimm2")
    return m


def _errno_of(value: object) -> int | None:
    """An errno from a name ("EINVAL"), a number (22 or -22), or 0 for "ok"."""
    if isinstance(value, str):
        v = value.strip().upper().lstrip("-")
        if v in ("OK", "0", "SUCCESS"):
            return 0
        return getattr(_errno, v, None)
    if isinstance(value, int) and not isinstance(value, bool):
        return abs(value)
    return None


def dimms_offline(kernel: str, sizes: Sequence[int]) -> Machine:
    """The chapter's VM with DIMMs of ``sizes`` side by side on node 1 from 4 GiB, every block offline."""
    m = Machine(kernel, cmdline=_CMDLINE)
    for i, size in enumerate(sizes, 1):
        m.dimm_add(size, 1, f"dimm{i}")
    return m


def check_remove_errno(answer: object, kernel: str = "6.1", start: int = 4 * GiB, size: int = 256 * MiB,
                       dimms: Sequence[int] = (128 * MiB, 128 * MiB)) -> CheckResult:
    """Check "what does try_remove_memory(start, size) return over the DIMMs?" (an errno name, or "ok")."""
    m = dimms_offline(kernel, dimms)
    self_hosted = any(b.vmemmap_pages for b in m.blocks_in_range(start, size))
    try:
        try_remove_memory(m, start, size)
        expected = 0
    except KernelError as e:
        expected = e.errno
    name = "ok" if expected == 0 else _errno.errorcode[expected]
    rule = ("try_remove_memory(): every block offline, else EBUSY; 5.13-6.7 refuse a range with self-hosted memmap "
            "unless it is exactly one memory block (EINVAL, \"wrong granularity\"); 6.8+ remove block by block, "
            "each with its own altmap")
    hints = {
        _errno.EBUSY: "EBUSY is for blocks that are still online; every block is offline",
        _errno.EINVAL: (("Linux 6.8+ keeps an altmap per block and removes the range block by block"
                         if self_hosted else
                         f"the granularity check applies only to a range with self-hosted memmap (nr_vmemmap_pages "
                         f"!= 0); Linux {kernel} self-hosts only one-block adds, so this multi-block DIMM's memmap "
                         "came from node 0 and the range removes in one call")
                        if expected == 0 else "that is right in spirit, but check the errno name"),
        0: ("Linux 5.13-6.7 can tear a self-hosted memmap down only one whole block at a time: the altmap is "
            "rebuilt from the block's nr_vmemmap_pages (5.13-6.5) or taken from mem->altmap (6.6-6.7), for "
            "exactly one block"),
    }
    known = {("ok" if k == 0 else _errno.errorcode[k]): v for k, v in hints.items() if k != expected}
    if answer is None:
        return CheckResult(False, "not answered yet: an errno name such as 'EBUSY', or 'ok'", rule, known)
    got = _errno_of(answer)
    if got == expected:
        return CheckResult(True, name, mistakes=known)
    return CheckResult(False, f"{answer!r}: {hints.get(got, 'that is not it')}", rule, known)


def check_failed_block(answer: object, online_types: Sequence[str] = ("online_movable", "online_kernel",
                                                                      "online_movable", "online_kernel"),
                       kernel: str = "6.12") -> CheckResult:
    """Check "device_del of a DIMM whose blocks are ``online_types``: which block is named in 'Offline failed.'?"."""
    expected = eject_outcome(kernel, online_types)
    names = {f"memory{32 + i}": t for i, t in enumerate(online_types)}
    known = {name: _failed_block_hint(name, expected, names) for name in ["deleted", *names] if name != expected}
    if answer is None:
        return CheckResult(False, "not answered yet: a block name such as 'memory33', or 'deleted'", EJECT_RULE,
                           known)
    got = f"memory{answer}" if isinstance(answer, int) and not isinstance(answer, bool) else str(answer).strip()
    if got == expected:
        return CheckResult(True, expected, mistakes=known)
    return CheckResult(False, f"{answer!r}: {_failed_block_hint(got, expected, names)}", EJECT_RULE, known)


def _failed_block_hint(got: str, expected: str, names: dict[str, str]) -> str:
    """What answering ``got`` instead of ``expected`` shows was misunderstood."""
    if got == "deleted":
        hint = (f"{expected} is in ZONE_NORMAL and holds the kernel's first allocations on node 1: it cannot be "
                "offlined, so the eject never completes")
    elif names.get(got) == "online_kernel":
        hint = ("that block is ZONE_NORMAL too, but holds no unmovable page; the second pass stops at the first "
                "block that fails, and the kernel's first allocations on node 1 went to the first kernel block")
    elif names.get(got, "").startswith("online_movable"):
        hint = "that block is in ZONE_MOVABLE: its pages migrate to node 0, and it offlines"
    else:
        hint = "that is not it"
    return hint
