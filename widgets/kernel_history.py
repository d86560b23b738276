"""Chapter 11's views of the kernel versions: the dated table of changes, switch tables, and small version contrasts.

Everything here reads :data:`workbook.kernel.CHANGES` or runs the model; nothing is a hand-written
table, so a change added to the model shows up in the chapter the next time it runs.  The tables
name each change in the kernel's words; the model's switch is only their last column.
"""
from __future__ import annotations

from typing import Sequence

from workbook.arch import MiB
from workbook.captures import load_scenario
from workbook.errors import KernelError
from workbook.kernel import CHANGES, KERNELS, Change, changes_between
from workbook.machine import Machine
from workbook.slub import set_slab_state, slab_heads

__all__ = ["changes_table", "changes_by_kernel", "has_change", "offline_with_slab", "recorded_writes",
           "errno_text"]

_MEM = "/sys/devices/system/memory"


def changes_table(old: str = "5.10", new: str = "7.2") -> str:
    """The changes from ``old`` (exclusive) to ``new`` as a Markdown table: release, what changed, source, switch."""
    rows = ["| release | what changed | source | switch |", "|---|---|---|---|"]
    for c in changes_between(old, new):
        rows.append(f"| {c.release} | {c.what.replace('|', '/')} | {c.source} | `{c.switch}` |")
    return "\n".join(rows)


def has_change(kernel: str, change: Change) -> bool:
    """Whether ``kernel``'s profile has ``change``: released by then, not gone again, and not overridden since."""
    k = KERNELS[kernel]
    return (change.since <= k.version and (change.until is None or k.version < change.until)
            and k.switches()[change.switch] == change.value)


def changes_by_kernel(kernels: Sequence[str], switches: Sequence[str]) -> str:
    """A Markdown table: each change of ``switches``, in the kernel's words, and which of ``kernels`` have it."""
    rows = ["| release | what changed | " + " | ".join(kernels) + " | switch |",
            "|---|---|" + "---|" * len(kernels) + "---|"]
    for c in CHANGES:
        if c.switch in switches:
            cells = " | ".join("yes" if has_change(k, c) else "-" for k in kernels)
            rows.append(f"| {c.release} | {c.what.replace('|', '/')} | {cells} | `{c.switch}` |")
    return "\n".join(rows)


def errno_text(e: KernelError) -> str:
    """``EBUSY``, or ``EINTR (only when signalled)`` for a write the kernel would retry forever."""
    return f"{e.errno_name} (only when signalled)" if getattr(e, "until_signal", False) else e.errno_name


def offline_with_slab(kernel: str, slab_state: str) -> str:
    """Online a 128 MiB DIMM ``online_kernel`` on node 1, put the kernel's own slab page there in ``slab_state``
    (``workbook.slub``: ``cpu``, ``node``, ``off``, ``cpu_partial``) and write ``offline``: what the write returns."""
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    m.dimm_add(128 * MiB, 1, "dimm1")
    m.write(f"{_MEM}/memory32/state", "online_kernel")
    b = m.blocks[32]
    heads = slab_heads(m, b.start_pfn, b.end_pfn)
    if not heads:
        raise RuntimeError("the kernel's own slab page did not land in memory32")
    set_slab_state(m, heads[0], slab_state)
    try:
        m.write(f"{_MEM}/memory32/state", "offline")
    except KernelError as e:
        return errno_text(e)
    return "ok"


def recorded_writes(series: str, scenario: str, value: str = "offline") -> list[str]:
    """What each ``echo value > memoryN/state`` of a shipped capture returned, as its scenario.json recorded it."""
    out = []
    for step in load_scenario(series, scenario)["steps"]:
        for a in step.get("actions", []):
            if a.get("op") != "write" or a.get("value") != value or not a["path"].startswith(_MEM):
                continue
            block = a["path"].split("/")[-2]
            if a.get("timed_out"):
                result = "did not return (the harness killed the writer)"
            else:
                names = {0: "ok", 16: "EBUSY", 22: "EINVAL"}
                result = names.get(a.get("errno"), f"errno {a.get('errno')}")
            out.append(f"{step['name']:<22} echo {value} > {block}/state: {result}")
    return out
