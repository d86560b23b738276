"""Every error the model can return, each with its errno, the lines the kernel logs and its exact effect.

Each test takes a snapshot of everything user space can observe (the sysfs tree, /proc files,
kpageflags of the touched range, the workloads' pages) plus the model's own section map and
max_pfn, runs the failing operation and compares: nothing may change but what the kernel
itself leaves behind, and that is checked exactly.  Kernel sources read for each path are
named in the model's docstrings (Linux 6.1.192 and 6.12.117 as Debian ships them).
"""
from __future__ import annotations

import errno
import re

import numpy as np
import pytest

from workbook.arch import GiB, MiB
from workbook.errors import EHWPOISON, KernelError
from workbook.machine import Machine, NodeSpec
from workbook.memory import MEM_OFFLINE, MEM_ONLINE, memory_block_change_state
from workbook.memory_hotplug import (MHP_MEMMAP_ON_MEMORY, MHP_NONE, add_memory, add_memory_resource, arch_add_memory,
                                     offline_pages, online_pages, try_remove_memory)
from workbook.memremap import VmemAltmap
from workbook.pagemap import KPF, PageKind
from workbook.sysfs import sysroot

MEM = "/sys/devices/system/memory"
PARAMS = "/sys/module/memory_hotplug/parameters"
DYNDBG = 'dyndbg="file mm/memory_hotplug.c +p"'


def qemu(kernel="6.12", mmom="1", extra=""):
    """The captured machine: 1 GiB on node 0, memoryless node 1, DIMMs from 4 GiB."""
    return Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={mmom} memhp_default_state=offline {extra}",
                   nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=32 * GiB)


def observe(m: Machine, pfns: tuple[int, int] | None = None) -> dict:
    """Everything a failed operation could have changed."""
    files, links = sysroot(m)
    return {
        "sysfs": files, "links": links,
        **{name: m.read(f"/proc/{name}") for name in ("zoneinfo", "meminfo", "vmstat", "buddyinfo", "iomem")},
        "params": m.read(f"{PARAMS}/online_policy") + m.read(f"{PARAMS}/auto_movable_ratio")
        + m.read(f"{PARAMS}/auto_movable_numa_aware") + m.read(f"{MEM}/auto_online_blocks"),
        "kpageflags": m.kpageflags(*pfns).tolist() if pfns else None,
        "units": {o: sorted((k, z.nid, z.name, p, order) for k, (z, p, order) in a.units.items())
                  for o, a in m.allocations.items()},
        "dimms": {d.id: (d.addr, d.size, tuple(d.blocks)) for d in m.dimms.values()},
        "sections": m.present_section_nrs(),
        "max_pfn": m.max_pfn,
        "dmesg": list(m.dmesg_lines),
    }


def changed(before: dict, after: dict) -> set[str]:
    """The snapshot keys whose value changed."""
    return {k for k in before if before[k] != after[k]}


def new_lines(before: dict, after: dict) -> list[str]:
    """What the operation printed, without timestamps."""
    assert after["dmesg"][:len(before["dmesg"])] == before["dmesg"]
    return [line.split("] ", 1)[1] for line in after["dmesg"][len(before["dmesg"]):]]


def fails(m: Machine, op, err: int, pfns=None) -> tuple[KernelError, dict, dict]:
    """Run ``op``, which must raise KernelError ``err``; its ``log`` must be exactly what dmesg got."""
    before = observe(m, pfns)
    with pytest.raises(KernelError) as ei:
        op()
    after = observe(m, pfns)
    assert ei.value.errno == err, ei.value
    assert ei.value.log == new_lines(before, after)
    return ei.value, before, after


def nothing_changed(m: Machine, op, err: int, pfns=None, log: list[str] = ()) -> KernelError:
    """The failing op leaves every observable thing as it was and prints exactly ``log``."""
    e, before, after = fails(m, op, err, pfns)
    assert changed(before, after) <= {"dmesg"}, changed(before, after)
    assert new_lines(before, after) == list(log)
    return e


# ---- sysfs writes that the store method refuses ------------------------------------------------
@pytest.mark.parametrize("value", ["junk", "2", " 1", "", "o", "\n1", b"\x00"])
def test_junk_to_online_is_einval_and_changes_nothing(value):
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    path = f"{MEM}/memory32/online"
    if value == "":
        before = observe(m, (0x100000, 0x8000))
        assert m.write(path, value) == 0                 # sysfs_kf_write(): no store for 0 bytes
        assert changed(before, observe(m, (0x100000, 0x8000))) == set()
        return
    nothing_changed(m, lambda: m.write(path, value), errno.EINVAL, (0x100000, 0x8000))
    m.write(f"{MEM}/memory32/state", "online_movable")
    nothing_changed(m, lambda: m.write(path, value), errno.EINVAL, (0x100000, 0x8000))


