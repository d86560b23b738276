"""Hot-add, online, offline and hot-remove on the model: counters, page states and the kernel's errnos."""
from __future__ import annotations

import errno

import numpy as np
import pytest

from workbook.arch import GiB, MiB, TiB
from workbook.errors import KernelError
from workbook.machine import Machine, NodeSpec
from workbook.memory_hotplug import try_remove_memory
from workbook.pagemap import KPF
from workbook.walkers import walk

MEM = "/sys/devices/system/memory"


def qemu(kernel="6.12", mmom="1", extra=""):
    """The captured machine: 1 GiB on node 0, memoryless node 1, DIMMs from 4 GiB."""
    return Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={mmom} memhp_default_state=offline {extra}",
                   nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=32 * GiB)


def zone(m, nid, name):
    return next(z for z in m.nodes[nid].zones if z.name == name)


def visible_state(m):
    """What user space can see of the hot-plug state (not free-list order, not pcp contents)."""
    blocks = {n: (b.state, b.zone.name if b.zone else None, b.vmemmap_pages) for n, b in m.blocks.items()}
    zones = {(z.nid, z.name): (z.zone_start_pfn, z.spanned_pages, z.present_pages, z.managed_pages,
                               z.free_pages + z.pcp_pages() + z.boot_free)
             for n in m.nodes.values() for z in n.zones}
    allocs = {o: sorted(a.units) for o, a in m.allocations.items()}
    return blocks, zones, allocs, dict(m.dimms).keys(), m.nr_memmap_pages


@pytest.mark.parametrize("kernel,reserved", [("6.1", True), ("6.12", False), ("5.13", True)])
def test_memmap_on_memory_block_layout(kernel, reserved):
    m = qemu(kernel)
    r = m.dimm_add(128 * MiB, 1, "dimm1")
    assert r.result == "ok" and r.addr == 4 * GiB and r.blocks == (32,)
    b = m.blocks[32]
    assert b.vmemmap_pages == 512
    assert m.read(f"{MEM}/memory32/state") == "offline\n"
    assert m.read(f"{MEM}/memory32/valid_zones") == "Normal Movable\n"
    k = m.kpageflags(0x100000, 32768)
    assert (k == 1 << KPF.NOPAGE).all()                     # present, not online: no struct page shown
    assert m.write(f"{MEM}/memory32/state", "online_movable") == 14
    z = zone(m, 1, "Movable")
    assert (z.spanned_pages, z.present_pages, z.managed_pages, z.free_pages) == (32768, 32768, 32256, 32256)
    assert "Node 1 MemTotal:         129024 kB" in m.read("/sys/devices/system/node/node1/meminfo")
    k = m.kpageflags(0x100000, 32768)
    head = (k[:512] >> np.uint64(KPF.RESERVED)) & np.uint64(1)
    assert bool(head.all()) == reserved
    owner = (k[:512] >> np.uint64(KPF.OWNER_PRIVATE)) & np.uint64(1)
    assert bool(owner.all()) == (kernel != "5.13")
    assert (k[512:] == 1 << KPF.BUDDY).all()


def test_memmap_from_other_node_when_off():
    m = qemu("6.12", "0")
    free0 = sum(z.boot_free for z in m.nodes[0].zones)
    m.dimm_add(128 * MiB, 1, "dimm1")
    assert m.blocks[32].vmemmap_pages == 0
    assert sum(z.boot_free for z in m.nodes[0].zones) == free0 - 512   # node 0 pays at hot-add
    assert "nr_memmap_pages 512" in m.read("/proc/vmstat")
    m.write(f"{MEM}/memory32/state", "online_movable")
    assert zone(m, 1, "Movable").managed_pages == 32768
    m.write(f"{MEM}/memory32/state", "offline")
    assert m.dimm_del("dimm1").result == "deleted"
    assert sum(z.boot_free for z in m.nodes[0].zones) == free0
    assert "nr_memmap_pages 0" in m.read("/proc/vmstat")


