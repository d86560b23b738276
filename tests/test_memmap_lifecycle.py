"""The memmap pages' timeline (workbook.memmap_lifecycle) against the real kernels' captures of scenario A.

The model's rows are derived by driving a Machine; the captures (one 128 MiB DIMM on node 1:
01-hotadd, 02-online as online_movable, 05-offline, 06-hotremove) are only read here, to compare
the same stage: the kpageflags word of the block's first pfn, the run of memmap pfns that reads
differently from the rest of the block while it is online, nr_memmap_pages, and the block's state.
"""
from __future__ import annotations

import pytest

from workbook.arch import GiB, MiB
from workbook.captures import capture_dir
from workbook.memmap_lifecycle import (BY_KERNEL_ROWS, KERNELS_SHOWN, STAGES, lifecycle_by_kernel, lifecycle_table,
                                      memmap_lifecycle)
from workbook.pagemap import KPF

STEP = {"hot-add": "01-hotadd", "online": "02-online", "offline": "05-offline", "hot-remove": "06-hotremove"}


def _runs(series: str, stage: str) -> list[tuple[int, int, int]]:
    """(first pfn, last pfn, word) of every run in the capture's range.kpageflags.runs.txt."""
    out = []
    for line in (capture_dir(series, "A") / STEP[stage] / "range.kpageflags.runs.txt").read_text().splitlines():
        if line.startswith("# kpagecount"):
            break
        if line.startswith("#") or not line.strip():
            continue
        first, last, _n, raw = line.split()[:4]
        out.append((int(first, 16), int(last, 16), int(raw, 16)))
    return out


def _word(runs: list[tuple[int, int, int]], pfn: int) -> int:
    return next(w for a, b, w in runs if a <= pfn <= b)


def _vmstat(series: str, stage: str, name: str) -> int | None:
    for line in (capture_dir(series, "A") / STEP[stage] / "vmstat").read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == name:
            return int(value)
    return None


def _block_state(series: str, stage: str, block: str) -> str:
    for line in (capture_dir(series, "A") / STEP[stage] / "memory_blocks.txt").read_text().splitlines():
        fields = line.split()
        if fields and fields[0] == block:
            return next(f.split("=", 1)[1] for f in fields if f.startswith("state="))
    return "-"


@pytest.fixture(scope="module")
def rows() -> dict[str, list]:
    return {k: memmap_lifecycle(k) for k in KERNELS_SHOWN}


@pytest.mark.parametrize("series", KERNELS_SHOWN)
def test_every_stage_reads_as_the_real_kernel(rows: dict[str, list], series: str) -> None:
    assert [r.stage for r in rows[series]] == list(STAGES)
    for r in rows[series]:
        runs = _runs(series, r.stage)
        assert r.kpageflags == _word(runs, r.kpf_pfn), (series, r.stage, r.kpageflags_names)
        assert r.nr_memmap_pages == _vmstat(series, r.stage, "nr_memmap_pages"), (series, r.stage)
        assert r.block_state == _block_state(series, r.stage, r.block), (series, r.stage)


@pytest.mark.parametrize("series", KERNELS_SHOWN)
def test_the_online_block_shows_exactly_the_memmap_pfns(rows: dict[str, list], series: str) -> None:
    """While online, the captured block reads differently exactly on the pfns the model says hold the memmap."""
    online = rows[series][STAGES.index("online")]
    runs = _runs(series, "online")
    first_run = runs[0]
    if online.memmap_pfns is None:                        # 5.10: the memmap is elsewhere, the block all buddy
        assert "node memory" in online.where and online.nr_vmemmap_pages is None
        assert first_run[2] & (1 << KPF.BUDDY) and first_run[0] == online.kpf_pfn
        assert not any(w & ((1 << KPF.RESERVED) | (1 << KPF.OWNER_PRIVATE)) for _, _, w in runs)
        return
    start, end = online.memmap_pfns
    assert (first_run[0], first_run[1] + 1) == (start, end)
    assert first_run[2] & (1 << KPF.OWNER_PRIVATE)
    assert runs[1][0] == end and runs[1][2] & (1 << KPF.BUDDY)
    assert online.nr_vmemmap_pages == end - start


