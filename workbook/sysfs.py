"""The sysfs and procfs files a learner reads and writes, and an exported tree for ``lsmem --sysroot``.

Paths, formats and errnos follow drivers/base/memory.c, drivers/base/node.c,
mm/memory_hotplug.c (module parameters) and kernfs: a missing path is ENOENT, a file
without a store method is EACCES, a bad value is EINVAL.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Callable

from . import cpu, procfs
from .dax import sysfs as daxfs
from .cmdline import kstrtobool, kstrtouint, mhp_online_type_from_str, online_type_to_str, sysfs_streq
from .errors import EACCES, EINVAL, ENOENT, ERANGE, KernelError
from .memory import online_store, state_store, valid_zones_show

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["read", "write", "listdir", "readlink", "exists", "sysroot", "export_sysfs", "node_list"]

MEM = "/sys/devices/system/memory"
NODE = "/sys/devices/system/node"
PARAMS = "/sys/module/memory_hotplug/parameters"
MOVABLE_GIGANTIC = "/proc/sys/vm/movable_gigantic_pages"


def node_list(ids) -> str:
    """The kernel's %*pbl bitmap list format: ``0-1,4``."""
    ids = sorted(ids)
    out, i = [], 0
    while i < len(ids):
        j = i
        while j + 1 < len(ids) and ids[j + 1] == ids[j] + 1:
            j += 1
        out.append(str(ids[i]) if i == j else f"{ids[i]}-{ids[j]}")
        i = j + 1
    return ",".join(out)


def _block_attr(m: "Machine", n: int, attr: str) -> str:
    b = m.blocks.get(n)
    if b is None:
        raise KernelError(ENOENT, f"{MEM}/memory{n}/{attr}: No such file or directory")
    if attr == "state":
        return b.state_name() + "\n"
    if attr == "online":
        return ("1" if not b.dev_offline else "0") + "\n"
    if attr == "phys_index":
        return f"{b.id:08x}\n"
    if attr == "phys_device":
        return "0\n"
    if attr == "removable":
        return "1\n"
    if attr == "valid_zones":
        return valid_zones_show(m, b)
    raise KernelError(ENOENT, f"{MEM}/memory{n}/{attr}: No such file or directory")


def _params(m: "Machine") -> dict[str, str]:
    """/sys/module/memory_hotplug/parameters: none before 5.13 (no module_param at all), memmap_on_memory
    from 5.13, the memory-group parameters from 5.15."""
    p, k = m.params, m.kernel
    out = {}
    if k.memory_groups:
        out.update({"auto_movable_numa_aware": ("Y" if p.auto_movable_numa_aware else "N") + "\n",
                    "auto_movable_ratio": f"{p.auto_movable_ratio}\n",
                    "online_policy": f"{p.online_policy}\n"})
    if k.memmap_on_memory:
        out["memmap_on_memory"] = f"{p.memmap_on_memory}\n"
    return dict(sorted(out.items()))


def memory_hotplug_params_text(m: "Machine") -> str:
    """The capture harness's ``memory_hotplug_params``: ``name=value`` per parameter, or why there are none."""
    params = _params(m)
    if not params:
        return ("# /sys/module/memory_hotplug/parameters: absent\n"
                "# ls: /sys/module/memory_hotplug: No such file or directory\n")
    return "".join(f"{k}={v}" for k, v in params.items())


def _numastat(m: "Machine", nid: int) -> str:
    return "".join(f"{k} 0\n" for k in ("numa_hit", "numa_miss", "numa_foreign", "interleave_hit",
                                         "local_node", "other_node"))


