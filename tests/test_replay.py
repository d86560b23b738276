"""The model replays every shipped real-kernel capture, and the replay fails closed.

Three kinds of tests: every shipped capture matches field by field, with the exact number
of compared fields of each kind pinned (so that dropping a comparison fails here); a
mutation of one captured value of each kind gives exactly that MISMATCH; and a capture
that lacks a step, a file, a zone stanza, or holds an action the model cannot perform is
reported and fails.
"""
from __future__ import annotations

import gzip
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from workbook.captures import CAPTURES_DIR, capture_dirs, dax_capture_dirs
from workbook.replay import CaptureError, main, replay

CAPTURES = capture_dirs() + dax_capture_dirs()
CAP_IDS = [p.relative_to(CAPTURES_DIR).as_posix() for p in CAPTURES]

# Compared fields per kind and capture (kind names are workbook.observe's / replay's):
COLUMNS = {"blk": "blocks", "state": "state", "onl": "online", "vz": "valid_zones", "rem": "removable",
           "pidx": "phys_index", "pdev": "phys_device", "link": "node link", "bsb": "block_size_bytes",
           "aob": "auto_online_blocks", "nmask": "node mask", "zst": "zone stanzas", "zcnt": "zone counter",
           "free": "free", "mtot": "MemTotal", "memmap": "nr_memmap_pages", "kpfl": "kpf length",
           "RSV": "RESERVED", "OWN": "OWNER_PRIVATE", "NOP": "NOPAGE", "BUD": "BUDDY", "errno": "errno",
           "add": "dimm_add", "del": "dimm_del", "wait": "wait", "lsmem": "lsmem", "params": "module params",
           # dax/kmem runs
           "soft": "soft reserved", "iomem": "iomem", "insmod": "module_load", "daxdev": "dax device",
           "daxdrv": "dax driver", "daxatt": "dax attr", "daxreg": "dax region", "plat": "platform device",
           "tier": "memory tier", "mod": "module"}
PINNED = (Path(__file__).parent / "data" / "replay_field_counts.txt").read_text()


def _pinned() -> dict[str, dict[str, int]]:
    lines = [ln for ln in PINNED.splitlines() if ln.strip()]
    head = next(ln for ln in lines if ln.startswith("# capture")).lstrip("#").split()[1:]
    out = {}
    for ln in (ln for ln in lines if not ln.startswith("#")):
        cap, *vals = ln.split()
        out[cap] = {COLUMNS[h]: int(v) for h, v in zip(head, vals) if int(v)}
    return out


def test_captures_are_shipped():
    assert {f"{s}/{c}" for s in ("6.1", "6.12") for c in "ABCDEFGHIJK"} <= set(CAP_IDS)
    assert {f"{s}/{c}" for s in ("5.10", "7.2") for c in "AB"} <= set(CAP_IDS)
    assert {"dax/6.12/mom1", "dax/6.12/mom0", "dax/6.1/mom1"} <= set(CAP_IDS)
    assert set(CAP_IDS) == set(_pinned()), "every shipped capture has its pinned field counts"


@pytest.mark.parametrize("cap", CAPTURES, ids=CAP_IDS)
def test_replay_matches_every_field(cap, lsmem):
    r = replay(str(cap), lsmem=lsmem)
    mismatches = [f.line() for f in r.fields if not f.ok]
    assert not mismatches, "\n".join(mismatches[:20])
    assert not r.errors, r.errors
    assert r.ok
    want = _pinned()[cap.relative_to(CAPTURES_DIR).as_posix()]
    if lsmem is None:                       # the lsmem guard test fails the run under CI=true
        want = {k: v for k, v in want.items() if k != "lsmem"}
    assert {k: n for k, (n, _) in r.kinds().items()} == want


# ----------------------------------------------------------------------------------------------
# mutations: one changed value of each kind gives exactly that mismatch
# ----------------------------------------------------------------------------------------------
def _copy(tmp_path: Path, series: str = "6.1", scen: str = "A") -> Path:
    src = CAPTURES_DIR / series / scen
    dst = tmp_path / f"{series.replace('/', '-')}-{scen}"
    shutil.copytree(src, dst)
    return dst


