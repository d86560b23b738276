"""The sysfs files of the dax and platform buses and of memory tiers, and /proc/modules (drivers/dax/bus.c, drivers/base).

Paths follow sysfs: ``/sys/bus/dax/devices/daxR.N`` is a link to the device's directory
under its parent, ``/sys/devices/platform/hmem.R/daxR.N``; the parent's directory holds
``dax_region/``; a bound device has a ``driver`` link into ``/sys/bus/dax/drivers/``.
Errors are kernfs's and the store methods': a missing file is ENOENT, reading a
write-only file (``mapping``, ``bind``) or writing a read-only one is EACCES.
"""
from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from ..driver_core import Bus, Device, bind_store, unbind_store
from ..errors import EACCES, ENOENT, ENXIO, EINVAL, KernelError
from . import bus as daxbus
from .bus import DaxRegion, DevDax

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["handles", "read", "write", "listdir", "readlink", "DAX_MAJOR"]

#: The char major of /dev/daxR.N is dynamic (alloc_chrdev_region() in dax_core_init()); the
#: model shows the one Debian's 6.1 and 6.12 kernels gave under QEMU.  Never compared.
DAX_MAJOR = 252

_ROOTS = ("/sys/bus/dax", "/sys/bus/platform", "/sys/devices/platform", "/sys/devices/virtual/memory_tiering")
_DEV_ATTRS = ("align", "dev", "mapping", "memmap_on_memory", "modalias", "numa_node", "resource", "size",
              "target_node")
_REGION_ATTRS = ("align", "available_size", "create", "delete", "id", "seed", "size")
_WRITE_ONLY = {"mapping", "delete", "bind", "unbind", "new_id", "remove_id"}


def handles(path: str) -> bool:
    """The path belongs to this module (checked before ``..`` is resolved: it may lead through a link)."""
    path = "/" + "/".join(p for p in path.split("/") if p)
    return path == "/proc/modules" or any(path == r or path.startswith(r + "/") for r in _ROOTS)


def _enoent(path: str) -> KernelError:
    return KernelError(ENOENT, f"{path}: No such file or directory")


# ----------------------------------------------------------------------------------------------
# resolving a path to an object
# ----------------------------------------------------------------------------------------------
def _device_dir(dev: Device) -> str:
    """The canonical directory of a device: /sys/devices/platform/ and the names of its ancestors and itself."""
    names = []
    d: Device | None = dev
    while d is not None:
        names.append(d.name)
        d = d.parent
    return "/sys/devices/platform/" + "/".join(reversed(names))


def _canonical(m: "Machine", path: str) -> str:
    """Follow the links a path goes through (bus device lists, ``driver`` links)."""
    parts = path.strip("/").split("/")
    for busname in ("dax", "platform"):
        bus = _bus(m, busname)
        for kind in ("devices", "drivers"):
            head = ["sys", "bus", busname, kind]
            if parts[:4] != head or len(parts) < 5:
                continue
            if kind == "devices":
                dev = bus.devices.get(parts[4])
                if dev is not None:
                    return _canonical(m, _device_dir(dev) + "".join("/" + p for p in parts[5:]))
            elif len(parts) >= 6:
                drv = bus.drivers.get(parts[4])
                dev = bus.devices.get(parts[5])
                if drv is not None and dev is not None and dev.driver is drv:
                    return _canonical(m, _device_dir(dev) + "".join("/" + p for p in parts[6:]))
    if parts[:3] == ["sys", "devices", "platform"]:
        for i in range(3, len(parts)):
            if parts[i] == "driver":
                dev = _device_at(m, "/" + "/".join(parts[:i]))
                if dev is not None and dev.driver is not None:
                    return f"/sys/bus/{dev.bus.name}/drivers/{dev.driver.name}" + "".join("/" + p for p in parts[i + 1:])
    return "/" + "/".join(parts)


