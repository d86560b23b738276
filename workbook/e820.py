"""The firmware memory map as the kernel keeps it (arch/x86/kernel/e820.c): ``memmap=`` and Soft Reserved.

QEMU's firmware hands over a BIOS-e820 table (:mod:`workbook.qemu`); the kernel copies it,
applies the ``memmap=`` options of its command line (parse_memmap_one(), early), sorts and
merges it (e820__update_table()), and later publishes it as /proc/iomem resources
(e820__reserve_resources(), e820__reserve_resources_late()).  Only usable RAM (type 1)
becomes memory at boot: a range turned into Soft Reserved (type 0xefffffff, the
EFI_MEMORY_SP "specific purpose" type) stays out of memblock, so its node boots memoryless
until a driver (dax_hmem + kmem) hot-adds it.
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["E820_TYPE_RAM", "E820_TYPE_RESERVED", "E820_TYPE_ACPI", "E820_TYPE_NVS", "E820_TYPE_UNUSABLE",
           "E820_TYPE_PMEM", "E820_TYPE_PRAM", "E820_TYPE_SOFT_RESERVED", "E820Range", "memparse",
           "parse_memmap_opt", "e820_update_table", "e820_type_to_string", "e820_print_type",
           "soft_reserved_ranges"]

# arch/x86/include/asm/e820/types.h
E820_TYPE_RAM = 1
E820_TYPE_RESERVED = 2
E820_TYPE_ACPI = 3
E820_TYPE_NVS = 4
E820_TYPE_UNUSABLE = 5
E820_TYPE_PMEM = 7
E820_TYPE_PRAM = 12
E820_TYPE_SOFT_RESERVED = 0xEFFFFFFF

_QEMU_TYPES = {"usable": E820_TYPE_RAM, "reserved": E820_TYPE_RESERVED}


@dataclass(frozen=True)
class E820Range:
    """One entry of the kernel's e820 table: [start, end) and a type."""

    start: int
    end: int            # exclusive
    type: int


def e820_type_to_string(t: int) -> str:
    """e820_type_to_string(): the name /proc/iomem shows."""
    return {E820_TYPE_RAM: "System RAM", E820_TYPE_ACPI: "ACPI Tables", E820_TYPE_NVS: "ACPI Non-volatile Storage",
            E820_TYPE_UNUSABLE: "Unusable memory", E820_TYPE_PRAM: "Persistent Memory (legacy)",
            E820_TYPE_PMEM: "Persistent Memory", E820_TYPE_SOFT_RESERVED: "Soft Reserved"}.get(t, "Reserved")


def e820_print_type(t: int) -> str:
    """e820_print_type(): the word the boot log uses ("usable", "soft reserved", ...)."""
    return {E820_TYPE_RAM: "usable", E820_TYPE_RESERVED: "reserved", E820_TYPE_SOFT_RESERVED: "soft reserved",
            E820_TYPE_ACPI: "ACPI data", E820_TYPE_NVS: "ACPI NVS", E820_TYPE_UNUSABLE: "unusable",
            E820_TYPE_PMEM: "persistent (type 7)", E820_TYPE_PRAM: "persistent (type 12)"}.get(t, f"type {t}")


def memparse(s: str) -> tuple[int, str]:
    """lib/cmdline.c memparse(): a number (any base, as simple_strtoull) with an optional K/M/G/T/P/E suffix."""
    n, rest = _strtoull(s)
    if rest and rest[0] in "KkMmGgTtPpEe":
        n <<= 10 * ("KMGTPE".index(rest[0].upper()) + 1)
        rest = rest[1:]
    return n, rest


def _strtoull(s: str) -> tuple[int, str]:
    """simple_strtoull(s, &end, 0): base from the prefix (0x hex, 0 octal, else decimal); 0 if no digits."""
    base, i = 10, 0
    if s[:2].lower() == "0x" and len(s) > 2 and s[2] in "0123456789abcdefABCDEF":
        base, i = 16, 2
    elif s[:1] == "0":
        base = 8
    digits = "0123456789abcdef"[:base]
    j = i
    while j < len(s) and s[j].lower() in digits:
        j += 1
    return (int(s[i:j], base) if j > i else 0), s[j:]