def read(m: "Machine", path: str) -> str | bytes:
    """Read a sysfs/procfs file of the model, exactly as ``cat`` would show it."""
    raw = _path(path, normalise=False)
    if daxfs.handles(raw):
        return daxfs.read(m, raw)
    path = os.path.normpath(raw)
    if path == "/proc/zoneinfo":
        return procfs.zoneinfo(m)
    if path == "/proc/meminfo":
        return procfs.meminfo(m)
    if path == "/proc/vmstat":
        return procfs.vmstat(m)
    if path == "/proc/buddyinfo":
        return procfs.buddyinfo(m)
    if path == "/proc/pagetypeinfo":
        return procfs.pagetypeinfo(m)
    if path == "/proc/iomem":
        return procfs.iomem(m)
    if path == "/proc/cmdline":
        return m.cmdline + "\n"
    if path == "/proc/kpageflags":
        return procfs.kpageflags(m, 0, m.max_pfn).tobytes()
    if path == f"{MEM}/block_size_bytes":
        return f"{m.block_size:x}\n"
    if path == f"{MEM}/auto_online_blocks":
        return online_type_to_str(m.params.default_online_type) + "\n"
    mm = re.fullmatch(rf"{MEM}/memory(\d+)/(\w+)", path)
    if mm:
        return _block_attr(m, int(mm.group(1)), mm.group(2))
    mm = re.fullmatch(rf"{PARAMS}/(\w+)", path)
    if mm and mm.group(1) in _params(m):
        return _params(m)[mm.group(1)]
    mm = re.fullmatch(r"/sys/devices/system/cpu/cpu(\d+)/online", path)
    if mm:
        return cpu.cpu_online_show(m, int(mm.group(1)), path)
    if path == MOVABLE_GIGANTIC and m.kernel.movable_gigantic_pages:
        return f"{m.sysctl.get('vm.movable_gigantic_pages', 0)}\n"
    nodes_files: dict[str, Callable[[], str]] = {
        "possible": lambda: node_list(m.nodes) + "\n",
        "online": lambda: node_list(m.online_nodes()) + "\n",
        "has_normal_memory": lambda: node_list(n for n, x in m.nodes.items() if x.has_normal_memory()) + "\n",
        "has_memory": lambda: node_list(n for n, x in m.nodes.items() if x.has_memory()) + "\n",
        "has_cpu": lambda: node_list(n for n, x in m.nodes.items() if set(x.cpus) & m.cpu_online) + "\n",
        "has_generic_initiator": lambda: "\n",
    }
    mm = re.fullmatch(rf"{NODE}/(\w+)", path)
    if mm and mm.group(1) in nodes_files:
        return nodes_files[mm.group(1)]()
    mm = re.fullmatch(rf"{NODE}/node(\d+)/(\w+)", path)
    if mm and int(mm.group(1)) in m.nodes:
        nid, attr = int(mm.group(1)), mm.group(2)
        files = {"meminfo": lambda: procfs.node_meminfo(m, nid),
                 "numastat": lambda: _numastat(m, nid),
                 "cpulist": lambda: node_list(m.nodes[nid].cpus) + "\n",
                 "distance": lambda: " ".join(str(m.node_distance[(nid, b)]) for b in sorted(m.nodes)) + "\n",
                 "vmstat": lambda: procfs.node_vmstat(m, nid)}
        if attr in files:
            return files[attr]()
    raise KernelError(ENOENT, f"{path}: No such file or directory")


def _path(path: object, normalise: bool = True) -> str:
    """A path argument as the model takes it: str or os.PathLike (bytes paths decoded as the OS would).

    ``normalise=False`` keeps ``..`` for the trees whose symlinks the model resolves itself
    (workbook.dax.sysfs: ``..`` after a symlink is the link target's parent, as in the kernel).
    """
    if isinstance(path, (str, bytes, os.PathLike)):
        p = os.fsdecode(path)
        return os.path.normpath(p) if normalise else p
    raise TypeError(f"path must be str or os.PathLike, not {type(path).__name__}")


