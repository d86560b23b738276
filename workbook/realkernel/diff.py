"""Compare two real captures of the same scenario, field by field (``memhotplug-workbook diff A B``).

Two kernels, or a kernel and its patched build, run the same ``scenario.json``; the diff reads
both folders with the replay's own reader (:func:`workbook.observe.observe`, the same named
observations the replay compares with the model) and lists what differs, step by step, plus
what each action returned (errno, added, deleted, waited).  What the replay leaves out because
a workload runs is left out here too, and so are the free counts and BUDDY bits of kernel zones
on hot-added nodes: the kernel's own pages there vary from run to run of the same kernel
(CAPTURE_FORMAT.md).  The exit status is 1 on any difference, 2 if a folder cannot be read.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass

from ..observe import CaptureStep, Missing, find_lsmem, observe
from ..replay import CaptureError, Field, ReplayResult, CompareContext, load_capture_scenario

__all__ = ["DiffField", "diff", "main"]

# what each action returned, by op: the keys compared between the two runs
_OUTCOME = {"dimm_add": ("result",), "dimm_del": ("result", "deleted_later"), "write": ("errno", "timed_out"),
            "wait": ("ok",), "module_load": ("rc",), "shell": ("rc",), "workload_start": ("ready",),
            "pin_start": ("ready", "bytes")}
_MACHINE = ("qemu_machine", "qemu_machine_options", "arch", "page_size", "ram_bytes", "maxmem_bytes", "slots", "cpus",
            "nodes", "cmdline", "soft_reserved", "srat_hotplug_window")


@dataclass
class DiffField(Field):
    """One value of capture A next to the same value of capture B."""

    def line(self) -> str:
        """``step name same (value)`` or ``DIFFERS a=... b=...``."""
        if self.ok:
            return f"{self.step:<32} {self.name:<44} same      {self._show(self.capture, None)}"
        return (f"{self.step:<32} {self.name:<44} DIFFERS   a={self._show(self.model, self.capture)} "
                f"b={self._show(self.capture, None)}")


def _action_name(a: dict) -> str:
    op = a.get("op")
    if op == "write":
        parts = str(a.get("path", "")).rstrip("/").split("/")
        return f"write {a.get('value')} > {'/'.join(parts[-2:])}"
    if op in ("dimm_add", "dimm_del"):
        return f"{op} {a.get('id')}"
    if op == "wait":
        return f"wait {a.get('until')}"
    if op == "module_load":
        return f"insmod {a.get('name')}"
    return str(op)


def _outcome(a: dict, key: str) -> object:
    v = a.get(key, False if key in ("deleted_later", "timed_out") else Missing(key))
    return v


def _running_after(running: set[int], actions: list[dict]) -> set[int]:
    out = set(running)
    for a in actions:
        if a.get("op") in ("workload_start", "pin_start"):
            out.add(int(a["node"]))
        elif a.get("op") in ("workload_stop", "pin_stop"):
            out.discard(int(a["node"]))
    return out


def diff(a_dir: str | os.PathLike, b_dir: str | os.PathLike, lsmem: str | None = "auto") -> ReplayResult:
    """Every field of capture ``a_dir`` next to capture ``b_dir`` (fields: model = A, capture = B)."""
    a_dir, b_dir = os.fspath(a_dir), os.fspath(b_dir)
    sa, sb = load_capture_scenario(a_dir), load_capture_scenario(b_dir)
    res = ReplayResult(f"{a_dir} vs {b_dir}")
    if lsmem == "auto":
        lsmem = find_lsmem()
    if not lsmem:
        res.leave_out("-", "lsmem tables", "the host has no lsmem: the lsmem tables were not rebuilt")
    add = lambda step, name, kind, va, vb: res.fields.append(DiffField(step, name, va, vb, kind))  # noqa: E731
    for key in _MACHINE:
        if key in sa["machine"] or key in sb["machine"]:
            add("machine", key, "machine", sa["machine"].get(key), sb["machine"].get(key))
    names_a, names_b = [s["name"] for s in sa["steps"]], [s["name"] for s in sb["steps"]]
    add("scenario", "steps", "steps", names_a, names_b)
    page_shift = int(sa["machine"].get("page_size", 4096)).bit_length() - 1
    ctx_a = CompareContext(sa, a_dir, (128 << 20) >> page_shift, page_shift)
    ctx_b = CompareContext(sb, b_dir, (128 << 20) >> page_shift, page_shift)
    steps_b = {s["name"]: s for s in sb["steps"]}
    running: set[int] = set()
    for step in sa["steps"]:
        name = step["name"]
        other = steps_b.get(name)
        if other is None:
            add(name, "step", "steps", "present", Missing(f"step {name}"))
            continue
        acts_a, acts_b = step.get("actions", []), other.get("actions", [])
        for i in range(max(len(acts_a), len(acts_b))):
            a = acts_a[i] if i < len(acts_a) else None
            b = acts_b[i] if i < len(acts_b) else None
            label = _action_name(a or b or {})
            if a is None or b is None or _action_name(a) != _action_name(b):
                add(name, f"action {i + 1}", "action", _action_name(a) if a else Missing("action"),
                    _action_name(b) if b else Missing("action"))
                continue
            for key in _OUTCOME.get(a.get("op"), ()):
                add(name, f"{label} {key}", a.get("op"), _outcome(a, key), _outcome(b, key))
        running = _running_after(running, acts_a)
        fa, fb = os.path.join(a_dir, name), os.path.join(b_dir, name)
        if not os.path.isdir(fa) or not os.path.isdir(fb):
            add(name, "step folder", "step folder", "present" if os.path.isdir(fa) else Missing(f"folder {fa}"),
                "present" if os.path.isdir(fb) else Missing(f"folder {fb}"))
            continue
        ref_a, ref_b = CaptureStep(fa), CaptureStep(fb)
        ca = ctx_a.step(step, ref_a, running)
        cb = ctx_b.step(other, ref_b, running)
        # one context for both sides: every block and zone either side has, every exclusion either needs
        ca.blocks = sorted(set(ca.blocks) | set(cb.blocks))
        for nid, zones in cb.zones.items():
            ca.zones[nid] = ca.zones.get(nid, []) + [z for z in zones if z not in ca.zones.get(nid, [])]
        ca.no_free.update(cb.no_free)
        ca.no_buddy.update(cb.no_buddy)
        _leave_out_own_pages(ca, ref_a, ref_b)
        ca.lsmem = bool(lsmem)
        for (nid, z), why in ca.no_free.items():
            res.leave_out(name, f"node{nid} {z}.free", why)
        for bid, why in ca.no_buddy.items():
            res.leave_out(name, f"kpageflags memory{bid} BUDDY", why)
        obs_b = {o.name: o for o in observe(ref_b, ca)}
        for o in observe(ref_a, ca):
            ob = obs_b.pop(o.name, None)
            add(name, o.name, o.kind, o.value, ob.value if ob else Missing("not in b"))
        for o in obs_b.values():
            add(name, o.name, o.kind, Missing("not in a"), o.value)
    for name in names_b:
        if name not in names_a:
            add(name, "step", "steps", Missing(f"step {name}"), "present")
    return res


def _leave_out_own_pages(ctx, *refs: CaptureStep) -> None:
    """Kernel zones of hot nodes: their free pages and BUDDY bits hold the kernel's own pages."""
    from ..observe import parse_zoneinfo
    why = "the kernel's own pages in a kernel zone of a hot-added node vary from run to run"
    for ref in refs:
        zi = ref.text("zoneinfo")
        sr = ref.sysroot()
        if zi is None or sr is None:
            continue
        for (nid, z), vals in parse_zoneinfo(zi).items():
            if nid in ctx.hot_nodes and z != "Movable" and vals.get("present"):
                ctx.no_free.setdefault((nid, z), why)
        files, links = sr
        for bid in ctx.blocks:
            vz = (files.get(f"sys/devices/system/memory/memory{bid}/valid_zones") or "").split()
            state = (files.get(f"sys/devices/system/memory/memory{bid}/state") or "").strip()
            node = [k.rsplit("node", 1)[1] for k in links
                    if k.startswith(f"sys/devices/system/memory/memory{bid}/node")]
            if state == "online" and vz and vz[0] != "Movable" and node and int(node[0]) in ctx.hot_nodes:
                ctx.no_buddy.setdefault(bid, why)


