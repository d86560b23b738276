"""A deliberately naive pfn walker: one Python object per page (kept here only to show why the model does not)."""
from __future__ import annotations

from dataclasses import dataclass

from workbook.machine import Machine
from workbook.pagemap import PageKind


@dataclass
class NaivePage:
    """One struct page as a Python object: what the model avoids."""

    pfn: int
    kind: int
    online: bool


def naive_walk(m: Machine, start_pfn: int, nr: int) -> int:
    """Build a Python object per pfn, then skip reserved/offline ones one by one; returns visited pages."""
    state = m.page_state(start_pfn, nr)
    pages = [NaivePage(start_pfn + i, int(state.kind[i]), bool(state.online[i])) for i in range(nr)]
    visited = 0
    for p in pages:
        if not p.online:
            continue
        if m.kernel.selfhosted_reserved and p.kind == PageKind.SELFHOSTED:
            continue
        visited += 1
    return visited
