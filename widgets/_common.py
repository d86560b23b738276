"""Small helpers the views share: HTML escaping, the commands a learner would type, block pickers, actions.

Nothing here decides anything the kernel decides: it formats what the model says and
runs the model's public API (``Machine.read/write/dimm_add/...``), catching the
kernel's :class:`~workbook.errors.KernelError` so a view can show it inline.
"""
from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from ipywidgets import BoundedIntText, Dropdown, Widget

from widgets.units import format_bytes
from workbook.errors import KernelError
from workbook.machine import Machine

__all__ = ["ActionRecord", "DEFAULT_MACHINE", "MEM", "block_picker", "block_options", "dax_device_blocks",
           "dax_summary", "daxctl_reconfigure", "esc", "first_added_block",
           "make_machine", "notify", "pre", "refresh_block_picker", "run_action",
           "run_actions", "shell_echo", "qmp_lines", "record_html", "resync", "display_bundle", "size_arg",
           "summary_html"]

MEM = "/sys/devices/system/memory"

#: Above this many blocks a picker is a number box, not a dropdown (a 32 768-entry dropdown is slow).
DROPDOWN_LIMIT = 1024

#: One action of a scripted run: ("dimm_add", size, node[, id]), ("dimm_del", id),
#: ("write", path, value), ("online", block, state), ("start_workload", node, nbytes),
#: ("pin", node, nbytes), ("stop_workload", name), ("insmod", module), ("rmmod", module),
#: ("daxctl", device, "system-ram" | "devdax"[, online]).
Action = Sequence[Any]


def esc(text: object) -> str:
    """HTML-escape ``text``."""
    return html.escape(str(text), quote=True)


def pre(text: str, cls: str = "") -> str:
    """``text`` in a ``<pre>`` block (escaped)."""
    c = f' class="{cls}"' if cls else ""
    return f"<pre{c} style='margin:2px 0;white-space:pre-wrap;word-break:normal;overflow-wrap:break-word'>{esc(text)}</pre>"


def summary_html(text: str) -> str:
    """A figure's text summary, shown under it: what a screen reader reads, and the static site's alt text."""
    return (f"<p class='figure-summary' role='note' style='font-size:12px;line-height:1.35;color:#333;"
            f"margin:2px 0 4px 0;max-width:900px'><b>Figure:</b> {esc(text)}</p>")


def size_arg(nbytes: int) -> str:
    """QEMU/numactl size argument: ``128M``, ``2G``."""
    for unit, shift in (("T", 40), ("G", 30), ("M", 20), ("K", 10)):
        if nbytes >= 1 << shift and nbytes % (1 << shift) == 0:
            return f"{nbytes >> shift}{unit}"
    return str(nbytes)


def shell_echo(path: str, value: str) -> str:
    """The shell line that writes ``value`` to ``path``."""
    return f"echo {value} > {path}"


def qmp_lines(qmp: str) -> str:
    """QMP/HMP commands of a DimmResult (``a ; b``) as monitor lines ``(qemu) a``."""
    return "\n".join(f"(qemu) {c.strip()}" for c in qmp.split(";") if c.strip())


def block_options(m: Machine, hotplugged_first: bool = True) -> list[tuple[str, int]]:
    """``(label, id)`` for every memory block: hot-plugged ones first, then boot memory."""
    blocks = sorted(m.blocks.values(), key=lambda b: ((b.boot if hotplugged_first else False), b.id))
    return [(f"memory{b.id} ({b.state_name()}{', boot' if b.boot else ''})", b.id) for b in blocks]


def block_picker(m: Machine, value: int | None = None, description: str = "block") -> Widget:
    """A Dropdown of the machine's blocks, or a number box when there are too many of them."""
    style = {"description_width": "initial"}
    if len(m.blocks) <= DROPDOWN_LIMIT:
        opts = block_options(m)
        ids = [v for _, v in opts]
        return Dropdown(options=opts, value=value if value in ids else (ids[0] if ids else None),
                        description=description, style=style)
    hi = max(m.blocks) if m.blocks else 0
    return BoundedIntText(value=value if value is not None else min(m.blocks, default=0), min=0, max=hi,
                          description=description, style=style)


def refresh_block_picker(w: Widget, m: Machine, keep: int | None = None) -> None:
    """Re-read the machine's blocks into a picker made by :func:`block_picker`, keeping ``keep`` if it exists."""
    if isinstance(w, Dropdown):
        opts = block_options(m)
        ids = [v for _, v in opts]
        cur = keep if keep is not None else w.value
        w.options = opts
        w.value = cur if cur in ids else (ids[0] if ids else None)
    elif isinstance(w, BoundedIntText):
        w.max = max(m.blocks, default=0)
        if keep is not None:
            w.value = keep


