"""The capture guest's initramfs: a gzip'ed cpio (newc) archive written in Python.

It holds Debian's static busybox (from the host's ``busybox-static``), ``/init`` and ``/cap.sh``
(shipped in ``guest/``), ``ohelper`` (compiled from ``guest/ohelper.c`` with ``gcc -static`` once
and cached), ``/dev/console`` (the kernel opens it before ``/init`` runs) and, when a scenario
loads modules, the kernel's own ``.ko`` files in ``/mod/``.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .kernels import cache_dir

__all__ = ["CpioEntry", "cpio_newc", "read_cpio_newc", "find_busybox", "is_static_elf", "build_ohelper",
           "build_initramfs", "GUEST_DIR", "ToolMissing", "APT_PACKAGES"]

GUEST_DIR = Path(__file__).resolve().parent / "guest"
# Debian packages of every host tool the real path uses (named in the "install" message).
APT_PACKAGES = {"qemu-system-x86_64": "qemu-system-x86", "busybox": "busybox-static", "gcc": "gcc",
                "libc.a": "libc6-dev"}


class ToolMissing(RuntimeError):
    """A host tool is missing; ``packages`` are the Debian packages that bring it."""

    def __init__(self, what: str, packages: list[str]) -> None:
        self.packages = packages
        super().__init__(f"{what}; install it with:\n  sudo apt-get install {' '.join(packages)}")


@dataclass(frozen=True)
class CpioEntry:
    """One member of the archive: a file (``data``), a directory, a symlink or a device node."""

    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def _pad4(n: int) -> bytes:
    return b"\0" * (-n % 4)


def cpio_newc(entries: list[CpioEntry], mtime: int = 0) -> bytes:
    """The entries as a cpio "newc" archive (the format the kernel unpacks; usr/gen_init_cpio.c)."""
    out = bytearray()
    for ino, e in enumerate(list(entries) + [CpioEntry("TRAILER!!!", 0)], start=1):
        name = e.name.lstrip("/").encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(e.mode) else 1
        fields = (ino if e.name != "TRAILER!!!" else 0, e.mode, 0, 0, nlink, mtime, len(e.data), 0, 0,
                  e.rdev[0], e.rdev[1], len(name), 0)
        header = b"070701" + b"".join(f"{v:08X}".encode() for v in fields)
        out += header + name + _pad4(len(header) + len(name)) + e.data + _pad4(len(e.data))
    out += b"\0" * (-len(out) % 512)
    return bytes(out)


def read_cpio_newc(blob: bytes) -> list[CpioEntry]:
    """Parse a newc archive back into entries (for tests and for looking into an initramfs)."""
    out, pos = [], 0
    while pos + 110 <= len(blob):
        if blob[pos:pos + 6] != b"070701":
            raise ValueError(f"bad cpio magic at {pos}")
        vals = [int(blob[pos + 6 + 8 * i: pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, rmaj, rmin, namesize = vals[1], vals[6], vals[9], vals[10], vals[11]
        pos += 110
        name = blob[pos:pos + namesize - 1].decode()
        pos += namesize
        pos += -pos % 4
        data = blob[pos:pos + size]
        pos += size
        pos += -pos % 4
        if name == "TRAILER!!!":
            break
        out.append(CpioEntry(name, mode, data, (rmaj, rmin)))
    return out


def is_static_elf(data: bytes) -> bool:
    """True for a 64-bit little-endian ELF executable without a PT_INTERP program header."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff = int.from_bytes(data[0x20:0x28], "little")
    phentsize = int.from_bytes(data[0x36:0x38], "little")
    phnum = int.from_bytes(data[0x38:0x3A], "little")
    for i in range(phnum):
        off = phoff + i * phentsize
        if int.from_bytes(data[off:off + 4], "little") == 3:    # PT_INTERP: needs a dynamic loader
            return False
    return True


def find_busybox() -> Path:
    """A statically linked busybox: Debian's busybox-static puts it at /bin/busybox."""
    for cand in (os.environ.get("MEMHOTPLUG_BUSYBOX"), "/bin/busybox", "/usr/bin/busybox", shutil.which("busybox")):
        if cand and Path(cand).is_file():
            p = Path(cand)
            with open(p, "rb") as f:
                head = f.read(1 << 16)
            if is_static_elf(head):
                return p
            raise ToolMissing(f"{p} is linked dynamically; the guest needs the static build", ["busybox-static"])
    raise ToolMissing("no busybox found (the guest's shell and tools)", ["busybox-static"])


def build_ohelper(cache: Path | None = None) -> Path:
    """``guest/ohelper.c`` compiled with ``gcc -static`` (cached by the source's and gcc's hash)."""
    src = GUEST_DIR / "ohelper.c"
    gcc = shutil.which(os.environ.get("CC", "gcc"))
    if gcc is None:
        raise ToolMissing("no C compiler to build the guest helper ohelper", ["gcc", "libc6-dev"])
    version = subprocess.run([gcc, "--version"], capture_output=True, text=True).stdout.split("\n")[0]
    digest = hashlib.sha256(src.read_bytes() + version.encode()).hexdigest()[:16]
    out = (cache or cache_dir()) / "guest" / f"ohelper-{digest}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    p = subprocess.run([gcc, "-static", "-O2", "-o", str(tmp), str(src)], capture_output=True, text=True)
    if p.returncode:
        if "cannot find -lc" in p.stderr or "crt1.o" in p.stderr:
            raise ToolMissing("gcc cannot link statically (no libc.a)", ["libc6-dev"])
        raise RuntimeError(f"gcc -static {src} failed:\n{p.stderr[-2000:]}")
    tmp.rename(out)
    return out


def build_initramfs(out: Path, modules: dict[str, bytes] | None = None, cache: Path | None = None) -> Path:
    """Write the guest's initramfs (gzip'ed newc cpio) to ``out``; returns ``out``."""
    busybox = find_busybox().read_bytes()
    ohelper = build_ohelper(cache).read_bytes()
    d, x, f = stat.S_IFDIR | 0o755, stat.S_IFREG | 0o755, stat.S_IFREG | 0o644
    entries = [CpioEntry(name, d) for name in ("bin", "dev", "proc", "sys", "tmp", "mod", "root")]
    entries += [
        CpioEntry("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1)),
        CpioEntry("bin/busybox", x, busybox),
        CpioEntry("bin/sh", stat.S_IFLNK | 0o777, b"busybox"),
        CpioEntry("bin/ohelper", x, ohelper),
        CpioEntry("init", x, (GUEST_DIR / "init").read_bytes()),
        CpioEntry("cap.sh", f, (GUEST_DIR / "cap.sh").read_bytes()),
    ]
    for name, ko in sorted((modules or {}).items()):
        entries.append(CpioEntry(f"mod/{name}.ko", f, ko))
    out.write_bytes(gzip.compress(cpio_newc(entries), compresslevel=6, mtime=0))
    return out
