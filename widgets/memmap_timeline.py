"""MemmapTimeline: the memmap pages of one hot-added block through hot-add, online, offline and hot-remove.

A kernel dropdown and a stage slider (with step buttons) pick one row of
:func:`workbook.memmap_lifecycle.memmap_lifecycle`; the view shows that row and a small
picture of the block with its memmap pfns coloured by what the stage did to them.  Every
value comes from the model; the rows of a kernel are computed once, when it is first shown.
"""
from __future__ import annotations

from typing import Any

from ipywidgets import HTML, Button, Dropdown, HBox, Layout, SelectionSlider, VBox

from widgets._common import esc
from widgets.pagemap import compact
from widgets.units import format_bytes
from workbook.arch import get_arch
from workbook.kernel import get_kernel
from workbook.memmap_lifecycle import KERNELS_SHOWN, STAGES, MemmapStage, memmap_lifecycle

__all__ = ["MemmapTimeline", "STAGE_COLORS"]

#: The memmap pages' colour at each stage (Okabe-Ito: yellow, vermillion, orange; removed: no fill).
STAGE_COLORS = {"hot-add": "#F0E442", "online": "#D55E00", "offline": "#E69F00", "hot-remove": "#FFFFFF"}
_NODE_COLOR = "#56B4E9"                                # memmap pages in node memory (sky blue)
_BLOCK_COLORS = {"offline": "#DDDDDD", "online": "#CFE8DC", "-": "#FFFFFF"}
_BAR_PX, _MIN_PX = 560, 10
_STAGE_WORDS = {"hot-add": "allocated and mapped, not initialised", "online": "initialised, in the zone",
                "offline": "deinitialised, still mapped", "hot-remove": "unmapped, gone with the block"}


def _box(width: int, color: str, text: str = "", dashed: bool = False, title: str = "", cls: str = "") -> str:
    border = "1px dashed #666" if dashed else "1px solid #666"
    c = f" class='{cls}'" if cls else ""
    return (f"<div{c} title='{esc(title)}' style='display:inline-block;box-sizing:border-box;width:{width}px;"
            f"height:34px;background:{color};border:{border};vertical-align:top;font-size:11px;line-height:32px;"
            f"text-align:center;overflow:hidden;white-space:nowrap'>{esc(text)}</div>")


