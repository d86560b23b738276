"""Benchmarks of the model at real machine sizes: ``python bench/run.py [--quick] [--json FILE] [--nbval] [--capture]``.

Prints one row per metric (value, target, ratio to target) and, with ``--json``, writes
``{"metrics": {name: {"value", "unit", "target"}}}``.  ``--quick`` uses smaller machines
(CI runs it only to check that it still works); the targets are for the full sizes.
``--capture`` also times the real path: ``procedure`` on Debian's 6.1 kernel under QEMU's TCG,
QEMU start to power-off (the kernel is fetched and the initramfs tools built before the clock
starts).  These are measurements, not tests: nothing here fails on a slow machine.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from workbook.arch import GiB, MiB, TiB  # noqa: E402
from workbook.machine import Machine, NodeSpec  # noqa: E402

MEM = "/sys/devices/system/memory"


def big_machine(size: int, arch: str = "x86_64-la57") -> Machine:
    """A 2-node machine with 2 GiB blocks and memmap on memory, ready to hot-add ``size`` to node 1."""
    m = Machine("6.12", arch=arch, nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)],
                cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                ram_bytes=GiB, maxmem_bytes=size + 16 * GiB, block_size=2 * GiB)
    m.trace.enabled = False
    return m


def add_online(size: int, arch: str = "x86_64-la57") -> tuple[Machine, float]:
    """Hot-add ``size`` bytes to node 1 and online every block movable; (machine, seconds)."""
    m = big_machine(size, arch)
    t = time.perf_counter()
    r = m.dimm_add(size, 1, "big", addr=4 * GiB)
    assert r.error is None, r.error
    for b in r.blocks:
        m.write(f"{MEM}/memory{b}/state", "online_movable")
    return m, time.perf_counter() - t


def best_of(fn, n: int = 5) -> float:
    """The fastest of ``n`` runs of ``fn()``, in seconds."""
    best = float("inf")
    for _ in range(n):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def one_block_machine(workload_bytes: int = 0) -> tuple[Machine, int]:
    """A machine with one online 2 GiB block on node 1 (and node 0 memory to migrate to)."""
    m = Machine("6.12", nodes=[NodeSpec(0, [0], 8 * GiB), NodeSpec(1, [1], 0)],
                cmdline="memory_hotplug.memmap_on_memory=1", ram_bytes=8 * GiB, maxmem_bytes=64 * GiB,
                block_size=2 * GiB)
    m.trace.enabled = False
    r = m.dimm_add(2 * GiB, 1, "blk", addr=10 * GiB)
    b = r.blocks[0]
    m.write(f"{MEM}/memory{b}/state", "online_movable")
    if workload_bytes:
        m.start_workload(1, workload_bytes)
    return m, b


def peak_rss_child(size: int) -> float:
    """Peak RSS (MiB) of a child process that hot-adds and onlines ``size`` bytes."""
    code = ("import resource, sys; sys.path.insert(0, %r); sys.path.insert(0, %r); import run; "
            "run.add_online(%d); print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
            % (str(ROOT), str(Path(__file__).parent), size))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.strip().splitlines()[-1]) / 1024


def syscall_floor(root: str, nr_blocks: int) -> float:
    """Seconds for the bare filesystem calls an export of ``nr_blocks`` blocks needs, no model.

    Per block: mkdir, one open/write/close (phys_index), five link()s (the shared attribute
    files) and two symlinks (memoryN/nodeX, nodeX/memoryN): the floor under zoneinfo_64tib_s.
    """
    os.makedirs(os.path.join(root, "memory"))
    os.makedirs(os.path.join(root, "node", "node1"))
    mfd = os.open(os.path.join(root, "memory"), os.O_RDONLY | os.O_DIRECTORY)
    nfd = os.open(os.path.join(root, "node"), os.O_RDONLY | os.O_DIRECTORY)
    t = time.perf_counter()
    fd = os.open("shared", os.O_WRONLY | os.O_CREAT, 0o444, dir_fd=mfd)
    os.write(fd, b"1\n")
    os.close(fd)
    for n in range(nr_blocks):
        os.mkdir(f"memory{n}", dir_fd=mfd)
        fd = os.open(f"memory{n}/phys_index", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444, dir_fd=mfd)
        os.write(fd, b"%08x\n" % n)
        os.close(fd)
        for attr in ("online", "phys_device", "removable", "state", "valid_zones"):
            os.link("shared", f"memory{n}/{attr}", src_dir_fd=mfd, dst_dir_fd=mfd)
        os.symlink("../../node/node1", f"memory{n}/node1", dir_fd=mfd)
        os.symlink(f"../../memory/memory{n}", f"node1/memory{n}", dir_fd=nfd)
    elapsed = time.perf_counter() - t
    os.close(mfd)
    os.close(nfd)
    return elapsed


def time_capture(put) -> None:
    """``capture procedure --kernel debian:6.1 --tcg``: the whole run and its boot, in seconds."""
    from workbook.realkernel.capture import capture
    from workbook.realkernel.initramfs import build_ohelper
    from workbook.realkernel.kernels import resolve_kernel

    kernel = resolve_kernel("debian:6.1", log=lambda msg: None)
    build_ohelper()
    with tempfile.TemporaryDirectory() as tmp:
        res = capture("procedure", kernel, Path(tmp) / "p61", accel="tcg", progress=lambda e: None,
                      log=lambda msg: None)
    assert res.complete, res.notes
    put("capture_procedure_tcg_s", res.total_s, "s", 60)
    put("capture_boot_tcg_s", res.boot_s, "s", None)


def run(quick: bool, nbval: bool, capture: bool = False) -> dict[str, dict]:
    """Every benchmark; ``{name: {"value", "unit", "target"}}``."""
    metrics: dict[str, dict] = {}

    def put(name: str, value: float, unit: str, target: float | None) -> None:
        metrics[name] = {"value": round(float(value), 4), "unit": unit, "target": target}
        tgt = "-" if target is None else f"{target:g}"
        ratio = "" if not target else f"{value / target:6.2f}"
        print(f"{name:34} {value:12.4f} {unit:4} target {tgt:>8} {ratio}", flush=True)

    tib = TiB // 16 if quick else TiB
    _, s = add_online(tib, "x86_64")
    put("add_online_1tib_s", s, "s", 0.5)
    big = 2 * TiB if quick else 64 * TiB
    m, s = add_online(big)
    put("add_online_64tib_s", s, "s", 5)
    put("add_online_64tib_peak_rss_mib", peak_rss_child(big), "MiB", 1024)
    # sysfs is an in-memory filesystem; export to one (tmpfs) when the machine has it
    shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        t = time.perf_counter()
        m.read("/proc/zoneinfo")
        m.export_sysfs(tmp)
        put("zoneinfo_64tib_s", time.perf_counter() - t, "s", 2)
    with tempfile.TemporaryDirectory(dir=shm) as tmp:
        put("sysfs_syscall_floor_64tib_s", syscall_floor(tmp, len(m.blocks)), "s", None)
    del m

    from workbook.walkers import walk
    mb, b = one_block_machine(256 * MiB)
    blk = mb.blocks[b]
    pm = mb.pagemap_of(blk.start_pfn)
    kinds = pm.kind
    raw = best_of(lambda: np.count_nonzero(kinds == 2))
    walked = best_of(lambda: walk(mb, "generic", blk.start_pfn, blk.nr_pages))
    put("walk_2gib_ratio", walked / raw, "x", 3)
    put("kpageflags_2gib_ms", best_of(lambda: mb.kpageflags(blk.start_pfn, blk.nr_pages)) * 1000, "ms", 20)

    from naive import naive_walk
    m1 = Machine("6.12", nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)],
                 cmdline="memory_hotplug.memmap_on_memory=1", ram_bytes=GiB, maxmem_bytes=32 * GiB,
                 block_size=GiB)
    r = m1.dimm_add(GiB, 1, "g", addr=4 * GiB)
    m1.write(f"{MEM}/memory{r.blocks[0]}/state", "online_movable")
    b1 = m1.blocks[r.blocks[0]]
    t_naive = best_of(lambda: naive_walk(m1, b1.start_pfn, b1.nr_pages), 1 if quick else 2)
    t_model = best_of(lambda: walk(m1, "generic", b1.start_pfn, b1.nr_pages))
    put("naive_walk_ratio", t_naive / t_model, "x", None)

    def offline_half_used() -> float:
        mo, bo = one_block_machine(1 * GiB)
        t0 = time.perf_counter()
        mo.write(f"{MEM}/memory{bo}/state", "offline")
        return time.perf_counter() - t0
    put("offline_2gib_half_used_ms", min(offline_half_used() for _ in range(2 if quick else 3)) * 1000, "ms", 100)

    try:
        from widgets.controls import ControlPanel
        from widgets.pagemap import PageMapView
        mw, bw = one_block_machine(256 * MiB)
        view = PageMapView(mw, bw)
        panel = ControlPanel(mw)
        panel.on_change.append(lambda *a: view.refresh())

        def click() -> None:
            panel.start_workload("anon", 1, 64 * MiB)
        put("widget_click_2gib_ms", best_of(click, 3) * 1000, "ms", 50)
        from widgets.blockmap import BlockMapView
        mbig = big_machine(64 * TiB if not quick else 4 * TiB)
        mbig.dimm_add((64 * TiB if not quick else 4 * TiB), 1, "big", addr=4 * GiB)
        t = time.perf_counter()
        BlockMapView(mbig)
        put("blockmap_32768_s", time.perf_counter() - t, "s", 1)
    except Exception as e:  # the widget benchmarks need the widgets package and bokeh
        print(f"widget benchmarks skipped: {e!r}")

    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import workbook"], check=True, cwd=str(ROOT))
    put("import_workbook_s", time.perf_counter() - t, "s", 0.5)

    if nbval:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval",
                        "--nbval-current-env", "--nbval-sanitize-with", "tests/nbval_sanitize.cfg",
                        "-n", "2", "--dist", "loadfile", "chapters"], cwd=str(ROOT), check=False)
        put("nbval_all_chapters_s", time.perf_counter() - t, "s", 90)
    if capture:
        time_capture(put)
    return metrics


def main(argv: list[str] | None = None) -> int:
    """Parse the options, run, print and maybe write JSON."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller machines (a smoke run)")
    ap.add_argument("--json", metavar="FILE", help="write the metrics as JSON")
    ap.add_argument("--nbval", action="store_true", help="also time nbval over all chapters")
    ap.add_argument("--capture", action="store_true",
                    help="also time the real path: procedure on Debian 6.1 under QEMU (TCG)")
    ns = ap.parse_args(argv)
    print(f"{'metric':34} {'value':>12} {'unit':4} {'target':>15} ratio")
    metrics = run(ns.quick, ns.nbval, ns.capture)
    if ns.json:
        Path(ns.json).write_text(json.dumps({"metrics": metrics}, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
