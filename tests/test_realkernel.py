"""The real-kernel path without QEMU: initramfs builder, QMP driver, parsers and file writers.

The step-file writers are checked against the shipped captures: rebuilt from a shipped step's
own data, memory_blocks.txt, lsmem tables and kpageflags runs must come out byte for byte.
"""
from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import shutil
import socket
import stat
import threading
from pathlib import Path

import numpy as np
import pytest

from workbook.captures import capture_dir, capture_dirs
from workbook.realkernel import capture as cap
from workbook.realkernel import initramfs, kernels, stepfiles
from workbook.realkernel.qmp import QmpDriver, QmpError, ost_event_names

CAPTURES = capture_dirs()
GCC = shutil.which("gcc")


# --- initramfs ------------------------------------------------------------------------------------

def test_cpio_newc_round_trip_and_layout():
    entries = [initramfs.CpioEntry("bin", stat.S_IFDIR | 0o755),
               initramfs.CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
               initramfs.CpioEntry("init", stat.S_IFREG | 0o755, b"#!/bin/sh\necho hi\n"),
               initramfs.CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox")]
    blob = initramfs.cpio_newc(entries)
    assert blob.startswith(b"070701") and len(blob) % 512 == 0
    back = initramfs.read_cpio_newc(blob)
    assert back == entries
    # every header and every data block starts 4-byte aligned (the kernel's unpacker requires it)
    pos = 0
    for e in entries:
        assert blob[pos:pos + 6] == b"070701"
        namesize = int(blob[pos + 94:pos + 102], 16)
        pos += 110 + namesize
        pos += -pos % 4
        pos += len(e.data) + (-len(e.data) % 4)
    assert blob[pos:pos + 6] == b"070701" and b"TRAILER!!!" in blob[pos:pos + 130]


def test_cpio_reader_rejects_garbage():
    with pytest.raises(ValueError):
        initramfs.read_cpio_newc(b"x" * 200)


def _elf(interp: bool) -> bytes:
    """A minimal ELF64 header with one program header (PT_INTERP or PT_LOAD)."""
    hdr = bytearray(64 + 56)
    hdr[:6] = b"\x7fELF\x02\x01"
    hdr[0x20:0x28] = (64).to_bytes(8, "little")
    hdr[0x36:0x38] = (56).to_bytes(2, "little")
    hdr[0x38:0x3A] = (1).to_bytes(2, "little")
    hdr[64:68] = (3 if interp else 1).to_bytes(4, "little")
    return bytes(hdr)


def test_is_static_elf():
    assert initramfs.is_static_elf(_elf(interp=False))
    assert not initramfs.is_static_elf(_elf(interp=True))
    assert not initramfs.is_static_elf(b"#!/bin/sh\n")


def test_dynamic_busybox_names_busybox_static(tmp_path, monkeypatch):
    fake = tmp_path / "busybox"
    fake.write_bytes(_elf(interp=True))
    monkeypatch.setenv("MEMHOTPLUG_BUSYBOX", str(fake))
    with pytest.raises(initramfs.ToolMissing) as err:
        initramfs.find_busybox()
    assert err.value.packages == ["busybox-static"]
    assert "apt-get install busybox-static" in str(err.value)


def test_guest_files_are_shipped():
    init = (initramfs.GUEST_DIR / "init").read_text()
    assert init.startswith("#!/bin/busybox sh") and "@@READY" in init and "ohelper bind 0 0" in init
    capsh = (initramfs.GUEST_DIR / "cap.sh").read_text()
    assert "waitfor()" in capsh and "cap()" in capsh and "/dev/ttyS1" in capsh
    assert "int main" in (initramfs.GUEST_DIR / "ohelper.c").read_text()


@pytest.mark.skipif(GCC is None or not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists(),
                    reason="needs gcc and libc6-dev (static libc)")
def test_build_initramfs_holds_the_guest(tmp_path, monkeypatch):
    fake = tmp_path / "busybox"
    fake.write_bytes(_elf(interp=False) + b"busybox-bytes")
    monkeypatch.setenv("MEMHOTPLUG_BUSYBOX", str(fake))
    out = initramfs.build_initramfs(tmp_path / "initrd.gz", {"kmem": b"\x7fELFko"}, cache=tmp_path / "cache")
    entries = {e.name: e for e in initramfs.read_cpio_newc(gzip.decompress(out.read_bytes()))}
    assert stat.S_ISCHR(entries["dev/console"].mode) and entries["dev/console"].rdev == (5, 1)
    assert entries["bin/busybox"].data.endswith(b"busybox-bytes")
    assert stat.S_ISLNK(entries["bin/sh"].mode) and entries["bin/sh"].data == b"busybox"
    assert entries["init"].mode & 0o111 and entries["init"].data == (initramfs.GUEST_DIR / "init").read_bytes()
    assert initramfs.is_static_elf(entries["bin/ohelper"].data)
    assert entries["mod/kmem.ko"].data == b"\x7fELFko"
    # the helper is compiled once: a second build reuses the cached binary
    first = sorted((tmp_path / "cache" / "guest").iterdir())
    initramfs.build_ohelper(tmp_path / "cache")
    assert sorted((tmp_path / "cache" / "guest").iterdir()) == first


@pytest.mark.skipif(GCC is None or not Path("/usr/lib/x86_64-linux-gnu/libc.a").exists(),
                    reason="needs gcc and libc6-dev (static libc)")
def test_ohelper_wr_and_cap_on_the_host(tmp_path):
    import subprocess
    exe = initramfs.build_ohelper(tmp_path / "cache")
    target = tmp_path / "f"
    target.write_text("")
    p = subprocess.run([exe, "wr", str(target), "online_movable"], capture_output=True, text=True)
    assert p.returncode == 0 and target.read_text() == "online_movable"
    assert p.stdout == f"@@WR path={target} value=online_movable rc=14 errno=0\n"
    m = cap._WR.search(p.stdout)
    assert m and m.group("rc") == "14" and m.group("errno") == "0"
    p = subprocess.run([exe, "wr", str(tmp_path / "no" / "such"), "1"], capture_output=True, text=True)
    assert p.returncode == 1 and "rc=-1 errno=2 (No such file or directory) [open]" in p.stdout
    m = cap._WR.search(p.stdout)
    assert m.group("errno") == "2" and m.group("strerror") == "No such file or directory" and m.group("open")
    # a capture of this (host) kernel parses into records: procfs copies and the uname
    p = subprocess.run([exe, "cap"], capture_output=True)
    rec = stepfiles.parse_records(p.stdout)
    assert rec.files["uname_r"].decode().strip() == os.uname().release
    assert b"MemTotal:" in rec.files["meminfo"] and rec.files["guest_time"].strip().isdigit()


# --- parsers and writers -----------------------------------------------------------------------------

def test_parse_records_files_links_and_truncation():
    blob = b"F 5 zoneinfo\nabcde\nL 16 sys/x/node1\n../../node/node1\nF 0 empty\n\n"
    rec = stepfiles.parse_records(blob)
    assert rec.files == {"zoneinfo": b"abcde", "empty": b""}
    assert rec.links == {"sys/x/node1": "../../node/node1"}
    with pytest.raises(ValueError):
        stepfiles.parse_records(b"F 10 zoneinfo\nabc\n")


def test_dmesg_new():
    assert stepfiles.dmesg_new(None, "a\nb\n") == ("a\nb\n", False)
    assert stepfiles.dmesg_new("a\nb\n", "a\nb\nc\n") == ("c\n", False)
    assert stepfiles.dmesg_new("a\nb\n", "a\nb\n") == ("", False)
    # the ring buffer dropped its first lines: continue after the last line seen
    assert stepfiles.dmesg_new("a\nb\n", "b\nc\n") == ("c\n", False)
    assert stepfiles.dmesg_new("a\nb\n", "x\ny\n") == ("x\ny\n", True)


@pytest.mark.parametrize("folder", [p for c in CAPTURES for p in sorted(c.iterdir()) if (p / "sysroot.json").exists()][:40],
                         ids=lambda p: f"{p.parent.parent.name}-{p.parent.name}-{p.name}")
def test_step_texts_rebuilt_byte_for_byte(folder):
    sysroot = json.loads((folder / "sysroot.json").read_text())
    assert stepfiles.memory_blocks_txt(sysroot) == (folder / "memory_blocks.txt").read_text()
    if (folder / "kpf_range").exists():
        start, _ = map(int, (folder / "kpf_range").read_text().split())
        f = np.frombuffer(gzip.open(folder / "range.kpageflags.gz").read(), "<u8")
        c = np.frombuffer(gzip.open(folder / "range.kpagecount.gz").read(), "<u8")
        assert stepfiles.kpf_runs_txt(start, f, c) == (folder / "range.kpageflags.runs.txt").read_text()
    lsmem = shutil.which("lsmem")
    if lsmem:
        assert stepfiles.lsmem_text(sysroot, [], lsmem) == (folder / "lsmem.txt").read_text()
        assert (stepfiles.lsmem_text(sysroot, ["-a", "-o", stepfiles.LSMEM_A_COLUMNS], lsmem)
                == (folder / "lsmem-a.txt").read_text())


@pytest.mark.parametrize("series", ["5.10", "6.1"])
def test_write_step_from_records_makes_the_shipped_files(tmp_path, series):
    """A shipped step turned back into guest records and written again gives the same files."""
    cap = next(c for c in CAPTURES if c.parent.name == series and c.name == "A")
    src = cap / "01-hotadd"
    boot = cap / "00-boot"
    sysroot = json.loads((src / "sysroot.json").read_text())
    rec = stepfiles.Records({k: v.encode() for k, v in sysroot["files"].items()}, dict(sysroot["symlinks"]))
    for name in stepfiles.PROC_FILES + ("guest_time",):
        rec.files[name] = (src / name).read_bytes()
    for p in src.glob("node*.meminfo"):
        rec.files[p.name] = p.read_bytes()
    rec.files["cmdline"] = (boot / "cmdline").read_bytes()
    rec.files["uname_r"] = (boot / "uname_r").read_bytes()
    for line in (boot / "memory_hotplug_params").read_text().splitlines():
        if line.startswith("#"):
            continue                      # 5.10: no /sys/module/memory_hotplug at all
        k, v = line.split("=", 1)
        rec.files[f"sys/module/memory_hotplug/parameters/{k}"] = (v + "\n").encode()
    boot_dmesg = (boot / "dmesg.new").read_text()
    rec.files["dmesg"] = (boot_dmesg + (src / "dmesg.new").read_text()).encode()
    rec.files["range.kpageflags"] = gzip.open(src / "range.kpageflags.gz").read()
    rec.files["range.kpagecount"] = gzip.open(src / "range.kpagecount.gz").read()
    kpf = list(map(int, (src / "kpf_range").read_text().split()))
    boot_texts = {"cmdline": (boot / "cmdline").read_text(), "uname_r": (boot / "uname_r").read_text(),
                  "memory_hotplug_params": (boot / "memory_hotplug_params").read_text()}
    stepfiles.write_step(tmp_path / "01-hotadd", rec, kpf, boot_dmesg, boot_texts, shutil.which("lsmem"))
    out = tmp_path / "01-hotadd"
    skip = set() if shutil.which("lsmem") else {"lsmem.txt", "lsmem-a.txt"}
    for p in src.iterdir():
        if p.name in skip:
            continue
        if p.suffix == ".gz":
            assert gzip.open(out / p.name).read() == gzip.open(p).read(), p.name
        elif p.name == "sysroot.json":
            assert json.loads((out / p.name).read_text()) == json.loads(p.read_text())
        else:
            assert (out / p.name).read_bytes() == p.read_bytes(), p.name
    # boot-only files stay out of a later step that has the boot's values
    assert not (out / "cmdline").exists() and not (out / "uname_r").exists()


def test_memory_hotplug_params_absent_on_a_kernel_without_them():
    assert stepfiles._params_text(stepfiles.Records()) == (
        "# /sys/module/memory_hotplug/parameters: absent\n"
        "# ls: /sys/module/memory_hotplug: No such file or directory\n")


@pytest.mark.parametrize("folder", CAPTURES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_qemu_argv_is_the_shipped_runs_command_line(folder):
    sc = json.loads((folder / "scenario.json").read_text())
    want = json.loads((folder / "run_meta.json").read_text())["qemu_args"]
    got = cap.qemu_argv(sc["machine"], want[want.index("-kernel") + 1], want[want.index("-initrd") + 1],
                        sc["machine"]["accel"], "ttyS1.log", "qmp.sock")
    assert got == want


def test_qemu_argv_machine_options_and_big_backends():
    m = {"qemu_machine": "pc", "qemu_machine_options": {"max-ram-below-4g": 1 << 30}, "ram_bytes": 63 << 30,
         "maxmem_bytes": 96 << 30, "slots": 8, "cpus": 4, "cmdline": "console=ttyS0",
         "nodes": [{"id": 0, "cpus": [0, 1, 3], "boot_memory_bytes": 63 << 30},
                   {"id": 1, "cpus": [2], "boot_memory_bytes": 0}]}
    argv = cap.qemu_argv(m, "bz", "rd", "tcg", "t", "q")
    assert argv[argv.index("-M") + 1] == "pc,max-ram-below-4g=1G"
    assert "memory-backend-ram,id=boot0,size=63G,reserve=off" in argv
    assert "node,nodeid=0,cpus=0-1,cpus=3,memdev=boot0" in argv and "node,nodeid=1,cpus=2" in argv
    assert argv[argv.index("-smp") + 1] == "4,sockets=4,cores=1,threads=1"


def test_builtin_scenarios():
    sc = cap.load_scenario("procedure")
    off = cap.load_scenario("procedure-off")
    assert "memory_hotplug.memmap_on_memory=1" in sc["machine"]["cmdline"]
    assert "memory_hotplug.memmap_on_memory=0" in off["machine"]["cmdline"]
    assert [s["name"] for s in sc["steps"]] == [s["name"] for s in off["steps"]]
    ops = [a["op"] for s in sc["steps"] for a in s["actions"]]
    assert ops == ["dimm_add", "wait", "write", "workload_start", "workload_stop", "sleep", "write",
                   "dimm_del", "wait"]
    # intent only: no results in the input
    assert all("result" not in a and "errno" not in a for s in sc["steps"] for a in s["actions"])


def test_load_scenario_accepts_shipped_folders_and_refuses_others(tmp_path):
    assert cap.load_scenario(str(CAPTURES[0]))["format"] == 1
    with pytest.raises(FileNotFoundError):
        cap.load_scenario(str(tmp_path / "nope"))
    (tmp_path / "scenario.json").write_text('{"format": 2}')
    with pytest.raises(ValueError):
        cap.load_scenario(str(tmp_path))


def test_wr_line_parser():
    m = cap._WR.search("x\n@@WR path=/sys/a/state value=offline rc=-1 errno=16 (Device or resource busy)\n")
    assert (m.group("rc"), m.group("errno"), m.group("strerror"), m.group("open")) == (
        "-1", "16", "Device or resource busy", None)


def test_capture_refuses_an_existing_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(cap, "check_tools", lambda: None)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep").write_text("a student's capture")
    with pytest.raises(FileExistsError):
        cap.capture("procedure", "debian:6.1", tmp_path / "out")
    assert (tmp_path / "out" / "keep").read_text() == "a student's capture"


def test_check_tools_names_the_packages(monkeypatch):
    monkeypatch.setattr(cap.shutil, "which", lambda name: None)
    monkeypatch.setenv("MEMHOTPLUG_BUSYBOX", "/nonexistent")
    monkeypatch.setattr(initramfs, "find_busybox", lambda: (_ for _ in ()).throw(
        initramfs.ToolMissing("no busybox", ["busybox-static"])))
    monkeypatch.setattr(cap, "find_busybox", initramfs.find_busybox)
    with pytest.raises(initramfs.ToolMissing) as err:
        cap.check_tools()
    assert err.value.packages == ["qemu-system-x86", "busybox-static", "gcc", "libc6-dev"]


def test_cli_prints_the_install_line(monkeypatch, capsys):
    from workbook.realkernel import cli

    def missing(*a, **k):
        raise initramfs.ToolMissing("the real-kernel path needs qemu-system-x86", ["qemu-system-x86"])
    monkeypatch.setattr(cap, "capture", missing)
    assert cli.main(["procedure", "--kernel", "debian:6.1", "--out", "x"]) == 1
    err = capsys.readouterr().err
    assert "apt-get install -y qemu-system-x86" in err


# --- kernels ------------------------------------------------------------------------------------------

def test_parse_config_and_required_options():
    cfg = kernels.parse_config("CONFIG_NUMA=y\n# CONFIG_MEMORY_HOTREMOVE is not set\nCONFIG_NODES_SHIFT=10\n"
                               'CONFIG_LOCALVERSION=""\n')
    assert cfg == {"CONFIG_NUMA": "y", "CONFIG_MEMORY_HOTREMOVE": "n", "CONFIG_NODES_SHIFT": "10",
                   "CONFIG_LOCALVERSION": ""}
    k = kernels.Kernel("x", Path("bz"), "6.1.0-1-amd64", "6.1", None, None, cfg, "cfg")
    assert k.missing() == ["CONFIG_MEMORY_HOTPLUG", "CONFIG_MEMORY_HOTREMOVE", "CONFIG_ACPI_HOTPLUG_MEMORY",
                           "CONFIG_PROC_PAGE_MONITOR"]
    assert k.hotplug_config() == {"CONFIG_NUMA": "y", "CONFIG_NODES_SHIFT": "10", "CONFIG_MEMORY_HOTREMOVE": "n"}
    assert kernels.Kernel("x", Path("bz"), "r", "6.1", None, None, None, None).missing() == []


def test_shipped_configs_have_what_the_procedure_needs():
    for folder in CAPTURES:
        config = json.loads((folder / "scenario.json").read_text())["kernel"]["config"]
        k = kernels.Kernel("x", Path("bz"), "r", "6.1", None, None, config, "scenario.json")
        assert k.missing() == []
        assert list(k.hotplug_config()) == list(config)       # same options, same order


def _bzimage(release: str, payload: bytes = b"") -> bytes:
    img = bytearray(0x4000)
    img[0x202:0x206] = b"HdrS"
    img[0x20E:0x210] = (0x1000).to_bytes(2, "little")
    text = f"{release} (debian-kernel@lists.debian.org) #1 SMP Debian".encode()
    img[0x1200:0x1200 + len(text)] = text
    return bytes(img) + payload


def test_bzimage_release_and_ikconfig(tmp_path):
    assert kernels.bzimage_release(_bzimage("6.12.117+deb13-amd64")) == "6.12.117+deb13-amd64"
    assert kernels.bzimage_release(b"\0" * 0x300) is None
    inner = b"junk" + b"IKCFG_ST" + gzip.compress(b"CONFIG_NUMA=y\n") + b"IKCFG_ED"
    img = _bzimage("6.1.0-1-amd64", gzip.compress(inner))          # a gzip-compressed payload
    assert kernels.ikconfig(img) == "CONFIG_NUMA=y\n"
    p = tmp_path / "vmlinuz-6.1.0-1-amd64"
    p.write_bytes(img)
    k = kernels.kernel_from_image(p)
    assert (k.release, k.series, k.config) == ("6.1.0-1-amd64", "6.1", {"CONFIG_NUMA": "y"})
    assert k.missing() == ["CONFIG_MEMORY_HOTPLUG", "CONFIG_MEMORY_HOTREMOVE", "CONFIG_ACPI_HOTPLUG_MEMORY",
                           "CONFIG_PROC_PAGE_MONITOR"]
    (tmp_path / "config-6.1.0-1-amd64").write_text("CONFIG_MEMORY_HOTPLUG=y\n")
    assert kernels.kernel_from_image(p).config == {"CONFIG_MEMORY_HOTPLUG": "y"}    # the file beside it wins
    with pytest.raises(kernels.KernelError):
        kernels.kernel_from_image(tmp_path / "config-6.1.0-1-amd64")             # not a bzImage


def test_sources_parsing_and_private_list(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text("Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\n"
                      "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
                      "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n"
                      "Components: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\n"
                      "Types: deb\nEnabled: no\nURIs: http://other.invalid/x\nSuites: sid\nComponents: main\n")
    oneline = tmp_path / "x.list"
    oneline.write_text("# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://m2.invalid/debian trixie main contrib\n")
    src = kernels._parse_sources(deb822)
    assert [(s.uri, s.suites) for s in src] == [("http://mirror.invalid/debian", ["bookworm", "bookworm-updates"]),
                                                ("http://mirror.invalid/debian-security", ["bookworm-security"])]
    one = kernels._parse_sources(oneline)
    assert (one[0].uri, one[0].suites, one[0].signed_by) == ("http://m2.invalid/debian", ["trixie"], "/k.gpg")
    text = kernels.private_sources_list(("trixie", "trixie-security"), src[0], src[1])
    assert text == ("deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                    "http://mirror.invalid/debian trixie main\n"
                    "deb [arch=amd64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] "
                    "http://mirror.invalid/debian-security trixie-security main\n")


def test_suites_and_package_choice():
    assert kernels.suites_for("6.1") == ("bookworm", "bookworm-security")
    assert kernels.suites_for("7.2") == ("sid",)
    with pytest.raises(kernels.KernelError):
        kernels.suites_for("4.19")
    names = ["linux-image-6.1.0-9-amd64", "linux-image-6.1.0-56-amd64", "linux-image-6.1.0-56-amd64-unsigned",
             "linux-image-6.1.0-56-cloud-amd64", "linux-image-6.1.0-56-rt-amd64", "linux-image-amd64",
             "linux-image-6.1.0-56-amd64-dbg", "linux-image-6.12.117+deb13-amd64"]
    assert kernels._pick_package(names, "6.1") == "linux-image-6.1.0-56-amd64-unsigned"
    assert kernels._pick_package(names, "6.12") == "linux-image-6.12.117+deb13-amd64"
    assert kernels._pick_package(names, "5.10") is None
    assert kernels.series_of("6.12.117+deb13-amd64") == "6.12"


def test_resolve_kernel_rejects_bad_specs():
    with pytest.raises(kernels.KernelError):
        kernels.resolve_kernel("debian:latest")
    with pytest.raises(kernels.KernelError):
        kernels.resolve_kernel("/nonexistent/vmlinuz")


# --- QMP --------------------------------------------------------------------------------------------

class FakeQmp:
    """A QMP server on a unix socket: greeting, capabilities, a few commands, events."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()
        assert self.ready.wait(10)

    def _serve(self) -> None:
        async def handle(reader, writer):
            def send(obj):
                writer.write(json.dumps(obj).encode() + b"\r\n")
            send({"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7}, "package": "fake"},
                          "capabilities": ["oob"]}})
            buf, dec = "", json.JSONDecoder()
            while True:
                chunk = await reader.read(4096)
                if not chunk:
                    break
                buf += chunk.decode()
                buf = buf.lstrip()
                try:
                    msg, end = dec.raw_decode(buf)     # the client pretty-prints over several lines
                except ValueError:
                    continue
                buf = buf[end:]
                cmd, mid = msg.get("execute"), msg.get("id")
                if cmd == "device_add":
                    send({"event": "ACPI_DEVICE_OST", "timestamp": {"seconds": 1, "microseconds": 0},
                          "data": {"info": {"device": msg["arguments"]["id"], "source": 1, "status": 0,
                                            "slot": "0", "slot-type": "DIMM"}}})
                    send({"return": {}, "id": mid})
                elif cmd == "device_del":
                    send({"return": {}, "id": mid})
                    await asyncio.sleep(0.05)
                    send({"event": "DEVICE_DELETED", "timestamp": {"seconds": 2, "microseconds": 0},
                          "data": {"device": msg["arguments"]["id"], "path": "/machine/peripheral/x"}})
                elif cmd == "nonsense":
                    send({"error": {"class": "CommandNotFound", "desc": "The command nonsense has not been found"},
                          "id": mid})
                else:
                    send({"return": {}, "id": mid})
                await writer.drain()
            writer.close()

        async def main():
            self.server = await asyncio.start_unix_server(handle, str(self.path))
            self.ready.set()
            await self.server.serve_forever()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(main())
        except (asyncio.CancelledError, RuntimeError):
            pass

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)


@pytest.fixture
def fake_qmp():
    pytest.importorskip("qemu.qmp")
    import tempfile
    d = tempfile.mkdtemp(prefix="qmp-")           # a short path: unix sockets allow 107 bytes
    srv = FakeQmp(Path(d) / "qmp.sock")
    yield srv
    srv.close()
    shutil.rmtree(d, ignore_errors=True)


def test_qmp_driver_commands_events_and_log(fake_qmp, tmp_path):
    log = tmp_path / "qmp.log"
    q = QmpDriver(log)
    try:
        q.connect(fake_qmp.path, timeout=10)
        mark = q.mark()
        assert q.execute("device_add", {"driver": "pc-dimm", "id": "dimm1", "memdev": "mem1", "node": 1}) == {}
        ost = q.wait_event(lambda e: e["event"] == "ACPI_DEVICE_OST", 5, since=mark)
        assert ost_event_names(ost["data"]["info"]) == {"source": 1, "source_name": "device_check", "status": 0,
                                                        "status_name": "success"}
        q.execute("device_del", {"id": "dimm1"})
        ev = q.wait_event(lambda e: e["event"] == "DEVICE_DELETED" and e["data"]["device"] == "dimm1", 5,
                          since=mark)
        assert ev is not None and "_t" in ev
        assert q.wait_event(lambda e: e["event"] == "NEVER", 0.2) is None
        with pytest.raises(QmpError) as err:
            q.execute("nonsense")
        assert err.value.error_class == "CommandNotFound" and "has not been found" in err.value.desc
    finally:
        q.close()
    lines = log.read_text().splitlines()
    kinds = [ln.split(" ", 1)[0] for ln in lines]
    assert set(kinds) == {"send", "recv"}
    msgs = [json.loads(ln.split(" ", 1)[1]) for ln in lines]
    assert msgs[0]["QMP"]["version"]["qemu"]["major"] == 7                 # the greeting comes first
    assert any(m.get("execute") == "qmp_capabilities" for m in msgs)
    assert any(m.get("event") == "DEVICE_DELETED" for m in msgs)


def test_qmp_connect_times_out_without_a_server(tmp_path):
    pytest.importorskip("qemu.qmp")
    q = QmpDriver()
    try:
        with pytest.raises(Exception):
            q.connect(tmp_path / "none.sock", timeout=0.5)
    finally:
        q.close()


def test_ost_event_without_device_field():
    assert ost_event_names({"source": 3, "status": 0, "slot": "0"})["device_field_absent"] is True
    assert ost_event_names({"source": 3, "status": 130, "device": "d"})["status_name"] == "device_busy"


def test_kvm_probe_does_not_raise():
    assert cap.kvm_usable() in (True, False)


def test_unix_socket_limit_fits_the_scratch_dir():
    # the QMP socket lives in a mkdtemp() folder: its path must fit sockaddr_un
    import tempfile
    d = tempfile.mkdtemp(prefix="memhotplug-capture-")
    try:
        s = socket.socket(socket.AF_UNIX)
        s.bind(os.path.join(d, "qmp.sock"))
        s.close()
    finally:
        shutil.rmtree(d)


# --- diff ---------------------------------------------------------------------------------------------

def test_diff_of_61_and_612_lists_only_the_memmap_differences():
    from workbook.realkernel.diff import diff
    r = diff(capture_dir("6.1", "A"), capture_dir("6.12", "A"), lsmem=shutil.which("lsmem"))
    differ = sorted({f.name for f in r.fields if not f.ok})
    assert differ == ["kpageflags memory32 RESERVED", "vmstat nr_memmap_pages"]
    reserved = [f for f in r.fields if f.name == "kpageflags memory32 RESERVED" and not f.ok]
    # the block is online in 02-04: 6.1 marks its 512 memmap pfns RESERVED, 6.12 does not
    assert [f.step for f in reserved] == ["02-online", "03-stress", "04-stress-stopped"]
    assert all((f.model.bits.sum(), f.capture.bits.sum()) == (512, 0) for f in reserved)
    owner = [f for f in r.fields if f.name == "kpageflags memory32 OWNER_PRIVATE" and f.step == "02-online"]
    assert owner and owner[0].ok and owner[0].capture.bits.sum() == 512          # both: OWNER_PRIVATE
    memmap = {f.step: (f.model, f.capture) for f in r.fields if f.name == "vmstat nr_memmap_pages"}
    assert memmap["02-online"] == ("no such line", 512) and memmap["06-hotremove"] == ("no such line", 0)


def test_diff_of_a_capture_with_itself_is_empty_and_exits_0(capsys):
    from workbook.realkernel.diff import main
    assert main([str(capture_dir("6.12", "C")), str(capture_dir("6.12", "C"))]) == 0
    last = capsys.readouterr().out.rstrip().splitlines()[-1]
    assert re.fullmatch(r"0 of \d{4} fields differ", last), last


def test_diff_reports_action_outcomes_and_exits_1(tmp_path, capsys):
    from workbook.realkernel.diff import main
    a = tmp_path / "a"
    shutil.copytree(capture_dir("6.1", "A"), a)
    sc = json.loads((a / "scenario.json").read_text())
    sc["steps"][5]["actions"][0]["errno"] = 16            # 05-offline: the offline write failed EBUSY
    (a / "scenario.json").write_text(json.dumps(sc))
    assert main([str(a), str(capture_dir("6.1", "A")), "--differences"]) == 1
    out = capsys.readouterr().out
    assert "05-offline" in out and "write offline > memory32/state errno" in out and "a=16 b=0" in out
    assert re.fullmatch(r"1 of \d+ fields differ", out.rstrip().splitlines()[-1])


def test_diff_of_unreadable_folder_exits_2(tmp_path, capsys):
    from workbook.realkernel.diff import main
    assert main([str(tmp_path), str(capture_dir("6.1", "A"))]) == 2


def test_capture_progress_widget_and_capture_compare_on_a_folder(capsys):
    from widgets.capture_compare import CaptureCompare
    from widgets.capture_progress import CaptureProgress
    bar = CaptureProgress()
    bar(cap.StepEvent(2, 7, "01-hotadd", 0.4, "dimm_add dimm1 ok; wait ok"))
    assert (bar.bar.value, bar.bar.max) == (2, 7)
    assert "01-hotadd" in bar.label.value and capsys.readouterr().out.startswith("[2/7] 01-hotadd")
    cc = CaptureCompare("B", kernels=("6.12",), folders={"6.12": capture_dir("6.12", "A")})
    # the folder given wins over the shipped capture of the scenario named
    assert cc.text("6.12", "02-online", "node meminfo", "real").startswith("Node 1 MemTotal:")
    assert "129024" in cc.text("6.12", "02-online", "node meminfo", "real")


# --- dax.txt: the guest's shell function and the model's printer read the same tree alike --------------

def _materialise(m, path: str, root: Path) -> None:
    """Write the model's sysfs entry ``path`` (recursively, symlinks as symlinks) under ``root``."""
    from workbook.errors import KernelError
    target = root / path.lstrip("/")
    try:
        link = m.readlink(path)
    except KernelError:
        link = None
    if link is not None:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(link)
        return
    try:
        entries = m.ls(path)
    except KernelError:
        entries = None                          # a file
    if entries is not None:
        target.mkdir(parents=True, exist_ok=True)
        for e in entries:
            _materialise(m, f"{path}/{e}", root)
        return
    try:
        value = m.read(path)
    except KernelError:
        return                                  # write-only: the guest's cat prints an error instead
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(value if isinstance(value, bytes) else value.encode())


@pytest.mark.skipif(shutil.which("busybox") is None, reason="needs busybox (busybox-static)")
@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_guest_dax_txt_reads_a_tree_as_the_model_prints_it(tmp_path, kernel):
    """cap.sh's dax_txt, run by busybox sh on the model's own sysfs written out, parses to what the model prints."""
    import subprocess
    from workbook.dax import soft_reserved_machine
    from workbook.observe import dax_txt, parse_dax_txt
    m = soft_reserved_machine(kernel)
    m.insmod("device_dax")
    m.insmod("dax_hmem")
    m.insmod("kmem")
    if kernel == "6.1":                     # 6.1's kmem binds nothing until new_id (as in the captures)
        m.write("/sys/bus/dax/drivers/device_dax/unbind", "dax0.0")
        m.write("/sys/bus/dax/drivers/kmem/new_id", "dax0.0")
    for p in ("/sys/bus/dax", "/sys/bus/platform/devices", "/sys/devices/platform/hmem.0",
              "/sys/devices/platform/hmem_platform.0", "/sys/devices/virtual/memory_tiering"):
        _materialise(m, p, tmp_path)
    for k in ("possible", "online", "has_normal_memory", "has_memory", "has_cpu"):
        _materialise(m, f"/sys/devices/system/node/{k}", tmp_path)
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "modules").write_text(str(m.read("/proc/modules")))
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "dax0.0").write_text("")
    script = (Path(cap.__file__).parent / "guest" / "cap.sh").read_text()
    done = subprocess.run([shutil.which("busybox"), "sh", "-c", script + "\ndax_txt\n"], capture_output=True,
                          text=True, env={"DAXROOT": str(tmp_path), "PATH": os.environ["PATH"]}, timeout=60)
    assert done.returncode == 0, done.stderr
    guest, model = parse_dax_txt(done.stdout), parse_dax_txt(dax_txt(m))
    for side in (guest, model):             # the write-only files (mapping, dax_region/delete) and ls -l /dev
        for dev in side["device"].values():
            dev["attrs"] = {k: v for k, v in dev["attrs"].items() if not v.startswith("<unreadable")
                            and not k.startswith("-rw")}
    assert model["devices"] == ["dax0.0"] and model["drivers"]["kmem"] == ["dax0.0"]
    assert guest == model
