"""The kernel command line, parsed as kernel/params.c and the hotplug early_params parse it."""
from __future__ import annotations

from dataclasses import dataclass, field

from .kernel import KernelProfile

__all__ = ["HotplugParams", "parse_cmdline", "kstrtobool", "kstrtouint", "sysfs_streq", "split_cmdline",
           "ONLINE_TYPES", "MMOP_OFFLINE", "MMOP_ONLINE", "MMOP_ONLINE_KERNEL", "MMOP_ONLINE_MOVABLE",
           "mhp_online_type_from_str", "online_type_to_str"]

# include/linux/memory_hotplug.h: enum mmop
MMOP_OFFLINE, MMOP_ONLINE, MMOP_ONLINE_KERNEL, MMOP_ONLINE_MOVABLE = 0, 1, 2, 3
ONLINE_TYPES = {"offline": MMOP_OFFLINE, "online": MMOP_ONLINE,
                "online_kernel": MMOP_ONLINE_KERNEL, "online_movable": MMOP_ONLINE_MOVABLE}
_ONLINE_TYPE_NAMES = {v: k for k, v in ONLINE_TYPES.items()}


def sysfs_streq(s1: str, s2: str) -> bool:
    """lib/string.c sysfs_streq(): equal as C strings, ignoring one trailing newline on either side."""
    s1, s2 = s1.split("\0", 1)[0], s2.split("\0", 1)[0]
    return s1 == s2 or s1 == s2 + "\n" or s1 + "\n" == s2


def mhp_online_type_from_str(buf: str) -> int:
    """Map a ``state``/``auto_online_blocks`` string to an MMOP_* value, -1 if unknown (sysfs_streq)."""
    for name, t in ONLINE_TYPES.items():
        if sysfs_streq(buf, name):
            return t
    return -1


def online_type_to_str(online_type: int) -> str:
    """The string the kernel prints for an MMOP_* value (``auto_online_blocks``)."""
    return _ONLINE_TYPE_NAMES[online_type]


def kstrtobool(s: str, tf: bool = True) -> bool | None:
    """lib/kstrtox.c kstrtobool(): y/Y/1/on -> True, n/N/0/off -> False, else None.

    ``tf``: t/T and f/F too (5.19+, KernelProfile.kstrtobool_tf); before, "force" or "true"
    are not booleans at all.
    """
    s = s.split("\0", 1)[0]                  # a C string
    if not s:
        return None
    c = s[0]
    if c in ("yYtT1" if tf else "yY1"):
        return True
    if c in ("nNfF0" if tf else "nN0"):
        return False
    if c in "oO" and len(s) > 1:
        if s[1] in "nN":
            return True
        if s[1] in "fF":
            return False
    return None


def kstrtouint(s: str, base: int = 0) -> int | None:
    """lib/kstrtox.c kstrtouint(): optional '+', 0x/0 prefixes with base 0, one trailing newline; None if invalid.

    Raises OverflowError for a value that does not fit 32 bits (the kernel's -ERANGE).
    """
    t = s[1:] if s.startswith("+") else s
    if base == 0:
        if t[:2].lower() == "0x" and len(t) > 2 and t[2] in "0123456789abcdefABCDEF":
            base, t = 16, t[2:]
        elif t.startswith("0"):
            base = 8
        else:
            base = 10
    body = t[:-1] if t.endswith("\n") else t
    digits = "0123456789abcdef"[:base]
    if not body or any(c.lower() not in digits for c in body):
        return None
    v = int(body, base)
    if v >= 1 << 32:
        raise OverflowError(f"{s!r} does not fit an unsigned int")
    return v


def split_cmdline(cmdline: str) -> list[tuple[str, str | None]]:
    """Split like lib/cmdline.c next_arg(): ``name=value`` pairs, double quotes group spaces."""
    out: list[tuple[str, str | None]] = []
    i, n = 0, len(cmdline)
    while i < n:
        while i < n and cmdline[i].isspace():
            i += 1
        if i >= n:
            break
        start, in_quote = i, False
        while i < n and (in_quote or not cmdline[i].isspace()):
            if cmdline[i] == '"':
                in_quote = not in_quote
            i += 1
        arg = cmdline[start:i].replace('"', "")
        if "=" in arg:
            k, v = arg.split("=", 1)
            out.append((k, v))
        else:
            out.append((arg, None))
    return out


