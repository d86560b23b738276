"""Problems on offlining: what ``echo offline > state`` returns, and helpers for the capture-C story (chapter 07).

The errno comes from a :class:`~workbook.machine.Machine` that performed every write; the
capture helpers read the real kernels' ``scenario.json`` (``workbook.captures``).
"""
from __future__ import annotations

import gzip

import numpy as np

from ..arch import MiB
from ..captures import capture_dir, load_scenario, step_file
from ..errors import KernelError
from ..pagemap import KPF
from . import Problem, register, rng
from .memmap_on_memory import hotplug_vm

__all__ = ["offline_result", "write_outcome", "captured_writes", "offline_log_lines", "captured_block_usage"]

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
    """Every ``write`` action of a capture: step, block, value, errno (0 = success) and strerror."""
    out = []
    for step in load_scenario(series, scenario)["steps"]:
        for a in step["actions"]:
            if a["op"] != "write" or (value is not None and a["value"] != value):
                continue
            block = a["path"].split("/")[-2]
            out.append({"step": step["name"], "block": block, "value": a["value"], "errno": int(a["errno"] or 0),
                        "strerror": a.get("strerror") or ""})
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


@register("offline-result")
def offline_result(seed: int) -> Problem:
    """What does ``echo offline > memoryN/state`` return after a given online and workload?"""
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
    names = {"ok": "success", "EBUSY": "Device or resource busy", "EINVAL": "Invalid argument",
             "EINTR": "Interrupted system call"}
    mistakes = {
        "EBUSY": "isolation fails only on an unmovable page in [buddy_start_pfn, end_pfn), and this block holds "
                 "none (look at its page map): anonymous pages are migrated, kernel allocations land only in "
                 "kernel zones, and the vmemmap pages are not in the range",
        "EINVAL": "EINVAL is for a block that is already offline (device_offline() returns 1) or a bad string",
        "ok": "the range holds an unmovable page (a kernel allocation in a kernel zone), so isolation fails",
        "EINTR": "EINTR needs a signal while migration retries; here migration finds room on node 0",
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
        rule="offline_pages(): isolation fails (EBUSY) on an unmovable page in [buddy_start_pfn, end_pfn); movable "
             "pages are migrated to other nodes; an offline block gives EINVAL; the vmemmap pages are never checked",
        mistakes=mistakes)
