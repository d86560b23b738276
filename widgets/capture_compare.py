"""CaptureCompare: a captured real-kernel run beside the model's run of the same steps, file by file.

A shipped capture (``workbook/data/captures/<kernel>/<scenario>``) is a list of steps, each
with the actions taken before it and what the kernel printed after it.  The model boots the
machine ``scenario.json`` describes, performs the same actions through ``Machine``'s public
interface, and after each step prints the same files in the same format.  The view shows,
for a chosen step and file, the model's text beside the real kernel's, for 6.1 and 6.12.

The text helpers (:func:`memory_blocks_txt`, :func:`kpageflags_runs`, :func:`zoneinfo_node`,
...) format what the model says the way the capture harness wrote its files; they decide
nothing.  ``workbook.replay`` is the field-by-field comparison; this view is for reading.
"""
from __future__ import annotations

import gzip
import json
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from ipywidgets import HTML, Dropdown, GridBox, HBox, Layout, VBox

from widgets._common import esc, pre
from workbook.captures import capture_dir, load_scenario
from workbook.machine import Machine
from workbook.pagemap import kpf_names
from workbook.replay import iter_replay

__all__ = ["FILES", "CaptureCompare", "memory_blocks_txt", "kpageflags_runs", "zoneinfo_node", "zoneinfo_key_lines",
           "meminfo_lines", "vmstat_memmap", "machine_after_step", "field_kind",
           "replay_by_kernel", "replay_table", "replay_kinds", "columns", "numactl_from_capture",
           "boot_console_lines"]

#: The files the view can show, in the order of the dropdown.
FILES = ("memory_blocks.txt", "zoneinfo (hot-plug node)", "node meminfo", "kpageflags runs", "vmstat nr_memmap")
_ZONE_KEYS = ("pages free", "spanned", "present", "managed", "start_pfn:")
_MEM = "/sys/devices/system/memory"


# ----------------------------------------------------------------------------------------------
# text helpers: the capture harness's formats
# ----------------------------------------------------------------------------------------------
def memory_blocks_txt(m: Machine, node: int | None = None) -> str:
    """``memory_blocks.txt`` of the capture harness, read from the model's sysfs (only ``node``'s blocks if given)."""
    lines = []
    for bid in sorted(m.blocks):
        b = m.blocks[bid]
        if node is not None and b.nid != node:
            continue
        d = f"{_MEM}/memory{bid}"
        vals = {a: str(m.read(f"{d}/{a}")).strip()
                for a in ("state", "online", "phys_index", "phys_device", "removable", "valid_zones")}
        start = f"{(b.start_pfn << m.arch.page_shift):#x}"
        lines.append(f"{b.name:<10} start={start:<12} state={vals['state']:<8} online={vals['online']} "
                     f"phys_index={vals['phys_index']} phys_device={vals['phys_device']} "
                     f"removable={vals['removable']} node={b.nid} valid_zones={vals['valid_zones']}")
    return "\n".join(lines)


def kpageflags_runs(words: np.ndarray, start_pfn: int) -> str:
    """/proc/kpageflags words as runs: ``start_pfn end_pfn npfns raw_flags names`` (the capture's runs.txt)."""
    words = np.asarray(words, dtype=np.uint64)
    if not len(words):
        return "(no pfns: beyond max_pfn)"
    edges = np.nonzero(words[1:] != words[:-1])[0] + 1
    starts = np.concatenate([[0], edges])
    ends = np.concatenate([edges, [len(words)]])
    return "\n".join(f"{start_pfn + int(s):#x} {start_pfn + int(e) - 1:#x} {int(e - s)} {int(words[s]):#x} "
                     f"{kpf_names(int(words[s]))}" for s, e in zip(starts, ends))


def zoneinfo_node(text: str, node: int) -> list[str]:
    """The stanzas of ``node`` in a /proc/zoneinfo text, one string each."""
    parts = re.split(r"(?=^Node \d+, zone)", text, flags=re.M)
    return [p.rstrip("\n") for p in parts if p.startswith(f"Node {node}, zone")]


