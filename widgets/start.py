"""Chapter 00 widget: what does a struct page cost?

Pick an architecture and an amount of hot-added memory; a bar chart and two labels
show how much memmap (``struct page`` array) that memory needs.  Every number comes
from :mod:`workbook.arch`; this module only lays it out.
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

__all__ = ["HOT_ADD_SIZES", "MemmapCost", "block_size", "size_options"]

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
