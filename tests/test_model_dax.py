"""The dax/kmem path: Soft Reserved boot memory, dax_hmem, kmem and device_dax, and every errno of their files.

Expectations come from the kernel sources (drivers/dax/{bus,kmem,device}.c, hmem/, mm/memory_hotplug.c,
mm/memory-tiers.c, arch/x86/kernel/e820.c, drivers/base/bus.c) and the rules they state, not from the
model's own helpers: a block's memmap is 128 MiB / 4 KiB x 64 bytes = 2 MiB = 512 pfns, a tier is
adistance >> 7, and so on.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from workbook.dax import soft_reserved_machine
from workbook.e820 import E820_TYPE_RAM, E820_TYPE_SOFT_RESERVED, E820Range, parse_memmap_opt
from workbook.errors import EACCES, EBUSY, EEXIST, EINVAL, ENODEV, ENOENT, ENOSPC, ENXIO, EOPNOTSUPP, KernelError
from workbook.kernel import get_kernel
from workbook.pagemap import KPF

D = "/sys/bus/dax/devices/dax0.0"
DRV = "/sys/bus/dax/drivers"
MEM = "/sys/devices/system/memory"
SR = 0x100000000                                  # the Soft Reserved range: 256 MiB at 4 GiB
PFN0 = SR >> 12
BLOCK_PFNS = (128 << 20) >> 12
MEMMAP_PFNS = BLOCK_PFNS * 64 // 4096            # struct pages of one 128 MiB block, in 4 KiB pages


def errno_of(fn, *a) -> int:
    try:
        fn(*a)
    except KernelError as e:
        return e.errno
    return 0


def dax_device(kernel="6.12", **kw):
    """The captures' sequence up to a dax device: device_dax and dax_hmem loaded."""
    m = soft_reserved_machine(kernel, **kw)
    m.insmod("device_dax")
    m.insmod("dax_hmem")
    return m


def driver_of(m) -> str:
    return m.readlink(f"{D}/driver").rsplit("/", 1)[1] if m.exists(f"{D}/driver") else ""


def iomem_lines(m) -> list[str]:
    return [ln for ln in m.read("/proc/iomem").splitlines() if "100000000-10fffffff" in ln]


# ----------------------------------------------------------------------------------------------
# boot: the e820 conversion, a memoryless node, Soft Reserved in /proc/iomem
# ----------------------------------------------------------------------------------------------
def test_memmap_percent_converts_exactly_the_range():
    t = [E820Range(0, 0x9FC00, E820_TYPE_RAM), E820Range(SR, SR + (512 << 20), E820_TYPE_RAM)]
    log: list[str] = []
    out = parse_memmap_opt(t, ["256M%0x100000000-1+0xefffffff"], log)
    assert out == [E820Range(0, 0x9FC00, E820_TYPE_RAM), E820Range(SR, SR + (256 << 20), E820_TYPE_SOFT_RESERVED),
                   E820Range(SR + (256 << 20), SR + (512 << 20), E820_TYPE_RAM)]
    assert log[0] == "e820: update [mem 0x100000000-0x10fffffff] usable ==> soft reserved"


@pytest.mark.parametrize("arg", ["256M%0x100000000-2+0xefffffff", "zz%1", "256M%0x100000000-1+0xefffffffjunk"])
def test_memmap_that_does_not_apply_changes_nothing(arg):
    t = [E820Range(SR, SR + (256 << 20), E820_TYPE_RAM)]
    assert parse_memmap_opt(t, [arg]) == t


def test_soft_reserved_node_boots_memoryless():
    m = soft_reserved_machine("6.12")
    assert not m.nodes[1].has_memory() and m.nodes[0].has_memory()
    assert m.read("/sys/devices/system/node/has_memory") == "0\n"
    assert m.read("/sys/devices/system/node/online") == "0-1\n"        # node 1 has a CPU
    assert not any(b.nid == 1 for b in m.blocks.values())
    assert iomem_lines(m) == ["100000000-10fffffff : Soft Reserved"]
    assert m.max_pfn <= PFN0                      # /proc/kpageflags ends before the range
    assert len(m.kpageflags(PFN0, 65536)) == 0


