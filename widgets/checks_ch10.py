"""Check cells of chapter 10 (the test procedure): node 1 MemTotal, numactl -H size, nr_memmap_pages.

Each expected value is what the model prints after replaying capture A's steps, and the
check also says whether the real kernel printed the same (it does, for these three).
"""
from __future__ import annotations

import re

from widgets.capture_compare import machine_after_step
from widgets.checks import CheckResult, check_number
from workbook.captures import step_file

__all__ = ["check_node_memtotal", "check_numactl_size", "check_nr_memmap_pages"]


def _field(text: str, pattern: str) -> int:
    found = re.search(pattern, text, flags=re.M)
    if not found:
        raise ValueError(f"{pattern!r} not found")
    return int(found.group(1))


def _with_capture(result: CheckResult, real: int, how: str = "the real kernel printed") -> CheckResult:
    """Add what the real kernel printed to a right answer."""
    if result.ok:
        return CheckResult(True, f"{result.message} ({how} {real:,})", mistakes=result.mistakes)
    return result


def check_node_memtotal(answer: object, kernel: str = "6.12", step: str = "02-online") -> CheckResult:
    """Check "what does node 1's meminfo show as MemTotal (kB) after ``step`` of capture A?"."""
    m = machine_after_step(kernel, step)
    expected = _field(str(m.read("/sys/devices/system/node/node1/meminfo")), r"MemTotal:\s+(\d+) kB")
    real = _field(step_file(kernel, "A", step, "node1.meminfo"), r"MemTotal:\s+(\d+) kB")
    mistakes = {
        131072: "that counts the whole block; MemTotal sums the zones' managed pages, and the 512 memmap pages are "
                "present but never managed",
        32256: "that is in pages; meminfo prints kB (pages x 4)",
        126: "that is MB, as numactl -H prints it; meminfo prints kB",
        128: "that is the DIMM in MiB; meminfo prints kB of managed memory",
    }
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="node meminfo MemTotal = sum of the node's zone_managed_pages() x 4 kB; "
                                           "managed = present - vmemmap pages"), real)


def check_numactl_size(answer: object, kernel: str = "6.12", step: str = "02-online") -> CheckResult:
    """Check "what does numactl -H print as 'node 1 size' (MB) after ``step``?"."""
    m = machine_after_step(kernel, step)
    expected = _field(m.numactl_hardware(), r"^node 1 size: (\d+) MB")
    real_kb = _field(step_file(kernel, "A", step, "node1.meminfo"), r"MemTotal:\s+(\d+) kB")
    real = real_kb >> 10
    mistakes = {
        128: "that is the DIMM; numactl counts the node's managed memory, without the 2 MiB of memmap",
        129024: "that is MemTotal in kB; numactl divides by 1024 and drops the fraction",
        126 * 1024: "that is in kB; numactl prints MB",
    }
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="numactl -H: node size = node MemTotal kB >> 10 (truncated), i.e. "
                                           "managed memory only"), real,
                         f"the real kernel's node1 MemTotal: {real_kb:,} kB >> 10 =")


def check_nr_memmap_pages(answer: object, step: str = "05-offline") -> CheckResult:
    """Check "what does /proc/vmstat nr_memmap_pages show on 6.12 after ``step`` of capture A?"."""
    m = machine_after_step("6.12", step)
    expected = _field(str(m.read("/proc/vmstat")), r"^nr_memmap_pages (\d+)")
    real = _field(step_file("6.12", "A", step, "vmstat"), r"^nr_memmap_pages (\d+)")
    mistakes = {
        0: "offlining leaves the memmap in place; it goes only when the memory is removed (depopulate_section_memmap())",
        4096: "that is nr_memmap_boot_pages, the boot memory's memmap",
        4608: "nr_memmap_pages counts only memmap allocated after boot; boot memmap is nr_memmap_boot_pages",
    }
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="nr_memmap_pages (6.11+) += memmap pages at hot-add "
                                           "(populate_section_memmap()), -= them at hot-remove; online and offline "
                                           "do not touch it"), real)