@pytest.mark.parametrize("value,online", [("1", True), ("y", True), ("yes", True), ("1\n", True), ("on", True),
                                          ("0", False), ("n", False), ("off", False), ("false", False)])
def test_online_takes_what_kstrtobool_takes(value, online):
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    if not online:
        m.write(f"{MEM}/memory32/state", "online_movable")
    assert m.write(f"{MEM}/memory32/online", value) == len(value)
    assert m.read(f"{MEM}/memory32/online") == ("1\n" if online else "0\n")
    before = observe(m)
    assert m.write(f"{MEM}/memory32/online", value) == len(value)     # already there: no error, no change
    assert changed(before, observe(m)) == set()


@pytest.mark.parametrize("value", ["banana", "online\n\n", "Online", "online_movable ", "offline"])
def test_state_einval(value):
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")                 # offline: "offline" is EINVAL too (device_offline() is 1)
    nothing_changed(m, lambda: m.write(f"{MEM}/memory32/state", value), errno.EINVAL, (0x100000, 0x8000))


def test_state_einval_when_already_online():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    for value in ("online", "online_kernel", "online_movable"):
        nothing_changed(m, lambda: m.write(f"{MEM}/memory32/state", value), errno.EINVAL, (0x100000, 0x8000))


def test_boot_block_spanning_two_zones_is_einval():
    """memory_block_offline(): a block without a single zone (memory0: DMA and DMA32) is -EINVAL, silently."""
    m = qemu("6.12", extra=DYNDBG)
    assert m.read(f"{MEM}/memory0/valid_zones") == "none\n"
    nothing_changed(m, lambda: m.write(f"{MEM}/memory0/state", "offline"), errno.EINVAL)


def test_boot_block_offline_is_ebusy():
    m = qemu("6.1", extra=DYNDBG)
    nothing_changed(m, lambda: m.write(f"{MEM}/memory7/state", "offline"), errno.EBUSY,
                    log=["memory offlining [mem 0x38000000-0x3fffffff] failed due to failure to isolate range"])
    m2 = qemu("6.1")                                  # the same without dynamic debug: nothing logged
    nothing_changed(m2, lambda: m2.write(f"{MEM}/memory7/state", "offline"), errno.EBUSY)


@pytest.mark.parametrize("path,value,err", [
    (f"{MEM}/memory99/state", "online", errno.ENOENT),
    (f"{MEM}/memory32/nonsense", "1", errno.ENOENT),
    ("/sys/devices/system/memory/nothing", "1", errno.ENOENT),
    ("/proc/nonsense", "1", errno.ENOENT),
    (f"{MEM}/memory32/phys_index", "1", errno.EACCES),
    (f"{MEM}/memory32/valid_zones", "Movable", errno.EACCES),
    (f"{MEM}/block_size_bytes", "1000", errno.EACCES),
    ("/proc/zoneinfo", "1", errno.EACCES),
    (f"{PARAMS}/memmap_on_memory", "N", errno.EACCES),
    (f"{MEM}/auto_online_blocks", "sometimes", errno.EINVAL),
    (f"{MEM}/auto_online_blocks", "online\n\n", errno.EINVAL),
    (f"{PARAMS}/online_policy", "random", errno.EINVAL),
    (f"{PARAMS}/online_policy", "auto-movable\n\n", errno.EINVAL),
    (f"{PARAMS}/auto_movable_ratio", "-1", errno.EINVAL),
    (f"{PARAMS}/auto_movable_ratio", "12ab", errno.EINVAL),
    (f"{PARAMS}/auto_movable_ratio", "0x", errno.EINVAL),
    (f"{PARAMS}/auto_movable_ratio", "09", errno.EINVAL),            # base 0: a leading 0 is octal
    (f"{PARAMS}/auto_movable_ratio", "4294967296", errno.ERANGE),
    (f"{PARAMS}/auto_movable_numa_aware", "maybe", errno.EINVAL),
])
def test_sysfs_file_errors_change_nothing(path, value, err):
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    nothing_changed(m, lambda: m.write(path, value), err)