def _buffer(value: object) -> bytes:
    """The bytes a ``write(2)`` of ``value`` hands the kernel: bytes as they are, str UTF-8 encoded (as echo -n)."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"write(): the value must be str or bytes (what write(2) takes), not {type(value).__name__}")


def write(m: "Machine", path: str, value: str | bytes) -> int:
    """Write ``value`` (str or bytes) to a sysfs file of the model; returns bytes written or raises KernelError.

    As kernfs_fop_write_iter() and sysfs_kf_write() do: a store method sees at most
    PAGE_SIZE bytes, as a C string (it ends at the first NUL byte), and returns the whole
    count; an empty write returns 0 without calling it.
    """
    path, buf = _path(path, normalise=False), _buffer(value)
    buf = buf[:m.arch.page_size]               # no atomic_write_len: min(len, PAGE_SIZE)
    count = len(buf)
    text = buf.decode("latin-1").split("\0", 1)[0]      # buf[len] = '\0'; stores parse a C string
    store = _store(m, path)
    if count:
        store(text)
    return count


def _store(m: "Machine", path: str) -> Callable[[str], object]:
    """The store method of a sysfs file (ENOENT if there is no such file, EACCES if it is read-only)."""
    if daxfs.handles(path):
        return lambda buf: daxfs.write(m, path, buf)
    path = os.path.normpath(path)
    mm = re.fullmatch(rf"{MEM}/memory(\d+)/(\w+)", path)
    if mm:
        n, attr = int(mm.group(1)), mm.group(2)
        b = m.blocks.get(n)
        if b is None:
            raise KernelError(ENOENT, f"{path}: No such file or directory")
        if attr == "state":
            return lambda buf: state_store(m, b, buf)
        if attr == "online":
            return lambda buf: online_store(m, b, buf)
        _block_attr(m, n, attr)            # ENOENT for unknown names
        raise KernelError(EACCES, f"{path}: Permission denied (read-only attribute)")
    mm = re.fullmatch(r"/sys/devices/system/cpu/cpu(\d+)/online", path)
    if mm:
        cpu.cpu_online_show(m, int(mm.group(1)), path)      # ENOENT for cpu0 and unknown CPUs
        return lambda buf: cpu.online_store(m, int(mm.group(1)), buf, path)
    if path == MOVABLE_GIGANTIC and m.kernel.movable_gigantic_pages:
        return lambda buf: _movable_gigantic_store(m, buf)
    if path == f"{MEM}/auto_online_blocks":
        return lambda buf: _auto_online_blocks_store(m, buf)
    mm = re.fullmatch(rf"{PARAMS}/(\w+)", path)
    if mm and mm.group(1) in _params(m):
        if mm.group(1) == "memmap_on_memory":
            raise KernelError(EACCES, f"{path}: Permission denied (0444: set it on the kernel command line)")
        return lambda buf: _param_store(m, mm.group(1), buf)
    try:
        read(m, path)
    except KernelError:
        raise KernelError(ENOENT, f"{path}: No such file or directory") from None
    raise KernelError(EACCES, f"{path}: Permission denied (read-only)")


def _movable_gigantic_store(m: "Machine", buf: str) -> None:
    """vm.movable_gigantic_pages (mm/hugetlb_sysctl.c, 6.19+): proc_dointvec."""
    try:
        m.sysctl["vm.movable_gigantic_pages"] = int(buf.strip())
    except ValueError:
        raise KernelError(EINVAL, f"invalid value {buf!r}", function="proc_dointvec") from None


def _auto_online_blocks_store(m: "Machine", buf: str) -> None:
    """auto_online_blocks_store() (drivers/base/memory.c)."""
    t = mhp_online_type_from_str(buf)
    if t < 0:
        raise KernelError(EINVAL, f"invalid online type {buf!r}", function="auto_online_blocks_store")
    m.params.default_online_type = t


def _param_store(m: "Machine", name: str, buf: str) -> None:
    """param_attr_store() of the memory_hotplug module parameters (kernel/params.c, mm/memory_hotplug.c)."""
    if name == "online_policy":
        # set_online_policy(): sysfs_match_string()
        for policy in ("contig-zones", "auto-movable"):
            if sysfs_streq(buf, policy):
                m.params.online_policy = policy
                return
        raise KernelError(EINVAL, f"invalid online_policy {buf!r}", function="set_online_policy")
    if name == "auto_movable_ratio":
        try:
            v = kstrtouint(buf, 0)
        except OverflowError:
            raise KernelError(ERANGE, f"{buf!r} does not fit an unsigned int", function="param_set_uint") from None
        if v is None:
            raise KernelError(EINVAL, f"invalid unsigned int {buf!r}", function="param_set_uint")
        m.params.auto_movable_ratio = v
        return
    if name == "auto_movable_numa_aware":
        b = kstrtobool(buf, m.kernel.kstrtobool_tf)
        if b is None:
            raise KernelError(EINVAL, f"invalid bool {buf!r}", function="param_set_bool")
        m.params.auto_movable_numa_aware = b


def listdir(m: "Machine", path: str) -> list[str]:
    """Entries of a sysfs directory of the model (``ls``)."""
    raw = _path(path, normalise=False)
    if daxfs.handles(raw):
        return daxfs.listdir(m, raw)
    path = os.path.normpath(raw)
    if path == "/sys/bus":
        return ["dax", "platform"]
    if path == MEM:
        return ["auto_online_blocks", "block_size_bytes"] + [f"memory{i}" for i in sorted(m.blocks)]
    mm = re.fullmatch(rf"{MEM}/memory(\d+)", path)
    if mm and int(mm.group(1)) in m.blocks:
        b = m.blocks[int(mm.group(1))]
        return [f"node{b.nid}", "online", "phys_device", "phys_index", "removable", "state", "valid_zones"]
    if path == NODE:
        return ["has_cpu", "has_generic_initiator", "has_memory", "has_normal_memory", "online", "possible"] + \
            [f"node{n}" for n in sorted(m.nodes)]
    mm = re.fullmatch(rf"{NODE}/node(\d+)", path)
    if mm and int(mm.group(1)) in m.nodes:
        nid = int(mm.group(1))
        return ["cpulist", "distance", "meminfo", "numastat", "vmstat"] + \
            [f"memory{b.id}" for b in sorted(m.blocks.values(), key=lambda x: x.id) if b.nid == nid]
    if path == PARAMS and _params(m):
        return sorted(_params(m))
    raise KernelError(ENOENT, f"{path}: No such file or directory")


def readlink(m: "Machine", path: str) -> str:
    """``readlink PATH``: the sysfs links of the dax and platform buses."""
    return daxfs.readlink(m, path)


def exists(m: "Machine", path: str) -> bool:
    """``test -e``."""
    try:
        listdir(m, path)
        return True
    except KernelError:
        pass
    try:
        read(m, path)
        return True
    except KernelError:
        return False


BLOCK_ATTRS = ("online", "phys_device", "phys_index", "removable", "state", "valid_zones")
# File modes as drivers/base/memory.c declares them (DEVICE_ATTR_RW / _RO).
_MODE = {"online": 0o644, "state": 0o644}


def _block_files(m: "Machine", n: int) -> dict[str, str]:
    """Every attribute file of ``memory<n>``, name -> content."""
    return {attr: _block_attr(m, n, attr) for attr in BLOCK_ATTRS}


_SYSTEM = "sys/devices/system"
_NODE_STATES = ("possible", "online", "has_normal_memory", "has_memory", "has_cpu", "has_generic_initiator")
_NODE_ATTRS = ("meminfo", "numastat", "cpulist", "distance", "vmstat")


def _fixed_files(m: "Machine") -> dict[str, str]:
    """The tree's files that are not per memory block, keyed relative to the sysroot."""
    files = {f"{_SYSTEM}/memory/{name}": read(m, f"{MEM}/{name}")
             for name in ("block_size_bytes", "auto_online_blocks")}
    files.update({f"{_SYSTEM}/node/{name}": read(m, f"{NODE}/{name}") for name in _NODE_STATES})
    for nid in sorted(m.nodes):
        files.update({f"{_SYSTEM}/node/node{nid}/{attr}": read(m, f"{NODE}/node{nid}/{attr}")
                      for attr in _NODE_ATTRS})
    return files


