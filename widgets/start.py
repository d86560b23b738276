"""Chapter 00's views: what does a struct page cost? and which kernels does the model follow?

Pick an architecture and an amount of hot-added memory; a bar chart and two labels
show how much memmap (``struct page`` array) that memory needs.  Every number comes
from :mod:`workbook.arch`; this module only lays it out.  :func:`kernel_overview` lays
out the model's kernel profiles and the changes of :data:`workbook.kernel.CHANGES` that
touch the memmap of hot-added memory, in words a first-time reader can follow, each with
the chapters that teach it.
"""
from __future__ import annotations

from typing import Any

from bokeh.models import ColumnDataSource, LabelSet, Range1d
from bokeh.plotting import figure
from ipywidgets import HTML, Dropdown, HBox, Label, Layout, SelectionSlider, VBox

from widgets._bokeh import bokeh_widget
from widgets import palette
from widgets._common import display_bundle, summary_html
from widgets.units import format_bytes
from workbook.arch import ARCHES, GiB, MiB, ArchProfile, get_arch
from workbook.captures import capture_dirs
from workbook.kernel import KERNELS, changes_between, get_kernel

__all__ = ["HOT_ADD_SIZES", "MemmapCost", "OVERVIEW", "OVERVIEW_BEGIN", "OVERVIEW_END", "block_size", "captured_kernels", "kernel_overview",
           "size_options"]

#: Candidate hot-add sizes, 128 MiB .. 64 GiB in log-ish steps (1, 1.5, 2 x powers of two).
HOT_ADD_SIZES: tuple[int, ...] = (
    128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB, 3 * GiB, 4 * GiB, 6 * GiB,
    8 * GiB, 12 * GiB, 16 * GiB, 24 * GiB, 32 * GiB, 48 * GiB, 64 * GiB,
)

_BAR_FLOOR_MIB = 0.1  # bars start here on the log axis (smallest memmap shown is 0.25 MiB)


def block_size(arch: ArchProfile) -> int:
    """The arch's default memory block size (``default_block_size``, else one section)."""
    return arch.default_block_size or arch.section_size


def size_options(arch: ArchProfile) -> list[tuple[str, int]]:
    """Slider options for ``arch``: the candidate sizes that are whole memory blocks."""
    block = block_size(arch)
    return [(format_bytes(s), s) for s in HOT_ADD_SIZES if s >= block and s % block == 0]


