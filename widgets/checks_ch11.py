"""Check cells of chapter 11 (kernel versions and trade-offs): multi-block adds, force-mode waste, E2BIG."""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from widgets.checks_ch01 import in_hex
from workbook.arch import GiB, MiB, TiB, get_arch
from workbook.errors import E2BIG, EEXIST, EINVAL
from workbook.machine import Machine
from workbook.memory_hotplug import memory_block_memmap_on_memory_pages
from workbook.mmzone import ZONE_MOVABLE
from workbook.problems.answers import parse_int

__all__ = ["VERSIONS", "self_hosted_blocks", "multiblock_managed", "check_first_self_hosting_kernel",
           "check_multiblock_managed", "check_force_waste", "check_max_hotplug_end", "check_max_hotplug_start"]

#: The kernels chapter 11 walks through, oldest first.
VERSIONS = ("5.10", "5.13", "6.1", "6.6", "6.8", "6.12", "7.2")


def self_hosted_blocks(kernel: str, size: int = 512 * MiB) -> int:
    """How many blocks of one ACPI DIMM of ``size`` bytes keep their memmap on themselves (memmap_on_memory=1)."""
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    r = m.dimm_add(size, 1, "dimm1")
    return sum(1 for b in r.blocks if m.blocks[b].vmemmap_pages)


def check_first_self_hosting_kernel(answer: object, size: int = 512 * MiB) -> CheckResult:
    """Check "which is the first of 5.13, 6.1, 6.6, 6.8, 6.12 where a ``size`` DIMM keeps its memmap on itself?"."""
    expected = next(k for k in VERSIONS if self_hosted_blocks(k, size))
    rule = ("5.13-6.7: mhp_supports_memmap_on_memory() requires size == memory_block_size_bytes(), so a "
            "multi-block add takes its memmap from other memory; 6.8: create_altmaps_and_memory_blocks() gives "
            "every block of an add its own altmap")
    hints = {"5.10": "5.10 has no memmap-on-memory at all (the feature was merged for 5.13)",
             "5.13": "5.13 merged the feature, for exactly one memory block per add",
             "6.1": "6.1 still needs size == memory_block_size_bytes()",
             "6.6": "6.6 added memmap_on_memory=force (pageblock padding), not multi-block adds",
             "6.12": "6.12 does it, but it is not the first",
             "7.2": "7.2 does it, but it is not the first"}
    hints.pop(expected, None)
    if answer is None:
        return CheckResult(False, "not answered yet: a version string such as '6.1'", rule, hints)
    got = str(answer).strip()
    if got == expected:
        return CheckResult(True, expected, mistakes=hints)
    return CheckResult(False, f"{answer!r}: {hints.get(got, 'that is not one of the kernels listed')}", rule,
                       hints)


def multiblock_managed(kernel: str, size: int = 512 * MiB) -> int:
    """Node 1 Movable ``managed`` after one ACPI DIMM of ``size`` (memmap_on_memory=1), every block online_movable."""
    m = Machine(kernel, cmdline="memory_hotplug.memmap_on_memory=1 memhp_default_state=offline")
    for bid in m.dimm_add(size, 1, "dimm1").blocks:
        m.write(f"/sys/devices/system/memory/memory{bid}/state", "online_movable")
    return m.nodes[1].zones[ZONE_MOVABLE].managed_pages


def check_multiblock_managed(answer: object, kernel: str = "6.6", size: int = 512 * MiB) -> CheckResult:
    """Check "node 1's Movable managed pages after a ``size`` DIMM, every block online_movable, on ``kernel``"."""
    expected = multiblock_managed(kernel, size)
    blocks = size // (128 * MiB)
    pages, memmap = 32768, 512
    mistakes = {
        blocks * (pages - memmap): "that gives every block its own 512 memmap pages: per-block altmaps came with 6.8; "
                                   "before, a multi-block add gets no self-hosted memmap at all",
        blocks * pages - memmap: "that self-hosts the memmap of the first block only; 5.13-6.7 self-host nothing of "
                                 "an add of more than one block (size == memory_block_size_bytes())",
        pages - memmap: "that is one block; the DIMM has four, all onlined",
        pages: "that is one block; the DIMM has four, all onlined",
        blocks * pages * 4: "that is in kB (MemTotal); /proc/zoneinfo's managed counts pages",
        0: "the add does not fail: from 6.6 add_memory_resource() falls back to a memmap in ordinary memory (5.13-6.5: "
           "ACPI does not pass the flag), so the DIMM is added and onlined",
    }
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="5.13-6.7: mhp_supports_memmap_on_memory() requires size == memory_block_size_bytes(); a "
                             "bigger add takes its whole memmap from other memory (6.6+: the core falls back, before: "
                             "ACPI does not pass MHP_MEMMAP_ON_MEMORY), so every pfn of the DIMM is managed; 6.8+ give "
                             "each block its own altmap and 512 unmanaged memmap pages")


