"""Buses, devices and drivers: matching, probing, and the bind/unbind files (drivers/base/bus.c, dd.c, core.c).

A driver binds a device when the bus says they *match* and the driver's probe succeeds.
Matching is tried when a driver registers (its module is loaded: driver_attach()) and
when a device is added (device_attach()); a probe that fails there is only logged.
User space can also bind and unbind by hand, writing a device name to
``/sys/bus/<bus>/drivers/<driver>/bind`` or ``unbind``: that write returns the probe's
errno (since 5.14; ENODEV before), EBUSY for a device that already has a driver, and
ENODEV when the names do not match.

The model leaves out deferred and asynchronous probing, PM and device links.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from .errors import EBUSY, ENODEV, ENXIO, KernelError, errno_name

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["Bus", "Device", "Driver", "driver_register", "driver_unregister", "device_add", "device_del",
           "device_driver_attach", "device_driver_detach", "bind_store", "unbind_store", "sysfs_streq"]


@dataclass(eq=False)
class Device:
    """struct device: a name on a bus, its driver (None: unbound), devres actions run when it is unbound."""

    name: str
    bus: "Bus | None" = None
    parent: "Device | None" = None
    driver: "Driver | None" = None
    numa_node: int = -1
    registered: bool = False
    devres: list[Callable[[], None]] = field(default_factory=list)   # devm_* releases, run LIFO

    def devm_add_action(self, fn: Callable[[], None]) -> None:
        """devm_add_action(): run ``fn`` when the driver lets go of the device."""
        self.devres.append(fn)

    def devres_release_all(self) -> None:
        """devres_release_all(): the device-managed resources of the last probe, newest first."""
        while self.devres:
            self.devres.pop()()


@dataclass(eq=False)
class Driver:
    """struct device_driver: a name, the module that registered it, probe and remove."""

    name: str
    probe: Callable[["Machine", Device], None]            # raises KernelError to refuse
    remove: Callable[["Machine", Device], None] | None = None
    module: str | None = None
    bus: "Bus | None" = None


@dataclass(eq=False)
class Bus:
    """struct bus_type: its devices and drivers in registration order, and how it matches them."""

    name: str
    match: Callable[[Device, Driver], bool]
    probe: Callable[["Machine", Device, Driver], None] | None = None    # bus->probe (wraps the driver's)
    remove: Callable[["Machine", Device, Driver], None] | None = None
    devices: dict[str, Device] = field(default_factory=dict)
    drivers: dict[str, Driver] = field(default_factory=dict)
    drivers_autoprobe: bool = True

    def find_device_by_name(self, buf: str) -> Device | None:
        """bus_find_device_by_name(): compared with sysfs_streq()."""
        return next((d for n, d in self.devices.items() if sysfs_streq(n, buf)), None)


def sysfs_streq(a: str, b: str) -> bool:
    """sysfs_streq(): equal, ignoring one trailing newline on either side."""
    return a.removesuffix("\n") == b.removesuffix("\n")


def really_probe(m: "Machine", dev: Device, drv: Driver) -> int:
    """really_probe(): 0 when bound; else the probe's errno as a positive number (nothing left behind)."""
    if dev.driver is not None:
        return -EBUSY
    dev.driver = drv
    try:
        if dev.bus is not None and dev.bus.probe is not None:
            dev.bus.probe(m, dev, drv)
        else:
            drv.probe(m, dev)
    except KernelError as e:
        dev.devres_release_all()
        dev.driver = None
        if e.errno not in (ENODEV, ENXIO):
            m.printk(f"{drv.name} {dev.name}: probe with driver {drv.name} failed with error -{e.errno}")
        return e.errno
    return 0


def device_driver_attach(m: "Machine", drv: Driver, dev: Device) -> int:
    """device_driver_attach(): probe ``dev`` with ``drv``; a negative errno on failure (EBUSY if bound)."""
    if not dev.registered:
        return -ENODEV
    ret = really_probe(m, dev, drv)
    return -ret if ret > 0 else ret


