"""QEMU pc-dimm hot(un)plug as the guest sees it: ACPI memory devices (drivers/acpi/acpi_memhotplug.c, scan.c).

``dimm_add`` is QMP ``object-add`` + ``device_add pc-dimm``: QEMU picks the address and
notifies the guest, whose ACPI driver adds the memory.  ``dimm_del`` is ``device_del``:
the guest tries to offline every block of the DIMM (two passes, acpi_scan_try_to_offline())
and ejects it only if that works; otherwise the DIMM stays and QEMU never reports
DEVICE_DELETED.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .errors import EBUSY, EEXIST, EINVAL, KernelError
from .memory import device_offline, device_online
from .memory_hotplug import (MHP_MEMMAP_ON_MEMORY, MHP_NID_IS_MGID, add_memory,
                             mhp_supports_memmap_on_memory, try_remove_memory)
from .memory import MemoryGroup
from .qemu import Dimm, QemuError, memory_device_get_free_addr, qemu_strtosz
from .trace import kernel_function

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["DimmResult", "dimm_add", "dimm_del", "acpi_memory_enable_device", "acpi_scan_try_to_offline"]


@dataclass
class DimmResult:
    """What QMP and the guest reported for one DIMM operation."""

    id: str
    result: str                 # "ok" / "error: ..." (add), "deleted" / "not-deleted" (del)
    addr: int = 0
    blocks: tuple[int, ...] = ()
    error: KernelError | None = None
    qmp: str = ""               # the equivalent QMP command


@kernel_function("drivers/acpi/acpi_memhotplug.c")
def acpi_memory_enable_device(m: "Machine", dimm: Dimm) -> list[int]:
    """acpi_memory_enable_device(): a static memory group and __add_memory() for the DIMM's range.

    -EEXIST counts as success ("the memory block has been used by the kernel"): the device is
    bound and enabled, so its eject later removes that range; the error is still raised for
    the caller to report.  Any other error leaves it disabled, and the driver says so.
    """
    group = None
    if m.kernel.memory_groups:
        group = MemoryGroup(id=len(m.dimms), nid=dimm.node, max_pages=dimm.size >> m.arch.page_shift)
    flags = MHP_NID_IS_MGID
    if m.kernel.acpi_always_passes_flag or mhp_supports_memmap_on_memory(m, dimm.size):
        flags |= MHP_MEMMAP_ON_MEMORY
    try:
        blocks = add_memory(m, dimm.node, dimm.addr, dimm.size, flags, group)
    except KernelError as e:
        if e.errno == EEXIST:
            dimm.enabled = True
            raise
        name = f"acpi PNP0C80:{dimm.slot:02x}"
        m.printk(f"{name}: add_memory failed", level="err")
        m.printk(f"{name}: acpi_memory_enable_device() error", level="err")     # acpi_memory_device_add()
        raise
    dimm.enabled = True
    return [b.id for b in blocks]


def _size_bytes(size: object) -> int:
    """``size=`` of object_add memory-backend-ram: an int, or a string QEMU's size parser takes ("128M")."""
    if isinstance(size, bool) or not isinstance(size, (int, str)):
        raise TypeError(f"dimm_add(): size must be an int (bytes) or a QEMU size string such as '128M', "
                        f"not {type(size).__name__}")
    try:
        value = qemu_strtosz(size if isinstance(size, str) else str(size))
    except ValueError:
        # qobject_input_type_size_keyval(): QERR_INVALID_PARAMETER_VALUE
        raise QemuError("Parameter 'size' expects size") from None
    if not value:
        # host_memory_backend_set_size()
        raise QemuError("property 'size' of memory-backend-ram doesn't take value '0'")
    return value