def check_force_waste(answer: object, arch: str = "ppc64-radix-64k", kernel: str = "6.12",
                      block_size: int | None = None) -> CheckResult:
    """Check "how many pages per memory block does memmap_on_memory=force waste on ``arch``?" (``block_size``:
    the architecture's default when None)."""
    m = Machine(kernel, arch, cmdline="memory_hotplug.memmap_on_memory=force", block_size=block_size)
    default = Machine(kernel, arch, cmdline="memory_hotplug.memmap_on_memory=force")
    a = m.arch
    exact = a.memmap_pages(m.block_size >> a.page_shift)
    padded = memory_block_memmap_on_memory_pages(m)
    expected = padded - exact
    default_waste = memory_block_memmap_on_memory_pages(default) - a.memmap_pages(default.block_size >> a.page_shift)
    mistakes = {
        a.pageblock_nr_pages: "that is one pageblock; the memmap fills part of it",
        padded: "that is the padded memmap, all of it; the waste is the padding only",
        exact: "that is the memmap itself, which is used; the waste is what pads it to a pageblock",
        expected * a.page_size: "that is in bytes; the question asks for pages",
    }
    if default.block_size != m.block_size:
        mistakes[default_waste] = (f"that is the waste of a {default.block_size >> 20} MiB block; a "
                                   f"{m.block_size >> 20} MiB block has a memmap of {exact} pages")
    mistakes.pop(expected, None)
    return check_number(answer, expected, mistakes=mistakes,
                        rule="memory_block_memmap_on_memory_pages() in force mode = pageblock_align(PFN_UP(memmap "
                             "bytes)); the pages between the memmap and the pageblock boundary are never used")


def check_max_hotplug_end(answer: object, arch: str = "x86_64") -> CheckResult:
    """Check "below which physical address must hot-added memory end on ``arch``?" (bytes)."""
    a = get_arch(arch)
    expected = a.max_phys_addr
    # maxmem large enough that QEMU's DIMM window reaches the probe: the guest, not QEMU, must refuse it
    m = Machine("6.12", arch, cmdline="memory_hotplug.memmap_on_memory=1", block_size=2 * GiB,
                ram_bytes=1 * GiB, maxmem_bytes=max(80 * TiB, expected))
    refused = m.dimm_add(2 * GiB, 1, "probe", addr=expected).error
    assert refused is not None and refused.errno == E2BIG, "the model must refuse memory at MAX_PHYSMEM_BITS"
    mistakes = {
        1 << 47: "that is 128 TiB, half of 4-level paging's virtual address space; physical memory stops at "
                 "MAX_PHYSMEM_BITS = 46",
        1 << 48: "that is 4-level paging's 256 TiB of virtual address space; the physical limit is 2^46",
        1 << 52: "that is 5-level paging's limit (MAX_PHYSMEM_BITS = 52, pgtable_l5_enabled())",
        46: "that is MAX_PHYSMEM_BITS; the address is 1 << 46",
        expected - 1: "that is the last byte that may be used; the question asks for the limit on the end of "
                      "the range, start + size, which is one past it",
    }
    mistakes.pop(expected, None)
    return in_hex(check_number(answer, expected, mistakes=mistakes,
                               rule="mhp_range_allowed(): start + size - 1 must not pass the pluggable range's "
                                    "end, (1 << MAX_PHYSMEM_BITS) - 1, else E2BIG (x86_64: 46 bits with 4-level "
                                    "paging, 52 with 5-level; KASLR keeps the whole 2^46 direct map only with "
                                    "CONFIG_ZONE_DEVICE=y, as Debian builds it)"),
                  answer, expected)



