"""The model replays every shipped real-kernel capture and prints what the kernel printed."""
from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from workbook.captures import capture_dirs
from workbook.replay import main, replay

CAPTURES = capture_dirs()


def test_captures_are_shipped():
    names = {f"{p.parent.name}/{p.name}" for p in CAPTURES}
    assert {"6.1/A", "6.1/B", "6.1/C", "6.12/A", "6.12/B", "6.12/C"} <= names


@pytest.mark.parametrize("cap", CAPTURES, ids=[f"{p.parent.name}-{p.name}" for p in CAPTURES])
def test_replay_matches_every_field(cap):
    r = replay(str(cap), lsmem=shutil.which("lsmem"))
    mismatches = [f.line() for f in r.fields if not f.ok]
    assert not mismatches, "\n".join(mismatches[:20])
    assert len(r.fields) >= 300
    names = {f.name.split()[0] for f in r.fields}
    # the kinds of fields the replay promises to compare are all there
    for must in ("memory", "block_size_bytes", "kpageflags", "dimm_add", "dimm_del", "write"):
        assert any(n.startswith(must) for n in names), must
    if shutil.which("lsmem"):
        assert any(f.name == "lsmem-a.txt" for f in r.fields)


def test_replay_reports_a_mismatch_and_fails(tmp_path):
    src = CAPTURES[0]
    dst = tmp_path / "cap"
    shutil.copytree(src, dst)
    # the kernel said the block is 256 MiB: the model derives 128 MiB and must say so
    import json
    p = dst / "00-boot" / "sysroot.json"
    d = json.loads(p.read_text())
    d["files"]["sys/devices/system/memory/block_size_bytes"] = "10000000\n"
    p.write_text(json.dumps(d))
    r = replay(str(dst), lsmem=None)
    bad = [f for f in r.fields if not f.ok]
    assert [f.name for f in bad] == ["block_size_bytes"]
    assert "model=8000000" in bad[0].line() and "capture=10000000" in bad[0].line()
    assert main([str(dst), "--mismatches"]) == 1


def test_replay_cli_exit_code(capsys):
    assert main([str(CAPTURES[0])]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("fields match")


def test_python_m_workbook_replay():
    p = subprocess.run([sys.executable, "-m", "workbook", "replay", "--mismatches", str(CAPTURES[0])],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "fields match" in p.stdout