def test_what_each_kernel_does_to_the_memmap_pages(rows: dict[str, list]) -> None:
    """The mechanism, read from the model without the captures."""
    for k in ("6.1", "6.12", "7.2"):
        add, online, offline, removed = rows[k]
        assert add.memmap_pfns == (0x100000, 0x100000 + 512) and add.mapped and add.zone == "none"
        assert online.zone == "Movable (node 1)" and offline.zone == "none"
        assert offline.mapped and offline.memmap_pfns == add.memmap_pfns
        assert not removed.mapped and removed.nr_vmemmap_pages is None and "gone with memory32" in removed.where
        assert "altmap_alloc_block_buf()" in add.functions
        assert "mhp_init_memmap_on_memory()" in online.functions
        assert "mhp_deinit_memmap_on_memory()" in offline.functions
        assert "vmem_altmap_free()" in removed.functions
    assert "PageReserved + PageVmemmapSelfHosted" in rows["6.1"][1].struct_pages
    assert "PageReserved" not in rows["6.12"][1].struct_pages
    assert rows["6.1"][0].altmap.startswith("none kept: nr_vmemmap_pages=512")      # 5.13-6.5: on the stack
    assert rows["6.12"][0].altmap == "mem->altmap: free=512 alloc=512 align=0"      # 6.6+: kept by the block
    assert rows["6.12"][3].altmap.startswith("freed (vmem_altmap_free(): alloc 0)")
    five = rows["5.10"]
    assert all(r.memmap_pfns is None and r.nr_vmemmap_pages is None for r in five)
    assert five[0].zone == "DMA32 (node 0)" and "1 PMD per section" in five[0].where
    assert "vmemmap_alloc_block()" in five[0].functions and five[3].zone == "-"


def test_a_2_gib_block_and_memmap_on_memory_off() -> None:
    big = memmap_lifecycle("6.12", dimm_bytes=2 * GiB, block_size=2 * GiB)
    assert big[1].memmap_pfns == (0x100000, 0x100000 + 2 * GiB // 4096 * 64 // 4096)
    assert big[1].nr_memmap_pages == 8192
    off = memmap_lifecycle("6.12", memmap_on_memory=False)
    assert off[0].memmap_pfns is None and off[0].nr_vmemmap_pages == 0
    assert "vmemmap_alloc_block()" in off[0].functions and off[0].nr_memmap_pages == 512
    assert off[3].nr_memmap_pages == 0
    # arm64 with 16K pages: the model refuses memmap_on_memory, the memmap is in base pages of node memory
    arm = memmap_lifecycle("6.12", arch="arm64-16k", dimm_bytes=128 * MiB)
    assert arm[0].memmap_pfns is None and "32 base pages per section" in arm[0].where


def test_lifecycle_table() -> None:
    one = lifecycle_table("7.2")
    assert list(one.index) == list(STAGES)
    assert one.loc["offline", "kpageflags"] == "0 (0x0) @ 0x100000"
    assert one.loc["hot-remove", "nr_memmap_pages"] == 0
    both = lifecycle_table(("6.1", "6.12"))
    assert both.loc[("6.1", "online"), "kpageflags"] == "RESERVED|OWNER_PRIVATE (0x2100000000) @ 0x100000"
    assert both.loc[("6.1", "online"), "nr_memmap_pages"] == "-"
    assert both.loc[("6.12", "hot-remove"), "nr_vmemmap_pages"] == "-"
    assert list(both.columns)[:3] == ["kernel functions", "state", "memmap pages"]


def test_lifecycle_by_kernel_sets_the_kernels_side_by_side(rows: dict[str, list]) -> None:
    """One column per kernel; each cell is read from that kernel's rows of memmap_lifecycle()."""
    t = lifecycle_by_kernel()
    assert list(t.columns) == list(KERNELS_SHOWN)
    assert list(t.index) == [(s, w) for s in STAGES for w in BY_KERNEL_ROWS]
    for k in KERNELS_SHOWN:
        for r in rows[k]:
            assert t.loc[(r.stage, "kpageflags"), k] == f"{r.kpageflags_names} ({r.kpageflags:#x})"
            nr = "no such line" if r.nr_memmap_pages is None else str(r.nr_memmap_pages)
            assert t.loc[(r.stage, "nr_memmap_pages"), k] == nr
    # what struct memory_block keeps: nothing (5.10), the count (5.13-6.5), the altmap (6.6+)
    kept = t.xs("struct memory_block keeps", level="what")
    assert kept.loc["online", "5.10"] == "nothing: no memmap on the block"
    assert kept.loc["online", "6.1"] == "nr_vmemmap_pages = 512"
    assert kept.loc["online", "6.12"] == kept.loc["online", "7.2"] == "mem->altmap (free=512 alloc=512)"
    assert "rebuilt an altmap from nr_vmemmap_pages" in kept.loc["hot-remove", "6.1"]
    assert "vmem_altmap_free() (alloc 0)" in kept.loc["hot-remove", "6.12"]
    where = t.xs("memmap pages", level="what")
    assert where.loc["offline", "6.1"] == "memory32's own pfns 0x100000-0x1001ff"
    assert where.loc["hot-add", "5.10"].startswith("in node memory") and where.loc["hot-remove", "6.12"] == (
        "gone with memory32")
    assert (t.xs("zone", level="what").loc["hot-remove"] == "-").all()
    assert list(lifecycle_by_kernel(("6.6",)).columns) == ["6.6"]