def _update(table: list[E820Range], start: int, size: int, old: int, new: int) -> list[E820Range]:
    """__e820__range_update(): the parts of ``old``-typed entries inside [start, start + size) become ``new``."""
    end = start + size
    out = []
    for e in table:
        if e.type != old or e.end <= start or e.start >= end:
            out.append(e)
            continue
        lo, hi = max(e.start, start), min(e.end, end)
        if e.start < lo:
            out.append(E820Range(e.start, lo, e.type))
        out.append(E820Range(lo, hi, new))
        if hi < e.end:
            out.append(E820Range(hi, e.end, e.type))
    return out


def _remove(table: list[E820Range], start: int, size: int, old: int | None) -> list[E820Range]:
    """e820__range_remove(): cut [start, start + size) out of the entries (of type ``old`` if given)."""
    end = start + size
    out = []
    for e in table:
        if (old is not None and e.type != old) or e.end <= start or e.start >= end:
            out.append(e)
            continue
        if e.start < start:
            out.append(E820Range(e.start, start, e.type))
        if end < e.end:
            out.append(E820Range(end, e.end, e.type))
    return out


def e820_update_table(table: list[E820Range]) -> list[E820Range]:
    """e820__update_table(): sort, resolve overlaps (the larger type wins) and merge equal neighbours."""
    points = sorted({p for e in table for p in (e.start, e.end)})
    out: list[E820Range] = []
    for lo, hi in zip(points, points[1:]):
        types = [e.type for e in table if e.start <= lo and e.end >= hi]
        if not types:
            continue
        t = max(types)
        if out and out[-1].end == lo and out[-1].type == t:
            out[-1] = E820Range(out[-1].start, hi, t)
        else:
            out.append(E820Range(lo, hi, t))
    return out


def parse_memmap_one(table: list[E820Range], arg: str, log: list[str]) -> list[E820Range]:
    """parse_memmap_one(): one ``memmap=`` value; an invalid one is ignored (-EINVAL, as the kernel does)."""
    if arg.startswith("exactmap"):
        return []
    size, rest = memparse(arg)
    if rest == arg:
        return table
    if not rest:                                   # memmap=nn: limit usable RAM to nn bytes
        return _remove(table, size, (1 << 64) - 1 - size, E820_TYPE_RAM)
    op, rest = rest[0], rest[1:]
    start, rest = memparse(rest)
    if op in "@#$!":
        t = {"@": E820_TYPE_RAM, "#": E820_TYPE_ACPI, "$": E820_TYPE_RESERVED, "!": E820_TYPE_PRAM}[op]
        return table + [E820Range(start, start + size, t)]
    if op != "%":
        return table
    frm = to = 0
    if rest.startswith("-"):
        frm, rest = _strtoull(rest[1:])
    if rest.startswith("+"):
        to, rest = _strtoull(rest[1:])
    if rest:
        return table
    if frm and to:
        log.append(f"e820: update [mem {start:#010x}-{start + size - 1:#010x}] {e820_print_type(frm)} ==> "
                   f"{e820_print_type(to)}")
        return _update(table, start, size, frm, to)
    if to:
        return table + [E820Range(start, start + size, to)]
    return _remove(table, start, size, frm or None)


def parse_memmap_opt(table: list[E820Range], cmdline_values: list[str], log: list[str] | None = None
                     ) -> list[E820Range]:
    """parse_memmap_opt() for every ``memmap=`` of the command line (comma-separated values), then the update."""
    log = [] if log is None else log
    before = table
    for value in cmdline_values:
        for arg in value.split(","):
            table = parse_memmap_one(table, arg, log)
    if table is not before:
        table = e820_update_table(table)
        for e in table:
            log.append(f"user: [mem {e.start:#018x}-{e.end - 1:#018x}] {e820_print_type(e.type)}")
    return table


def from_qemu(entries) -> list[E820Range]:
    """The BIOS-e820 table QEMU's firmware reports (qemu.E820Entry, inclusive ends)."""
    return [E820Range(e.start, e.end + 1, _QEMU_TYPES[e.type]) for e in entries]


def soft_reserved_ranges(table: list[E820Range]) -> list[tuple[int, int]]:
    """The Soft Reserved ranges (start, end exclusive): what hmem_init() walks."""
    return [(e.start, e.end) for e in table if e.type == E820_TYPE_SOFT_RESERVED]
