"""GeometryExplorer: how big is a block's memmap, and may it live on the block (memmap_on_memory)?

Each change boots a throw-away ``Machine`` (about a millisecond) with the chosen
architecture, sizeof(struct page), block size, kernel and ``memory_hotplug.memmap_on_memory``
mode, then asks ``workbook.memory_hotplug`` the kernel's questions.
"""
from __future__ import annotations

from typing import Any

from ipywidgets import HTML, Dropdown, HBox, VBox

from widgets._common import esc
from widgets.units import format_bytes
from workbook.arch import ARCHES, GiB, get_arch
from workbook.errors import KernelError
from workbook.kernel import KERNELS
from workbook.machine import Machine
from workbook.memory_hotplug import (memmap_on_memory_refusal, memory_block_memmap_on_memory_pages,
                                     memory_block_memmap_size)

__all__ = ["GeometryExplorer", "MODES", "block_sizes"]

MODES = ("0", "1", "force")
STRUCT_PAGE_SIZES = tuple(range(56, 97, 8))
_STYLE = {"description_width": "initial"}


def block_sizes(arch_name: str, largest: int = 16 * GiB) -> list[int]:
    """Block sizes an architecture can have: powers of two from one section up to ``largest``."""
    a = get_arch(arch_name)
    out, s = [], a.section_size
    while s <= max(largest, a.section_size):
        out.append(s)
        s *= 2
    return out


class GeometryExplorer:
    """Arch, block size, sizeof(struct page), kernel, memmap_on_memory mode -> memmap size and the kernel's verdict."""

    def __init__(self, arch: str = "x86_64", kernel: str = "6.12", block_size: int | None = None,
                 struct_page: int = 64, mode: str = "1") -> None:
        """Build the controls and show the first answer."""
        a = get_arch(arch)
        self.arch = Dropdown(options=list(ARCHES), value=a.name, description="architecture", style=_STYLE)
        self.block_size = Dropdown(options=[], description="block size", style=_STYLE)
        self.struct_page = Dropdown(options=list(STRUCT_PAGE_SIZES), value=struct_page,
                                    description="sizeof(struct page)", style=_STYLE)
        self.kernel = Dropdown(options=list(KERNELS), value=kernel, description="kernel", style=_STYLE)
        self.mode = Dropdown(options=[(f"memmap_on_memory={v}", v) for v in MODES], value=mode,
                             description="cmdline", style=_STYLE)
        self.output = HTML()
        self.machine: Machine | None = None
        self._result: dict[str, Any] = {}
        self._updating = False
        self._fill_block_sizes(block_size)
        self.arch.observe(self._on_arch, names="value")
        for w in (self.block_size, self.struct_page, self.kernel, self.mode):
            w.observe(lambda _c: self.refresh(), names="value")
        self.widget = VBox([HBox([self.arch, self.kernel, self.mode]), HBox([self.block_size, self.struct_page]),
                            self.output])
        self.refresh()

    def _default_block_size(self) -> int:
        a = get_arch(self.arch.value)
        return a.default_block_size or (128 << 20 if a.name.startswith("x86_64") else a.section_size)

    def _fill_block_sizes(self, want: int | None) -> None:
        sizes = block_sizes(self.arch.value)
        want = want if want in sizes else self._default_block_size()
        self._updating = True
        try:
            self.block_size.options = [(format_bytes(s), s) for s in sizes]
            self.block_size.value = want if want in sizes else sizes[0]
        finally:
            self._updating = False

    def _on_arch(self, _change: dict[str, Any]) -> None:
        self._fill_block_sizes(None)
        self.refresh()

    def result(self) -> dict[str, Any]:
        """The numbers shown: memmap bytes and pages per block, allowed, refusal reason, force-mode waste."""
        return dict(self._result)

    def refresh(self) -> None:
        """Boot a throw-away machine with the chosen settings and ask the model's questions."""
        if self._updating:
            return
        arch = get_arch(self.arch.value)
        if self.struct_page.value != arch.struct_page_size:
            arch = arch.with_struct_page(self.struct_page.value)
        mode = self.mode.value
        cmdline = f"memory_hotplug.memmap_on_memory={mode}"
        try:
            m = Machine(self.kernel.value, arch, cmdline=cmdline, block_size=self.block_size.value)
        except (KernelError, ValueError) as e:
            self.machine, self._result = None, {"error": str(e)}
            self.output.value = f"<div class='geometry' data-error='1' style='color:#b00020'>{esc(e)}</div>"
            return
        self.machine = m
        bs = m.block_size
        nr = bs >> arch.page_shift
        memmap = memory_block_memmap_size(m)
        exact = arch.memmap_pages(nr)
        pages = memory_block_memmap_on_memory_pages(m)
        refusal = memmap_on_memory_refusal(m)
        r = {"arch": arch.name, "kernel": m.kernel.name, "page_size": arch.page_size, "block_size": bs,
             "block_pages": nr, "struct_page": arch.struct_page_size, "memmap_bytes": memmap,
             "memmap_pages": exact, "vmemmap_pages": pages, "allowed": refusal is None, "refusal": refusal,
             "mode": m.params.memmap_on_memory, "wasted_pages": pages - exact,
             "pageblock_pages": arch.pageblock_nr_pages,
             "pmd_size": arch.pmd_size, "cmdline_log": list(m.params.log)}
        self._result = r
        verdict = ("<b style='color:#1a7f37'>allowed</b>: the memmap is placed at the start of each block"
                   if refusal is None else f"<b style='color:#b00020'>refused</b>: {esc(refusal)}")
        rows = [
            ("page size", format_bytes(arch.page_size)),
            ("block size", f"{format_bytes(bs)} = {nr:,} pages"),
            ("memmap of one block", f"{nr:,} x {arch.struct_page_size} B = {format_bytes(memmap)} "
                                    f"({memmap:,} bytes) = {exact:,} pages"),
            ("pageblock / PMD", f"{arch.pageblock_nr_pages:,} pages / {format_bytes(arch.pmd_size)}"),
            ("memmap_on_memory mode", f"{m.params.memmap_on_memory} ({m.params.memmap_mode})"),
            ("vmemmap pages per block, if on memory", f"{pages:,} ({pages / nr:.2%} of the block): "
                                                      "memory_block_memmap_on_memory_pages()"),
        ]
        if m.params.memmap_on_memory == "force":
            waste = format_bytes((pages - exact) * arch.page_size)
            rows.append(("wasted by force padding", f"{pages - exact:,} pages ({waste})"))
        asked = {"0": "N", "1": "Y", "force": "force"}[mode]
        if asked != m.params.memmap_on_memory:
            rows.append(("command line", f"memmap_on_memory={mode} was read as {m.params.memmap_on_memory} "
                                          f"by {m.kernel.label}"))
        for line in m.params.log:
            rows.append(("command line", f"{line} (ignored)"))
        self.output.value = (
            f"<div class='geometry' data-allowed='{int(refusal is None)}' data-vmemmap-pages='{pages}' "
            f"data-memmap-bytes='{memmap}'><table style='font-size:13px'>"
            + "".join(f"<tr><td style='padding-right:12px'>{esc(k)}</td><td>{esc(v)}</td></tr>" for k, v in rows)
            + f"</table><div class='verdict'>{m.kernel.label} on {esc(arch.name)}: memmap_on_memory "
            f"{verdict}</div></div>")

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the whole widget."""
        return self.widget._repr_mimebundle_(**kwargs)