def device_driver_detach(m: "Machine", dev: Device) -> None:
    """device_driver_detach() -> device_remove(): the driver's remove, then its devres, then no driver."""
    drv = dev.driver
    if drv is None:
        return
    if dev.bus is not None and dev.bus.remove is not None:
        dev.bus.remove(m, dev, drv)
    elif drv.remove is not None:
        drv.remove(m, dev)
    dev.devres_release_all()
    dev.driver = None


def driver_attach(m: "Machine", drv: Driver) -> None:
    """driver_attach(): try every unbound, matching device of the bus (probe errors are only logged)."""
    bus = drv.bus
    for dev in list(bus.devices.values()):
        if dev.driver is None and bus.match(dev, drv):
            really_probe(m, dev, drv)


def device_attach(m: "Machine", dev: Device) -> bool:
    """__device_attach(): the first registered driver that matches and probes successfully binds ``dev``."""
    bus = dev.bus
    for drv in list(bus.drivers.values()):
        if dev.driver is not None:
            break
        if bus.match(dev, drv) and really_probe(m, dev, drv) == 0:
            return True
    return dev.driver is not None


def driver_register(m: "Machine", bus: Bus, drv: Driver) -> None:
    """driver_register() -> bus_add_driver(): the driver's sysfs directory, then driver_attach()."""
    drv.bus = bus
    bus.drivers[drv.name] = drv
    if bus.drivers_autoprobe:
        driver_attach(m, drv)


def driver_unregister(m: "Machine", drv: Driver) -> None:
    """driver_unregister() -> driver_detach(): every device it holds is unbound."""
    bus = drv.bus
    for dev in list(bus.devices.values()):
        if dev.driver is drv:
            device_driver_detach(m, dev)
    bus.drivers.pop(drv.name, None)


def device_add(m: "Machine", bus: Bus, dev: Device) -> None:
    """device_add() -> bus_probe_device(): the device appears, and a matching driver may bind it."""
    dev.bus = bus
    if dev.parent is not None and dev.numa_node < 0:
        dev.numa_node = dev.parent.numa_node          # set_dev_node(dev, dev_to_node(parent))
    bus.devices[dev.name] = dev
    dev.registered = True
    if bus.drivers_autoprobe:
        device_attach(m, dev)


def device_del(m: "Machine", dev: Device) -> None:
    """device_del(): unbind, then the device leaves its bus."""
    device_driver_detach(m, dev)
    if dev.bus is not None:
        dev.bus.devices.pop(dev.name, None)
    dev.registered = False


def bind_store(m: "Machine", drv: Driver, buf: str) -> int:
    """bind_store(): bind the named device by hand; bytes written or the kernel's errno."""
    bus = drv.bus
    dev = bus.find_device_by_name(buf)
    err = -ENODEV
    if m.kernel.bind_returns_probe_error:
        if dev is not None and bus.match(dev, drv):
            err = device_driver_attach(m, drv, dev)
            if not err:
                err = len(buf)
    elif dev is not None and dev.driver is None and bus.match(dev, drv):
        # 5.10: really_probe()'s errors are swallowed and read as "driver didn't accept device"
        err = len(buf) if device_driver_attach(m, drv, dev) == 0 else -ENODEV
    if err < 0:
        raise KernelError(-err, f"{drv.name}/bind {buf.strip()!r}: {errno_name(-err)}", function="bind_store")
    return err


def unbind_store(m: "Machine", drv: Driver, buf: str) -> int:
    """unbind_store(): unbind the named device if ``drv`` holds it, else ENODEV."""
    dev = drv.bus.find_device_by_name(buf)
    if dev is None or dev.driver is not drv:
        raise KernelError(ENODEV, f"{drv.name}/unbind {buf.strip()!r}: not bound to {drv.name}",
                          function="unbind_store")
    device_driver_detach(m, dev)
    return len(buf)
