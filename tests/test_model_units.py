"""Unit tests of the small pieces: command line, altmap, buddy allocator rules, pcp sizes, trace, sysfs tree."""
from __future__ import annotations

import errno

import numpy as np
import pytest

from workbook import page_alloc as pa
from workbook.arch import GiB, MiB
from workbook.cmdline import MMOP_ONLINE_MOVABLE, kstrtobool, parse_cmdline, split_cmdline
from workbook.errors import KernelError
from workbook.kernel import KERNELS, get_kernel
from workbook.machine import Machine, NodeSpec
from workbook.memremap import VmemAltmap
from workbook.pagemap import KPF, MIGRATE_MOVABLE, MIGRATE_UNMOVABLE, PageKind, kpf_names

MEM = "/sys/devices/system/memory"


def qemu(kernel="6.12", extra="memory_hotplug.memmap_on_memory=1"):
    return Machine(kernel, cmdline=extra, nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)],
                   ram_bytes=GiB, maxmem_bytes=32 * GiB)


def test_kstrtobool_and_split():
    assert [kstrtobool(s) for s in ("1", "y", "on", "off", "N", "force", "x", "")] == \
        [True, True, True, False, False, False, None, None]
    assert split_cmdline('a=1 dyndbg="file x.c +p; file y.c +p" b') == \
        [("a", "1"), ("dyndbg", "file x.c +p; file y.c +p"), ("b", None)]


def test_parse_cmdline_hotplug_options():
    p = parse_cmdline("memhp_default_state=online_movable movable_node memory_hotplug.auto_movable_ratio=50 "
                      "memory_hotplug.online_policy=auto-movable memhp_default_state=bogus", get_kernel("6.12"))
    assert p.default_online_type == MMOP_ONLINE_MOVABLE          # an invalid later value is ignored
    assert p.movable_node and p.auto_movable_ratio == 50 and p.online_policy == "auto-movable"


def test_kernel_profiles():
    assert get_kernel("6.1.0-56-amd64") is KERNELS["6.1"]
    assert get_kernel("6.12.117") is KERNELS["6.12"]
    assert KERNELS["6.1"].selfhosted_reserved and not KERNELS["6.12"].selfhosted_reserved
    assert not KERNELS["6.1"].altmap_per_block and KERNELS["6.8"].altmap_per_block
    # the altmap moved into struct memory_block in 6.6 (1a8c64e11043), two releases before per-block altmaps
    assert [k for k in KERNELS if KERNELS[k].altmap_in_memory_block] == ["6.6", "6.8", "6.12", "6.18", "7.2"]
    assert not KERNELS["6.6"].altmap_per_block and not KERNELS["6.6"].unsupported_flag_fails
    assert KERNELS["6.6"].acpi_always_passes_flag and KERNELS["6.1"].unsupported_flag_fails
    with pytest.raises(ValueError):
        get_kernel("2.6")


def test_altmap_allocator():
    a = VmemAltmap(base_pfn=0x100000, free=32768)
    assert a.alloc_block_buf(2 * MiB, 4096) == 0x100000
    assert (a.alloc, a.align, a.nr_free()) == (512, 0, 32256)
    assert a.alloc_block_buf(4096 * 3, 4096) == 0x100200        # 3 pfns: aligned to the lowest set bit (1)
    assert a.alloc_block_buf(100, 4096) is None                  # not a whole number of pages
    small = VmemAltmap(base_pfn=0, free=100)
    assert small.alloc_block_buf(2 * MiB, 4096) is None         # exhausted
    a.free_pages(a.alloc)
    assert a.alloc == 0 and a.offset() == 32768


def test_online_layout_closed_form():
    lead, start, count, trail = pa.online_layout(0x100200, 0x108000, 10)
    assert lead == [(0x100200, 9)] and (start, count, trail) == (0x100400, 31, [])
    assert pa.online_chunks(0x100200, 0x108000, 10)[:2] == [(0x100200, 9), (0x100400, 10)]
    assert sum(1 << o for _, o in pa.online_chunks(0x100200, 0x108000, 10)) == 32256


