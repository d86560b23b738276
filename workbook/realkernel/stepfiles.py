"""Turn what the guest's ``ohelper cap`` sent into a step folder of the capture format.

The guest sends records (``F <len> <name>`` files, ``L <len> <name>`` symlinks); this module
writes the files CAPTURE_FORMAT.md describes: the procfs copies, ``node<K>.meminfo``,
``sysroot.json``, ``memory_blocks.txt``, ``lsmem.txt``/``lsmem-a.txt`` (the host's ``lsmem``
on the rebuilt sysfs tree), ``dmesg.new``, ``dax.txt`` (dax/kmem runs), and the kpageflags/kpagecount
dumps with their runs.
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
from pathlib import Path

import numpy as np

from ..pagemap import kpf_names

__all__ = ["Records", "parse_records", "write_step", "sysroot_json", "memory_blocks_txt", "kpf_runs_txt",
           "dmesg_new", "lsmem_text", "LSMEM_A_COLUMNS"]

PROC_FILES = ("zoneinfo", "meminfo", "vmstat", "buddyinfo", "pagetypeinfo", "iomem")
BOOT_ONLY = ("cmdline", "uname_r", "memory_hotplug_params")
LSMEM_A_COLUMNS = "RANGE,SIZE,STATE,REMOVABLE,BLOCK,NODE,ZONES"
_PARAMS_DIR = "sys/module/memory_hotplug/parameters/"


@dataclass
class Records:
    """One capture as the guest sent it: file contents and symlink targets by name."""

    files: dict[str, bytes] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)


def parse_records(blob: bytes) -> Records:
    """Split ``ohelper cap`` output into :class:`Records` (see guest/ohelper.c)."""
    rec, pos = Records(), 0
    while pos < len(blob):
        nl = blob.index(b"\n", pos)
        kind, length, name = blob[pos:nl].decode().split(" ", 2)
        n = int(length)
        data = blob[nl + 1: nl + 1 + n]
        if len(data) != n or blob[nl + 1 + n: nl + 2 + n] != b"\n":
            raise ValueError(f"truncated capture record {name!r}")
        if kind == "F":
            rec.files[name] = data
        elif kind == "L":
            rec.links[name] = data.decode()
        else:
            raise ValueError(f"unknown capture record kind {kind!r}")
        pos = nl + 2 + n
    return rec


def sysroot_json(rec: Records) -> dict:
    """The ``sysroot.json`` object: the sysfs memory/node values and symlinks."""
    files = {k: v.decode("utf-8", "replace") for k, v in rec.files.items() if k.startswith("sys/devices/system/")}
    links = {k: v for k, v in rec.links.items() if k.startswith("sys/devices/system/")}
    return {"format": 1, "files": files, "symlinks": links, "empty_dirs": []}


def memory_blocks_txt(sysroot: dict) -> str:
    """One line per memory block with its sysfs values (as the shipped captures print them)."""
    files, links = sysroot["files"], sysroot["symlinks"]
    base = "sys/devices/system/memory/"
    size = int(files.get(base + "block_size_bytes", "0").strip() or "0", 16)
    ids = sorted(int(m.group(1)) for k in files if (m := re.fullmatch(base + r"memory(\d+)/state", k)))
    lines = []
    for bid in ids:
        v = lambda a: files.get(f"{base}memory{bid}/{a}", "").strip()  # noqa: E731
        nodes = [k.rsplit("/node", 1)[1] for k in links if re.fullmatch(rf"{base}memory{bid}/node\d+", k)]
        lines.append(f"{'memory' + str(bid):<10} start={hex(bid * size):<12} state={v('state'):<8} "
                     f"online={v('online')} phys_index={v('phys_index')} phys_device={v('phys_device')} "
                     f"removable={v('removable')} node={','.join(nodes) or '?'} valid_zones={v('valid_zones')}")
    return "\n".join(lines) + ("\n" if lines else "")


def lsmem_text(sysroot: dict, args: list[str], lsmem: str) -> str:
    """``lsmem`` run on the tree ``sysroot`` describes: ``$ command``, its output, ``[rc=N]``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "sysroot"
        for name, content in sysroot["files"].items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_text(content)
        for name, target in sysroot["symlinks"].items():
            p = root / name
            p.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, p)
        cmd = [lsmem] + args[:1] + ["--sysroot", "sysroot"] + args[1:]
        p = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, env={**os.environ, "LC_ALL": "C"})
        return f"$ lsmem {' '.join(cmd[1:])}\n{p.stdout}{p.stderr}[rc={p.returncode}]\n"


def dmesg_new(previous: str | None, current: str) -> tuple[str, bool]:
    """The lines ``current`` adds to ``previous``; True when the ring buffer rotated (no overlap)."""
    if previous is None or current.startswith(previous):
        return current[len(previous or ""):], False
    last = previous.rstrip("\n").rsplit("\n", 1)[-1]
    i = current.rfind(last + "\n") if last else -1
    if i >= 0:
        return current[i + len(last) + 1:], False
    return current, True


