"""The dax subsystem of one machine: the dax and platform buses, the hmem ranges and the dax modules (drivers/dax/).

``Machine.dax`` is created at boot: the dax bus exists (the dax core is built in),
hmem_init() has looked at the Soft Reserved ranges, and the modules ``device_dax``,
``kmem`` and ``dax_hmem`` wait to be loaded (``Machine.insmod()``), unless the kernel's
config builds them in (``y``: initialised at boot) or leaves them out (``n``).

The path of "specific purpose" and CXL memory, as a learner drives it::

    m.insmod("device_dax"); m.insmod("dax_hmem")     # dax0.0 appears (6.1: device_dax binds it)
    m.write("/sys/bus/dax/devices/dax0.0/memmap_on_memory", "1")      # 6.8+, before kmem binds
    m.insmod("kmem")                                                  # 6.3+: kmem binds, hot-adds
    m.write("/sys/devices/system/memory/memory32/state", "online_movable")
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..driver_core import Bus, driver_register, driver_unregister
from ..memory_tiers import MemoryDevType
from ..module import Module
from .bus import DaxRegion, DevDax, dax_bus_type
from .device import device_dax_driver
from .hmem import dax_hmem_drivers, hmem_init, platform_match
from .kmem import kmem_driver

if TYPE_CHECKING:  # pragma: no cover
    from ..machine import Machine

__all__ = ["DaxSubsystem", "DevDax", "DaxRegion", "DAX_MODULES", "soft_reserved_machine"]

#: module name -> the CONFIG_ option that builds it
DAX_MODULES = {"device_dax": "CONFIG_DEV_DAX", "kmem": "CONFIG_DEV_DAX_KMEM", "dax_hmem": "CONFIG_DEV_DAX_HMEM"}


class DaxSubsystem:
    """Buses, regions and module state of drivers/dax on one machine."""

    def __init__(self, m: "Machine") -> None:
        self.m = m
        m.dax = self                     # hmem_init() below already reaches it through the machine
        self.dax_bus: Bus = dax_bus_type(m)
        self.platform = Bus("platform", match=platform_match)
        self.regions: list[DaxRegion] = []
        self.memregion_ids: set[int] = set()
        self.hmem_active: list[tuple[int, int, int]] = []        # (target node, start, end) (6.3+)
        self.kmem_memtype: MemoryDevType | None = None
        self.any_hotremove_failed = False
        self.modules = {name: self._module(name) for name, opt in DAX_MODULES.items()
                        if m.config.get(opt, "m") in ("m", "y")}
        if m.config.get("CONFIG_DEV_DAX_HMEM_DEVICES", "y") == "y":
            hmem_init(m)
        for name, opt in DAX_MODULES.items():
            if m.config.get(opt) == "y":                            # built in: its initcall runs at boot
                self.modules.pop(name).init(m)

    def memregion_alloc(self) -> int:
        """memregion_alloc(): the lowest free region id."""
        rid = min(set(range(len(self.memregion_ids) + 1)) - self.memregion_ids)
        self.memregion_ids.add(rid)
        return rid

    def _module(self, name: str) -> Module:
        drivers: list = []

        def init(m: "Machine") -> None:
            if name == "dax_hmem":
                drivers[:] = dax_hmem_drivers(m)
                for drv in drivers:
                    driver_register(m, self.platform, drv)
                return
            drv = device_dax_driver(m) if name == "device_dax" else kmem_driver()
            drivers[:] = [drv]
            driver_register(m, self.dax_bus, drv)

        def exit(m: "Machine") -> None:
            for drv in reversed(drivers):
                driver_unregister(m, drv)
                if hasattr(drv, "ids"):
                    drv.ids.clear()                              # dax_driver_unregister()
            if name == "kmem":
                self.kmem_memtype = None                         # kmem_put_memory_types()
            drivers.clear()
        return Module(name, init, exit)

    def device(self, name: str) -> DevDax | None:
        """The dax device ``name`` (``dax0.0``), or None."""
        d = self.dax_bus.devices.get(name)
        return d if isinstance(d, DevDax) else None

    def devices(self) -> list[DevDax]:
        """Every dax device, in the order they appeared."""
        return [d for d in self.dax_bus.devices.values() if isinstance(d, DevDax)]


def soft_reserved_machine(kernel: str = "6.12", sp_bytes: int = 256 << 20, boot_bytes: int = 1 << 30,
                          cmdline: str = "memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                          **kw) -> "Machine":
    """The captures' machine: node 0 with ``boot_bytes`` of RAM, node 1's ``sp_bytes`` at 4 GiB made Soft Reserved.

    QEMU ``-M pc,max-ram-below-4g=<boot_bytes>`` puts node 1's memory at 4 GiB, and
    ``memmap=<size>%0x100000000-1+0xefffffff`` turns it from usable RAM (type 1) into Soft
    Reserved (0xefffffff), so node 1 boots memoryless and dax_hmem finds the range.
    """
    from ..machine import Machine, NodeSpec
    size = f"{sp_bytes >> 20}M" if sp_bytes % (1 << 20) == 0 else str(sp_bytes)
    full = f"memmap={size}%0x100000000-1+0xefffffff {cmdline}".strip()
    kw.setdefault("maxmem_bytes", 32 << 30)
    return Machine(kernel=kernel, nodes=[NodeSpec(0, [0], boot_bytes), NodeSpec(1, [1], sp_bytes)], cmdline=full,
                   ram_bytes=boot_bytes + sp_bytes, machine_options={"max-ram-below-4g": boot_bytes},
                   hotplug_node=1, **kw)
