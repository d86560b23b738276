"""tests/nbval_sanitize.cfg hides only what really varies between runs, never a model value.

nbval replaces every match of the config's regexes before it compares a stored output with
a fresh one, so a regex that also matches a model value ("the 512-page block starts at
0x100200") silently stops that value from being checked.  These tests read the config the
way nbval reads it and run every regex over every stored output of chapters/: each match
must lie inside one of the volatile shapes below, which are written here, apart from the
config.
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest
from nbval.plugin import get_sanitize_patterns

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "nbval_sanitize.cfg"
NOTEBOOKS = sorted((ROOT / "chapters").glob("*.ipynb"))

# What may differ from one run of a notebook to the next: a regex of the config may only
# ever match inside one of these.
VOLATILE = {
    "uuid4": re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"),
    "bokeh model id": re.compile(r"""id(?:=|": ?)(['"])p\d{4,}\1"""),
    "address in a default repr": re.compile(r"<[^<>\n]+ at 0x[0-9a-f]{8,16}>"),
}

# One instance of each volatile shape: every regex of the config must hide at least one.
VOLATILE_EXAMPLES = [
    "run 3f2b8c1e-9d4a-4c7b-a1e2-0b9c8d7e6f5a started",
    "figure(id='p1001', ...)",
    '{"type": "object", "id": "p1042"}',
    "<workbook.machine.Machine object at 0x7f3a2c1b5e10>",
    "<function walk at 0x7fe0c4a1d080>",
]

# Lines the model prints (taken from stored outputs): no regex of the config may change them,
# whether or not a chapter prints them today.
MODEL_LINES = [
    "next pfn was 0x100002; the 512-page block starts at 0x100200",
    "   -> dimm1: 128 MiB at 0x100000000 on node 1: 1 block(s)",
    "6.1   1 GiB at 0x100000000: {'visited': 258048",
    "0x0000000100000000-0x0000000107ffffff  128M online       yes    32    1 Movable",
    "pfn 0x100200 flags 0x0000000000000400 kpageflags 0x0000000008000000",
    "memory32 phys_index 00000020 block_size_bytes 8000000",
    "struct page of pfn 0x100000 at 0xffffea0004000000",
]

# Output keys nbval leaves out of its comparison (nbval.plugin.IPyNbFile.skip_compare, and
# images unless --nbdime): what a regex does there cannot hide anything.
NOT_COMPARED = {"metadata", "traceback", "prompt_number", "output_type", "name", "execution_count",
                "application/vnd.jupyter.widget-view+json", "image/png", "image/jpeg"}


def sanitize_patterns() -> list[tuple[str, str]]:
    """The (regex, replace) pairs exactly as nbval reads them from the config."""
    return get_sanitize_patterns(CONFIG.read_text())


def compared_texts(path: Path) -> list[tuple[str, str]]:
    """(where, text) of every string nbval compares in the stored outputs of one notebook."""
    nb = nbformat.read(path, as_version=4)
    out = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            for key, value in output.items():
                if key in NOT_COMPARED:
                    continue
                values = value.items() if key == "data" else [(key, value)]
                for name, text in values:
                    if name not in NOT_COMPARED and isinstance(text, str):
                        out.append((f"{path.name} cell {index} {name}", text))
    return out


def unexplained_matches(regex: str, text: str) -> list[str]:
    """The matches of ``regex`` in ``text`` that lie inside no volatile shape."""
    spans = [m.span() for shape in VOLATILE.values() for m in shape.finditer(text)]
    bad = []
    for m in re.finditer(regex, text):
        if not any(lo <= m.start() and m.end() <= hi for lo, hi in spans):
            bad.append(text[max(0, m.start() - 40):m.end() + 20])
    return bad


def test_nbval_reads_every_regex_of_the_config() -> None:
    lines = re.findall(r"^regex: ", CONFIG.read_text(), flags=re.MULTILINE)
    patterns = sanitize_patterns()
    assert patterns and len(patterns) == len(lines), "a regex line without its replace line is ignored by nbval"
    for regex, _ in patterns:
        re.compile(regex)


def test_the_stored_outputs_are_read() -> None:
    texts = [t for nb in NOTEBOOKS for _, t in compared_texts(nb)]
    assert len(NOTEBOOKS) >= 12 and len(texts) > 100
    assert any("the 512-page block starts at 0x100200" in t for t in texts)


@pytest.mark.parametrize("regex", [r for r, _ in sanitize_patterns()])
def test_no_regex_hides_a_model_value_in_a_stored_output(regex: str) -> None:
    hidden = [f"{where}: ...{snippet!r}..."
              for nb in NOTEBOOKS for where, text in compared_texts(nb)
              for snippet in unexplained_matches(regex, text)]
    assert not hidden, f"{regex!r} would stop nbval from comparing:\n" + "\n".join(hidden)


@pytest.mark.parametrize("regex", [r for r, _ in sanitize_patterns()])
def test_no_regex_touches_a_model_line(regex: str) -> None:
    assert [line for line in MODEL_LINES if re.search(regex, line)] == []


@pytest.mark.parametrize(("regex", "replace"), sanitize_patterns())
def test_every_regex_hides_a_volatile_shape_whole(regex: str, replace: str) -> None:
    hits = [e for e in VOLATILE_EXAMPLES if re.search(regex, e)]
    assert hits, f"{regex!r} matches none of the volatile examples"
    for example in hits:
        assert not unexplained_matches(regex, example)
        # what varies is gone: the sanitized text contains no volatile shape any more
        assert not any(shape.search(re.sub(regex, replace, example)) for shape in VOLATILE.values())


@pytest.mark.parametrize("example", VOLATILE_EXAMPLES)
def test_every_volatile_example_is_hidden(example: str) -> None:
    text = example
    for regex, replace in sanitize_patterns():
        text = re.sub(regex, replace, text)
    assert text != example
