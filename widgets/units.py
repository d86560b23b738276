"""Human-readable sizes in binary units, as the kernel documentation writes them."""
from __future__ import annotations

__all__ = ["format_bytes"]

_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def format_bytes(n: int | float) -> str:
    """``12884901888`` -> ``"12 GiB"``; two decimals at most, ``"B"`` below 1 KiB."""
    for unit, size in _UNITS:
        if abs(n) >= size:
            text = f"{n / size:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{n:g} B"
