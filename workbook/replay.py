"""Replay a real-kernel capture on the model and compare, field by field (``python -m workbook replay DIR``).

A capture folder (see the kernel-captures CAPTURE_FORMAT.md) holds ``scenario.json`` (the
machine and the actions before each step) and one folder per step with what the kernel
printed.  The replay builds the same machine, performs the same actions and compares:

* the set of memory blocks; each block's state, online, valid_zones, removable,
  phys_index, phys_device and node; block_size_bytes; auto_online_blocks; the node masks;
* for nodes that hold only hot-added memory: each zone's start_pfn, spanned, present,
  managed, and free where no workload has touched the zone; the node's MemTotal;
* the RESERVED, OWNER_PRIVATE and NOPAGE bits of every pfn of the dumped range, and its
  BUDDY bits wherever no workload has touched the zone;
* ``nr_memmap_pages`` where the kernel has it; the errno of every write; whether each
  DIMM was added and deleted; the ``lsmem`` tables of the exported tree.

What it leaves out, and why, is listed in the README ("What the replay compares").
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

import numpy as np

from .cmdline import MMOP_OFFLINE, MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE
from .errors import KernelError
from .machine import Machine, NodeSpec
from .pagemap import KPF

__all__ = ["Field", "ReplayResult", "replay", "machine_from_scenario", "parse_zoneinfo", "main"]

_CONFIG_ONLINE = {"CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO": MMOP_ONLINE,
                  "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_KERNEL": MMOP_ONLINE_KERNEL,
                  "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE": MMOP_ONLINE_MOVABLE,
                  "CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE": MMOP_OFFLINE}


@dataclass
class Field:
    """One compared value."""

    step: str
    name: str
    model: object
    capture: object

    @property
    def ok(self) -> bool:
        """The model printed what the kernel printed."""
        return self.model == self.capture

    def line(self) -> str:
        """``step name: match (value)`` or ``MISMATCH model=... capture=...``."""
        if self.ok:
            return f"{self.step:<32} {self.name:<44} match     {_short(self.capture)}"
        return f"{self.step:<32} {self.name:<44} MISMATCH  model={_short(self.model)} capture={_short(self.capture)}"


def _short(v: object) -> str:
    s = repr(v) if not isinstance(v, str) else v.replace("\n", "\\n")
    return s if len(s) < 120 else s[:117] + "..."


@dataclass
class ReplayResult:
    """All compared fields of one capture, plus notes on what was not compared."""

    capture: str
    fields: list[Field] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: Machine | None = None

    @property
    def matched(self) -> int:
        """How many fields match."""
        return sum(f.ok for f in self.fields)

    @property
    def ok(self) -> bool:
        """Every field matches."""
        return self.matched == len(self.fields)

    def report(self, only_mismatches: bool = False) -> str:
        """The replay's printout: one line per field, then ``M of N fields match``."""
        rows = [f.line() for f in self.fields if not (only_mismatches and f.ok)]
        rows += [f"note: {n}" for n in self.notes]
        rows.append(f"{self.matched} of {len(self.fields)} fields match")
        return "\n".join(rows)


def parse_zoneinfo(text: str) -> dict[tuple[int, str], dict[str, int]]:
    """{(node, zone): {"free", "spanned", "present", "managed", "start_pfn"?}} from /proc/zoneinfo."""
    out = {}
    for stanza in re.split(r"(?=^Node \d+, zone)", text, flags=re.M):
        mm = re.match(r"Node (\d+), zone\s+(\w+)", stanza)
        if not mm:
            continue
        vals = {}
        for key, pat in (("free", r"pages free\s+(\d+)"), ("spanned", r"spanned\s+(\d+)"),
                         ("present", r"present\s+(\d+)"), ("managed", r"managed\s+(\d+)"),
                         ("start_pfn", r"start_pfn:\s+(\d+)")):
            v = re.search(r"^\s+" + pat, stanza, flags=re.M)
            if v:
                vals[key] = int(v.group(1))
        out[(int(mm.group(1)), mm.group(2))] = vals
    return out


def _meminfo_total(text: str) -> int | None:
    mm = re.search(r"MemTotal:\s+(\d+) kB", text)
    return int(mm.group(1)) if mm else None