def _resolve(m: "Machine", path: str) -> str:
    """Resolve a path the way the VFS does: each component's links first, then ``..`` from where they lead."""
    cur: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            cur = cur[:-1]
            continue
        cur.append(part)
        cur = [x for x in _canonical(m, "/" + "/".join(cur)).split("/") if x]
    return "/" + "/".join(cur)


def _bus(m: "Machine", name: str) -> Bus:
    return m.dax.dax_bus if name == "dax" else m.dax.platform


def _device_at(m: "Machine", d: str) -> Device | None:
    """The device whose canonical directory is ``d``."""
    for bus in (m.dax.platform, m.dax.dax_bus):
        for dev in bus.devices.values():
            if _device_dir(dev) == d:
                return dev
    return None


def _region_of(m: "Machine", pdev_dir: str) -> DaxRegion | None:
    return next((r for r in m.dax.regions if _device_dir(r.dev) == pdev_dir), None)


# ----------------------------------------------------------------------------------------------
# the file system interface
# ----------------------------------------------------------------------------------------------
def listdir(m: "Machine", path: str) -> list[str]:
    """``ls`` of a directory of these trees."""
    p = _resolve(m, path)
    if p == "/sys/bus/dax":
        return ["devices", "drivers", "drivers_autoprobe", "drivers_probe", "uevent"]
    if p == "/sys/bus/platform":
        return ["devices", "drivers", "drivers_autoprobe", "drivers_probe", "uevent"]
    for busname in ("dax", "platform"):
        bus = _bus(m, busname)
        if p == f"/sys/bus/{busname}/devices":
            return sorted(bus.devices)
        if p == f"/sys/bus/{busname}/drivers":
            return sorted(bus.drivers)
        if p.startswith(f"/sys/bus/{busname}/drivers/"):
            rest = p.split("/")[5:]
            drv = bus.drivers.get(rest[0])
            if drv is not None and len(rest) == 1:
                files = ["bind", "unbind", "uevent"] + (["new_id", "remove_id"] if busname == "dax" else [])
                if drv.module:
                    files.append("module")
                return sorted(files + [d.name for d in bus.devices.values() if d.driver is drv])
    if p == "/sys/devices/virtual/memory_tiering" and m.kernel.memory_tiers:
        return sorted(f"memory_tier{t}" for t in m.memory_tiers.tiers()) + ["uevent"]
    if re.fullmatch(r"/sys/devices/virtual/memory_tiering/memory_tier\d+", p) and m.kernel.memory_tiers:
        if _tier(m, p) is not None:
            return ["nodelist", "subsystem", "uevent"]
    if p == "/sys/devices/platform":
        return sorted(m.dax.platform.devices)
    dev = _device_at(m, p)
    if dev is not None:
        out = ["modalias", "power", "subsystem", "uevent"] + (["driver"] if dev.driver else [])
        if isinstance(dev, DevDax):
            out += [a for a in _DEV_ATTRS if _dev_attr_visible(m, dev, a) and a != "modalias"]
            out += [f"mapping{r.mapping_id}" for r in dev.ranges]
        else:
            out += [c.name for c in m.dax.dax_bus.devices.values() if c.parent is dev]
            if _region_of(m, p) is not None:
                out.append("dax_region")
        return sorted(out)
    head, tail = os.path.split(p)
    dev = _device_at(m, head)
    if isinstance(dev, DevDax) and tail.startswith("mapping") and tail[7:].isdigit() and \
            any(r.mapping_id == int(tail[7:]) for r in dev.ranges):
        return ["end", "page_offset", "start", "uevent"]
    if tail == "dax_region" and _region_of(m, head) is not None:
        return list(_REGION_ATTRS)
    raise _enoent(path)


