"""pfn walkers: who visits the self-hosted memmap pages, per kernel version."""
from __future__ import annotations

import numpy as np
import pytest

from workbook.arch import GiB, MiB
from workbook.machine import Machine, NodeSpec
from workbook.pagemap import PageKind
from workbook.walkers import REASONS, walk

MEM = "/sys/devices/system/memory"


def block(kernel, how="online_movable"):
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1",
                nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB)
    m.dimm_add(128 * MiB, 1, "d")
    m.write(f"{MEM}/memory32/state", how)
    return m


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_walkers_over_a_self_hosted_block(kernel):
    m = block(kernel)
    gen = walk(m, "generic", 0x100000, 32768)
    if kernel == "6.1":
        assert (gen.skipped(2) == np.arange(0x100000, 0x100200)).all()      # PageReserved
    else:
        assert gen.visited[:512].all()              # 6.12: not Reserved, a naive walker looks at them
    hot = walk(m, "hotplug", 0x100000, 32768)
    assert hot.counts() == {"visited": 32256, "before buddy_start_pfn": 512}
    mig = walk(m, "compaction-migrate", 0x100000, 32768)
    assert mig.counts() == {"not LRU / not movable": 512, "free (PageBuddy)": 32256}
    free = walk(m, "compaction-free", 0x100000, 32768)
    assert free.counts() == {"visited": 32256, "not free": 512}
    contig = walk(m, "alloc-contig", 0x100000, 32768)
    assert contig.reason[:512].min() > 0           # no gigantic page can cover the memmap head
    assert m.trace.entries[-1].file == "mm/page_alloc.c"


def test_walker_after_workload_and_offline():
    m = block("6.12")
    m.start_workload(1, 16 * MiB)
    mig = walk(m, "compaction-migrate", 0x100000, 32768)
    assert mig.counts()["visited"] == 16 * MiB // 4096
    m.write(f"{MEM}/memory32/state", "offline")
    for name in ("generic", "hotplug"):
        assert walk(m, name, 0x100000, 32768).counts() == {REASONS[1]: 32768}


def test_page_state_matches_kpageflags():
    m = block("6.1", "online_kernel")
    s = m.page_state(0x100000, 32768)
    assert (s.kind[:512] == PageKind.SELFHOSTED).all()
    assert (s.pageblock_mt[:512] == 0).all()
    free = s.kind == PageKind.FREE
    assert ((s.free_order >= 0) == free).all()
    k = m.kpageflags(0x100000, 32768)
    assert (((k >> np.uint64(10)) & np.uint64(1)).astype(bool) == free).all()
    with pytest.raises(ValueError):
        walk(m, "nope", 0, 1)


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
@pytest.mark.parametrize("walker", ["generic", "hotplug", "compaction-migrate", "compaction-free", "alloc-contig"])
def test_every_walker_is_its_table_lookup_per_pfn(kernel, walker):
    """The vectorised fast path (comparisons over a reused mask) equals reason = lut[kind] on any page map."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from workbook import walkers

    m = block(kernel)
    m.start_workload(1, 8 * MiB)
    blk = m.blocks[32]
    pm = blk.pagemap
    saved = pm.kind.copy()
    captured = {}
    real = walkers._walk_lut

    def spy(mm, start, nr, lut, skip_vmemmap=False):
        captured["lut"], captured["skip"] = lut.copy(), skip_vmemmap
        return real(mm, start, nr, lut, skip_vmemmap)

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.tuples(st.integers(0, 32767), st.integers(1, 4096), st.integers(0, 14)), max_size=6))
    def check(patches):
        pm.kind[:] = saved
        for start, length, kind in patches:
            pm.kind[start:start + length] = kind
        walkers._walk_lut = spy
        try:
            got = walk(m, walker, blk.start_pfn, blk.nr_pages).reason
        finally:
            walkers._walk_lut = real
        want = captured["lut"][pm.kind]
        if captured["skip"]:
            want[:blk.vmemmap_pages] = walkers.BEFORE_BUDDY_START
        assert (got == want).all()

    check()
    pm.kind[:] = saved
