"""Problems on the test procedure: what /proc/zoneinfo shows for node 1 after a random sequence (chapter 10)."""
from __future__ import annotations

from typing import Sequence

from ..arch import MiB
from ..errors import KernelError
from ..machine import Machine
from ..replay import parse_zoneinfo
from . import Problem, register, rng

__all__ = ["ZONEINFO_RULE", "run_sequence", "zoneinfo_field", "parse_actions", "zoneinfo_by_hand"]

ZONEINFO_RULE = ("per block onlined: present += N (memmap included), managed += N - V (the buddy part), spanned "
                 "covers first to last pfn of the zone; offline undoes it; V = 512 for a 128 MiB block when "
                 "memmap_on_memory is in effect for that add, else 0 (the memmap then comes from node 0)")

_MEM = "/sys/devices/system/memory"


def run_sequence(kernel: str, memmap_on_memory: str, steps: Sequence[tuple]) -> Machine:
    """Boot the chapter's VM and run ``steps``: ("add", size) hot-adds on node 1, ("state", block, value) writes."""
    m = Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={memmap_on_memory} memhp_default_state=offline")
    for step in steps:
        if step[0] == "add":
            m.dimm_add(int(step[1]), 1)
        else:
            m.write(f"{_MEM}/memory{step[1]}/state", step[2])
    return m


def zoneinfo_field(m: Machine, node: int, zone: str, key: str) -> int:
    """One number of /proc/zoneinfo as the model prints it (``key``: spanned, present, managed, free)."""
    return parse_zoneinfo(str(m.read("/proc/zoneinfo"))).get((node, zone), {}).get(key, 0)


def _describe(step: tuple) -> str:
    if step[0] == "add":
        return f"(qemu) device_add pc-dimm {step[1] >> 20}M node=1"
    return f"echo {step[2]} > memory{step[1]}/state"


def parse_actions(text: str) -> list[tuple]:
    """The steps of a problem's ``actions, in order`` line, as :func:`run_sequence` takes them."""
    steps: list[tuple] = []
    for part in text.split("; "):
        words = part.split()
        if words[:2] == ["(qemu)", "device_add"]:
            steps.append(("add", int(words[3].rstrip("M")) * MiB))
        else:
            steps.append(("state", int(words[3].split("/")[0].removeprefix("memory")), words[1]))
    return steps


def zoneinfo_by_hand(kernel: str, memmap_on_memory: str, steps: Sequence[tuple], zone: str,
                     key: str) -> tuple[int, list[str]]:
    """One /proc/zoneinfo number of node 1 after ``steps`` by chapter 10's rules (128 MiB blocks, DIMMs back to back)."""
    vmemmap: dict[int, int] = {}
    state: dict[int, str] = {}
    nxt = 32
    notes = []
    for step in steps:
        if step[0] == "add":
            n = int(step[1]) // (128 * MiB)
            own = memmap_on_memory == "1" and (kernel == "6.12" or n == 1)
            for b in range(nxt, nxt + n):
                vmemmap[b] = 512 if own else 0
            notes.append(f"add of {n} block(s) (memory{nxt}..memory{nxt + n - 1}): memmap "
                         + ("on each block, 512 pfns" if own else "elsewhere (0 on the blocks)"))
            nxt += n
        elif step[2] == "offline":
            state.pop(step[1], None)
        else:
            state[step[1]] = "Movable" if step[2] == "online_movable" else "Normal"
    mine = sorted(b for b, z in state.items() if z == zone)
    present = 32768 * len(mine)
    managed = sum(32768 - vmemmap[b] for b in mine)
    spanned = (mine[-1] - mine[0] + 1) * 32768 if mine else 0
    notes.append(f"online in {zone} now: " + (", ".join(f"memory{b}" for b in mine) or "none"))
    notes.append(f"present = {len(mine)} x 32768 = {present}; managed = present - vmemmap pages = {managed}; "
                 f"spanned = first to last pfn of those blocks = {spanned}")
    return {"present": present, "managed": managed, "spanned": spanned}[key], notes