@pytest.mark.parametrize("path,value,read", [
    (f"{PARAMS}/auto_movable_ratio", "0x10", "16\n"), (f"{PARAMS}/auto_movable_ratio", "010", "8\n"),
    (f"{PARAMS}/auto_movable_ratio", "+301\n", "301\n"), (f"{PARAMS}/online_policy", "auto-movable\n", "auto-movable\n"),
    (f"{PARAMS}/auto_movable_numa_aware", "n", "N\n"), (f"{MEM}/auto_online_blocks", "online_movable\n", "online_movable\n"),
])
def test_parameters_take_what_the_kernel_parses(path, value, read):
    m = qemu()
    assert m.write(path, value) == len(value)
    assert m.read(path) == read


def test_reads_of_missing_files_are_enoent():
    m = qemu()
    for path in (f"{MEM}/memory32/state", f"{MEM}/memory7/nonsense", "/proc/nonsense", "/sys/devices/system/node/node5/meminfo"):
        before = observe(m)
        with pytest.raises(KernelError) as ei:
            m.read(path)
        assert ei.value.errno == errno.ENOENT and changed(before, observe(m)) == set()


# ---- offline ---------------------------------------------------------------------------------
def test_offline_ebusy_drains_the_pcp_lists_and_nothing_else():
    """An unmovable page fails isolation: dump_page() + pr_debug, and the zone's pcp pages are back in the buddy."""
    m = qemu("6.1", extra=DYNDBG)
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_kernel")          # node 1's first kernel memory: slab lands here
    w = m.start_workload(1, 20 * MiB)
    m.stop_workload(w)                                         # leaves pages on node 1's pcp lists
    zone = m.blocks[32].zone
    pcp = zone.pcp_pages()
    assert pcp
    e, before, after = fails(m, lambda: m.write(f"{MEM}/memory32/state", "offline"), errno.EBUSY)
    bad = int(np.nonzero(np.isin(m.blocks[32].pagemap.kind, PageKind.UNMOVABLE))[0][0]) + 0x100000
    assert new_lines(before, after) == [
        f"page:(____ptrval____) refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{bad:#x}",
        "head:(____ptrval____) order:1 compound_mapcount:0 compound_pincount:0",
        "flags: (slab|head|node=1|zone=2)", "page dumped because: unmovable page",
        "memory offlining [mem 0x100200000-0x107ffffff] failed due to failure to isolate range"]
    assert changed(before, after) == {"dmesg", "zoneinfo", "buddyinfo", "sysfs", "meminfo", "vmstat"}
    assert zone.pcp_pages() == 0
    for key, lines in (("meminfo", {"MemFree", "MemAvailable"}),
                       ("vmstat", {"nr_free_pages", "nr_dirty_threshold", "nr_dirty_background_threshold"})):
        diff = {a.split()[0].rstrip(":") for a, b in zip(before[key].splitlines(), after[key].splitlines()) if a != b}
        assert diff == lines, (key, diff)
    # what changed: the pcp pages are now counted free; spans, present, managed and every page's owner stay
    diff = [(a, b) for a, b in zip(before["zoneinfo"].splitlines(), after["zoneinfo"].splitlines()) if a != b]
    assert all(re.sub(r"\d+", "#", a) == re.sub(r"\d+", "#", b) for a, b in diff)
    assert {re.sub(r"\s+\d+$", "", a).strip() for a, b in diff} <= {"pages free", "nr_free_pages", "count:"}
    assert {k for k in before["sysfs"] if before["sysfs"][k] != after["sysfs"][k]} == {
        "sys/devices/system/node/node1/meminfo", "sys/devices/system/node/node1/vmstat"}
    free = [int(x) for x in re.findall(r"pages free\s+(\d+)", before["zoneinfo"] + "\n" + after["zoneinfo"])]
    assert sum(free[len(free) // 2:]) - sum(free[:len(free) // 2]) == pcp


def eintr_machine(dyndbg: bool = True):
    """A 2 GiB movable DIMM on node 1 whose 1900 MiB workload node 0 cannot take: offlining stops at block 38."""
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=online_movable "
                                + (DYNDBG if dyndbg else ""),
                nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=32 * GiB)
    assert m.dimm_add(2 * GiB, 1, "d").blocks == tuple(range(32, 48))
    w = m.start_workload(1, 1900 * MiB)
    for b in range(32, 38):
        m.write(f"{MEM}/memory{b}/state", "offline")       # node 0 still has room for these
    return m, w


def test_offline_eintr_leaves_migrated_pages_where_they_went():
    """EINTR ("signal backoff"): isolation undone, but what migrated stays migrated and split THPs stay split."""
    m, w = eintr_machine()
    mem = m.blocks[38]
    lo, hi = mem.start_pfn, mem.end_pfn
    span = (lo, hi - lo)
    inside = {k: u for k, u in w.units.items() if lo <= u[1] < hi}
    outside = {k: u for k, u in w.units.items() if not lo <= u[1] < hi}
    assert inside and all(u[2] == 9 for u in inside.values())            # THPs only, before
    node0_free = sum(z.boot_free for z in m.nodes[0].zones)
    movable = mem.zone
    thps = {nid: m.nodes[nid].stats["nr_anon_transparent_hugepages"] for nid in (0, 1)}
    zone_free = movable.free_pages + movable.pcp_pages()
    e, before, after = fails(m, lambda: m.write(f"{MEM}/memory38/state", "offline"), errno.EINTR, span)
    assert e.log == ["memory offlining [mem 0x130200000-0x137ffffff] failed due to signal backoff"]
    # nothing about the block, the zones' spans or the DIMMs changed
    assert m.read(f"{MEM}/memory38/state") == "online\n" and mem.zone is movable
    assert after["sections"] == before["sections"] and after["dimms"] == before["dimms"]
    assert after["max_pfn"] == before["max_pfn"] and after["iomem"] == before["iomem"]
    for line in ("spanned", "present", "managed"):
        assert re.findall(rf"{line}\s+\d+", after["zoneinfo"]) == re.findall(rf"{line}\s+\d+", before["zoneinfo"])
    # the workload: its pages outside the block are untouched; inside, what moved went to node 0
    assert {k: u for k, u in w.units.items() if k in outside} == outside
    moved = {k: u for k, u in w.units.items() if k not in outside and not lo <= u[1] < hi}
    stayed = {k: u for k, u in w.units.items() if k not in outside and lo <= u[1] < hi}
    assert moved and stayed and all(z.nid == 0 for z, _, _ in moved.values())
    assert w.pages == sum(1 << o for _, _, o in {**outside, **moved, **stayed}.values())
    moved_pages = sum(1 << o for _, _, o in moved.values())
    assert sum(z.boot_free for z in m.nodes[0].zones) == node0_free - moved_pages
    # THPs that found no huge page were split; the one whose base pages ran out of room stays split
    split = {p for _, p, o in stayed.values() if o == 0}
    intact = {p for _, p, o in stayed.values() if o == 9}
    split_heads = {p - p % 512 for p in split}
    heads = {u[1] for u in inside.values()}
    moved_thps = sum(1 for _, _, o in moved.values() if o == 9)
    n_split = len(heads - intact) - moved_thps        # THPs that found no huge page on node 0
    assert n_split >= 1 and len(split_heads) == 1 and intact | split_heads <= heads
    assert moved_pages == moved_thps * 512 + n_split * 512 - len(split)
    # in pfn order (do_migrate_range() isolates the range from its start): whole THPs moved, then
    # split ones moved as base pages until one found no room; the THPs after it were never reached
    (head,) = split_heads
    assert max(heads - intact - split_heads) < head < min(intact)
    assert m.nodes[1].stats["nr_anon_transparent_hugepages"] == thps[1] - moved_thps - n_split
    assert m.nodes[0].stats["nr_anon_transparent_hugepages"] == thps[0] + moved_thps
    # isolation undone: every pfn the workload no longer holds is a free buddy page again
    k = np.array(after["kpageflags"], dtype=np.uint64)
    bit = lambda b: ((k >> np.uint64(b)) & np.uint64(1)).astype(bool)   # noqa: E731
    held = np.zeros(hi - lo, dtype=bool)
    for _, p, o in stayed.values():
        held[p - lo:p - lo + (1 << o)] = True
    memmap = np.arange(hi - lo) < mem.vmemmap_pages
    assert (bit(KPF.BUDDY) == (~held & ~memmap)).all()
    thp_pfns = np.zeros(hi - lo, dtype=bool)
    for p in intact:
        thp_pfns[p - lo:p - lo + 512] = True
    assert (bit(KPF.THP) == thp_pfns).all()
    assert (bit(KPF.ANON) == held).all()
    # the zone got back its free pages and the ones migration emptied (the drained pcp pages are counted too)
    assert movable.free_pages + movable.pcp_pages() == zone_free + moved_pages
    assert re.search(rf"Node 1, zone\s+Movable\n(.*\n)*?\s+pages free\s+{movable.free_pages}\n", after["zoneinfo"])
    # and a later offline, once node 0 has room again, finishes the job
    m.stop_workload(w)
    m.write(f"{MEM}/memory38/state", "offline")


def test_offline_eintr_logs_nothing_without_dynamic_debug():
    m, w = eintr_machine(dyndbg=False)
    e, before, after = fails(m, lambda: m.write(f"{MEM}/memory38/state", "offline"), errno.EINTR)
    assert e.log == [] and new_lines(before, after) == []
    assert e.message == "memory offlining [mem 0x130200000-0x137ffffff] failed due to signal backoff"


def test_misaligned_online_and_offline_pages_are_einval():
    """WARN_ON_ONCE() guards of online_pages()/offline_pages(): unreachable from sysfs, checked directly."""
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    mem = m.blocks[32]
    zone = m.nodes[1].zones[3]
    nothing_changed(m, lambda: online_pages(m, mem, mem.start_pfn + 1, mem.nr_pages - 1, zone), errno.EINVAL)
    m.write(f"{MEM}/memory32/state", "online_movable")
    nothing_changed(m, lambda: offline_pages(m, mem, mem.start_pfn + 512, 100, mem.zone), errno.EINVAL)


def test_hwpoisoned_block_does_not_online():
    """memory_block_online(): a block with hwpoisoned pages is -EHWPOISON (the model injects none by itself)."""
    m = qemu("6.12")
    assert m.kernel.hwpoison_online_check
    m.dimm_add(128 * MiB, 1, "d")
    m.hwpoisoned_pages = lambda mem: 1
    nothing_changed(m, lambda: m.write(f"{MEM}/memory32/state", "online_movable"), EHWPOISON, (0x100000, 0x8000))


def test_memory_block_change_state_from_the_wrong_state():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    mem = m.blocks[32]
    nothing_changed(m, lambda: memory_block_change_state(m, mem, MEM_OFFLINE, MEM_ONLINE), errno.EINVAL)


# ---- hot-add ---------------------------------------------------------------------------------
ACPI_FAILED = ["acpi PNP0C80:00: add_memory failed", "acpi PNP0C80:00: acpi_memory_enable_device() error"]


def dimm_fails(m: Machine, size: int, err: int, **kw):
    """dimm_add() that QEMU accepts and the guest refuses: returns (error, before, after)."""
    before = observe(m)
    r = m.dimm_add(size, 1, "d", kw.get("addr"))
    after = observe(m)
    assert r.result == "ok" and r.blocks == () and r.error is not None and r.error.errno == err, r
    assert r.error.log == new_lines(before, after)
    return r.error, before, after


def test_unaligned_hot_add_is_einval_and_leaves_only_the_dimm():
    m = qemu()
    e, before, after = dimm_fails(m, 64 * MiB, errno.EINVAL)
    assert e.log == ["Block size [0x8000000] unaligned hotplug range: start 0x100000000, size 0x4000000"] + ACPI_FAILED
    assert changed(before, after) == {"dmesg", "dimms"} and after["dimms"] == {"d": (4 << 30, 64 * MiB, ())}
    assert m.dimm_del("d").result == "deleted"            # the driver never enabled it: nothing to remove


def test_hot_add_beyond_max_physmem_bits_is_e2big():
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1", block_size=2 * GiB,
                maxmem_bytes=80 * 2 ** 40, ram_bytes=GiB)
    e, before, after = dimm_fails(m, 2 * GiB, errno.E2BIG, addr=64 * 2 ** 40)
    assert e.log == ["Hotplug memory [0x400000000000-0x400080000000] exceeds maximum addressable range "
                     "[0x0-0x3fffffffffff]"] + ACPI_FAILED
    assert changed(before, after) == {"dmesg", "dimms"}