def _edit_sysroot(d: Path, step: str, fn) -> None:
    p = d / step / "sysroot.json"
    data = json.loads(p.read_text())
    fn(data)
    p.write_text(json.dumps(data))


def _edit_text(d: Path, step: str, name: str, old: str, new: str, count: int = 1) -> None:
    p = d / step / name
    text = p.read_text()
    assert old in text, (old, name)
    p.write_text(text.replace(old, new, count))


def _edit_scenario(d: Path, fn) -> None:
    p = d / "scenario.json"
    sc = json.loads(p.read_text())
    fn(sc)
    p.write_text(json.dumps(sc))


def _edit_kpf(d: Path, step: str, fn) -> None:
    p = d / step / "range.kpageflags.gz"
    words = np.frombuffer(gzip.open(p).read(), dtype="<u8").copy()
    words = fn(words)
    p.write_bytes(gzip.compress(words.astype("<u8").tobytes()))


MEM32 = "sys/devices/system/memory/memory32"


def _set_file(key, value):
    return lambda data: data["files"].__setitem__(key, value)


MUTATIONS = {
    "state": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/state", "offline\n")),
              ["memory32.state"]),
    "valid_zones": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/valid_zones", "Normal\n")),
                    ["memory32.valid_zones"]),
    "online": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/online", "0\n")),
               ["memory32.online"]),
    "removable": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/removable", "0\n")),
                  ["memory32.removable"]),
    "phys_index": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/phys_index", "00000021\n")),
                   ["memory32.phys_index"]),
    "phys_device": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(f"{MEM32}/phys_device", "1\n")),
                    ["memory32.phys_device"]),
    "node link": ("02-online", lambda d: _edit_sysroot(d, "02-online", lambda s: s["symlinks"].__setitem__(
        f"{MEM32}/node0", s["symlinks"].pop(f"{MEM32}/node1"))), ["memory32.node"]),
    "blocks": ("02-online", lambda d: _edit_sysroot(d, "02-online", lambda s: s["files"].__setitem__(
        "sys/devices/system/memory/memory99/state", "offline\n")),
        # a block the kernel has and the model does not: the set, and each of its files
        ["memory blocks"] + [f"memory99.{a}" for a in ("state", "online", "valid_zones", "removable", "phys_index",
                                                       "phys_device")]),
    "auto_online_blocks": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(
        "sys/devices/system/memory/auto_online_blocks", "online\n")), ["auto_online_blocks"]),
    "node mask": ("02-online", lambda d: _edit_sysroot(d, "02-online", _set_file(
        "sys/devices/system/node/has_memory", "0\n")), ["node/has_memory"]),
    "zone stanzas": ("02-online", lambda d: _cut_stanza(d, "02-online", "Node 1, zone   Device"), ["node1 zones"]),
    "zone counter": ("02-online", lambda d: _edit_text(d, "02-online", "zoneinfo", "spanned  32768",
                                                       "spanned  32767"), ["node1 Movable.spanned"]),
    "free": ("02-online", lambda d: _edit_text(d, "02-online", "zoneinfo", "pages free     32256",
                                               "pages free     32155"), ["node1 Movable.free"]),
    "MemTotal": ("02-online", lambda d: _edit_text(d, "02-online", "node1.meminfo", "MemTotal:         129024",
                                                   "MemTotal:         129028"), ["node1 MemTotal kB"]),
    "kpf length": ("02-online", lambda d: _edit_kpf(d, "02-online", lambda w: w[:-1]), ["kpageflags words"]),
    "RESERVED": ("02-online", lambda d: _edit_kpf(d, "02-online", lambda w: _flip(w, 5, 32)),
                 ["kpageflags memory32 RESERVED"]),
    "OWNER_PRIVATE": ("02-online", lambda d: _edit_kpf(d, "02-online", lambda w: _flip(w, 5, 37)),
                      ["kpageflags memory32 OWNER_PRIVATE"]),
    "NOPAGE": ("01-hotadd", lambda d: _edit_kpf(d, "01-hotadd", lambda w: _flip(w, 7000, 20)),
               ["kpageflags memory32 NOPAGE"]),
    "BUDDY": ("02-online", lambda d: _edit_kpf(d, "02-online", lambda w: _flip(w, 7000, 10)),
              ["kpageflags memory32 BUDDY"]),
    "module params": ("00-boot", lambda d: _edit_text(d, "00-boot", "memory_hotplug_params", "memmap_on_memory=Y",
                                                      "memmap_on_memory=N"), ["memory_hotplug parameters"]),
    "errno": ("05-offline", lambda d: _edit_scenario(d, lambda sc: sc["steps"][5]["actions"][0].update(errno=16)),
              ["write offline > memory32/state errno"]),
    "dimm_add": ("01-hotadd", lambda d: _edit_scenario(d, lambda sc: sc["steps"][1]["actions"][0].update(
        result="error: no slot")), ["dimm_add dimm1 result"]),
    "dimm_del": ("06-hotremove", lambda d: _edit_scenario(d, lambda sc: sc["steps"][6]["actions"][0].update(
        result="not-deleted")), ["dimm_del dimm1 result"]),
    "wait": ("01-hotadd", lambda d: _edit_scenario(d, lambda sc: sc["steps"][1]["actions"][1].update(ok=False)),
             ["wait [ -d /sys/devices/system/memory/memory32 ]"]),
}