def _common_mistakes(kernel: str, mom: str, steps: list[tuple], zone: str, key: str,
                     vals: dict[str, int]) -> list[tuple[int, str]]:
    """Wrong answers a learner often gives to a zoneinfo-after question, each with what it shows was missed."""
    other = "Movable" if zone == "Normal" else "Normal"
    out: list[tuple[int, str]] = []
    offlined = [s for s in steps if s[0] == "state" and s[2] == "offline"]
    if offlined:
        kept = [s for s in steps if s not in offlined]
        out.append((zoneinfo_field(run_sequence(kernel, mom, kept), 1, zone, key),
                    "that counts the block that was offlined again: offline_pages() takes it out of the zone "
                    "(present and managed shrink, and so may the span)"))
    out.append((zoneinfo_field(run_sequence(kernel, mom, steps), 1, other, key),
                f"that is Node 1's {other} zone: online_kernel puts a block in Normal, online_movable in Movable"))
    if key == "managed" and mom == "1":
        added = sum(int(s[1]) for s in steps if s[0] == "add") // (128 * MiB)
        out.append((vals["present"] - 512 * added if added > 1 else vals["present"] - 512,
                    "that subtracts 512 memmap pages for every hot-added block; only the blocks online in this zone "
                    "count, and only those whose add self-hosted its memmap"))
    out.append((vals[key] * 4, "that is in kB; /proc/zoneinfo counts pages"))
    if key == "spanned" and vals["spanned"] != vals["present"]:
        out.append((vals["present"], "that is present; spanned runs from the zone's first pfn to its last, holes "
                                     "(blocks offline or in another zone) included"))
    return out


@register("zoneinfo-after", difficulty=3, chapter="10")
def zoneinfo_after(seed: int, exam: bool = False) -> Problem:
    """After a few hot-adds, onlines and offlines on node 1: one number of node 1's zone in /proc/zoneinfo."""
    r = rng(seed, "zoneinfo-after", exam)
    while True:
        kernel = r.choice(["6.1", "6.12"])
        mom = r.choice(["1", "1", "0"])
        steps: list[tuple] = []
        blocks: list[int] = []
        nxt = 32
        for _ in range(r.choice([2, 3, 4] if exam else [1, 2, 3])):
            size = r.choice([128, 256, 384, 512] if exam else [128, 128, 256]) * MiB
            steps.append(("add", size))
            blocks += list(range(nxt, nxt + size // (128 * MiB)))
            nxt += size // (128 * MiB)
        online = []
        for b in blocks:
            t = r.choice(["online_movable", "online_movable", "online_kernel", None])
            if t:
                steps.append(("state", b, t))
                online.append(b)
        if online and r.random() < 0.5:
            steps.append(("state", r.choice(online), "offline"))
        if exam and online and r.random() < 0.5:
            steps.append(("state", r.choice(online), "offline"))
        try:
            m = run_sequence(kernel, mom, steps)
        except KernelError:
            continue
        zones = [z for z in ("Normal", "Movable") if zoneinfo_field(m, 1, z, "spanned")]
        if zones:
            break
    zone = r.choice(zones)
    key = r.choice(["present", "managed", "managed", "managed", "spanned"] if exam else
                   ["present", "managed", "managed", "spanned"])
    answer = zoneinfo_field(m, 1, zone, key)
    hand, notes = zoneinfo_by_hand(kernel, mom, steps, zone, key)
    vals = {k: zoneinfo_field(m, 1, zone, k) for k in ("spanned", "present", "managed")}
    mistakes: dict[object, str] = {}
    for other, v in vals.items():
        if other != key and v != answer:
            mistakes[v] = f"that is {other}, not {key}"
    alt = "0" if mom == "1" else "1"
    other_m = run_sequence(kernel, alt, steps)
    v_alt = zoneinfo_field(other_m, 1, zone, key)
    if v_alt != answer:
        mistakes.setdefault(v_alt, f"that is what memmap_on_memory={alt} would give")
    other_k = run_sequence("6.12" if kernel == "6.1" else "6.1", mom, steps)
    v_k = zoneinfo_field(other_k, 1, zone, key)
    if v_k != answer:
        mistakes.setdefault(v_k, "that is what Linux 6.12 gives: on 6.1 a DIMM of more than one block gets no "
                                 "self-hosted memmap at all (one block per add until 6.8), its memmap comes from "
                                 "node 0 and every one of its pfns is managed" if kernel == "6.1" else
                                 "that is what Linux 6.1 gives, which takes a multi-block DIMM's memmap from node 0; "
                                 "6.8+ give every block of any add its own altmap and 512 memmap pages")
    for value, hint in _common_mistakes(kernel, mom, steps, zone, key, vals):
        if value != answer:
            mistakes.setdefault(value, hint)
    mistakes.pop(answer, None)
    return Problem(
        "zoneinfo-after", seed,
        {"kernel": kernel,
         "machine": f"x86_64, 128 MiB blocks, memory_hotplug.memmap_on_memory={mom} memhp_default_state=offline",
         "actions, in order": "; ".join(_describe(s) for s in steps)},
        f"In /proc/zoneinfo, what does 'Node 1, zone {zone:>8}' show as {key}? (pages)",
        answer,
        f"Node 1 {zone}: " + ", ".join(f"{k} {v}" for k, v in vals.items()),
        rule=ZONEINFO_RULE,
        mistakes=mistakes, derivation=notes, by_hand=hand == answer, exam=exam)
