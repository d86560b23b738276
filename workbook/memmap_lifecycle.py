"""The life of a hot-added block's memmap pages, from hot-add to hot-remove (mm/memory_hotplug.c, mm/sparse-vmemmap.c).

:func:`memmap_lifecycle` drives a :class:`~workbook.machine.Machine` through the four steps of
the patch discussion's test procedure, one DIMM on node 1: hot-add, online, offline, hot-remove.
After each it reads back, from the model, what the pages holding the block's struct pages are:

* **hot-add**: ``add_memory_resource()`` -> ``vmemmap_populate()`` takes them from the block's
  own first pfns through the altmap (``altmap_alloc_block_buf()``) with memmap_on_memory, else
  from node memory (``vmemmap_alloc_block()``); they are mapped, the block is offline;
* **online**: ``memory_block_online()`` -> ``mhp_init_memmap_on_memory()`` puts them in the zone
  (``move_pfn_range_to_zone()``, MIGRATE_UNMOVABLE) and marks them, per kernel, PageReserved
  and/or PageVmemmapSelfHosted; they never reach the buddy allocator;
* **offline**: ``memory_block_offline()`` -> ``mhp_deinit_memmap_on_memory()`` takes them out of
  the zone again; they stay mapped (the struct pages they hold still describe the block);
* **hot-remove**: ``try_remove_memory()`` -> ``arch_remove_memory()`` -> ``vmemmap_free()`` ->
  ``vmem_altmap_free()``: unmapped, and they leave with the block.

Everything in a row is read from the model: the block's sysfs state, ``nr_vmemmap_pages`` and
altmap, the zone, ``nr_memmap_pages`` from the model's ``/proc/vmstat`` (6.11+), and the
``/proc/kpageflags`` word of the block's first pfn (the first memmap pfn where the memmap is on
the block).  :func:`lifecycle_table` puts the rows of one or more kernels in a pandas table;
:func:`lifecycle_by_kernel` sets the kernels side by side, one column each, a few rows per step.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterable

from .arch import GiB, MiB
from .machine import Machine, NodeSpec
from .pagemap import kpf_names
from .sparse_vmemmap import section_mappings

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

__all__ = ["STAGES", "KERNELS_SHOWN", "MemmapStage", "memmap_lifecycle", "lifecycle_table", "lifecycle_by_kernel"]

STAGES = ("hot-add", "online", "offline", "hot-remove")
#: The kernels the workbook has real captures of.
KERNELS_SHOWN = ("5.10", "6.1", "6.12", "7.2")
_MEM = "/sys/devices/system/memory"


@dataclass(frozen=True)
class MemmapStage:
    """What the memmap pages of one hot-added block are after one step."""

    kernel: str
    stage: str                       # one of STAGES
    functions: str                   # the kernel functions that acted on the memmap pages in this step
    block: str                       # ``memory32``
    block_pfns: tuple[int, int]      # its pfns [start, end)
    block_state: str                 # its ``state`` file, "-" once removed
    where: str                       # where the block's struct pages are stored
    memmap_pfns: tuple[int, int] | None   # [first, end) when on the block itself, else None
    mapped: bool                     # the vmemmap maps them (the block's sections are present)
    struct_pages: str                # what the kernel did to the memmap pages' own struct pages
    nr_vmemmap_pages: int | None     # the block's memmap pages (mem->nr_vmemmap_pages / altmap->free);
                                     # None once removed, and before 5.13 (no such field)
    altmap: str                      # what the kernel keeps of the altmap
    zone: str                        # the zone the memmap pages are in
    nr_memmap_pages: int | None      # /proc/vmstat (6.11+); None where the kernel prints no such line
    kpf_pfn: int                     # the pfn whose kpageflags word is shown: the block's first
    kpageflags: int                  # /proc/kpageflags of kpf_pfn

    @property
    def kpageflags_names(self) -> str:
        """The kpageflags word as flag names (``RESERVED|OWNER_PRIVATE``, ``0``)."""
        return kpf_names(self.kpageflags)


def _machine(kernel: str, arch: str, memmap_on_memory: bool, block_size: int | None) -> Machine:
    """The captures' machine: node 0 with 1 GiB at boot, node 1 with a CPU and no memory, blocks come up offline."""
    return Machine(kernel, arch, [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)],
                   cmdline=f"memory_hotplug.memmap_on_memory={int(memmap_on_memory)} memhp_default_state=offline",
                   ram_bytes=1 * GiB, maxmem_bytes=64 * GiB, block_size=block_size)