def kpf_runs_txt(start: int, flags: np.ndarray, counts: np.ndarray) -> str:
    """``range.kpageflags.runs.txt``: runs of equal words, then the kpagecount runs."""
    out = ["# start_pfn end_pfn(inclusive) npfns raw_flags flags  (kpagecount runs below)"]
    for lo, hi, word in _runs(flags):
        out.append(f"{start + lo:#x} {start + hi - 1:#x} {hi - lo} {int(word):#x} {kpf_names(int(word))}")
    out.append("# kpagecount runs: start_pfn end_pfn count")
    for lo, hi, word in _runs(counts):
        out.append(f"{start + lo:#x} {start + hi - 1:#x} {int(word)}")
    return "\n".join(out) + "\n"


def _runs(words: np.ndarray):
    if len(words) == 0:
        return
    cut = np.flatnonzero(words[1:] != words[:-1]) + 1
    edges = np.concatenate([[0], cut, [len(words)]])
    for lo, hi in zip(edges[:-1], edges[1:]):
        yield int(lo), int(hi), words[lo]


def _params_text(rec: Records) -> str:
    params = {k[len(_PARAMS_DIR):]: v.decode().strip() for k, v in rec.files.items() if k.startswith(_PARAMS_DIR)}
    if not params:
        return ("# /sys/module/memory_hotplug/parameters: absent\n"
                "# ls: /sys/module/memory_hotplug: No such file or directory\n")
    return "".join(f"{k}={v}\n" for k, v in sorted(params.items()))


def _gzip(path: Path, data: bytes) -> None:
    with open(path, "wb") as raw, gzip.GzipFile(filename=path.stem, mode="wb", fileobj=raw,
                                                 compresslevel=9, mtime=0) as gz:
        gz.write(data)


def write_step(folder: Path, rec: Records, kpf_range: list[int] | None, previous_dmesg: str | None,
               boot: dict[str, str] | None, lsmem: str | None) -> dict[str, str]:
    """Write one step folder; returns the texts later steps compare with (dmesg, boot-only files)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PROC_FILES:
        if name in rec.files:
            (folder / name).write_bytes(rec.files[name])
    for name in sorted(rec.files):
        if re.fullmatch(r"node\d+\.meminfo", name):
            (folder / name).write_bytes(rec.files[name])
    (folder / "guest_time").write_bytes(rec.files.get("guest_time", b""))
    if "dax.txt" in rec.files:                     # a dax/kmem run (guest/cap.sh dax_txt)
        (folder / "dax.txt").write_bytes(rec.files["dax.txt"])
    # the boot-only files: 00-boot always, a later step only where it differs from the boot copy
    now = {"cmdline": rec.files.get("cmdline", b"").decode(), "uname_r": rec.files.get("uname_r", b"").decode(),
           "memory_hotplug_params": _params_text(rec)}
    for name in BOOT_ONLY:
        if boot is None or boot.get(name) != now[name]:
            (folder / name).write_text(now[name])
    dmesg = rec.files.get("dmesg", b"").decode("utf-8", "replace")
    new, rotated = dmesg_new(previous_dmesg, dmesg)
    (folder / "dmesg.new").write_text(new)
    if rotated:
        (folder / "dmesg.full").write_text(dmesg)
    sysroot = sysroot_json(rec)
    (folder / "sysroot.json").write_text(json.dumps(sysroot, indent=0) + "\n")
    (folder / "memory_blocks.txt").write_text(memory_blocks_txt(sysroot))
    if lsmem:
        (folder / "lsmem.txt").write_text(lsmem_text(sysroot, [], lsmem))
        (folder / "lsmem-a.txt").write_text(lsmem_text(sysroot, ["-a", "-o", LSMEM_A_COLUMNS], lsmem))
    if kpf_range:
        start, count = int(kpf_range[0]), int(kpf_range[1])
        (folder / "kpf_range").write_text(f"{start} {count}\n")
        flags = rec.files.get("range.kpageflags", b"")
        counts = rec.files.get("range.kpagecount", b"")
        _gzip(folder / "range.kpageflags.gz", flags)
        _gzip(folder / "range.kpagecount.gz", counts)
        f = np.frombuffer(flags[: len(flags) // 8 * 8], dtype="<u8")
        c = np.frombuffer(counts[: len(counts) // 8 * 8], dtype="<u8")
        (folder / "range.kpageflags.runs.txt").write_text(kpf_runs_txt(start, f, c))
        if "kpf.log" in rec.files:
            (folder / "kpf.log").write_bytes(rec.files["kpf.log"])
    return {"dmesg": dmesg, **now}


def find_lsmem() -> str | None:
    """The host's ``lsmem`` (util-linux), or None."""
    return shutil.which("lsmem")
