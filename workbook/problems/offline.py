"""Problems on offlining: what ``echo offline > state`` returns, and helpers for the capture-C story (chapter 07).

The errno comes from a :class:`~workbook.machine.Machine` that performed every write; the
capture helpers read the real kernels' ``scenario.json`` (``workbook.captures``).
"""
from __future__ import annotations

import errno as _errno
import gzip

import numpy as np

from ..arch import MiB
from ..captures import capture_dir, load_scenario, step_file
from ..errors import KernelError
from ..pagemap import KPF
from . import Problem, register, rng
from .memmap_on_memory import hotplug_vm

__all__ = ["offline_result", "write_outcome", "captured_writes", "offline_log_lines", "captured_block_usage",
           "offline_by_hand"]

MEM = "/sys/devices/system/memory"
DYNDBG = 'dyndbg="file mm/memory_hotplug.c +p"'


def write_outcome(m, path: str, value: str) -> str:
    """``"ok"`` if the write succeeded, else the errno's name (``"EBUSY"``, ``"EINVAL"``, ...)."""
    try:
        m.write(path, value)
    except KernelError as e:
        return e.errno_name
    return "ok"


def captured_writes(series: str, scenario: str, value: str | None = None) -> list[dict]:
    """Every ``write`` action of a capture: step, block, value, errno (0 = success), strerror and timed_out.

    A write that had not returned after the harness's timeout (``timed_out``: the writer was
    killed with a signal) has no errno: ``errno`` is None for it, and ``outcome`` reads
    ``"timed out"``; otherwise ``outcome`` is ``"ok"`` or the errno's name.
    """
    out = []
    for step in load_scenario(series, scenario)["steps"]:
        for a in step["actions"]:
            if a["op"] != "write" or (value is not None and a["value"] != value):
                continue
            block = a["path"].split("/")[-2]
            timed_out = bool(a.get("timed_out"))
            err = None if timed_out else int(a["errno"] or 0)
            outcome = "timed out" if timed_out else ("ok" if not err else _errno.errorcode.get(err, str(err)))
            out.append({"step": step["name"], "block": block, "value": a["value"], "errno": err,
                        "strerror": a.get("strerror") or "", "timed_out": timed_out, "outcome": outcome})
    return out


def offline_log_lines(series: str, scenario: str, step: str) -> list[str]:
    """The ``memory offlining [...] failed`` and ``Offlined Pages`` lines a captured step's dmesg holds."""
    text = step_file(series, scenario, step, "dmesg.new")
    return [line for line in text.splitlines() if "memory offlining" in line or "Offlined Pages" in line]


