"""A progress bar for ``workbook.realkernel.capture.capture()`` in a notebook: one tick per step."""
from __future__ import annotations

from typing import Any

from ipywidgets import HTML, IntProgress, VBox

from widgets._common import esc

__all__ = ["CaptureProgress"]


class CaptureProgress:
    """Pass as ``progress=``: the bar advances after each captured step; each step's line is printed too."""

    def __init__(self, total: int = 1) -> None:
        """An empty bar of ``total`` steps (the capture corrects ``total`` at its first step)."""
        self.bar = IntProgress(value=0, min=0, max=total, description="capture")
        self.label = HTML()
        self.lines: list[str] = []
        self.widget = VBox([self.bar, self.label])

    def __call__(self, event: Any) -> None:
        """One :class:`~workbook.realkernel.capture.StepEvent`: advance, show and print its line."""
        self.bar.max = event.total
        self.bar.value = event.index
        line = event.line()
        self.lines.append(line)
        self.label.value = f"<code>{esc(line)}</code>"
        print(line, flush=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """Display as the bar and its label."""
        return self.widget._repr_mimebundle_(**kwargs)
