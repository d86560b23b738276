"""Problems on hot-remove: does an ACPI eject (QEMU device_del) of a DIMM succeed? (chapter 09)."""
from __future__ import annotations

import re
from typing import Sequence

from ..arch import MiB
from ..errors import KernelError
from ..machine import Machine
from . import Problem, register, rng

__all__ = ["EJECT_RULE", "eject_outcome", "eject_machine", "eject_by_hand"]

EJECT_RULE = ("acpi_scan_try_to_offline(): offline every block (first pass goes on after an error, the second "
              "stops at the first block that still fails, prints \"memory memoryN: Offline failed.\" and "
              "re-onlines the rest); a ZONE_NORMAL block that holds unmovable kernel pages cannot be offlined, "
              "ZONE_MOVABLE blocks migrate their pages away")

_MEM = "/sys/devices/system/memory"


def eject_machine(kernel: str, online_types: Sequence[str], stress_bytes: int = 0) -> tuple[Machine, list[int]]:
    """The chapter's VM with one DIMM of ``len(online_types)`` 128 MiB blocks on node 1, each block written its type.

    ``"offline"`` leaves a block offline.  ``stress_bytes`` of anonymous memory then run on node 1.
    """
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    r = m.dimm_add(len(online_types) * 128 * MiB, 1, "dimm1")
    for bid, t in zip(r.blocks, online_types):
        if t != "offline":
            m.write(f"{_MEM}/memory{bid}/state", t)
    if stress_bytes:
        m.start_workload(1, stress_bytes)
    return m, list(r.blocks)


def eject_outcome(kernel: str, online_types: Sequence[str], stress_bytes: int = 0) -> str:
    """``"deleted"``, or the block named in "memory memoryN: Offline failed." when device_del does not complete."""
    m, _ = eject_machine(kernel, online_types, stress_bytes)
    mark = len(m.dmesg_lines)
    res = m.dimm_del("dimm1")
    if res.result == "deleted":
        return "deleted"
    for line in m.dmesg_lines[mark:]:
        found = re.search(r"memory (memory\d+): Offline failed\.", line)
        if found:
            return found.group(1)
    return res.result


def eject_by_hand(types: Sequence[str], stress_bytes: int = 0, first: int = 32) -> tuple[str, list[str]]:
    """The outcome of device_del by chapter 09's rules (blocks written in block order), with the steps."""
    steps = []
    kernel = [i for i, t in enumerate(types) if t == "online_kernel"]
    if not kernel:
        steps.append("no block is in ZONE_NORMAL: node 1 has no kernel memory, so every kernel allocation for it "
                     "(and the stress program's page tables) went to node 0")
        steps.append("every online block is ZONE_MOVABLE: its pages migrate to node 0 and it offlines")
        return "deleted", steps + ["every block offline: the DIMM is ejected: deleted"]
    name = f"memory{first + kernel[0]}"
    steps.append(f"{name} is the first block onlined into ZONE_NORMAL: node 1's first kernel memory, where the "
                 "kernel's own allocations for the node land at once (unmovable)")
    if stress_bytes:
        steps.append("the stress program's anonymous pages are movable; they migrate")
    steps.append(f"acpi_scan_try_to_offline(): the second pass stops at the first block that still fails, in block "
                 f"order: {name}")
    return name, steps


@register("dimm-eject", difficulty=3, chapter="09")
def dimm_eject(seed: int, exam: bool = False) -> Problem:
    """QEMU device_del of a DIMM whose blocks were onlined in different ways: ejected, or which block fails?"""
    r = rng(seed, "dimm-eject", exam)
    while True:
        kernel = r.choice(["6.1", "6.12"])
        n = r.choice([3, 4, 5, 6, 7, 8] if exam else [2, 3, 4])
        types = [r.choice(["online_movable", "online_movable", "online_kernel", "offline"]) for _ in range(n)]
        if exam:    # the first kernel block anywhere (or none), equally likely: no answer dominates
            k = r.randrange(0, n + 1)
            types = [r.choice(["online_movable", "offline"]) for _ in range(k)] + (
                ["online_kernel"] + types[k + 1:] if k < n else [])
        stress = r.choice([0, 0, 32, 64]) * MiB
        try:
            answer = eject_outcome(kernel, types, stress)
        except KernelError:
            continue                       # a write the kernel refuses: draw again
        break
    first = 32
    hand, steps = eject_by_hand(types, stress, first)
    names = [f"memory{first + i}" for i in range(n)]
    mistakes: dict[object, str] = {}
    for name, t in zip(names, types):
        if name == answer:
            continue
        if t == "online_kernel":
            mistakes[name] = ("that block is online_kernel, but it holds no unmovable page: the kernel's first "
                              "allocations on the node went to an earlier ZONE_NORMAL block")
        elif t == "offline":
            mistakes[name] = "that block is already offline: device_offline() has nothing to do"
        else:
            mistakes[name] = ("that block is in ZONE_MOVABLE: its pages migrate to node 0 and it offlines; "
                              "the self-hosted memmap does not block offlining")
    if answer != "deleted":
        mistakes["deleted"] = (f"{answer} is a ZONE_NORMAL block and the kernel allocated unmovable pages in it "
                               "when node 1 got its first kernel memory: has_unmovable_pages() fails isolation (EBUSY)")
    else:
        mistakes.update({nm: "every block offlines here, so the eject completes" for nm in names})
    mistakes.pop(answer, None)
    return Problem(
        "dimm-eject", seed,
        {"kernel": kernel, "machine": "x86_64, memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
         "hot-add": f"one {n * 128} MiB DIMM 'dimm1' on node 1 (memory32..memory{first + n - 1})",
         "then echo to memory32, memory33, ... /state": ", ".join(types),
         "then stress on node 1 (MiB of anonymous memory)": stress >> 20,
         "finally": "(qemu) device_del dimm1"},
        "Does the guest eject the DIMM? Answer 'deleted', or the block named in "
        "'memory memoryN: Offline failed.' (e.g. 'memory33').",
        answer,
        f"device_del -> {answer}",
        rule=EJECT_RULE,
        mistakes=mistakes, derivation=steps, by_hand=hand == answer, exam=exam)