def test_hot_add_over_ram_is_eexist():
    """register_memory_resource(): the range is taken (boot RAM, or RAM added before); only dynamic debug says so."""
    m = qemu("6.12", extra=DYNDBG)
    m.dimm_add(128 * MiB, 1, "d")
    log = "Unable to reserve System RAM region: 0000000100000000->0000000108000000"
    nothing_changed(m, lambda: add_memory(m, 1, 4 * GiB, 128 * MiB, MHP_NONE), errno.EEXIST, log=[log])
    nothing_changed(m, lambda: add_memory(m, 0, 0, 128 * MiB, MHP_NONE), errno.EEXIST,
                    log=["Unable to reserve System RAM region: 0000000000000000->0000000008000000"])
    m2 = qemu("6.12")
    nothing_changed(m2, lambda: add_memory(m2, 0, 0x8000000, 256 * MiB, MHP_NONE), errno.EEXIST)


def test_hot_add_to_an_impossible_node_is_einval():
    m = qemu()
    nothing_changed(m, lambda: add_memory_resource(m, 5, 4 * GiB, 128 * MiB, MHP_NONE), errno.EINVAL,
                    log=["node 5 was absent from the node_possible_map"])


def test_unsupported_memmap_on_memory_request_is_einval_before_6_6():
    """5.13-6.5: MHP_MEMMAP_ON_MEMORY for a range that cannot self-host fails (6.6 falls back instead)."""
    m = qemu("6.1")
    nothing_changed(m, lambda: add_memory_resource(m, 1, 4 * GiB, 256 * MiB, MHP_MEMMAP_ON_MEMORY), errno.EINVAL)
    m6 = qemu("6.6")
    assert [b.altmap for b in add_memory_resource(m6, 1, 4 * GiB, 256 * MiB, MHP_MEMMAP_ON_MEMORY)] == [None, None]


