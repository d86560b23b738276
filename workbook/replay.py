"""Replay a real-kernel capture on the model and compare, field by field (``python -m workbook replay DIR``).

A capture folder (see CAPTURE_FORMAT.md) holds ``scenario.json`` (the machine and the
actions before each step) and one folder per step with what the kernel printed.  The replay
builds the same machine, performs the same actions in order through the model's public
interface (:class:`ScenarioRunner`) and, after each step, reads the model and the captured
folder the same way (:mod:`workbook.observe`) and compares every observation.

It fails closed: a missing step folder or file, a zone stanza the capture lacks, a
kpageflags dump of the wrong length, an action it cannot perform, or a capture with no step
at all is a mismatch or an error, and the exit status is non-zero.  Two kinds of values are
not the model's to predict; the report names each and says why:

* **taken from the capture** (inputs): the pages the kernel allocates for itself on a node's
  kernel-zone memory (slab of the threads that run there, their stacks, ...) vary from run
  to run.  The replay reads them off the captured kpageflags (how many, of which order) and
  allocates them in the model at the earliest moment they can have been allocated; the
  model's buddy allocator places them, and what follows (free counts, EBUSY, which
  pageblocks they land in) is compared.  Within the pageblocks that hold them, BUDDY bits
  are compared as a count: the order in which the kernel allocated them, which decides the
  pfn each one got there, is not recorded.
* **left out**: where the per-cpu lists hold another number of pages than the model's, the
  zone's free count and BUDDY bits (free + per-cpu lists is compared instead); free counts
  and BUDDY bits of zones a workload has allocated in (which
  pages a process, its page tables and its pipes' slab take is not determined), node 0's
  totals (boot memory is kept as counts), dmesg, watermarks and event counters.
"""
from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field

import numpy as np

from .captures import CaptureError, load_capture_scenario
from .errors import KernelError
from .machine import Machine, NodeSpec
from .observe import (BitMap, CaptureStep, Missing, ModelStep, Obs, StepContext, find_lsmem, observe,
                      pageblocks_by_type, parse_zoneinfo, zone_pcp_counts, zone_stat_thresholds)
from .pagemap import KPF

__all__ = ["Field", "ReplayResult", "CaptureError", "ScenarioRunner", "StepRun", "CompareContext", "iter_replay",
           "replay", "machine_from_scenario", "load_capture_scenario", "hot_nodes", "is_dax_run", "parse_zoneinfo",
           "main"]

_SYS = "sys/devices/system"
_KPF_KINDS = ("RESERVED", "OWNER_PRIVATE", "NOPAGE", "BUDDY")
_DAX_KINDS = ("dax device", "dax driver", "dax attr", "dax region", "platform device", "memory tier", "module")


@dataclass
class Field:
    """One compared value."""

    step: str
    name: str
    model: object
    capture: object
    kind: str = "other"

    @property
    def ok(self) -> bool:
        """The model printed what the kernel printed (a value missing on either side never matches)."""
        if isinstance(self.model, Missing) or isinstance(self.capture, Missing):
            return False
        return self.model == self.capture

    def _show(self, v: object, other: object) -> str:
        if isinstance(v, BitMap):
            return v.describe(other if isinstance(other, BitMap) else None)
        return _short(v)

    def line(self) -> str:
        """``step name: match (value)`` or ``MISMATCH model=... capture=...``."""
        if self.ok:
            return f"{self.step:<32} {self.name:<44} match     {self._show(self.capture, None)}"
        return (f"{self.step:<32} {self.name:<44} MISMATCH  model={self._show(self.model, self.capture)} "
                f"capture={self._show(self.capture, None)}")


def _short(v: object) -> str:
    s = repr(v) if not isinstance(v, str) else v.replace("\n", "\\n")
    return s if len(s) < 120 else s[:117] + "..."


@dataclass
class ReplayResult:
    """All compared fields of one capture, what was taken from the capture, what was left out, and errors."""

    capture: str
    fields: list[Field] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)           # values taken from the capture, with why
    left_out: dict[str, list[str]] = field(default_factory=dict)   # "what: why" -> steps
    errors: list[str] = field(default_factory=list)           # what could not be read or performed
    machine: Machine | None = None

    @property
    def matched(self) -> int:
        """How many fields match."""
        return sum(f.ok for f in self.fields)

    @property
    def ok(self) -> bool:
        """Every field matches, at least one was compared, and nothing failed."""
        return bool(self.fields) and not self.errors and self.matched == len(self.fields)

    def kinds(self) -> dict[str, tuple[int, int]]:
        """{kind: (compared, matched)} over all fields."""
        out: dict[str, list[int]] = {}
        for f in self.fields:
            t = out.setdefault(f.kind, [0, 0])
            t[0] += 1
            t[1] += f.ok
        return {k: (v[0], v[1]) for k, v in out.items()}

    def leave_out(self, step: str, what: str, why: str) -> None:
        """Record a value the replay does not compare in ``step``, and why."""
        steps = self.left_out.setdefault(f"{what}: {why}", [])
        if step not in steps:
            steps.append(step)

    def report(self, only_mismatches: bool = False) -> str:
        """The replay's printout: one line per field, the inputs and the left-out values, then ``M of N``."""
        rows = [f.line() for f in self.fields if not (only_mismatches and f.ok)]
        rows += [f"error: {e}" for e in self.errors]
        if self.inputs:
            rows.append("taken from the capture:")
            rows += [f"  {i}" for i in self.inputs]
        if self.left_out:
            rows.append("left out:")
            for what, steps in self.left_out.items():
                rows.append(f"  {what} [{_step_span(steps)}]")
        rows.append(f"{self.matched} of {len(self.fields)} fields match"
                    + (f"; {len(self.errors)} error(s)" if self.errors else ""))
        return "\n".join(rows)


