"""Problems on onlining: zone counters after an online, and which zone plain ``online`` picks (chapter 06).

Every answer is read back from a :class:`~workbook.machine.Machine` that performed the
writes: ``/proc/zoneinfo``, the node's ``meminfo`` and the block's zone.
"""
from __future__ import annotations

import re

from ..arch import MiB
from ..errors import KernelError
from ..replay import parse_zoneinfo
from . import Problem, register, rng
from .memmap_on_memory import hotplug_vm

__all__ = ["online_counters", "online_zone", "node_memtotal_kb", "zone_counters", "counters_by_hand",
           "counters_mistakes", "zones_by_hand", "zone_watermarks", "movable_wmarks_by_hand"]

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


def zone_watermarks(zoneinfo: str) -> dict[tuple[int, str], dict[str, int]]:
    """{(node, zone): {"min", "low", "high", "promo" (6.4+), "present", "managed"}} from a /proc/zoneinfo text."""
    out = {}
    for stanza in re.split(r"(?=^Node \d+, zone)", zoneinfo, flags=re.M):
        head = re.match(r"Node (\d+), zone\s+(\w+)", stanza)
        if head:
            out[(int(head.group(1)), head.group(2))] = {
                k: int(v) for k, v in re.findall(r"^\s+(min|low|high|promo|present|managed)\s+(\d+)$", stanza, re.M)}
    return out