def test_multi_block_dimm_6_1_vs_6_12():
    m1, m12 = qemu("6.1"), qemu("6.12")
    for m in (m1, m12):
        assert m.dimm_add(GiB, 1, "d").blocks == tuple(range(32, 40))
    assert all(b.vmemmap_pages == 0 for b in m1.blocks.values())
    assert [m12.blocks[i].vmemmap_pages for i in range(32, 40)] == [512] * 8
    assert [m12.blocks[i].altmap.base_pfn for i in range(32, 40)] == [0x100000 + i * 0x8000 for i in range(8)]


def test_offline_and_remove_restore_everything():
    m = qemu("6.12")
    before = visible_state(m)
    m.dimm_add(256 * MiB, 1, "d")
    for n in (32, 33):
        m.write(f"{MEM}/memory{n}/state", "online_movable")
    w = m.start_workload(1, 200 * MiB)
    m.stop_workload(w)
    for n in (32, 33):
        m.write(f"{MEM}/memory{n}/state", "offline")
    assert m.dimm_del("d").result == "deleted"
    after = visible_state(m)
    assert after[0] == before[0] and after[2] == before[2] and after[4] == before[4]
    for key, v in before[1].items():
        assert after[1][key][1:4] == v[1:4], key


def test_bad_input_gets_the_kernels_errno_and_changes_nothing():
    m = qemu("6.12")
    m.dimm_add(128 * MiB, 1, "d")
    cases = [
        (f"{MEM}/memory32/state", "banana", errno.EINVAL),
        (f"{MEM}/memory32/state", "offline", errno.EINVAL),          # already offline
        (f"{MEM}/memory32/phys_index", "1", errno.EACCES),           # read-only attribute
        (f"{MEM}/block_size_bytes", "1000", errno.EACCES),
        ("/sys/module/memory_hotplug/parameters/memmap_on_memory", "N", errno.EACCES),
        (f"{MEM}/memory99/state", "online", errno.ENOENT),
        (f"{MEM}/auto_online_blocks", "sometimes", errno.EINVAL),
        ("/sys/module/memory_hotplug/parameters/online_policy", "random", errno.EINVAL),
    ]
    for path, value, err in cases:
        before = visible_state(m)
        with pytest.raises(KernelError) as ei:
            m.write(path, value)
        assert ei.value.errno == err, (path, value, ei.value)
        assert visible_state(m) == before
    m.write(f"{MEM}/memory32/state", "online_movable")
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory32/state", "online")                  # already online
    assert ei.value.errno == errno.EINVAL
    assert m.write(f"{MEM}/memory32/online", "1") == 1              # the online file: no error
    with pytest.raises(KernelError) as ei:
        m.read("/sys/devices/system/memory/memory7/nonsense")
    assert ei.value.errno == errno.ENOENT


def test_offline_with_unmovable_pages_is_ebusy_and_logs():
    m = qemu("6.1", extra='dyndbg="file mm/memory_hotplug.c +p"')
    m.dimm_add(128 * MiB, 1, "d")                                      # 6.1: one block per DIMM is self-hosted
    m.dimm_add(128 * MiB, 1, "e")
    m.write(f"{MEM}/memory32/state", "online_kernel")
    m.write(f"{MEM}/memory33/state", "online_kernel")
    before = visible_state(m)
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory32/state", "offline")                  # the node's first slab is there
    assert ei.value.errno == errno.EBUSY
    assert "failed due to failure to isolate range" in ei.value.message
    assert "memory offlining [mem 0x100200000-0x107ffffff]" in ei.value.message  # starts at buddy_start_pfn
    assert "page dumped because: unmovable page" in m.dmesg()
    assert m.read(f"{MEM}/memory32/state") == "online\n"
    after = visible_state(m)
    assert after[0] == before[0] and after[2] == before[2]
    m.write(f"{MEM}/memory33/state", "offline")                      # nothing pinned there
    m.write(f"{MEM}/memory33/state", "online_kernel")
    pin = m.pin(1, 200 * MiB, pipes=200)                               # fills 32, then 33
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory33/state", "offline")
    assert ei.value.errno == errno.EBUSY
    m.stop_workload(pin)