def _step_span(steps: list[str]) -> str:
    return steps[0] if len(steps) == 1 else f"{steps[0]} .. {steps[-1]} ({len(steps)} steps)"


# ----------------------------------------------------------------------------------------------
# the scenario
# ----------------------------------------------------------------------------------------------
def hot_nodes(sc: dict) -> list[int]:
    """Nodes whose memory all arrives by hot-plug, so all of it is compared.

    A node with no boot memory, or whose boot memory the command line turned into Soft
    Reserved (``machine.soft_reserved``): such a node boots memoryless and gets memory only
    when kmem hot-adds it.
    """
    from .qemu import pc_memory_layout
    mach = sc["machine"]
    soft = [(int(r["start"]), int(r["end"])) for r in mach.get("soft_reserved") or []]
    sizes = {int(n["id"]): int(n.get("boot_memory_bytes", 0)) for n in mach["nodes"]}
    ranges: dict[int, list[tuple[int, int]]] = {}
    if soft:
        opts = mach.get("qemu_machine_options") or {}
        ranges = pc_memory_layout(int(mach["ram_bytes"]), int(mach["maxmem_bytes"]), int(mach["slots"]), sizes,
                                  max_ram_below_4g=opts.get("max-ram-below-4g")).node_ranges
    return [nid for nid, size in sizes.items()
            if size == 0 or (ranges.get(nid) and all(any(s <= a and b <= e for s, e in soft) for a, b in ranges[nid]))]


def machine_from_scenario(sc: dict, kernel_own_pages: str = "none") -> Machine:
    """Build the machine a capture's ``scenario.json`` describes (the kernel's own pages come from the capture)."""
    mach = sc["machine"]
    nodes = [NodeSpec(n["id"], list(n["cpus"]), int(n["boot_memory_bytes"])) for n in mach["nodes"]]
    window = mach.get("srat_hotplug_window") or {}
    return Machine(kernel=sc["kernel"]["series"], arch=mach.get("arch", "x86_64"), nodes=nodes,
                   cmdline=mach.get("cmdline", ""), ram_bytes=int(mach["ram_bytes"]),
                   maxmem_bytes=int(mach["maxmem_bytes"]), slots=int(mach["slots"]),
                   hotplug_node=window.get("node"), config=sc["kernel"].get("config", {}),
                   kernel_own_pages=kernel_own_pages, machine_options=mach.get("qemu_machine_options"))


def is_dax_run(sc: dict) -> bool:
    """A dax/kmem run (Soft Reserved memory, modules loaded): its steps have dax.txt."""
    return bool(sc["machine"].get("soft_reserved")) or any(
        a.get("op") == "module_load" for st in sc["steps"] for a in st.get("actions", []))


def _eval_wait(m: Machine, until: str) -> bool | None:
    """Evaluate a ``wait`` condition: ``[ -d PATH ]``, ``[ ! -e PATH ]``, ``grep -q TEXT PATH``,
    ``ls DIR 2>/dev/null | grep -q TEXT``; None if unknown."""
    s = until.strip()
    mm = re.fullmatch(r"\[\s*(!\s*)?-[def]\s+(\S+)\s*\]", s)
    if mm:
        there = m.exists(mm.group(2))
        return not there if mm.group(1) else there
    mm = re.fullmatch(r"ls\s+(\S+?)/?(?:\s+2>\s*/dev/null)?\s*\|\s*grep\s+-q\s+['\"]?([^'\"\s]+)['\"]?", s)
    if mm:
        try:
            entries = m.ls(mm.group(1))
        except KernelError:
            entries = []
        return any(mm.group(2) in e for e in entries)
    mm = re.fullmatch(r"(!\s*)?grep\s+-q[sx]*\s+['\"]?([^'\"]+?)['\"]?\s+(\S+)", s)
    if mm:
        try:
            found = mm.group(2) in m.read(mm.group(3))
        except KernelError:
            found = False
        return not found if mm.group(1) else found
    return None


@dataclass
class ActionOutcome:
    """What one action did on the model: a log line, and the values to compare with the capture."""

    line: str
    fields: list[tuple[str, str, object, object]] = field(default_factory=list)   # name, kind, model, capture
    error: str | None = None                     # the action could not be performed
    inputs: list[str] = field(default_factory=list)   # what the action took from the capture


