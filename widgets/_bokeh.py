"""Bokeh plumbing shared by every chapter: inline BokehJS and figures as ipywidgets."""
from __future__ import annotations

from bokeh.io import output_notebook
from bokeh.models import LayoutDOM
from bokeh.resources import Resources
from jupyter_bokeh.widgets import BokehModel

__all__ = ["bokeh_widget", "load_bokeh"]


def load_bokeh() -> None:
    """Load BokehJS inline (core only, no CDN) into the notebook; call once per chapter."""
    output_notebook(Resources(mode="inline", components=["bokeh"]), hide_banner=True)


def bokeh_widget(model: LayoutDOM) -> BokehModel:
    """Wrap a bokeh figure or layout as an ipywidget that Python callbacks can update."""
    return BokehModel(model)
