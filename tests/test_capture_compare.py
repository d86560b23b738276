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


def test_numactl_from_capture_reads_node_files_as_numactl_does() -> None:
    from widgets.capture_compare import machine_after_step, numactl_from_capture
    from workbook.captures import capture_dir
    for scenario, size in (("A", 126), ("B", 128)):
        real = numactl_from_capture(capture_dir("6.12", scenario) / "02-online")
        model = machine_after_step("6.12", "02-online", scenario).numactl_hardware()
        assert f"node 1 size: {size} MB" in real
        node1 = [ln for ln in real.splitlines() if ln.startswith("node 1")]
        assert node1 == [ln for ln in model.splitlines() if ln.startswith("node 1")]
        assert real.splitlines()[0] == model.splitlines()[0] and real.splitlines()[-3:] == model.splitlines()[-3:]


def test_boot_console_lines_name_the_kernels_reservations() -> None:
    from widgets.capture_compare import boot_console_lines
    for series in ("5.10", "6.1", "6.12", "7.2"):
        lines = boot_console_lines(series)
        assert len(lines) == 2 and lines[0].startswith("Memory: ") and "(64MB)" in lines[1]


def test_replay_table_groups_captures_by_kernel() -> None:
    from widgets.capture_compare import columns, replay_by_kernel, replay_table
    from workbook.captures import capture_dir
    from workbook.replay import replay
    results = [replay(str(capture_dir(k, s)), lsmem=None) for k, s in (("6.12", "A"), ("5.10", "B"))]
    lines = replay_table(results).splitlines()
    assert lines[1].startswith("Linux 5.10.") and lines[2].lstrip().startswith("5.10/B")
    assert lines[3].startswith("Linux 6.12.") and "680 of 680 fields match" in lines[3]
    assert columns("a\nb", "a\nb", ("x", "y"), 4).endswith("same")
    by_kernel = replay_by_kernel(results).splitlines()
    assert by_kernel[0].startswith("Linux 5.10.") and "1 captures (B): 680 of 680 fields match" in by_kernel[0]
    assert by_kernel[1].startswith("Linux 6.12.") and "(A)" in by_kernel[1]