class ScenarioRunner:
    """Performs the actions of a ``scenario.json`` on a model machine, through its public interface."""

    def __init__(self, sc: dict, machine: Machine | None = None) -> None:
        self.sc = sc
        self.m = machine if machine is not None else machine_from_scenario(sc)
        self.running: dict[tuple[str, int], list] = {}

    def running_on(self, nid: int) -> bool:
        """A workload or pinning process is running on node ``nid``."""
        return any(ws for (_, n), ws in self.running.items() if n == nid)

    def do(self, a: dict) -> ActionOutcome:
        """Perform one action; an action the model cannot perform is an error, never skipped."""
        m, op = self.m, a.get("op")
        if op == "dimm_add":
            r = m.dimm_add(int(a["size_bytes"]), int(a["node"]), a["id"], int(a["addr"]) if "addr" in a else None)
            got = "ok" if r.result == "ok" else "error"
            want = "ok" if a.get("result") == "ok" else "error"
            what = got if got == "error" else ("add_memory failed" if r.error else f"blocks {list(r.blocks)}")
            return ActionOutcome(f"(qemu) device_add pc-dimm,id={a['id']},node={a['node']}  -> {what}",
                                 [(f"dimm_add {a['id']} result", "dimm_add", got, want)])
        if op == "dimm_del":
            r = m.dimm_del(a["id"])
            want = "deleted" if a.get("result") == "deleted" or a.get("deleted_later") else "not-deleted"
            return ActionOutcome(f"(qemu) device_del {a['id']}  -> {r.result}",
                                 [(f"dimm_del {a['id']} result", "dimm_del", r.result, want)])
        if op == "write":
            inputs = _slab_state_input(m, a)
            try:
                m.write(a["path"], a["value"])
                got: object = 0
                res = "ok"
            except KernelError as e:
                # a write the kernel would not have returned from by itself, stopped by a signal
                got, res = ("timed out", "blocked until a signal") if e.until_signal else (e.errno, e.errno_name)
            if a.get("timed_out"):
                want: object = "timed out"
            else:
                want = int(a["errno"]) if a.get("errno") is not None else Missing("errno")
            parts = a["path"].rstrip("/").split("/")
            return ActionOutcome(f"echo {a['value']} > {a['path']}  -> {res}",
                                 [(f"write {a['value']} > {'/'.join(parts[-2:])} errno", "errno", got, want)],
                                 inputs=inputs)
        if op == "shell":
            # the harness's own record of a module command (run_meta.json step_actions): insmod, modprobe, rmmod
            cmd = str(a.get("cmd", "")).strip()
            mm = re.fullmatch(r"(?:insmod\s+(?:\S*/)?(\w+)\.ko|modprobe\s+(\w+))", cmd)
            mr = re.fullmatch(r"(?:rmmod|modprobe\s+-r)\s+(\w+)", cmd)
            if mm or mr:
                name = (mm.group(1) or mm.group(2)) if mm else mr.group(1)
                return self.do({"op": "module_load" if mm else "module_unload", "name": name, "rc": a.get("rc")})
            return ActionOutcome(cmd, error=f"shell command the model cannot perform: {cmd!r}")
        if op in ("module_load", "module_unload"):
            load = op == "module_load"
            try:
                (m.insmod if load else m.rmmod)(a["name"])
                rc, what = 0, "loaded" if load else "unloaded"
            except KernelError as e:
                rc, what = 1, e.message or e.errno_name           # busybox insmod/rmmod exit 1
            want = int(a["rc"]) if a.get("rc") is not None else Missing("rc")
            verb = "insmod" if load else "rmmod"
            return ActionOutcome(f"{verb} {a['name']}{'.ko' if load else ''}  -> {what}",
                                 [(f"{op} {a['name']} rc", "module_load", rc, want)])
        if op == "wait":
            got_w = _eval_wait(m, a["until"])
            if got_w is None:
                return ActionOutcome(f"wait {a['until']}", error=f"wait condition the model cannot evaluate: "
                                                                 f"{a['until']!r}")
            return ActionOutcome(f"wait {a['until']}", [(f"wait {a['until']}", "wait", got_w, bool(a.get("ok")))])
        if op == "workload_start":
            w = m.start_workload(int(a["node"]), int(a["bytes"]), a.get("cpu"), "stress")
            self.running.setdefault(("anon", int(a["node"])), []).append(w)
            return ActionOutcome(f"stress on node {a['node']}: {int(a['bytes']) >> 20} MiB of anonymous memory")
        if op == "pin_start":
            w = m.pin(int(a["node"]), int(a["bytes"]), int(a.get("pipes") or 0), a.get("cpu"), "pin")
            self.running.setdefault(("pin", int(a["node"])), []).append(w)
            return ActionOutcome(f"pin on node {a['node']}: {int(a['bytes']) >> 20} MiB of pipe buffers")
        if op in ("workload_stop", "pin_stop"):
            for w in self.running.pop(("anon" if op == "workload_stop" else "pin", int(a["node"])), []):
                m.stop_workload(w)
            return ActionOutcome(f"kill the {'stress' if op == 'workload_stop' else 'pin'} process "
                                 f"on node {a['node']}")
        if op == "drop_caches":
            m.drop_caches()
            return ActionOutcome(f"echo {a.get('value', 3)} > /proc/sys/vm/drop_caches")
        if op == "compact":
            m.compact_memory()
            return ActionOutcome("echo 1 > /proc/sys/vm/compact_memory")
        if op in ("sync", "sleep", "poweroff", "qemu_stop"):
            m.tick(float(a.get("seconds", 0) or 0))
            return ActionOutcome(op if op != "sleep" else f"sleep {a.get('seconds')}")
        return ActionOutcome(str(op), error=f"action the model cannot perform: {json.dumps(a)[:200]}")


