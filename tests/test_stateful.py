"""Random sequences of hot-plug operations on several kernels, with the model's invariants checked after every step.

Rules drive the machine the way user space and QEMU would (dimm_add, writes to ``state`` and
``online``, workloads, filling node 0, dimm_del); after each step the accounting must add up page
by page.  A failed operation may change only what the kernel itself leaves behind:

* a failed offline has drained the zone's per-cpu lists (free + pcp stays the same);
* an offline interrupted while migrating (EINTR, "signal backoff": nothing had room for the next
  page, or, on 6.2-6.16, a slab page that looked movable to isolation stayed) leaves the pages it
  migrated where they went and the THP it was splitting split; its isolation is undone, so every
  page of the block is free or still held;
* a hot-add that failed part-way (ENOMEM for a memmap, EEXIST for a section already present)
  leaves the sections it had added present with their memmap; QEMU keeps the DIMM.

Filling node 0 makes the last two reachable: offlining a block with workload pages then finds no
room on node 0, and a memmap that must come from node 0 finds none.  CI runs the "ci" hypothesis
profile; ``HYPOTHESIS_PROFILE=long`` runs 10 000+ sequences.
"""
from __future__ import annotations

import numpy as np
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from workbook.arch import GiB, MiB
from workbook.errors import EINTR, KernelError
from workbook.slub import set_slab_state, slab_heads, slab_looks_movable
from workbook.machine import Machine, NodeSpec
from workbook.memory import MEM_ONLINE
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


def memmap_held(m: Machine) -> dict:
    """Pages of node memory that hold memmaps (memmap_on_memory off, or not possible), per zone."""
    out: dict = {}
    for allocs in m._memmap_allocs_for.values():
        for z, _, o in allocs:
            out[(z.nid, z.name)] = out.get((z.nid, z.name), 0) + (1 << o)
    return out


def units(m: Machine) -> dict:
    """Every allocation unit: (owner, key) -> (node, zone, pfn, order)."""
    return {(o, k): (z.nid, z.name, p, order) for o, a in m.allocations.items() for k, (z, p, order) in a.units.items()}


def zone_pages(us: dict) -> dict:
    """Pages of the given units per zone."""
    out: dict = {}
    for nid, zname, _, o in us.values():
        out[(nid, zname)] = out.get((nid, zname), 0) + (1 << o)
    return out


def could_be_interrupted(m: Machine, bid: int) -> bool:
    """Could writing offline to memory<bid> loop until a signal (migration, or a slab that looks movable)?"""
    b = m.blocks[bid]
    if b.boot or b.state != MEM_ONLINE or b.pagemap is None:
        return False
    if np.isin(b.pagemap.kind, (PageKind.ANON, PageKind.THP_HEAD)).any():
        return True
    return any(slab_looks_movable(m, h) for h in slab_heads(m, b.start_pfn, b.end_pfn))


def check_eintr(m: Machine, bid: int, before, after, units0, units1) -> None:
    """What an interrupted offline may leave changed: migrated pages moved, a THP split; nothing else."""
    b = m.blocks[bid]
    assert after[0] == before[0] and after[3] == before[3] and after[4] == before[4]
    held0, held1 = zone_pages(units0), zone_pages(units1)
    for key, v in before[1].items():
        assert after[1][key][:4] == v[:4], key
        # pages only changed hands: free + held is the same in every zone
        assert after[1][key][4] + held1.get(key, 0) == v[4] + held0.get(key, 0), key
    inside = lambda u: b.start_pfn <= u[2] < b.end_pfn            # noqa: E731
    others = [n.nid for n in m.nodes.values() if n.nid != b.nid and n.has_memory()]
    thp_heads = {u[2] for u in units0.values() if inside(u) and u[3] > 0}
    for k, u in units0.items():
        if not inside(u):
            assert units1.get(k) == u, (k, u)                     # untouched outside the block
    for k, u in units1.items():
        if k in units0 and units0[k] == u:
            continue
        if inside(u):                                             # a base page of a split THP
            assert u[3] == 0 and u[2] - u[2] % 512 in thp_heads, u
        else:                                                     # migrated to another node
            assert u[0] in (others or [b.nid]), u
    def pages(us: dict) -> dict:
        out: dict = {}
        for (owner, _), u in us.items():
            out[owner] = out.get(owner, 0) + (1 << u[3])
        return out
    assert pages(units1) == pages(units0)             # every owner holds as many pages as before


