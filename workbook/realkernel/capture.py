"""Run a scenario on a real Linux kernel under QEMU and write a capture folder (``capture``).

The machine a ``scenario.json`` describes is booted with QEMU's ``pc`` machine (TCG, or KVM when
``/dev/kvm`` works), the guest's initramfs is built here (busybox, ``/init``, ``ohelper``), DIMMs
are hot-plugged through QMP, and every other action runs in the guest's control shell, one line
per command, answered with ``@@M<n> rc=<status>`` on the console.  After each step's actions the
guest's ``cap`` reads its procfs and sysfs and sends them on the second serial port; the host
writes the step folder (``stepfiles``).  The folder gets ``scenario.json`` with what actually
happened (errno, timed out, deleted or not), ``console.log``, ``qmp.log`` and ``run_meta.json``.
"""
from __future__ import annotations

import fcntl
import gzip
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from .initramfs import ToolMissing, build_initramfs, build_ohelper, find_busybox
from .kernels import DAX_CONFIG, Kernel, resolve_kernel
from .qmp import QmpDriver, QmpError, ost_event_names
from .stepfiles import find_lsmem, parse_records, write_step

__all__ = ["StepEvent", "CaptureError", "CaptureResult", "load_scenario", "builtin_scenarios", "qemu_argv",
           "kvm_usable", "check_tools", "capture", "GuestShell"]

SCENARIO_DIR = Path(__file__).resolve().parent / "scenarios"
BOOT_TIMEOUT_TCG = 300.0
KVM_FIRST_OUTPUT_S = 15.0     # a kernel prints its banner within a second or two under working KVM
INCOMPLETE = "INCOMPLETE"


class CaptureError(RuntimeError):
    """The run could not go on (the kernel did not boot, panicked, QEMU failed); ``console_tail`` says why."""

    def __init__(self, message: str, console_tail: str = "") -> None:
        self.console_tail = console_tail
        super().__init__(message + (f"\n--- last console lines ---\n{console_tail}" if console_tail else ""))


@dataclass
class StepEvent:
    """Progress: one step captured (or the boot), for a progress line or bar."""

    index: int
    total: int
    name: str
    seconds: float
    summary: str

    def line(self) -> str:
        """``[2/7] 01-hotadd  dimm_add dimm1 ok; wait ok  (10.4 s)``."""
        return f"[{self.index}/{self.total}] {self.name:<28} {self.summary}  ({self.seconds:.1f} s)"


@dataclass
class CaptureResult:
    """What a run produced."""

    out: Path
    complete: bool
    boot_s: float
    total_s: float
    steps: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --- scenarios ----------------------------------------------------------------------------------

def builtin_scenarios() -> dict[str, Callable[[], dict]]:
    """The built-in scenario names: ``procedure`` and ``procedure-off``."""
    def procedure() -> dict:
        return json.loads((SCENARIO_DIR / "procedure.json").read_text())

    def procedure_off() -> dict:
        sc = procedure()
        sc["scenario"] = "procedure-off"
        sc["machine"]["cmdline"] = sc["machine"]["cmdline"].replace("memory_hotplug.memmap_on_memory=1",
                                                                    "memory_hotplug.memmap_on_memory=0")
        sc["description"] = sc["description"].replace("with memmap-on-memory", "with memmap-on-memory off "
                                                      "(the memmap comes from other memory)")
        return sc
    return {"procedure": procedure, "procedure-off": procedure_off}


def load_scenario(spec: str) -> dict:
    """A built-in name, a ``scenario.json`` file, or a capture folder holding one."""
    builtins = builtin_scenarios()
    if spec in builtins:
        return builtins[spec]()
    p = Path(spec)
    if p.is_dir():
        p = p / "scenario.json"
    if not p.is_file():
        raise FileNotFoundError(f"{spec}: no such scenario (a scenario.json, a capture folder, or one of "
                                f"{', '.join(builtins)})")
    sc = json.loads(p.read_text())
    if sc.get("format") != 1 or "machine" not in sc or "steps" not in sc:
        raise ValueError(f"{p} is not a format-1 scenario.json (needs format, machine, steps)")
    return sc


# --- host checks ---------------------------------------------------------------------------------

def kvm_usable() -> bool:
    """/dev/kvm opens read-write and answers KVM_GET_API_VERSION with 12."""
    try:
        fd = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        return fcntl.ioctl(fd, 0xAE00) == 12          # KVM_GET_API_VERSION
    except OSError:
        return False
    finally:
        os.close(fd)