DAX = "dax/6.12"
DAXTXT = "dax.txt"
# the same for the kinds only dax/kmem runs have, on dax/6.12/mom1
DAX_MUTATIONS = {
    "soft reserved": ("00-boot", lambda d: _edit_scenario(d, lambda sc: sc["machine"]["soft_reserved"][0].update(
        end=4563402752 - 4096)), ["e820 Soft Reserved ranges"]),
    "iomem": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", "iomem", "System RAM (kmem)", "System RAM"),
              ["iomem [0x100000000-0x10fffffff]"]),
    "module_load": ("01-dax-device", lambda d: _edit_scenario(d, lambda sc: sc["steps"][1]["actions"][0].update(rc=1)),
                    ["module_load device_dax rc"]),
    "dax device": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "platform/hmem.0/dax0.0",
                                                         "platform/hmem.1/dax0.0"), ["dax0.0 sysfs"]),
    "dax driver": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "driver = kmem",
                                                         "driver = device_dax"), ["dax0.0/driver"]),
    "dax attr": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "memmap_on_memory = 1",
                                                       "memmap_on_memory = 0"), ["dax0.0/memmap_on_memory"]),
    "dax region": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "available_size = 0",
                                                         "available_size = 2097152"),
                   ["dax0.0/dax_region/available_size"]),
    "platform device": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "hmem_platform.0",
                                                              "hmem_platform.1"), ["hmem platform devices"]),
    "memory tier": ("03-online-movable", lambda d: _edit_text(d, "03-online-movable", DAXTXT,
                                                              "memory_tier22 nodelist=1", "memory_tier22 nodelist=0-1"),
                    ["memory tiers"]),
    "module": ("02-kmem-bound", lambda d: _edit_text(d, "02-kmem-bound", DAXTXT, "\nkmem 12288", "\nkmem2 12288"),
               ["modules"]),
    # a dax driver file's errno and an attribute's errno are compared like every write's
    "errno (dax bind)": ("06-devdax", lambda d: _edit_scenario(d, lambda sc: sc["steps"][6]["actions"][1].update(
        errno=0)), ["write dax0.0 > device_dax/bind errno"]),
    "errno (memmap_on_memory)": ("02-kmem-bound", lambda d: _edit_scenario(
        d, lambda sc: sc["steps"][2]["actions"][6].update(errno=0)), ["write 0 > dax0.0/memmap_on_memory errno"]),
    "wait (dax device)": ("01-dax-device", lambda d: _edit_scenario(d, lambda sc: sc["steps"][1]["actions"][2].update(
        ok=False)), ["wait ls /sys/bus/dax/devices/ 2>/dev/null | grep -q dax"]),
}


@pytest.mark.parametrize("kind", sorted(DAX_MUTATIONS))
def test_a_changed_dax_value_is_exactly_that_mismatch(tmp_path, kind):
    step, mutate, names = DAX_MUTATIONS[kind]
    d = _copy(tmp_path, DAX, "mom1")
    mutate(d)
    r = replay(str(d), lsmem=None)
    bad = [(f.step, f.name) for f in r.fields if not f.ok]
    assert bad == [(step, n) for n in names]
    assert main([str(d), "--mismatches"]) == 1


