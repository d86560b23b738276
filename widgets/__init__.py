"""ipywidgets + bokeh views of the ``workbook`` model; no model logic lives here."""
from __future__ import annotations

from widgets._bokeh import bokeh_widget, load_bokeh
from widgets.blockmap import BlockMapView
from widgets.compare import VersionCompare
from widgets.controls import ControlPanel
from widgets.counters import CountersView
from widgets.dax import DaxDeviceView
from widgets.dashboard import Workbench
from widgets.geometry import GeometryExplorer
from widgets.memmap_timeline import MemmapTimeline
from widgets.pagemap import PageMapView
from widgets.vmemmap import VmemmapView
from widgets.walker import WalkerAnimation

__all__ = ["bokeh_widget", "load_bokeh", "BlockMapView", "ControlPanel", "CountersView", "DaxDeviceView",
           "GeometryExplorer", "MemmapTimeline", "PageMapView", "VersionCompare", "VmemmapView", "WalkerAnimation",
           "Workbench"]
