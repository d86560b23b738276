"""What one capture step shows, read the same way from a real kernel's folder and from the model.

A capture step is a set of files (``zoneinfo``, ``sysroot.json``, ``range.kpageflags.gz``, ...;
see CAPTURE_FORMAT.md).  :class:`CaptureStep` reads them from a folder; :class:`ModelStep`
renders the same files from a :class:`~workbook.machine.Machine`.  :func:`observe` turns
either into named observations (``memory32.state``, ``node1 Normal.free``, ...), so that the
replay (model vs kernel) and ``diff`` (kernel vs kernel) compare exactly the same things, and
a file a step should have but lacks shows up as a value, never as a silently skipped field.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np

from .pagemap import KPF

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["StepFiles", "CaptureStep", "ModelStep", "StepContext", "Obs", "Missing", "observe", "parse_zoneinfo",
           "zone_pcp_counts", "zone_pcp_cpu_counts", "zone_stat_thresholds", "pageblocks_by_type", "KPF_BITS",
           "LSMEM_FILES", "dax_txt", "parse_dax_txt"]

_SYS = "sys/devices/system"
BLOCK_ATTRS = ("state", "online", "valid_zones", "removable", "phys_index", "phys_device")
NODE_MASKS = ("possible", "online", "has_memory", "has_normal_memory", "has_cpu")
#: The kpageflags bits compared per memory block, in report order.
KPF_BITS = (("RESERVED", KPF.RESERVED), ("OWNER_PRIVATE", KPF.OWNER_PRIVATE), ("NOPAGE", KPF.NOPAGE),
            ("BUDDY", KPF.BUDDY))
#: lsmem tables of a step: file name -> lsmem arguments (util-linux lsmem --sysroot).
LSMEM_FILES = {"lsmem.txt": [], "lsmem-a.txt": ["-a", "-o", "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"]}


@dataclass(frozen=True)
class Missing:
    """A value that could not be read: the file (or the part of it) is not there."""

    what: str

    def __repr__(self) -> str:
        return f"<missing {self.what}>"


@dataclass
class Obs:
    """One observed value: its name, its kind (for counting per kind) and the value."""

    name: str
    kind: str
    value: object


class StepFiles(Protocol):
    """The files of one capture step, from a folder or rendered from the model."""

    def text(self, name: str) -> str | None:
        """A text file of the step (None if the step has no such file)."""

    def sysroot(self) -> tuple[dict[str, str], dict[str, str]] | None:
        """The files and symlinks of sys/devices/system/{memory,node} (sysroot.json)."""

    def kpageflags(self, start: int, count: int) -> np.ndarray | None:
        """The /proc/kpageflags words read for ``count`` pfns from ``start`` (fewer if the read hit EOF)."""


class CaptureStep:
    """One step folder of a real-kernel capture (each file read once: the replay asks for some several times)."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = os.fspath(folder)
        self._texts: dict[str, str | None] = {}
        self._words: np.ndarray | None = None

    def _path(self, name: str) -> str:
        return os.path.join(self.folder, name)

    def text(self, name: str) -> str | None:
        """The file's text, or None when the folder lacks it."""
        if name not in self._texts:
            p = self._path(name)
            if not os.path.isfile(p):
                self._texts[name] = None
            else:
                with open(p, encoding="utf-8", errors="replace") as f:
                    self._texts[name] = f.read()
        return self._texts[name]

    def sysroot(self) -> tuple[dict[str, str], dict[str, str]] | None:
        """sysroot.json's files and symlinks, or None."""
        t = self.text("sysroot.json")
        if t is None:
            return None
        d = json.loads(t)
        return d.get("files", {}), d.get("symlinks", {})

    def kpageflags(self, start: int, count: int) -> np.ndarray | None:
        """The dumped words (range.kpageflags.gz), or None when the file is missing."""
        if self._words is None:
            p = self._path("range.kpageflags.gz")
            if not os.path.isfile(p):
                return None
            raw = gzip.open(p).read()
            self._words = np.frombuffer(raw[: len(raw) // 8 * 8], dtype="<u8").astype(np.uint64)
            self._words.flags.writeable = False         # shared by every reader of the step
        return self._words


class ModelStep:
    """The same files, rendered from the model as the capture harness would have read them."""

    def __init__(self, m: "Machine", lsmem: str | None = None) -> None:
        self.m = m
        self.lsmem = lsmem
        self._cache: dict[str, str | None] = {}

    def text(self, name: str) -> str | None:
        """zoneinfo, meminfo, vmstat, iomem, node<K>.meminfo, dax.txt, lsmem tables (with ``lsmem``); None otherwise."""
        if name in self._cache:
            return self._cache[name]
        m = self.m
        if name in ("zoneinfo", "meminfo", "vmstat", "buddyinfo", "pagetypeinfo", "iomem"):
            out: str | None = str(m.read(f"/proc/{name}"))
        elif name == "memory_hotplug_params":
            from .sysfs import memory_hotplug_params_text
            out = memory_hotplug_params_text(m)
        elif (mm := re.fullmatch(r"node(\d+)\.meminfo", name)) and int(mm.group(1)) in m.nodes:
            out = str(m.read(f"/sys/devices/system/node/node{mm.group(1)}/meminfo"))
        elif name in LSMEM_FILES and self.lsmem:
            out = run_lsmem(m, self.lsmem, LSMEM_FILES[name])
        elif name == "dax.txt":
            out = dax_txt(m)
        else:
            out = None
        self._cache[name] = out
        return out

    def sysroot(self) -> tuple[dict[str, str], dict[str, str]]:
        """The model's sysfs tree (workbook.sysfs.sysroot)."""
        from .sysfs import sysroot
        return sysroot(self.m)

    def kpageflags(self, start: int, count: int) -> np.ndarray:
        """The model's /proc/kpageflags words (stops at the end of memory like the kernel's)."""
        return self.m.kpageflags(start, count)


def run_lsmem(m: "Machine", lsmem: str, args: list[str]) -> str:
    """``lsmem [args] --sysroot`` on the model's exported tree, in the capture's format ($ line, output, [rc=N])."""
    with tempfile.TemporaryDirectory() as tmp:
        m.export_sysfs(os.path.join(tmp, "sysroot"))
        cmd = [lsmem] + args[:1] + ["--sysroot", "sysroot"] + args[1:]
        p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        shown = "lsmem " + " ".join(cmd[1:])
        return f"$ {shown}\n{p.stdout}{p.stderr}[rc={p.returncode}]\n"


def dax_txt(m: "Machine") -> str:
    """``dax.txt`` as the capture harness writes it: what ``cat`` and ``ls`` show of the dax devices and drivers.

    Per device: its driver, its attribute files in name order (a file ``cat`` cannot read
    shows busybox's error), its mappings and its region's files, and ``ls -l /dev/daxR.N``
    (the model's has no real date); then the drivers and the devices they hold, the hmem
    platform devices, the memory tiers, the node masks and /proc/modules.
    """
    from .errors import KernelError

    def cat(path: str) -> str:
        try:
            return str(m.read(path)).rstrip("\n")
        except KernelError as e:
            return f"cat: can't open '{path}': {e.strerror}"

    def ls(path: str) -> list[str]:
        try:
            return m.ls(path)
        except KernelError:
            return []
    out = ["# ls /sys/bus/dax/devices"]
    devs = ls("/sys/bus/dax/devices")
    out += devs
    attrs = ("align", "dev", "mapping", "memmap_on_memory", "modalias", "numa_node", "resource", "size", "target_node")
    for name in devs:
        d = "/sys/devices/platform/" + m.readlink(f"/sys/bus/dax/devices/{name}").split("/devices/platform/", 1)[1]
        out.append(f"## device {name} sysfs={d}")
        drv = m.readlink(f"{d}/driver").rsplit("/", 1)[1] if m.exists(f"{d}/driver") else ""
        out.append(f"driver = {drv}")
        entries = ls(d)
        out += [f"{a} = {cat(f'{d}/{a}')}" for a in attrs if a in entries]
        for mp in sorted(e for e in entries if e.startswith("mapping") and e[7:].isdigit()):
            out += [f"{mp}/{a} = {cat(f'{d}/{mp}/{a}')}" for a in ("end", "page_offset", "start")]
        out += [f"dax_region/{a} = {cat(f'{d}/../dax_region/{a}')}" for a in ls(f"{d}/../dax_region")]
        from .dax.sysfs import DAX_MAJOR
        minor = cat(f"{d}/dev").split(":")[-1]
        out.append(f"crw-------    1 0        0         {DAX_MAJOR},{minor:>4} Jan  1 00:00 /dev/{name}")
    out.append("# dax drivers (bound devices)")
    for drv in ls("/sys/bus/dax/drivers"):
        bound = [e for e in ls(f"/sys/bus/dax/drivers/{drv}") if e.startswith("dax")]
        out.append(f"{drv}: " + "".join(f"{b} " for b in bound))
    out.append("# platform devices (hmem, e820_pmem, nd)")
    out += [p for p in ls("/sys/bus/platform/devices") if re.search(r"hmem|e820_pmem|nd", p)]
    out.append("# memory tiers")
    out += [f"{t} nodelist={cat(f'/sys/devices/virtual/memory_tiering/{t}/nodelist')}"
            for t in ls("/sys/devices/virtual/memory_tiering") if t.startswith("memory_tier")]
    out.append("# node masks")
    out += [f"{k} = {cat(f'/sys/devices/system/node/{k}')}"
            for k in ("possible", "online", "has_normal_memory", "has_memory", "has_cpu")]
    out.append("# /proc/modules")
    out.append(str(m.read("/proc/modules")).rstrip("\n"))
    return "\n".join(out).rstrip("\n") + "\n"


def parse_dax_txt(text: str) -> dict:
    """{"devices": [...], "device": {name: {"sysfs", "attrs": {file: value}}}, "drivers": {driver: [devices]},
    "platform": [...], "tiers": [...], "modules": [names]} from a dax.txt."""
    out: dict = {"devices": [], "device": {}, "drivers": {}, "platform": [], "tiers": [], "modules": []}
    section, dev = "", None
    for line in text.splitlines():
        if line.startswith("## device "):
            mm = re.match(r"## device (\S+) sysfs=(\S+)", line)
            dev = out["device"].setdefault(mm.group(1), {"sysfs": mm.group(2), "attrs": {}})
            continue
        if line.startswith("# "):
            section, dev = line[2:], None
            continue
        if section.startswith("ls /sys/bus/dax/devices"):
            if dev is None:
                if line.strip():
                    out["devices"].append(line.strip())
                continue
            if re.match(r"[bc][rwx-]{9}\s", line):
                continue                        # ls -l /dev/daxR.N: dynamic major, a date
            k, _, v = line.partition(" = ")
            if v.startswith("cat: can't open"):
                v = "<unreadable: " + v.rsplit(": ", 1)[-1] + ">"
            dev["attrs"][k] = v
        elif section.startswith("dax drivers"):
            k, _, v = line.partition(":")
            out["drivers"][k] = v.split()
        elif section.startswith("platform devices"):
            out["platform"] += [line.strip()] if line.strip() else []
        elif section.startswith("memory tiers"):
            out["tiers"] += [line.strip()] if line.strip() else []
        elif section.startswith("/proc/modules"):
            out["modules"] += [line.split()[0]] if line.strip() else []
    return out


def find_lsmem() -> str | None:
    """util-linux's lsmem on PATH, or None."""
    return shutil.which("lsmem")


# ----------------------------------------------------------------------------------------------
# parsers
# ----------------------------------------------------------------------------------------------
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


def zone_pcp_cpu_counts(text: str) -> dict[tuple[int, str], dict[int, int]]:
    """{(node, zone): {cpu: pages on that CPU's per-cpu lists}} from /proc/zoneinfo's pagesets."""
    out = {}
    for stanza in re.split(r"(?=^Node \d+, zone)", text, flags=re.M):
        mm = re.match(r"Node (\d+), zone\s+(\w+)", stanza)
        if mm:
            out[(int(mm.group(1)), mm.group(2))] = {
                int(cpu): int(count) for cpu, count in re.findall(r"^\s+cpu:\s+(\d+)\s*\n\s+count:\s+(\d+)", stanza,
                                                                   flags=re.M)}
    return out


def _per_zone_sum(text: str, line: str) -> dict[tuple[int, str], int]:
    """{(node, zone): the sum of the numbers of every ``line`` of the zone's /proc/zoneinfo stanza}."""
    out = {}
    for stanza in re.split(r"(?=^Node \d+, zone)", text, flags=re.M):
        mm = re.match(r"Node (\d+), zone\s+(\w+)", stanza)
        if mm:
            out[(int(mm.group(1)), mm.group(2))] = sum(
                int(c) for c in re.findall(rf"^\s+{line}:\s+(\d+)", stanza, flags=re.M))
    return out


def zone_pcp_counts(text: str) -> dict[tuple[int, str], int]:
    """{(node, zone): pages on the per-cpu lists of all CPUs} from /proc/zoneinfo's pagesets."""
    return _per_zone_sum(text, "count")


def zone_stat_thresholds(text: str) -> dict[tuple[int, str], int]:
    """{(node, zone): the sum over CPUs of ``vm stats threshold``} from /proc/zoneinfo."""
    return _per_zone_sum(text, "vm stats threshold")


def pageblocks_by_type(text: str) -> dict[tuple[int, str], dict[str, int]]:
    """{(node, zone): {migratetype: pageblocks}} from /proc/pagetypeinfo's "Number of blocks type" table."""
    out: dict[tuple[int, str], dict[str, int]] = {}
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("Number of blocks type"):
            names = line.split()[4:]
            for row in lines[i + 1:]:
                mm = re.match(r"Node\s+(\d+), zone\s+(\w+)\s+([\d\s]+)$", row)
                if not mm:
                    break
                out[(int(mm.group(1)), mm.group(2))] = dict(zip(names, map(int, mm.group(3).split())))
    return out


def _params(text: str) -> dict[str, str] | str:
    """``name=value`` lines of memory_hotplug_params as a dict; ``"absent"`` when the kernel has none."""
    if text.lstrip().startswith("#") and "absent" in text:
        return "absent"
    return dict(ln.split("=", 1) for ln in text.splitlines() if "=" in ln)


def meminfo_total(text: str | None) -> int | Missing:
    """MemTotal in kB from a (node) meminfo text."""
    if text is None:
        return Missing("meminfo")
    mm = re.search(r"MemTotal:\s+(\d+) kB", text)
    return int(mm.group(1)) if mm else Missing("MemTotal line")


# ----------------------------------------------------------------------------------------------
# what is compared in a step
# ----------------------------------------------------------------------------------------------
@dataclass
class StepContext:
    """What decides the names and the set of a step's observations: the same for both sides.

    It comes from the scenario and the reference capture, never from the model, so the model
    cannot choose which of its own values are compared.
    """

    step: str
    hot_nodes: list[int]                        # nodes whose memory all arrives by hot-plug
    kpf_range: tuple[int, int] | None           # pfns dumped in this step
    block_pfns: int                             # pfns per memory block (reference's block_size_bytes)
    blocks: list[int]                           # memory blocks of the reference
    zones: dict[int, list[str]]                 # hot node -> zone stanzas of the reference zoneinfo
    no_free: dict[tuple[int, str], str] = field(default_factory=dict)   # (node, zone) -> why free is left out
    no_buddy: dict[int, str] = field(default_factory=dict)              # block -> why BUDDY is left out
    buddy_windows: dict[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)  # block -> pageblocks
    buddy_pooled: set[int] = field(default_factory=set)      # blocks whose windows are compared as one count
                                                                        # where BUDDY is compared as a count
    lsmem: bool = True                          # compare the lsmem tables
    params_file: bool = False                   # the reference step has memory_hotplug_params
    dax: bool = False                           # a dax/kmem run: compare dax.txt
    iomem_ranges: list[tuple[int, int]] = field(default_factory=list)   # (start, end excl.) whose iomem lines count


def observe(files: StepFiles, ctx: StepContext) -> list[Obs]:
    """Every observation of one step, in report order (see the README's replay section for the list)."""
    out: list[Obs] = []
    add = lambda name, kind, value: out.append(Obs(name, kind, value))  # noqa: E731
    sr = files.sysroot()
    cfiles, clinks = sr if sr is not None else ({}, {})
    miss = Missing("sysroot.json") if sr is None else None

    blocks = sorted(int(mm.group(1)) for k in cfiles
                    if (mm := re.fullmatch(rf"{_SYS}/memory/memory(\d+)/state", k)))
    add("memory blocks", "blocks", miss or blocks)
    for bid in ctx.blocks:
        for attr in BLOCK_ATTRS:
            add(f"memory{bid}.{attr}", attr, miss or cfiles.get(f"{_SYS}/memory/memory{bid}/{attr}",
                                                                 Missing(f"memory{bid}/{attr}")))
        links = sorted(k.split("/")[-1] for k in clinks if re.fullmatch(rf"{_SYS}/memory/memory{bid}/node\d+", k))
        add(f"memory{bid}.node", "node link", miss or links)
    for attr in ("block_size_bytes", "auto_online_blocks"):
        add(attr, attr, miss or cfiles.get(f"{_SYS}/memory/{attr}", Missing(attr)))
    for attr in NODE_MASKS:
        add(f"node/{attr}", "node mask", miss or cfiles.get(f"{_SYS}/node/{attr}", Missing(f"node/{attr}")))
    if ctx.params_file:
        t = files.text("memory_hotplug_params")
        add("memory_hotplug parameters", "module params",
            Missing("memory_hotplug_params") if t is None else _params(t))

    zi = files.text("zoneinfo")
    zones = parse_zoneinfo(zi) if zi is not None else {}
    for nid in ctx.hot_nodes:
        have = [z for (n, z) in zones if n == nid]
        add(f"node{nid} zones", "zone stanzas", have if zi is not None else Missing("zoneinfo"))
        for zname in ctx.zones.get(nid, []):
            vals = zones.get((nid, zname))
            for k in ("spanned", "present", "managed", "start_pfn", "free"):
                if k == "free" and (nid, zname) in ctx.no_free:
                    continue
                if vals is None:
                    v: object = Missing(f"node {nid} {zname} stanza")
                elif k == "start_pfn" and k not in vals:
                    continue        # only populated zones print start_pfn: a difference shows in spanned
                else:
                    v = vals.get(k, Missing(f"{k} line"))
                add(f"node{nid} {zname}.{k}", "free" if k == "free" else "zone counter", v)
        add(f"node{nid} MemTotal kB", "MemTotal", meminfo_total(files.text(f"node{nid}.meminfo")))

    vm = files.text("vmstat")
    if vm is None:
        add("vmstat nr_memmap_pages", "nr_memmap_pages", Missing("vmstat"))
    else:
        mm = re.search(r"^nr_memmap_pages (\d+)", vm, flags=re.M)
        # no such line is an observation too (5.10 and 6.1 have no such counter)
        add("vmstat nr_memmap_pages", "nr_memmap_pages", int(mm.group(1)) if mm else "no such line")

    if ctx.kpf_range is not None:
        start, count = ctx.kpf_range
        words = files.kpageflags(start, count)
        add("kpageflags words", "kpf length",
            Missing("range.kpageflags.gz") if words is None else int(min(len(words), count)))
        if words is not None:
            words = words[:count]
            ppb = ctx.block_pfns
            for bid in range(start // ppb, (start + count - 1) // ppb + 1):
                lo, hi = max(bid * ppb, start) - start, min((bid + 1) * ppb, start + count) - start
                seg = words[lo:hi]
                if len(seg) < hi - lo:
                    continue                    # beyond the end of the read: the length says it
                for bname, bit in KPF_BITS:
                    if bname == "BUDDY" and bid in ctx.no_buddy:
                        continue
                    add(f"kpageflags memory{bid} {bname}", bname,
                        BitMap(((seg >> np.uint64(bit)) & np.uint64(1)).astype(bool), start + lo,
                               ctx.buddy_windows.get(bid, ()) if bname == "BUDDY" else (),
                               pooled=bid in ctx.buddy_pooled))

    for start, end in ctx.iomem_ranges:
        t = files.text("iomem")
        lines: object = Missing("iomem") if t is None else [
            ln for ln in t.splitlines() if (mm := re.match(r"\s*([0-9a-f]+)-([0-9a-f]+) : ", ln))
            and int(mm.group(1), 16) < end and int(mm.group(2), 16) >= start]
        add(f"iomem [{start:#x}-{end - 1:#x}]", "iomem", lines)
    if ctx.dax:
        _observe_dax(files.text("dax.txt"), add)

    if ctx.lsmem:
        for name in LSMEM_FILES:
            t = files.text(name)
            add(name, "lsmem", t if t is not None else Missing(name))
    return out


def _observe_dax(text: str | None, add) -> None:
    """dax.txt: the devices, each one's driver and attributes, the drivers' devices, hmem devices, tiers, modules."""
    if text is None:
        add("dax devices", "dax device", Missing("dax.txt"))
        return
    d = parse_dax_txt(text)
    add("dax devices", "dax device", d["devices"])
    for name in d["devices"]:
        dev = d["device"].get(name)
        if dev is None:
            add(f"{name} sysfs", "dax device", Missing(f"## device {name}"))
            continue
        add(f"{name} sysfs", "dax device", dev["sysfs"])
        for k, v in dev["attrs"].items():
            if k == "dev":
                continue                # the char major is dynamic
            kind = "dax driver" if k == "driver" else "dax region" if k.startswith("dax_region/") else "dax attr"
            add(f"{name}/{k}", kind, v)
    add("dax drivers", "dax driver", sorted(d["drivers"]))
    for drv, devs in d["drivers"].items():
        add(f"dax driver {drv} holds", "dax driver", devs)
    add("hmem platform devices", "platform device", d["platform"])
    add("memory tiers", "memory tier", d["tiers"])
    add("modules", "module", d["modules"])


class BitMap:
    """One kpageflags bit over a pfn range; equal when every pfn agrees; shown as a count."""

    def __init__(self, bits: np.ndarray, start_pfn: int,
                 windows: tuple[tuple[int, int], ...] = (), pooled: bool = False) -> None:
        # windows: [first, end) pfn ranges where only the number of set bits is compared (the pageblocks
        # holding the kernel's own pages and per-cpu list pages, whose order among themselves the
        # capture does not record); pooled: one count over all windows instead of one each
        self.bits, self.start_pfn, self.windows, self.pooled = bits, start_pfn, tuple(windows), pooled

    def _split(self, windows: tuple[tuple[int, int], ...], pooled: bool = False) -> tuple[np.ndarray, list[int]]:
        """The bits outside ``windows``, and the count inside each (or inside all, ``pooled``)."""
        mask = np.ones(len(self.bits), dtype=bool)
        counts = []
        for first, end in windows:
            lo, hi = max(first - self.start_pfn, 0), max(min(end - self.start_pfn, len(self.bits)), 0)
            mask[lo:hi] = False
            counts.append(int(self.bits[lo:hi].sum()))
        return self.bits[mask], [sum(counts)] if pooled else counts

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BitMap) or len(self.bits) != len(other.bits):
            return False
        w = self.windows or other.windows
        pooled = self.pooled or other.pooled
        (ao, ac), (bo, bc) = self._split(w, pooled), other._split(w, pooled)
        return ac == bc and bool(np.array_equal(ao, bo))

    def __hash__(self) -> int:  # pragma: no cover - not used as a key
        return hash((int(self.bits.sum()), len(self.bits)))

    def describe(self, other: "BitMap | None" = None) -> str:
        """``N of M pfns``, plus the first pfn where ``other`` differs."""
        s = f"{int(self.bits.sum())} of {len(self.bits)} pfns"
        w = self.windows or (other.windows if isinstance(other, BitMap) else ())
        pooled = self.pooled or (isinstance(other, BitMap) and other.pooled)
        if w:
            s += " (" + ", ".join(f"{a:#x}-{b - 1:#x}" for a, b in w) + \
                (": the count over all of them)" if pooled and len(w) > 1 else ": the count only)")
        if isinstance(other, BitMap) and len(other.bits) == len(self.bits) and self != other:
            mine, theirs = self._split(w, pooled)[1], other._split(w, pooled)[1]
            if mine != theirs:
                s += ", in each window " + "/".join(map(str, mine))
            diff = self.bits != other.bits
            for a, b in w:
                diff[max(a - self.start_pfn, 0):max(b - self.start_pfn, 0)] = False
            if diff.any():
                s += f", first difference at pfn {self.start_pfn + int(np.nonzero(diff)[0][0]):#x}"
        return s

    def __repr__(self) -> str:
        return self.describe()