def test_a_missing_dax_txt_is_a_mismatch(tmp_path):
    d = _copy(tmp_path, DAX, "mom1")
    (d / "03-online-movable" / DAXTXT).unlink()
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=None).fields if not f.ok]
    assert bad == [("03-online-movable", "dax devices")]


def test_module_commands_recorded_as_shell_and_rmmod_replay(tmp_path):
    d = _copy(tmp_path, DAX, "mom1")

    def edit(sc):
        acts = sc["steps"][1]["actions"]
        acts[0] = {"op": "shell", "cmd": "insmod /mod/device_dax.ko", "rc": 0}
        sc["steps"][6]["actions"][:0] = [{"op": "module_unload", "name": "kmem", "rc": 0},
                                         {"op": "shell", "cmd": "modprobe kmem", "rc": 0}]
    _edit_scenario(d, edit)
    r = replay(str(d), lsmem=None)
    names = [f.name for f in r.fields if f.kind == "module_load"]
    assert names[:1] == ["module_load device_dax rc"] and "module_unload kmem rc" in names
    assert not r.errors and all(f.ok for f in r.fields if f.kind == "module_load")
    _edit_scenario(d, lambda sc: sc["steps"][6]["actions"].insert(0, {"op": "shell", "cmd": "reboot", "rc": 0}))
    r = replay(str(d), lsmem=None)
    assert any("reboot" in e for e in r.errors) and not r.ok


def test_a_module_the_model_cannot_load_is_a_mismatch(tmp_path):
    d = _copy(tmp_path, DAX, "mom1")
    _edit_scenario(d, lambda sc: sc["steps"][1]["actions"].insert(0, {"op": "module_load", "name": "nd_pmem", "rc": 0}))
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=None).fields if not f.ok]
    assert bad == [("01-dax-device", "module_load nd_pmem rc")]


def _cut_stanza(d: Path, step: str, head: str) -> None:
    p = d / step / "zoneinfo"
    text = p.read_text()
    start = text.index(head)
    end = text.find("\nNode ", start + 1)
    p.write_text(text[:start] + (text[end + 1:] if end >= 0 else ""))


def _flip(w: np.ndarray, i: int, bit: int) -> np.ndarray:
    w[i] ^= np.uint64(1 << bit)
    return w


def test_every_kind_has_a_mutation():
    kinds = set(COLUMNS.values()) - {"block_size_bytes", "nr_memmap_pages", "lsmem"}   # tested below
    assert kinds <= set(MUTATIONS) | set(DAX_MUTATIONS)


@pytest.mark.parametrize("kind", sorted(MUTATIONS))
def test_a_changed_value_is_exactly_that_mismatch(tmp_path, kind):
    step, mutate, names = MUTATIONS[kind]
    d = _copy(tmp_path)
    mutate(d)
    r = replay(str(d), lsmem=None)
    bad = [(f.step, f.name) for f in r.fields if not f.ok]
    assert bad == [(step, n) for n in names]
    assert not r.ok
    assert main([str(d), "--mismatches"]) == 1


def test_block_size_mismatch_names_both_values(tmp_path):
    d = _copy(tmp_path)
    _edit_sysroot(d, "00-boot", _set_file("sys/devices/system/memory/block_size_bytes", "10000000\n"))
    r = replay(str(d), lsmem=None)
    bad = [f for f in r.fields if not f.ok]
    assert [f.name for f in bad] == ["block_size_bytes"]
    assert "model='8000000\\n'" in bad[0].line() or "model=8000000" in bad[0].line()
    assert "capture=10000000" in bad[0].line()


def test_nr_memmap_pages_mismatch(tmp_path):
    d = _copy(tmp_path, "6.12", "A")
    _edit_text(d, "02-online", "vmstat", "nr_memmap_pages 512", "nr_memmap_pages 511")
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=None).fields if not f.ok]
    assert bad == [("02-online", "vmstat nr_memmap_pages")]