@dataclass
class ActionRecord:
    """One action on a machine: the command a learner would type and what the kernel (or QEMU) answered."""

    action: str                 # "hot-add", "state", "hot-remove", "workload", "pin", "stop", "write", ...
    command: str                # shell / QEMU monitor lines
    ok: bool
    result: str                 # one-line outcome
    errno_name: str = ""        # e.g. "EBUSY" when the kernel refused
    strerror: str = ""          # e.g. "Device or resource busy"
    message: str = ""           # the kernel's reason / log line
    log: list[str] = field(default_factory=list)   # dmesg lines printed during the action
    trace: str = ""             # the kernel call path (indented)
    seconds: float = 0.0        # model time for the action
    value: Any = None           # what the call returned (DimmResult, Allocation, ...)


def _fail(rec: ActionRecord, e: KernelError) -> ActionRecord:
    rec.ok = False
    rec.errno_name = e.errno_name
    rec.strerror = e.strerror or ""
    rec.message = e.message or (e.log[-1] if e.log else "")
    return rec


def run_action(m: Machine, action: Action, trace: bool = True) -> ActionRecord:
    """Run one scripted action on ``m``; never raises for a kernel refusal (the record says why)."""
    kind, *args = action
    log0, mark, t0 = len(m.dmesg_lines), m.trace.mark(), time.perf_counter()
    rec = ActionRecord(kind, "", True, "")
    try:
        if kind == "dimm_add":
            size, node = int(args[0]), int(args[1])
            did = args[2] if len(args) > 2 else None
            addr = args[3] if len(args) > 3 else None
            r = m.dimm_add(size, node, did, addr=addr)
            rec.value, rec.command = r, qmp_lines(r.qmp).replace(f"size={size}", f"size={size_arg(size)}")
            if r.result != "ok":
                rec.ok, rec.result, rec.message = False, f"QEMU: {r.result}", r.result.removeprefix("error: ")
            elif r.error is not None:
                _fail(rec, r.error)
                rec.result = (f"{r.id}: {format_bytes(size)} plugged at {r.addr:#x}, "
                              f"but the guest's add_memory failed")
            else:
                names = ", ".join(f"memory{b}" for b in r.blocks[:8]) + (" ..." if len(r.blocks) > 8 else "")
                states = sorted({m.blocks[b].state_name() for b in r.blocks if b in m.blocks})
                rec.result = (f"{r.id}: {format_bytes(size)} at {r.addr:#x} on node {node}: "
                              f"{len(r.blocks)} block(s) {names} ({'/'.join(states)})")
        elif kind == "dimm_del":
            r = m.dimm_del(str(args[0]))
            rec.value, rec.command = r, qmp_lines(r.qmp)
            rec.result = f"{r.id}: {r.result}"
            if r.result != "deleted":
                if r.error is not None:
                    _fail(rec, r.error)
                else:
                    rec.ok, rec.message = False, r.result
        elif kind in ("write", "online"):
            if kind == "online":
                path, value = f"{MEM}/memory{int(args[0])}/state", str(args[1])
            else:
                path, value = str(args[0]), str(args[1])
            rec.command = shell_echo(path, value)
            m.write(path, value)
            rec.result = "ok"
            if path.startswith("/sys/bus/dax/"):
                rec.result = f"ok; {dax_summary(m)}"
            if path.startswith(MEM) and path.endswith("/state"):
                bid = int(path.split("/memory")[-1].split("/")[0])
                b = m.blocks.get(bid)
                if b is not None:
                    zone = f" in zone {b.zone.name}" if b.zone is not None and b.state_name() == "online" else ""
                    rec.result = f"memory{bid} is {b.state_name()}{zone}"
        elif kind in ("insmod", "rmmod"):
            name = str(args[0])
            rec.command = f"modprobe {name}" if kind == "insmod" else f"rmmod {name}"
            (m.insmod if kind == "insmod" else m.rmmod)(name)
            rec.result = f"{name} {'loaded' if kind == 'insmod' else 'unloaded'}; {dax_summary(m)}"
        elif kind == "daxctl":
            rec.command, rec.result, rec.ok = daxctl_reconfigure(m, str(args[0]), str(args[1]),
                                                                 online=bool(args[2]) if len(args) > 2 else True)
        elif kind == "read":
            rec.command = f"cat {args[0]}"
            out = m.read(str(args[0]))
            rec.value = out
            rec.result = out if isinstance(out, str) else f"{len(out)} bytes"
        elif kind in ("start_workload", "pin"):
            node, nbytes = int(args[0]), int(args[1])
            if kind == "start_workload":
                name = str(args[2]) if len(args) > 2 else "stress"
                rec.command = (f"numactl --membind={node} stress-ng --vm 1 --vm-bytes {size_arg(nbytes)} "
                               f"--vm-keep &   # anonymous memory: movable")
                a = m.start_workload(node, nbytes, name=name)
            else:
                name = str(args[2]) if len(args) > 2 else "pin"
                pipes = max(nbytes >> 20, 1)
                rec.command = (f"numactl --membind={node} ./pipe-pin --pipes {pipes} --bytes {size_arg(nbytes)} "
                               f"&   # pipe buffers: unmovable kernel pages")
                a = m.pin(node, nbytes, name=name)
            rec.value = a
            got = a.pages << m.arch.page_shift
            asked = nbytes >> m.arch.page_shift
            head = f"{a.name} (owner {a.owner}) on node {node}: "
            if got > nbytes:        # pipe-pin: each pipe's pipe_buffer array comes on top of its data
                rec.result = (f"{head}{format_bytes(nbytes)} of data in {a.pages:,} pages "
                              f"({asked:,} data + {a.pages - asked:,} for the pipes' pipe_buffer arrays, "
                              "kmalloc_large())")
            elif got == nbytes:
                rec.result = f"{head}{format_bytes(got)} ({a.pages:,} pages)"
            else:
                rec.result = (f"{head}{format_bytes(got)} of {format_bytes(nbytes)} ({a.pages:,} pages)"
                              " - the node ran out of memory for it")
        elif kind == "stop_workload":
            target = args[0]
            alloc = None
            for a in m.workloads():
                if a.kind != "kernel" and (a.owner == target or a.name == target or a is target):
                    alloc = a
            owner = alloc.owner if alloc is not None else target
            rec.command = f"kill {owner}   # {alloc.name if alloc is not None else 'workload'}"
            m.stop_workload(owner)
            rec.result = f"owner {owner} stopped; its pages are free"
        else:
            raise ValueError(f"unknown action {kind!r}")
    except KernelError as e:
        _fail(rec, e)
        if kind in ("write", "online"):
            rec.result = f"sh: echo: write error: {e.strerror}"
        else:
            rec.result = f"failed: {e.errno_name}"
    except Exception as e:   # noqa: BLE001 - a view shows every failure inline, never a traceback
        rec.ok, rec.errno_name, rec.result = False, type(e).__name__, "failed"
        rec.message = str(e)
    rec.seconds = time.perf_counter() - t0
    rec.log = m.dmesg_lines[log0:]
    if trace:
        entries = m.trace.since(mark)
        rec.trace = m.trace.format(entries[:400]) + ("\n..." if len(entries) > 400 else "")
    return rec