def _vmstat(m: Machine, name: str) -> int | None:
    """A line of the model's /proc/vmstat, None if the kernel has no such counter."""
    for line in str(m.read("/proc/vmstat")).splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return None


def _struct_pages(m: Machine, stage: str, self_hosted: bool) -> str:
    """What the step did to the memmap pages' own struct pages (the kernel's switches decide the flags)."""
    k = m.kernel
    if not self_hosted:
        return {"hot-add": "ordinary pages of node memory, allocated for the vmemmap",
                "online": "unchanged: they are not in this block",
                "offline": "unchanged: they are not in this block",
                "hot-remove": "freed back to the page allocator of their node (free_pagetable())"}[stage]
    flags = " + ".join(f for f, on in (("PageReserved", k.selfhosted_reserved),
                                       ("PageVmemmapSelfHosted", k.vmemmap_self_hosted_flag)) if on)
    return {"hot-add": "mapped, not initialised: their section is offline",
            "online": f"initialised: zone, MIGRATE_UNMOVABLE, {flags}; never in the buddy allocator",
            "offline": "deinitialised: out of the zone again; still mapped",
            "hot-remove": "unmapped; the pfns leave with the block"}[stage]


def _functions(stage: str, self_hosted: bool) -> str:
    if stage == "hot-add":
        return ("add_memory_resource() -> vmemmap_populate() -> altmap_alloc_block_buf()" if self_hosted
                else "add_memory_resource() -> vmemmap_populate() -> vmemmap_alloc_block()")
    if stage == "online":
        return ("memory_block_online() -> mhp_init_memmap_on_memory()" if self_hosted
                else "memory_block_online() -> online_pages()")
    if stage == "offline":
        return ("memory_block_offline() -> mhp_deinit_memmap_on_memory()" if self_hosted
                else "memory_block_offline() -> offline_pages()")
    return ("try_remove_memory() -> vmemmap_free() -> vmem_altmap_free()" if self_hosted
            else "try_remove_memory() -> vmemmap_free() -> free_pagetable()")


def _node_backing(m: Machine, section: int) -> tuple[str, str]:
    """Where a section's memmap was allocated from node memory, and its zones, from the model's records."""
    maps = section_mappings(m, section)
    zones = ", ".join(sorted({f"{x.zone} (node {x.nid})" for x in maps}))
    kind = "PMD" if maps[0].huge else "base page"
    n = len(maps)
    return f"in node memory, {zones}: {n} {kind}{'s' if n > 1 else ''} per section (pfns not modelled)", zones


