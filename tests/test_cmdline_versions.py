"""Boot options parsed as each kernel's kstrtobool() parses them: t/f only from 5.19."""
from __future__ import annotations

from workbook.cmdline import kstrtobool
from workbook.machine import Machine

PARAM = "/sys/module/memory_hotplug/parameters/memmap_on_memory"


def test_kstrtobool_before_5_19_knows_no_t_or_f() -> None:
    assert [kstrtobool(s, tf=False) for s in ("1", "y", "on", "off", "N", "t", "f", "force", "true")] == \
        [True, True, True, False, False, None, None, None, None]
    assert [kstrtobool(s) for s in ("t", "f", "force", "true")] == [True, False, False, True]


def test_force_on_5_13_is_rejected_and_logged_on_6_1_read_as_false() -> None:
    old = Machine("5.13", cmdline="memory_hotplug.memmap_on_memory=force")
    assert old.read(PARAM) == "N\n"
    # parse_args() in start_kernel(): kernel/params.c pr_err("%s: `%s' invalid for parameter `%s'\n")
    assert "Booting kernel: `force' invalid for parameter `memory_hotplug.memmap_on_memory'" in old.dmesg()
    new = Machine("6.1", cmdline="memory_hotplug.memmap_on_memory=force")
    assert new.read(PARAM) == "N\n" and not any("invalid for parameter" in line for line in new.dmesg_lines)
    assert Machine("5.13", cmdline="memory_hotplug.memmap_on_memory=true").read(PARAM) == "N\n"
    assert Machine("6.1", cmdline="memory_hotplug.memmap_on_memory=true").read(PARAM) == "Y\n"