def check_tools() -> None:
    """Raise :class:`ToolMissing` naming every Debian package the real path still needs."""
    missing: list[str] = []
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86")
    try:
        find_busybox()
    except ToolMissing as err:
        missing += err.packages
    if not shutil.which(os.environ.get("CC", "gcc")):
        missing += ["gcc", "libc6-dev"]
    if missing:
        raise ToolMissing("the real-kernel path needs " + ", ".join(missing), missing)
    try:
        import importlib
        importlib.import_module("qemu.qmp")
    except ImportError:
        raise ToolMissing("the qemu.qmp Python package is missing (pip install 'memhotplug-workbook[real]')",
                          []) from None


# --- QEMU ----------------------------------------------------------------------------------------

def _size(n: int) -> str:
    for unit, mult in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if n and n % mult == 0:
            return f"{n // mult}{unit}"
    return str(n)


def _cpu_ranges(cpus: list[int]) -> list[str]:
    out, cpus = [], sorted(cpus)
    i = 0
    while i < len(cpus):
        j = i
        while j + 1 < len(cpus) and cpus[j + 1] == cpus[j] + 1:
            j += 1
        out.append(str(cpus[i]) if i == j else f"{cpus[i]}-{cpus[j]}")
        i = j + 1
    return out


def qemu_argv(machine: dict, image: str, initrd: str, accel: str, ttys1: str, qmp_sock: str,
              qemu: str = "qemu-system-x86_64") -> list[str]:
    """The QEMU command line for ``machine`` (scenario.json's ``machine`` object).

    A boot memory backend of 4 GiB or more gets ``reserve=off`` (the host does not reserve swap
    for it; the guest sees no difference), as the shipped 63 GiB runs had.
    """
    opts = "".join(f",{k}={_size(int(v)) if isinstance(v, int) else v}"
                   for k, v in (machine.get("qemu_machine_options") or {}).items())
    cpus = int(machine["cpus"])
    argv = [qemu, "-M", machine.get("qemu_machine", "pc") + opts, "-accel", accel,
            "-m", f"{_size(int(machine['ram_bytes']))},slots={int(machine['slots'])},"
                  f"maxmem={_size(int(machine['maxmem_bytes']))}",
            "-smp", f"{cpus},sockets={cpus},cores=1,threads=1"]
    for n in machine["nodes"]:
        size = int(n["boot_memory_bytes"])
        if size:
            argv += ["-object", f"memory-backend-ram,id=boot{n['id']},size={_size(size)}"
                     + (",reserve=off" if size >= 4 << 30 else "")]
    for n in machine["nodes"]:
        spec = f"node,nodeid={n['id']}" + "".join(f",cpus={r}" for r in _cpu_ranges(n.get("cpus", [])))
        if int(n["boot_memory_bytes"]):
            spec += f",memdev=boot{n['id']}"
        argv += ["-numa", spec]
    argv += ["-kernel", image, "-initrd", initrd, "-append", machine["cmdline"],
             "-display", "none", "-no-reboot", "-monitor", "none", "-serial", "stdio",
             "-serial", f"file:{ttys1}", "-qmp", f"unix:{qmp_sock},server=on,wait=off"]
    return argv