class MemmapTimeline:
    """Kernel dropdown + stage slider: the row of the memmap pages' timeline and a picture of the block."""

    def __init__(self, kernel: str = "6.12", stage: str = "hot-add", kernels: tuple[str, ...] = KERNELS_SHOWN,
                 **lifecycle_args: Any) -> None:
        """Show ``kernel`` at ``stage``; ``lifecycle_args`` go to :func:`memmap_lifecycle` (arch, dimm_bytes, ...)."""
        self.args = lifecycle_args
        self._rows: dict[str, list[MemmapStage]] = {}
        self.kernel = Dropdown(options=list(kernels), value=kernel, description="kernel",
                               style={"description_width": "initial"}, layout=Layout(width="160px"))
        self.stage = SelectionSlider(options=list(STAGES), value=stage, description="stage",
                                     continuous_update=False, layout=Layout(width="420px"))
        self.back = Button(description="back", icon="step-backward", layout=Layout(width="80px"))
        self.next = Button(description="next", icon="step-forward", layout=Layout(width="80px"))
        self.picture = HTML()
        self.row_html = HTML()
        self.kernel.observe(lambda _c: self.refresh(), names="value")
        self.stage.observe(lambda _c: self.refresh(), names="value")
        self.back.on_click(lambda _b: self.step(-1))
        self.next.on_click(lambda _b: self.step(+1))
        self.refresh()
        self.widget = VBox([HBox([self.kernel, self.stage, self.back, self.next]), self.picture, self.row_html])

    def rows(self, kernel: str | None = None) -> list[MemmapStage]:
        """The four rows of ``kernel`` (default: the selected one), computed on first use."""
        k = kernel or self.kernel.value
        if k not in self._rows:
            self._rows[k] = memmap_lifecycle(k, **self.args)
        return self._rows[k]

    @property
    def row(self) -> MemmapStage:
        """The row shown."""
        return self.rows()[STAGES.index(self.stage.value)]

    def step(self, delta: int) -> None:
        """Go ``delta`` stages forward (or back), stopping at the ends."""
        i = min(max(STAGES.index(self.stage.value) + delta, 0), len(STAGES) - 1)
        self.stage.value = STAGES[i]

    def refresh(self) -> None:
        """Redraw the picture and the row for the selected kernel and stage."""
        r = self.row
        i = STAGES.index(r.stage)
        self.back.disabled, self.next.disabled = i == 0, i == len(STAGES) - 1
        self.picture.value = self._picture(r)
        fields = [("functions", "kernel functions", r.functions), ("block_state", "memoryN/state", r.block_state),
                  ("where", "memmap pages", r.where), ("mapped", "mapped in the vmemmap", "yes" if r.mapped else "no"),
                  ("struct_pages", "their struct pages", r.struct_pages),
                  # the field is mem->nr_vmemmap_pages up to 6.5; 6.6+ keep the number in mem->altmap->free
                  ("nr_vmemmap_pages", "memmap pages the block records" + (
                      " (mem->altmap->free)" if get_kernel(r.kernel).altmap_in_memory_block else " (mem->nr_vmemmap_pages)"
                      if get_kernel(r.kernel).memmap_on_memory else " (no such field before 5.13)"),
                   "-" if r.nr_vmemmap_pages is None else r.nr_vmemmap_pages),
                  ("altmap", "altmap", r.altmap), ("zone", "zone of the memmap pages", r.zone),
                  ("nr_memmap_pages", "/proc/vmstat nr_memmap_pages",
                   "no such line" if r.nr_memmap_pages is None else r.nr_memmap_pages),
                  ("kpageflags", f"/proc/kpageflags of pfn {r.kpf_pfn:#x}",
                   f"{r.kpageflags_names} ({r.kpageflags:#x})")]
        self.row_html.value = compact(
            "<table class='memmap-timeline-row' style='font-size:12px;border-collapse:collapse'>"
            + "".join(f"<tr data-field='{key}' data-value='{esc(v)}'><td style='white-space:nowrap;color:#444'>"
                      f"{esc(k)}</td><td><code>{esc(v)}</code></td></tr>" for key, k, v in fields) + "</table>")

    def _picture(self, r: MemmapStage) -> str:
        """The block as a bar: its memmap pfns (or, elsewhere, node 0's pages that hold them) coloured by stage."""
        nr = r.block_pfns[1] - r.block_pfns[0]
        attrs = (f"data-kernel='{esc(r.kernel)}' data-stage='{esc(r.stage)}' data-kpageflags='{r.kpageflags:#x}' "
                 f"data-mapped='{int(r.mapped)}' data-block-state='{esc(r.block_state)}'")
        gone = r.block_state == "-"
        block_color = _BLOCK_COLORS.get(r.block_state, "#FFFFFF")
        parts = []
        if r.memmap_pfns is not None:
            first, end = r.memmap_pfns
            n = end - first
            w = max(round(_BAR_PX * n / nr), _MIN_PX)
            scale = "to scale" if w > _MIN_PX else "widened to be seen"
            memmap = _box(w, STAGE_COLORS[r.stage], "", dashed=gone, cls="memmap-pfns",
                          title=f"pfns {first:#x}-{end - 1:#x}: the block's memmap ({n} pages): "
                                f"{_STAGE_WORDS[r.stage]}")
            parts.append(memmap + _box(_BAR_PX - w, block_color, f"{r.block}: {r.block_state}" if not gone
                                       else f"{r.block}: removed", dashed=gone))
            note = (f"memmap pfns {first:#x}-{end - 1:#x} ({n} of the block's {nr:,} pfns, {scale}): "
                    f"{_STAGE_WORDS[r.stage]}")
        else:
            node = _box(120, _NODE_COLOR if r.mapped else "#FFFFFF", r.zone if r.mapped else "freed",
                        dashed=not r.mapped, cls="memmap-pfns",
                        title="the pages of node memory that hold this block's struct pages")
            parts.append(node + "<span style='display:inline-block;width:16px'></span>"
                         + _box(_BAR_PX - 136, block_color, f"{r.block}: {r.block_state}" if not gone
                                else f"{r.block}: removed", dashed=gone))
            note = ("the block's memmap is not on the block: it lives in node memory "
                    + ("(allocated at hot-add)" if r.mapped else "(freed at hot-remove)"))
        steps = " &rarr; ".join(
            f"<span style='white-space:nowrap;{'font-weight:bold' if s == r.stage else 'color:#555'}'>"
            f"<span style='display:inline-block;width:10px;height:10px;background:{STAGE_COLORS[s]};border:1px "
            f"{'dashed' if s == 'hot-remove' else 'solid'} #666'></span> {esc(s)}: {esc(_STAGE_WORDS[s])}</span>"
            for s in STAGES)
        return (f"<div class='memmap-timeline' {attrs} style='font-size:12px'>"
                f"<div style='margin:2px 0'>{steps}</div>{''.join(parts)}"
                f"<div style='margin:2px 0;color:#333'>{esc(note)}; {esc(format_bytes(nr * self._page_size()))} "
                f"block</div></div>")

    def _page_size(self) -> int:
        return get_arch(self.args.get("arch", "x86_64")).page_size

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