def test_lsmem_mismatch(tmp_path, lsmem):
    if lsmem is None:
        pytest.skip("util-linux lsmem is not installed (tests/test_lsmem_guard.py fails under CI=true)")
    d = _copy(tmp_path)
    _edit_text(d, "02-online", "lsmem.txt", "online", "offline")
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=lsmem).fields if not f.ok]
    assert bad == [("02-online", "lsmem.txt")]


# ----------------------------------------------------------------------------------------------
# failing closed
# ----------------------------------------------------------------------------------------------
def test_a_deleted_step_folder_fails(tmp_path):
    d = _copy(tmp_path)
    shutil.rmtree(d / "03-stress")
    r = replay(str(d), lsmem=None)
    assert [(f.step, f.name) for f in r.fields if not f.ok] == [("03-stress", "step folder")]
    assert main([str(d)]) == 1


@pytest.mark.parametrize("name, expect", [
    ("range.kpageflags.gz", ["kpageflags words"]),
    ("node1.meminfo", ["node1 MemTotal kB"]),
    ("vmstat", ["vmstat nr_memmap_pages"]),
])
def test_a_missing_file_is_a_mismatch(tmp_path, name, expect):
    d = _copy(tmp_path)
    (d / "02-online" / name).unlink()
    r = replay(str(d), lsmem=None)
    bad = [(f.step, f.name) for f in r.fields if not f.ok]
    assert bad == [("02-online", n) for n in expect]
    assert "missing" in next(f for f in r.fields if not f.ok).line()


def test_missing_zoneinfo_and_sysroot_fail(tmp_path):
    d = _copy(tmp_path)
    (d / "02-online" / "zoneinfo").unlink()
    (d / "04-stress-stopped" / "sysroot.json").unlink()
    r = replay(str(d), lsmem=None)
    bad = {(f.step, f.name) for f in r.fields if not f.ok}
    assert ("02-online", "node1 zones") in bad
    assert ("04-stress-stopped", "memory blocks") in bad
    assert not r.ok


def test_a_node_cut_out_of_zoneinfo_fails(tmp_path):
    d = _copy(tmp_path)
    p = d / "02-online" / "zoneinfo"
    p.write_text(re.sub(r"Node 1, zone.*?(?=Node 2|\Z)", "", p.read_text(), flags=re.S))
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=None).fields if not f.ok]
    assert ("02-online", "node1 zones") in bad


def test_a_truncated_kpageflags_file_is_a_mismatch_not_a_traceback(tmp_path):
    d = _copy(tmp_path)
    p = d / "02-online" / "range.kpageflags.gz"
    p.write_bytes(gzip.compress(gzip.open(p).read()[:1003]))      # not even whole words
    bad = [(f.step, f.name) for f in replay(str(d), lsmem=None).fields if not f.ok]
    assert bad == [("02-online", "kpageflags words")]


def test_an_action_it_cannot_perform_is_an_error(tmp_path):
    d = _copy(tmp_path)
    _edit_scenario(d, lambda sc: sc["steps"][3]["actions"].append({"op": "frobnicate", "how": "hard"}))
    r = replay(str(d), lsmem=None)
    assert not r.ok and any("frobnicate" in e for e in r.errors)
    assert [(f.step, f.name) for f in r.fields if not f.ok] == [("03-stress", "action frobnicate")]
    assert main([str(d)]) == 1


def test_a_wait_it_cannot_evaluate_is_an_error(tmp_path):
    d = _copy(tmp_path)
    _edit_scenario(d, lambda sc: sc["steps"][1]["actions"][1].update(until="pidof kworker"))
    r = replay(str(d), lsmem=None)
    assert not r.ok and any("pidof kworker" in e for e in r.errors)


