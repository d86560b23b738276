"""Benchmark the widgets: (a) one control-panel action on a 2 GiB block with its page map redrawn,
(b) building the block map of a machine with 32 768 memory blocks.

Run: ``.venv/bin/python bench/widgets_bench.py``.  Targets: (a) < 50 ms, (b) < 1 s.
Timings include bokeh's serialisation of the change (jupyter_bokeh builds the PATCH-DOC
message even without a browser); they are not tests.
"""
from __future__ import annotations

import statistics
import time
from typing import Callable

from widgets.blockmap import BlockMapView
from widgets.controls import ControlPanel
from widgets.pagemap import PageMapView
from workbook.machine import Machine, NodeSpec


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000


def bench_action_2g(repeat: int = 7) -> dict[str, float]:
    """Median ms of (action + page-map refresh) on a 2 GiB block, per kind of action."""
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                nodes=[NodeSpec(0, [0], 1 << 30), NodeSpec(1, [1], 0)], ram_bytes=1 << 30,
                maxmem_bytes=64 << 30, block_size=2 << 30)
    cp = ControlPanel(m)
    cp.hot_add(2 << 30, 1, "dimm1")
    bid = cp.last.value.blocks[0]
    pm = PageMapView(m, bid)
    cp.on_change.append(lambda _rec: pm.refresh())
    out: dict[str, list[float]] = {}

    def timed(name: str, fn: Callable[[], object]) -> None:
        t0 = time.perf_counter()
        fn()
        out.setdefault(name, []).append(_ms(t0))

    for _ in range(repeat):
        timed("online_movable", lambda: cp.set_state(bid, "online_movable"))
        timed("start 256 MiB workload", lambda: cp.start_workload("movable", 1, 256 << 20))
        timed("page map refresh only", pm.refresh)
        timed("stop workload", lambda: cp.stop_workload(cp.last.value.owner))
        timed("offline", lambda: cp.set_state(bid, "offline"))
    assert pm.counts()["offline"] == 2 << 30 >> 12, pm.counts()
    return {k: statistics.median(v) for k, v in out.items()}


def bench_blockmap_32k(repeat: int = 3) -> dict[str, float]:
    """Seconds to build (and refresh) the block map of 32 768 hot-added 2 GiB blocks."""
    m = Machine("6.12", arch="x86_64-la57", cmdline="memory_hotplug.memmap_on_memory=1",
                block_size=2 << 30, ram_bytes=1 << 30, maxmem_bytes=80 << 40)
    t0 = time.perf_counter()
    r = m.dimm_add(64 << 40, 1, "big", addr=(2 << 30) * 2)
    add = time.perf_counter() - t0
    assert r.error is None and len(r.blocks) == 32768, r
    builds, refreshes = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        bm = BlockMapView(m)
        builds.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bm.refresh()
        refreshes.append(time.perf_counter() - t0)
    assert len(bm.source.data["id"]) == len(m.blocks) == 32769
    return {"blocks": len(m.blocks), "model dimm_add (s)": add, "build (s)": min(builds),
            "build median (s)": statistics.median(builds), "refresh (s)": min(refreshes)}


def main() -> None:
    """Print both benchmarks."""
    a = bench_action_2g()
    print("(a) 2 GiB block (524 288 pfns): action + page-map update, median ms (target < 50 ms)")
    for k, v in a.items():
        print(f"    {k:<26} {v:7.1f} ms")
    b = bench_blockmap_32k()
    print("(b) block map of a 64 TiB DIMM in 2 GiB blocks (target < 1 s)")
    for k, v in b.items():
        print(f"    {k:<26} {v:.3f}" if isinstance(v, float) else f"    {k:<26} {v}")


if __name__ == "__main__":
    main()