def test_dimm_errors():
    m = qemu("6.12")
    r = m.dimm_add(64 * MiB, 1, "small")                             # not a multiple of the block size
    assert r.result == "ok" and r.blocks == () and r.error.errno == errno.EINVAL
    assert "unaligned hotplug range" in m.dmesg()
    assert m.dimm_add(128 * MiB, 5, "x").result.startswith("error")  # no such node in QEMU
    assert m.dimm_add(128 * MiB, 1, "small").result.startswith("error: Duplicate")
    r = m.dimm_del("nope")
    assert r.result.startswith("error") and r.error.errno == errno.EINVAL
    assert m.dimm_del("small").result == "deleted"                   # nothing to offline


def test_eject_offlines_movable_but_not_pinned_kernel_memory():
    m = qemu("6.12")
    m.dimm_add(256 * MiB, 1, "mov")
    for n in (32, 33):
        m.write(f"{MEM}/memory{n}/state", "online_movable")
    w = m.start_workload(1, 100 * MiB)
    r = m.dimm_del("mov")                       # the eject offlines both blocks: anon pages move to node 0
    assert r.result == "deleted" and not m.dimm_del("mov").result == "deleted"
    assert w.pages == 100 * MiB // 4096 and all(z.nid == 0 for z, _, _ in w.units.values())
    m.stop_workload(w)
    m2 = qemu("6.12")
    m2.dimm_add(128 * MiB, 1, "k")
    m2.write(f"{MEM}/memory32/state", "online_kernel")
    r = m2.dimm_del("k")
    assert r.result == "not-deleted" and r.error.errno == errno.EBUSY
    assert "memory memory32: Offline failed." in m2.dmesg()
    assert m2.read(f"{MEM}/memory32/state") == "online\n"


def test_hot_remove_granularity_6_1():
    m = qemu("6.1")
    m.dimm_add(128 * MiB, 1, "a")
    m.dimm_add(128 * MiB, 1, "b")
    with pytest.raises(KernelError) as ei:
        try_remove_memory(m, 4 * GiB, 256 * MiB)                    # two self-hosted blocks at once
    assert ei.value.errno == errno.EINVAL and "wrong granularity" in ei.value.message
    assert set(m.blocks) >= {32, 33}


def test_6_6_keeps_the_altmap_in_the_block_but_still_one_block_at_a_time():
    """1a8c64e11043 (6.6): struct memory_block::altmap; 6b8f0798b85a (6.8): one altmap per block of any add."""
    m6, m61 = qemu("6.6"), qemu("6.1")
    for m in (m6, m61):
        m.dimm_add(128 * MiB, 1, "a")
        m.dimm_add(128 * MiB, 1, "b")
    kept = m6.blocks[32].altmap                                     # a heap copy, kept by the block
    assert (kept.base_pfn, kept.end_pfn, kept.free, kept.alloc) == (0x100000, 0x107fff, 512, 512)
    assert m61.blocks[32].altmap is None and m61.blocks[32].nr_vmemmap_pages == 512   # 5.13-6.5: a count only
    assert m6.blocks[32].vmemmap_pages == m61.blocks[32].vmemmap_pages == 512
    with pytest.raises(KernelError) as ei:                          # 6.6-6.7: still the single-block rule
        try_remove_memory(m6, 4 * GiB, 256 * MiB)
    assert ei.value.errno == errno.EINVAL and "wrong granularity" in ei.value.message
    try_remove_memory(m6, 4 * GiB, 128 * MiB)                       # one block: takes mem->altmap back
    assert kept.alloc == 0 and 32 not in m6.blocks
    # a multi-block add falls back to the normal memmap on 6.6 (e3c2bfdd33a3), per-block altmaps from 6.8
    big6, big8 = qemu("6.6"), qemu("6.8")
    assert big6.dimm_add(512 * MiB, 1, "d").result == "ok" and big8.dimm_add(512 * MiB, 1, "d").result == "ok"
    assert [big6.blocks[i].altmap for i in range(32, 36)] == [None] * 4
    assert [big8.blocks[i].altmap.base_pfn for i in range(32, 36)] == [0x100000 + i * 0x8000 for i in range(4)]


