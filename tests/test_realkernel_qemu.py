"""The real path for real: capture ``procedure`` on Debian's 6.1 kernel under TCG, replay the model.

Marked ``realkernel`` (its own stage in ``./dev test``).  It needs qemu-system-x86, busybox-static,
gcc and network to Debian's archive the first time (the kernel is cached in
``~/.cache/memhotplug-workbook/kernels``).  Without QEMU it skips on a workstation and fails
under ``CI=true``, where this stage must run.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from workbook.captures import capture_dir
from workbook.replay import replay

pytestmark = pytest.mark.realkernel


def require_real_path() -> None:
    """Skip without the host tools, or fail under CI=true where this stage must run."""
    from workbook.realkernel.capture import check_tools
    from workbook.realkernel.initramfs import ToolMissing
    try:
        check_tools()
    except ToolMissing as err:
        message = str(err).splitlines()[0]
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}: CI must run the real-kernel stage", pytrace=False)
        pytest.skip(message)


@pytest.fixture(scope="module")
def capture_61(tmp_path_factory):
    require_real_path()
    out = tmp_path_factory.mktemp("real") / "p61"
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "workbook", "capture", "procedure", "--kernel", "debian:6.1",
                        "--out", str(out), "--tcg"], capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    return out, p.stdout, time.monotonic() - t0


def test_capture_writes_the_shipped_format(capture_61):
    out, stdout, _ = capture_61
    shipped = capture_dir("6.1", "A")
    assert not (out / "INCOMPLETE").exists()
    for name in ("scenario.json", "console.log", "qmp.log", "run_meta.json"):
        assert (out / name).stat().st_size > 0, name
    sc = json.loads((out / "scenario.json").read_text())
    want = json.loads((shipped / "scenario.json").read_text())
    assert [s["name"] for s in sc["steps"]] == [s["name"] for s in want["steps"]]
    for step in want["steps"]:
        theirs = {p.name for p in (shipped / step["name"]).iterdir()}
        ours = {p.name for p in (out / step["name"]).iterdir()}
        assert theirs <= ours, (step["name"], theirs - ours)
    # what happened, recorded as the format records it
    acts = {a["op"]: a for s in sc["steps"] for a in s["actions"]}
    assert acts["dimm_add"]["result"] == "ok" and acts["dimm_add"]["addr"] == 1 << 32
    assert acts["dimm_add"]["ost_events"][0]["source_name"] == "device_check"
    assert acts["dimm_del"]["result"] == "deleted" and acts["dimm_del"]["memdev_deleted"] is True
    assert [a["errno"] for s in sc["steps"] for a in s["actions"] if a["op"] == "write"] == [0, 0]
    assert sc["machine"]["srat_hotplug_window"] == want["machine"]["srat_hotplug_window"]
    assert sc["kernel"]["series"] == "6.1" and sc["kernel"]["config"]["CONFIG_MEMORY_HOTREMOVE"] == "y"
    # one progress line per step
    assert sum(line.startswith("[") for line in stdout.splitlines()) == len(sc["steps"])
    console = (out / "console.log").read_bytes()
    assert b"@@READY" in console and b"@@CAPTURED 06-hotremove" in console


def test_replay_of_the_fresh_capture_matches_every_field(capture_61):
    out, _, _ = capture_61
    r = replay(str(out), lsmem=shutil.which("lsmem"))
    bad = [f.line() for f in r.fields if not f.ok]
    assert not bad, "\n".join(bad)
    shipped = replay(str(capture_dir("6.1", "A")), lsmem=shutil.which("lsmem"))
    # the same fields as the shipped 6.1 capture of this procedure
    assert {(f.step, f.name) for f in r.fields} == {(f.step, f.name) for f in shipped.fields}


def test_capture_time(capture_61):
    _, _, seconds = capture_61
    # boot to power-off under TCG, kernel cached after the first run; generous for a busy 2-core CI
    assert seconds < 300


def test_diff_with_the_shipped_61_capture(capture_61):
    from workbook.realkernel.diff import diff
    out, _, _ = capture_61
    r = diff(out, capture_dir("6.1", "A"), lsmem=shutil.which("lsmem"))
    bad = [f.line() for f in r.fields if not f.ok]
    assert not bad, "\n".join(bad)
    assert len(r.fields) > 600