def machine_from_scenario(sc: dict) -> Machine:
    """Build the machine a capture's ``scenario.json`` describes."""
    mach = sc["machine"]
    nodes = [NodeSpec(n["id"], list(n["cpus"]), int(n["boot_memory_bytes"])) for n in mach["nodes"]]
    window = mach.get("srat_hotplug_window") or {}
    m = Machine(kernel=sc["kernel"]["series"], arch=mach.get("arch", "x86_64"), nodes=nodes,
                cmdline=mach.get("cmdline", ""), ram_bytes=int(mach["ram_bytes"]),
                maxmem_bytes=int(mach["maxmem_bytes"]), slots=int(mach["slots"]),
                hotplug_node=window.get("node"), config=sc["kernel"].get("config", {}))
    return m


def _eval_wait(m: Machine, until: str) -> bool | None:
    """Evaluate a ``wait`` condition: ``[ -d PATH ]``, ``[ ! -e PATH ]``, ``grep -q TEXT PATH``; None if unknown."""
    s = until.strip()
    mm = re.fullmatch(r"\[\s*(!\s*)?-[def]\s+(\S+)\s*\]", s)
    if mm:
        there = m.exists(mm.group(2))
        return not there if mm.group(1) else there
    mm = re.fullmatch(r"(!\s*)?grep\s+-q[sx]*\s+['\"]?([^'\"]+?)['\"]?\s+(\S+)", s)
    if mm:
        try:
            found = mm.group(2) in m.read(mm.group(3))
        except KernelError:
            found = False
        return not found if mm.group(1) else found
    return None


class _Runner:
    def __init__(self, sc: dict) -> None:
        self.m = machine_from_scenario(sc)
        self.running: dict[tuple[str, int], list] = {}

    def do(self, step: str, a: dict, res: ReplayResult) -> None:
        m, op = self.m, a["op"]
        if op == "dimm_add":
            r = m.dimm_add(int(a["size_bytes"]), int(a["node"]), a["id"], int(a["addr"]) if "addr" in a else None)
            want = "ok" if a["result"] == "ok" else "error"
            res.fields.append(Field(step, f"dimm_add {a['id']} result", "ok" if r.result == "ok" else "error", want))
        elif op == "dimm_del":
            r = m.dimm_del(a["id"])
            want = "deleted" if a["result"] == "deleted" or a.get("deleted_later") else "not-deleted"
            res.fields.append(Field(step, f"dimm_del {a['id']} result", r.result, want))
        elif op == "write":
            try:
                m.write(a["path"], a["value"])
                got = 0
            except KernelError as e:
                got = e.errno
            if a.get("timed_out"):
                want = "timed out"
                got = "timed out" if got == 4 else got          # EINTR: the writer was signalled
            else:
                want = int(a["errno"])
            res.fields.append(Field(step, f"write {a['value']} > {a['path'].split('/')[-2]}/"
                                          f"{a['path'].split('/')[-1]} errno", got, want))
        elif op == "wait":
            got = _eval_wait(m, a["until"])
            if got is None:
                res.notes.append(f"{step}: wait condition not understood, not compared: {a['until']}")
            else:
                res.fields.append(Field(step, f"wait {a['until']}", got, bool(a["ok"])))
        elif op == "workload_start":
            w = m.start_workload(int(a["node"]), int(a["bytes"]), a.get("cpu"), "stress")
            self.running.setdefault(("anon", int(a["node"])), []).append(w)
        elif op == "pin_start":
            w = m.pin(int(a["node"]), int(a["bytes"]), int(a.get("pipes") or 0), a.get("cpu"), "pin")
            self.running.setdefault(("pin", int(a["node"])), []).append(w)
        elif op in ("workload_stop", "pin_stop"):
            key = ("anon" if op == "workload_stop" else "pin", int(a["node"]))
            for w in self.running.pop(key, []):
                m.stop_workload(w)
        elif op == "drop_caches":
            m.drop_caches()
        elif op == "compact":
            m.compact_memory()
        elif op in ("sync", "sleep", "poweroff"):
            m.tick(float(a.get("seconds", 0) or 0))
        else:
            res.notes.append(f"{step}: action {op!r} is not modelled: {a}")