def test_before_6_3_hmem_dot_0_is_the_parent_of_soft_reserved():
    m = soft_reserved_machine("6.1")
    assert iomem_lines(m) == ["100000000-10fffffff : hmem.0", "  100000000-10fffffff : Soft Reserved"]
    assert m.ls("/sys/bus/platform/devices") == ["hmem.0"]
    assert soft_reserved_machine("6.12").ls("/sys/bus/platform/devices") == ["hmem_platform.0"]


def test_soft_reserved_deferred_kernel_shows_no_soft_reserved_in_iomem():
    k = dataclasses.replace(get_kernel("6.12"), name="7.0-like", version=(7, 0), soft_reserved_deferred=True)
    m = dax_device(k)
    assert iomem_lines(m) == []                   # set aside in soft_reserve_resource
    assert m.ls("/sys/bus/dax/devices") == ["dax0.0"]   # dax_hmem still finds it there
    m.insmod("kmem")
    assert iomem_lines(m) == ["100000000-10fffffff : dax0.0", "  100000000-10fffffff : System RAM (kmem)"]


def test_7_0_puts_hmem_under_hmem_platform():
    k = dataclasses.replace(get_kernel("6.12"), name="7.0-like", version=(7, 0), soft_reserved_deferred=True,
                            hmem_child_of_platform=True)
    m = dax_device(k)
    assert m.readlink("/sys/bus/dax/devices/dax0.0") == "../../../devices/platform/hmem_platform.0/hmem.0/dax0.0"
    assert m.read(f"{D}/../dax_region/size") == f"{256 << 20}\n"
    assert m.ls("/sys/bus/platform/devices") == ["hmem.0", "hmem_platform.0"]
    m.insmod("kmem")
    assert "dax0.0" in m.ls("/sys/devices/platform/hmem_platform.0/hmem.0")


def test_unaligned_range_gives_no_dax_device():
    # a range that is not a multiple of 2 MiB: alloc_dax_region() fails, the hmem probe is -ENOMEM
    m = soft_reserved_machine("6.12", sp_bytes=(256 << 20) - (128 << 10))
    m.insmod("device_dax")
    m.insmod("dax_hmem")
    assert m.ls("/sys/bus/dax/devices") == []
    assert "hmem hmem.0: probe with driver hmem failed with error -12" in m.dmesg()


# ----------------------------------------------------------------------------------------------
# which driver binds: module loading, new_id, bind and unbind
# ----------------------------------------------------------------------------------------------
def test_6_12_the_device_waits_for_kmem_and_kmem_binds_when_loaded():
    m = dax_device("6.12")
    assert driver_of(m) == ""
    # the SRAT node of the range, and the device's own node (its parent hmem.0's)
    assert (m.read(f"{D}/target_node"), m.read(f"{D}/numa_node")) == ("1\n", "1\n")
    assert (m.read(f"{D}/size"), m.read(f"{D}/resource"), m.read(f"{D}/align")) == (
        f"{256 << 20}\n", f"{SR:#x}\n", f"{2 << 20}\n")
    m.insmod("kmem")
    assert driver_of(m) == "kmem"
    assert m.readlink(f"{D}/driver") == "../../../../bus/dax/drivers/kmem"
    assert sorted(b for b in m.blocks if m.blocks[b].nid == 1) == [32, 33]
    assert {m.read(f"{MEM}/memory{b}/state") for b in (32, 33)} == {"offline\n"}
    assert iomem_lines(m) == ["100000000-10fffffff : Soft Reserved", "  100000000-10fffffff : dax0.0",
                              "    100000000-10fffffff : System RAM (kmem)"]


def test_6_1_device_dax_binds_at_once_and_kmem_needs_new_id():
    m = dax_device("6.1")
    assert driver_of(m) == "device_dax"
    assert m.nodes[1].zones[4].spanned_pages == 65536       # ZONE_DEVICE, never present or managed
    m.write(f"{DRV}/device_dax/unbind", "dax0.0")
    assert m.nodes[1].zones[4].spanned_pages == 65536       # ZONE_DEVICE never shrinks
    m.insmod("kmem")
    assert driver_of(m) == ""                               # kmem matches by id only
    assert m.write(f"{DRV}/kmem/new_id", "dax0.0") == 6
    assert driver_of(m) == "kmem"