def test_pcp_batch_and_zone_sizes():
    m = qemu()
    m.dimm_add(512 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    z = m.nodes[1].zones[3]
    assert pa.zone_batchsize(m, z) == 7                 # 32256 managed pages
    for n in (33, 34, 35):
        m.write(f"{MEM}/memory{n}/state", "online_movable")
    assert pa.zone_batchsize(m, z) == 31                # 129024 managed pages


def test_unmovable_allocation_steals_the_largest_movable_block():
    m = qemu("6.1")
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_kernel")   # the node's first kernel memory: one slab (6.1)
    pm = m.blocks[32].pagemap
    # __rmqueue_fallback() took the head of the order-10 MOVABLE list (0x100400, after the order-9
    # block the memmap leaves at 0x100200), claimed both pageblocks and expanded it
    assert pm.kind[0x400] == PageKind.SLAB_HEAD and pm.kind[0x401] == PageKind.SLAB_TAIL
    assert (pm.kind[0x402:0x406] == PageKind.PCP).all()  # the rest of the pcp batch of 3 order-1 blocks
    assert pm.pageblock_mt(0x100400) == MIGRATE_UNMOVABLE and pm.pageblock_mt(0x100600) == MIGRATE_UNMOVABLE
    assert pm.pageblock_mt(0x100200) == MIGRATE_MOVABLE
    k = m.kpageflags(0x100400, 8)
    assert kpf_names(int(k[0])) == "SLAB|COMPOUND_HEAD" and int(k[2]) == 0 and int(k[6]) == 1 << KPF.BUDDY


def test_buddy_merges_on_free():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    z = m.nodes[1].zones[3]
    before = z.nr_free.copy()
    w = m.start_workload(1, 8 * MiB)
    m.stop_workload(w)
    pa.drain_zone_pages(m, z)
    assert z.free_pages == 32256
    assert (z.nr_free.sum(axis=1) == before.sum(axis=1)).all()   # everything merged back


def test_call_trace_names_kernel_functions():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    mark = m.trace.mark()
    m.write(f"{MEM}/memory32/state", "online_movable")
    names = [e.function for e in m.trace.since(mark)]
    for fn in ("state_store", "device_online", "memory_block_online", "mhp_init_memmap_on_memory",
               "move_pfn_range_to_zone", "online_pages", "online_pages_range", "undo_isolate_page_range"):
        assert fn in names
    assert names.index("mhp_init_memmap_on_memory") < names.index("online_pages")
    text = m.trace.format(m.trace.since(mark))
    assert "  memory_block_online()  drivers/base/memory.c" in text
    assert "    online_pages()  mm/memory_hotplug.c" in text


def test_sysfs_tree_and_reads():
    m = qemu()
    m.dimm_add(256 * MiB, 1, "d")
    assert m.ls(MEM)[-2:] == ["memory32", "memory33"]
    assert m.ls(f"{MEM}/memory32")[0] == "node1"
    assert "memory33" in m.ls("/sys/devices/system/node/node1")
    assert m.exists(f"{MEM}/memory33") and not m.exists(f"{MEM}/memory34")
    assert m.read(f"{MEM}/memory33/phys_index") == "00000021\n"
    assert m.read(f"{MEM}/block_size_bytes") == "8000000\n"
    assert m.read("/sys/devices/system/node/has_memory") == "0\n"
    assert m.read("/sys/module/memory_hotplug/parameters/auto_movable_ratio") == "301\n"
    assert m.write("/sys/module/memory_hotplug/parameters/auto_movable_ratio", "100") == 3
    with pytest.raises(KernelError) as ei:
        m.write("/sys/module/memory_hotplug/parameters/auto_movable_ratio", "-1")
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(KernelError) as ei:
        m.ls("/sys/devices/system/cpu")
    assert ei.value.errno == errno.ENOENT
    assert isinstance(m.read("/proc/kpageflags"), bytes)


def test_kpageflags_stops_at_max_pfn():
    m = qemu()
    assert len(m.kpageflags(0, 1 << 30)) == 0x40000             # round_up(max_pfn, PAGES_PER_SECTION)
    m.dimm_add(128 * MiB, 1, "d")
    assert len(m.kpageflags(0x100000, 1 << 20)) == 32768        # hot-add raised max_pfn
    assert (m.kpageflags(0x40000, 8) == np.uint64(1 << KPF.NOPAGE)).all()



def test_boot_holes_read_reserved_as_the_kernel_counts_them():
    """memmap_init() makes the struct page of every hole of a boot section PageReserved and logs how many
    ("pages in unavailable ranges"): pfn 0 (trim_bios_range()), 0x9f-0xff and the end of low RAM. The model
    finds them from its e820 map; the RAM of boot memory, kept only as counts, reads 0 (nothing modelled)."""
    m = qemu()
    w = m.kpageflags(0, 0x40000)
    reserved = np.uint64(1 << KPF.RESERVED)
    assert w[0] == reserved and (w[0x9F:0x100] == reserved).all() and (w[0x3FFE0:] == reserved).all()
    assert w[1] == 0 and w[0x9E] == 0 and w[0x100] == 0 and w[0x3FFDF] == 0
    # a 2 MiB subsection with no memory at all is not pfn_valid(): no struct page, NOPAGE
    from workbook.procfs import boot_hole_words
    m.boot_ranges = [(0x1000, 0x9F000), (0x100000, 0x200000), (0x400000, 0x3FFE0000)]
    holes = boot_hole_words(m, 0x1F0, 0x220, np.uint64(1 << KPF.NOPAGE))
    assert (holes[:0x10] == 0).all() and (holes[0x10:0x210] == np.uint64(1 << KPF.NOPAGE)).all()
    assert (holes[0x210:] == 0).all()
    # the kernel's own count, from each shipped capture's boot log
    import re
    from workbook.captures import capture_dirs, dax_capture_dirs, load_capture_scenario
    from workbook.replay import machine_from_scenario
    compared = 0
    for d in capture_dirs() + dax_capture_dirs():
        if d.name in ("J", "K"):
            continue        # 63 GiB guests: SeaBIOS reserved 132 KiB below 3 GiB there, the model's layout 128 KiB
        log = (d / "00-boot" / "dmesg.new").read_text()
        real = sum(int(n) for n in re.findall(r"zone \w+: (\d+) pages in unavailable ranges", log))
        model = machine_from_scenario(load_capture_scenario(d))
        assert int((model.kpageflags(0, 1 << 40) == reserved).sum()) == real, d
        compared += 1
    assert compared >= 20

def test_error_strings():
    e = KernelError(errno.EBUSY, "memory offlining failed", function="offline_pages")
    assert e.errno_name == "EBUSY" and "offline_pages()" in str(e) and "Device or resource busy" in str(e)
