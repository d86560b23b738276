"""Kernels for the real path: a Debian ``linux-image-*-amd64`` package, or a bzImage on disk.

``resolve_kernel("debian:6.12")`` finds the newest package of that series in the Debian suite that
ships it, downloads it with ``apt-get download`` into the user's cache and unpacks its ``boot/``
(the bzImage and its ``config-*``).  apt runs with a private state folder (sources list, package
lists, cache) in that cache, so it needs no root and never touches the machine's own apt state;
the sources list reuses the Debian mirror the machine's apt configuration already names.
``resolve_kernel("/boot/vmlinuz-...")`` reads the release from the bzImage header and the config
from ``config-<release>`` beside it (or ``/boot``) or from an embedded IKCONFIG.
"""
from __future__ import annotations

import gzip
import json
import lzma
import os
import re
import shutil
import subprocess
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Kernel", "KernelError", "HOTPLUG_CONFIG", "REQUIRED_CONFIG", "SERIES_SUITES", "cache_dir",
           "resolve_kernel", "kernel_from_image", "fetch_debian", "parse_config", "bzimage_release",
           "ikconfig", "series_of", "host_debian_sources", "private_sources_list", "ModuleSource"]

# The options a scenario.json records under kernel.config, in this order (an option the config
# file does not mention is left out, as the shipped captures do).
HOTPLUG_CONFIG = (
    "CONFIG_NUMA", "CONFIG_NODES_SHIFT", "CONFIG_SPARSEMEM_VMEMMAP", "CONFIG_MEMORY_HOTPLUG",
    "CONFIG_MEMORY_HOTREMOVE", "CONFIG_MHP_MEMMAP_ON_MEMORY", "CONFIG_MEMORY_HOTPLUG_DEFAULT_ONLINE",
    "CONFIG_MHP_DEFAULT_ONLINE_TYPE_OFFLINE", "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_AUTO",
    "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_KERNEL", "CONFIG_MHP_DEFAULT_ONLINE_TYPE_ONLINE_MOVABLE",
    "CONFIG_ACPI_HOTPLUG_MEMORY", "CONFIG_MIGRATION", "CONFIG_CONTIG_ALLOC", "CONFIG_COMPACTION",
    "CONFIG_ZONE_DEVICE", "CONFIG_CMA", "CONFIG_TRANSPARENT_HUGEPAGE", "CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS",
    "CONFIG_TRANSPARENT_HUGEPAGE_MADVISE", "CONFIG_HUGETLB_PAGE_OPTIMIZE_VMEMMAP", "CONFIG_PROC_PAGE_MONITOR",
    "CONFIG_PAGE_EXTENSION", "CONFIG_DEFERRED_STRUCT_PAGE_INIT", "CONFIG_SHUFFLE_PAGE_ALLOCATOR",
)
DAX_CONFIG = ("CONFIG_DEV_DAX", "CONFIG_DEV_DAX_KMEM", "CONFIG_DEV_DAX_HMEM", "CONFIG_DEV_DAX_HMEM_DEVICES",
              "CONFIG_EFI_SOFT_RESERVE", "CONFIG_DEV_DAX_CXL")

# What the procedure needs: hot-add (MEMORY_HOTPLUG, and the ACPI driver that adds a DIMM's
# memory), hot-remove, a second node, and /proc/kpageflags.
REQUIRED_CONFIG = {
    "CONFIG_MEMORY_HOTPLUG": "memory hot-add (/sys/devices/system/memory)",
    "CONFIG_MEMORY_HOTREMOVE": "offline and hot-remove",
    "CONFIG_ACPI_HOTPLUG_MEMORY": "the ACPI driver that adds a pc-dimm's memory",
    "CONFIG_NUMA": "NUMA node 1 for the DIMM",
    "CONFIG_PROC_PAGE_MONITOR": "/proc/kpageflags and /proc/kpagecount",
}

