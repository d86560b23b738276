"""Memory tiers and demotion targets (mm/memory-tiers.c, include/linux/memory-tiers.h; v6.1+).

Every node with memory belongs to one tier, chosen by the *abstract distance* of its
memory type: ordinary DRAM has MEMTIER_ADISTANCE_DRAM (576), the memory kmem hot-adds
gets MEMTIER_DEFAULT_DAX_ADISTANCE (5 x 576 = 2880) unless the firmware (HMAT) says
better.  Tier N holds the types whose distance is in [N * 128, (N + 1) * 128): DRAM is
``memory_tier4``, kmem's memory ``memory_tier22``.  A tier exists only while one of its
nodes has memory (N_MEMORY).  establish_demotion_targets() gives each node a preferred
target (the nearest nodes of the next lower tier) and a fallback (every node of the lower
tiers); reclaim demotes to them only when /sys/kernel/mm/numa/demotion_enabled is set
(can_demote(), mm/vmscan.c; off at boot).

The model leaves out HMAT performance data and the adistance notifier chain that 6.7+
consult (mt_calc_adistance(); a QEMU ``pc`` guest has no HMAT, so the defaults hold),
demotion_enabled and reclaim itself, and promotion.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["MEMTIER_CHUNK_BITS", "MEMTIER_ADISTANCE_DRAM", "MEMTIER_DEFAULT_DAX_ADISTANCE", "MemoryDevType",
           "MemoryTiers"]

MEMTIER_CHUNK_BITS = 7
MEMTIER_CHUNK_SIZE = 1 << MEMTIER_CHUNK_BITS
MEMTIER_ADISTANCE_DRAM = 4 * MEMTIER_CHUNK_SIZE + (MEMTIER_CHUNK_SIZE >> 1)
#: drivers/dax/kmem.c: kmem's memory is assumed five times as far as DRAM.
MEMTIER_DEFAULT_DAX_ADISTANCE = MEMTIER_ADISTANCE_DRAM * 5


@dataclass(eq=False)
class MemoryDevType:
    """struct memory_dev_type: an abstract distance and the nodes of that type that have memory."""

    adistance: int
    nodes: set[int] = field(default_factory=set)


class MemoryTiers:
    """The tiers of one machine: node memory types, tier membership, demotion targets."""

    def __init__(self, m: "Machine") -> None:
        self.m = m
        self.default_dram_type = MemoryDevType(MEMTIER_ADISTANCE_DRAM)
        self.node_memtype: dict[int, MemoryDevType] = {}      # node_memory_types[node].memtype
        self.map_count: dict[int, int] = {}                    # node_memory_types[node].map_count
        self.node_tier: dict[int, int] = {}                    # pgdat->memtier (tier id)
        self.preferred: dict[int, set[int]] = {}               # node_demotion[node].preferred
        if m.kernel.memory_tiers:
            # memory_tier_late_init(): every node that has memory at boot
            for nid, node in sorted(m.nodes.items()):
                if node.has_memory():
                    self.set_node_memory_tier(nid)
            self.establish_demotion_targets(log=False)

    # --- memory types -------------------------------------------------------------------
    def init_node_memory_type(self, nid: int, memtype: MemoryDevType) -> None:
        """init_node_memory_type(): a driver says what memory it adds to ``nid`` (first one wins; counted)."""
        if not self.m.kernel.memory_tiers:
            return
        self.node_memtype.setdefault(nid, memtype)
        if self.node_memtype[nid] is memtype:
            self.map_count[nid] = self.map_count.get(nid, 0) + 1

    def clear_node_memory_type(self, nid: int, memtype: MemoryDevType | None) -> None:
        """clear_node_memory_type(): drop the driver's reference; the node forgets its type at zero."""
        if not self.m.kernel.memory_tiers or nid not in self.node_memtype:
            return
        if memtype is None or self.node_memtype[nid] is memtype:
            self.map_count[nid] = self.map_count.get(nid, 0) - 1
        if not self.map_count.get(nid):
            del self.node_memtype[nid]
            self.map_count.pop(nid, None)

    # --- tiers --------------------------------------------------------------------------
    def set_node_memory_tier(self, nid: int) -> int | None:
        """set_node_memory_tier(): put a node that has memory into the tier of its type (DRAM if none)."""
        if not self.m.nodes[nid].has_memory():
            return None
        if nid not in self.node_memtype:
            self.node_memtype[nid] = self.default_dram_type
        memtype = self.node_memtype[nid]
        if memtype is self.default_dram_type:
            # __init_node_memory_type(node, DRAM): counted on every onlining of a DRAM node
            self.map_count[nid] = self.map_count.get(nid, 0) + 1
        memtype.nodes.add(nid)
        tier = memtype.adistance >> MEMTIER_CHUNK_BITS
        self.node_tier[nid] = tier
        return tier

    def clear_node_memory_tier(self, nid: int) -> bool:
        """clear_node_memory_tier(): the node left its tier (an empty tier disappears)."""
        if nid not in self.node_tier:
            return False
        del self.node_tier[nid]
        memtype = self.node_memtype.get(nid)
        if memtype is not None:
            memtype.nodes.discard(nid)
        return True

    def tiers(self) -> dict[int, list[int]]:
        """{tier id: nodes}, lowest id (fastest) first: the memory_tierN devices that exist."""
        out: dict[int, list[int]] = {}
        for nid, tier in self.node_tier.items():
            out.setdefault(tier, []).append(nid)
        return {t: sorted(v) for t, v in sorted(out.items())}

    def memtier_hotplug_callback(self, action: str, nid: int) -> None:
        """memtier_hotplug_callback(): MEM_ONLINE / MEM_OFFLINE of a node that gains / loses all memory."""
        if not self.m.kernel.memory_tiers:
            return
        if action == "MEM_ONLINE":
            if self.set_node_memory_tier(nid) is not None:
                self.establish_demotion_targets()
        elif action == "MEM_OFFLINE":
            if self.clear_node_memory_tier(nid):
                self.establish_demotion_targets()

    # --- demotion -----------------------------------------------------------------------
    def establish_demotion_targets(self, log: bool = True) -> None:
        """establish_demotion_targets(): each node's preferred targets, the nearest nodes of the next lower tier."""
        m = self.m
        tiers = self.tiers()
        order = list(tiers)
        memory_nodes = [n for n, node in sorted(m.nodes.items()) if node.has_memory()]
        self.preferred = {}
        for nid in memory_nodes:
            t = self.node_tier.get(nid)
            if t is None or order.index(t) == len(order) - 1:
                continue
            candidates = tiers[order[order.index(t) + 1]]
            best = min(m.node_distance[(nid, c)] for c in candidates)
            self.preferred[nid] = {c for c in candidates if m.node_distance[(nid, c)] == best}
        if log and m.kernel.demotion_targets_log:
            self.dump_demotion_targets()

    def lower_tier_mask(self, nid: int) -> set[int]:
        """memtier->lower_tier_mask of the node's tier: every node of the tiers below it."""
        t = self.node_tier.get(nid)
        if t is None:
            return set()
        return {n for tier, nodes in self.tiers().items() if tier > t for n in nodes}

    def dump_demotion_targets(self) -> None:
        """dump_demotion_targets(): one line per node with memory (6.12 logs it)."""
        from .sysfs import node_list
        for nid in sorted(self.node_tier):
            pref = self.preferred.get(nid)
            if not pref:
                self.m.printk(f"Demotion targets for Node {nid}: null")
            else:
                self.m.printk(f"Demotion targets for Node {nid}: preferred: {node_list(pref)}, "
                              f"fallback: {node_list(self.lower_tier_mask(nid))}")