def _compare_step(run: _Runner, sc: dict, step: dict, folder: str, res: ReplayResult, lsmem: str | None) -> None:
    m = run.m
    name = step["name"]
    f = lambda n, model, cap: res.fields.append(Field(name, n, model, cap))  # noqa: E731
    sysroot = json.load(open(os.path.join(folder, "sysroot.json")))
    cfiles = sysroot["files"]
    clinks = sysroot.get("symlinks", {})
    base = "sys/devices/system"
    cap_blocks = sorted(int(mm.group(1)) for k in cfiles
                        if (mm := re.fullmatch(rf"{base}/memory/memory(\d+)/state", k)))
    f("memory blocks", sorted(m.blocks), cap_blocks)
    for bid in cap_blocks:
        for attr in ("state", "online", "valid_zones", "removable", "phys_index", "phys_device"):
            cap = cfiles.get(f"{base}/memory/memory{bid}/{attr}")
            try:
                mod = m.read(f"/sys/devices/system/memory/memory{bid}/{attr}")
            except KernelError as e:
                mod = f"<{e.errno_name}>"
            f(f"memory{bid}.{attr}", mod, cap)
        cap_node = [k.split("/")[-1] for k in clinks if k.startswith(f"{base}/memory/memory{bid}/node")]
        f(f"memory{bid}.node", [f"node{m.blocks[bid].nid}"] if bid in m.blocks else [], cap_node)
    for attr in ("block_size_bytes", "auto_online_blocks"):
        f(attr, m.read(f"/sys/devices/system/memory/{attr}"), cfiles.get(f"{base}/memory/{attr}"))
    for attr in ("possible", "online", "has_memory", "has_normal_memory", "has_cpu"):
        f(f"node/{attr}", m.read(f"/sys/devices/system/node/{attr}"), cfiles.get(f"{base}/node/{attr}"))
    # zones and MemTotal of nodes with only hot-added memory
    hot_nodes = [n["id"] for n in sc["machine"]["nodes"] if int(n["boot_memory_bytes"]) == 0]
    # a workload that runs allocates its own process memory too (stack, page tables, ...):
    # free pages of its node are not compared while it runs
    busy = {nid for (_, nid), ws in run.running.items() if ws}
    cz = parse_zoneinfo(open(os.path.join(folder, "zoneinfo")).read())
    mz = parse_zoneinfo(m.read("/proc/zoneinfo"))
    for nid in hot_nodes:
        for (cn, zname), cvals in sorted(cz.items()):
            if cn != nid:
                continue
            mvals = mz.get((cn, zname), {})
            zone = next(z for z in m.nodes[nid].zones if z.name == zname)
            keys = ["spanned", "present", "managed"] + (["start_pfn"] if "start_pfn" in cvals else [])
            if not zone.tainted and nid not in busy:
                keys.append("free")
            for k in keys:
                f(f"node{nid} {zname}.{k}", mvals.get(k), cvals.get(k))
        mi = os.path.join(folder, f"node{nid}.meminfo")
        if os.path.exists(mi):
            f(f"node{nid} MemTotal kB", _meminfo_total(m.read(f"/sys/devices/system/node/node{nid}/meminfo")),
              _meminfo_total(open(mi).read()))
    # nr_memmap_pages
    vm = open(os.path.join(folder, "vmstat")).read()
    mm = re.search(r"^nr_memmap_pages (\d+)", vm, flags=re.M)
    if mm:
        mv = re.search(r"^nr_memmap_pages (\d+)", m.read("/proc/vmstat"), flags=re.M)
        f("vmstat nr_memmap_pages", int(mv.group(1)) if mv else None, int(mm.group(1)))
    # kpageflags
    kr = step.get("kpf_range")
    kf = os.path.join(folder, "range.kpageflags.gz")
    if kr and os.path.exists(kf):
        start, count = int(kr[0]), int(kr[1])
        cap = np.frombuffer(gzip.open(kf).read(), dtype="<u8")[:count].astype(np.uint64)
        mod = m.kpageflags(start, count)
        if len(mod) < len(cap):
            mod = np.concatenate([mod, np.full(len(cap) - len(mod), 1 << KPF.NOPAGE, dtype=np.uint64)])
        ppb = m.block_size >> m.arch.page_shift
        compare_buddy = np.ones(count, dtype=bool)
        for bid in range(start // ppb, (start + count - 1) // ppb + 1):
            b = m.blocks.get(bid)
            lo, hi = max(bid * ppb, start) - start, min((bid + 1) * ppb, start + count) - start
            if b is not None and b.zone is not None and (b.zone.tainted or b.nid not in hot_nodes
                                                         or b.nid in busy):
                compare_buddy[lo:hi] = False
        for bid in range(start // ppb, (start + count - 1) // ppb + 1):
            lo, hi = max(bid * ppb, start) - start, min((bid + 1) * ppb, start + count) - start
            for bit, bname in ((KPF.RESERVED, "RESERVED"), (KPF.OWNER_PRIVATE, "OWNER_PRIVATE"),
                               (KPF.NOPAGE, "NOPAGE"), (KPF.BUDDY, "BUDDY")):
                sel = slice(lo, hi)
                cb = (cap[sel] >> np.uint64(bit)) & np.uint64(1)
                mb = (mod[sel] >> np.uint64(bit)) & np.uint64(1)
                if bit == KPF.BUDDY:
                    mask = compare_buddy[sel]
                    if not mask.any():
                        continue
                    cb, mb = cb[mask], mb[mask]
                diff = np.nonzero(cb != mb)[0]
                cap_desc = f"{int(cb.sum())} of {len(cb)} pfns"
                mod_desc = cap_desc if not len(diff) else (
                    f"{int(mb.sum())} of {len(mb)} pfns, first difference at pfn "
                    f"{start + lo + int(diff[0]):#x}")
                f(f"kpageflags memory{bid} {bname}", mod_desc, cap_desc)
    # lsmem
    if lsmem:
        for fname, args in (("lsmem.txt", []), ("lsmem-a.txt", ["-a", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"])):
            p = os.path.join(folder, fname)
            if os.path.exists(p):
                f(fname, _run_lsmem(m, lsmem, args), open(p).read())


def _run_lsmem(m: Machine, lsmem: str, args: list[str]) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        m.export_sysfs(os.path.join(tmp, "sysroot"))
        cmd = [lsmem] + args[:1] + ["--sysroot", "sysroot"] + args[1:]
        p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        shown = "lsmem " + " ".join(cmd[1:])
        return f"$ {shown}\n{p.stdout}{p.stderr}[rc={p.returncode}]\n"


def replay(capture_dir: str, lsmem: str | None = "auto") -> ReplayResult:
    """Replay one capture folder and compare every step; see the module docstring for the fields."""
    sc = json.load(open(os.path.join(capture_dir, "scenario.json")))
    res = ReplayResult(capture_dir)
    if lsmem == "auto":
        lsmem = shutil.which("lsmem")
        if lsmem is None:
            res.notes.append("lsmem (util-linux) not found: the lsmem tables were not compared")
    run = _Runner(sc)
    res.machine = run.m
    for step in sc["steps"]:
        for a in step["actions"]:
            run.do(step["name"], a, res)
        folder = os.path.join(capture_dir, step["name"])
        if os.path.isdir(folder):
            _compare_step(run, sc, step, folder, res, lsmem)
    for a in sc.get("teardown", []):
        run.do("teardown", a, res)
    return res


def main(argv: list[str] | None = None) -> int:
    """``replay CAPTURE_DIR [--mismatches]``: print the comparison, exit 1 on any mismatch."""
    import argparse
    ap = argparse.ArgumentParser(prog="memhotplug-workbook replay", description=__doc__.split("\n")[0])
    ap.add_argument("capture", nargs="+", help="capture folder(s) holding scenario.json")
    ap.add_argument("--mismatches", action="store_true", help="print only the fields that differ")
    ns = ap.parse_args(argv)
    rc = 0
    for d in ns.capture:
        r = replay(d)
        print(f"== {d}")
        print(r.report(only_mismatches=ns.mismatches))
        rc |= 0 if r.ok else 1
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