class Hotplug(RuleBasedStateMachine):
    """dimm_add / online / offline / workloads / dimm_del on a 2-node QEMU-like machine."""

    @initialize(kernel=st.sampled_from(["6.1", "6.12", "5.13", "5.10", "7.2"]), mmom=st.sampled_from(["0", "1"]),
                policy=st.sampled_from(["contig-zones", "auto-movable"]),
                default=st.sampled_from(["offline", "online_movable"]),
                full0=st.sampled_from([False, False, False, True]))
    def boot(self, kernel, mmom, policy, default, full0):
        self.m = Machine(kernel, cmdline=f"memory_hotplug.memmap_on_memory={mmom} "
                                         f"memory_hotplug.online_policy={policy} memhp_default_state={default}",
                         nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=16 * GiB)
        self.m.trace.enabled = False
        self.boot_gap = {(z.nid, z.name): z.present_pages - z.managed_pages
                         for n in self.m.nodes.values() for z in n.zones}
        self.boot_state = visible(self.m)
        self.boot_sections = self.m.present_section_nrs()
        self.n = 0
        self.seen: set[str] = set()
        if full0:
            # node 0 full but for one 2 MiB memmap: the next hot-add that needs node 0's memory for
            # more than one section fails part-way (ENOMEM) and leaves that section behind
            room = self.m.start_workload(0, 2 * MiB, name="room")
            self.m.start_workload(0, 2 * GiB, name="fill")
            self.m.stop_workload(room)

    def _try(self, fn, bid: int | None = None):
        """Run one operation; if the kernel says no, only what the kernel leaves behind may have changed."""
        m = self.m
        before = visible(m)
        units0 = units(m) if bid is not None and could_be_interrupted(m, bid) else None
        try:
            return fn()
        except KernelError as e:
            assert e.errno > 0 and e.errno_name.startswith("E")
            after = visible(m)
            if e.errno == EINTR:
                assert units0 is not None
                check_eintr(m, bid, before, after, units0, units(m))
            else:
                # a failed offline has drained pcp lists into the buddy: totals stay, as in the kernel
                assert after == before, (e, before, after)
            self.seen.add(e.errno_name)
            return None

    @rule(size=st.sampled_from([128 * MiB, 256 * MiB, 512 * MiB, 64 * MiB]), node=st.sampled_from([0, 1, 1]))
    def dimm_add(self, size, node):
        m = self.m
        self.n += 1
        before, held0, sections0 = visible(m), memmap_held(m), m.present_section_nrs()
        r = m.dimm_add(size, node, f"d{self.n}")
        if r.result != "ok":
            assert visible(m) == before                           # QEMU refused: nothing happened
        elif r.error is not None:
            self.seen.add(f"hot-add {r.error.errno_name}")
            # the guest refused; sections a failed arch_add_memory() had added stay, with their memmap
            after, held1 = visible(m), memmap_held(m)
            assert after[0] == before[0] and after[2] == before[2] and sorted(after[3]) == sorted(before[3] + [f"d{self.n}"])
            added = [s for s in m.present_section_nrs() if s not in sections0]
            assert set(sections0) <= set(m.present_section_nrs())
            pps = m.arch.pages_per_section
            assert all(r_addr <= s * pps << m.arch.page_shift < r_addr + size for s in added
                       for r_addr in [m.dimms[f"d{self.n}"].addr])
            per = m.arch.memmap_pages(pps) if m.kernel.vmstat_memmap_pages else 0
            assert after[4] == before[4] + per * len(added)
            for key, v in before[1].items():
                assert after[1][key][:4] == v[:4] and after[1][key][4] + held1.get(key, 0) == v[4] + held0.get(key, 0)

    def _block(self, data) -> int:
        """A hot-added block, or memory7 (a boot block, DMA32 only) now and then."""
        return data.draw(st.sampled_from([b for b in sorted(self.m.blocks) if b >= 8] + [7]))

    @precondition(lambda self: self.m.blocks)
    @rule(data=st.data(), how=st.sampled_from(["online", "online_kernel", "online_movable", "offline", "junk"]))
    def write_state(self, data, how):
        bid = self._block(data)
        self._try(lambda: self.m.write(f"{MEM}/memory{bid}/state", how), bid)

    @precondition(lambda self: self.m.blocks)
    @rule(data=st.data(), value=st.sampled_from(["0", "1", b"1\n", "off", "junk", " 1", b""]))
    def write_online(self, data, value):
        bid = self._block(data)
        got = self._try(lambda: self.m.write(f"{MEM}/memory{bid}/online", value), bid)
        assert got in (None, len(value))

    def _used_blocks(self) -> list[int]:
        """Hot-added online blocks whose pages something has used."""
        return [n for n, b in sorted(self.m.blocks.items()) if b.pagemap is not None and not b.boot
                and b.state == MEM_ONLINE]

    @precondition(lambda self: self._used_blocks())
    @rule(data=st.data())
    def offline_used_block(self, data):
        """Offline a block that holds pages: migration, and with node 0 full, EINTR."""
        bid = data.draw(st.sampled_from(self._used_blocks()))
        self._try(lambda: self.m.write(f"{MEM}/memory{bid}/state", "offline"), bid)

    @precondition(lambda self: self._slabs())
    @rule(data=st.data(), state=st.sampled_from(["off", "node", "cpu", "cpu_partial"]), pos=st.integers(1, 6))
    def slab_state(self, data, state, pos):
        """SLUB moves a slab page between its lists (timing the model does not simulate): any state may come."""
        set_slab_state(self.m, data.draw(st.sampled_from(self._slabs())), state, pos)

    def _slabs(self) -> list[int]:
        """Head pfns of the slab pages in hot-added online blocks."""
        return [h for b in self._used_blocks() for h in slab_heads(self.m, self.m.blocks[b].start_pfn,
                                                                     self.m.blocks[b].end_pfn)]

    @precondition(lambda self: self._used_blocks())
    @rule()
    def fill_node0(self):
        """A workload that takes all of node 0's free memory (it stops where the allocator says no)."""
        self.m.start_workload(0, 2 * GiB, name="fill")

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
    def thp_counts_follow_the_pages(self):
        m = self.m
        for nid, node in m.nodes.items():
            thps = sum(1 for a in m.allocations.values() if a.kind == "anon"
                       for z, _, o in a.units.values() if z.nid == nid and o > 0)
            assert node.stats["nr_anon_transparent_hugepages"] == thps, nid

    @invariant()
    def nothing_left_when_everything_is_gone(self):
        m = self.m
        if not m.dimms and not any(a.kind in ("anon", "pin") for a in m.allocations.values()):
            hot = {n: b for n, b in m.blocks.items() if not b.boot}
            assert not hot
            # only sections a failed hot-add left behind are still there, each with its memmap
            left = [s for s in m.present_section_nrs() if s not in self.boot_sections]
            per = m.arch.memmap_pages(m.arch.pages_per_section) if m.kernel.vmstat_memmap_pages else 0
            assert m.nr_memmap_pages == per * len(left)
            for z in m.nodes[1].zones:
                assert (z.spanned_pages, z.present_pages) == (0, 0)


TestHotplug = Hotplug.TestCase
# "a few thousand" sequences in CI; the long profile (HYPOTHESIS_PROFILE=long) runs its own 10 000+
TestHotplug.settings = settings(stateful_step_count=25,
                                max_examples=max(settings.default.max_examples, 2000))
