"""Random sequences of hot-plug operations on several kernels, with the model's invariants checked after every step.

Rules drive the machine the way user space and QEMU would (dimm_add, writes to ``state``,
workloads, dimm_del); after each step the accounting must add up page by page.  CI runs
the "ci" hypothesis profile; ``HYPOTHESIS_PROFILE=long`` runs 10 000+ sequences.
"""
from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from workbook.arch import GiB, MiB
from workbook.errors import KernelError
from workbook.machine import Machine, NodeSpec
from workbook.mmzone import Run
from workbook.pagemap import PageKind

MEM = "/sys/devices/system/memory"


def visible(m: Machine):
    """Everything a failed operation must leave alone (free-list order and pcp contents aside)."""
    blocks = {n: (b.state, b.zone.name if b.zone else None, b.vmemmap_pages, b.dev_offline)
              for n, b in m.blocks.items()}
    zones = {(z.nid, z.name): (z.zone_start_pfn, z.spanned_pages, z.present_pages, z.managed_pages,
                               z.free_pages + z.pcp_pages() + z.boot_free)
             for n in m.nodes.values() for z in n.zones}
    allocs = {o: sorted(a.units) for o, a in m.allocations.items()}
    return blocks, zones, allocs, sorted(m.dimms), m.nr_memmap_pages


class Hotplug(RuleBasedStateMachine):
    """dimm_add / online / offline / workloads / dimm_del on a 2-node QEMU-like machine."""

    @initialize(kernel=st.sampled_from(["6.1", "6.12", "5.13"]), mmom=st.sampled_from(["0", "1"]),
                policy=st.sampled_from(["contig-zones", "auto-movable"]))
    def boot(self, kernel, mmom, policy):
        self.m = Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={mmom} "
                                         f"memory_hotplug.online_policy={policy}",
                         nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=16 * GiB)
        self.m.trace.enabled = False
        self.boot_gap = {(z.nid, z.name): z.present_pages - z.managed_pages
                         for n in self.m.nodes.values() for z in n.zones}
        self.boot_state = visible(self.m)
        self.n = 0

    def _try(self, fn):
        """Run one operation; if the kernel says no, nothing visible may have changed."""
        before = visible(self.m)
        try:
            return fn()
        except KernelError as e:
            assert e.errno > 0 and e.errno_name.startswith("E")
            after = visible(self.m)
            # a failed offline has drained pcp lists into the buddy: totals stay, as in the kernel
            assert after == before, (e, before, after)
            return None

    @rule(size=st.sampled_from([128 * MiB, 256 * MiB, 512 * MiB, 64 * MiB]), node=st.sampled_from([0, 1, 1]))
    def dimm_add(self, size, node):
        self.n += 1
        before = visible(self.m)
        r = self.m.dimm_add(size, node, f"d{self.n}")
        if r.error is not None or r.result != "ok":
            b2 = visible(self.m)
            assert b2[0] == before[0] and b2[1] == before[1] and b2[4] == before[4]

    @precondition(lambda self: self.m.blocks)
    @rule(data=st.data(), how=st.sampled_from(["online", "online_kernel", "online_movable", "offline", "junk"]))
    def write_state(self, data, how):
        bid = data.draw(st.sampled_from(sorted(self.m.blocks)))
        self._try(lambda: self.m.write(f"{MEM}/memory{bid}/state", how))

    @rule(node=st.sampled_from([0, 1]), mib=st.integers(1, 96), kind=st.sampled_from(["anon", "pin"]))
    def workload(self, node, mib, kind):
        if kind == "anon":
            self.m.start_workload(node, mib * MiB)
        else:
            self.m.pin(node, mib * MiB, pipes=max(mib // 4, 1))

    @precondition(lambda self: any(a.kind in ("anon", "pin") for a in self.m.allocations.values()))
    @rule(data=st.data())
    def stop(self, data):
        owners = sorted(o for o, a in self.m.allocations.items() if a.kind in ("anon", "pin"))
        self.m.stop_workload(data.draw(st.sampled_from(owners)))

    @precondition(lambda self: self.m.dimms)
    @rule(data=st.data())
    def dimm_del(self, data):
        did = data.draw(st.sampled_from(sorted(self.m.dimms)))
        blocks = list(self.m.dimms[did].blocks)
        r = self.m.dimm_del(did)
        if r.result == "deleted":
            assert not any(b in self.m.blocks for b in blocks)
        else:
            assert did in self.m.dimms

    # ---- invariants ---------------------------------------------------------------------------
    @invariant()
    def zone_accounting(self):
        m = self.m
        for node in m.nodes.values():
            for z in node.zones:
                online = [b for b in m.blocks.values() if b.zone is z and not b.boot]
                V = sum(b.vmemmap_pages for b in online)
                # managed = present - self-hosted memmap pages (- what boot reserved)
                assert z.present_pages - z.managed_pages == V + self.boot_gap[(z.nid, z.name)], z
                assert 0 <= z.free_pages <= z.managed_pages
                used = 0
                for b in online:
                    assert z.zone_start_pfn <= b.start_pfn and b.end_pfn <= z.zone_end_pfn
                    if b.pagemap is None:
                        continue
                    k = b.pagemap.kind
                    v = b.vmemmap_pages
                    assert (k[:v] == PageKind.SELFHOSTED).all()          # never free, never reused
                    assert not (k[v:] == PageKind.SELFHOSTED).any()
                    used += int(np.count_nonzero((k != PageKind.FREE) & (k != PageKind.PCP)
                                                 & (k != PageKind.SELFHOSTED)))
                hot_managed = sum(b.nr_pages - b.vmemmap_pages for b in online)
                if hot_managed:
                    # every page given to the buddy is free, on a pcp list, or in use: nothing leaks
                    assert z.free_pages + z.pcp_pages() + used == hot_managed, z
                if not z.present_pages:
                    assert z.free_pages == 0 and not z.pcp_pages()

    @invariant()
    def free_lists_consistent(self):
        m = self.m
        for node in m.nodes.values():
            for z in node.zones:
                for order in range(z.nr_orders):
                    for mt, od in enumerate(z.free_lists[order]):
                        count = 0
                        for key in od:
                            if isinstance(key, Run):
                                count += key.count
                                assert key.count > 0
                            else:
                                count += 1
                                pm = m.pagemap_of(key)
                                i = key - pm.start_pfn
                                assert pm.order[i] == order and pm.fl_mt[i] == mt
                                assert (pm.kind[i:i + (1 << order)] == PageKind.FREE).all()
                        assert count == z.nr_free[order, mt]

    @invariant()
    def nothing_left_when_everything_is_gone(self):
        m = self.m
        if not m.dimms and not any(a.kind in ("anon", "pin") for a in m.allocations.values()):
            hot = {n: b for n, b in m.blocks.items() if not b.boot}
            assert not hot
            assert m.nr_memmap_pages == 0
            for z in m.nodes[1].zones:
                assert (z.spanned_pages, z.present_pages) == (0, 0)


TestHotplug = Hotplug.TestCase
# "a few thousand" sequences in CI; the long profile (HYPOTHESIS_PROFILE=long) runs its own 10 000+
TestHotplug.settings = settings(stateful_step_count=25,
                                max_examples=max(settings.default.max_examples, 2000))
