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

__all__ = ["online_counters", "online_zone", "node_memtotal_kb", "zone_counters", "counters_by_hand",
           "zones_by_hand"]

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


def counters_by_hand(kernel: str, size: int, quantity: str) -> tuple[int, list[str]]:
    """One of present, managed, present - managed, MemTotal kB after onlining a DIMM, by chapter 06's rules."""
    n, blocks = size // 4096, size // (128 * MiB)
    if kernel == "6.12":
        v = 512 * blocks
        steps = [f"6.12: each of the {blocks} block(s) holds its own memmap: {blocks} x 512 = {v} vmemmap pages"]
    elif blocks == 1:
        v = 512
        steps = [f"{kernel}, a one-block DIMM: its memmap is on the block: 512 vmemmap pages"]
    else:
        v = 0
        steps = [f"{kernel} puts the memmap on the DIMM only for a one-block add; this DIMM is {blocks} blocks: "
                 "0 vmemmap pages on the DIMM"]
    steps.append(f"present = all {n:,} pfns of the DIMM (vmemmap pages included); managed = present - vmemmap = "
                 f"{n - v:,}")
    values = {"present": n, "managed": n - v, "present - managed": v, "MemTotal kB": (n - v) * 4}
    if quantity == "MemTotal kB":
        steps.append(f"MemTotal = managed pages x 4 kB = {(n - v) * 4:,} kB")
    else:
        steps.append(f"{quantity} = {values[quantity]:,}")
    return values[quantity], steps


@register("online-counters", difficulty=2, chapter="06")
def online_counters(seed: int, exam: bool = False) -> Problem:
    """After onlining every block of a DIMM, what do node 1's zone counters say?"""
    r = rng(seed, "online-counters", exam)
    kernel = r.choice(["5.13", "6.1", "6.12", "6.12"])
    if exam:        # one to sixteen blocks: a wide answer space
        size = r.randrange(1, 17) * 128 * MiB
    else:
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
    hand, steps = counters_by_hand(kernel, size, quantity)
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
        mistakes=mistakes, derivation=[f"zone {zone}: every block was written {online}"] + steps,
        by_hand=hand == answer, exam=exam)


_POLICIES = (
    ("", "contig-zones (default)"),
    ("movable_node", "contig-zones, movable_node"),
    ("memory_hotplug.online_policy=auto-movable", "auto-movable"),
    ("memory_hotplug.online_policy=auto-movable memory_hotplug.auto_movable_numa_aware=0",
     "auto-movable, not NUMA aware"),
)


def zones_by_hand(policy: str, writes: list[str], kernel: str = "6.12") -> tuple[list[str], list[str]]:
    """The zone of each block of one DIMM on node 1 (no memory at boot) after ``writes`` in block order.

    Chapter 06's rules, independent of the machine: ``online_kernel`` -> Normal, ``online_movable``
    -> Movable; plain ``online`` under contig-zones takes the one zone whose span already
    intersects the block, else Movable with movable_node, else Normal; under auto-movable a static
    group (an ACPI DIMM) goes Normal once it has kernel memory, and NUMA-aware it goes Normal on
    a node without early kernel memory.
    """
    spans: dict[str, tuple[int, int]] = {}
    kernel_pages = 0
    zones, steps = [], []
    for i, write in enumerate(writes):
        name = f"memory{32 + i}"
        if write == "offline":
            zones.append("offline")
            steps.append(f"{name}: left offline")
            continue
        if write == "online_kernel":
            zone, why = "Normal", "online_kernel: the kernel zone"
        elif write == "online_movable":
            zone, why = "Movable", "online_movable: ZONE_MOVABLE"
        elif policy.startswith("auto-movable"):
            if kernel_pages:
                zone, why = "Normal", "auto-movable: the DIMM (a static memory group) already has kernel memory"
            elif "not NUMA" in policy:
                zone, why = "Movable", ("auto-movable, not NUMA aware: the whole DIMM fits under 301 % of the "
                                        "machine's early kernel memory (node 0's 1 GiB)")
            else:
                zone, why = "Normal", ("auto-movable, NUMA aware: node 1 has no early kernel memory, so no "
                                       "movable memory fits in its ratio")
        else:
            hits = [z for z, (lo, hi) in spans.items() if lo <= i < hi]
            if len(hits) == 1:
                zone, why = hits[0], f"plain online: only ZONE_{hits[0].upper()}'s span intersects it"
            elif "movable_node" in policy:
                zone, why = "Movable", ("plain online: " + ("both zones' spans" if hits else "no zone's span")
                                        + " intersect" + ("" if hits else "s") + " it, and movable_node is set: Movable")
            else:
                zone, why = "Normal", ("plain online: " + ("both zones' spans" if hits else "no zone's span")
                                       + " intersect" + ("" if hits else "s") + " it: the kernel zone")
        lo, hi = spans.get(zone, (i, i + 1))
        spans[zone] = (min(lo, i), max(hi, i + 1))
        if zone == "Normal":
            kernel_pages += 32768
        zones.append(zone)
        steps.append(f"{name}: {why} -> {zone}")
    return zones, steps


@register("online-zone", difficulty=2, chapter="06")
def online_zone(seed: int, exam: bool = False) -> Problem:
    """Which zone does ``echo online > state`` (no zone named) put the DIMM's second block in?"""
    if exam:
        return _online_zones_exam(seed)
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
    hand, steps = zones_by_hand(policy, [first or "offline", "online"], kernel)
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
        mistakes=mistakes, derivation=steps, by_hand=hand[1] == answer)


def _online_zones_exam(seed: int) -> Problem:
    """The exam variant of online-zone: three or four blocks written in turn; the zone of every block."""
    r = rng(seed, "online-zone", True)
    kernel = r.choice(["6.1", "6.12"])
    extra, policy = r.choice(_POLICIES)
    n = r.choice([3, 4])
    writes = [r.choice(["online", "online", "online_kernel", "online_movable"]) for _ in range(n)]
    m = hotplug_vm(kernel, extra=extra)
    blocks = m.dimm_add(n * 128 * MiB, 1, "dimm1").blocks
    for bid, write in zip(blocks, writes):
        m.write(f"{MEM}/memory{bid}/state", write)
    answer = tuple(m.blocks[b].zone.name for b in blocks)
    hand, steps = zones_by_hand(policy, writes, kernel)
    names = ", ".join(f"memory{b}" for b in blocks)
    return Problem(
        "online-zone", seed,
        {"kernel": kernel, "command line": m.cmdline, "online policy": policy,
         "hot-added": f"one {n * 128} MiB DIMM on node 1 ({names})",
         "then, in this order": "; ".join(f"echo {w} > memory{b}/state" for b, w in zip(blocks, writes))},
        f"Which zone is each block in afterwards? Answer the zones in block order ({names}), e.g. "
        "\"Normal, Movable, Movable\".",
        answer, "zones: " + ", ".join(answer),
        rule="zone_for_pfn_range(): online_kernel -> kernel zone, online_movable -> MOVABLE; plain online: "
             "contig-zones -> the zone whose span already intersects the block, else MOVABLE with movable_node, "
             "else the kernel zone; auto-movable -> MOVABLE only while the group has no kernel memory and "
             "the ratio (per node if NUMA aware) allows it",
        derivation=steps, by_hand=tuple(hand) == answer, exam=True)