def readlink(m: "Machine", path: str) -> str:
    """``readlink``: a device's ``driver`` link, or a bus's device entry."""
    head, tail = os.path.split(path.rstrip("/"))
    head = _resolve(m, head)
    if tail == "driver":
        dev = _device_at(m, _canonical(m, head))
        if dev is not None and dev.driver is not None:
            depth = _canonical(m, head).count("/") - 1
            return "../" * depth + f"bus/{dev.bus.name}/drivers/{dev.driver.name}"
    for busname in ("dax", "platform"):
        if head == f"/sys/bus/{busname}/devices":
            dev = _bus(m, busname).devices.get(tail)
            if dev is not None:
                return "../../.." + _device_dir(dev)[4:]
    raise KernelError(EINVAL, f"{path}: not a symbolic link")


def _dev_attr_visible(m: "Machine", dev: DevDax, attr: str) -> bool:
    """dev_dax_visible(): target_node only if known; memmap_on_memory from 6.8; mapping not for static regions."""
    if attr == "memmap_on_memory":
        return m.kernel.dax_memmap_on_memory
    if attr == "target_node":
        return dev.target_node >= 0
    if attr == "mapping":
        return not dev.region.is_static()
    return True


def _tier(m: "Machine", p: str) -> int | None:
    name = p.split("/")[5]
    t = name.removeprefix("memory_tier")
    return int(t) if t.isdigit() and int(t) in m.memory_tiers.tiers() else None


def read(m: "Machine", path: str) -> str:
    """``cat`` of a file of these trees."""
    from ..module import proc_modules
    from ..sysfs import node_list
    if path == "/proc/modules":
        return proc_modules(m)
    p = _resolve(m, path)
    head, attr = os.path.split(p)
    if p.startswith("/sys/devices/virtual/memory_tiering/memory_tier") and attr == "nodelist" \
            and m.kernel.memory_tiers and _tier(m, head) is not None:
        return node_list(m.memory_tiers.tiers()[_tier(m, head)]) + "\n"
    if attr in ("drivers_autoprobe",) and head in ("/sys/bus/dax", "/sys/bus/platform"):
        return f"{int(_bus(m, head.split('/')[3]).drivers_autoprobe)}\n"
    dev = _device_at(m, head)
    if isinstance(dev, DevDax) and attr in _DEV_ATTRS and _dev_attr_visible(m, dev, attr):
        return _dev_attr_show(m, dev, attr)
    mhead, mdir = os.path.split(head)
    mdev = _device_at(m, mhead)
    if isinstance(mdev, DevDax) and mdir.startswith("mapping") and attr in ("start", "end", "page_offset"):
        r = next((r for r in mdev.ranges if f"mapping{r.mapping_id}" == mdir), None)
        if r is not None:
            if mdev.region.dev.driver is None:
                raise KernelError(ENXIO, f"{path}: region disabled", function="start_show")
            return {"start": f"{r.start:#x}\n", "end": f"{r.end:#x}\n", "page_offset": f"{r.pgoff:#x}\n"}[attr]
    if mdir == "dax_region" and attr in _REGION_ATTRS:
        region = _region_of(m, mhead)
        if region is not None:
            return _region_attr_show(m, region, attr, path)
    if dev is not None and attr == "modalias":
        return "dax:t0\n" if isinstance(dev, DevDax) else f"platform:{dev.base}\n"
    if dev is not None and attr == "uevent":
        return _uevent(dev)
    if attr in _WRITE_ONLY and _exists_file(m, p):
        raise KernelError(EACCES, f"{path}: Permission denied")
    raise _enoent(path)


def _uevent(dev: Device) -> str:
    out = ""
    if isinstance(dev, DevDax):
        out += f"MAJOR={DAX_MAJOR}\nMINOR={dev.id}\nDEVNAME={dev.name}\n"
    if dev.driver is not None:
        out += f"DRIVER={dev.driver.name}\n"
    out += "MODALIAS=dax:t0\n" if isinstance(dev, DevDax) else f"MODALIAS=platform:{getattr(dev, 'base', '')}\n"
    return out


