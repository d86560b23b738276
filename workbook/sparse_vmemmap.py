"""The vmemmap's page-table mappings as the model populated them (mm/sparse-vmemmap.c, arch/x86/mm/init_64.c).

``vmemmap_populate()`` maps the struct pages of each present section: with PMD_SIZE pages
(``vmemmap_populate_hugepages()``) where the architecture can and a section's memmap is whole
PMDs, else with base pages (``vmemmap_populate_basepages()``; arm64 with 16K or 64K pages).
What backs each mapping is decided when the section is added:

* ``boot``: memory of the section's node taken at boot (``sparse_init_nid()``, memblock);
* ``node``: ``vmemmap_alloc_block()`` at hot-add, from the page allocator of the node the
  memory is added to (falling back by distance), when the memmap is not on the memory itself;
* ``altmap``: ``altmap_alloc_block_buf()`` at hot-add, the first pfns of the memory block
  itself (memmap_on_memory).

The model records the last two in :class:`~workbook.machine.Machine` as it adds sections; this
module only reads those records back, section by section.  It leaves out the page-table pages
themselves (they always come from the page allocator) and the HugeTLB vmemmap optimisation.
Where one PMD of vmemmap would hold the memmap of more than one section (ppc64, whose section
memmap is smaller than a PMD; a ``struct page`` of 80 bytes on x86_64, 2.5 MiB per section), it
does not describe the mappings and says so.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .machine import SECTION_IS_EARLY, SECTION_MARKED_PRESENT, SECTIONS_PER_ROOT

if TYPE_CHECKING:  # pragma: no cover
    from .arch import ArchProfile
    from .machine import Machine
    from .memory import MemoryBlock

__all__ = ["ALTMAP", "BOOT", "NODE", "BACKINGS", "VmemmapMapping", "vmemmap_mapping_pages", "present_sections",
           "memmap_backing", "section_mappings", "vmemmap_mappings"]

BOOT, NODE, ALTMAP = "boot", "node", "altmap"
#: Who backs a vmemmap mapping, in the order views list them.
BACKINGS = (ALTMAP, NODE, BOOT)


@dataclass(frozen=True)
class VmemmapMapping:
    """One vmemmap page-table entry: a PMD (huge) or a PTE, the struct pages it holds and what backs it."""

    section: int          # the section whose memmap it holds
    index: int            # its place among the section's mappings
    pfn: int              # first pfn whose struct page lies in it
    nr_pfns: int          # pfns whose struct pages lie in it
    offset: int           # pfn_to_page(pfn) - vmemmap, in bytes
    size: int             # bytes mapped: PMD_SIZE or PAGE_SIZE
    huge: bool            # a PMD mapping (vmemmap_populate_hugepages()), else a PTE
    backing: str          # BOOT, NODE or ALTMAP
    nid: int              # node of the memory behind it
    zone: str             # zone it was allocated from ("" at boot and from an altmap)
    backing_pfn: int      # first pfn behind it; -1 where the model keeps boot memory as counts only
    block: int            # memory block of the section


def vmemmap_mapping_pages(arch: "ArchProfile") -> int:
    """Pages per vmemmap mapping of a section's memmap: PMD_SIZE / PAGE_SIZE, or 1 for base pages.

    Raises ValueError where a PMD would hold the memmap of more than one section (not modelled).
    """
    per_section = arch.memmap_bytes(arch.pages_per_section)
    if not arch.vmemmap_huge:
        return 1
    if per_section % arch.pmd_size:
        raise ValueError(f"{arch.name}: a section's memmap ({per_section >> 10} KiB) is not a whole number of "
                         f"PMDs ({arch.pmd_size >> 20} MiB): one PMD of vmemmap then holds the memmap of more "
                         "than one section, which the workbook does not draw")
    return arch.pmd_size // arch.page_size


def present_sections(m: "Machine") -> np.ndarray:
    """Numbers of every present section (SECTION_MARKED_PRESENT), ascending."""
    out = [root * SECTIONS_PER_ROOT + np.nonzero(arr & SECTION_MARKED_PRESENT)[0]
           for root, arr in sorted(m._sections.items())]
    return np.concatenate(out).astype(np.int64) if out else np.zeros(0, dtype=np.int64)


def memmap_backing(m: "Machine", block: "MemoryBlock") -> str:
    """Who backs the memmap of a memory block's sections: ALTMAP (self-hosted), BOOT or NODE."""
    if block.vmemmap_pages:
        return ALTMAP
    return BOOT if block.boot else NODE