@pytest.mark.parametrize("buf, err", [("dax0", EINVAL), ("dax0.0x", EINVAL), ("foo", EINVAL), ("dax0.0\n", 0),
                                      ("dax9.9", 0)])
def test_new_id_takes_only_dax_r_n(buf, err):
    m = dax_device("6.12")
    m.insmod("kmem")
    assert errno_of(m.write, f"{DRV}/kmem/new_id", buf) == err


def test_bind_errnos_6_12():
    m = dax_device("6.12")
    m.insmod("kmem")
    assert errno_of(m.write, f"{DRV}/device_dax/bind", "dax0.0") == ENODEV     # not its type
    assert errno_of(m.write, f"{DRV}/device_dax/bind", "dax7.0") == ENODEV     # no such device
    assert errno_of(m.write, f"{DRV}/device_dax/unbind", "dax0.0") == ENODEV   # not bound to it
    m.write(f"{DRV}/device_dax/new_id", "dax0.0")       # matches now, but kmem holds it
    assert errno_of(m.write, f"{DRV}/device_dax/bind", "dax0.0") == EBUSY
    assert errno_of(m.write, f"{DRV}/kmem/bind", "dax0.0") == EBUSY
    assert errno_of(m.read, f"{DRV}/kmem/bind") == EACCES                      # write-only
    assert errno_of(m.write, f"{D}/target_node", "0") == EACCES                # read-only
    assert errno_of(m.write, f"{D}/nosuchfile", "0") == ENOENT


def test_before_5_14_bind_reads_enodev_for_a_bound_device():
    k = dataclasses.replace(get_kernel("6.1"), name="5.10-like", version=(5, 10), bind_returns_probe_error=False)
    m = dax_device(k)
    m.insmod("kmem")
    m.write(f"{DRV}/kmem/new_id", "dax0.0")             # device_dax holds it: nothing happens
    assert driver_of(m) == "device_dax"
    assert errno_of(m.write, f"{DRV}/kmem/bind", "dax0.0") == ENODEV
    assert errno_of(m.write, f"{DRV}/kmem/bind", "dax0.0") == ENODEV


def test_insmod_errors():
    m = dax_device("6.12")
    assert errno_of(m.insmod, "dax_hmem") == EEXIST
    assert errno_of(m.insmod, "nd_pmem") == ENOENT
    assert m.read("/proc/modules").split("\n")[0].split()[0] == "dax_hmem"       # newest first
    m2 = soft_reserved_machine("6.12", config={"CONFIG_DEV_DAX_KMEM": "y"})
    m2.insmod("device_dax")
    m2.insmod("dax_hmem")
    assert driver_of(m2) == "kmem"                      # built in: registered at boot
    assert errno_of(m2.insmod, "kmem") == ENOENT


def test_rmmod_kmem_unbinds_and_removes_offline_memory():
    m = dax_device("6.12")
    m.insmod("kmem")
    m.rmmod("kmem")
    assert driver_of(m) == "" and not any(b.nid == 1 for b in m.blocks.values())
    assert m.ls(DRV) == ["device_dax"]


# ----------------------------------------------------------------------------------------------
# the memmap_on_memory attribute, in every driver state
# ----------------------------------------------------------------------------------------------
def attr(m) -> str:
    return m.read(f"{D}/memmap_on_memory")


@pytest.mark.parametrize("state", ["none", "device_dax", "kmem", "kmem unbound"])
def test_attribute_in_every_driver_state(state):
    m = dax_device("6.12")
    if state == "device_dax":
        m.write(f"{DRV}/device_dax/new_id", "dax0.0")
        assert driver_of(m) == "device_dax"
    if state.startswith("kmem"):
        m.insmod("kmem")
    if state == "kmem unbound":
        m.write(f"{DRV}/kmem/unbind", "dax0.0")
    held = state == "kmem"
    before = attr(m)
    assert errno_of(m.write, f"{D}/memmap_on_memory", "1") == (EBUSY if held else 0)
    assert errno_of(m.write, f"{D}/memmap_on_memory", before.strip()) == 0     # the same value: always
    assert errno_of(m.write, f"{D}/memmap_on_memory", "2") == EINVAL           # kstrtobool says no first
    assert errno_of(m.write, f"{D}/memmap_on_memory", "\n") == EINVAL          # an empty string: no bool
    assert m.write(f"{D}/memmap_on_memory", "") == 0                            # sysfs_kf_write(): no store at all
    assert attr(m) == before if held else True