def test_6_6_force_mode_keeps_the_padded_memmap_and_onlines():
    m = Machine("6.6", "ppc64-radix-64k", cmdline="memory_hotplug.memmap_on_memory=force memhp_default_state=offline")
    bid = m.dimm_add(m.block_size, 1, "d").blocks[0]
    assert m.blocks[bid].altmap.free == m.blocks[bid].vmemmap_pages == 32   # PFN_UP(memmap) = 4, padded
    m.write(f"{MEM}/memory{bid}/state", "online_movable")
    assert (m.blocks[bid].zone.present_pages, m.blocks[bid].zone.managed_pages) == (4096, 4064)


def test_e2big_above_the_physical_address_space():
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1", block_size=2 * GiB,
                maxmem_bytes=80 * TiB, ram_bytes=GiB)
    r = m.dimm_add(2 * GiB, 1, "far", addr=64 * TiB)
    assert r.error is not None and r.error.errno == errno.E2BIG
    assert "exceeds maximum addressable range" in r.error.message
    m5 = Machine("6.12", arch="x86_64-la57", cmdline="memory_hotplug.memmap_on_memory=1", block_size=2 * GiB,
                 maxmem_bytes=80 * TiB, ram_bytes=GiB)
    assert m5.dimm_add(2 * GiB, 1, "far", addr=64 * TiB).blocks == (32768,)