def check_max_hotplug_start(answer: object, arch: str = "x86_64", size: int = 2 * GiB) -> CheckResult:
    """Check "the highest start address at which a DIMM of ``size`` bytes still hot-adds on ``arch``" (bytes)."""
    a = get_arch(arch)
    expected = a.max_phys_addr - size
    # the guest kernel's own check (__add_memory() -> mhp_range_allowed()), whatever window QEMU would offer
    from workbook.memory_hotplug import MHP_NONE, add_memory
    from workbook.errors import KernelError
    m = Machine("6.12", arch, cmdline="memory_hotplug.memmap_on_memory=1", block_size=2 * GiB,
                ram_bytes=1 * GiB, maxmem_bytes=80 * TiB)
    add_memory(m, 1, expected, size, MHP_NONE)           # ends at the limit: taken
    try:
        add_memory(m, 1, expected + size, size, MHP_NONE)
        refused = None
    except KernelError as e:
        refused = e
    assert refused is not None and refused.errno == E2BIG, "the model must refuse the next one with E2BIG"
    mistakes = {
        a.max_phys_addr: "that is where the range may end (start + size <= 2^MAX_PHYSMEM_BITS); the DIMM's "
                         f"{size >> 30} GiB must fit below it",
        a.max_phys_addr - 1: "that is the last byte of the addressable range; the DIMM must start early enough to "
                             "end there",
        expected - 1: "the end is exclusive: start + size may equal 2^MAX_PHYSMEM_BITS, because the last byte, "
                      "start + size - 1, is then still inside",
        (1 << 52) - size: "that is 5-level paging's limit (MAX_PHYSMEM_BITS = 52); 4-level paging has 46 bits",
        (1 << 47) - size: "MAX_PHYSMEM_BITS is 46 with 4-level paging, not 47",
        (1 << 48) - size: "2^48 is 4-level paging's virtual address space; the physical limit is 2^46",
        46: "that is MAX_PHYSMEM_BITS; the question asks for an address",
    }
    mistakes.pop(expected, None)
    value = parse_int(answer)
    if isinstance(value, int) and value not in mistakes and value != expected:
        mistakes[value] = _hotplug_start_verdict(m, value, size)
    return in_hex(check_number(answer, expected, mistakes=mistakes,
                               rule="mhp_range_allowed(): start + size - 1 must not pass the pluggable range's "
                                    "end, (1 << MAX_PHYSMEM_BITS) - 1, else E2BIG (x86_64: 46 bits with 4-level "
                                    "paging, 52 with 5-level; the whole 2^46 only with CONFIG_ZONE_DEVICE=y under "
                                    "KASLR, as Debian builds it); then check_hotplug_memory_range() wants start "
                                    "and size block aligned, else EINVAL; so the highest start is 2^bits - size"),
                  answer, expected)


def _hotplug_start_verdict(probe: Machine, start: int, size: int) -> str:
    """What the guest kernel answers an add of ``size`` bytes at ``start`` (a fresh machine like ``probe``)."""
    from workbook.errors import KernelError
    from workbook.memory_hotplug import MHP_NONE, add_memory
    if start < 0:
        return "a physical address is not negative"
    m = Machine(probe.kernel.name, probe.arch.name, cmdline="memory_hotplug.memmap_on_memory=1",
                block_size=probe.block_size, ram_bytes=1 * GiB, maxmem_bytes=80 * TiB)
    try:
        add_memory(m, 1, start, size, MHP_NONE)
    except KernelError as e:
        why = {E2BIG: "the range ends past the addressable range: mhp_range_allowed() refuses it with E2BIG",
               EINVAL: f"that start is not a multiple of the memory block size, {probe.block_size >> 20} MiB: "
                       "check_hotplug_memory_range() refuses it with EINVAL",
               EEXIST: "that range overlaps memory the machine already has: register_memory_resource() refuses it "
                       "with EEXIST"}.get(e.errno, f"the kernel refuses it with {e.errno_name}")
        return f"{why} ({e.message})"
    return ("a DIMM there is added, but it is not the highest start: the range may end right at "
            "2^MAX_PHYSMEM_BITS")