def test_no_steps_is_never_a_success(tmp_path, capsys):
    d = _copy(tmp_path)
    _edit_scenario(d, lambda sc: sc.__setitem__("steps", []))
    with pytest.raises(CaptureError, match="no steps"):
        replay(str(d))
    assert main([str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no steps" in err


@pytest.mark.parametrize("case", ["missing", "empty", "unknown kernel", "not json"])
def test_unreadable_captures_print_one_line(tmp_path, capsys, case):
    d = tmp_path / "cap"
    if case != "missing":
        d.mkdir()
    if case == "unknown kernel":
        src = _copy(tmp_path)
        sc = json.loads((src / "scenario.json").read_text())
        sc["kernel"]["series"] = "2.6"
        (d / "scenario.json").write_text(json.dumps(sc))
    if case == "not json":
        (d / "scenario.json").write_text("{nope")
    assert main([str(d)]) == 2
    out = capsys.readouterr()
    assert out.out == "" and out.err.count("\n") == 1 and "Traceback" not in out.err


def test_the_report_names_what_it_took_from_the_capture_and_left_out():
    cap = next(p for p in CAPTURES if p.parent.name == "6.12" and p.name == "C")
    r = replay(str(cap), lsmem=None)
    rep = r.report(only_mismatches=True)
    assert "taken from the capture:" in rep and "the kernel's own pages" in rep
    assert "02-online-kernel: node 1 Normal" in rep
    assert "left out:" in rep and "node1 Normal.free: a workload (stress or pin) runs on node 1" in rep


def test_replay_cli_exit_code(capsys):
    assert main([str(CAPTURES[0])]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("fields match")


def test_python_m_workbook_replay():
    p = subprocess.run([sys.executable, "-m", "workbook", "replay", "--mismatches", str(CAPTURES[0])],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "fields match" in p.stdout


def test_each_write_that_took_an_input_is_named():
    """6.12/F writes offline twice in one step; each write takes SLUB's state anew, and the report says which."""
    cap = next(p for p in CAPTURES if p.parent.name == "6.12" and p.name == "F")
    r = replay(str(cap), lsmem=None)
    slab = [i for i in r.inputs if "slab page(s)" in i]
    assert len(slab) == len(set(slab)) == 3
    assert [i.split(":")[0] for i in slab] == ["06-offline-twice, write 1 of 2", "06-offline-twice, write 2 of 2",
                                               "10-offline-both, write 1 of 2"]


def _more_on_the_pcp_lists(d: Path, extra_free_drop: int = 0) -> None:
    """Capture C, step 02: 8 more pages on CPU 0's per-cpu list of node 1 Normal than the kernel had (free 8 less,
    those pfns not BUDDY), as another run of the same kernel may show."""
    p = d / "02-online-kernel" / "zoneinfo"
    text = p.read_text()
    head = text.index("Node 1, zone   Normal")
    stanza_end = text.index("Node 1, zone  Movable")
    stanza = text[head:stanza_end]
    assert "pages free     131066" in stanza and "count: 4" in stanza
    stanza = stanza.replace("pages free     131066", f"pages free     {131058 - extra_free_drop}", 1)
    stanza = stanza.replace("count: 4", "count: 12", 1)
    p.write_text(text[:head] + stanza + text[stanza_end:])
    start = json.loads((d / "scenario.json").read_text())["steps"][2]["kpf_range"][0]

    def no_buddy(w: np.ndarray) -> np.ndarray:
        i = 0x100006 - start
        assert all(int(x) == 1 << 10 for x in w[i:i + 8])          # BUDDY in the shipped dump
        w[i:i + 8] = 0
        return w
    _edit_kpf(d, "02-online-kernel", no_buddy)


def test_per_cpu_lists_that_hold_more_than_the_models_compare_free_plus_pcp(tmp_path):
    """Pages on per-cpu lists depend on which CPU allocated and freed what: free and BUDDY give way to free + pcp."""
    d = _copy(tmp_path, "6.1", "C")
    _more_on_the_pcp_lists(d)
    r = replay(str(d), lsmem=None)
    assert r.ok, [f for f in r.fields if not f.ok]
    f = next(f for f in r.fields if f.step == "02-online-kernel" and f.name == "node1 Normal.free + per-cpu lists")
    assert f.ok and f.model == 131058 + 12
    assert not any(f.step == "02-online-kernel" and f.name == "node1 Normal.free" for f in r.fields)
    assert any("per-cpu lists: the model 4, the capture 12" in k for k in r.left_out)


def test_per_cpu_lists_do_not_hide_missing_pages(tmp_path):
    """Free pages missing from the counter, more than the CPUs' vmstat thresholds (16 + 16) can explain."""
    d = _copy(tmp_path, "6.1", "C")
    _more_on_the_pcp_lists(d, extra_free_drop=33)
    r = replay(str(d), lsmem=None)
    bad = [f for f in r.fields if not f.ok]
    assert [(f.step, f.name) for f in bad] == [("02-online-kernel", "node1 Normal.free + per-cpu lists")]


def _c_step2_words(d: Path, fn) -> None:
    start = json.loads((d / "scenario.json").read_text())["steps"][2]["kpf_range"][0]
    _edit_kpf(d, "02-online-kernel", lambda w: fn(w, start))


def test_the_kernels_own_pages_may_sit_in_another_order_within_their_pageblock(tmp_path):
    """Capture C, 02: the slab (0x100000-1) after its 4 plain pages instead of before: same pageblock, same count."""
    d = _copy(tmp_path, "6.1", "C")

    def swap(w, start):
        i = 0x100000 - start
        assert (int(w[i]) >> 15) & 1 and int(w[i + 2]) == 0      # SLAB|COMPOUND_HEAD, then a plain page
        w[i:i + 6] = np.concatenate([w[i + 2:i + 6], w[i:i + 2]])
        return w
    _c_step2_words(d, swap)
    r = replay(str(d), lsmem=None)
    assert r.ok, [f for f in r.fields if not f.ok]
    f = next(f for f in r.fields if f.step == "02-online-kernel" and f.name == "kpageflags memory32 BUDDY")
    assert "0x100000-0x1001ff: the count only" in f.model.describe()


def test_a_kernel_page_in_another_pageblock_is_still_a_mismatch(tmp_path):
    """The same number of non-free pages, but one of them moved to a pageblock far from the others."""
    d = _copy(tmp_path, "6.1", "C")

    def move(w, start):
        i = 0x100000 - start
        assert int(w[i + 5]) == 0 and int(w[i + 0x7000]) == 1 << 10
        w[i + 5], w[i + 0x7000] = np.uint64(1 << 10), np.uint64(0)
        return w
    _c_step2_words(d, move)
    r = replay(str(d), lsmem=None)
    bad = [(f.step, f.name) for f in r.fields if not f.ok]
    assert ("02-online-kernel", "kpageflags memory32 BUDDY") in bad


def test_a_lagging_free_counter_gives_way_to_the_buddy_pages(tmp_path):
    """zoneinfo's free counter misses per-cpu vmstat deltas (up to the CPUs' thresholds): BUDDY pages stand in."""
    d = _copy(tmp_path, "6.1", "C")
    _edit_text(d, "02-online-kernel", "zoneinfo", "pages free     131066", "pages free     131061")
    r = replay(str(d), lsmem=None)
    assert r.ok, [f for f in r.fields if not f.ok]
    f = next(f for f in r.fields if f.step == "02-online-kernel" and f.name == "node1 Normal.free (BUDDY pages)")
    assert f.capture == 131066
    assert any("lags the capture's own BUDDY pages (131066): per-cpu vmstat deltas (up to 32 here)" in k
               for k in r.left_out)


def test_a_free_counter_off_by_more_than_the_thresholds_is_a_mismatch(tmp_path):
    d = _copy(tmp_path, "6.1", "C")
    _edit_text(d, "02-online-kernel", "zoneinfo", "pages free     131066", "pages free     131030")
    r = replay(str(d), lsmem=None)
    assert [(f.step, f.name) for f in r.fields if not f.ok] == [("02-online-kernel", "node1 Normal.free")]


def test_with_reclaimable_pageblocks_the_kernels_pages_are_counted_over_their_pageblocks(tmp_path):
    """A zone with reclaimable pageblocks: which of the pageblocks a page of the kernel's own went to is not known."""
    d = _copy(tmp_path, "6.1", "C")

    def move(w, start):
        i = 0x100000 - start
        w[i + 5], w[i + 0x7000] = np.uint64(1 << 10), np.uint64(0)
        return w
    _c_step2_words(d, move)
    _edit_text(d, "02-online-kernel", "pagetypeinfo", "Node 1, zone   Normal            2          254            0",
               "Node 1, zone   Normal            1          254            1")
    r = replay(str(d), lsmem=None)
    assert r.ok, [f for f in r.fields if not f.ok]
    assert any("(compared as one count)" in k and "reclaimable pageblocks" in k for k in r.left_out)