@pytest.mark.parametrize("value, reads", [("foo", "0"), ("on", "1"), ("off", "0"), ("Y", "1"), ("n\n", "0"),
                                          ("true", "1")])
def test_attribute_reads_values_as_kstrtobool(value, reads):
    m = dax_device("6.12")
    m.write(f"{D}/memmap_on_memory", value)
    assert attr(m) == reads + "\n"


def test_attribute_while_kmem_holds_it_only_takes_its_own_value():
    m = dax_device("6.12")
    m.write(f"{D}/memmap_on_memory", "1")
    m.insmod("kmem")
    assert errno_of(m.write, f"{D}/memmap_on_memory", "0") == EBUSY
    assert errno_of(m.write, f"{D}/memmap_on_memory", "foo") == EBUSY           # 'f': false, a change
    assert errno_of(m.write, f"{D}/memmap_on_memory", "yes") == 0
    assert attr(m) == "1\n"


def test_attribute_needs_memory_hotplug_memmap_on_memory():
    m = dax_device("6.12", cmdline="memory_hotplug.memmap_on_memory=0 memhp_default_state=offline")
    assert errno_of(m.write, f"{D}/memmap_on_memory", "1") == EOPNOTSUPP
    assert errno_of(m.write, f"{D}/memmap_on_memory", "0") == 0
    m.insmod("kmem")
    assert errno_of(m.write, f"{D}/memmap_on_memory", "1") == EOPNOTSUPP        # checked before EBUSY


@pytest.mark.parametrize("mode", ["1", "force"])
def test_attribute_refused_where_the_block_geometry_is(mode):
    """mhp_supports_memmap_on_memory() is more than the boot option: arm64 with 16 KiB pages has a 512 KiB
    memmap per 128 MiB block, not a whole 32 MiB pageblock (option 1) nor a 32 MiB PMD (force pads it to a
    pageblock): a true value is EOPNOTSUPP either way, false is fine."""
    m = soft_reserved_machine("6.12", arch="arm64-16k",
                              cmdline=f"memory_hotplug.memmap_on_memory={mode} memhp_default_state=offline")
    m.insmod("device_dax")
    m.insmod("dax_hmem")
    assert errno_of(m.write, f"{D}/memmap_on_memory", "1") == EOPNOTSUPP
    assert errno_of(m.write, f"{D}/memmap_on_memory", "0") == 0
    assert attr(m) == "0\n"

def test_6_1_has_no_attribute():
    m = dax_device("6.1")
    assert "memmap_on_memory" not in m.ls(D)
    assert errno_of(m.write, f"{D}/memmap_on_memory", "1") == ENOENT
    assert errno_of(m.read, f"{D}/memmap_on_memory") == ENOENT


# ----------------------------------------------------------------------------------------------
# hot-add: where the memmap lives
# ----------------------------------------------------------------------------------------------
def online_both(m):
    for b in (32, 33):
        m.write(f"{MEM}/memory{b}/state", "online_movable")


def test_attribute_1_self_hosts_512_pfns_at_the_start_of_each_block():
    m = dax_device("6.12")
    m.write(f"{D}/memmap_on_memory", "1")
    m.insmod("kmem")
    assert m.nr_memmap_pages == 2 * MEMMAP_PFNS
    online_both(m)
    z = m.nodes[1].zones[3]
    assert (z.spanned_pages, z.present_pages, z.managed_pages) == (65536, 65536, 65536 - 2 * MEMMAP_PFNS)
    w = m.kpageflags(PFN0, 65536)
    own = ((w >> np.uint64(KPF.OWNER_PRIVATE)) & np.uint64(1)).astype(bool)
    expect = np.zeros(65536, dtype=bool)
    expect[:MEMMAP_PFNS] = expect[BLOCK_PFNS:BLOCK_PFNS + MEMMAP_PFNS] = True
    assert np.array_equal(own, expect)
    assert not ((w >> np.uint64(KPF.RESERVED)) & np.uint64(1)).any()           # 6.11+: not PageReserved
    assert m.read("/sys/devices/system/node/node1/meminfo").split("\n")[0].split()[-2] == str(
        (65536 - 2 * MEMMAP_PFNS) * 4)


