"""Binary-unit formatting used by widgets and check cells."""
from __future__ import annotations

import pytest

from widgets.units import format_bytes
from workbook.arch import GiB, KiB, MiB, TiB


@pytest.mark.parametrize(("n", "text"), [
    (0, "0 B"), (64, "64 B"), (KiB, "1 KiB"), (512 * KiB, "512 KiB"), (192 * MiB, "192 MiB"),
    (12 * GiB, "12 GiB"), (3 * GiB // 2, "1.5 GiB"), (2 * TiB, "2 TiB"), (MiB + 1, "1 MiB"),
])
def test_format_bytes(n: int, text: str) -> None:
    assert format_bytes(n) == text