def movable_wmarks_by_hand(zoneinfo: str, like_highmem: bool, nid: int = 1, pageblock_nr_pages: int = 512,
                           watermark_scale_factor: int = 10) -> tuple[dict[str, int], dict[str, int]]:
    """Node ``nid``'s ZONE_MOVABLE watermarks by __setup_per_zone_wmarks() (mm/page_alloc.c), from the managed pages
    a /proc/zoneinfo text shows; returns the watermarks and the intermediate values.

    ``pages_min`` is what set_recommended_min_free_kbytes() (mm/khugepaged.c) sets with THP:
    (2 + MIGRATE_PCPTYPES^2) = 11 pageblocks per populated zone up to ZONE_NORMAL.  Leaves out its
    cap, 5 % of nr_free_buffer_pages(), which a 1 GiB VM reaches once a hot-plug node has
    kernel-zone memory too (three kernel zones ask for 16,896 pages), and a min_free_kbytes written
    by hand.  ``like_highmem``: ZONE_MOVABLE counts out of lowmem_pages and takes
    ``clamp(managed / 1024, SWAP_CLUSTER_MAX, 128)`` as min (6.12; 6.1 gives it its share).
    """
    z = zone_watermarks(zoneinfo)
    kernel_zones = [v for (_, name), v in z.items() if name in ("DMA", "DMA32", "Normal") and v.get("present")]
    movable = [v for (_, name), v in z.items() if name == "Movable"]
    pages_min = (2 + 3 * 3) * pageblock_nr_pages * len(kernel_zones)
    lowmem = sum(v["managed"] for v in kernel_zones) + (0 if like_highmem else sum(v["managed"] for v in movable))
    managed = z[(nid, "Movable")]["managed"]
    tmp = pages_min * managed // lowmem
    wmin = min(max(managed // 1024, 32), 128) if like_highmem else tmp
    step = max(tmp >> 2, managed * watermark_scale_factor // 10000)
    marks = {"min": wmin, "low": wmin + step, "high": wmin + 2 * step, "promo": wmin + 3 * step}
    return marks, {"pages_min": pages_min, "kernel zones": len(kernel_zones), "lowmem_pages": lowmem,
                   "managed": managed, "tmp": tmp, "step": step}


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


_QUANTITIES = ("present", "managed", "present - managed", "MemTotal kB")


def _counter(quantity: str, n: int, v: int, kb: int) -> int:
    """One quantity after onlining n pfns of which v hold the memmap (pages; MemTotal in kB)."""
    return {"present": n, "managed": n - v, "present - managed": v, "MemTotal kB": (n - v) * kb}[quantity]


def counters_mistakes(kernel: str, n: int, blocks: int, v: int, quantity: str, kb: int = 4) -> dict[object, str]:
    """What a wrong value of ``quantity`` shows was misunderstood, after onlining a DIMM of ``blocks`` 128 MiB blocks.

    ``n`` pfns were added and ``v`` of them hold the DIMM's own memmap on this kernel. The
    usual mistakes: another count of memmap pages on the DIMM (none, one block's 512, every
    block's 512, the whole DIMM's memmap), one block's value for a multi-block DIMM, another
    of the four quantities, and the units (pages, kB, bytes, MB).
    """
    answer = _counter(quantity, n, v, kb)
    per_block = n // blocks // 64          # one block's memmap: 512 pages for 128 MiB of 4 KiB pages
    wrong_v = {}
    if v == 0:
        why = (f"Linux {kernel} puts the memmap on the DIMM only for a one-block add (size == "
               f"memory_block_size_bytes()); this {blocks}-block DIMM's memmap came from node 0, so none of its "
               "pages is memmap and managed = present")
        for alt in {per_block, per_block * blocks}:
            wrong_v[alt] = why
    elif blocks > 1:
        wrong_v[per_block] = (f"that counts one block's memmap ({per_block} pages); on {kernel} each of the DIMM's "
                              f"{blocks} blocks holds its own (one altmap per block since 6.8): {blocks} x "
                              f"{per_block} = {v}")
        wrong_v[0] = (f"that counts no memmap on the DIMM; on {kernel} every block of the DIMM holds its own "
                      f"({blocks} x {per_block} = {v} pages), and memmap pages are present but never managed")
    else:
        wrong_v[0] = (f"that counts no memmap on the DIMM; this one-block DIMM holds its own, {v} pages at its "
                      "start, and memmap pages are present but never managed")
    mistakes: dict[object, str] = {}
    for alt, why in wrong_v.items():
        mistakes.setdefault(_counter(quantity, n, alt, kb), why)
    if blocks > 1:
        one = _counter(quantity, n // blocks, v // blocks, kb)
        mistakes.setdefault(one, f"that is one block's value; the DIMM has {blocks} blocks and all were onlined")
    for other in _QUANTITIES:
        if other != quantity:
            what = {"present": "present (every pfn of the DIMM, memmap included)",
                    "managed": "managed (what the buddy allocator got)",
                    "present - managed": "present - managed (the memmap pages on the DIMM)",
                    "MemTotal kB": "node 1's MemTotal in kB"}[other]
            mistakes.setdefault(_counter(other, n, v, kb), f"that is {what}; the question asks for {quantity}")
    if quantity == "MemTotal kB":
        mistakes.setdefault(answer // kb, "that is managed in pages; MemTotal is in kB (x 4 on x86_64)")
        mistakes.setdefault(n * kb, "that is the whole DIMM in kB; MemTotal sums managed pages only")
        mistakes.setdefault(answer * 1024, "that is bytes; MemTotal is in kB")
        mistakes.setdefault(answer >> 10, "that is MB, as numactl -H prints it (MemTotal >> 10); MemTotal is in kB")
    elif answer:
        mistakes.setdefault(answer * kb, f"that is kB; {quantity} is counted in pages")
        mistakes.setdefault(answer * kb * 1024, f"that is bytes; {quantity} is counted in pages")
        if answer * kb >= 1024:
            mistakes.setdefault(answer * kb >> 10, f"that is MB; {quantity} is counted in pages")
    if n // 64 != v:
        mistakes.setdefault(_counter(quantity, n, n // 64, kb),
                            "that counts the DIMM's whole memmap (1/64 of it) as on the DIMM; "
                            + (f"on {kernel} it is not on this DIMM" if not v else f"on {kernel} the DIMM holds {v}"))
    mistakes.pop(answer, None)
    return mistakes


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
    mistakes = counters_mistakes(kernel, n, len(res.blocks), v, quantity, kb)
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
