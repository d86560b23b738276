"""Problems on memmap-on-memory at hot-add: how many pfns of a new block hold its own memmap (chapter 05).

The answer always comes from a :class:`~workbook.machine.Machine` that really hot-adds the
DIMM: ``MemoryBlock.vmemmap_pages`` is ``nr_vmemmap_pages`` (5.13 .. 6.5) or
``mem->altmap->free`` (6.6+), and it is 0 when the memmap was allocated from other memory.
"""
from __future__ import annotations

from ..arch import GiB, MiB, ArchProfile, get_arch
from ..machine import Machine, NodeSpec
from ..memory_hotplug import memmap_on_memory_refusal, memory_block_memmap_on_memory_pages
from . import Problem, register, rng
from .geometry import allowed_by_hand

__all__ = ["selfhosted_pages", "hotplug_vm", "SELFHOSTED_ARCHES", "selfhosted_by_hand", "selfhosted_mistakes"]

#: The builds the problem picks from: (label, architecture, sizeof(struct page)).
SELFHOSTED_ARCHES: tuple[tuple[str, str, int], ...] = (
    ("x86_64", "x86_64", 64),
    ("x86_64 with KMSAN (sizeof(struct page) = 80)", "x86_64", 80),
    ("arm64, 4 KiB pages", "arm64-4k", 64),
    ("arm64, 16 KiB pages", "arm64-16k", 64),
    ("ppc64 radix, 64 KiB pages", "ppc64-radix-64k", 64),
    ("s390x", "s390x", 64),
)


def hotplug_vm(kernel: str, arch: str = "x86_64", mode: str = "1", struct_page: int = 64,
               extra: str = "", block_size: int | None = None) -> Machine:
    """The workbook's VM: node 0 with 1 GiB and CPU 0, an empty node 1 with CPU 1, blocks arrive offline.

    ``block_size`` overrides the block size the architecture's probe picks.
    """
    a = get_arch(arch)
    if struct_page != a.struct_page_size:
        a = a.with_struct_page(struct_page)
    cmdline = f"memory_hotplug.memmap_on_memory={mode} memhp_default_state=offline {extra}".strip()
    return Machine(kernel, a, [NodeSpec(0, [0], 1 * GiB), NodeSpec(1, [1], 0)], cmdline=cmdline,
                   block_size=block_size)


def selfhosted_by_hand(kernel: str, arch: ArchProfile, mode: str, block: int,
                       nblocks: int) -> tuple[int, list[str]]:
    """The last block's vmemmap pages by the rules of chapter 05, with the steps (independent of the machine)."""
    if mode == "force" and kernel in ("5.13", "6.1"):
        why = ("5.13's kstrtobool() knows no 'f' (t/f came with 5.19): the kernel rejects the value"
               if kernel == "5.13" else "6.1's bool parameter reads 'f' as false")
        return 0, [f"memmap_on_memory=force: {why}; the option stays off -> 0"]
    steps = []
    if kernel in ("5.13", "6.1") and nblocks > 1:
        return 0, [f"{kernel} allows memmap_on_memory only for a one-block add; this DIMM is {nblocks} blocks: "
                   "the memmap comes from other memory -> 0"]
    if nblocks > 1:
        steps.append(f"{kernel} gives each of the {nblocks} blocks its own altmap: the last block is like any")
    hand, more = allowed_by_hand(arch, kernel, mode, block)
    return hand, steps + more


def selfhosted_mistakes(m: Machine, size: int, asked: str, answer: int) -> dict[int, str]:
    """The wrong answers to "how many pfns at the start of the DIMM's last block hold its own memmap?".

    ``m`` is the machine that hot-added ``size`` bytes with ``memory_hotplug.memmap_on_memory=<asked>``
    and ``answer`` the right count (never a key).  Shared by the seeded ``selfhosted-pages``
    problem and chapter 05's fixed check, so both name the same rules: the one-block rule up to
    6.7, ``force`` before 6.6, the padding of force mode, the per-block memmap.
    """
    a = m.arch
    per_block = m.block_size >> a.page_shift
    exact = a.memmap_pages(per_block)
    padded = memory_block_memmap_on_memory_pages(m)
    whole = a.memmap_pages(size >> a.page_shift)
    refusal = memmap_on_memory_refusal(m, size)
    mistakes: dict[int, str] = {}
    if answer == 0:
        why = refusal or "the memmap was allocated from other memory"
        if asked == "force" and m.params.memmap_on_memory == "N":
            why = (f"{m.kernel.label} has no 'force': its bool parameter "
                   + ("reads 'force' as false (kstrtobool() knows t/f since 5.19)" if m.kernel.kstrtobool_tf else
                      "rejects it (kstrtobool() knows no 'f' before 5.19: `force' invalid for parameter)")
                   + ", so memmap_on_memory stays off")
        mistakes[exact] = f"that is what the block's memmap needs, but it is not on the block: {why}"
        mistakes.setdefault(padded, f"the memmap is not on the block: {why}")
        mistakes.setdefault(whole, f"that is the whole DIMM's memmap, and it is not on the DIMM: {why}")
    else:
        mistakes[exact] = (f"{exact} pages is the block's memmap rounded up to whole pages; force mode pads it to "
                           f"whole pageblocks ({a.pageblock_nr_pages} pages)")
        mistakes.setdefault(answer - exact, "that is only the padding force mode adds; the block loses memmap + "
                                            "padding")
        mistakes.setdefault(whole, "that is the memmap of the whole DIMM; each block holds only its own, at its "
                                   "own start")
        mistakes.setdefault(0, "the kernel accepted memmap_on_memory for this add: the block carries its own "
                               "memmap")
    mistakes.setdefault(a.memmap_bytes(per_block), "that is the memmap in bytes; count pfns")
    mistakes.setdefault(a.memmap_bytes(per_block) >> 10, "that is the memmap in KiB; count pfns")
    if (a.page_size, a.struct_page_size, m.block_size) != (4096, 64, 128 << 20):
        mistakes.setdefault(512, "512 is the answer for x86_64's 128 MiB blocks of 4 KiB pages; work it out for "
                                 f"this build ({a.page_size >> 10} KiB pages, {a.struct_page_size}-byte struct "
                                 f"page, {m.block_size >> 20} MiB blocks)")
    mistakes.pop(answer, None)
    return mistakes