def test_attribute_0_takes_the_memmap_from_node_0():
    m = dax_device("6.12")
    free0 = m.nodes[0].zones[1].nr_free_pages
    m.insmod("kmem")
    assert all(m.blocks[b].vmemmap_pages == 0 for b in (32, 33))
    assert m.nr_memmap_pages == 2 * MEMMAP_PFNS                   # counted all the same
    assert free0 - m.nodes[0].zones[1].nr_free_pages >= 2 * MEMMAP_PFNS
    online_both(m)
    assert m.nodes[1].zones[3].managed_pages == 65536


def test_6_1_never_self_hosts():
    m = dax_device("6.1")
    m.write(f"{DRV}/device_dax/unbind", "dax0.0")
    m.insmod("kmem")
    m.write(f"{DRV}/kmem/new_id", "dax0.0")
    online_both(m)
    assert m.nodes[1].zones[3].managed_pages == 65536


def test_auto_online_onlines_what_kmem_adds():
    m = dax_device("6.12", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=online_movable")
    m.insmod("kmem")
    assert {m.read(f"{MEM}/memory{b}/valid_zones") for b in (32, 33)} == {"Movable\n"}


# ----------------------------------------------------------------------------------------------
# unbind: offline memory is removed, online memory stays until reboot
# ----------------------------------------------------------------------------------------------
def test_unbind_removes_offline_blocks():
    m = dax_device("6.12")
    m.write(f"{D}/memmap_on_memory", "1")
    m.insmod("kmem")
    online_both(m)
    for b in (32, 33):
        m.write(f"{MEM}/memory{b}/state", "offline")
    assert m.nr_memmap_pages == 2 * MEMMAP_PFNS                   # the memmap leaves only with the blocks
    m.write(f"{DRV}/kmem/unbind", "dax0.0")
    assert not any(b.nid == 1 for b in m.blocks.values()) and m.nr_memmap_pages == 0
    assert iomem_lines(m) == ["100000000-10fffffff : Soft Reserved"]
    assert len(m.kpageflags(PFN0, 65536)) == 65536                # max_pfn does not shrink
    assert m.write(f"{D}/memmap_on_memory", "0") == 1


def test_unbind_with_online_memory_keeps_it_until_reboot():
    m = dax_device("6.12")
    m.insmod("kmem")
    m.write(f"{MEM}/memory32/state", "online_movable")
    assert m.write(f"{DRV}/kmem/unbind", "dax0.0") == 6          # the unbind itself succeeds
    assert driver_of(m) == ""
    assert sorted(b for b in m.blocks if m.blocks[b].nid == 1) == [32, 33]      # remove_memory() is all or nothing
    assert "kmem dax0.0: mapping0: 0x100000000-0x10fffffff cannot be hotremoved until the next reboot" in m.dmesg()
    assert len(iomem_lines(m)) == 3
    assert m.ls("/sys/devices/virtual/memory_tiering")[:2] == ["memory_tier22", "memory_tier4"]
    m.write(f"{MEM}/memory32/state", "offline")                   # the blocks can still be used
    assert errno_of(m.write, f"{DRV}/kmem/bind", "dax0.0") == EBUSY             # its range is still claimed
    m.write(f"{DRV}/device_dax/new_id", "dax0.0")
    assert driver_of(m) == "" and "could not reserve range" in m.dmesg()


# ----------------------------------------------------------------------------------------------
# memory tiers
# ----------------------------------------------------------------------------------------------
def tiers(m) -> dict[str, str]:
    base = "/sys/devices/virtual/memory_tiering"
    return {t: m.read(f"{base}/{t}/nodelist").strip() for t in m.ls(base) if t.startswith("memory_tier")}


def test_kmem_memory_is_tier_22_while_online():
    m = dax_device("6.12")
    m.insmod("kmem")
    assert tiers(m) == {"memory_tier4": "0"}                      # 576 >> 7
    online_both(m)
    assert tiers(m) == {"memory_tier22": "1", "memory_tier4": "0"}        # 5 * 576 >> 7
    assert "Demotion targets for Node 0: preferred: 1, fallback: 1" in m.dmesg()
    assert "Demotion targets for Node 1: null" in m.dmesg()
    for b in (32, 33):
        m.write(f"{MEM}/memory{b}/state", "offline")
    assert tiers(m) == {"memory_tier4": "0"}


def test_a_dimm_on_a_node_is_dram_tier():
    from workbook.machine import Machine
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1")
    m.dimm_add(128 << 20, 1)
    m.write(f"{MEM}/memory32/state", "online_movable")
    assert tiers(m) == {"memory_tier4": "0-1"}


def test_no_memory_tiers_before_6_1():
    k = dataclasses.replace(get_kernel("6.1"), name="5.10-like", version=(5, 10), memory_tiers=False)
    assert errno_of(soft_reserved_machine(k).ls, "/sys/devices/virtual/memory_tiering") == ENOENT


# ----------------------------------------------------------------------------------------------
# device_dax (ZONE_DEVICE) and resizing
# ----------------------------------------------------------------------------------------------
def test_device_dax_counts_two_memmap_pages_per_2mib_compound_page():
    m = dax_device("6.12")
    m.write(f"{DRV}/device_dax/new_id", "dax0.0")
    assert m.nr_memmap_pages == 2 * (256 << 20) // (2 << 20)      # VMEMMAP_RESERVE_NR per compound page
    assert iomem_lines(m)[-1] == "  100000000-10fffffff : dax0.0"
    assert m.max_pfn <= PFN0                                      # ZONE_DEVICE does not raise max_pfn
    m.write(f"{DRV}/device_dax/unbind", "dax0.0")
    assert m.nr_memmap_pages == 0 and m.nodes[1].zones[4].spanned_pages == 65536


def test_size_and_align_writes():
    m = dax_device("6.12")
    m.insmod("kmem")
    assert errno_of(m.write, f"{D}/size", "0") == EBUSY           # kmem holds it
    m.write(f"{DRV}/kmem/unbind", "dax0.0")
    assert errno_of(m.write, f"{D}/size", "4096") == EINVAL       # not a multiple of align (2 MiB)
    assert errno_of(m.write, f"{D}/size", "abc") == EINVAL
    assert errno_of(m.write, f"{D}/align", "abc") == ENXIO        # sic: align_store() says ENXIO
    assert errno_of(m.write, f"{D}/align", "12345") == EINVAL
    m.write(f"{D}/size", "0")
    assert m.read(f"{D}/size") == "0\n" and m.read(f"{D}/../dax_region/available_size") == f"{256 << 20}\n"
    assert errno_of(m.write, f"{DRV}/kmem/bind", "dax0.0") == ENXIO             # dax_bus_probe(): size 0
    assert errno_of(m.write, f"{D}/size", str(512 << 20)) == ENOSPC
    m.write(f"{D}/size", str(128 << 20))
    assert m.read(f"{D}/mapping0/end") == f"{SR + (128 << 20) - 1:#x}\n"
    m.write(f"{DRV}/kmem/bind", "dax0.0")
    assert sorted(b for b in m.blocks if m.blocks[b].nid == 1) == [32]


def test_create_and_delete_devices_in_the_region():
    m = dax_device("6.12")
    region = f"{D}/../dax_region"
    assert errno_of(m.write, f"{region}/create", "1") == ENOSPC  # dax0.0 has the whole region
    m.write(f"{D}/size", str(128 << 20))
    m.write(f"{region}/create", "1")
    assert m.ls("/sys/bus/dax/devices") == ["dax0.0", "dax0.1"]
    assert m.read(f"{region}/seed") == "dax0.1\n"
    m.write("/sys/bus/dax/devices/dax0.1/size", str(128 << 20))
    assert m.read("/sys/bus/dax/devices/dax0.1/resource") == f"{SR + (128 << 20):#x}\n"
    assert errno_of(m.write, f"{region}/delete", "dax0.1") == EBUSY     # it has memory
    m.write("/sys/bus/dax/devices/dax0.1/size", "0")
    assert errno_of(m.write, f"{region}/delete", "dax0.0") == EBUSY     # device 0 always stays
    m.write(f"{region}/delete", "dax0.1")
    assert m.ls("/sys/bus/dax/devices") == ["dax0.0"]
    assert errno_of(m.read, f"{region}/delete") == EACCES