class _Records:
    """The machine's memmap records (altmap runs and node allocations), looked up by pfn."""

    def __init__(self, m: "Machine") -> None:
        self.m = m
        self.node = sorted(m._memmap_allocs_for)
        self.altmap = sorted(m._memmap_altmap_for)

    @staticmethod
    def _find(keys: list[tuple[int, int]], pfn: int) -> tuple[int, int] | None:
        i = bisect.bisect_right(keys, (pfn, 1 << 62)) - 1
        if i >= 0 and keys[i][0] <= pfn < keys[i][0] + keys[i][1]:
            return keys[i]
        return None

    def altmap_runs(self, pfn: int) -> tuple[tuple[int, int], list[tuple[int, int]]] | None:
        key = self._find(self.altmap, pfn)
        return None if key is None else (key, self.m._memmap_altmap_for[key])

    def node_allocs(self, pfn: int) -> tuple[tuple[int, int], list] | None:
        key = self._find(self.node, pfn)
        return None if key is None else (key, self.m._memmap_allocs_for[key])


def _runs_slice(runs: list[tuple[int, int]], start: int, n: int) -> list[tuple[int, int]]:
    """The pfn runs at positions [start, start + n) of the concatenated ``runs``."""
    out, pos = [], 0
    for first, count in runs:
        lo, hi = max(start, pos), min(start + n, pos + count)
        if hi > lo:
            out.append((first + lo - pos, hi - lo))
        pos += count
        if pos >= start + n:
            break
    return out


def section_mappings(m: "Machine", section: int, _records: _Records | None = None) -> list[VmemmapMapping]:
    """The vmemmap mappings of one section's memmap, in address order ([] when the section is not present)."""
    a = m.arch
    flags = m.section_flags(section * a.pages_per_section)
    if not flags & SECTION_MARKED_PRESENT:
        return []
    rec = _records or _Records(m)
    pps = a.pages_per_section
    sec_pfn = section * pps
    spp = a.memmap_pages(pps)                       # memmap pages of one section
    sp = a.struct_page_size
    block = m.block_of_pfn(sec_pfn).id
    nid = int(m._section_nid[section // SECTIONS_PER_ROOT][section % SECTIONS_PER_ROOT])

    def mapping(i: int, first_page: int, pages: int, huge: bool, backing: str, node: int, zone: str,
                bpfn: int) -> VmemmapMapping:
        # page ``first_page`` of the section's memmap holds the struct pages of these pfns
        pfn = sec_pfn + first_page * a.page_size // sp
        nr = min(pages * a.page_size // sp, sec_pfn + pps - pfn)
        return VmemmapMapping(section, i, pfn, nr, pfn * sp, pages * a.page_size, huge, backing, node, zone,
                              bpfn, block)

    found = rec.altmap_runs(sec_pfn)
    if found is not None:
        (key_pfn, _), runs = found
        k = (sec_pfn - key_pfn) // pps
        unit = vmemmap_mapping_pages(a)
        out = []
        for i, page in enumerate(range(0, spp, unit)):
            n = min(unit, spp - page)
            run = _runs_slice(runs, k * spp + page, n)
            out.append(mapping(i, page, n, unit > 1, ALTMAP, nid, "", run[0][0] if run else -1))
        return out
    found_node = rec.node_allocs(sec_pfn)
    if found_node is not None and not flags & SECTION_IS_EARLY:
        (key_pfn, _), allocs = found_node
        k = (sec_pfn - key_pfn) // pps
        out, pos, page = [], 0, 0
        pmd_order = a.pmd_shift - a.page_shift
        for zone, pfn, order in allocs:
            n = 1 << order
            if pos + n > k * spp and pos < (k + 1) * spp:
                out.append(mapping(len(out), page, n, order == pmd_order and order > 0, NODE, zone.nid,
                                   zone.name, pfn))
                page += n
            pos += n
            if pos >= (k + 1) * spp:
                break
        return out
    unit = vmemmap_mapping_pages(a)
    return [mapping(i, page, min(unit, spp - page), unit > 1, BOOT, nid, "", -1)
            for i, page in enumerate(range(0, spp, unit))]


def vmemmap_mappings(m: "Machine", sections: list[int] | np.ndarray) -> dict[int, list[VmemmapMapping]]:
    """:func:`section_mappings` of several sections (the machine's records are indexed once)."""
    rec = _Records(m)
    return {int(s): section_mappings(m, int(s), rec) for s in sections}
