"""Loadable modules: insmod, rmmod and /proc/modules (kernel/module/main.c).

A module's init registers its drivers, and registering a driver binds every device it
matches (driver_attach()): loading ``kmem`` is what hot-adds a dax device's memory on
6.3+.  The model knows the modules of the subsystems it models (see ``Machine.dax``); a
name it does not know is a missing file (ENOENT), one already loaded EEXIST.

The model leaves out module parameters, symbol resolution and reference counts (none
of these modules depends on another); sizes and addresses in /proc/modules are 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .errors import EBUSY, EEXIST, ENOENT, KernelError

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["Module", "insmod", "rmmod", "proc_modules"]


@dataclass
class Module:
    """struct module: its name, init and exit."""

    name: str
    init: Callable[["Machine"], None]
    exit: Callable[["Machine"], None] | None = None


def insmod(m: "Machine", name: str) -> None:
    """``insmod /lib/modules/.../NAME.ko``: load_module() then do_init_module(); KernelError on failure."""
    name = name.removesuffix(".ko").replace("-", "_")
    if name in m.modules_loaded:
        raise KernelError(EEXIST, f"insmod: can't insert '{name}.ko': File exists", function="load_module")
    mod = m.modules_available().get(name)
    if mod is None:
        raise KernelError(ENOENT, f"insmod: can't insert '{name}.ko': No such file or directory",
                          function="finit_module")
    m.modules_loaded[name] = mod
    try:
        mod.init(m)
    except KernelError:
        del m.modules_loaded[name]
        raise
    m.trace.record("do_init_module", "kernel/module/main.c", name)


def rmmod(m: "Machine", name: str) -> None:
    """``rmmod NAME``: the module's exit (its drivers let go of their devices); ENOENT if not loaded."""
    name = name.removesuffix(".ko").replace("-", "_")
    mod = m.modules_loaded.get(name)
    if mod is None:
        raise KernelError(ENOENT, f"rmmod: can't unload module '{name}': No such file or directory",
                          function="delete_module")
    if mod.exit is None:
        raise KernelError(EBUSY, f"rmmod: can't unload module '{name}': Device or resource busy",
                          function="delete_module")
    mod.exit(m)
    del m.modules_loaded[name]


def proc_modules(m: "Machine") -> str:
    """/proc/modules: the most recently loaded first (m_show(): name size refcount deps state address)."""
    return "".join(f"{name} 0 0 - Live 0x0000000000000000\n" for name in reversed(m.modules_loaded))