def test_invalid_altmap_is_einval_once_logged_and_raises_max_pfn():
    """__add_pages(): pr_warn_once(); x86's add_pages() still raises max_pfn (update_end_of_memory_vars())."""
    m = qemu()
    bad = VmemAltmap(base_pfn=0x100001, free=512)
    e, before, after = fails(m, lambda: arch_add_memory(m, 1, 4 * GiB, 128 * MiB, bad), errno.EINVAL)
    assert new_lines(before, after) == ["memory add fail, invalid altmap"]
    assert changed(before, after) == {"dmesg", "max_pfn"} and after["max_pfn"] == 0x108000
    e, before, after = fails(m, lambda: arch_add_memory(m, 1, 4 * GiB, 128 * MiB, bad), errno.EINVAL)
    assert new_lines(before, after) == [] and changed(before, after) == set()      # once per boot


def test_exhausted_altmap_is_enomem_and_keeps_the_sections_before():
    """vmemmap_populate_hugepages() with an altmap: "no fallback"; the section that ran out takes nothing."""
    m = qemu()
    short = VmemAltmap(base_pfn=0x100000, free=512 + 100)          # one section's memmap and a bit
    e, before, after = fails(m, lambda: arch_add_memory(m, 1, 4 * GiB, 256 * MiB, short), errno.ENOMEM)
    assert new_lines(before, after) == []                            # altmap_alloc_block_buf() is silent
    assert after["sections"] == before["sections"] + [32] and after["max_pfn"] == 0x110000
    assert short.alloc == 512                                        # 100 pfns left: section 33 took none
    assert changed(before, after) == {"sections", "max_pfn", "vmstat"}
    assert "nr_memmap_pages 512\n" in after["vmstat"]