def _slab_state_input(m: Machine, a: dict) -> list[str]:
    """Before an ``offline`` write on a 6.2-6.16 kernel: SLUB's state of the block's slab pages, from the capture.

    Whether a slab page passes isolation depends on where SLUB keeps it at that moment
    (workbook.slub), which is timing, not mechanism: the capture's outcome says it.  A write
    that did not return says every slab of the block looked movable; EBUSY says one did not.
    """
    from .slub import set_slab_state, slab_heads, slab_looks_movable
    mm = re.fullmatch(r"/sys/devices/system/memory/memory(\d+)/(state|online)", a.get("path", ""))
    if not m.kernel.slab_mapping_aliases_movable or mm is None:
        return []
    if (mm.group(2), str(a.get("value", "")).strip()) not in (("state", "offline"), ("online", "0")):
        return []
    b = m.blocks.get(int(mm.group(1)))
    if b is None or b.pagemap is None or (not a.get("timed_out") and a.get("errno") != 16):
        return []
    heads = slab_heads(m, b.start_pfn, b.end_pfn)
    looks = [slab_looks_movable(m, h) for h in heads]
    if not heads or (a.get("timed_out") and all(looks)) or (not a.get("timed_out") and not all(looks)):
        return []
    if a.get("timed_out"):
        for h in heads:
            set_slab_state(m, h, "off")
        how = "looked movable (taken off a node partial list: page->mapping = LIST_POISON2)"
    else:
        set_slab_state(m, heads[looks.index(True)], "node")
        how = "did not all look movable (one on a node partial list)"
    return [f"the slab page(s) of {b.name} at {', '.join(f'{h:#x}' for h in heads)} {how}, as the write's "
            f"outcome shows: SLUB's timing"]