def _kernel_line(d: str) -> str:
    try:
        k = json.load(open(os.path.join(d, "scenario.json")))["kernel"]
        return f"{k.get('release')} ({k.get('debian_package') or k.get('image', '?')})"
    except (OSError, ValueError, KeyError):
        return "?"


def main(argv: list[str] | None = None) -> int:
    """``diff DIR_A DIR_B [--differences]``: print the comparison; exit 1 on any difference, 2 if unreadable."""
    import argparse
    ap = argparse.ArgumentParser(prog="memhotplug-workbook diff", description=__doc__.split("\n")[0])
    ap.add_argument("a", help="capture folder A")
    ap.add_argument("b", help="capture folder B (the same scenario)")
    ap.add_argument("--differences", "--mismatches", action="store_true", dest="only",
                    help="print only the fields that differ")
    ns = ap.parse_args(argv)
    try:
        r = diff(ns.a, ns.b)
    except CaptureError as e:
        print(f"diff: {e}", file=sys.stderr)
        return 2
    print(f"== a: {ns.a}  {_kernel_line(ns.a)}")
    print(f"== b: {ns.b}  {_kernel_line(ns.b)}")
    report = r.report(only_mismatches=ns.only)
    lines = report.split("\n")
    n_diff = len(r.fields) - r.matched
    lines[-1] = f"{n_diff} of {len(r.fields)} fields differ"
    print("\n".join(lines))
    return 0 if n_diff == 0 else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
