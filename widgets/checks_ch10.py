"""Check cells of chapter 10 (the test procedure): node 1 MemTotal, numactl -H size, nr_memmap_pages.

Each expected value is what the model prints after replaying a shipped capture's steps (capture A by
default; the exercises use capture K), and the check also says whether the real kernel printed the same.
"""
from __future__ import annotations

import re

from widgets.capture_compare import machine_after_step
from widgets.checks import CheckResult, check_number
from workbook.captures import step_file
from workbook.machine import Machine

__all__ = ["check_node_memtotal", "check_numactl_size", "check_nr_memmap_pages"]

_MEMTOTAL = r"MemTotal:\s+(\d+) kB"


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


def _node1(m: Machine) -> dict[str, int]:
    """Node 1's pages as the mistakes below need them: present, self-hosted memmap, blocks, memmap of one block."""
    blocks = [b for b in m.blocks.values() if b.nid == 1]
    per_block = m.arch.memmap_pages(m.block_size >> m.arch.page_shift)
    self_hosting = str(m.read("/sys/module/memory_hotplug/parameters/memmap_on_memory")).strip() in ("Y", "force")
    return {"present": sum(z.present_pages for z in m.nodes[1].zones), "blocks": len(blocks),
            "self-hosted": sum(b.vmemmap_pages for b in blocks), "per block": per_block,
            "option on": int(self_hosting)}


def _memmap_mistakes(n: dict[str, int], kernel: str, to_unit) -> dict[int, str]:
    """Wrong answers about where the memmap of node 1's blocks is, in the unit ``to_unit`` converts pages to."""
    mistakes: dict[int, str] = {}
    if n["self-hosted"] and n["blocks"] > 1:
        mistakes[to_unit(n["present"] - n["per block"])] = (
            f"that takes out the memmap of one block only; on {kernel} each of the DIMM's {n['blocks']} blocks holds "
            f"its own ({n['per block']:,} pages each, present but never managed)")
    if not n["self-hosted"] and n["option on"] and n["blocks"] > 1:
        mistakes[to_unit(n["present"] - n["blocks"] * n["per block"])] = (
            f"that leaves each block's memmap on the block, as 6.8 and later do; {kernel} self-hosts the memmap only "
            f"for an add of exactly one memory block (chapter 05), so this {n['blocks']}-block DIMM took its memmap "
            "from node 0 and every pfn of it is managed")
    return mistakes


def check_node_memtotal(answer: object, kernel: str = "6.12", step: str = "02-online",
                        scenario: str = "A") -> CheckResult:
    """Check "what does node 1's meminfo show as MemTotal (kB) after ``step`` of capture ``scenario``?"."""
    m = machine_after_step(kernel, step, scenario)
    expected = _field(str(m.read("/sys/devices/system/node/node1/meminfo")), _MEMTOTAL)
    real = _field(step_file(kernel, scenario, step, "node1.meminfo"), _MEMTOTAL)
    n = _node1(m)
    kb = m.arch.page_size // 1024
    mistakes = {
        n["present"] * kb: "that counts every pfn of the DIMM; MemTotal sums the zones' managed pages, and the memmap "
                           "pages at the start of a self-hosting block are present but never managed",
        expected // kb: "that is in pages; meminfo prints kB (pages x 4)",
        expected >> 10: "that is MB, as numactl -H prints it; meminfo prints kB",
        (n["present"] * kb) >> 10: "that is the DIMM in MiB; meminfo prints kB of managed memory",
    }
    mistakes.update(_memmap_mistakes(n, kernel, lambda pages: pages * kb))
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="node meminfo MemTotal = sum of the node's zone_managed_pages() x 4 kB; "
                                           "managed = present - the memmap pages each self-hosting block keeps"),
                         real)


def check_numactl_size(answer: object, kernel: str = "6.12", step: str = "02-online",
                       scenario: str = "A") -> CheckResult:
    """Check "what does numactl -H print as 'node 1 size' (MB) after ``step`` of capture ``scenario``?"."""
    m = machine_after_step(kernel, step, scenario)
    expected = _field(m.numactl_hardware(), r"^node 1 size: (\d+) MB")
    model_kb = _field(str(m.read("/sys/devices/system/node/node1/meminfo")), _MEMTOTAL)
    real_kb = _field(step_file(kernel, scenario, step, "node1.meminfo"), _MEMTOTAL)
    n = _node1(m)
    kb = m.arch.page_size // 1024
    mistakes = {
        (n["present"] * kb) >> 10: "that is the DIMM; numactl counts the node's managed memory, without the "
                                   f"{(n['self-hosted'] * kb) >> 10} MiB of memmap its blocks keep",
        model_kb: "that is MemTotal in kB; numactl divides by 1024 and drops the fraction",
        expected * 1024: "that is in kB; numactl prints MB",
    }
    mistakes.update(_memmap_mistakes(n, kernel, lambda pages: (pages * kb) >> 10))
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="numactl -H: node size = node MemTotal kB >> 10 (truncated), i.e. "
                                           "managed memory only"), real_kb >> 10,
                         f"the real kernel's node1 MemTotal: {real_kb:,} kB >> 10 =")


def check_nr_memmap_pages(answer: object, step: str = "05-offline", scenario: str = "A") -> CheckResult:
    """Check "what does /proc/vmstat nr_memmap_pages show on 6.12 after ``step`` of capture ``scenario``?"."""
    m = machine_after_step("6.12", step, scenario)
    vmstat = str(m.read("/proc/vmstat"))
    expected = _field(vmstat, r"^nr_memmap_pages (\d+)")
    boot = _field(vmstat, r"^nr_memmap_boot_pages (\d+)")
    real = _field(step_file("6.12", scenario, step, "vmstat"), r"^nr_memmap_pages (\d+)")
    n = _node1(m)
    mistakes = {
        0: "offlining leaves the memmap in place; it goes only when the memory is removed (depopulate_section_memmap())",
        boot: "that is nr_memmap_boot_pages, the boot memory's memmap",
        boot + expected: "nr_memmap_pages counts only memmap allocated after boot; boot memmap is nr_memmap_boot_pages",
        expected * 4: "that is in kB; vmstat counts pages",
    }
    if n["blocks"] > 1:
        mistakes[n["per block"]] = (f"that is one block's memmap; the DIMM has {n['blocks']} blocks, and "
                                    "nr_memmap_pages counts the memmap of every section hot-added since boot")
    mistakes.pop(expected, None)
    return _with_capture(check_number(answer, expected, mistakes=mistakes,
                                      rule="nr_memmap_pages (6.11+) += memmap pages at hot-add "
                                           "(populate_section_memmap()), -= them at hot-remove; online and offline "
                                           "do not touch it; 1/64 of the memory on x86_64"), real)
