"""The real-kernel captures shipped with the workbook (Linux 6.1 and 6.12 under QEMU; see data/captures/README.md)."""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["CAPTURES_DIR", "capture_dirs", "capture_dir", "load_scenario", "step_file"]

CAPTURES_DIR = Path(__file__).resolve().parent / "data" / "captures"


def capture_dirs(root: str | os.PathLike | None = None) -> list[Path]:
    """Every capture folder (one holding ``scenario.json``) under ``root`` (default: the shipped ones)."""
    base = Path(root) if root is not None else CAPTURES_DIR
    return sorted(p.parent for p in base.glob("**/scenario.json"))


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