def zoneinfo_key_lines(text: str, node: int, populated_only: bool = True) -> str:
    """The header and the pages free / spanned / present / managed / start_pfn lines of ``node``'s zones."""
    out = []
    for st in zoneinfo_node(text, node):
        lines = st.splitlines()
        if populated_only and not re.search(r"^\s+spanned\s+[1-9]", st, flags=re.M):
            continue
        out.append(lines[0])
        out += [ln for ln in lines[1:] if ln.strip().startswith(_ZONE_KEYS)]
    return "\n".join(out) if out else f"(node {node} has no populated zone)"


def meminfo_lines(text: str, fields: Sequence[str] = ("MemTotal", "MemFree", "MemUsed", "AnonPages")) -> str:
    """The lines of a node meminfo text for ``fields``."""
    want = tuple(f" {f}:" for f in fields)
    return "\n".join(ln for ln in text.splitlines() if any(w in ln for w in want))


def vmstat_memmap(text: str) -> str:
    """The ``nr_memmap_pages`` / ``nr_memmap_boot_pages`` lines of /proc/vmstat (6.11+)."""
    lines = [ln for ln in text.splitlines() if ln.startswith("nr_memmap")]
    return "\n".join(lines) if lines else "(no nr_memmap_* lines)"


def machine_after_step(kernel: str, step: str, scenario: str = "A") -> Machine:
    """The model of a shipped capture's machine after every step up to and including ``step``.

    It goes through the replay's step runner (``workbook.replay.iter_replay``), so the kernel's
    own pages that the capture shows are there too.
    """
    for st in iter_replay(capture_dir(kernel, scenario), lsmem=None, compare=False):
        if st.name == step:
            return st.runner.m
    raise ValueError(f"no step {step!r} in capture {kernel}/{scenario}")


_KINDS = (
    (r"^memory blocks$", "set of memory blocks"),
    (r"^memory\d+\.", "memoryN sysfs files and node link"),
    (r"^(block_size_bytes|auto_online_blocks)$", "memory root files"),
    (r"^node/", "node masks"),
    (r"^node\d+ \w+\.", "zone counters of the hot-plug node"),
    (r"^node\d+ MemTotal", "node MemTotal"),
    (r"^vmstat ", "vmstat nr_memmap_pages"),
    (r"^kpageflags ", "kpageflags bits"),
    (r"^(dimm_add|dimm_del) ", "DIMM added / deleted"),
    (r"^write ", "errno of each write"),
    (r"^wait ", "wait conditions"),
    (r"^lsmem", "lsmem tables"),
)


def field_kind(name: str) -> str:
    """The group a replayed field belongs to (for summary tables), from its name."""
    for pattern, kind in _KINDS:
        if re.search(pattern, name):
            return kind
    return "other"


def _short_description(sc: dict, width: int = 44) -> str:
    text = " ".join(sc["description"].split())
    return text if len(text) <= width else text[:width - 1].rstrip(" ,:;") + "…"


def _left_out_pairs(r: Any) -> int:
    """How many (value, step) pairs this capture's replay left out beyond what every capture leaves out."""
    return sum(len(steps) for steps in r.left_out.values() if steps != ["every step"])


def _by_kernel(results: Sequence[Any]) -> list[tuple[str, str, list[Any]]]:
    """(series, release, results) for each kernel series of ``results``, oldest first."""
    by_series: dict[str, list[Any]] = {}
    for r in results:
        series = str(r.capture).rstrip("/").split("/")[-2]
        by_series.setdefault(series, []).append(r)
    out = []
    for series in sorted(by_series, key=lambda s: tuple(int(x) for x in s.split("."))):
        group = by_series[series]
        release = load_scenario(series, str(group[0].capture).rstrip("/").split("/")[-1])["kernel"]["release"]
        out.append((series, release, group))
    return out


def replay_by_kernel(results: Sequence[Any]) -> str:
    """One line per kernel of ``workbook.replay.replay()`` results: its captures and how many fields match."""
    rows = []
    for _series, release, group in _by_kernel(results):
        names = " ".join(str(r.capture).rstrip("/").split("/")[-1] for r in group)
        n, ok = sum(len(r.fields) for r in group), sum(r.matched for r in group)
        rows.append(f"Linux {release:<22} {len(group):>2} captures ({names}): {ok:,} of {n:,} fields match")
    return "\n".join(rows)