def node0_with_room_for(m: Machine, sections: int, pages: int = 0):
    """Fill node 0 so that ``sections`` PMD-mapped memmaps (2 MiB each) and ``pages`` base pages still fit."""
    room = m.start_workload(0, sections * 2 * MiB + pages * 4096, name="room")
    fill = m.start_workload(0, GiB, name="fill")
    assert room.pages == sections * 512 + pages
    m.stop_workload(room)
    return fill


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_enomem_hot_add_leaves_the_sections_it_added(kernel):
    """vmemmap_populate() finds no memory for section 3 of 8: the kernel releases the resource, keeps sections 0-2.

    __add_pages() stops at the failing section and nothing removes the ones before it: they
    stay present with their memmap on node 0, without memory blocks; x86's add_pages()
    raises max_pfn anyway.  The DIMM stays plugged (QEMU knows nothing of it).
    """
    m = qemu(kernel, "0")
    fill = node0_with_room_for(m, 3, 100)       # section 3 gets 100 base pages, then fails
    node0 = sum(z.boot_free for z in m.nodes[0].zones)
    e, before, after = dimm_fails(m, GiB, errno.ENOMEM)
    assert e.log == ["vmemmap alloc failure: order:9, mode:0x4cc0(GFP_KERNEL|__GFP_RETRY_MAYFAIL), "
                     "nodemask=(null)"] + ACPI_FAILED
    assert after["sections"] == before["sections"] + [32, 33, 34]
    assert after["max_pfn"] == 0x140000
    assert sum(z.boot_free for z in m.nodes[0].zones) == node0 - 3 * 512      # section 3's 100 pages came back
    memmap = 3 * 512 if m.kernel.vmstat_memmap_pages else 0
    assert changed(before, after) == {"dmesg", "dimms", "sections", "max_pfn", "zoneinfo", "meminfo", "vmstat",
                                      "buddyinfo", "sysfs"}
    assert [k for k in before["sysfs"] if before["sysfs"][k] != after["sysfs"][k]] == [
        "sys/devices/system/node/node0/meminfo", "sys/devices/system/node/node0/vmstat"]
    assert f"nr_memmap_pages {memmap}\n" in after["vmstat"] or not memmap
    assert after["iomem"] == before["iomem"] and not [b for b in m.blocks if b >= 32]
    # the warning is printed once per boot; the driver lines every time
    m.stop_workload(fill)
    assert m.dimm_del("d").result == "deleted"             # never enabled: the leftover sections stay
    assert m.present_section_nrs()[-3:] == [32, 33, 34]
    fill = node0_with_room_for(m, 0)
    e, before, after = dimm_fails(m, 128 * MiB, errno.EEXIST)   # the next DIMM lands on section 32