def memmap_lifecycle(kernel: str, arch: str = "x86_64", dimm_bytes: int = 128 * MiB, memmap_on_memory: bool = True,
                     online_type: str = "online_movable", block_size: int | None = None) -> list[MemmapStage]:
    """Hot-add a DIMM on node 1, online, offline and hot-remove its first block; one :class:`MemmapStage` per step."""
    m = _machine(kernel, arch, memmap_on_memory, block_size)
    r = m.dimm_add(dimm_bytes, 1, "dimm1")
    if r.error is not None or not r.blocks:
        raise ValueError(f"{m.kernel.label}: the hot-add failed: {r.error or r.result}")
    b = m.blocks[r.blocks[0]]
    a = m.arch
    section = b.start_pfn // a.pages_per_section
    self_hosted = b.vmemmap_pages > 0
    altmap = b.altmap                       # kept by 6.6+; freed by vmem_altmap_free() at hot-remove
    where_node, zone_node = ("", "") if self_hosted else _node_backing(m, section)
    rows: list[MemmapStage] = []

    def row(stage: str) -> None:
        blk = m.blocks.get(b.id)
        mapped = m.section_present(b.start_pfn)
        V = b.vmemmap_pages
        if self_hosted:
            first = b.start_pfn + (altmap.reserve if altmap is not None else 0)
            pfns: tuple[int, int] | None = (first, first + V)
            where = (f"on {b.name} itself: pfns {first:#x}-{first + V - 1:#x} ({V} pages)" if mapped
                     else f"gone with {b.name} (were pfns {first:#x}-{first + V - 1:#x})")
        else:
            pfns = None
            where = where_node if mapped else "freed (the block and its sections are gone)"
        if altmap is not None:
            am = f"mem->altmap: free={altmap.free} alloc={altmap.alloc} align={altmap.align}"
            if blk is None:
                am = f"freed (vmem_altmap_free(): alloc {altmap.alloc}), kfree()d with the block"
        elif self_hosted:
            am = (f"none kept: nr_vmemmap_pages={V} in struct memory_block" if blk is not None
                  else "rebuilt from nr_vmemmap_pages for arch_remove_memory(), then gone")
        else:
            am = "none: the memmap is not on this memory"
        if self_hosted:
            zone = (f"{blk.zone.name} (node {blk.nid})" if blk is not None and blk.zone is not None else "none")
        else:
            zone = zone_node if mapped else "-"
        rows.append(MemmapStage(
            kernel=m.kernel.name, stage=stage, functions=_functions(stage, self_hosted), block=b.name,
            block_pfns=(b.start_pfn, b.end_pfn),
            block_state=blk.state_name() if blk is not None else "-", where=where, memmap_pfns=pfns,
            mapped=mapped, struct_pages=_struct_pages(m, stage, self_hosted),
            nr_vmemmap_pages=V if blk is not None and m.kernel.memmap_on_memory else None, altmap=am, zone=zone,
            nr_memmap_pages=_vmstat(m, "nr_memmap_pages"), kpf_pfn=b.start_pfn,
            kpageflags=int(m.kpageflags(b.start_pfn, 1)[0])))

    row("hot-add")
    m.write(f"{_MEM}/{b.name}/state", online_type)
    row("online")
    m.write(f"{_MEM}/{b.name}/state", "offline")
    row("offline")
    for other in r.blocks[1:]:                  # the rest of a multi-block DIMM, so that it can leave
        m.write(f"{_MEM}/memory{other}/state", online_type)
        m.write(f"{_MEM}/memory{other}/state", "offline")
    gone = m.dimm_del("dimm1")
    if gone.result != "deleted":
        raise ValueError(f"{m.kernel.label}: the hot-remove failed: {gone.error or gone.result}")
    row("hot-remove")
    return rows


_COLUMNS = {"functions": "kernel functions", "block_state": "state", "where": "memmap pages",
            "mapped": "mapped", "struct_pages": "their struct pages", "nr_vmemmap_pages": "nr_vmemmap_pages",
            "altmap": "altmap", "zone": "zone", "nr_memmap_pages": "nr_memmap_pages", "kpageflags": "kpageflags"}