def replay_table(results: Sequence[Any]) -> str:
    """A text table of ``workbook.replay.replay()`` results, grouped by kernel: fields compared and matched per capture.

    ``taken`` counts the values the replay took from the capture (``r.inputs``), ``left out``
    the (value, step) pairs it did not compare beyond those no capture compares.
    """
    head = (f"{'capture':<8} {'memmap_on_memory':>16} {'steps':>5} {'fields':>6} {'match':>6} {'':<5} "
            f"{'taken':>5} {'left out':>8}  what happens")
    rows = [head]
    for series, release, group in _by_kernel(results):
        n, ok = sum(len(r.fields) for r in group), sum(r.matched for r in group)
        rows.append(f"Linux {release}: {len(group)} captures, {ok} of {n} fields match")
        for r in group:
            scen = str(r.capture).rstrip("/").split("/")[-1]
            sc = load_scenario(series, scen)
            mom = re.search(r"memory_hotplug.memmap_on_memory=(\S+)", sc["machine"]["cmdline"])
            steps = len(dict.fromkeys(f.step for f in r.fields))
            pct = "100 %" if r.ok else f"{100 * r.matched // max(len(r.fields), 1)} %"
            rows.append(f"  {series + '/' + scen:<6} {mom.group(1) if mom else '-':>16} {steps:>5} {len(r.fields):>6} "
                        f"{r.matched:>6} {pct:<5} {len(r.inputs):>5} {_left_out_pairs(r):>8}  {_short_description(sc)}")
    return "\n".join(rows)


def replay_kinds(results: Sequence[Any]) -> str:
    """A text table: for each kind of field (:func:`field_kind`), how many were compared and matched, all captures."""
    total: dict[str, list[int]] = {}
    for r in results:
        for f in r.fields:
            t = total.setdefault(field_kind(f.name), [0, 0])
            t[0] += 1
            t[1] += f.ok
    rows = [f"{'kind of field':<36} {'compared':>8} {'matched':>8}"]
    rows += [f"{k:<36} {n:>8} {ok:>8}" for k, (n, ok) in sorted(total.items(), key=lambda kv: -kv[1][0])]
    return "\n".join(rows)


def columns(left: str, right: str, titles: tuple[str, str], width: int = 44) -> str:
    """Two texts as columns under their titles, then ``same`` or ``differs``."""
    a, b = left.splitlines(), right.splitlines()
    rows = [f"{titles[0]:<{width}} | {titles[1]}", f"{'-' * width}-+-{'-' * width}"]
    for i in range(max(len(a), len(b))):
        x, y = (a[i] if i < len(a) else ""), (b[i] if i < len(b) else "")
        rows.append(f"{x[:width]:<{width}} | {y[:width]}")
    rows.append("same" if left == right else "differs")
    return "\n".join(rows)


def numactl_from_capture(folder: str | Path) -> str:
    """What ``numactl -H`` would have printed at a captured step, from the node files the capture read.

    numactl (libnuma) reads each node's ``cpulist``, ``meminfo`` (size = MemTotal, free = MemFree,
    in kB >> 10) and ``distance``; the captures hold those files (``sysroot.json``), not numactl's output.
    """
    files = json.loads((Path(folder) / "sysroot.json").read_text())["files"]
    node = "sys/devices/system/node"

    def span(text: str) -> list[int]:
        out: list[int] = []
        for part in text.strip().split(","):
            if part:
                lo, _, hi = part.partition("-")
                out += range(int(lo), int(hi or lo) + 1)
        return out

    nodes = span(files[f"{node}/online"])
    rng = f"{nodes[0]}-{nodes[-1]}" if len(nodes) > 1 and nodes == list(range(nodes[0], nodes[-1] + 1)) \
        else ",".join(map(str, nodes))
    out = [f"available: {len(nodes)} nodes ({rng})"]
    for nid in nodes:
        meminfo = files[f"{node}/node{nid}/meminfo"]
        total = int(re.search(r"MemTotal:\s+(\d+) kB", meminfo).group(1))
        free = int(re.search(r"MemFree:\s+(\d+) kB", meminfo).group(1))
        out.append(f"node {nid} cpus:" + "".join(f" {c}" for c in span(files[f"{node}/node{nid}/cpulist"])))
        out.append(f"node {nid} size: {total >> 10} MB")
        out.append(f"node {nid} free: {free >> 10} MB")
    out.append("node distances:")
    out.append("node " + "".join(f"{n:3d} " for n in nodes))
    for a in nodes:
        out.append(f"{a:3d}: " + "".join(f"{int(d):3d} " for d in files[f"{node}/node{a}/distance"].split()))
    return "\n".join(out) + "\n"


