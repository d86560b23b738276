"""What a slab page's struct page says to memory offlining (mm/slab.h struct slab, mm/slub.c).

From 6.2 (130d4df57390) to 6.16, ``struct slab`` overlays ``page->mapping`` (word 3 of
struct page) with ``slab_list.prev`` or, on a CPU's partial list, with ``{next, slabs}``.
Isolation asks ``__folio_test_movable()``: ``(mapping & 3) == PAGE_MAPPING_MOVABLE (2)``.
So a slab page can look movable, depending on where SLUB keeps it at that moment:

=============  ===============================================  ========  ============
state          word 3 (= page->mapping)                         & 3       isolation
=============  ===============================================  ========  ============
``cpu``        0: fresh from the buddy allocator (a CPU slab)   00        EBUSY
``node``       slab_list.prev: on a node partial list (aligned)  00        EBUSY
``off``        LIST_POISON2 (0xdead000000000122): taken off a    10        passes
               node partial list by list_del()
``cpu_partial`` the ``slabs`` count: its position on a CPU's     slabs & 3 passes if 2
               partial list
=============  ===============================================  ========  ============

When isolation passes, MEM_GOING_OFFLINE's SLUB callback flushes every CPU's slabs onto
the node partial lists (word 3 becomes an aligned pointer again), ``scan_movable_pages()``
finds nothing to migrate, the allocated slab page keeps ``test_pages_isolated()`` failing,
and ``offline_pages()`` retries until the writer is signalled.  In 6.1 and 5.10 word 3 is
``slab_cache`` (an aligned pointer); from 6.17 a compound page off the LRU is unmovable
whatever its mapping says: EBUSY every time.  Which state a slab is in is SLUB's timing,
which the model does not simulate: a new slab page starts as ``cpu``, offlining moves it
to ``node``, and anything else is set with :func:`set_slab_state` (the replay takes it from
the capture, chapter 07 lets a learner try it).  Leaves out: objects, freelists, the
kmem_cache a slab belongs to, and shrinking empty slabs.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .pagemap import PageKind

if TYPE_CHECKING:  # pragma: no cover
    from .machine import Machine

__all__ = ["SLAB_STATES", "LIST_POISON2", "slab_word3", "slab_state", "set_slab_state", "slab_looks_movable",
           "slab_memory_going_offline", "slab_heads"]

SLAB_STATES = ("cpu", "node", "off", "cpu_partial")
LIST_POISON2 = 0xDEAD000000000122          # include/linux/poison.h with POISON_POINTER_DELTA
_NODE_PARTIAL_PTR = 0xFFFF888100000010     # some 16-byte aligned &slab->slab_list (illustrative)


def slab_state(m: "Machine", pfn: int) -> tuple[str, int]:
    """(state, position on the CPU partial list) of the slab whose head page is ``pfn``."""
    return m.slab_states.get(pfn, ("cpu", 0))


def slab_word3(state: str, position: int = 0) -> int:
    """Word 3 of the slab's struct page (page->mapping) in that state."""
    if state == "cpu":
        return 0
    if state == "node":
        return _NODE_PARTIAL_PTR
    if state == "off":
        return LIST_POISON2
    if state == "cpu_partial":
        return position & 0xFFFFFFFF
    raise ValueError(f"slab state must be one of {SLAB_STATES}, not {state!r}")


def set_slab_state(m: "Machine", pfn: int, state: str, position: int = 1) -> None:
    """Put the slab whose head page is ``pfn`` in ``state`` (``position``: its ``slabs`` count on a CPU partial list)."""
    slab_word3(state, position)            # validates
    pm = m.pagemap_of(pfn)
    if int(pm.kind[pfn - pm.start_pfn]) not in (PageKind.SLAB, PageKind.SLAB_HEAD):
        raise ValueError(f"pfn {pfn:#x} is not the head page of a slab")
    m.slab_states[pfn] = (state, position if state == "cpu_partial" else 0)


def slab_looks_movable(m: "Machine", pfn: int) -> bool:
    """__folio_test_movable() of the slab at ``pfn``: only on kernels whose struct slab overlays mapping."""
    if not m.kernel.slab_mapping_aliases_movable:
        return False
    return (slab_word3(*slab_state(m, pfn)) & 3) == 2


def slab_heads(m: "Machine", start_pfn: int, end_pfn: int) -> list[int]:
    """Head pfns of the slabs in a range of one memory block."""
    pm = m.pagemap_of(start_pfn)
    lo, hi = start_pfn - pm.start_pfn, end_pfn - pm.start_pfn
    kinds = pm.kind[lo:hi]
    import numpy as np
    idx = np.nonzero((kinds == PageKind.SLAB) | (kinds == PageKind.SLAB_HEAD))[0]
    return [pm.start_pfn + lo + int(i) for i in idx]


def slab_memory_going_offline(m: "Machine") -> None:
    """slab_mem_going_offline_callback(): flush_all_cpus_locked() puts every CPU's slabs on node partial lists."""
    m.trace.record("slab_mem_going_offline_callback", "mm/slub.c")
    for pfn in list(m.slab_states):
        m.slab_states[pfn] = ("node", 0)