def dax_device_blocks(m: Machine, name: str) -> list[int]:
    """The memory blocks inside a dax device's ranges (what kmem added, or would add)."""
    dev = m.dax.device(name)
    if dev is None:
        return []
    bs = m.block_size
    return [b for r in dev.ranges for b in range(-(-r.start // bs), (r.end + 1) // bs) if b in m.blocks]


def dax_summary(m: Machine) -> str:
    """One line per dax device: its driver, its memmap_on_memory attribute, its memory blocks and their states."""
    out = []
    for dev in m.dax.devices():
        attr = f", memmap_on_memory {int(dev.memmap_on_memory)}" if m.kernel.dax_memmap_on_memory else ""
        blocks = ", ".join(f"memory{b} ({m.blocks[b].state_name()})" for b in dax_device_blocks(m, dev.name))
        out.append(f"{dev.name}: driver {dev.driver.name if dev.driver else 'none'}{attr}"
                   + (f"; {blocks}" if blocks else ""))
    return "; ".join(out) or "no dax device"


def daxctl_reconfigure(m: Machine, dev: str, mode: str, online: bool = True) -> tuple[str, str, bool]:
    """What ``daxctl reconfigure-device --mode=MODE DEV`` writes, run on ``m``: (commands, result, ok).

    From ndctl's daxctl/device.c and lib/libdaxctl.c: a bound device is first disabled
    (``remove_id`` then ``unbind`` of its driver); system-ram loads kmem and writes the name
    to ``kmem/new_id`` and ``kmem/bind`` (an EBUSY there is ignored when kmem already holds
    the device), then onlines every block of the device ``online_movable``; devdax refuses
    while blocks are online (EBUSY) and binds device_dax the same way.
    """
    base = f"{m.readlink('/sys/bus/dax/devices/' + dev)}" if m.exists(f"/sys/bus/dax/devices/{dev}") else ""
    if not base:
        return f"daxctl reconfigure-device --mode={mode} {dev}", f"{dev}: no such device", False
    path = "/sys/devices/platform/" + base.split("/devices/platform/", 1)[1]
    lines = [f"# daxctl reconfigure-device --mode={mode}{'' if online else ' --no-online'} {dev}"]
    want = "kmem" if mode == "system-ram" else "device_dax"

    def write(p: str, v: str) -> int:
        try:
            m.write(p, v)
            lines.append(shell_echo(p, v))
            return 0
        except KernelError as e:
            lines.append(f"{shell_echo(p, v)}   # {e.errno_name}")
            return e.errno
    cur = m.readlink(f"{path}/driver").rsplit("/", 1)[1] if m.exists(f"{path}/driver") else ""
    if cur and cur != want:
        if cur == "kmem" and any(m.blocks[b].state_name() == "online" for b in dax_device_blocks(m, dev)):
            return "\n".join(lines), f"{dev}: memory is online, refusing to change modes (EBUSY)", False
        write(f"{path}/driver/remove_id", dev)
        write(f"{path}/driver/unbind", dev)
    if cur != want:
        if want not in m.modules_loaded and want in m.modules_available():
            m.insmod(want)
            lines.append(f"modprobe {want}")
        write(f"/sys/bus/dax/drivers/{want}/new_id", dev)
        write(f"/sys/bus/dax/drivers/{want}/bind", dev)
    bound = m.exists(f"{path}/driver") and m.readlink(f"{path}/driver").endswith("/" + want)
    if not bound:
        return "\n".join(lines), f"{dev}: failed to enable", False
    if mode == "system-ram" and online:
        for b in dax_device_blocks(m, dev):
            if m.blocks[b].state_name() != "online":
                write(f"{MEM}/memory{b}/state", "online_movable")
    return "\n".join(lines), dax_summary(m), True


def run_actions(m: Machine, actions: Sequence[Action]) -> list[ActionRecord]:
    """Run a list of scripted actions in order (a refusal does not stop the script)."""
    return [run_action(m, a, trace=False) for a in actions]


def record_html(rec: ActionRecord, show_trace: bool = False) -> str:
    """An action as HTML: the command, the result and, on failure, the errno and the kernel's log lines."""
    parts = [f"<div class='action-record' data-ok='{int(rec.ok)}' data-errno='{esc(rec.errno_name)}'>",
             pre(rec.command, "command")]
    if rec.ok:
        parts.append(f"<div style='color:#1a7f37'>&#10003; {esc(rec.result)}</div>")
    else:
        parts.append(f"<div style='color:#b00020'>&#10007; {esc(rec.result)}</div>")
        if rec.errno_name:
            what = f" ({esc(rec.strerror)})" if rec.strerror else ""
            parts.append(f"<div><b class='errno' style='color:#b00020'>{esc(rec.errno_name)}</b>{what}"
                         f"{': ' + esc(rec.message) if rec.message else ''}</div>")
    if rec.log:
        parts.append("<div style='color:#555'>kernel log:</div>" + pre("\n".join(rec.log[-12:]), "dmesg"))
    if show_trace and rec.trace:
        n = rec.trace.count("\n") + 1
        parts.append(f"<details><summary>kernel call path ({n} calls)</summary>{pre(rec.trace)}</details>")
    parts.append("</div>")
    return "".join(parts)


def notify(callbacks: Sequence[Callable[..., Any]], *args: Any) -> None:
    """Call every callback with ``args``."""
    for cb in list(callbacks):
        cb(*args)


#: The workbook's usual teaching machine: node 0 with 1 GiB at boot, an empty node 1 for DIMMs.
DEFAULT_MACHINE: dict[str, Any] = {
    "cmdline": "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
    "ram_bytes": 1 << 30, "maxmem_bytes": 32 << 30,
}


def make_machine(kernel: str, **kwargs: Any) -> Machine:
    """A fresh machine running ``kernel``: :data:`DEFAULT_MACHINE` (nodes 0 and 1) updated by ``kwargs``."""
    from workbook.machine import NodeSpec
    args = {**DEFAULT_MACHINE, "nodes": [NodeSpec(0, [0], 1 << 30), NodeSpec(1, [1], 0)], **kwargs}
    return Machine(kernel, **args)


def first_added_block(records: Sequence[ActionRecord]) -> int | None:
    """The first memory block a scripted ``dimm_add`` created, if any."""
    for r in records:
        blocks = getattr(r.value, "blocks", None)
        if r.action == "dimm_add" and blocks:
            return int(blocks[0])
    return None


def resync(plots: Sequence[Any]) -> None:
    """Rebuild each BokehModel's render bundle from its figure's current state.

    jupyter_bokeh sends later changes as patches to the views that exist; a view created
    afterwards (the first display after changes, or a second display) starts from the
    render bundle.  Views call this when they are displayed so that they never show a
    stale figure.
    """
    for p in plots:
        p.update_from_model(p._model)


def display_bundle(widget: Widget, plots: Sequence[Any], **kwargs: Any) -> Any:
    """A view's ``_repr_mimebundle_``: refresh the render bundles, then display the container."""
    resync(plots)
    return widget._repr_mimebundle_(**kwargs)
