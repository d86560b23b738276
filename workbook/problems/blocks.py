"""Problems on sections and memory blocks: the x86 block-size probe, which block holds an address (chapter 02)."""
from __future__ import annotations

from ..arch import GiB, MiB, TiB, get_arch
from ..machine import Machine
from . import Problem, register, rng

__all__ = ["memory_block_size", "block_of_address", "probe_block_size", "block_size_by_hand", "block_size_mistakes",
           "block_id_mistakes"]

_PROBE_ENDS = (2 * GiB, 16 * GiB, 63 * GiB, 64 * GiB, 64 * GiB + 128 * MiB, 65 * GiB, 96 * GiB,
               100 * GiB + 256 * MiB, 129 * GiB, 192 * GiB + 512 * MiB, 258 * GiB, 1 * TiB)


def probe_block_size(boot_mem_end: int, bare_metal: bool) -> int:
    """What x86_64 ``probe_memory_block_size()`` returns for a boot-memory end, on bare metal or in a VM."""
    return Machine("6.12", "x86_64", bare_metal=bare_metal).probe_memory_block_size(boot_mem_end)


def _size(n: int) -> str:
    return f"{n >> 30} GiB" if n % GiB == 0 else f"{n >> 20} MiB"


def block_size_by_hand(end: int, bare_metal: bool) -> tuple[int, list[str]]:
    """x86_64 probe_memory_block_size() by the rule chapter 02 teaches, with its steps (independent of the model)."""
    if end < 64 * GiB:
        return 128 * MiB, [f"boot memory ends at {_size(end)}, below 64 GiB: MIN_MEMORY_BLOCK_SIZE, 128 MiB"]
    if bare_metal:
        return 2 * GiB, [f"boot memory ends at {_size(end)} (>= 64 GiB) on bare metal: MAX_BLOCK_SIZE, 2 GiB"]
    steps = [f"boot memory ends at {_size(end)} (>= 64 GiB) in a VM: the largest of 2 GiB, 1 GiB, 512 MiB, "
             "256 MiB that divides it"]
    for size in (2 * GiB, 1 * GiB, 512 * MiB, 256 * MiB):
        if end % size == 0:
            return size, steps + [f"{end:#x} is a multiple of {_size(size)} ({size:#x}): {_size(size)}"]
        steps.append(f"{end:#x} is not a multiple of {_size(size)}")
    return 128 * MiB, steps + ["none divides it: 128 MiB"]


#: The sizes x86's probe can return, largest first (MAX_BLOCK_SIZE down to MIN_MEMORY_BLOCK_SIZE).
PROBE_SIZES = (2 * GiB, 1 * GiB, 512 * MiB, 256 * MiB, 128 * MiB)


def block_size_mistakes(end: int, bare_metal: bool) -> dict[int, str]:
    """Every block size the probe can return but does not for this machine (bytes), with the rule it misses.

    Shared by the seeded problem (in MiB) and chapter 02's fixed check (in sections per block).
    """
    right, _ = block_size_by_hand(end, bare_metal)
    where = f"boot memory ends at {_size(end)}"
    out: dict[int, str] = {}
    for size in PROBE_SIZES:
        if size == right:
            continue
        if end < 64 * GiB:
            why = f"{where}, below 64 GiB: the probe stops at its first rule, 128 MiB, whatever the machine"
        elif bare_metal and size == 128 * MiB:
            why = (f"128 MiB is for boot memory ending below 64 GiB; {where}, and on bare metal the probe then "
                   "takes 2 GiB")
        elif bare_metal:
            why = (f"{where} (64 GiB or more) on bare metal: the probe takes 2 GiB at once; looking for a size "
                   "that divides the end is the rule for VMs")
        elif size == 128 * MiB:
            why = (f"128 MiB is for boot memory ending below 64 GiB, or a VM whose end is aligned to none of "
                   f"2 GiB, 1 GiB, 512 MiB, 256 MiB; {where}, a multiple of {_size(right)}")
        elif size == 2 * GiB and end % size:
            why = (f"2 GiB is bare metal's size; in a VM it needs the end of boot memory on a 2 GiB boundary, "
                   f"and {end:#x} is not")
        elif end % size:
            why = f"{_size(size)} does not divide the end of boot memory, {end:#x}"
        else:
            why = (f"{_size(size)} divides the end, but so does the larger {_size(right)}: the VM rule tries "
                   "2 GiB, 1 GiB, 512 MiB, 256 MiB in that order and takes the first that divides it")
        out[size] = why
    return out


def block_id_mistakes(addr: int, block: int, arch: str = "x86_64") -> dict[int, str]:
    """The wrong answers to "which memoryN holds ``addr``?" a learner is likely to give, and what each misread."""
    a = get_arch(arch)
    section_nr = a.pfn(addr) // a.pages_per_section
    block_id = addr // block
    text = f"{block:x}"
    mistakes = {
        section_nr: "that is the section number; a memory block is sections_per_block sections",
        a.pfn(addr): "that is the pfn",
        addr // int(text): f"that reads block_size_bytes as decimal; '{text}' is hexadecimal",
        addr >> 20: "that is the address in MiB",
    }
    mistakes.setdefault(block_id + 1, "that is one block too far: memory0 starts at address 0, and the "
                                      "division rounds down")
    mistakes.setdefault(addr >> 30, "that is the address in GiB; divide by the block size")
    written = f"{block_id:x}"
    if written.isdigit() and int(written) != block_id:
        mistakes.setdefault(int(written), f"that is the block number's hex digits (phys_index prints "
                                          f"{block_id:08x}) read as decimal")
    mistakes.pop(block_id, None)
    return mistakes


