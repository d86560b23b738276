"""The glossary: every term is in the glossary chapter, and the search box finds terms."""
from __future__ import annotations

from pathlib import Path

import nbformat

from widgets.glossary import CHAPTERS, GROUPS, TERMS, GlossaryLookup, chapter_texts, find, first_uses, table_markdown

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


def test_tables_are_what_the_chapters_give_now() -> None:
    """Each group's table in the chapter is table_markdown(): 'first used in' computed from chapters 00-11."""
    nb = nbformat.read(CHAPTER, as_version=4)
    for group in GROUPS:
        cell = next(c.source for c in nb.cells if c.cell_type == "markdown" and c.source.startswith(f"## {group}\n"))
        assert cell == table_markdown(group), f"{group}: run python tools/glossary_tables.py"


def test_every_term_is_used_and_named_where_it_is_defined() -> None:
    texts = chapter_texts()
    assert sorted(texts) == sorted(CHAPTERS)
    first = first_uses(texts)
    for t in TERMS:
        assert t.pattern.search(texts[t.defined]), f"{t.name}: chapter {t.defined}, said to define it, never names it"
        assert first[t.name] is not None and first[t.name] <= t.defined, t.name


def test_first_use_follows_the_text_not_a_table() -> None:
    """Moving a word into an earlier chapter moves the term's first use there; contents and Next: lines do not."""
    texts = {n: "" for n in CHAPTERS}
    texts["03"] = "the zone's managed pages"
    texts["05"] = "a pfn walker skips them"
    assert first_uses(texts)["spanned / present / managed"] == "03"
    assert first_uses(texts)["pfn walker"] == "05"
    texts["01"] = "Every pfn walker (chapter 08) asks pfn_to_online_page() first."
    assert first_uses(texts)["pfn walker"] == "01"
    from widgets.glossary import _NOT_A_USE
    assert _NOT_A_USE.sub("", "| 08 | pfn walkers | which walkers skip |\n**Next:** chapter 08, pfn walkers.") == "\n"


def test_lookup_shows_both_columns() -> None:
    g = GlossaryLookup("pageblock")
    assert "first used in</th><th>defined in" in g.output.value
    assert f"<td>{first_uses()['pageblock']}</td><td>01</td>" in g.output.value
