"""Colour-vision simulation: any two classes of one legend stay apart under protanopia, deuteranopia, tritanopia.

The simulation is Machado, Oliveira & Fernandes (2009), "A Physiologically-based Model for
Simulation of Color Vision Deficiency", severity 1.0 (full dichromacy), applied in linear RGB;
distances are CIEDE2000 in CIELAB (D65).  The threshold is :data:`widgets.palette.MIN_DELTA_E`.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from widgets import palette
from widgets.pagemap import STATE_KEYS, _colors
from workbook.arch import ARCHES
from workbook.walkers import REASONS

MACHADO = {
    "protanopia": np.array([[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
                            [-0.003882, -0.048116, 1.051998]]),
    "deuteranopia": np.array([[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
                              [-0.011820, 0.042940, 0.968881]]),
    "tritanopia": np.array([[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602],
                            [0.004733, 0.691367, 0.303900]]),
}
VISION = (None, "protanopia", "deuteranopia", "tritanopia")


def _linear(c: np.ndarray) -> np.ndarray:
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def _srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(c, 0, 1)
    return np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)


def simulate(color: str, kind: str | None) -> np.ndarray:
    """``#rrggbb`` as sRGB in [0, 1], as a dichromat of ``kind`` sees it (None: normal vision)."""
    rgb = np.array([int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4)]) / 255
    return rgb if kind is None else _srgb(MACHADO[kind] @ _linear(rgb))


def lab(rgb: np.ndarray) -> tuple[float, float, float]:
    """sRGB -> CIELAB (D65)."""
    m = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                  [0.0193339, 0.1191920, 0.9503041]])
    xyz = m @ _linear(rgb) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return 116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])


def delta_e(c1: tuple[float, float, float], c2: tuple[float, float, float]) -> float:
    """CIEDE2000 (Sharma, Wu & Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = c1, c2
    cbar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cbar ** 7 / (cbar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    dhh = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbar = (h1p + h2p) / 2
    else:
        hbar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hbar - 30)) + 0.24 * math.cos(math.radians(2 * hbar))
         + 0.32 * math.cos(math.radians(3 * hbar + 6)) - 0.20 * math.cos(math.radians(4 * hbar - 63)))
    dtheta = 30 * math.exp(-((hbar - 275) / 25) ** 2)
    rc = 2 * math.sqrt(cbarp ** 7 / (cbarp ** 7 + 25 ** 7))
    sl = 1 + 0.015 * (lbar - 50) ** 2 / math.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = -math.sin(math.radians(2 * dtheta)) * rc
    return math.sqrt((dl / sl) ** 2 + (dc / sc) ** 2 + (dhh / sh) ** 2 + rt * (dc / sc) * (dhh / sh))


def closest(colors: dict[str, str], apart: set[frozenset[str]] = frozenset()) -> tuple[float, str, str, str]:
    """The closest pair of ``colors`` under any vision (pairs in ``apart`` never meet and are skipped)."""
    worst = (math.inf, "", "", "")
    for kind in VISION:
        labs = {name: lab(simulate(c, kind)) for name, c in colors.items()}
        for a, b in itertools.combinations(colors, 2):
            if frozenset((a, b)) in apart:
                continue
            worst = min(worst, (delta_e(labs[a], labs[b]), kind or "normal vision", a, b))
    return worst


def test_cie_delta_e_2000_reference_pairs() -> None:
    """Sharma, Wu & Dalal's test data, pairs 1, 7 and 17."""
    assert delta_e((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert delta_e((50.0, 0.0, 0.0), (50.0, -1.0, 2.0)) == pytest.approx(2.3669, abs=1e-4)
    assert delta_e((50.0, 2.5, 0.0), (73.0, 25.0, -18.0)) == pytest.approx(27.1492, abs=1e-4)


def test_simulation_confuses_what_dichromats_confuse() -> None:
    """Sanity: protanopia and deuteranopia merge red and green, tritanopia blue and green; gray stays gray."""
    red, green = "#D62728", "#2CA02C"
    assert delta_e(lab(simulate(red, "deuteranopia")), lab(simulate(green, "deuteranopia"))) < \
        delta_e(lab(simulate(red, None)), lab(simulate(green, None))) / 3
    assert np.allclose(simulate("#808080", "protanopia"), simulate("#808080", None), atol=0.01)


@pytest.mark.parametrize("max_order", sorted({a.max_page_order for a in ARCHES.values()}))
def test_page_map_legend(max_order: int) -> None:
    colors = _colors(max_order)
    named = {key: colors[i] for i, key in enumerate(STATE_KEYS[:-1])}
    ramp = {f"free order {o}": c for o, c in enumerate(colors[len(STATE_KEYS) - 1:])}
    # the free orders are one class (shade = order, named on hover and in the legend's rows): each shade
    # must stand apart from every other class; shades of the ramp are compared by lightness below
    apart = {frozenset(p) for p in itertools.combinations(ramp, 2)}
    distance, kind, a, b = closest({**named, **ramp}, apart)
    assert distance >= palette.MIN_DELTA_E, f"{a} vs {b} under {kind}: Delta E {distance:.1f}"
    for kind in VISION:         # the ramp reads as one ordered scale: lighter for larger orders, in every vision
        lightness = [lab(simulate(c, kind))[0] for c in ramp.values()]
        assert all(x < y for x, y in zip(lightness, lightness[1:])), (kind, lightness)


def _vmemmap_backing() -> dict:
    from widgets.vmemmap import BACKING_COLORS
    return BACKING_COLORS


def _timeline_stages() -> dict:
    from widgets.memmap_timeline import STAGE_COLORS
    return {k: v for k, v in STAGE_COLORS.items() if v.upper() != "#FFFFFF"}     # removed: drawn blank


def test_the_palette_flagged_in_issue_16_fails_this_test() -> None:
    """The old red memmap vs an order-5 green under protanopia: the check does catch it."""
    old = {"selfhosted": "#d62728", "free order 5": "#175f2f", "movable": "#1f77b4", "isolated": "#9467bd"}
    assert closest(old)[0] < 3


@pytest.mark.parametrize(("legend", "colors"), [
    ("walker reasons", dict(zip(REASONS, palette.WALKER))),
    ("block map by state", palette.BLOCK_STATE),
    ("block map by zone", palette.BLOCK_ZONE),
    ("block map by node", {f"node {i}": c for i, c in enumerate(palette.NODES)}),
    ("zone counters", palette.COUNTERS),
    ("chapter 00 bars", dict(enumerate(palette.START))),
    ("vmemmap backing", _vmemmap_backing()),
    ("memmap timeline stages", _timeline_stages()),
])
def test_other_legends(legend: str, colors: dict) -> None:
    distance, kind, a, b = closest({str(k): v for k, v in colors.items()})
    assert distance >= palette.MIN_DELTA_E, f"{legend}: {a} vs {b} under {kind}: Delta E {distance:.1f}"


def test_text_on_picks_the_readable_one() -> None:
    assert palette.text_on("#000000") == "#ffffff" and palette.text_on("#F0E442") == "#222222"
    assert palette.text_on(palette.PAGEMAP["boot"]) == "#ffffff"