# Debian suites (and their security suites) that ship each kernel series; a newer series comes
# from unstable.
SERIES_SUITES = {
    "5.10": ("bullseye", "bullseye-security"),
    "6.1": ("bookworm", "bookworm-security"),
    "6.12": ("trixie", "trixie-security"),
}
UNSTABLE = ("sid",)
_NEWEST_STABLE = (6, 12)


class KernelError(RuntimeError):
    """A kernel could not be found, fetched or read; the message says what to do."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/memhotplug-workbook`` (``~/.cache/...`` when the variable is unset or empty)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "memhotplug-workbook"


def series_of(release: str) -> str:
    """``6.1.0-56-amd64`` -> ``6.1``; ``6.12.117+deb13-amd64`` -> ``6.12``."""
    mm = re.match(r"(\d+)\.(\d+)", release)
    if not mm:
        raise KernelError(f"cannot read a kernel version from {release!r}")
    return f"{mm.group(1)}.{mm.group(2)}"


def parse_config(text: str) -> dict[str, str]:
    """``CONFIG_X=y`` -> ``y``, ``# CONFIG_X is not set`` -> ``n``; quotes kept off strings."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        mm = re.match(r"(CONFIG_\w+)=(.*)$", line)
        if mm:
            out[mm.group(1)] = mm.group(2).strip('"')
            continue
        mm = re.match(r"# (CONFIG_\w+) is not set", line)
        if mm:
            out[mm.group(1)] = "n"
    return out


def bzimage_release(image: bytes) -> str | None:
    """The release string of an x86 bzImage (``uname -r``), from its setup header.

    Documentation/arch/x86/boot.rst: "HdrS" at 0x202; ``kernel_version`` at 0x20e points (plus
    0x200) at a NUL-terminated "<release> (<builder>) #1 SMP ..." string.
    """
    if len(image) < 0x210 or image[0x202:0x206] != b"HdrS":
        return None
    ptr = int.from_bytes(image[0x20E:0x210], "little")
    if not ptr:
        return None
    start = ptr + 0x200
    end = image.find(b"\0", start, start + 512)
    if end < 0:
        return None
    text = image[start:end].decode("ascii", "replace")
    return text.split(" ", 1)[0] or None


_IKCFG = b"IKCFG_ST"


def ikconfig(image: bytes) -> str | None:
    """The .config embedded with CONFIG_IKCONFIG (scripts/extract-ikconfig), or None.

    The bzImage payload is compressed: each gzip, xz or lzma stream found in the image is
    unpacked and searched for the ``IKCFG_ST`` marker, which is followed by the gzipped config.
    """
    def search(blob: bytes) -> str | None:
        i = blob.find(_IKCFG)
        if i < 0:
            return None
        try:
            return gzip.decompress(blob[i + len(_IKCFG):].split(b"IKCFG_ED")[0]).decode("utf-8", "replace")
        except (OSError, EOFError):
            return None

    found = search(image)
    if found:
        return found
    for magic, unpack in ((b"\x1f\x8b\x08", _gunzip_prefix), (b"\xfd7zXZ\x00", _unxz_prefix),
                          (b"\x5d\x00\x00", _unlzma_prefix)):
        pos = image.find(magic)
        while pos >= 0:
            blob = unpack(image[pos:])
            if blob:
                found = search(blob)
                if found:
                    return found
            pos = image.find(magic, pos + 1)
    return None


def _gunzip_prefix(data: bytes) -> bytes | None:
    import zlib
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data)
    except zlib.error:
        return None


def _unxz_prefix(data: bytes) -> bytes | None:
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(data)
    except lzma.LZMAError:
        return None


def _unlzma_prefix(data: bytes) -> bytes | None:
    try:
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(data)
    except lzma.LZMAError:
        return None