class GuestShell:
    """The guest's console: QEMU's stdio serial port, logged raw to ``console.log``.

    :meth:`run` sends ``CMD; echo @@M<n> rc=$?`` and waits for the marker; the control shell in
    the guest echoes each line (the tty does) and runs it.
    """

    def __init__(self, proc: subprocess.Popen, log_path: Path) -> None:
        self.proc = proc
        self.buf = bytearray()
        self.n = 0
        self._cond = threading.Condition()
        self._log = open(log_path, "ab", buffering=0)
        self._eof = False
        self._reader = threading.Thread(target=self._read, name="console", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        fd = self.proc.stdout.fileno()
        while True:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            with self._cond:
                if not data:
                    self._eof = True
                    self._cond.notify_all()
                    break
                self.buf += data
                self._log.write(data)
                self._cond.notify_all()
        self._log.close()

    def wait_for(self, pattern: bytes, timeout: float, start: int = 0) -> re.Match | None:
        """The first match of regex ``pattern`` in the console after byte ``start``; None on timeout or EOF."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self.buf, start)
                if m:
                    return m
                left = deadline - time.monotonic()
                if left <= 0 or self._eof:
                    return None
                self._cond.wait(min(left, 1.0))

    @property
    def eof(self) -> bool:
        """QEMU closed its stdout (it exited)."""
        return self._eof

    def tail(self, lines: int = 30) -> str:
        """The last console lines, for error messages."""
        text = bytes(self.buf[-8000:]).decode("utf-8", "replace").replace("\r", "")
        return "\n".join(text.rstrip("\n").split("\n")[-lines:])

    def send(self, line: str) -> int:
        """Type one line; returns the console offset before it."""
        with self._cond:
            start = len(self.buf)
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()
        return start

    def run(self, cmd: str, timeout: float) -> tuple[int | None, str]:
        """Run ``cmd`` in the guest; ``(exit status, output)``, status None if it did not answer."""
        self.n += 1
        start = self.send(f"{cmd}; echo @@M{self.n} rc=$?")
        m = self.wait_for(rb"@@M%d rc=(\d+)\r*\n" % self.n, timeout, start)
        if m is None:
            return None, ""
        text = bytes(self.buf[start:m.start()]).decode("utf-8", "replace").replace("\r", "")
        # drop the echoed command line
        text = text.split("\n", 1)[1] if "\n" in text else ""
        return int(m.group(1)), text


def _die_with_parent() -> None:
    """In the QEMU child: get SIGTERM if this process dies (prctl PR_SET_PDEATHSIG), never linger."""
    try:
        import ctypes
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)          # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# --- the run -------------------------------------------------------------------------------------

def _q(s: str) -> str:
    return shlex.quote(str(s))


_WR = re.compile(r"@@WR path=(?P<path>\S+) value=(?P<value>.*?) rc=(?P<rc>-?\d+) errno=(?P<errno>\d+)"
                 r"(?: \((?P<strerror>[^)]*)\))?(?P<open> \[open\])?$", re.M)


class _Run:
    """One capture run: QEMU, the QMP driver, the guest shell, and the recorded actions."""

    def __init__(self, sc: dict, kernel: Kernel, out: Path, accel: str, progress: Callable[[StepEvent], None],
                 log: Callable[[str], None]) -> None:
        self.sc, self.kernel, self.out, self.accel_req = sc, kernel, out, accel
        self.progress, self.log = progress, log
        self.scratch = Path(tempfile.mkdtemp(prefix="memhotplug-capture-"))
        self.notes: list[str] = []
        self.writes: list[dict] = []
        self.step_log: list[dict] = []
        self.steps_done: list[dict] = []
        self.teardown_done: list[dict] = []
        self.proc: subprocess.Popen | None = None
        self.qmp: QmpDriver | None = None
        self.qmp_events: list[dict] = []
        self.shell: GuestShell | None = None
        self.t0 = time.monotonic()
        self.boot_s = 0.0
        self.accel = "tcg"
        self.argv: list[str] = []
        self.qemu_version = ""
        self.running: dict[tuple[str, int], list[int]] = {}
        self.seq = 0
        self.pending_delete: dict[str, dict] = {}
        self.dimm_actions: list[tuple[float, dict]] = []
        self.memdevs: dict[str, str] = {}
        self.blocked: str | None = None
        self.banner = ""
        writes = [int(a["timeout_s"]) for s in sc["steps"] for a in s["actions"]
                  if a.get("op") == "write" and a.get("timeout_s")]
        self.write_timeout = Counter(writes).most_common(1)[0][0] if writes else 120

    # -- QEMU lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        modules = sorted({a["name"] for s in self.sc["steps"] for a in s["actions"] if a.get("op") == "module_load"})
        kos = self.kernel.modules.get(modules) if modules and self.kernel.modules else {}
        if modules and not self.kernel.modules:
            self.notes.append(f"the kernel has no module source: module_load of {', '.join(modules)} will fail")
        initrd = build_initramfs(self.scratch / "initramfs.cpio.gz", kos)
        self.qemu_version = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True,
                                           text=True).stdout.split("\n")[0].strip()
        accels = ["kvm", "tcg"] if self.accel_req == "auto" and kvm_usable() else \
            ["kvm"] if self.accel_req == "kvm" else ["tcg"]
        for accel in accels:
            if self._boot(accel, initrd, fallback=accel == "kvm" and len(accels) > 1):
                return
            self.notes.append(f"KVM did not boot the kernel (no console output within {KVM_FIRST_OUTPUT_S:.0f} s): "
                              "ran it under TCG instead")
            self.log(self.notes[-1])

    def _boot(self, accel: str, initrd: Path, fallback: bool) -> bool:
        for name in ("ttyS1.log", "qmp.sock"):
            (self.scratch / name).unlink(missing_ok=True)
        for name in ("console.log", "qmp.log"):
            (self.out / name).write_bytes(b"")
        self.accel = accel
        self.argv = qemu_argv(self.sc["machine"], str(self.kernel.image), str(initrd), accel,
                              str(self.scratch / "ttyS1.log"), str(self.scratch / "qmp.sock"))
        self.t0 = time.monotonic()
        # its own session: a Ctrl-C in the terminal reaches this process only, which stops QEMU
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_die_with_parent)
        self.shell = GuestShell(self.proc, self.out / "console.log")
        self.qmp = QmpDriver(self.out / "qmp.log")
        try:
            self.qmp.connect(self.scratch / "qmp.sock", timeout=30)
        except Exception as err:
            self.stop_qemu()
            raise CaptureError(f"QEMU did not start (QMP: {err})", self.shell.tail()) from None
        if fallback and self.shell.wait_for(rb"Linux version", KVM_FIRST_OUTPUT_S) is None:
            self.stop_qemu()
            return False
        m = self.shell.wait_for(rb"@@READY|Kernel panic[^\n]*|---\[ end Kernel panic", BOOT_TIMEOUT_TCG)
        if m is None or not m.group(0).startswith(b"@@READY"):
            why = ("the kernel panicked" if m is not None else
                   "QEMU exited before the guest was ready" if self.shell.eof else
                   f"the guest was not ready within {BOOT_TIMEOUT_TCG:.0f} s")
            time.sleep(0.5)
            tail = self.shell.tail()
            self.stop_qemu()
            raise CaptureError(f"{self.kernel.describe()} did not boot: {why}", tail)
        self.boot_s = time.monotonic() - self.t0
        text = bytes(self.shell.buf).decode("utf-8", "replace").replace("\r", "")
        kb = re.search(r"@@KERNEL (.*)", text)
        self.banner = kb.group(1).strip() if kb else ""
        miss = re.search(r"@@MISSING (.*)", text)
        if miss:
            tail = self.shell.tail()
            self.stop_qemu()
            raise CaptureError(f"{self.kernel.describe()} lacks what the procedure needs: {miss.group(1)}", tail)
        rc, _ = self.shell.run(". /cap.sh", 30)
        if rc != 0:
            raise CaptureError("the guest could not source /cap.sh", self.shell.tail())
        return True

    def stop_qemu(self) -> None:
        """Stop QEMU: QMP ``quit``, then SIGTERM, then SIGKILL."""
        if self.proc is None:
            return
        if self.proc.poll() is None and self.qmp is not None:
            try:
                self.qmp.execute("quit", timeout=5)
            except Exception:
                pass
        for sig, wait in ((None, 5), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            if sig is not None and self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                self.proc.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        if self.qmp is not None:
            self.qmp_events = self.qmp.events
            self.qmp.close()
            self.qmp = None

    # -- actions -------------------------------------------------------------------------------------
    def sh(self, cmd: str, timeout: float) -> tuple[int | None, str]:
        assert self.shell is not None
        rc, text = self.shell.run(cmd, timeout)
        if rc is None:
            if self.shell.eof:
                raise CaptureError(f"QEMU exited while the guest ran: {cmd}", self.shell.tail())
            self.blocked = f"{cmd} (no answer within {timeout:.0f} s)"
        return rc, text

    def do(self, a: dict) -> dict:
        op = a["op"]
        fn = getattr(self, f"_op_{op}", None)
        if fn is None:
            raise CaptureError(f"unknown action op {op!r}: {a}")
        return fn(dict(a))

    def _op_dimm_add(self, a: dict) -> dict:
        assert self.qmp is not None
        memdev = a.get("memdev") or f"mem{a['id'].lstrip('dimm') or len(self.memdevs) + 1}"
        self.memdevs[a["id"]] = memdev
        rec = {"op": "dimm_add", "id": a["id"], "size_bytes": int(a["size_bytes"]), "node": int(a["node"])}
        self.dimm_actions.append((time.monotonic(), rec))
        try:
            self.qmp.execute("object-add", {"qom-type": "memory-backend-ram", "id": memdev,
                                            "size": int(a["size_bytes"])})
            self.qmp.execute("device_add", {"driver": "pc-dimm", "id": a["id"], "memdev": memdev,
                                            "node": int(a["node"])})
            result = "ok"
        except QmpError as err:
            result = f"error: {err.desc}"
        devs = self.qmp.execute("query-memory-devices")
        dev = next((d["data"] for d in devs if d.get("data", {}).get("id") == a["id"]), None)
        if dev:
            rec.update(addr=int(dev["addr"]), slot=int(dev["slot"]))
            self.notes.append(f"{a['id']}: {dev}")
            if "addr" in a and int(a["addr"]) != int(dev["addr"]):
                self.notes.append(f"{a['id']}: QEMU placed it at {int(dev['addr']):#x}, the scenario's run at "
                                  f"{int(a['addr']):#x}")
        rec.update(memdev=memdev, result=result)
        return rec

    def _op_dimm_del(self, a: dict) -> dict:
        assert self.qmp is not None
        wait_s = float(a.get("wait_s", 60))
        rec = {"op": "dimm_del", "id": a["id"]}
        self.dimm_actions.append((time.monotonic(), rec))
        mark = self.qmp.mark()
        try:
            self.qmp.execute("device_del", {"id": a["id"]})
        except QmpError as err:
            rec.update(result=f"error: {err.desc}", wait_s=int(wait_s), memdev_deleted=False)
            return rec
        ev = self.qmp.wait_event(lambda e: e.get("event") == "DEVICE_DELETED"
                                 and e.get("data", {}).get("device") == a["id"], wait_s, since=mark)
        deleted = ev is not None
        if deleted:
            self.qmp.execute("object-del", {"id": self.memdevs.get(a["id"], a["id"].replace("dimm", "mem"))})
        else:
            self.pending_delete[a["id"]] = rec
        rec.update(result="deleted" if deleted else "not-deleted", wait_s=int(wait_s), memdev_deleted=deleted)
        self.notes.append(f"device_del {a['id']}: DEVICE_DELETED={'yes' if deleted else 'no'}")
        return rec

    def _op_write(self, a: dict) -> dict:
        t = int(a.get("timeout_s") or self.write_timeout)
        rc, text = self.sh(f"timeout {t} ohelper wr {_q(a['path'])} {_q(a['value'])}", t + 30)
        rec = {"op": "write", "path": a["path"], "value": a["value"]}
        m = _WR.search(text)
        if m:
            rec.update(rc=int(m.group("rc")), errno=int(m.group("errno")))
            if m.group("strerror"):
                rec["strerror"] = m.group("strerror")
        elif rc == 143 or rc is None:
            rec.update(rc=None, errno=None, timed_out=True, timeout_s=t,
                       note=f"write() did not return within {t} s; the writer was killed with SIGTERM "
                            f"(shell rc {rc})" if rc is not None else
                       "write() did not return and the guest shell stopped answering")
        else:
            rec.update(rc=None, errno=None, note=f"ohelper wr printed no result (shell rc {rc}): {text.strip()}")
        self.writes.append({"step": self.step_name, "path": a["path"], "value": a["value"],
                            "line": m.group(0) if m else text.strip(), "errno": rec.get("errno"),
                            "strerror": rec.get("strerror")})
        return rec

    def _op_wait(self, a: dict) -> dict:
        t = int(a.get("timeout_s", 60))
        rc, _ = self.sh(f"WAIT={t} waitfor {_q(a['until'])}", t + 30)
        return {"op": "wait", "until": a["until"], "timeout_s": t, "ok": rc == 0}

    def _node_cpu(self, node: int) -> int:
        for n in self.sc["machine"]["nodes"]:
            if int(n["id"]) == node and n.get("cpus"):
                return int(n["cpus"][0])
        return 0

    def _background(self, kind: str, node: int, cpu: int, args: str, ready: str, wait: int) -> tuple[int, str]:
        self.seq += 1
        k = self.seq
        self.sh(f"ohelper bind {node} {cpu} ohelper {args} > /tmp/bg{k}.out 2>&1 & echo $! > /tmp/bg{k}.pid", 30)
        self.sh(f"WAIT={wait} waitfor 'grep -q {ready} /tmp/bg{k}.out'", wait + 30)
        _, out = self.sh(f"cat /tmp/bg{k}.out", 30)
        self.running.setdefault((kind, node), []).append(k)
        return k, out

    def _op_workload_start(self, a: dict) -> dict:
        node = int(a["node"])
        cpu = int(a["cpu"]) if a.get("cpu") is not None else self._node_cpu(node)
        pct = int(a.get("pct_of_node_memfree", 90))
        _, out = self._background("anon", node, cpu, f"stress {node} {pct}", "@@STRESS_READY", 600)
        m = re.search(r"@@STRESS_READY node=\d+ node_memfree_before_kb=(\d+) allocated_bytes=(\d+)", out)
        self.notes.append(f"stress: {out.strip()}")
        return {"op": "workload_start", "kind": "anon", "movable": True, "node": node, "cpu": cpu,
                "pct_of_node_memfree": pct, "bytes": int(m.group(2)) if m else None, "ready": bool(m),
                "node_memfree_before_kb": int(m.group(1)) if m else None}

    def _stop(self, kind: str, node: int) -> None:
        for k in self.running.pop((kind, node), []):
            self.sh(f"kill $(cat /tmp/bg{k}.pid); wait $(cat /tmp/bg{k}.pid)", 60)

    def _op_workload_stop(self, a: dict) -> dict:
        self._stop("anon", int(a["node"]))
        return {"op": "workload_stop", "kind": a.get("kind", "anon"), "node": int(a["node"]), "signal": "SIGTERM"}

    def _op_pin_start(self, a: dict) -> dict:
        node = int(a["node"])
        cpu = int(a["cpu"]) if a.get("cpu") is not None else self._node_cpu(node)
        req = int(a.get("requested_bytes") or a.get("bytes") or 0)
        mib = max(1, req >> 20)
        _, out = self._background("pin", node, cpu, f"pin {node} {mib}", "@@PIN_READY", 300)
        m = re.search(r"@@PIN_READY node=\d+ pipes=(\d+) bytes=(\d+)", out)
        self.notes.append(f"pin: {out.strip()}")
        return {"op": "pin_start", "kind": "unmovable", "how": "pipe_buffers", "node": node, "cpu": cpu,
                "requested_bytes": mib << 20, "bytes": int(m.group(2)) if m else None, "ready": bool(m),
                "pipes": int(m.group(1)) if m else None}

    def _op_pin_stop(self, a: dict) -> dict:
        self._stop("pin", int(a["node"]))
        return {"op": "pin_stop", "kind": a.get("kind", "unmovable"), "node": int(a["node"]), "signal": "SIGTERM"}

    def _simple(self, rec: dict, cmd: str, timeout: float = 300) -> dict:
        self.sh(cmd, timeout)
        return rec

    def _op_sync(self, a: dict) -> dict:
        return self._simple({"op": "sync"}, "sync")

    def _op_drop_caches(self, a: dict) -> dict:
        v = int(a.get("value", 3))
        return self._simple({"op": "drop_caches", "value": v}, f"echo {v} > /proc/sys/vm/drop_caches")

    def _op_compact(self, a: dict) -> dict:
        return self._simple({"op": "compact"}, "echo 1 > /proc/sys/vm/compact_memory")

    def _op_sleep(self, a: dict) -> dict:
        s = a.get("seconds", 1)
        return self._simple({"op": "sleep", "seconds": s}, f"sleep {s}", float(s) + 30)

    def _op_module_load(self, a: dict) -> dict:
        rc, _ = self.sh(f"insmod /mod/{_q(a['name'])}.ko", 120)
        return {"op": "module_load", "name": a["name"], "rc": rc}

    def _op_shell(self, a: dict) -> dict:
        rc, _ = self.sh(a["cmd"], float(a.get("timeout_s", 300)))
        return {"op": "shell", "cmd": a["cmd"], "rc": rc}

    def _op_poweroff(self, a: dict) -> dict:
        assert self.shell is not None and self.proc is not None
        self.shell.send("poweroff -f")
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.notes.append("poweroff -f did not stop QEMU within 60 s: stopped it with QMP quit")
            self.stop_qemu()
        return {"op": "poweroff"}

    def _op_qemu_stop(self, a: dict) -> dict:
        self.stop_qemu()
        return {"op": "qemu_stop", "note": a.get("note", "QEMU stopped from the host with QMP quit")}

    # -- capture ------------------------------------------------------------------------------------
    def cap(self, name: str, kpf: list[int] | None) -> None:
        before = (self.scratch / "ttyS1.log").stat().st_size if (self.scratch / "ttyS1.log").exists() else 0
        args = f" {int(kpf[0])} {int(kpf[1])}" if kpf else ""
        rc, _ = self.sh(f"cap {_q(name)}{args}", 600)
        if rc != 0:
            raise CaptureError(f"the capture of {name} failed (rc {rc})", self.shell.tail() if self.shell else "")
        data = (self.scratch / "ttyS1.log").read_bytes()
        head = re.compile(rb"\n@@BEGIN %s (\d+)\n" % re.escape(name.encode()))
        m = head.search(data, max(0, before - 1))
        if not m:
            raise CaptureError(f"the capture of {name} did not arrive on the second serial port")
        blob = data[m.end(): m.end() + int(m.group(1))]
        rec = parse_records(gzip.decompress(blob))
        self.prev = write_step(self.out / name, rec, kpf, self.prev.get("dmesg") if self.prev else None,
                               self.boot, self.lsmem)
        if self.boot is None:
            self.boot = {k: v for k, v in self.prev.items() if k != "dmesg"}

    # -- the whole run --------------------------------------------------------------------------------
    def run(self) -> None:
        self.lsmem = find_lsmem()
        if self.lsmem is None:
            self.notes.append("lsmem (util-linux) not found on the host: lsmem.txt and lsmem-a.txt not written")
        self.prev: dict | None = None
        self.boot: dict | None = None
        self.step_name = "boot"
        self.start()
        steps = self.sc["steps"]
        total = len(steps)
        for i, step in enumerate(steps, start=1):
            self.step_name = step["name"]
            t_step = time.monotonic()
            done: list[dict] = []
            for a in step.get("actions", []):
                done.append(self.do(a))
                if self.blocked:
                    break
            if self.blocked:
                note = f"the guest shell stopped answering: {self.blocked}; nothing captured after it"
                self.notes.append(note)
                self.teardown_done = done + [self._op_qemu_stop({"note": note})]
                self.progress(StepEvent(i, total, step["name"], time.monotonic() - t_step, "guest blocked: " + note))
                return
            self.cap(step["name"], step.get("kpf_range"))
            self.steps_done.append({"name": step["name"], "kpf_range": step.get("kpf_range"), "actions": done})
            self.step_log.append({"step": step["name"], "host_time_s": round(time.monotonic() - self.t0, 1),
                                  "range": step.get("kpf_range")})
            summary = _step_summary(done) or ("booted in %.1f s" % self.boot_s)
            self.progress(StepEvent(i, total, step["name"], time.monotonic() - t_step, summary))
        for a in self.sc.get("teardown", [{"op": "sync"}, {"op": "poweroff"}]):
            self.teardown_done.append(self.do(a))
            if self.blocked:
                self.teardown_done.append(self._op_qemu_stop({"note": f"the guest shell stopped answering: "
                                                                       f"{self.blocked}"}))
                break

    def finish(self, complete: bool, reason: str = "") -> None:
        """Attach QMP events to the DIMM actions; write scenario.json, run_meta.json; mark the folder."""
        if self.qmp is not None:
            time.sleep(0.2)        # the last ACPI events may arrive just after the last command
            self.qmp_events = self.qmp.events
        self._attach_ost_events()
        sc_out = self.scenario_out(complete, reason)
        (self.out / "scenario.json").write_text(json.dumps(sc_out, indent=1) + "\n")
        meta = self.run_meta(complete, reason)
        (self.out / "run_meta.json").write_text(json.dumps(meta, indent=1) + "\n")
        marker = self.out / INCOMPLETE
        if complete:
            marker.unlink(missing_ok=True)
        else:
            marker.write_text(reason + "\n")

    def _attach_ost_events(self) -> None:
        # an event belongs to the latest dimm_add (insertion, source 1) or dimm_del (eject) of its
        # device sent before it arrived; the eject's last event has no device field: matched by slot
        slots = {r["id"]: r.get("slot") for _, r in self.dimm_actions if r["op"] == "dimm_add"}
        for ev in self.qmp_events:
            if ev.get("event") != "ACPI_DEVICE_OST":
                continue
            info = ev.get("data", {}).get("info", {})
            dev = info.get("device") or next((i for i, s in slots.items() if str(s) == str(info.get("slot"))), None)
            want = "dimm_add" if int(info.get("source", -1)) == 1 else "dimm_del"
            owners = [r for t, r in self.dimm_actions if r["id"] == dev and r["op"] == want and t <= ev["_t"]]
            if owners:
                owners[-1].setdefault("ost_events", []).append(ost_event_names(info))
        for ev in self.qmp_events:
            if ev.get("event") == "DEVICE_DELETED":
                dev = ev.get("data", {}).get("device")
                if dev in self.pending_delete:
                    self.pending_delete.pop(dev)["deleted_later"] = True

    def scenario_out(self, complete: bool, reason: str) -> dict:
        sc = self.sc
        machine = {k: v for k, v in sc["machine"].items() if k not in ("accel", "qemu_version", "srat_hotplug_window")}
        machine["accel"] = self.accel
        machine["qemu_version"] = self.qemu_version
        window = self._srat_window()
        if window:
            machine["srat_hotplug_window"] = window
        dax = any(a.get("op") == "module_load" for s in sc["steps"] for a in s["actions"])
        kernel = {"release": self.banner.split(" | ")[0] if self.banner else self.kernel.release,
                  "series": self.kernel.series}
        if self.kernel.debian_package:
            kernel["debian_package"] = self.kernel.debian_package
        else:
            kernel["image"] = self.kernel.image.name
        kernel["config"] = self.kernel.hotplug_config(DAX_CONFIG if dax else ())
        out = {"format": 1, "scenario": sc.get("scenario", ""), "description": sc.get("description", ""),
               "kernel": kernel, "machine": machine,
               "guest": {"userland": "busybox initramfs; /init mounts proc, sysfs, devtmpfs, debugfs and runs "
                                     "`dmesg -n 1`",
                         "control_shell": {"mempolicy": "MPOL_BIND", "nodes": [0], "cpu": 0}},
               "steps": self.steps_done, "teardown": self.teardown_done,
               "provenance": {"actions": f"recorded live by memhotplug-workbook {__version__} capture",
                              "run_boot_s": round(self.boot_s, 1),
                              "run_total_s": round(time.monotonic() - self.t0, 1)}}
        if not complete:
            out["incomplete"] = reason
        return out

    def _srat_window(self) -> dict | None:
        if self.shell is None:
            return None
        text = bytes(self.shell.buf).decode("utf-8", "replace")
        m = re.search(r"SRAT: Node (\d+) PXM \d+ \[mem (0x[0-9a-f]+)-(0x[0-9a-f]+)\] hotplug", text)
        if not m:
            return None
        return {"node": int(m.group(1)), "start": int(m.group(2), 16), "end": int(m.group(3), 16) + 1}

    def run_meta(self, complete: bool, reason: str) -> dict:
        scratch = str(self.scratch) + "/"
        return {"tool": f"memhotplug-workbook {__version__} capture", "complete": complete,
                "incomplete_reason": reason or None,
                "kernel": self.kernel.series, "kernel_banner": self.banner, "vmlinuz": self.kernel.image.name,
                "kernel_source": {"spec": self.kernel.spec, "debian_package": self.kernel.debian_package,
                                  "package_version": self.kernel.package_version,
                                  "config": self.kernel.config_source},
                "qemu_version": self.qemu_version, "accel": self.accel,
                "qemu_args": [a.replace(scratch, "").replace(str(self.kernel.image), self.kernel.image.name)
                              for a in self.argv],
                "cmdline": self.sc["machine"]["cmdline"], "scenario": self.sc.get("scenario", ""),
                "boot_s": round(self.boot_s, 1), "total_s": round(time.monotonic() - self.t0, 1),
                "steps": self.step_log, "writes": self.writes, "notes": self.notes,
                "step_actions": self.steps_done, "teardown_actions": self.teardown_done,
                "step_actions_source": "recorded live"}

    def cleanup(self) -> None:
        self.stop_qemu()
        shutil.rmtree(self.scratch, ignore_errors=True)


def _summary(rec: dict) -> str:
    op = rec["op"]
    if op == "dimm_add":
        return f"dimm_add {rec['id']} {rec['result']}"
    if op == "dimm_del":
        return f"dimm_del {rec['id']} {rec['result']}"
    if op == "write":
        what = f"{rec['value']} > {'/'.join(rec['path'].split('/')[-2:])}"
        if rec.get("timed_out"):
            return f"{what}: timed out"
        return f"{what}: " + ("ok" if rec.get("errno") == 0 else f"errno {rec.get('errno')}")
    if op == "wait":
        return "wait " + ("ok" if rec["ok"] else "timed out")
    if op == "workload_start":
        return f"stress {rec.get('bytes')} bytes on node {rec['node']}"
    if op == "pin_start":
        return f"pin {rec.get('bytes')} bytes on node {rec['node']}"
    if op == "module_load":
        return f"insmod {rec['name']} rc {rec['rc']}"
    return op


def _step_summary(done: list[dict]) -> str:
    """The actions' results in one short line; three or more writes are counted by result."""
    writes = [r for r in done if r["op"] == "write"]
    parts = [_summary(r) for r in done if r["op"] != "write" or len(writes) < 3]
    if len(writes) >= 3:
        results = Counter("timed out" if r.get("timed_out") else "ok" if r.get("errno") == 0
                          else f"errno {r.get('errno')}" for r in writes)
        parts.append(f"{len(writes)} writes: " + ", ".join(f"{n} {what}" for what, n in results.items()))
    return "; ".join(parts)


def capture(scenario: str | dict, kernel: str | Kernel, out: str | os.PathLike, *, force: bool = False,
            accel: str = "auto", progress: Callable[[StepEvent], None] | None = None,
            log: Callable[[str], None] = print) -> CaptureResult:
    """Run ``scenario`` (name, path or dict) on ``kernel`` (spec or :class:`Kernel`) into folder ``out``.

    Raises :class:`ToolMissing` (with the packages to install), :class:`CaptureError` (a kernel
    that does not boot or panics: the console tail), ``FileExistsError`` (``out`` exists and not
    ``force``); on ``KeyboardInterrupt`` QEMU is stopped, the folder is kept, marked incomplete,
    and the interrupt is re-raised.
    """
    check_tools()
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise FileExistsError(f"{out} exists; pass --force (force=True) to overwrite it")
        shutil.rmtree(out)
    k = resolve_kernel(kernel, log=log) if isinstance(kernel, str) else kernel
    missing = k.missing()
    if missing:
        from .kernels import REQUIRED_CONFIG
        raise CaptureError(f"{k.describe()} lacks what the procedure needs (from {k.config_source}): "
                           + "; ".join(f"{o} ({REQUIRED_CONFIG[o]})" for o in missing))
    if k.config is None:
        log(f"note: no config found for {k.describe()}; the guest checks for memory hotplug, NUMA and "
            "/proc/kpageflags at boot")
    build_ohelper()       # compile before QEMU starts, so a compiler problem is reported first
    out.mkdir(parents=True, exist_ok=True)
    (out / INCOMPLETE).write_text("the capture is running\n")
    run = _Run(sc, k, out, accel, progress or (lambda e: log(e.line())), log)
    complete, reason = False, ""
    try:
        run.run()
        complete = run.blocked is None
        reason = "" if complete else f"the guest shell stopped answering: {run.blocked}"
    except KeyboardInterrupt:
        reason = f"interrupted (Ctrl-C) during {run.step_name}"
        raise
    except CaptureError as err:
        reason = str(err).split("\n")[0]
        raise
    finally:
        try:
            run.finish(complete, reason)
        finally:
            run.cleanup()
    return CaptureResult(out, complete, run.boot_s, time.monotonic() - run.t0,
                         [s["name"] for s in run.steps_done], run.notes)
