"""The real-kernel captures shipped with the workbook (Linux 5.10 to 7.2 under QEMU; see data/captures/README.md).

The DIMM runs are ``<series>/<scenario>``; the dax/kmem runs ``dax/<series>/<run>``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["CAPTURES_DIR", "CaptureError", "capture_dirs", "dax_capture_dirs", "capture_dir", "load_capture_scenario",
           "load_scenario", "step_file"]

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


class CaptureError(ValueError):
    """A capture folder the replay cannot use; the message is one line naming the file and the problem."""


# keys a replay reads, with the type each must have (scenario.json format 1, CAPTURE_FORMAT.md)
_REQUIRED: tuple[tuple[str, type | tuple[type, ...]], ...] = (
    ("kernel", dict), ("kernel.series", str), ("machine", dict), ("machine.nodes", list),
    ("machine.ram_bytes", int), ("machine.maxmem_bytes", int), ("machine.slots", int), ("steps", list))


def load_capture_scenario(path: str | os.PathLike) -> dict:
    """The ``scenario.json`` of the capture folder ``path``, checked before anything is built from it.

    Raises :class:`CaptureError` with one line for a folder that is missing, not a folder,
    empty or without ``scenario.json``, for a ``scenario.json`` that cannot be read or is not
    a format-1 scenario, and for a kernel or architecture the model has no profile of.
    """
    from .arch import get_arch
    from .kernel import get_kernel

    folder = Path(path)
    if not folder.exists():
        raise CaptureError(f"{folder}: no such capture folder")
    if not folder.is_dir():
        raise CaptureError(f"{folder}: not a folder (a capture is a folder holding scenario.json)")
    file = folder / "scenario.json"
    if not file.is_file():
        what = "an empty folder" if not any(folder.iterdir()) else "no scenario.json in it"
        raise CaptureError(f"{folder}: not a capture folder ({what}; a capture holds scenario.json "
                           "and one folder per step)")
    try:
        sc = json.loads(file.read_text())
    except OSError as e:
        raise CaptureError(f"{file}: cannot be read: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise CaptureError(f"{file}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise CaptureError(f"{file}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    if not isinstance(sc, dict):
        raise CaptureError(f"{file}: not a scenario (the file holds a JSON {type(sc).__name__}, not an object)")
    if sc.get("format") != 1:
        raise CaptureError(f"{file}: unsupported format {sc.get('format')!r} (the replay reads format 1)")
    for key, kind in _REQUIRED:
        v: object = sc
        for part in key.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            raise CaptureError(f"{file}: missing {key!r}")
        if not isinstance(v, kind) or isinstance(v, bool):
            raise CaptureError(f"{file}: {key!r} is {type(v).__name__}, not {getattr(kind, '__name__', kind)}")
    for i, node in enumerate(sc["machine"]["nodes"]):
        if not (isinstance(node, dict) and isinstance(node.get("id"), int) and isinstance(node.get("cpus"), list)
                and isinstance(node.get("boot_memory_bytes"), int)):
            raise CaptureError(f"{file}: machine.nodes[{i}] is not {{\"id\", \"cpus\", \"boot_memory_bytes\"}}")
    if not sc["steps"]:
        raise CaptureError(f"{file}: no steps: nothing to compare")
    for i, step in enumerate(sc["steps"]):
        if not (isinstance(step, dict) and isinstance(step.get("name"), str) and isinstance(step.get("actions"), list)):
            raise CaptureError(f"{file}: steps[{i}] is not {{\"name\", \"actions\": [...]}}")
    for what, lookup, value in (("kernel.series", get_kernel, sc["kernel"]["series"]),
                                ("machine.arch", get_arch, sc["machine"].get("arch", "x86_64"))):
        try:
            lookup(value)
        except ValueError as e:
            raise CaptureError(f"{file}: {what}: {e}") from None
    return sc