@dataclass
class ModuleSource:
    """Where the kernel's loadable modules come from: a ``.deb`` (read on demand) or a folder."""

    deb: Path | None = None
    folder: Path | None = None
    index_file: Path | None = None
    _index: dict[str, str] | None = field(default=None, repr=False)

    def index(self) -> dict[str, str]:
        """Module name (``kmem``) -> member path (in the .deb) or file path (in the folder)."""
        if self._index is not None:
            return self._index
        if self.index_file and self.index_file.exists():
            self._index = json.loads(self.index_file.read_text())
            return self._index
        idx: dict[str, str] = {}
        if self.folder:
            for p in self.folder.rglob("*.ko*"):
                idx[_module_name(p.name)] = str(p)
        elif self.deb:
            for member in _deb_members(self.deb):
                if "/modules/" in member and re.search(r"\.ko(\.xz|\.zst|\.gz)?$", member):
                    idx[_module_name(member.rsplit("/", 1)[1])] = member
        self._index = idx
        if self.index_file:
            self.index_file.write_text(json.dumps(idx, indent=0, sort_keys=True))
        return idx

    def get(self, names: list[str]) -> dict[str, bytes]:
        """The uncompressed ``.ko`` of each named module (names as ``insmod`` would load them)."""
        idx = self.index()
        missing = [n for n in names if _module_name(n) not in idx]
        if missing:
            raise KernelError(f"the kernel has no loadable module {', '.join(missing)} "
                              "(built in, or not built: only modules can be loaded with insmod)")
        want = {idx[_module_name(n)]: _module_name(n) for n in names}
        raw: dict[str, bytes] = {}
        if self.folder:
            for path, name in want.items():
                raw[name] = Path(path).read_bytes()
        else:
            assert self.deb is not None
            for member, data in _deb_extract(self.deb, set(want)):
                raw[want[member]] = data
        out = {}
        for name, member in ((n, m) for m, n in want.items()):
            out[name] = _decompress_module(member, raw[name])
        return out


def _module_name(filename: str) -> str:
    return re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "", filename).replace("-", "_")


def _decompress_module(member: str, data: bytes) -> bytes:
    if member.endswith(".xz"):
        return lzma.decompress(data)
    if member.endswith(".gz"):
        return gzip.decompress(data)
    if member.endswith(".zst"):
        zstd = shutil.which("zstd")
        if not zstd:
            raise KernelError("the kernel's modules are zstd-compressed: apt-get install zstd")
        return subprocess.run([zstd, "-dc"], input=data, capture_output=True, check=True).stdout
    return data


# --- .deb reading (ar archive holding data.tar.*) ----------------------------------------------

def _deb_data(deb: Path):
    """Open the data.tar member of a .deb as a streaming tarfile."""
    f = open(deb, "rb")
    if f.read(8) != b"!<arch>\n":
        f.close()
        raise KernelError(f"{deb} is not a Debian package (no ar header)")
    while True:
        hdr = f.read(60)
        if len(hdr) < 60:
            f.close()
            raise KernelError(f"{deb} has no data.tar member")
        name = hdr[:16].decode().strip().rstrip("/")
        size = int(hdr[48:58].decode().strip())
        if name.startswith("data.tar"):
            if name.endswith(".zst"):
                f.close()
                zstd = shutil.which("zstd")
                if not zstd:
                    raise KernelError(f"{deb} is zstd-compressed: apt-get install zstd")
                proc = subprocess.Popen(["sh", "-c", f"dpkg-deb --fsys-tarfile '{deb}'"], stdout=subprocess.PIPE)
                return tarfile.open(fileobj=proc.stdout, mode="r|"), proc
            mode = {"data.tar.xz": "r|xz", "data.tar.gz": "r|gz", "data.tar.bz2": "r|bz2", "data.tar": "r|"}[name]
            return tarfile.open(fileobj=_Limited(f, size), mode=mode), f
        f.seek(size + (size & 1), 1)


class _Limited:
    """A read-only window of ``size`` bytes of an open file (one ar member)."""

    def __init__(self, f, size: int) -> None:
        self.f, self.left = f, size

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.left:
            n = self.left
        data = self.f.read(n)
        self.left -= len(data)
        return data


def _deb_members(deb: Path) -> list[str]:
    tf, handle = _deb_data(deb)
    try:
        return [m.name for m in tf]
    finally:
        tf.close()
        _close(handle)


