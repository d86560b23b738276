"""memhotplug-workbook: a tested model of Linux memory hotplug and memmap-on-memory.

The package mirrors the kernel's own files: ``arch`` (asm/*.h geometry),
``memory_hotplug`` (mm/memory_hotplug.c), ``memory`` (drivers/base/memory.c), ...
It imports no UI library; ``widgets`` views it.
"""
from __future__ import annotations

__version__ = "0.1.0"

from .arch import ARCHES, ArchProfile, get_arch  # noqa: E402

__all__ = ["__version__", "ArchProfile", "ARCHES", "get_arch"]
