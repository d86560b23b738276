"""The real-kernel captures shipped with the workbook (Linux 6.1 and 6.12 under QEMU; see data/captures/README.md).

The DIMM runs are ``<series>/<scenario>``; the dax/kmem runs ``dax/<series>/<run>``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["CAPTURES_DIR", "capture_dirs", "dax_capture_dirs", "capture_dir", "load_scenario", "step_file"]

CAPTURES_DIR = Path(__file__).resolve().parent / "data" / "captures"


def capture_dirs(root: str | os.PathLike | None = None, dax: bool = False) -> list[Path]:
    """The DIMM capture folders (holding ``scenario.json``) under ``root`` (default: the shipped ones).

    With ``dax=True``, the dax/kmem runs under ``root/dax`` instead (:func:`dax_capture_dirs`).
    """
    base = Path(root) if root is not None else CAPTURES_DIR
    found = sorted(p.parent for p in base.glob("**/scenario.json"))
    return [p for p in found if (p.relative_to(base).parts[0] == "dax") == dax]


def dax_capture_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """The dax/kmem runs: Soft Reserved memory hot-added by kmem (``dax/<kernel>/<run>``)."""
    return capture_dirs(root, dax=True)


def capture_dir(series: str, scenario: str) -> Path:
    """The shipped capture of one kernel series and scenario, e.g. ``capture_dir("6.12", "A")``."""
    p = CAPTURES_DIR / series / scenario
    if not (p / "scenario.json").exists():
        raise FileNotFoundError(f"no capture {series}/{scenario}; have: "
                                + ", ".join(f"{d.parent.name}/{d.name}" for d in capture_dirs()))
    return p


def load_scenario(series: str, scenario: str) -> dict:
    """The parsed ``scenario.json`` of a shipped capture."""
    return json.loads((capture_dir(series, scenario) / "scenario.json").read_text())


def step_file(series: str, scenario: str, step: str, name: str) -> str:
    """The text of one captured file, e.g. ``step_file("6.1", "A", "02-online", "zoneinfo")``."""
    return (capture_dir(series, scenario) / step / name).read_text()