def _deb_extract(deb: Path, wanted: set[str] | Callable[[str], bool]):
    """Yield ``(member, bytes)`` for the wanted regular files (and symlink targets by name)."""
    pick = wanted if callable(wanted) else (lambda name: name in wanted)
    tf, handle = _deb_data(deb)
    try:
        for m in tf:
            if m.isfile() and pick(m.name):
                fh = tf.extractfile(m)
                assert fh is not None
                yield m.name, fh.read()
    finally:
        tf.close()
        _close(handle)


def _close(handle) -> None:
    if hasattr(handle, "wait"):
        handle.stdout.close()
        handle.wait()
    else:
        handle.close()


# --- the machine's apt configuration ------------------------------------------------------------

@dataclass
class AptSource:
    """One ``deb`` entry of the machine's apt configuration."""

    uri: str
    suites: list[str]
    components: list[str]
    signed_by: str | None


def _apt_source_files() -> list[Path]:
    main, parts = Path("/etc/apt/sources.list"), Path("/etc/apt/sources.list.d")
    if shutil.which("apt-config"):
        out = subprocess.run(["apt-config", "shell", "SL", "Dir::Etc::sourcelist/f", "SP", "Dir::Etc::sourceparts/d"],
                             capture_output=True, text=True).stdout
        vals = dict(re.findall(r"(SL|SP)='([^']*)'", out))
        main, parts = Path(vals.get("SL", main)), Path(vals.get("SP", parts))
    files = [main] if main.is_file() else []
    if parts.is_dir():
        files += sorted(p for p in parts.iterdir() if p.suffix in (".list", ".sources"))
    return files