def test_eexist_on_a_leftover_section_counts_as_added_and_eject_clears_the_range():
    """acpi_memory_enable_device(): -EEXIST is "used by the kernel": bound, no error line; its eject removes the range."""
    m = qemu("6.12", "0")
    fill = node0_with_room_for(m, 2)
    dimm_fails(m, GiB, errno.ENOMEM)                                   # leaves sections 32, 33
    m.stop_workload(fill)
    m.dimm_del("d")
    before = observe(m)
    r = m.dimm_add(128 * MiB, 1, "e")
    after = observe(m)
    assert r.result == "ok" and r.blocks == () and r.error.errno == errno.EEXIST and r.error.log == []
    assert changed(before, after) == {"dimms"}                         # the first section fails: nothing added
    r = m.dimm_del("e")
    assert r.result == "deleted" and m.present_section_nrs()[-1] == 33    # try_remove_memory() of its range
    assert "nr_memmap_pages 512\n" in m.read("/proc/vmstat")
    r = m.dimm_add(128 * MiB, 1, "f")
    assert r.result == "ok" and r.blocks == (32,) and r.error is None


def test_failed_per_block_add_removes_the_blocks_it_completed():
    """6.8+ create_altmaps_and_memory_blocks(): block 3 of 4 fails, blocks 1-2 are removed again (altmaps freed)."""
    m = qemu("6.12", "1")
    fill = node0_with_room_for(m, 1)
    # a driver's add without memmap_on_memory fails at its second section and leaves section 34 present
    with pytest.raises(KernelError) as ei:
        add_memory_resource(m, 1, 4 * GiB + 256 * MiB, 256 * MiB, MHP_NONE)
    assert ei.value.errno == errno.ENOMEM and m.present_section_nrs()[-1] == 34
    m.stop_workload(fill)
    before = observe(m, (0x100000, 0x20000))
    r = m.dimm_add(512 * MiB, 1, "d")
    after = observe(m, (0x100000, 0x20000))
    assert r.result == "ok" and r.blocks == () and r.error.errno == errno.EEXIST and r.error.log == []
    assert changed(before, after) == {"dimms"}
    assert not [b for b in m.blocks if b >= 32] and m.present_section_nrs()[-1] == 34
    assert m.dimm_del("d").result == "deleted" and m.present_section_nrs()[-1] < 32


# ---- hot-remove ------------------------------------------------------------------------------
def test_remove_of_online_memory_is_ebusy():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    nothing_changed(m, lambda: try_remove_memory(m, 4 * GiB, 128 * MiB), errno.EBUSY, (0x100000, 0x8000),
                    log=["removing memory fails, because memory [0x0000000100000000-0x0000000107ffffff] is onlined"])


def test_remove_in_the_wrong_granularity_is_einval():
    m = qemu("6.1")
    m.dimm_add(128 * MiB, 1, "a")
    m.dimm_add(128 * MiB, 1, "b")
    nothing_changed(m, lambda: try_remove_memory(m, 4 * GiB, 256 * MiB), errno.EINVAL,
                    log=["Refuse to remove 0x100000000 - 0x110000000,wrong granularity"])


def test_remove_of_mixed_altmap_blocks_is_einval():
    """6.8+ memory_blocks_have_altmaps(): WARN_ON_ONCE() (its splat is not modelled) and -EINVAL."""
    m = qemu("6.12")
    m.dimm_add(128 * MiB, 1, "a")
    add_memory_resource(m, 1, 4 * GiB + 128 * MiB, 128 * MiB, MHP_NONE)      # a driver's add, no altmap
    nothing_changed(m, lambda: try_remove_memory(m, 4 * GiB, 256 * MiB), errno.EINVAL)