def lifecycle_table(kernels: str | Iterable[str] = KERNELS_SHOWN, **kwargs: object) -> "pd.DataFrame":
    """:func:`memmap_lifecycle` of each kernel as a pandas DataFrame, indexed by (kernel, stage) (one kernel: by stage).

    ``kpageflags`` is shown as ``NAMES (0xWORD)`` of the block's first pfn; ``nr_memmap_pages`` is
    ``"-"`` where the kernel has no such vmstat line, ``nr_vmemmap_pages`` where there is no such field.
    """
    import pandas as pd
    one = isinstance(kernels, str)
    names = [kernels] if one else list(kernels)
    records = []
    for k in names:
        for st in memmap_lifecycle(k, **kwargs):  # type: ignore[arg-type]
            d = asdict(st)
            d["kpageflags"] = f"{st.kpageflags_names} ({st.kpageflags:#x}) @ {st.kpf_pfn:#x}"
            d["nr_memmap_pages"] = "-" if st.nr_memmap_pages is None else st.nr_memmap_pages
            d["nr_vmemmap_pages"] = "-" if st.nr_vmemmap_pages is None else st.nr_vmemmap_pages
            d["mapped"] = "yes" if st.mapped else "no"
            records.append(d)
    df = pd.DataFrame.from_records(records)
    df = df.set_index(["kernel", "stage"])[list(_COLUMNS)].rename(columns=_COLUMNS)
    return df.loc[names[0]] if one else df


#: The rows of :func:`lifecycle_by_kernel`, for each step.
BY_KERNEL_ROWS = ("memmap pages", "struct memory_block keeps", "zone", "kpageflags", "nr_memmap_pages")


def _side_by_side_cells(st: MemmapStage) -> tuple[str, str, str, str, str]:
    """One step of one kernel, in the few words of a side-by-side table (the rows of :data:`BY_KERNEL_ROWS`)."""
    if st.memmap_pfns is not None:
        first, end = st.memmap_pfns
        where = (f"{st.block}'s own pfns {first:#x}-{end - 1:#x}" if st.mapped
                 else f"gone with {st.block}")
    else:
        where = st.where.split(":")[0] if st.mapped else "freed to their node"
    gone = st.block_state == "-"
    if st.altmap.startswith("mem->altmap"):
        kept = st.altmap.replace("mem->altmap: ", "mem->altmap (").replace(" align=0", "") + ")"
    elif st.altmap.startswith("none kept"):
        kept = f"nr_vmemmap_pages = {st.nr_vmemmap_pages}"
    elif st.altmap.startswith("rebuilt"):
        kept = "block gone; the removal rebuilt an altmap from nr_vmemmap_pages"
    elif st.altmap.startswith("freed"):
        kept = "block gone; its altmap went through vmem_altmap_free() (alloc 0)"
    else:
        kept = "block gone" if gone else "nothing: no memmap on the block"
    nr = "no such line" if st.nr_memmap_pages is None else str(st.nr_memmap_pages)
    return where, kept, "-" if gone else st.zone, f"{st.kpageflags_names} ({st.kpageflags:#x})", nr


def lifecycle_by_kernel(kernels: Iterable[str] = KERNELS_SHOWN, **kwargs: object) -> "pd.DataFrame":
    """:func:`memmap_lifecycle` of several kernels side by side: a column per kernel, rows (step, what).

    For each step: where the memmap pages are, what ``struct memory_block`` keeps of them
    (``nr_vmemmap_pages`` up to 6.5, ``mem->altmap`` from 6.6, nothing where there is no memmap
    on the block), their zone, the ``/proc/kpageflags`` word of the block's first pfn and
    ``/proc/vmstat`` ``nr_memmap_pages``.  Every cell is read from the model.
    """
    import pandas as pd
    names = list(kernels)
    cols = {}
    for k in names:
        cells = {}
        for st in memmap_lifecycle(k, **kwargs):  # type: ignore[arg-type]
            cells.update({(st.stage, what): v for what, v in zip(BY_KERNEL_ROWS, _side_by_side_cells(st))})
        cols[k] = cells
    index = pd.MultiIndex.from_tuples([(s, w) for s in STAGES for w in BY_KERNEL_ROWS], names=["step", "what"])
    return pd.DataFrame({k: [cols[k][i] for i in index] for k in names}, index=index)