def captured_block_usage(series: str, scenario: str, step: str, block_pages: int = 32768) -> dict[int, dict[str, int]]:
    """Per memory block of a captured step's kpageflags dump: pfns that are offline, memmap, free, in use.

    From the raw ``/proc/kpageflags`` words: ``NOPAGE`` = no online struct page (offline);
    ``OWNER_PRIVATE`` without ``BUDDY`` = the block's self-hosted memmap (PageVmemmapSelfHosted);
    ``BUDDY`` = free in the buddy allocator; anything else is in use (slab, pipe buffers,
    anonymous pages, or free pages waiting on a per-cpu list, which carry no flag either).
    """
    folder = capture_dir(series, scenario) / step
    start, count = (int(v) for v in (folder / "kpf_range").read_text().split())
    words = np.frombuffer(gzip.open(folder / "range.kpageflags.gz").read(), dtype="<u8")[:count]
    bit = lambda n: ((words >> np.uint64(n)) & np.uint64(1)).astype(bool)  # noqa: E731
    nopage, buddy, owner = bit(KPF.NOPAGE), bit(KPF.BUDDY), bit(KPF.OWNER_PRIVATE)
    kinds = {"offline": nopage, "memmap": owner & ~buddy & ~nopage, "free": buddy & ~nopage,
             "in use": ~nopage & ~buddy & ~owner}
    out = {}
    for first in range(0, count, block_pages):
        sl = slice(first, first + block_pages)
        out[(start + first) // block_pages] = {k: int(v[sl].sum()) for k, v in kinds.items()}
    return out


_LOADS = ("nothing", "a 64 MiB anonymous workload (stress)", "16 MiB of pinned pipe buffers",
          "16 MiB of pinned pipe buffers, then the pinning process exits")


def offline_by_hand(types: tuple[str, str], order: tuple[int, int], load: str, target: int,
                    twice: bool) -> tuple[str | None, list[str]]:
    """The errno of the offline by chapter 07's rules, with the steps; None where the rules do not decide it."""
    steps = []
    first_kernel = next((i for i in order if types[i] == "online_kernel"), None)
    if first_kernel is not None:
        steps.append(f"the first block onlined into ZONE_NORMAL, block {first_kernel} of the DIMM, is node 1's "
                     "first kernel memory: the kernel's own allocations for the node land in it at once")
    if types[target] == "online_movable":
        result = "ok"
        steps.append("the target is in ZONE_MOVABLE: it holds only movable pages, which migrate to node 0: the "
                     "first write succeeds")
    elif target == first_kernel:
        result = "EBUSY"
        steps.append("the target holds those unmovable pages: has_unmovable_pages() fails isolation: EBUSY")
    elif load == "nothing":
        result = "ok"
        steps.append("the target is the second kernel block and nothing was allocated since: no unmovable page in "
                     "it, the first write succeeds")
    else:
        return None, steps + ["both blocks are kernel memory and the load's kernel pages (page tables, pipe "
                              "buffers, slab) may land in either: where they land needs the model"]
    if twice:
        if result == "ok":
            steps.append("the second write finds the block offline already: EINVAL")
            result = "EINVAL"
        else:
            steps.append("the second write fails the same way: EBUSY")
    return result, steps


@register("offline-result", difficulty=3, by_hand="some", chapter="07")
def offline_result(seed: int, exam: bool = False) -> Problem:
    """What does ``echo offline > memoryN/state`` return after a given online and workload?"""
    if exam:
        return _offline_exam(seed)
    r = rng(seed, "offline-result")
    kernel = r.choice(["6.1", "6.12"])
    types = (r.choice(["online_movable", "online_kernel"]), r.choice(["online_movable", "online_kernel"]))
    order = r.choice([(0, 1), (1, 0)])
    load = r.choice(_LOADS)
    target = r.choice([0, 1])
    twice = r.random() < 0.25
    m = hotplug_vm(kernel, extra=DYNDBG)
    res = m.dimm_add(256 * MiB, 1, "dimm1")
    blocks = res.blocks
    onlined = ", ".join(f"memory{blocks[i]}={types[i]}" for i in order)
    for i in order:
        m.write(f"{MEM}/memory{blocks[i]}/state", types[i])
    if load != "nothing":
        w = m.start_workload(1, 64 * MiB) if "anon" in load else m.pin(1, 16 * MiB)
        if "exits" in load:
            m.stop_workload(w)
    path = f"{MEM}/memory{blocks[target]}/state"
    first = write_outcome(m, path, "offline")
    answer = write_outcome(m, path, "offline") if twice else first
    log = [line.split("] ", 1)[1] for line in m.dmesg_lines[-8:] if "memory offlining" in line]
    hand, steps = offline_by_hand(types, order, load, target, twice)
    names = {"ok": "success", "EBUSY": "Device or resource busy", "EINVAL": "Invalid argument",
             "EINTR": "Interrupted system call"}
    mistakes = {
        "EBUSY": "isolation fails only on an unmovable page in [buddy_start_pfn, end_pfn), and this block holds "
                 "none (look at its page map): anonymous pages are migrated, kernel allocations land only in "
                 "kernel zones, and the vmemmap pages are not in the range",
        "EINVAL": "EINVAL is for a block that is already offline (device_offline() returns 1) or a bad string",
        "ok": ("the range holds an unmovable page, so isolation fails: the kernel's own slab page, which node 1's "
               "first kernel-zone memory receives at once, or pinned pipe buffers beside it"),
        "EINTR": ("EINTR comes only from the retry loop, after isolation passed; here isolation refuses the "
                  "unmovable page at once (on 6.2-6.16 a slab page looks movable only when SLUB's list word in "
                  "page->mapping happens to end in binary 10, chapter 07)" if answer == "EBUSY" else
                  "EINTR comes from a retry loop that a signal ends; here every page in use can move (node 0 has "
                  "room) and the loop ends by itself"),
        "ENOMEM": "offlining never needs new memory of its own; migration targets come from other nodes",
    }
    if twice and first == "ok":
        mistakes["ok"] = "the first write already offlined the block: writing offline again is EINVAL"
    mistakes.pop(answer, None)
    return Problem(
        "offline-result", seed,
        {"kernel": kernel, "command line": m.cmdline, "hot-added": "one 256 MiB DIMM on node 1 "
         f"(memory{blocks[0]}, memory{blocks[1]})", "onlined, in order": onlined, "load on node 1": load,
         "offline": f"memory{blocks[target]}", "written twice": twice},
        f"What does {'the second of two writes' if twice else 'the write'} 'echo offline > {path}' give: "
        "\"ok\" or the errno name (\"EBUSY\", \"EINVAL\", \"EINTR\", ...)?",
        answer,
        (f"the first write gave {first}; " if twice else "") + f"result: {answer} ({names.get(answer, answer)})"
        + (f"; kernel log: {log[-1]}" if log and answer == "EBUSY" else ""),
        rule=OFFLINE_RULE, mistakes=mistakes, derivation=steps, by_hand=hand == answer)


OFFLINE_RULE = ("offline_pages(): isolation fails (EBUSY) on an unmovable page in [buddy_start_pfn, end_pfn); movable "
                "pages are migrated to other nodes; an offline block gives EINVAL; the vmemmap pages are never "
                "checked")


def _offline_exam(seed: int) -> Problem:
    """The exam variant: a DIMM of three or four blocks onlined in a given order; the result of offlining each."""
    r = rng(seed, "offline-result", True)
    while True:
        kernel = r.choice(["6.1", "6.12"])
        n = r.choice([3, 4])
        types = [r.choice(["online_movable", "online_kernel", "online_kernel", "offline"]) for _ in range(n)]
        order = [i for i in range(n) if types[i] != "offline"]
        r.shuffle(order)
        m = hotplug_vm(kernel, extra=DYNDBG)
        blocks = m.dimm_add(n * 128 * MiB, 1, "dimm1").blocks
        for i in order:
            m.write(f"{MEM}/memory{blocks[i]}/state", types[i])
        answer = tuple(write_outcome(m, f"{MEM}/memory{b}/state", "offline") for b in blocks)
        first_kernel = next((i for i in order if types[i] == "online_kernel"), None)
        hand = tuple("EINVAL" if types[i] == "offline" else "EBUSY" if i == first_kernel else "ok"
                     for i in range(n))
        if hand == answer:
            break
    steps = ([f"memory{blocks[first_kernel]} was the first block onlined into ZONE_NORMAL: node 1's first kernel "
              "memory, where the kernel's own allocations for the node land at once"] if first_kernel is not None
             else ["no block is kernel memory: nothing unmovable is on the DIMM"])
    steps += [f"memory{b}: " + ("was never onlined: device_offline() of an offline block, EINVAL"
                                if types[i] == "offline" else
                                "holds those unmovable pages: isolation fails, EBUSY" if i == first_kernel
                                else "ZONE_MOVABLE: its pages migrate, ok" if types[i] == "online_movable"
                                else "kernel zone but no unmovable page in it: ok") for i, b in enumerate(blocks)]
    return Problem(
        "offline-result", seed,
        {"kernel": kernel, "command line": m.cmdline,
         "hot-added": f"one {n * 128} MiB DIMM on node 1 ({', '.join(f'memory{b}' for b in blocks)})",
         "onlined, in this order": ", ".join(f"memory{blocks[i]}={types[i]}" for i in order) or "none",
         "left offline": ", ".join(f"memory{b}" for i, b in enumerate(blocks) if types[i] == "offline") or "none",
         "then": "echo offline > state of every block, in block order (nothing else runs)"},
        "What does each offline write give, in block order: \"ok\" or the errno name? "
        "(e.g. \"ok, EBUSY, ok\")",
        answer, "results: " + ", ".join(answer), rule=OFFLINE_RULE, derivation=steps, exam=True)