def test_eject_of_unofflinable_memory_is_ebusy():
    m = qemu("6.12")
    m.dimm_add(128 * MiB, 1, "k")
    m.write(f"{MEM}/memory32/state", "online_kernel")
    before = observe(m, (0x100000, 0x8000))
    r = m.dimm_del("k")
    after = observe(m, (0x100000, 0x8000))
    assert r.result == "not-deleted" and r.error.errno == errno.EBUSY
    # each of acpi_scan_try_to_offline()'s two passes fails isolation and dumps the page (REPORT_FAILURE)
    # the page is the kernel's own slab page (Machine's "typical" bring-up): a compound page whose
    # dump has a head line, and on 6.10+ slab is a page type, not a flag
    dump = [f"page: refcount:1 mapcount:0 mapping:0000000000000000 index:0x0 pfn:{0x100400:#x}",
            "head: order:1 mapcount:0 entire_mapcount:0 nr_pages_mapped:0 pincount:0",
            "flags: (head|node=1|zone=2)", "page_type: f5(slab)", "page dumped because: unmovable page"]
    assert r.error.log == new_lines(before, after) == dump * 2 + ["memory memory32: Offline failed."]
    assert changed(before, after) <= {"dmesg", "zoneinfo", "buddyinfo", "sysfs", "meminfo", "vmstat", "kpageflags"}
    assert re.findall(r"(?:spanned|present|managed)\s+\d+", after["zoneinfo"]) == \
        re.findall(r"(?:spanned|present|managed)\s+\d+", before["zoneinfo"])
    # the failed offlines drained the pcp lists: those pages read BUDDY now, and nothing else differs
    k0, k1 = (np.array(x["kpageflags"], dtype=np.uint64) for x in (before, after))
    assert ((k0 ^ k1) & ~np.uint64(1 << KPF.BUDDY) == 0).all() and (k1 >= k0).all()


def test_device_del_of_an_unknown_dimm():
    m = qemu()
    before = observe(m)
    r = m.dimm_del("nope")
    assert r.result == "error: Device 'nope' not found" and r.error.errno == errno.EINVAL
    assert changed(before, observe(m)) == set()


# ---- workloads -------------------------------------------------------------------------------
def test_workload_errors():
    m = qemu()
    nothing_changed(m, lambda: m.start_workload(7, MiB), errno.EINVAL)
    nothing_changed(m, lambda: m.pin(7, MiB), errno.EINVAL)
    nothing_changed(m, lambda: m.stop_workload(12345), errno.EINVAL)


# ---- the command line --------------------------------------------------------------------------
def test_invalid_boot_options_keep_the_default_and_say_so_at_boot():
    """parse_args("Booting kernel", ...) prints each module parameter it refuses; memhp_default_state= is silent."""
    cmdline = ("memory_hotplug.online_policy=random memory_hotplug.auto_movable_ratio=0x1g "
               "memory_hotplug.auto_movable_ratio=4294967296 memory_hotplug.auto_movable_numa_aware=maybe "
               "memory_hotplug.online_policy memory_hotplug.memmap_on_memory=sometimes memhp_default_state=bogus")
    for kernel, bare in (("6.12", True), ("6.1", False)):
        m = Machine(kernel, cmdline=cmdline + " memory_hotplug.memmap_on_memory")
        # start_kernel() prints the command line, then parse_args() its refusals
        lines = [line.split("] ", 1)[1] for line in m.dmesg_lines]
        assert lines[0] == "Kernel command line: " + cmdline + " memory_hotplug.memmap_on_memory"
        assert lines[1:8] == [
            "Booting kernel: `random' invalid for parameter `memory_hotplug.online_policy'",
            "Booting kernel: `0x1g' invalid for parameter `memory_hotplug.auto_movable_ratio'",
            "Booting kernel: `4294967296' invalid for parameter `memory_hotplug.auto_movable_ratio'",
            "Booting kernel: `maybe' invalid for parameter `memory_hotplug.auto_movable_numa_aware'",
            "Booting kernel: `' invalid for parameter `memory_hotplug.online_policy'",
            "Booting kernel: `sometimes' invalid for parameter `memory_hotplug.memmap_on_memory'",
        ] + (["Booting kernel: `' invalid for parameter `memory_hotplug.memmap_on_memory'"] if bare
             else ["x86/mm: Memory block size: 128MB"])
        # 6.6+ memmap_mode_ops take no bare name; 5.13-6.5's bool does, and means Y
        default = Machine(kernel)
        p, d = m.params, default.params
        assert (p.online_policy, p.auto_movable_ratio, p.auto_movable_numa_aware, p.default_online_type) == \
            (d.online_policy, d.auto_movable_ratio, d.auto_movable_numa_aware, d.default_online_type)
        assert p.memmap_on_memory == ("N" if bare else "Y")