def boot_console_lines(kernel: str, scenario: str = "A") -> list[str]:
    """The boot log lines of a capture that say where node 0's memory went: ``Memory:`` and the swiotlb mapping."""
    text = (capture_dir(kernel, scenario) / "console.log").read_text(errors="replace")
    return [ln.split("] ", 1)[-1] for ln in text.splitlines()
            if re.search(r"\] (Memory: \d+K/\d+K available|software IO TLB: mapped)", ln)]


# ----------------------------------------------------------------------------------------------
# the view
# ----------------------------------------------------------------------------------------------
class CaptureCompare:
    """Model vs real kernel for every step of one captured scenario, on 6.1 and 6.12."""

    def __init__(self, scenario: str = "A", kernels: Sequence[str] = ("6.1", "6.12"), node: int = 1,
                 folders: dict[str, Any] | None = None) -> None:
        """Replay ``scenario`` on the model for each kernel and load the captured files.

        ``folders`` maps a kernel to a capture folder of its own (a fresh ``capture`` run)
        instead of the shipped capture of ``scenario``.
        """
        self.scenario, self.kernels, self.node = scenario, list(kernels), node
        self.folders = {k: Path(v) for k, v in (folders or {}).items()}
        self.steps: list[str] = []
        self.actions: dict[str, dict[str, list[str]]] = {}          # kernel -> step -> action log lines
        self.model: dict[str, dict[str, dict[str, str]]] = {}       # kernel -> step -> file -> text
        self.real: dict[str, dict[str, dict[str, str]]] = {}
        for k in self.kernels:
            self._run(k)
        self.step = Dropdown(options=self.steps, value=self.steps[min(2, len(self.steps) - 1)], description="step",
                             style={"description_width": "initial"})
        self.file = Dropdown(options=list(FILES), value=FILES[1], description="file",
                             style={"description_width": "initial"})
        self.did = HTML()
        self.cells = [HTML(layout=Layout(overflow="auto")) for _ in range(2 * len(self.kernels))]
        self.step.observe(lambda _c: self.refresh(), names="value")
        self.file.observe(lambda _c: self.refresh(), names="value")
        grid = GridBox(self.cells, layout=Layout(grid_template_columns="repeat(2, 1fr)", grid_gap="4px 12px"))
        self.widget = VBox([HBox([self.step, self.file]), self.did, grid])
        self.refresh()

    def _texts(self, m: Machine, start: int | None, count: int | None) -> dict[str, str]:
        node = self.node
        words = m.kpageflags(start, count) if start is not None else None
        return {
            "memory_blocks.txt": memory_blocks_txt(m, node) or f"(no memory block on node {node})",
            "zoneinfo (hot-plug node)": zoneinfo_key_lines(str(m.read("/proc/zoneinfo")), node),
            "node meminfo": meminfo_lines(str(m.read(f"/sys/devices/system/node/node{node}/meminfo"))),
            "kpageflags runs": kpageflags_runs(words, start) if words is not None else "(no pfn range dumped)",
            "vmstat nr_memmap": vmstat_memmap(str(m.read("/proc/vmstat"))),
        }

    def _real_texts(self, folder: Any, start: int | None, count: int | None) -> dict[str, str]:
        node = self.node
        read = lambda name: (folder / name).read_text() if (folder / name).exists() else ""  # noqa: E731
        blocks = "\n".join(ln for ln in read("memory_blocks.txt").splitlines() if f" node={node} " in ln)
        if start is not None and (folder / "range.kpageflags.gz").exists():
            words = np.frombuffer(gzip.open(folder / "range.kpageflags.gz").read(), dtype="<u8")[:count]
            runs = kpageflags_runs(words, start)
        else:
            runs = "(no pfn range dumped)"
        return {
            "memory_blocks.txt": blocks or f"(no memory block on node {node})",
            "zoneinfo (hot-plug node)": zoneinfo_key_lines(read("zoneinfo"), node),
            "node meminfo": meminfo_lines(read(f"node{node}.meminfo")),
            "kpageflags runs": runs,
            "vmstat nr_memmap": vmstat_memmap(read("vmstat")),
        }

    def _run(self, kernel: str) -> None:
        base = self.folders.get(kernel) or capture_dir(kernel, self.scenario)
        self.model[kernel], self.real[kernel], self.actions[kernel] = {}, {}, {}
        steps = []
        for st in iter_replay(base, lsmem=None, compare=False):
            step, name, m = st.step, st.name, st.runner.m
            steps.append(name)
            self.actions[kernel][name] = [ln for a, ln in zip(step["actions"], st.lines)
                                          if a["op"] not in ("wait", "sleep", "sync")]
            start, count = (int(step["kpf_range"][0]), int(step["kpf_range"][1])) if step.get("kpf_range") else (None, None)
            self.model[kernel][name] = self._texts(m, start, count)
            self.real[kernel][name] = self._real_texts(base / name, start, count)
        if not self.steps:
            self.steps = steps

    # ------------------------------------------------------------------------------------------
    def text(self, kernel: str, step: str, file: str, source: str = "model") -> str:
        """The text of ``file`` after ``step``: what the model printed (``source="model"``) or the kernel ("real")."""
        table = self.model if source == "model" else self.real
        return table[kernel][step][file]

    def same(self, kernel: str, step: str, file: str) -> bool:
        """Did the model print exactly what the real kernel printed?"""
        return self.text(kernel, step, file, "model") == self.text(kernel, step, file, "real")

    def side_by_side(self, kernel: str, step: str, file: str, width: int = 58) -> str:
        """Model and real kernel as two text columns (for printing in a cell)."""
        left = self.text(kernel, step, file, "model").splitlines()
        right = self.text(kernel, step, file, "real").splitlines()
        rows = [f"{'model, ' + kernel:<{width}} | real Linux {kernel}", f"{'-' * width}-+-{'-' * width}"]
        for i in range(max(len(left), len(right))):
            a = left[i] if i < len(left) else ""
            b = right[i] if i < len(right) else ""
            rows.append(f"{a[:width]:<{width}} | {b[:width]}")
        rows.append(f"{'same' if self.same(kernel, step, file) else 'differs'}")
        return "\n".join(rows)

    def stacked(self, kernel: str, step: str, file: str) -> str:
        """Model above real kernel (for long lines), then ``same`` or ``differs``."""
        return (f"model of Linux {kernel}:\n{self.text(kernel, step, file, 'model')}\n"
                f"real Linux {kernel}:\n{self.text(kernel, step, file, 'real')}\n"
                f"-> {'same' if self.same(kernel, step, file) else 'differs'}")

    def refresh(self) -> None:
        """Show the chosen step and file."""
        step, file = self.step.value, self.file.value
        k0 = self.kernels[0]
        self.did.value = ("<div style='font-size:12px'><b>actions before this step</b> "
                          + (pre("\n".join(self.actions[k0][step])) if self.actions[k0][step] else "<i>none (boot)</i>")
                          + "</div>")
        for i, k in enumerate(self.kernels):
            same = self.same(k, step, file)
            badge = ("<span style='color:#1a7f37'>same</span>" if same
                     else "<span style='color:#b00020'>differs</span>")
            for j, source in enumerate(("model", "real")):
                head = f"model of Linux {k}" if source == "model" else f"real Linux {k}"
                self.cells[2 * i + j].value = (f"<div class='capture-cell' data-kernel='{esc(k)}' "
                                               f"data-source='{source}' data-same='{int(same)}'>"
                                               f"<b>{esc(head)}</b> ({badge})"
                                               + pre(self.text(k, step, file, source)) + "</div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