def sysroot(m: "Machine") -> tuple[dict[str, str], dict[str, str]]:
    """The files and symlinks of ``/sys/devices/system/{memory,node}``, keyed relative to the sysroot."""
    files = _fixed_files(m)
    links: dict[str, str] = {}
    for n in sorted(m.blocks):
        b = m.blocks[n]
        for attr, content in _block_files(m, n).items():
            files[f"{_SYSTEM}/memory/memory{n}/{attr}"] = content
        links[f"{_SYSTEM}/memory/memory{n}/node{b.nid}"] = f"../../node/node{b.nid}"
        links[f"{_SYSTEM}/node/node{b.nid}/memory{n}"] = f"../../memory/memory{n}"
    return files, links


def _write_file(path: str, content: str, mode: int = 0o444, dir_fd: int | None = None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode, dir_fd=dir_fd)
    try:
        os.write(fd, content.encode())
    finally:
        os.close(fd)


def export_sysfs(m: "Machine", root: str) -> str:
    """Write the sysfs tree under ``root`` so that ``lsmem --sysroot root`` reads it like a real one.

    A snapshot at scale: 32 768 blocks are ~360 000 mkdir/link/symlink/open/write calls, so
    the export costs syscalls, not Python.  Block attribute files with the same content and
    mode are hard links to the first one written (one ``link()`` instead of open, write and
    close) and paths resolve against open directory descriptors.  A previous export under
    ``root`` is replaced, so blocks removed since then do not linger.
    """
    import shutil

    system = os.path.join(root, _SYSTEM)
    for sub in ("memory", "node"):
        shutil.rmtree(os.path.join(system, sub), ignore_errors=True)
    for rel, content in _fixed_files(m).items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        _write_file(path, content, 0o644 if rel == f"{_SYSTEM}/memory/auto_online_blocks" else 0o444)
    mem_dir, node_dir = os.path.join(system, "memory"), os.path.join(system, "node")

    written: dict[tuple[int, str], str] = {}       # (mode, content) -> the file that has it
    mfd = os.open(mem_dir, os.O_RDONLY | os.O_DIRECTORY)
    nfd = os.open(node_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for n in sorted(m.blocks):
            nid = m.blocks[n].nid
            os.mkdir(f"memory{n}", dir_fd=mfd)
            for attr, content in _block_files(m, n).items():
                rel, key = f"memory{n}/{attr}", (_MODE.get(attr, 0o444), content)
                src = written.get(key)
                if src is None:
                    _write_file(rel, content, key[0], dir_fd=mfd)
                    if attr != "phys_index":       # unique per block: never a link source
                        written[key] = rel
                else:
                    os.link(src, rel, src_dir_fd=mfd, dst_dir_fd=mfd, follow_symlinks=False)
            os.symlink(f"../../node/node{nid}", f"memory{n}/node{nid}", dir_fd=mfd)
            os.symlink(f"../../memory/memory{n}", f"node{nid}/memory{n}", dir_fd=nfd)
    finally:
        os.close(mfd)
        os.close(nfd)
    return root