@register("memory-block-size", difficulty=2, chapter="02")
def memory_block_size(seed: int, exam: bool = False) -> Problem:
    """How big is a memory block on an x86_64 machine whose boot memory ends at a given address?"""
    r = rng(seed, "memory-block-size", exam)
    if exam:        # any end of boot memory in 128 MiB steps, 2 GiB to 1 TiB, and a wider question
        end = r.choice([r.randrange(16, 512), r.randrange(512, 8192)]) * 128 * MiB
    else:
        end = r.choice(_PROBE_ENDS)
    bare = r.choice([False, True])
    mib = probe_block_size(end, bare) >> 20
    hand, steps = block_size_by_hand(end, bare)
    machine = "bare metal" if bare else "VM (X86_FEATURE_HYPERVISOR)"
    shown = f"{end / GiB:g} GiB" if exam else _size(end)
    params = {"arch": "x86_64", "end of boot memory (max_pfn << PAGE_SHIFT)": f"{end:#x} ({shown})",
              "machine": machine}
    rule = ("x86 probe_memory_block_size(): end < 64 GiB -> 128 MiB; bare metal -> 2 GiB; in a VM the largest "
            "of 2G/1G/512M/256M that divides the end, else 128 MiB")
    if exam:
        last = (end - 1) // (mib << 20)
        return Problem(
            "memory-block-size", seed, params,
            "What is N in the name of the last memoryN directory of boot memory (the block that holds the "
            "last byte of boot memory, end - 1)?",
            last, f"block size {mib} MiB; memory{last} holds byte {end - 1:#x}",
            rule=rule + "; block id = phys_addr / memory_block_size_bytes()",
            mistakes={end // (mib << 20): "that is the block after the last one: the last byte is end - 1",
                      (end - 1) // (128 * MiB): "that uses 128 MiB blocks; work out the block size first",
                      mib: "that is the block size in MiB; the question asks for the last block's number"},
            derivation=steps + [f"last byte {end - 1:#x} / {mib << 20:#x} = {last} (round down): memory{last}"],
            by_hand=hand >> 20 == mib, exam=True)
    mistakes = {size >> 20: why for size, why in block_size_mistakes(end, bare).items()}
    mistakes.setdefault(end >> 20, "that is the end of boot memory itself, not the block size")
    mistakes.setdefault(mib << 20, "that is the block size in bytes; the question asks for MiB")
    if f"{mib << 20:x}".isdigit():
        mistakes.setdefault(int(f"{mib << 20:x}"), f"that is block_size_bytes ({mib << 20:x}, hexadecimal) read "
                                                   "as a decimal number; the question asks for MiB")
    if mib >= 1024:
        mistakes.setdefault(mib >> 10, "that is the block size in GiB; the question asks for MiB")
    mistakes.pop(mib, None)
    return Problem(
        "memory-block-size", seed, params,
        "How many MiB is one memory block (what memory_block_size_bytes() returns)?",
        mib,
        f"probe_memory_block_size(): {'bare metal' if bare else 'VM'}, boot memory ends at {_size(end)} "
        f"-> {mib} MiB; block_size_bytes prints {mib << 20:x}",
        rule=rule, mistakes=mistakes,
        derivation=steps + [f"{mib} MiB; block_size_bytes prints it in hex: {mib << 20:x}"],
        by_hand=hand >> 20 == mib)


@register("block-of-address", difficulty=1, chapter="02")
def block_of_address(seed: int, exam: bool = False) -> Problem:
    """Which memoryN directory holds a physical address, given block_size_bytes?"""
    r = rng(seed, "block-of-address", exam)
    a = get_arch("x86_64")
    block = r.choice([128 * MiB, 256 * MiB, 512 * MiB, 1 * GiB, 2 * GiB])
    addr = r.choice([4 * GiB, 8 * GiB, 16 * GiB, 64 * GiB]) + r.randrange(0, 16 * GiB // a.page_size) * a.page_size
    # drivers/base/memory.c: phys_to_block_id() = memory_block_id(pfn_to_section_nr(PFN_DOWN(phys)))
    section_nr = a.pfn(addr) // a.pages_per_section
    sections_per_block = block // a.section_size
    block_id = section_nr // sections_per_block
    text = f"{block:x}"
    mistakes = block_id_mistakes(addr, block)
    return Problem(
        "block-of-address", seed,
        {"arch": "x86_64", "block_size_bytes": text, "physical address": f"{addr:#x}"},
        "Which memory block (the N of /sys/devices/system/memory/memoryN) holds this address?",
        block_id,
        f"section {section_nr} (addr >> {a.section_size_bits}); {sections_per_block} section(s) per block "
        f"-> memory{block_id} (phys_index {block_id:08x})",
        rule="block id = section_nr / sections_per_block = phys_addr / memory_block_size_bytes() "
             "(drivers/base/memory.c memory_block_id())",
        mistakes=mistakes,
        derivation=[f"block_size_bytes is hex: {text} = {block:#x} = {_size(block)}",
                    f"section = addr >> SECTION_SIZE_BITS ({a.section_size_bits}) = {section_nr}; "
                    f"{sections_per_block} section(s) per block",
                    f"block id = {section_nr} / {sections_per_block} = {block_id} (the same as {addr:#x} / "
                    f"{block:#x}, rounded down): memory{block_id}"],
        exam=exam)
