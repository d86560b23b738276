"""CaptureCompare: the model's run of capture A beside the real kernels' files."""
from __future__ import annotations

import numpy as np

from widgets.capture_compare import FILES, CaptureCompare, kpageflags_runs, memory_blocks_txt, zoneinfo_key_lines
from workbook.captures import step_file
from workbook.machine import Machine


def test_runs_format_matches_the_capture_harness() -> None:
    words = np.array([0x2100000000] * 3 + [0x400] * 2, dtype=np.uint64)
    assert kpageflags_runs(words, 0x100000) == ("0x100000 0x100002 3 0x2100000000 RESERVED|OWNER_PRIVATE\n"
                                                "0x100003 0x100004 2 0x400 BUDDY")


def test_memory_blocks_txt_matches_the_capture_at_boot() -> None:
    m = Machine("6.12", cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    assert memory_blocks_txt(m) == step_file("6.12", "A", "00-boot", "memory_blocks.txt").rstrip("\n")


def test_capture_a_is_the_same_where_no_workload_ran() -> None:
    c = CaptureCompare()
    assert c.steps[0] == "00-boot" and c.steps[-1] == "06-hotremove"
    for k in ("6.1", "6.12"):
        for step in ("01-hotadd", "02-online", "05-offline", "06-hotremove"):
            assert all(c.same(k, step, f) for f in FILES), (k, step)
    assert "RESERVED|OWNER_PRIVATE" in c.text("6.1", "02-online", "kpageflags runs", "real")
    assert "RESERVED" not in c.text("6.12", "02-online", "kpageflags runs", "real")
    assert not c.same("6.12", "03-stress", "kpageflags runs")            # which pages a process gets differs
    c.step.value, c.file.value = "02-online", "zoneinfo (hot-plug node)"
    assert "data-same='1'" in c.cells[0].value and "managed  32256" in c.cells[1].value
    assert "echo online_movable" in c.did.value
    assert "differs" not in c.side_by_side("6.12", "02-online", "zoneinfo (hot-plug node)")


def test_zoneinfo_key_lines_skip_empty_zones() -> None:
    text = step_file("6.12", "A", "01-hotadd", "zoneinfo")
    assert zoneinfo_key_lines(text, 1) == "(node 1 has no populated zone)"
    assert zoneinfo_key_lines(text, 1, populated_only=False).count("Node 1, zone") == 5
