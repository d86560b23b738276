"""Problems on onlining: zone counters after an online, and which zone plain ``online`` picks (chapter 06).

Every answer is read back from a :class:`~workbook.machine.Machine` that performed the
writes: ``/proc/zoneinfo``, the node's ``meminfo`` and the block's zone.
"""
from __future__ import annotations

from ..arch import MiB
from ..errors import KernelError
from ..replay import parse_zoneinfo
from . import Problem, register, rng
from .memmap_on_memory import hotplug_vm

__all__ = ["online_counters", "online_zone", "node_memtotal_kb", "zone_counters"]

MEM = "/sys/devices/system/memory"


def node_memtotal_kb(m, nid: int) -> int:
    """``MemTotal`` of ``/sys/devices/system/node/node<nid>/meminfo``, in kB."""
    for line in str(m.read(f"/sys/devices/system/node/node{nid}/meminfo")).splitlines():
        fields = line.split()
        if fields[2] == "MemTotal:":
            return int(fields[3])
    raise ValueError(f"node{nid}/meminfo has no MemTotal line")


def zone_counters(m, nid: int, zone: str) -> dict[str, int]:
    """``pages free``, ``spanned``, ``present``, ``managed`` (and ``start_pfn``) of one zone in /proc/zoneinfo."""
    return parse_zoneinfo(str(m.read("/proc/zoneinfo")))[(nid, zone)]


@register("online-counters")
def online_counters(seed: int) -> Problem:
    """After onlining every block of a DIMM, what do node 1's zone counters say?"""
    r = rng(seed, "online-counters")
    kernel = r.choice(["5.13", "6.1", "6.12", "6.12"])
    size = r.choice([128 * MiB, 128 * MiB, 256 * MiB, 384 * MiB, 512 * MiB])
    online = r.choice(["online_movable", "online_movable", "online_kernel"])
    quantity = r.choice(["managed", "present", "present - managed", "MemTotal kB"])
    m = hotplug_vm(kernel)
    res = m.dimm_add(size, 1, "dimm1")
    for bid in res.blocks:
        m.write(f"{MEM}/memory{bid}/state", online)
    zone = m.blocks[res.blocks[0]].zone.name
    c = zone_counters(m, 1, zone)
    a = m.arch
    n = size >> a.page_shift
    v = sum(m.blocks[b].vmemmap_pages for b in res.blocks)
    kb = a.page_size // 1024
    values = {"managed": c["managed"], "present": c["present"], "present - managed": c["present"] - c["managed"],
              "MemTotal kB": node_memtotal_kb(m, 1)}
    answer = values[quantity]
    mistakes: dict[object, str] = {}
    if quantity == "MemTotal kB":
        mistakes[n - v] = "that is managed in pages; MemTotal is in kB (x 4 on x86_64)"
        mistakes[n * kb] = "that is the whole DIMM in kB; MemTotal sums managed pages only"
    mistakes.setdefault(n, "that counts every pfn of the DIMM; the vmemmap pages never reach the buddy "
                           "allocator (managed)")
    mistakes.setdefault(n - v, "that leaves out the vmemmap pages; present counts them, managed does not")
    mistakes.setdefault(v, "that is the number of vmemmap pages: present - managed")
    mistakes.setdefault(a.memmap_pages(n), "that is the DIMM's memmap in pages; on this kernel it is "
                        + ("on the DIMM" if v else "not on the DIMM, so present - managed is 0"))
    mistakes.setdefault(0, "the vmemmap pages are in the zone (present) but never in the buddy allocator "
                           "(managed)")
    mistakes.pop(answer, None)
    where = ("the memmap is on the DIMM: " + f"{v} vmemmap pages" if v else
             "the memmap is not on the DIMM (" + ("one block per add before 6.8" if len(res.blocks) > 1
                                                   else "memmap_on_memory refused") + ")")
    return Problem(
        "online-counters", seed,
        {"kernel": kernel, "command line": m.cmdline, "hot-added bytes (one DIMM on node 1)": size,
         "online type (echo ... > state, every block)": online, "asked": quantity},
        ("What is node 1's MemTotal, in kB?" if quantity == "MemTotal kB"
         else f"What is {quantity} of node 1, zone {zone}, in pages?"),
        answer,
        f"{n} pfns added, {where}; zone {zone}: spanned {c['spanned']}, present {c['present']}, "
        f"managed {c['managed']}; node 1 MemTotal {values['MemTotal kB']} kB",
        rule="online: present += nr_pages of the block (vmemmap included, adjust_present_page_count()); "
             "managed += only what online_pages() hands to the buddy (nr_pages - nr_vmemmap_pages); "
             "MemTotal = sum of managed, in kB",
        mistakes=mistakes)


_POLICIES = (
    ("", "contig-zones (default)"),
    ("movable_node", "contig-zones, movable_node"),
    ("memory_hotplug.online_policy=auto-movable", "auto-movable"),
    ("memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_numa_aware=0",
     "auto-movable, not NUMA aware"),
)


@register("online-zone")
def online_zone(seed: int) -> Problem:
    """Which zone does ``echo online > state`` (no zone named) put the DIMM's second block in?"""
    r = rng(seed, "online-zone")
    kernel = r.choice(["6.1", "6.12"])
    extra, policy = r.choice(_POLICIES)
    first = r.choice([None, "online_movable", "online_kernel"])
    m = hotplug_vm(kernel, extra=extra)
    res = m.dimm_add(256 * MiB, 1, "dimm1")
    b0, b1 = res.blocks
    if first is not None:
        m.write(f"{MEM}/memory{b0}/state", first)
    valid = str(m.read(f"{MEM}/memory{b1}/valid_zones")).split()
    try:
        m.write(f"{MEM}/memory{b1}/state", "online")
        answer = m.blocks[b1].zone.name
    except KernelError as e:                         # pragma: no cover - onlining a fresh block works
        raise RuntimeError(f"online-zone seed {seed}: {e}") from None
    mistakes = {z: f"valid_zones of memory{b1} read {' '.join(valid)}: its FIRST entry is the zone plain "
                   f"'online' uses; the others are what online_kernel / online_movable would pick"
                for z in ("Normal", "Movable", "DMA32") if z != answer}
    return Problem(
        "online-zone", seed,
        {"kernel": kernel, "command line": m.cmdline, "online policy": policy,
         "hot-added": "one 256 MiB DIMM on node 1 (2 blocks)",
         f"memory{b0}": f"echo {first} > state" if first else "left offline"},
        f"Which zone does 'echo online > {MEM}/memory{b1}/state' put memory{b1} in? (Normal or Movable)",
        answer,
        f"valid_zones of memory{b1} before the write: {' '.join(valid)}; the first entry is the default, "
        f"so plain 'online' picks {answer}",
        rule="zone_for_pfn_range(MMOP_ONLINE): auto-movable -> MOVABLE while the group has no kernel memory and "
             "MOVABLE stays under auto_movable_ratio x early kernel memory (per node if numa aware); contig-zones "
             "-> the zone the block already intersects, else MOVABLE with movable_node, else the kernel zone",
        mistakes=mistakes)