def test_zone_choice_policies():
    m = qemu("6.12")
    m.dimm_add(512 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    # zone_intersects() wants overlap: a block next to Movable's span does not touch it
    assert m.read(f"{MEM}/memory33/valid_zones") == "Normal Movable\n"
    m.write(f"{MEM}/memory33/state", "online")
    assert m.blocks[33].zone.name == "Normal"
    m.write(f"{MEM}/memory35/state", "online_kernel")
    assert m.read(f"{MEM}/memory34/valid_zones") == "Normal Movable\n"  # inside Normal's span now
    m.write(f"{MEM}/memory34/state", "online")
    assert m.blocks[34].zone.name == "Normal"
    mv = qemu("6.12", extra="movable_node")
    mv.dimm_add(128 * MiB, 1, "d")
    assert mv.read(f"{MEM}/memory32/valid_zones") == "Movable Normal\n"
    am = qemu("6.12", extra="memory_hotplug.online_policy=auto-movable")
    am.dimm_add(128 * MiB, 1, "d")
    # node 1 has no early kernel memory: the NUMA-aware ratio check sends it to a kernel zone
    assert am.read(f"{MEM}/memory32/valid_zones") == "Normal Movable\n"
    am.write("/sys/module/memory_hotplug/parameters/auto_movable_numa_aware", "N")
    assert am.read(f"{MEM}/memory32/valid_zones") == "Movable Normal\n"


def test_auto_online_and_walkers_see_the_version_difference():
    for kernel, skipped in (("6.1", 512), ("6.12", 0)):
        m = qemu(kernel, extra="memhp_default_state=online_movable")
        m.dimm_add(128 * MiB, 1, "d")
        assert m.read(f"{MEM}/memory32/state") == "online\n"
        g = walk(m, "generic", 0x100000, 32768)
        assert g.counts().get("PageReserved", 0) == skipped
        h = walk(m, "hotplug", 0x100000, 32768)
        assert h.counts()["before buddy_start_pfn"] == 512
        m.write(f"{MEM}/memory32/state", "offline")
        assert walk(m, "generic", 0x100000, 32768).counts() == {"no online page (section offline)": 32768}


def test_migration_on_offline_moves_anon_memory_to_node_0():
    m = qemu("6.12")
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    w = m.start_workload(1, 64 * MiB)
    free0 = sum(z.boot_free for z in m.nodes[0].zones)
    m.write(f"{MEM}/memory32/state", "offline")
    assert w.pages == 64 * MiB // 4096
    assert sum(z.boot_free for z in m.nodes[0].zones) == free0 - w.pages
    assert all(p < 0 for p in w.units)                                # now in node 0's boot memory
    m.stop_workload(w)
    assert sum(z.boot_free for z in m.nodes[0].zones) == free0


def test_lsmem_reads_the_exported_tree(tmp_path):
    import shutil
    import subprocess
    lsmem = shutil.which("lsmem")
    if lsmem is None:
        pytest.skip("util-linux lsmem not installed")
    m = qemu("6.12")
    m.dimm_add(GiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    m.export_sysfs(str(tmp_path))
    out = subprocess.run([lsmem, "-a", "--sysroot", str(tmp_path), "-o", "RANGE,STATE,BLOCK,NODE,ZONES"],
                         capture_output=True, text=True, check=True).stdout
    assert "0x0000000100000000-0x0000000107ffffff  online    32    1        Movable\n" in out
    assert "0x0000000108000000-0x000000010fffffff offline    33    1 Normal/Movable\n" in out


def test_numactl_and_procfs_formats():
    m = qemu("6.1")
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    h = m.numactl_hardware()
    assert "available: 2 nodes (0-1)\nnode 0 cpus: 0\n" in h
    assert "node 1 size: 126 MB\nnode 1 free: 126 MB\n" in h
    assert h.endswith("node distances:\nnode   0   1 \n  0:  10  20 \n  1:  20  10 \n")
    zi = m.read("/proc/zoneinfo")
    assert "Node 1, zone  Movable\n  per-node stats\n      nr_inactive_anon 0\n" in zi
    assert "        spanned  32768\n        present  32768\n        managed  32256\n" in zi
    assert "        promo" not in zi and "        promo" in qemu("6.12").read("/proc/zoneinfo")
    assert "Node 1, zone  Movable      0      0      0      0      0      0      0      0      0      1     31 \n" \
        in m.read("/proc/buddyinfo")
    assert "100000000-107ffffff : System RAM\n" in m.read("/proc/iomem")


def test_export_sysfs_writes_exactly_the_sysroot_and_replaces_a_stale_export(tmp_path):
    import os
    m = qemu("6.12")
    m.dimm_add(GiB, 1, "d")
    m.write(f"{MEM}/memory32/state", "online_movable")
    m.export_sysfs(str(tmp_path))
    files, links = m_sysroot(m)
    for rel, content in files.items():
        assert (tmp_path / rel).read_text() == content, rel
    for rel, target in links.items():
        assert os.readlink(tmp_path / rel) == target, rel
    found = {str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file() or p.is_symlink()}
    assert found == set(files) | set(links)
    # identical attribute files share one inode (written once, then hard-linked)
    a, b = (tmp_path / f"sys/devices/system/memory/memory{n}/removable" for n in (33, 34))
    assert os.stat(a).st_ino == os.stat(b).st_ino
    assert oct(os.stat(tmp_path / "sys/devices/system/memory/memory32/state").st_mode & 0o200) == oct(0o200)
    # eject the DIMM (ACPI offlines its blocks first): a second export must not keep them
    assert m.dimm_del("d").error is None
    m.export_sysfs(str(tmp_path))
    assert not (tmp_path / "sys/devices/system/memory/memory32").exists()
    assert not list((tmp_path / "sys/devices/system/node/node1").glob("memory*"))


def m_sysroot(m):
    from workbook.sysfs import sysroot
    return sysroot(m)