def _exists_file(m: "Machine", p: str) -> bool:
    head, name = os.path.split(p)
    try:
        return name in listdir(m, head)
    except KernelError:
        return False


def _dev_attr_show(m: "Machine", dev: DevDax, attr: str) -> str:
    if attr == "mapping":
        raise KernelError(EACCES, f"{_device_dir(dev)}/mapping: Permission denied")
    if attr == "resource":
        start = dev.ranges[0].start if dev.ranges else dev.region.res.start
        return f"{start:#x}\n"
    return {"align": f"{dev.align}\n", "dev": f"{DAX_MAJOR}:{dev.id}\n", "numa_node": f"{dev.numa_node}\n",
            "memmap_on_memory": f"{int(dev.memmap_on_memory)}\n", "modalias": "dax:t0\n",
            "size": f"{daxbus.dev_dax_size(dev)}\n", "target_node": f"{dev.target_node}\n"}[attr]


def _region_attr_show(m: "Machine", region: DaxRegion, attr: str, path: str) -> str:
    if attr == "delete":
        raise KernelError(EACCES, f"{path}: Permission denied")
    if attr in ("create", "seed"):
        if region.is_static():
            raise KernelError(EINVAL, f"{path}: static region", function=f"{attr}_show")
        d = region.youngest if attr == "create" else region.seed
        return (d.name if d is not None else "") + "\n"
    return {"align": f"{region.align}\n", "available_size": f"{region.avail_size()}\n", "id": f"{region.id}\n",
            "size": f"{region.res.size()}\n"}[attr]


def write(m: "Machine", path: str, value: str) -> int:
    """Write to a file of these trees: the store method's result, bytes written or the kernel's errno."""
    p = _resolve(m, path)
    head, attr = os.path.split(p)
    for busname in ("dax", "platform"):
        bus = _bus(m, busname)
        if head.startswith(f"/sys/bus/{busname}/drivers/") and head.count("/") == 5:
            drv = bus.drivers.get(os.path.basename(head))
            if drv is None:
                break
            if attr == "bind":
                return bind_store(m, drv, value)
            if attr == "unbind":
                return unbind_store(m, drv, value)
            if busname == "dax" and attr in ("new_id", "remove_id"):
                return daxbus.do_id_store(m, drv, value, attr == "new_id")
    dev = _device_at(m, head)
    if isinstance(dev, DevDax) and attr in _DEV_ATTRS and _dev_attr_visible(m, dev, attr):
        store = {"memmap_on_memory": daxbus.memmap_on_memory_store, "size": daxbus.size_store,
                 "align": daxbus.align_store, "mapping": _mapping_store}.get(attr)
        if store is not None:
            return store(m, dev, value)
    mhead, mdir = os.path.split(head)
    region = _region_of(m, mhead) if mdir == "dax_region" else None
    if region is not None and attr in ("create", "delete"):
        return (daxbus.create_store if attr == "create" else daxbus.delete_store)(m, region, value)
    try:
        read(m, path)
    except KernelError as e:
        if e.errno == ENOENT:
            raise
    raise KernelError(EACCES, f"{path}: Permission denied (read-only)")


def _mapping_store(m: "Machine", dev: DevDax, buf: str) -> int:
    """mapping_store(): ``start-end`` (hex) is claimed for the device if aligned; misaligned is silently ignored."""
    s = buf.removesuffix("\n")
    if "-" not in s:
        raise KernelError(EINVAL, f"{dev.name}/mapping: {buf!r} is not start-end", function="range_parse")
    a, b = s.split("-", 1)
    try:
        start, end = int(a, 16), int(b, 16)
    except ValueError:
        raise KernelError(EINVAL, f"{dev.name}/mapping: {buf!r} is not hex", function="range_parse") from None
    if dev.region.dev.driver is None:
        return 0
    size = end - start + 1
    if size % dev.align == 0:
        daxbus.alloc_dev_dax_range(m, dev, start, size)
    return len(buf)

