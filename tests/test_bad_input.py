"""Bad input from Python gets a clear one-line answer, never a traceback from inside the model.

What the kernel or QEMU would answer is their answer (a KernelError, a DimmResult "error: ..."
with QEMU 7.2's message); a Python type mistake is a TypeError raised at the interface.
Capture folders the replay cannot use: tests/test_capture_input.py.
"""
from __future__ import annotations

import errno
from pathlib import Path

import pytest

from workbook.arch import GiB, MiB
from workbook.errors import KernelError
from workbook.machine import Machine, NodeSpec
from workbook.qemu import qemu_strtosz

MEM = "/sys/devices/system/memory"


def qemu(kernel: str = "6.12") -> Machine:
    return Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline",
                   nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB, maxmem_bytes=32 * GiB)


def one_line(e: BaseException) -> str:
    text = str(e)
    assert text and "\n" not in text, text
    return text


# ---- Machine.write / read ----------------------------------------------------------------------
@pytest.mark.parametrize("value", [5, None, 1.5, ["online"], object()])
def test_write_of_a_non_buffer_is_a_type_error_naming_the_type(value):
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    with pytest.raises(TypeError) as ei:
        m.write(f"{MEM}/memory32/state", value)
    assert type(value).__name__ in one_line(ei.value) and "str or bytes" in str(ei.value)
    assert ei.traceback[-1].path.name == "sysfs.py" and ei.traceback[-1].name == "_buffer"
    assert m.read(f"{MEM}/memory32/state") == "offline\n"


def test_bytes_are_what_write_takes():
    m = qemu()
    m.dimm_add(256 * MiB, 1, "d")
    assert m.write(f"{MEM}/memory32/state", b"online_movable") == 14
    assert m.write(f"{MEM}/memory32/state", b"offline\n") == 8           # sysfs_streq(): one newline
    assert m.write(f"{MEM}/memory32/state", bytearray(b"online_movable")) == 14
    assert m.write(f"{MEM}/memory32/state", memoryview(b"offline")) == 7
    # the store method sees a C string: what follows a NUL byte is counted, never parsed
    assert m.write(f"{MEM}/memory33/state", b"online_movable\0junk") == 19
    assert m.read(f"{MEM}/memory33/state") == "online\n" and m.blocks[33].zone.name == "Movable"
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory32/state", b"online\n\n")                # two newlines: no match
    assert ei.value.errno == errno.EINVAL
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory32/state", "onlíne".encode("latin-1"))
    assert ei.value.errno == errno.EINVAL
    assert m.write(f"{MEM}/memory32/state", "") == 0                     # sysfs_kf_write(): !count
    assert m.write(f"{MEM}/memory32/online", b"") == 0
    assert m.read(f"{MEM}/memory32/state") == "offline\n"
    # kernfs hands a store at most PAGE_SIZE bytes and write(2) returns that many
    assert m.write(f"{MEM}/memory32/online", b"1" + b"x" * 5000) == 4096
    assert m.read(f"{MEM}/memory32/state") == "online\n"


def test_str_counts_its_utf8_bytes():
    m = qemu()
    m.dimm_add(128 * MiB, 1, "d")
    with pytest.raises(KernelError) as ei:
        m.write(f"{MEM}/memory32/state", "onlïne")
    assert ei.value.errno == errno.EINVAL
    assert m.write(f"{MEM}/auto_online_blocks", "offline") == 7


@pytest.mark.parametrize("path", [5, None, b"\xff"])
def test_read_and_write_of_a_bad_path(path):
    m = qemu()
    if isinstance(path, bytes):
        with pytest.raises(KernelError) as ei:        # a bytes path is a path: it just is not there
            m.read(path)
        assert ei.value.errno == errno.ENOENT
        return
    for op in (lambda: m.read(path), lambda: m.write(path, "1"), lambda: m.ls(path)):
        with pytest.raises(TypeError) as ei:
            op()
        assert "path must be str or os.PathLike" in one_line(ei.value)


def test_pathlike_paths_work():
    m = qemu()
    assert m.read(Path(MEM) / "block_size_bytes") == "8000000\n"