def _parse_sources(path: Path) -> list[AptSource]:
    text = path.read_text(errors="replace")
    out = []
    if path.suffix == ".sources":
        for stanza in re.split(r"\n\s*\n", text):
            fields: dict[str, str] = {}
            key = None
            for line in stanza.splitlines():
                if line.startswith("#") or not line.strip():
                    continue
                if line[0] in " \t" and key:
                    fields[key] += " " + line.strip()
                    continue
                key, _, val = line.partition(":")
                key = key.strip().lower()
                fields[key] = val.strip()
            if "deb" not in fields.get("types", "").split() or fields.get("enabled", "yes").lower() == "no":
                continue
            for uri in fields.get("uris", "").split():
                out.append(AptSource(uri, fields.get("suites", "").split(), fields.get("components", "").split(),
                                     fields.get("signed-by") or None))
    else:
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            mm = re.match(r"deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
            if not mm:
                continue
            opts = dict(o.split("=", 1) for o in (mm.group(1) or "").split() if "=" in o)
            out.append(AptSource(mm.group(2), [mm.group(3)], mm.group(4).split(), opts.get("signed-by")))
    return out


def host_debian_sources() -> tuple[AptSource | None, AptSource | None]:
    """The machine's Debian archive entry and its security entry (either may be None).

    The archive is the entry serving a plain Debian suite (``bookworm``, ``trixie``, ``sid``,
    ``stable``...) with ``main``; the security archive the one serving ``<suite>-security``.
    ``MEMHOTPLUG_DEBIAN_MIRROR`` / ``MEMHOTPLUG_DEBIAN_SECURITY_MIRROR`` name them instead on a
    machine whose apt configuration has none (Ubuntu, another distribution).
    """
    env_main = os.environ.get("MEMHOTPLUG_DEBIAN_MIRROR")
    env_sec = os.environ.get("MEMHOTPLUG_DEBIAN_SECURITY_MIRROR")
    debian_suites = {"buster", "bullseye", "bookworm", "trixie", "forky", "duke", "sid", "stable", "testing",
                     "unstable", "oldstable"}
    main = sec = None
    for path in _apt_source_files():
        try:
            entries = _parse_sources(path)
        except OSError:
            continue
        for src in entries:
            if "main" not in src.components:
                continue
            if main is None and any(s in debian_suites for s in src.suites):
                main = src
            if sec is None and any(s.endswith("-security") and s.split("-")[0] in debian_suites for s in src.suites):
                sec = src
    if env_main:
        main = AptSource(env_main, [], ["main"], main.signed_by if main else None)
    if env_sec:
        sec = AptSource(env_sec, [], ["main"], sec.signed_by if sec else (main.signed_by if main else None))
    return main, sec


def private_sources_list(suites: tuple[str, ...], main: AptSource, security: AptSource | None) -> str:
    """A one-line-style sources.list for ``suites`` on the machine's own mirrors."""
    lines = []
    for suite in suites:
        src = security if suite.endswith("-security") else main
        if src is None:
            continue
        opts = f"[arch=amd64 signed-by={src.signed_by}] " if src.signed_by else "[arch=amd64] "
        lines.append(f"deb {opts}{src.uri} {suite} main")
    return "\n".join(lines) + "\n"


def suites_for(series: str) -> tuple[str, ...]:
    """The Debian suites that ship kernel ``series`` (a series newer than trixie's: unstable)."""
    if series in SERIES_SUITES:
        return SERIES_SUITES[series]
    major, minor = (int(x) for x in series.split("."))
    if (major, minor) > _NEWEST_STABLE:
        return UNSTABLE
    raise KernelError(f"no Debian suite ships a {series} kernel; Debian has {', '.join(SERIES_SUITES)} "
                      "and newer ones in unstable")


class _PrivateApt:
    """apt-get / apt-cache with a private state folder: no root, the machine's apt state untouched."""

    def __init__(self, root: Path, suites: tuple[str, ...]) -> None:
        self.root = root
        self.suites = suites
        main, sec = host_debian_sources()
        if main is None:
            raise KernelError("no Debian mirror in this machine's apt configuration (/etc/apt/sources.list*): "
                              "set MEMHOTPLUG_DEBIAN_MIRROR to a Debian mirror's URL, or pass --kernel PATH "
                              "to a bzImage")
        for sub in ("lists/partial", "cache/archives/partial", "etc"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "etc" / "sources.list").write_text(private_sources_list(suites, main, sec))
        for name in ("status",):
            (root / name).touch()

    def options(self) -> list[str]:
        r = self.root
        opts = [f"Dir::Etc::sourcelist={r / 'etc' / 'sources.list'}", "Dir::Etc::sourceparts=-",
                f"Dir::State::Lists={r / 'lists'}", f"Dir::Cache={r / 'cache'}",
                f"Dir::State::status={r / 'status'}", "Acquire::Languages=none", "APT::Architectures=amd64",
                "Debug::NoLocking=1", "APT::Get::List-Cleanup=0"]
        if os.geteuid() == 0:
            opts.append("APT::Sandbox::User=root")    # the _apt user cannot write into a home cache
        return [x for o in opts for x in ("-o", o)]

    def run(self, tool: str, *args: str, cwd: Path | None = None) -> str:
        if not shutil.which(tool):
            raise KernelError(f"{tool} not found: fetching a Debian kernel needs apt (a Debian or Ubuntu "
                              "machine); pass --kernel PATH to a bzImage instead")
        p = subprocess.run([tool, *self.options(), *args], cwd=cwd, capture_output=True, text=True)
        if p.returncode:
            raise KernelError(f"{tool} {' '.join(args)} failed (exit {p.returncode}):\n{p.stderr.strip()[-2000:]}")
        return p.stdout


_IMAGE_NAME = re.compile(r"^linux-image-(\d+)\.(\d+)(?:\.\d+)*(?:-\d+|\+deb\d+)?-amd64(-unsigned)?$")


def _pick_package(names: list[str], series: str) -> str | None:
    """The newest ``linux-image-<series>...-amd64`` (the -unsigned build when both exist)."""
    cands = []
    for n in names:
        mm = _IMAGE_NAME.match(n)
        if mm and f"{mm.group(1)}.{mm.group(2)}" == series:
            abi = tuple(int(x) for x in re.findall(r"\d+", n.replace("amd64", "")))
            cands.append((abi, bool(mm.group(3)), n))
    return max(cands)[2] if cands else None


def fetch_debian(series: str, cache: Path | None = None, log: Callable[[str], None] = print,
                 refresh: bool = False) -> "Kernel":
    """Download (once) and unpack Debian's newest ``linux-image`` of ``series``; see the module doc."""
    cache = cache or cache_dir()
    suites = suites_for(series)
    kroot = cache / "kernels"
    meta_file = kroot / f"debian-{series}.json"
    if meta_file.exists() and not refresh:
        meta = json.loads(meta_file.read_text())
        k = _kernel_from_meta(meta, kroot)
        if k.image.exists():
            return k
    apt = _PrivateApt(kroot / "apt" / "-".join(suites), suites)
    log(f"apt-get update for {' '.join(suites)} (private lists in {apt.root})")
    apt.run("apt-get", "-q", "update")
    names = apt.run("apt-cache", "pkgnames", "linux-image-").split()
    pkg = _pick_package(names, series)
    if pkg is None:
        have = sorted({f"{m.group(1)}.{m.group(2)}" for n in names if (m := _IMAGE_NAME.match(n))})
        raise KernelError(f"{' '.join(suites)} has no linux-image package of {series}; it has {', '.join(have)}")
    debs = kroot / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    deb, version = _download(apt, pkg, debs, log)
    out = kroot / pkg
    boot = _unpack_boot(deb, out)
    modules_deb = deb
    if "vmlinuz" not in boot:
        # unstable splits the image: linux-image-<abi> depends on linux-binary-<abi> (the bzImage),
        # linux-base-<abi> (its config) and linux-modules-<abi>
        show = apt.run("apt-cache", "show", "--no-all-versions", pkg)
        deps = re.findall(r"\b(linux-(?:binary|base|modules)-[^\s,(]+)", show.split("Depends:", 1)[-1].split("\n")[0])
        for dep in deps:
            if dep.startswith("linux-modules-"):
                modules_deb = None
                meta_modules = dep
                continue
            part, _ = _download(apt, dep, debs, log)
            boot.update(_unpack_boot(part, out))
    if "vmlinuz" not in boot:
        raise KernelError(f"{deb.name} and its linux-binary/linux-base packages hold no vmlinuz")
    release = boot["vmlinuz"].name.split("-", 1)[1] if boot["vmlinuz"].name != "vmlinuz" else \
        boot["vmlinuz"].parent.name
    meta = {"series": series, "release": release, "package": pkg, "version": version,
            "deb": str(modules_deb) if modules_deb else "", "modules_package": None if modules_deb else meta_modules,
            "image": str(boot["vmlinuz"]), "config": str(boot.get("config", "")), "suites": list(suites)}
    meta_file.write_text(json.dumps(meta, indent=1) + "\n")
    return _kernel_from_meta(meta, kroot)


def _download(apt: "_PrivateApt", pkg: str, debs: Path, log: Callable[[str], None]) -> tuple[Path, str]:
    """``apt-get download pkg`` into ``debs`` (once); the .deb and its version."""
    have = sorted(debs.glob(f"{pkg}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not have:
        log(f"apt-get download {pkg}")
        apt.run("apt-get", "-q", "download", pkg, cwd=debs)
        have = sorted(debs.glob(f"{pkg}_*.deb"), key=lambda p: p.stat().st_mtime)
    if not have:
        raise KernelError(f"apt-get download {pkg} left no .deb in {debs}")
    return have[-1], have[-1].name.split("_")[1].replace("%3a", ":")


_BOOT_MEMBER = re.compile(r"\./(?:boot/(vmlinuz|config)-[^/]+|usr/lib/modules/[^/]+/(vmlinuz|config))$")


def _unpack_boot(deb: Path, out: Path) -> dict[str, Path]:
    """Extract the bzImage and its config (``boot/vmlinuz-*``, or ``usr/lib/modules/<rel>/vmlinuz``)."""
    found: dict[str, Path] = {}
    for member, data in _deb_extract(deb, lambda n: _BOOT_MEMBER.match(n) is not None):
        m = _BOOT_MEMBER.match(member)
        kind = m.group(1) or m.group(2)
        rel = member[2:].replace("usr/lib/modules/", "boot/")
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        found[kind] = target
    return found


def _kernel_from_meta(meta: dict, kroot: Path) -> "Kernel":
    cfg_path = Path(meta["config"]) if meta.get("config") else None
    config = parse_config(cfg_path.read_text()) if cfg_path and cfg_path.exists() else None
    deb = Path(meta["deb"]) if meta.get("deb") else None
    return Kernel(spec=f"debian:{meta['series']}", image=Path(meta["image"]), release=meta["release"],
                  series=meta["series"], debian_package=meta["package"], package_version=meta.get("version"),
                  config=config, config_source=str(cfg_path) if config else None,
                  modules=ModuleSource(deb=deb, index_file=kroot / f"{meta['package']}.modules.json")
                  if deb and deb.exists() else None)


def kernel_from_image(path: Path) -> "Kernel":
    """A bzImage on disk: release from its header, config beside it, in /boot, or embedded."""
    if not path.is_file():
        raise KernelError(f"{path}: no such kernel image")
    try:
        data = path.read_bytes()
    except PermissionError:
        raise KernelError(f"{path} is not readable (Debian's /boot/vmlinuz-* are root-only: "
                          f"sudo cp {path} ~/ && sudo chown $USER ~/{path.name})") from None
    release = bzimage_release(data)
    if release is None:
        raise KernelError(f"{path} is not an x86 bzImage (no 'HdrS' setup header)")
    config = None
    source = None
    for cand in (path.parent / f"config-{release}", Path("/boot") / f"config-{release}",
                 Path("/lib/modules") / release / "build" / ".config"):
        if cand.is_file():
            config, source = parse_config(cand.read_text(errors="replace")), str(cand)
            break
    if config is None:
        text = ikconfig(data)
        if text:
            config, source = parse_config(text), f"{path} (IKCONFIG)"
    mods = Path("/lib/modules") / release / "kernel"
    return Kernel(spec=str(path), image=path, release=release, series=series_of(release), debian_package=None,
                  package_version=None, config=config, config_source=source,
                  modules=ModuleSource(folder=mods) if mods.is_dir() else None)


@dataclass
class Kernel:
    """A kernel ready to boot: its image, release, series, config (when readable) and modules."""

    spec: str
    image: Path
    release: str
    series: str
    debian_package: str | None
    package_version: str | None
    config: dict[str, str] | None = field(repr=False)
    config_source: str | None
    modules: ModuleSource | None = field(default=None, repr=False)

    def hotplug_config(self, extra: tuple[str, ...] = ()) -> dict[str, str]:
        """The options a scenario.json records, those the config mentions, in HOTPLUG_CONFIG order."""
        if not self.config:
            return {}
        return {k: self.config[k] for k in HOTPLUG_CONFIG + extra if k in self.config}

    def missing(self) -> list[str]:
        """Required options the config does not set to ``y`` (empty when the config is unknown)."""
        if self.config is None:
            return []
        return [k for k in REQUIRED_CONFIG if self.config.get(k) != "y"]

    def describe(self) -> str:
        """One line: release, where it came from."""
        src = f"Debian {self.debian_package} {self.package_version}" if self.debian_package else str(self.image)
        return f"Linux {self.release} ({src})"


def resolve_kernel(spec: str, cache: Path | None = None, log: Callable[[str], None] = print) -> Kernel:
    """``debian:<series>`` (fetched and cached) or a path to a bzImage."""
    if spec.startswith("debian:"):
        series = spec.split(":", 1)[1]
        if not re.fullmatch(r"\d+\.\d+", series):
            raise KernelError(f"{spec}: say debian:<major>.<minor>, e.g. debian:6.1, debian:6.12")
        return fetch_debian(series, cache, log)
    return kernel_from_image(Path(spec).expanduser())
