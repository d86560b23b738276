"""The colours of every view: Okabe-Ito based, told apart by people with any common colour-vision deficiency.

Built from the Okabe & Ito palette (black, orange #E69F00, sky blue #56B4E9, bluish green
#009E73, yellow #F0E442, blue #0072B2, vermillion #D55E00, reddish purple #CC79A7) plus a grey,
a dark brown and one blue ramp (free memory, light = large free blocks).  ``tests/test_palette.py``
simulates protanopia, deuteranopia and tritanopia (Machado et al. 2009, full severity) and checks
that any two classes one legend can show stay at least :data:`MIN_DELTA_E` apart (CIEDE2000).
Colour is never the only cue where it matters most: the page map hatches and outlines the
self-hosted memmap and names it above the map, and every view prints a text summary.
"""
from __future__ import annotations

__all__ = ["BLACK", "BLOCK_STATE", "BLOCK_ZONE", "COUNTERS", "FREE_LARGE", "FREE_SMALL", "MIN_DELTA_E", "NODES",
           "OKABE_ITO", "PAGEMAP", "START", "WALKER", "free_ramp", "text_on"]

#: The smallest CIEDE2000 difference the tests accept between two classes of one legend, with
#: normal vision and under each simulated dichromacy.  About 10 is "clearly different at a
#: glance"; the palette before this one had pairs at 1.6 (memmap red vs. an order-5 free green,
#: protanopia) and 1.9 (movable blue vs. isolated purple).
MIN_DELTA_E = 10.0

OKABE_ITO = {"black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
             "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7"}
BLACK = "#000000"
GREY = "#BBBBBB"                # offline, no struct page
BROWN = "#5A3E1B"               # boot memory
FREE_SMALL = (0x0A, 0x2F, 0x6B)  # a free block of order 0: dark blue ...
FREE_MID = (0x35, 0x6F, 0xB0)    # ... to MAX_PAGE_ORDER - 2
FREE_MAX_1 = "#7FA9D8"          # MAX_PAGE_ORDER - 1: clearly lighter
FREE_LARGE = "#C6DBEF"          # MAX_PAGE_ORDER: the palest, what a freshly onlined block mostly is

#: The page map's classes (widgets/pagemap.py): offline, boot, selfhosted, pcp, movable, unmovable, isolated.
PAGEMAP = {"offline": GREY, "boot": BROWN, "selfhosted": OKABE_ITO["vermillion"], "pcp": OKABE_ITO["yellow"],
           "movable": OKABE_ITO["bluish green"], "unmovable": OKABE_ITO["orange"], "isolated": BLACK}
#: The walker's reasons, in workbook.walkers.REASONS order: the page map's colours where they mean the same.
WALKER = (OKABE_ITO["sky blue"], GREY, OKABE_ITO["vermillion"], OKABE_ITO["reddish purple"], OKABE_ITO["orange"],
          FREE_LARGE, BLACK, BROWN)
#: The block map, coloured by state or by zone.
BLOCK_STATE = {"online (boot)": "#0A2F6B", "online": OKABE_ITO["bluish green"], "going-offline": OKABE_ITO["orange"],
               "offline": GREY}
BLOCK_ZONE = {"DMA": BROWN, "DMA32": OKABE_ITO["reddish purple"], "Normal": OKABE_ITO["orange"],
              "Movable": OKABE_ITO["blue"], "Device": BLACK, "offline (no zone)": GREY,
              "none (spans zones)": OKABE_ITO["yellow"]}
#: Nodes, in order (the model's machines have two to four).
NODES = (OKABE_ITO["blue"], OKABE_ITO["orange"], OKABE_ITO["bluish green"], OKABE_ITO["reddish purple"],
         OKABE_ITO["sky blue"], OKABE_ITO["vermillion"], OKABE_ITO["yellow"], BLACK)
#: The zone counters' bars (widgets/counters.py).
COUNTERS = {"spanned": GREY, "present": OKABE_ITO["sky blue"], "managed": OKABE_ITO["blue"],
            "free": OKABE_ITO["bluish green"]}
#: Chapter 00's two bars: the memmap and the memory it describes.
START = (OKABE_ITO["blue"], OKABE_ITO["orange"])


def free_ramp(max_order: int) -> list[str]:
    """Colour of a free block of each order 0..max_order: dark blue for order 0 up to the palest for the largest."""
    ramp = []
    for o in range(max_order - 1):
        t = o / max(max_order - 2, 1)
        r, g, b = (round(a + (z - a) * t) for a, z in zip(FREE_SMALL, FREE_MID))
        ramp.append(f"#{r:02x}{g:02x}{b:02x}")
    return (ramp + [FREE_MAX_1, FREE_LARGE])[-(max_order + 1):]


def text_on(color: str) -> str:
    """Black or white, whichever reads better on ``color`` (WCAG relative luminance)."""
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))
    lum = 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)
    return "#ffffff" if (lum + 0.05) / 0.05 < 1.05 / (lum + 0.05) else "#222222"