# ---- dimm_add --------------------------------------------------------------------------------
@pytest.mark.parametrize("text,value", [("128M", 128 * MiB), ("1.5G", 3 * GiB // 2), ("0x8000000", 128 * MiB),
                                        ("134217728", 128 * MiB), ("1.G", GiB), ("2k", 2048), ("1b", 1),
                                        ("  64M", 64 * MiB), ("0.5M", 512 * 1024), ("15E", 15 << 60)])
def test_qemu_strtosz_takes_what_qemu_takes(text, value):
    assert qemu_strtosz(text) == value


@pytest.mark.parametrize("text", ["-1", "1e3", "0x1.8", "1.5", "16E", "128Q", "128M ", "", "M", ".5G", "1.5e3G"])
def test_qemu_strtosz_refuses_what_qemu_refuses(text):
    with pytest.raises(ValueError):
        qemu_strtosz(text)


@pytest.mark.parametrize("size,error", [
    (0, "property 'size' of memory-backend-ram doesn't take value '0'"),
    ("0", "property 'size' of memory-backend-ram doesn't take value '0'"),
    (-1, "Parameter 'size' expects size"),
    (-128 * MiB, "Parameter 'size' expects size"),
    ("128Q", "Parameter 'size' expects size"),
    ("-1G", "Parameter 'size' expects size"),
    (1 << 64, "Parameter 'size' expects size"),
    (4096, "backend memory size must be multiple of 0x200000"),
    (128 * MiB + 4096, "backend memory size must be multiple of 0x200000"),
    ("1M", "backend memory size must be multiple of 0x200000"),
    (64 * GiB, "not enough space, currently 0x0 in use of total space for memory devices 0x7c0000000"),
])
def test_dimm_add_sizes_qemu_refuses(size, error):
    m = qemu()
    before = (dict(m.dimms), sorted(m.blocks), m.dmesg())
    r = m.dimm_add(size, 1, "d")
    assert r.result == f"error: {error}" and r.error is None and r.blocks == ()
    assert (dict(m.dimms), sorted(m.blocks), m.dmesg()) == before


def test_dimm_add_takes_qemu_size_strings():
    m = qemu()
    r = m.dimm_add("128M", 1, "d")
    assert r.result == "ok" and r.blocks == (32,) and "size=128M" in r.qmp
    assert m.dimms["d"].size == 128 * MiB
    assert m.dimm_add("0.25G", 1, "e").blocks == (33, 34)


@pytest.mark.parametrize("kw,name", [({"size": 1.5 * GiB}, "size"), ({"size": None}, "size"), ({"size": True}, "size"),
                                     ({"node": "1"}, "node"), ({"node": 1.0}, "node"), ({"addr": "0x100000000"}, "addr")])
def test_dimm_add_python_type_mistakes(kw, name):
    m = qemu()
    args = {"size": 128 * MiB, "node": 1, **kw}
    with pytest.raises(TypeError) as ei:
        m.dimm_add(args["size"], args["node"], "d", kw.get("addr"))
    assert f"dimm_add(): {name} must be" in one_line(ei.value)
    assert not m.dimms


def test_dimm_add_address_and_node_errors_in_qemus_order():
    m = qemu()
    assert m.dimm_add(128 * MiB, 1, "a").result == "ok"
    cases = [
        ({"addr": 4 * GiB + 4096}, "address must be aligned to 0x200000 bytes"),
        ({"addr": GiB}, "can't add memory device [0x40000000:0x8000000], usable range for memory devices "
                        "[0x100000000:0x9c0000000]"),
        ({"addr": 4 * GiB}, "address range conflicts with memory device id='a'"),
        ({"addr": 4 * GiB + 64 * MiB}, "address range conflicts with memory device id='a'"),
        ({"node": 2}, "'DIMM property node has value 2' which exceeds the number of numa nodes: 2"),
        ({"node": -1}, "Parameter 'node' expects uint32"),
        ({"id": "a"}, "Duplicate device ID 'a'"),
        ({"id": "a", "size": 0}, "property 'size' of memory-backend-ram doesn't take value '0'"),  # object-add first
        ({"node": 9, "addr": 4 * GiB}, "address range conflicts with memory device id='a'"),  # pre_plug before realize
    ]
    for kw, error in cases:
        args = {"size": 128 * MiB, "node": 1, "id": "b", "addr": None, **kw}
        r = m.dimm_add(args["size"], args["node"], args["id"], args["addr"])
        assert r.result == f"error: {error}", (kw, r.result)
        assert sorted(m.dimms) == ["a"] and sorted(b for b in m.blocks if b >= 32) == [32]
    r = m.dimm_add(128 * MiB, 1, "b", 4 * GiB + 256 * MiB)      # a free, aligned hint is where it goes
    assert r.result == "ok" and r.addr == 4 * GiB + 256 * MiB and r.blocks == (34,)


def test_dimm_add_no_free_slot():
    m = Machine("6.12", nodes=[NodeSpec(0, [0], GiB), NodeSpec(1, [1], 0)], ram_bytes=GiB,
                maxmem_bytes=8 * GiB, slots=2)
    for i in range(2):
        assert m.dimm_add(128 * MiB, 1).result == "ok"
    assert m.dimm_add(128 * MiB, 1).result == "error: no free slots available"