def dimm_add(m: "Machine", size: int | str, node: int, id: str | None = None, addr: int | None = None) -> DimmResult:
    """QMP object-add memory-backend-ram + device_add pc-dimm: plug a DIMM into ``node``.

    ``size`` is bytes, or a size string as QEMU's command line takes it ("128M", "1.5G").
    ``addr`` is where QEMU puts it (None: the first free address of the DIMM window, as
    QEMU chooses).  Errors QEMU itself reports come back as ``result="error: ..."`` with
    QEMU 7.2's message, in its order: the backend's size, the device id, the slot, the space
    left under ``maxmem``, alignment (2 MiB on an x86_64 host), the address, the node.
    Errors of the guest kernel (unaligned size, ...) leave the DIMM plugged but without
    memory blocks, and are in ``error`` and dmesg.
    """
    if id is None:
        n = 1
        while f"dimm{n}" in m.dimms:
            n += 1
        id = f"dimm{n}"
    for name, v in (("node", node), ("addr", addr)):
        if (v is not None or name == "node") and (isinstance(v, bool) or not isinstance(v, int)):
            raise TypeError(f"dimm_add(): {name} must be an int, not {type(v).__name__}")
    if addr is not None:
        addr %= 1 << 64                      # a uint64 property: QEMU's parser wraps a negative value
    qmp = (f"object_add memory-backend-ram,id=mem-{id},size={size} ; "
           f"device_add pc-dimm,id={id},memdev=mem-{id},node={node}"
           + (f",addr={addr:#x}" if addr is not None else ""))
    try:
        size = _size_bytes(size)
        if id in m.dimms:
            raise QemuError(f"Duplicate device ID '{id}'")                  # qdev_set_id()
        if not 0 <= node < 1 << 32:
            raise QemuError("Parameter 'node' expects uint32")              # visit_type_uint32()
        if len(m.dimms) >= m.slots:
            raise QemuError("no free slots available")                       # pc_dimm_get_free_slot()
        used = sum(d.size for d in m.dimms.values())
        if used + size > m.maxmem_bytes - m.layout.ram_bytes:
            # memory_device_check_addable()
            raise QemuError(f"not enough space, currently {used:#x} in use of total space for "
                            f"memory devices {m.maxmem_bytes - m.layout.ram_bytes:#x}")
        addr = memory_device_get_free_addr(m.layout, list(m.dimms.values()), size, addr)
        if node >= len(m.nodes):
            # pc_dimm_realize()
            raise QemuError(f"'DIMM property node has value {node}' which exceeds the number of numa nodes: "
                            f"{len(m.nodes)}")
    except QemuError as e:
        return DimmResult(id, f"error: {e}", qmp=qmp)
    slot = min(set(range(m.slots)) - {d.slot for d in m.dimms.values()})
    dimm = Dimm(id=id, addr=addr, size=size, node=node, slot=slot, memdev=f"mem-{id}")
    m.dimms[id] = dimm
    mark = len(m.dmesg_lines)
    try:
        dimm.blocks = acpi_memory_enable_device(m, dimm)
    except KernelError as e:
        e.log = m.dmesg_log_since(mark)
        return DimmResult(id, "ok", addr, (), e, qmp)
    return DimmResult(id, "ok", addr, tuple(dimm.blocks), None, qmp)


@kernel_function("drivers/acpi/scan.c")
def acpi_scan_try_to_offline(m: "Machine", dimm: Dimm) -> None:
    """acpi_scan_try_to_offline(): offline every block; errors of the first pass are retried once."""
    blocks = [m.blocks[b] for b in dimm.blocks if b in m.blocks]
    put_online = {}
    errdev = None
    for b in blocks:                       # first pass: record, go on
        try:
            ret = device_offline(m, b)
            put_online[b.id] = not ret
        except KernelError:
            put_online[b.id] = False
            errdev = b
    if errdev is None:
        return
    errdev = None
    for b in blocks:                       # second pass: stop at the first error
        if put_online.get(b.id):
            continue
        try:
            device_offline(m, b)
        except KernelError:
            errdev = b
            break
    if errdev is not None:
        m.printk(f"memory {errdev.name}: Offline failed.")
        for b in blocks:                   # acpi_bus_online(): put back what the first pass offlined
            if put_online.get(b.id):
                try:
                    device_online(m, b)
                except KernelError:
                    pass
        raise KernelError(EBUSY, f"memory {errdev.name}: Offline failed.", function="acpi_scan_try_to_offline")


def dimm_del(m: "Machine", id: str) -> DimmResult:
    """QMP device_del: ACPI eject; the DIMM goes only if the guest offlines and removes all of it."""
    qmp = f"device_del {id}"
    dimm = m.dimms.get(id)
    if dimm is None:
        return DimmResult(id, f"error: Device '{id}' not found", qmp=qmp,
                          error=KernelError(EINVAL, f"Device '{id}' not found", function="qmp_device_del"))
    mark = len(m.dmesg_lines)
    try:
        acpi_scan_try_to_offline(m, dimm)
        if dimm.enabled:                   # acpi_memory_remove_memory(): only what was enabled
            try_remove_memory(m, dimm.addr, dimm.size)
    except KernelError as e:
        e.log = m.dmesg_log_since(mark)
        return DimmResult(id, "not-deleted", dimm.addr, tuple(dimm.blocks), e, qmp)
    del m.dimms[id]
    return DimmResult(id, "deleted", dimm.addr, tuple(dimm.blocks), None, qmp)