class MemmapCost:
    """Dropdown (architecture) + slider (hot-added memory) -> memmap size, as bars and text."""

    def __init__(self, arch: str = "x86_64", size: int = 12 * GiB) -> None:
        """Build the controls, the figure and the labels, then draw ``arch`` and ``size``."""
        profile = get_arch(arch)
        self.arch = Dropdown(options=list(ARCHES), value=profile.name, description="architecture",
                             style={"description_width": "initial"})
        self.size = SelectionSlider(options=size_options(profile), value=size, description="hot-add",
                                    continuous_update=False, layout=Layout(width="420px"))
        self.unit = Label()
        self.summary = Label()
        self.per_block = Label()
        self.figure_summary = HTML()
        self.source = ColumnDataSource(data={
            "what": ["hot-added memory", "memmap (struct pages)"],
            "mib": [1.0, 1.0], "bottom": [_BAR_FLOOR_MIB] * 2,
            "text": ["", ""], "color": list(palette.START),
        })
        self.fig = figure(x_range=list(self.source.data["what"]), y_axis_type="log",
                          y_range=Range1d(_BAR_FLOOR_MIB, 10.0), width=560, height=320,
                          tools="", toolbar_location=None, y_axis_label="MiB (log scale)")
        self.fig.vbar(x="what", top="mib", bottom="bottom", width=0.6, color="color", source=self.source)
        self.fig.add_layout(LabelSet(x="what", y="mib", text="text", source=self.source,
                                     text_align="center", y_offset=4, text_font_size="11pt"))
        self.fig.xgrid.grid_line_color = None
        self._switching_arch = False
        self._redraw()                      # before wrapping: the widget's first render is current
        self.plot = bokeh_widget(self.fig)
        self.view = VBox([HBox([self.arch, self.size, self.unit]), self.summary, self.per_block, self.plot,
                          self.figure_summary])
        self.arch.observe(self._on_arch, names="value")
        self.size.observe(self._on_size, names="value")

    @property
    def profile(self) -> ArchProfile:
        """The selected :class:`~workbook.arch.ArchProfile`."""
        return get_arch(self.arch.value)

    def _on_arch(self, change: dict[str, Any]) -> None:
        """Offer the new arch's block multiples, keep the size if it still fits, redraw."""
        options = size_options(self.profile)
        values = [v for _, v in options]
        wanted = self.size.value
        self._switching_arch = True
        try:
            self.size.options = options
            self.size.value = next((v for v in values if v >= wanted), values[-1])
        finally:
            self._switching_arch = False
        self._redraw()

    def _on_size(self, change: dict[str, Any]) -> None:
        """Redraw after the slider moved (not while the arch switch rebuilds its options)."""
        if not self._switching_arch:
            self._redraw()

    def _redraw(self) -> None:
        """Push the numbers of the current arch and size into the labels and the figure."""
        arch, size = self.profile, self.size.value
        nr_pages = size // arch.page_size
        memmap = arch.memmap_bytes(nr_pages)
        block = block_size(arch)
        block_pages = block // arch.page_size
        self.source.data = {
            **self.source.data,
            "mib": [size / MiB, memmap / MiB],
            "text": [format_bytes(size), format_bytes(memmap)],
        }
        self.fig.y_range.end = size / MiB * 4
        self.fig.title.text = f"{arch.name}: {format_bytes(size)} hot-added needs {format_bytes(memmap)} of memmap"
        self.summary.value = (
            f"{format_bytes(size)} = {nr_pages:,} pages of {format_bytes(arch.page_size)}; "
            f"memmap = {nr_pages:,} x {arch.struct_page_size} B = {format_bytes(memmap)} "
            f"= {arch.memmap_pages(nr_pages):,} pages ({memmap / size:.2%} of the range)"
        )
        self.unit.value = f"(whole {format_bytes(block)} memory blocks)"
        self.figure_summary.value = summary_html(
            f"Two bars on a log scale, {arch.name}: {format_bytes(size)} of hot-added memory and the "
            f"{format_bytes(memmap)} of memmap that describes it ({memmap / size:.2%}, 1/{size // memmap}).")
        self.per_block.value = (
            f"per {format_bytes(block)} memory block: {format_bytes(arch.memmap_bytes(block_pages))} "
            f"of memmap = {arch.memmap_pages(block_pages):,} pages"
        )

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget (with the figure's current state) when a cell ends with this object."""
        return display_bundle(self.view, [self.plot], **kwargs)


#: Chapter 00 holds :func:`kernel_overview` between these markers, as Markdown a reader sees without
#: running anything; ``tests/test_widgets_start.py`` keeps the two equal.
OVERVIEW_BEGIN, OVERVIEW_END = "<!-- kernel-overview:begin -->", "<!-- kernel-overview:end -->"

#: The changes of :data:`workbook.kernel.CHANGES` that chapter 00's overview names, keyed by
#: (switch, release where it starts or, for a change that went again, ends), in plain words,
#: with the chapters that teach them.  Every key must name a change of the table (a test checks).
OVERVIEW: dict[tuple[str, tuple[int, int]], tuple[str, str]] = {
    ("memmap_on_memory", (5, 13)): (
        "memmap-on-memory merged: with the boot option `memory_hotplug.memmap_on_memory=1`, hot-added memory "
        "can hold its own memmap at its start, but only an add of exactly one memory block", "02, 05"),
    ("selfhosted_reserved", (5, 13)): (
        "those memmap pages carry the page flag `PageReserved` (\"not for the allocator\")", "05, 08"),
    ("hvo_excludes_memmap_on_memory", (5, 14)): (
        "switching on HVO, a saving on the memmap of huge pages, switched memmap-on-memory off (6.0 lets "
        "the two work together)", "11"),
    ("hvo_excludes_memmap_on_memory", (6, 0)): ("HVO and memmap-on-memory work together again", "11"),
    ("vmemmap_self_hosted_flag", (6, 0)): (
        "the memmap pages also get a flag of their own, `VmemmapSelfHosted`", "05, 08"),
    ("slab_mapping_aliases_movable", (6, 2)): (
        "offlining a block can retry until it is interrupted when a kernel page there looks movable", "07"),
    ("slab_mapping_aliases_movable", (6, 17)): (
        "offlining a block with an unmovable kernel page fails at once again (`EBUSY`), where 6.2 to 6.16 could "
        "retry until interrupted", "07"),
    ("memmap_force_mode", (6, 6)): (
        "`memmap_on_memory=force`: the memmap rounded up to whole pageblocks (the page allocator's 2 MiB units "
        "on x86_64), the rest wasted", "05, 11"),
    ("altmap_in_memory_block", (6, 6)): (
        "the memory block keeps the description of its memmap (its altmap) until it is removed", "04, 09"),
    ("unsupported_flag_fails", (6, 6)): (
        "an add that cannot hold its own memmap takes it from other memory instead of failing", "05"),
    ("altmap_per_block", (6, 8)): (
        "an add of several memory blocks qualifies too: each block holds its own memmap", "05, 11"),
    ("vmstat_memmap_pages", (6, 11)): ("`/proc/vmstat` counts the memmap pages (`nr_memmap_pages`)", "01, 03"),
    ("selfhosted_reserved", (6, 11)): (
        "the memmap pages are no longer `PageReserved`; only `VmemmapSelfHosted` marks them", "08"),
    ("kpf_offline_reads_zero", (6, 16)): (
        "`/proc/kpageflags` reads 0 for a page of memory that is not online, where it read `NOPAGE`", "01, 08"),
    ("movable_gigantic_pages", (6, 19)): (
        "a setting (`vm.movable_gigantic_pages`, off by default) may put 1 GiB huge pages in movable memory",
        "11"),
}

#: What the first profile (before the feature) says, in the same words.
BEFORE = ("no memmap-on-memory: the memmap of hot-added memory always comes from memory the machine already has, "
          "and the boot option `memory_hotplug.memmap_on_memory` is ignored without a word", "03, 05")


def _release(v: tuple[int, int]) -> str:
    return f"{v[0]}.{v[1]}"


def captured_kernels() -> dict[str, list[str]]:
    """The kernels the workbook ships real captures of, each with its scenario letters (``{"6.1": ["A", ...]}``)."""
    out: dict[str, list[str]] = {}
    for d in capture_dirs():
        out.setdefault(d.parent.name, []).append(d.name)
    return {k: sorted(out[k]) for k in sorted(out, key=lambda k: get_kernel(k).version)}


def _scenarios(letters: list[str]) -> str:
    """``A-K`` for a run of consecutive letters, else ``A, B``."""
    codes = [ord(x) for x in letters]
    if len(codes) > 2 and codes == list(range(codes[0], codes[0] + len(codes))):
        return f"{letters[0]}-{letters[-1]}"
    return ", ".join(letters)


def kernel_overview() -> str:
    """Markdown: one row per kernel profile of the model, what is new there for the memmap, where it is taught.

    Built from :data:`workbook.kernel.KERNELS` and :data:`~workbook.kernel.CHANGES`: a change the
    overview names appears in the row of the first profile that has it, marked with its own release.
    """
    captured = captured_kernels()
    rows = ["| kernel | what is new for hot-added memory and its memmap | taught in | real captures |",
            "|---|---|---|---|"]
    names = list(KERNELS)
    for i, name in enumerate(names):
        if i == 0:
            items = [BEFORE]
        else:
            old, new = KERNELS[names[i - 1]].version, KERNELS[name].version
            items = []
            for c in changes_between(names[i - 1], name):
                events = [w for w in (c.since, c.until) if w is not None and old < w <= new]
                when = events[0]                           # both in this row: the span, in the start's words
                text, chapters = OVERVIEW.get((c.switch, when), ("", ""))
                if not text:
                    continue
                label = f"{c.release} only" if len(events) == 2 else _release(when)
                items.append((when, f"({label}) {text}" if label != name else text, chapters))
            items = [(t, ch) for _, t, ch in sorted(items, key=lambda x: x[0])]
        what = "; ".join(t for t, _ in items) if items else "nothing new for the memmap"
        where = ", ".join(sorted({ch for _, chs in items for ch in chs.split(", ")}))
        shots = f"{_scenarios(captured[name])}" if name in captured else ""
        rows.append(f"| **{name}** | {what} | {where} | {shots} |")
    return "\n".join(rows) + "\n"