# ----------------------------------------------------------------------------------------------
# what decides the comparison: the scenario and the reference capture, never the model
# ----------------------------------------------------------------------------------------------
class CompareContext:
    """Follows the scenario and the reference capture step by step to decide what is compared."""

    def __init__(self, sc: dict, capture_dir: str, default_block_pfns: int, page_shift: int) -> None:
        self.sc = sc
        self.dir = capture_dir
        self.hot = hot_nodes(sc)
        self.block_pfns = default_block_pfns
        self.page_shift = page_shift
        self.touched: set[tuple[int, str]] = set()     # zones a workload has allocated in since populated
        self.dax = is_dax_run(sc)
        self.iomem_ranges = [(int(r["start"]), int(r["end"])) for r in sc["machine"].get("soft_reserved") or []]

    def step(self, step: dict, ref: CaptureStep, running: set[int]) -> StepContext:
        """The context of one step, after its actions (``running``: nodes a workload runs on)."""
        sr = ref.sysroot()
        files, links = sr if sr is not None else ({}, {})
        bsb = files.get(f"{_SYS}/memory/block_size_bytes")
        if bsb:
            self.block_pfns = int(bsb.strip(), 16) >> self.page_shift
        blocks = sorted(int(mm.group(1)) for k in files if (mm := re.fullmatch(rf"{_SYS}/memory/memory(\d+)/state", k)))
        zi = ref.text("zoneinfo")
        zones = parse_zoneinfo(zi) if zi else {}
        zmap = {nid: [z for (n, z) in zones if n == nid] for nid in self.hot}
        for (n, z), v in zones.items():
            if n not in self.hot:
                continue
            if not v.get("present"):
                self.touched.discard((n, z))       # the zone is empty again: nothing of a workload is left
            elif n in running:
                self.touched.add((n, z))
        no_free: dict[tuple[int, str], str] = {}
        for nid in self.hot:
            for z in zmap[nid]:
                if not zones.get((nid, z), {}).get("present"):
                    continue                       # an empty zone has nothing free: compared
                if nid in running:
                    no_free[(nid, z)] = f"a workload (stress or pin) runs on node {nid}"
                elif (nid, z) in self.touched:
                    no_free[(nid, z)] = ("a workload (stress or pin) has allocated in this zone since it was "
                                         "populated")
        no_buddy: dict[int, str] = {}
        kr = step.get("kpf_range")
        if kr:
            start, count = int(kr[0]), int(kr[1])
            for bid in range(start // self.block_pfns, (start + count - 1) // self.block_pfns + 1):
                node = [k.split("node")[-1] for k in links if re.fullmatch(rf"{_SYS}/memory/memory{bid}/node\d+", k)]
                state = (files.get(f"{_SYS}/memory/memory{bid}/state") or "").strip()
                zname = (files.get(f"{_SYS}/memory/memory{bid}/valid_zones") or "").split()
                if not node or state != "online":
                    continue
                nid = int(node[0])
                if nid not in self.hot:
                    no_buddy[bid] = f"memory{bid} is boot memory of node {nid}, which the model keeps as counts"
                elif zname and (nid, zname[0]) in no_free:
                    no_buddy[bid] = no_free[(nid, zname[0])]
        return StepContext(step=step["name"], hot_nodes=self.hot,
                           params_file=ref.text("memory_hotplug_params") is not None,
                           kpf_range=(int(kr[0]), int(kr[1])) if kr else None, block_pfns=self.block_pfns,
                           blocks=blocks, zones=zmap, no_free=no_free, no_buddy=no_buddy, dax=self.dax,
                           iomem_ranges=self.iomem_ranges)


# ----------------------------------------------------------------------------------------------
# the kernel's own pages, taken from the capture
# ----------------------------------------------------------------------------------------------
OwnPages = dict[tuple[int, str], dict[tuple[int, bool], int]]     # (node, zone) -> {(order, slab): count}


def kernel_own_pages_seen(ref: CaptureStep, ctx: StepContext,
                          busy_pfns: dict[int, list[int]] | None = None) -> tuple[OwnPages, list[str]]:
    """The kernel's own page blocks in the hot nodes' kernel zones that no workload touched, as captured.

    Read from the dumped kpageflags: compound pages (head + tails: the order; SLAB or not)
    and the other pages that are neither free (BUDDY) nor the self-hosted memmap, less the
    pages the zone's per-cpu lists hold (zoneinfo pagesets ``count``), which kpageflags
    cannot tell from allocated ones.  Only zones the dumped range covers completely.  ``busy_pfns``,
    if given, gets each such block's node, zone and pfns of those pages.
    """
    out: OwnPages = {}
    notes: list[str] = []
    if ctx.kpf_range is None:
        return out, notes
    start, count = ctx.kpf_range
    words = ref.kpageflags(start, count)
    sr = ref.sysroot()
    zi = ref.text("zoneinfo")
    if words is None or sr is None or zi is None:
        return out, notes
    words = words[:count]
    files, links = sr
    zones = parse_zoneinfo(zi)
    pcp = zone_pcp_counts(zi)
    bit = lambda w, b: (w >> np.uint64(b)) & np.uint64(1)  # noqa: E731
    ppb = ctx.block_pfns
    for bid in range(start // ppb, (start + len(words) + ppb - 1) // ppb):
        node = [k.split("node")[-1] for k in links if re.fullmatch(rf"{_SYS}/memory/memory{bid}/node\d+", k)]
        state = (files.get(f"{_SYS}/memory/memory{bid}/state") or "").strip()
        vz = (files.get(f"{_SYS}/memory/memory{bid}/valid_zones") or "").split()
        if not node or state != "online" or not vz:
            continue
        nid, zname = int(node[0]), vz[0]
        if nid not in ctx.hot_nodes or zname == "Movable" or (nid, zname) in ctx.no_free:
            continue
        z = zones.get((nid, zname), {})
        zs, zspan = z.get("start_pfn"), z.get("spanned", 0)
        if zs is None or zs < start or zs + zspan > start + len(words):
            notes.append(f"node {nid} {zname}: the dump does not cover the whole zone; its own pages not read")
            continue
        lo, hi = bid * ppb - start, min((bid + 1) * ppb - start, len(words))
        seg = words[max(lo, 0):hi]
        busy = (bit(seg, KPF.BUDDY) == 0) & (bit(seg, KPF.OWNER_PRIVATE) == 0)
        idx = np.nonzero(busy)[0]
        if busy_pfns is not None and len(idx):
            busy_pfns[bid] = (nid, zname, (start + max(lo, 0) + idx).tolist())
        counts = out.setdefault((nid, zname), {})
        i = 0
        while i < len(idx):
            j = int(idx[i])
            w = seg[j]
            if bit(w, KPF.COMPOUND_HEAD):
                tails = 0
                while j + 1 + tails < len(seg) and bit(seg[j + 1 + tails], KPF.COMPOUND_TAIL):
                    tails += 1
                n = tails + 1
                if n & (n - 1) == 0:
                    key = (n.bit_length() - 1, bool(bit(w, KPF.SLAB)))
                    counts[key] = counts.get(key, 0) + 1
                    i = int(np.searchsorted(idx, j + n))
                    continue
            key = (0, bool(bit(w, KPF.SLAB)))
            counts[key] = counts.get(key, 0) + 1
            i += 1
    for key, counts in out.items():
        cached = pcp.get(key, 0)
        plain = counts.get((0, False), 0)
        counts[(0, False)] = max(plain - cached, 0)
        for k in [k for k, v in counts.items() if not v]:
            del counts[k]
    return out, notes


def _describe(c: dict[tuple[int, bool], int]) -> str:
    if not c:
        return "none"
    return ", ".join(f"{n} order-{o}{' slab' if s else ''}" for (o, s), n in sorted(c.items()))


class _OwnPagesInput:
    """Brings the model's own-page allocations to what the capture shows, as early as they can have happened."""

    def __init__(self, res: ReplayResult) -> None:
        self.res = res
        self.pending: OwnPages = {}
        self.step = ""

    def set_target(self, step: str, target: OwnPages) -> None:
        self.step, self.pending = step, {k: dict(v) for k, v in target.items()}

    def apply(self, m: Machine) -> None:
        """Allocate or free what differs, in every target zone the model has populated now."""
        from .workload import kernel_own_alloc, kernel_own_free, kernel_own_pages
        for (nid, zname), want in list(self.pending.items()):
            zone = next((z for z in m.nodes[nid].zones if z.name == zname), None) if nid in m.nodes else None
            if zone is None or not zone.populated():
                continue
            have = {(o, s): n for (zn, o, s), n in kernel_own_pages(m, nid).items() if zn == zname}
            done = []
            for key in sorted(set(want) | set(have)):
                order, slab = key
                diff = want.get(key, 0) - have.get(key, 0)
                for _ in range(abs(diff)):
                    ok = kernel_own_alloc(m, nid, order, slab) if diff > 0 else kernel_own_free(m, nid, order, slab)
                    if not ok:
                        self.res.errors.append(f"{self.step}: node {nid} {zname}: could not "
                                               f"{'allocate' if diff > 0 else 'free'} the kernel's own order-{order} "
                                               f"page the capture shows")
                        break
                if diff:
                    done.append(f"{'+' if diff > 0 else ''}{diff} order-{order}{' slab' if slab else ''}")
            if done:
                self.res.inputs.append(f"{self.step}: node {nid} {zname}: the kernel's own pages "
                                       f"{' '.join(done)} (now {_describe(want)}): they vary from run to run")
            del self.pending[(nid, zname)]


# ----------------------------------------------------------------------------------------------
# the replay
# ----------------------------------------------------------------------------------------------
_ALWAYS_LEFT_OUT = (
    ("node 0 (boot memory): zones, MemTotal, BUDDY bits",
     "they follow from what the firmware, the kernel image and boot-time allocations take, which the model "
     "keeps as counts"),
    ("dmesg, watermarks, /proc/meminfo totals, vmstat event counters",
     "their values depend on node 0 and on activity the model does not simulate"),
)


@dataclass
class StepRun:
    """One step of a replay, after its actions: the runner (and its machine) and what the actions did."""

    step: dict
    runner: ScenarioRunner
    lines: list[str]                          # one log line per action
    result: ReplayResult

    @property
    def name(self) -> str:
        """The step's folder name."""
        return self.step["name"]


def iter_replay(capture_dir: str | os.PathLike, lsmem: str | None = "auto", compare: bool = True):
    """Replay a capture step by step, yielding a :class:`StepRun` after each step (compared if ``compare``).

    The one step runner of the workbook: ``replay()``, ``diff`` and the chapters' views all go
    through it, so the model reaches each step the same way everywhere.
    """
    d = os.fspath(capture_dir)
    sc = load_capture_scenario(d)
    res = ReplayResult(d)
    if lsmem == "auto":
        lsmem = find_lsmem()
    run = ScenarioRunner(sc)
    m = res.machine = run.m
    ctx_builder = CompareContext(sc, d, m.block_size >> m.arch.page_shift, m.arch.page_shift)
    own = _OwnPagesInput(res)
    for what, why in _ALWAYS_LEFT_OUT:
        res.left_out[f"{what}: {why}"] = ["every step"]
    if ctx_builder.dax:
        res.left_out["dax.txt: the dev line and ls -l /dev/daxR.N (a dynamic char major, a date), the node masks "
                     "(compared from sysroot.json), module sizes and addresses"] = ["every step"]
    soft = sc["machine"].get("soft_reserved")
    if soft is not None:
        from .e820 import soft_reserved_ranges
        res.fields.append(Field(sc["steps"][0]["name"], "e820 Soft Reserved ranges", soft_reserved_ranges(m.e820),
                                [(int(r["start"]), int(r["end"])) for r in soft], "soft reserved"))
    if compare and not lsmem:
        res.left_out["lsmem.txt, lsmem-a.txt: util-linux lsmem is not installed here"] = ["every step"]
    for step in sc["steps"]:
        name = step["name"]
        folder = os.path.join(d, name)
        have_folder = os.path.isdir(folder)
        ref = CaptureStep(folder)
        # zones a workload runs in at any time of this step: their own pages cannot be told apart
        pre_running = {nid for nid in ctx_builder.hot if run.running_on(nid)}
        pre_running |= {int(a["node"]) for a in step.get("actions", []) if a.get("op") in ("workload_start", "pin_start")}
        ctx0 = ctx_builder.step(step, ref, pre_running) if have_folder else None
        if ctx0 is not None:
            target, notes = kernel_own_pages_seen(ref, ctx0)
            own.set_target(name, target)
            for n in notes:
                res.leave_out(name, "the kernel's own pages", n)
            own.apply(m)
        lines = []
        # a step may write the same file twice (capture F's 06-offline-twice), and each offline write takes
        # SLUB's state anew (a failed offline flushes its lists): say which write took an input
        writes = sum(1 for a in step.get("actions", []) if a.get("op") == "write")
        nth_write = 0
        for a in step.get("actions", []):
            out = run.do(a)
            lines.append(out.line)
            nth_write += a.get("op") == "write"
            where = f"{name}, write {nth_write} of {writes}" if a.get("op") == "write" and writes > 1 else name
            res.inputs += [f"{where}: {i}" for i in out.inputs]
            for fname, kind, mv, cv in out.fields:
                res.fields.append(Field(name, fname, mv, cv, kind))
            if out.error:
                res.errors.append(f"{name}: {out.error}")
                res.fields.append(Field(name, f"action {a.get('op')}", Missing("not performed"), "performed",
                                        "action"))
            own.apply(m)
        if not have_folder:
            res.fields.append(Field(name, "step folder", "present", Missing(f"folder {name}"), "step folder"))
            yield StepRun(step, run, lines, res)
            continue
        own.apply(m)
        running = {nid for nid in ctx_builder.hot if run.running_on(nid)}
        ctx = ctx_builder.step(step, ref, running)
        ctx.lsmem = bool(lsmem)
        if compare:
            _pcp_noise(name, m, ref, ctx, ctx_builder.hot, res)
            _own_page_windows(name, m, ref, ctx, res)
            for (nid, z), why in ctx.no_free.items():
                res.leave_out(name, f"node{nid} {z}.free", why)
            for bid, why in ctx.no_buddy.items():
                res.leave_out(name, f"kpageflags memory{bid} BUDDY", why)
            _compare(name, observe(ModelStep(m, lsmem), ctx), observe(ref, ctx), res)
        yield StepRun(step, run, lines, res)
    for a in sc.get("teardown", []):
        out = run.do(a)
        if out.error:
            res.errors.append(f"teardown: {out.error}")


def _pcp_noise(step: str, m: Machine, ref: CaptureStep, ctx: StepContext, hot: set[int], res: ReplayResult) -> None:
    """Where the per-cpu lists, or the capture's free counter, disagree with the free pages: compare what is exact.

    A page on a per-cpu list is neither free in zoneinfo nor BUDDY in kpageflags, and how many pages
    the lists hold when the capture is taken depends on which CPU allocated and freed what, and when.
    The model's lists follow the allocator's batch rules; when their total differs from the
    capture's, the zone's free count and its blocks' BUDDY bits are left out for the step, and the
    pages neither allocated nor reserved (free + per-cpu lists) are compared instead.

    zoneinfo's ``pages free`` is NR_FREE_PAGES without the per-cpu deltas not yet folded into it
    (each CPU folds its own when they pass its ``vm stats threshold``, or when vmstat_update runs,
    once a second): read right after a burst of frees it can lag the free pages by up to the sum
    of the thresholds.  Where it differs from the capture's own BUDDY pages in the zone by no more
    than that, the BUDDY count, which is exact, stands for the free pages.
    """
    zi = ref.text("zoneinfo")
    if zi is None:
        return
    cap_pcp, cap_zones = zone_pcp_counts(zi), parse_zoneinfo(zi)
    buddy, thresholds = _capture_buddy_pages(ref, ctx, cap_zones), zone_stat_thresholds(zi)
    for nid in sorted(hot):
        if nid not in m.nodes:
            continue
        for zone in m.nodes[nid].zones:
            key = (nid, zone.name)
            if key in ctx.no_free or key not in cap_pcp or "free" not in cap_zones.get(key, {}):
                continue
            counter, whys = cap_zones[key]["free"], []
            free = counter
            exact, slack = buddy.get(key), thresholds.get(key, 0)
            mine, theirs = zone.pcp_pages(), cap_pcp[key]
            if exact is not None and exact != counter and abs(exact - counter) <= slack \
                    and zone.free_pages + mine != counter + theirs:
                free = exact
                whys.append(f"zoneinfo's free counter ({counter}) lags the capture's own BUDDY pages ({exact}): "
                            f"per-cpu vmstat deltas (up to {slack} here) not yet folded in (BUDDY count compared)")
            if mine != theirs:
                whys.append(f"pages on the per-cpu lists: the model {mine}, the capture {theirs}; which CPU "
                            f"allocated and freed what, and when, varies from run to run (free + per-cpu lists "
                            f"compared instead)")
                for b in m.blocks.values():
                    if b.nid == nid and b.zone is zone:
                        ctx.no_buddy[b.id] = whys[-1]
            if not whys:
                continue
            ctx.no_free[key] = "; ".join(whys)
            if mine != theirs:
                res.fields.append(Field(step, f"node{nid} {zone.name}.free + per-cpu lists", zone.free_pages + mine,
                                        free + theirs, "zone counters"))
            else:
                res.fields.append(Field(step, f"node{nid} {zone.name}.free (BUDDY pages)", zone.free_pages, free,
                                        "zone counters"))


def _capture_buddy_pages(ref: CaptureStep, ctx: StepContext,
                         zones: dict[tuple[int, str], dict[str, int]]) -> dict[tuple[int, str], int]:
    """{(node, zone): pfns with BUDDY set} for the zones the capture's kpageflags dump covers whole."""
    if ctx.kpf_range is None:
        return {}
    start, count = ctx.kpf_range
    words = ref.kpageflags(start, count)
    if words is None:
        return {}
    words = words[:count]
    out = {}
    for key, z in zones.items():
        zs, span = z.get("start_pfn"), z.get("spanned", 0)
        if zs is None or not span or zs < start or zs + span > start + len(words):
            continue
        seg = words[zs - start:zs - start + span]
        out[key] = int(((seg >> np.uint64(KPF.BUDDY)) & np.uint64(1)).sum())
    return out


def _own_page_windows(step: str, m: Machine, ref: CaptureStep, ctx: StepContext, res: ReplayResult) -> None:
    """Where the kernel's own pages and per-cpu list pages sit, compare the BUDDY bits as a count.

    Within the pageblocks that hold them, which pfn each got depends on the order in which the
    kernel allocated them (a slab before or after a per-cpu refill), which the capture does not
    record; the pageblocks compared as counts are read off the capture alone (those that hold such
    pages), and the bits of every other pageblock are still compared one by one.  Where the
    capture's zone has reclaimable pageblocks (/proc/pagetypeinfo), some of those pages are
    reclaimable slab (dentries, inodes), which the allocator keeps apart from unmovable pages,
    and kpageflags does not say which: the count is then taken over all those pageblocks together.
    """
    busy: dict[int, tuple[int, str, list[int]]] = {}
    kernel_own_pages_seen(ref, ctx, busy)
    reclaimable = pageblocks_by_type(ref.text("pagetypeinfo") or "")
    pb = m.arch.pageblock_nr_pages
    for bid, (nid, zname, pfns) in busy.items():
        if bid in ctx.no_buddy:
            continue
        blocks = sorted({p - p % pb for p in pfns})
        ctx.buddy_windows[bid] = tuple((b, b + pb) for b in blocks)
        spans = ", ".join(f"{b:#x}-{b + pb - 1:#x}" for b in blocks)
        why = ("which pfns the kernel's own pages took within their pageblock depends on the order it allocated "
               "them in, which a capture does not record")
        if len(blocks) > 1 and reclaimable.get((nid, zname), {}).get("Reclaimable", 0):
            ctx.buddy_pooled.add(bid)
            why += ("; and which of these pageblocks, on their migratetype (the zone has reclaimable pageblocks: "
                    "reclaimable slab is kept apart from unmovable pages, and kpageflags does not say which is which)")
            res.leave_out(step, f"kpageflags memory{bid} BUDDY in {spans} (compared as one count)", why)
        else:
            res.leave_out(step, f"kpageflags memory{bid} BUDDY in {spans} (compared as a count)", why)


def replay(capture_dir: str | os.PathLike, lsmem: str | None = "auto") -> ReplayResult:
    """Replay one capture folder and compare every step; see the module docstring for what is compared."""
    res = None
    for st in iter_replay(capture_dir, lsmem):
        res = st.result
    assert res is not None          # load_capture_scenario() refuses a capture without steps
    return res


def _compare(step: str, model: list[Obs], cap: list[Obs], res: ReplayResult) -> None:
    mod = {o.name: o for o in model}
    seen = set()
    for o in cap:
        mo = mod.get(o.name)
        res.fields.append(Field(step, o.name, mo.value if mo else Missing("not in the model"), o.value, o.kind))
        seen.add(o.name)
    short_dump = any(o.name == "kpageflags words" and (mod.get(o.name) is None or o.value != mod[o.name].value)
                     for o in cap)
    no_dax = any(o.name == "dax devices" and isinstance(o.value, Missing) for o in cap)
    for o in model:
        if o.name in seen:
            continue
        if short_dump and o.kind in _KPF_KINDS:
            continue            # the capture's dump is missing or shorter: "kpageflags words" says it once
        if no_dax and o.kind in _DAX_KINDS:
            continue            # the capture has no dax.txt: "dax devices" says it once
        res.fields.append(Field(step, o.name, o.value, Missing("not in the capture"), o.kind))


def main(argv: list[str] | None = None) -> int:
    """``replay CAPTURE_DIR... [--mismatches]``: print the comparison; exit 1 on any mismatch, 2 if unreadable."""
    import argparse
    ap = argparse.ArgumentParser(prog="memhotplug-workbook replay", description=__doc__.split("\n")[0])
    ap.add_argument("capture", nargs="+", help="capture folder(s) holding scenario.json")
    ap.add_argument("--mismatches", action="store_true", help="print only the fields that differ")
    ns = ap.parse_args(argv)
    rc = 0
    for d in ns.capture:
        try:
            r = replay(d)
        except CaptureError as e:
            print(f"memhotplug-workbook replay: error: {e}", file=sys.stderr)
            rc = max(rc, 2)
            continue
        print(f"== {d}")
        print(r.report(only_mismatches=ns.mismatches))
        rc = max(rc, 0 if r.ok else 1)
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
