"""The QEMU ``pc`` machine's memory map: e820, SRAT and where pc-dimm devices land (hw/i386/pc.c).

QEMU places boot RAM below the PCI hole (up to 3 GiB when RAM does not fit under
0xe0000000) and the rest above 4 GiB; the DIMM window starts at the next GiB boundary
after that and is ``maxmem - ram + 1 GiB per slot`` long.  SeaBIOS reserves the top
128 KiB of low RAM and 0x9fc00-0x9ffff; the kernel trims the first page.

Left out: SeaBIOS sizes its top-of-low-RAM reservation by the tables it builds there, so a
machine with much more RAM can need a page more (the captured 63 GiB VMs reserve 132 KiB);
the model always keeps 128 KiB, which moves node 0's DMA32 counts by that page, and node 0
is not compared with real kernels for that reason among others.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .arch import GiB, KiB

__all__ = ["E820Entry", "PcMemoryLayout", "pc_memory_layout", "Dimm", "QemuError", "qemu_strtosz",
           "memory_device_get_free_addr", "next_dimm_addr", "QEMU_VMALLOC_ALIGN"]

# include/qemu/osdep.h: the alignment of anonymous guest RAM on an x86_64 (also arm, aarch64, ppc64)
# Linux host, "so transparent hugepages can be used by KVM"; a memory-backend-ram's region
# alignment, and so the alignment pc-dimm addresses and sizes need.
QEMU_VMALLOC_ALIGN = 512 * 4096


class QemuError(ValueError):
    """An error QEMU reports for a QMP/HMP command (the ``desc`` of its GenericError)."""


def qemu_strtosz(text: str) -> int:
    """util/cutils.c qemu_strtosz(): ``"128M"``, ``"1.5G"``, ``"0x8000000"``, ``"4096"`` to bytes.

    Decimal with an optional fraction and a binary suffix (B, K, M, G, T, P, E), or hex
    without a fraction.  Raises ValueError for anything QEMU refuses (a sign, an exponent,
    a fraction without a suffix larger than B, trailing text, 2**64 or more).
    """
    import re

    mm = re.fullmatch(r"\s*(0[xX][0-9a-fA-F]+|\d+)(\.\d*)?([bBkKmMgGtTpPeE])?", text)
    if mm is None or (mm.group(1)[:2].lower() == "0x" and mm.group(2) is not None):
        raise ValueError(f"not a size: {text!r}")
    digits, frac, suffix = mm.groups()
    val = int(digits, 16 if digits[:2].lower() == "0x" else 10)
    mul = 1 << (10 * "BKMGTPE".index((suffix or "B").upper()))
    # the fraction as QEMU keeps it: a double scaled to 64.64 fixed point, truncated
    valf = int(float("0" + frac) * 2.0 ** 64) if frac and frac != "." else 0
    if mul == 1 and valf:
        raise ValueError(f"a fraction needs a suffix larger than B: {text!r}")
    prod = valf * mul
    total = val * mul + (prod >> 64) + ((prod >> 63) & 1)        # round 0.5 upward
    if total >= 1 << 64:
        raise ValueError(f"out of range: {text!r}")
    return total



@dataclass(frozen=True)
class E820Entry:
    """One line of the BIOS-e820 map: [start, end] inclusive and a type."""

    start: int
    end: int
    type: str          # "usable" or "reserved"


@dataclass
class Dimm:
    """One pc-dimm device (QMP ``device_add pc-dimm,id=...,memdev=...,node=...``)."""

    id: str
    addr: int
    size: int
    node: int
    slot: int
    memdev: str = ""
    blocks: list[int] = field(default_factory=list)   # memory block ids the guest created
    enabled: bool = False      # the guest's ACPI driver enabled it (struct acpi_memory_info::enabled)


@dataclass
class PcMemoryLayout:
    """Guest-physical layout of a QEMU pc machine."""

    ram_bytes: int
    below_4g: int
    above_4g: int
    e820: list[E820Entry]
    node_ranges: dict[int, list[tuple[int, int]]]     # SRAT memory affinity per node (start, end excl.)
    device_memory_base: int
    device_memory_size: int
    hotplug_node: int
    pci_hole64_start: int
    pci_hole64_size: int

    def usable_ranges(self) -> list[tuple[int, int]]:
        """Usable e820 RAM as (start, end exclusive)."""
        return [(e.start, e.end + 1) for e in self.e820 if e.type == "usable"]

    @property
    def device_memory_end(self) -> int:
        """End (exclusive) of the DIMM window."""
        return self.device_memory_base + self.device_memory_size


def pc_memory_layout(ram_bytes: int, maxmem_bytes: int, slots: int, node_sizes: dict[int, int],
                     hotplug_node: int | None = None, max_ram_below_4g: int | None = None,
                     amd_ht_hole: bool = True) -> PcMemoryLayout:
    """Lay out RAM the way QEMU 7.2's pc machine does (pc_memory_init(), SeaBIOS e820, build_srat()).

    ``max_ram_below_4g`` is ``-M pc,max-ram-below-4g=``: at most that much RAM goes below
    4 GiB (default 0xe0000000); the rest starts at 4 GiB.  ``amd_ht_hole``: the vCPU is an AMD
    model (QEMU's default ``qemu64`` is), so the e820 map reserves the HyperTransport range
    below 1 TiB; an Intel vCPU (every QEMU 7.2 model with 5-level paging) has no such entry.
    """
    # pc_init1(): lowmem = max_ram_below_4g (default 3.5 GiB); a machine with at least that
    # much RAM gets gigabyte_align (pc-i440fx >= 1.7): lowmem at most 3 GiB
    lowmem = max_ram_below_4g or 0xE0000000
    if ram_bytes >= lowmem and lowmem > 0xC0000000:
        lowmem = 0xC0000000
    below = min(ram_bytes, lowmem)
    above = ram_bytes - below
    e820 = [E820Entry(0, 0x9FBFF, "usable"), E820Entry(0x9FC00, 0x9FFFF, "reserved"),
            E820Entry(0xF0000, 0xFFFFF, "reserved")]
    # SeaBIOS keeps the top 128 KiB of low memory for its tables (the ACPI tables live there);
    # bigger tables take more (see the module's docstring)
    e820.append(E820Entry(0x100000, below - 128 * KiB - 1, "usable"))
    e820.append(E820Entry(below - 128 * KiB, below - 1, "reserved"))
    e820.append(E820Entry(0xFFFC0000, 0xFFFFFFFF, "reserved"))
    if above:
        e820.append(E820Entry(4 * GiB, 4 * GiB + above - 1, "usable"))
    # AMD HyperTransport hole (QEMU 7.1+ reserves it for AMD vCPUs with >= 40 phys bits)
    if amd_ht_hole:
        e820.append(E820Entry(0xFD00000000, 0xFFFFFFFFFF, "reserved"))
    # build_srat(): nodes take guest RAM in order, skipping the 640K hole and the PCI hole
    node_ranges: dict[int, list[tuple[int, int]]] = {}
    addr = 0
    remaining_below = below
    for nid in sorted(node_sizes):
        size = node_sizes[nid]
        ranges = []
        while size:
            if addr < below:
                take = min(size, below - addr)
                ranges.append((addr, addr + take))
                addr += take
                size -= take
                if addr == below:
                    addr = 4 * GiB
            else:
                ranges.append((addr, addr + size))
                addr += size
                size = 0
        node_ranges[nid] = ranges
    _ = remaining_below
    device_base = -(-(4 * GiB + above) // GiB) * GiB
    device_size = (maxmem_bytes - ram_bytes) + GiB * slots if maxmem_bytes > ram_bytes else 0
    if hotplug_node is None:
        hotplug_node = max(node_sizes) if node_sizes else 0
    hole64_start = -(-(device_base + device_size) // GiB) * GiB        # pc_pci_hole64_start(): ROUND_UP 1 GiB
    return PcMemoryLayout(ram_bytes, below, above, e820, node_ranges, device_base, device_size,
                          hotplug_node, hole64_start, 32 * GiB)


def memory_device_get_free_addr(layout: PcMemoryLayout, dimms: list[Dimm], size: int, hint: int | None = None,
                                align: int = QEMU_VMALLOC_ALIGN) -> int:
    """hw/mem/memory-device.c memory_device_get_free_addr() (QEMU 7.2): the DIMM's address, or QemuError.

    With a ``hint`` (device_add ``addr=``), QEMU checks it and never moves it; without one
    it takes the first gap of the DIMM window that fits.  The space check against
    ``maxmem`` (memory_device_check_addable()) comes before this, in the caller.
    """
    base, end = layout.device_memory_base, layout.device_memory_end
    if hint is not None and hint % align:
        raise QemuError(f"address must be aligned to {align:#x} bytes")
    if size % align:
        raise QemuError(f"backend memory size must be multiple of {align:#x}")
    if hint is not None:
        if hint < base or hint + size > end:
            raise QemuError(f"can't add memory device [{hint:#x}:{size:#x}], usable range for memory devices "
                            f"[{base:#x}:{end - base:#x}]")
        for d in sorted(dimms, key=lambda d: d.addr):
            if d.addr < hint + size and hint < d.addr + d.size:
                raise QemuError(f"address range conflicts with memory device id='{d.id}'")
        return hint
    addr = next_dimm_addr(layout, dimms, size, align)
    if addr is None:
        raise QemuError("could not find position in guest address space for memory device - "
                        "memory fragmented due to alignments")
    return addr


def next_dimm_addr(layout: PcMemoryLayout, dimms: list[Dimm], size: int,
                   align: int = QEMU_VMALLOC_ALIGN) -> int | None:
    """memory_device_get_free_addr(): the first gap in the DIMM window that fits ``size``."""
    addr = layout.device_memory_base
    for d in sorted(dimms, key=lambda d: d.addr):
        if addr + size <= d.addr:
            break
        addr = max(addr, -(-(d.addr + d.size) // align) * align)
    if addr + size > layout.device_memory_end:
        return None
    return addr
