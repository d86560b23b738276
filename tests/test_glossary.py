"""The glossary: every term is in the glossary chapter, and the search box finds terms."""
from __future__ import annotations

from pathlib import Path

import nbformat

from widgets.glossary import CHAPTERS, GROUPS, TERMS, GlossaryLookup, find

CHAPTER = Path(__file__).resolve().parent.parent / "chapters" / "99_glossary.ipynb"


def test_terms_are_complete_and_unique() -> None:
    names = [t.name for t in TERMS]
    assert len(names) == len(set(names))
    assert all(t.chapter in CHAPTERS and t.group in GROUPS and t.meaning.endswith(".") for t in TERMS)
    for must in ("section", "memory block", "pfn", "struct page", "memmap", "vmemmap", "PageReserved",
                 "VmemmapSelfHosted", "PageOffline", "pfn walker", "HVO", "pageblock", "migratetype", "pcp list"):
        assert any(must.lower() in t.name.lower() for t in TERMS), must


def test_every_term_is_in_the_chapter() -> None:
    text = "\n".join(c.source for c in nbformat.read(CHAPTER, as_version=4).cells if c.cell_type == "markdown")
    for t in TERMS:
        assert t.name.replace("|", "\\|") in text, t.name


def test_lookup_filters() -> None:
    g = GlossaryLookup()
    assert g.output.value.count("<tr>") == len(TERMS) + 1
    g.query.value = "altmap"
    assert {t.name for t in g.matches()} >= {"altmap (struct vmem_altmap)", "per-block altmaps"}
    g.group.value = GROUPS[0]
    assert all(t.group == GROUPS[0] for t in g.matches())
    g.query.value = "no such thing"
    assert "data-count='0'" in g.output.value
    assert [t.name for t in find("NOPAGE")] == ["/proc/kpageflags"]
