"""ipywidgets + bokeh views of the ``workbook`` model; no model logic lives here."""
from __future__ import annotations

from widgets._bokeh import bokeh_widget, load_bokeh

__all__ = ["bokeh_widget", "load_bokeh"]