@dataclass
class HotplugParams:
    """The memory hotplug knobs set at boot (mm/memory_hotplug.c module params and early_params)."""

    memmap_on_memory: str = "N"          # "Y", "N" or "force" (6.6+)
    online_policy: str = "contig-zones"  # or "auto-movable"
    auto_movable_ratio: int = 301
    auto_movable_numa_aware: bool = True
    movable_node: bool = False
    default_online_type: int = MMOP_OFFLINE  # memhp_default_state= / auto_online_blocks
    log: list[str] = field(default_factory=list)  # what parsing printed

    @property
    def memmap_mode(self) -> str:
        """``"disable"``, ``"enable"`` or ``"force"`` (enum memmap_on_memory_mode, 6.6+)."""
        return {"Y": "enable", "N": "disable", "force": "force"}[self.memmap_on_memory]


def parse_cmdline(cmdline: str, kernel: KernelProfile, default_online_type: int | None = None) -> HotplugParams:
    """Parse the hotplug-related options of a kernel command line, as ``kernel`` would.

    Unknown options are ignored (they belong to other subsystems).  An invalid value of a
    module parameter leaves the default in place, and ``log`` gets the line start_kernel()'s
    parse_args("Booting kernel", ...) prints for it (the machine prints it at boot);
    memhp_default_state= ignores an invalid value silently, as setup_memhp_default_state() does.
    """
    if default_online_type is None:
        default_online_type = ONLINE_TYPES[kernel.default_online_type]
    p = HotplugParams(default_online_type=default_online_type)
    for name, value in split_cmdline(cmdline):
        if name == "memhp_default_state" and value is not None:
            # setup_memhp_default_state(): only valid strings change the default
            t = mhp_online_type_from_str(value)
            if t >= 0:
                p.default_online_type = t
        elif name == "movable_node":
            p.movable_node = True   # cmdline_parse_movable_node(), CONFIG_HAVE_MEMBLOCK_NODE_MAP
        elif name == "memory_hotplug.memmap_on_memory":
            _set_memmap_on_memory(p, value, kernel)
        elif name.startswith("memory_hotplug.") and not kernel.memory_groups:
            pass    # no such parameter before 5.15: unknown_bootoption() drops dotted names silently
        elif name == "memory_hotplug.online_policy":
            if value is not None and value in ("contig-zones", "auto-movable"):   # set_online_policy()
                p.online_policy = value
            else:
                p.log.append(_invalid(name, value))
        elif name == "memory_hotplug.auto_movable_ratio":
            try:
                v = kstrtouint(value, 0) if value is not None else None           # param_set_uint()
            except OverflowError:                                                  # -ERANGE
                v = None
            if v is None:
                p.log.append(_invalid(name, value))
            else:
                p.auto_movable_ratio = v
        elif name == "memory_hotplug.auto_movable_numa_aware":
            b = True if value is None else kstrtobool(value, kernel.kstrtobool_tf)   # param_set_bool()
            if b is None:
                p.log.append(_invalid(name, value))
            else:
                p.auto_movable_numa_aware = b
    return p


def _invalid(param: str, value: str | None) -> str:
    """kernel/params.c parse_args(): what a parameter's -EINVAL (or -ERANGE) prints at boot."""
    return f"Booting kernel: `{value or ''}' invalid for parameter `{param}'"


def _set_memmap_on_memory(p: HotplugParams, value: str | None, kernel: KernelProfile) -> None:
    """module_param memmap_on_memory: bool (5.13-6.5) or memmap_mode_ops with "force" (6.6+)."""
    if not kernel.memmap_on_memory:
        return
    if kernel.memmap_force_mode:
        # set_memmap_mode(): "force"/"FORCE" or kstrtobool; no KERNEL_PARAM_OPS_FL_NOARG,
        # so a bare name is rejected by parse_one() with -EINVAL.
        if value is None:
            p.log.append(_invalid("memory_hotplug.memmap_on_memory", value))
            return
        if value in ("force", "FORCE"):
            p.memmap_on_memory = "force"
            return
        b = kstrtobool(value, kernel.kstrtobool_tf)
    else:
        # param_ops_bool has KERNEL_PARAM_OPS_FL_NOARG: a bare name means Y.
        b = True if value is None else kstrtobool(value, kernel.kstrtobool_tf)
    if b is None:
        p.log.append(_invalid("memory_hotplug.memmap_on_memory", value))
        return
    p.memmap_on_memory = "Y" if b else "N"