@register("selfhosted-pages", difficulty=2, chapter="05")
def selfhosted_pages(seed: int, exam: bool = False) -> Problem:
    """How many pfns at the start of the DIMM's last memory block hold that block's own memmap?"""
    r = rng(seed, "selfhosted-pages", exam)
    x86, kmsan, arm4k, arm16k, ppc64k, s390 = SELFHOSTED_ARCHES
    while True:
        kernel = r.choice(["5.13", "6.1", "6.1", "6.12", "6.12", "6.12"])
        label, arch, sp = r.choice([x86] * 4 + [arm4k] * 2 + [ppc64k] * 2 + [kmsan, arm16k, s390])
        mode = r.choice(["1", "1", "1", "force"])
        nblocks = r.choice([1, 1, 2] if kernel != "6.12" else [1, 2, 4])
        block = None
        if exam:    # the block size varies too (a whole number of sections, up to 2 GiB): wider answers
            section = get_arch(arch).section_size
            block = section * r.choice([f for f in (1, 2, 4, 8, 16) if section * f <= 2 * GiB])
            block = max(block, 128 * MiB) if arch in ("x86_64", "arm64-4k") else block
            if sp != 64 and block > section:
                continue    # the model cannot place an 80-byte struct page memmap over several sections yet
        m = hotplug_vm(kernel, arch, mode, sp, block_size=block)
        a = m.arch
        hand, steps = selfhosted_by_hand(kernel, a, mode, m.block_size, nblocks)
        # an exam keeps one variant in five whose answer is 0, else half the class would answer 0
        if not exam or hand or r.random() < 0.2:
            break
    size = nblocks * m.block_size
    refusal = memmap_on_memory_refusal(m, size)
    res = m.dimm_add(size, 1, "dimm1")
    if res.error is not None or not res.blocks:      # pragma: no cover - every choice above fits
        raise RuntimeError(f"selfhosted-pages seed {seed}: {res.error or res.result}")
    last = m.blocks[res.blocks[-1]]
    answer = last.vmemmap_pages
    per_block = last.nr_pages
    exact = a.memmap_pages(per_block)
    padded = memory_block_memmap_on_memory_pages(m)
    mistakes = selfhosted_mistakes(m, size, mode, answer)
    asked = mode
    read_as = m.params.memmap_on_memory
    verdict = "accepted" if refusal is None else f"refused ({refusal})"
    what = f"{label}: " if sp != 64 else ""
    return Problem(
        "selfhosted-pages", seed,
        {"kernel": kernel, "arch": arch, "sizeof(struct page)": sp, "memory_hotplug.memmap_on_memory": asked,
         "memory block size": f"{m.block_size >> 20} MiB",
         "hot-added bytes (one DIMM on node 1)": f"{size:#x} ({size >> 20} MiB)" if exam else size},
        f"The DIMM is {nblocks} memory block{'s' if nblocks > 1 else ''}. How many pfns at the start of "
        f"memory{last.id}, its last block, hold that block's own memmap? (0 if its memmap lives elsewhere)",
        answer,
        f"{what}the parameter reads {read_as}; one block's memmap is {a.memmap_bytes(per_block)} bytes = {exact} pages"
        + (f", padded to {padded} in force mode" if read_as == "force" else "")
        + f"; mhp_supports_memmap_on_memory() {verdict}: memory{last.id} has {answer} vmemmap pages",
        rule="mhp_supports_memmap_on_memory(): <= 6.7 one block per add (size == memory_block_size_bytes()); "
             "memmap a whole number of pages and pageblocks; PMD alignment (arch_supports_memmap_on_memory()); "
             "force (6.6+) pads to pageblocks; memmap_on_memory=force is read as N before 6.6",
        mistakes=mistakes, derivation=steps + [f"memory{last.id}: {answer} vmemmap pages"],
        by_hand=hand == answer, exam=exam)
