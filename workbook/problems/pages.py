"""Problems on page frames: pfn arithmetic and where a pfn's struct page lives (chapter 01)."""
from __future__ import annotations

from ..arch import ARCHES, GiB, MiB, ArchProfile
from . import Problem, register, rng
from .vmemmap import VMEMMAP_BASE, pfn_to_page

__all__ = ["pfn_of_address", "pfn_mistakes", "struct_page_address"]


def pfn_mistakes(addr: int, arch: ArchProfile) -> dict[int, str]:
    """The wrong answers to "which pfn holds ``addr``?" a learner is likely to give, and what each misread.

    Shared by the seeded problem and chapter 01's fixed check; the right answer is never a key.
    """
    shift = arch.page_shift
    pfn = arch.pfn(addr)
    mistakes = {
        addr: "that is the address itself; a pfn counts pages, not bytes",
        addr >> 10: "that shifts by 10, a count of KiB; shift by PAGE_SHIFT",
        (addr + arch.page_size - 1) >> shift: "that rounds up, like PFN_UP(); PHYS_PFN() rounds down",
        addr * arch.page_size: "that multiplies; a pfn is the address divided by PAGE_SIZE",
    }
    for other in (12, 14, 16):                 # the shifts of 4, 16 and 64 KiB pages
        if other != shift:
            digits = " (dropping three hex digits works only then)" if other == 12 else ""
            mistakes.setdefault(addr >> other, f"that shifts by {other}, as for {1 << (other - 10)} KiB pages"
                                f"{digits}; {arch.name} has PAGE_SHIFT {shift}")
    mistakes.setdefault(addr & (arch.page_size - 1), "that is the offset inside the page, the low PAGE_SHIFT "
                        "bits the shift drops; the pfn is what is left above them")
    written = f"{pfn:x}"
    if written.isdigit() and int(written) != pfn:
        mistakes.setdefault(int(written), f"that is the pfn's hex digits read as a decimal number; "
                            f"write it as 0x{written}")
    mistakes.pop(pfn, None)
    return mistakes


@register("pfn-of-address", difficulty=1, chapter="01")
def pfn_of_address(seed: int, exam: bool = False) -> Problem:
    """Which page frame number holds a physical address, on a random architecture and page size?"""
    r = rng(seed, "pfn-of-address", exam)
    arch = ARCHES[r.choice(["x86_64", "arm64-4k", "arm64-16k", "arm64-64k", "ppc64-radix-64k", "s390x"])]
    base = r.choice([0, 1 * GiB, 4 * GiB, 6 * GiB, 64 * GiB])
    addr = base + r.randrange(0, 1 * GiB // 8) * 8 + r.choice([0, 8])
    pfn = arch.pfn(addr)
    shift = arch.page_shift
    mistakes = pfn_mistakes(addr, arch)
    return Problem(
        "pfn-of-address", seed,
        {"arch": arch.name, "PAGE_SIZE": arch.page_size, "PAGE_SHIFT": shift, "physical address": f"{addr:#x}"},
        "Which page frame number (pfn) holds this physical address? (an int; 0x... literals are fine)",
        pfn,
        f"PHYS_PFN({addr:#x}) = {addr:#x} >> {shift} = {pfn:#x} = {pfn}; "
        f"the byte is at offset {addr & (arch.page_size - 1):#x} in that page",
        rule="pfn = PHYS_PFN(addr) = addr >> PAGE_SHIFT (include/linux/pfn.h)",
        mistakes=mistakes,
        derivation=[f"PAGE_SIZE = {arch.page_size} = 2^{shift}, so PAGE_SHIFT = {shift}",
                    f"pfn = addr >> PAGE_SHIFT: drop the low {shift} bits ({shift // 4} hex digits"
                    + (f" and {shift % 4} bits" if shift % 4 else "") + f") of {addr:#x}",
                    f"= {pfn:#x}; the low bits, {addr & (arch.page_size - 1):#x}, are the offset inside the page"],
        answer_format="hex", exam=exam)


@register("struct-page-address", difficulty=1, chapter="01")
def struct_page_address(seed: int, exam: bool = False) -> Problem:
    """At which virtual address is the struct page of a given pfn (x86_64 vmemmap, no KASLR)?"""
    r = rng(seed, "struct-page-address", exam)
    name = r.choice(sorted(VMEMMAP_BASE))
    arch = ARCHES[name]
    addr = r.choice([16 * MiB, 1 * GiB, 4 * GiB, 5 * GiB, 64 * GiB]) + r.randrange(0, 32768) * arch.page_size
    pfn = arch.pfn(addr)
    base = VMEMMAP_BASE[name]
    page = pfn_to_page(arch, pfn)
    mistakes = {
        base + pfn: "that adds the pfn in bytes; vmemmap + pfn is pointer arithmetic on struct page (64 bytes each)",
        base + addr: "that adds the physical address; index the array with the pfn",
        base + addr * arch.struct_page_size: "that indexes with the physical address; index with the pfn",
        pfn * arch.struct_page_size: "that is the offset into the vmemmap; add the vmemmap base",
    }
    mistakes.pop(page, None)
    offset = pfn * arch.struct_page_size
    return Problem(
        "struct-page-address", seed,
        {"arch": name, "vmemmap (VMEMMAP_START, no KASLR)": f"{base:#x}",
         "sizeof(struct page)": arch.struct_page_size, "pfn": f"{pfn:#x}"},
        "At which virtual address is the struct page of this pfn? (an int; 0x... literals are fine)",
        page,
        f"pfn_to_page({pfn:#x}) = vmemmap + {pfn:#x} = {base:#x} + {pfn:#x} x {arch.struct_page_size} = {page:#x}",
        rule="pfn_to_page(pfn) = vmemmap + pfn (struct page pointer arithmetic; include/asm-generic/memory_model.h)",
        mistakes=mistakes,
        derivation=["vmemmap is an array of struct page, so vmemmap + pfn steps over pfn whole struct pages",
                    f"byte offset = pfn x sizeof(struct page) = {pfn:#x} x {arch.struct_page_size} = {offset:#x}"
                    + (" (x 64 is a shift left by 6)" if arch.struct_page_size == 64 else ""),
                    f"address = {base:#x} + {offset:#x} = {page:#x}"],
        answer_format="hex", exam=exam)
