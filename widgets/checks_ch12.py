"""Check cells of chapter 12 (CXL memory and dax/kmem): iomem nesting, what the attribute costs, its errnos, unbind.

Every expected value comes from a model machine that went through the same steps (the
captures' machine: node 0 with 1 GiB, node 1's 256 MiB at 4 GiB made Soft Reserved).
"""
from __future__ import annotations

from widgets.checks import CheckResult, check_number
from workbook.errors import KernelError
from workbook.problems.dax import ATTRIBUTE_RULE, MANAGED_RULE, attribute_write, dax_machine, kmem_node_counts

__all__ = ["check_iomem_parent", "check_kmem_managed", "check_attribute_write", "check_blocks_after_unbind"]

MEM = "/sys/devices/system/memory"
DRV = "/sys/bus/dax/drivers"


def _name(answer: object, rule: str, what: str) -> CheckResult | None:
    if answer is None:
        return CheckResult(False, f"not answered yet: replace None with {what}", rule)
    if not isinstance(answer, str):
        return CheckResult(False, f"{answer!r}: answer with {what}, a string", rule)
    return None


def check_iomem_parent(answer: object, kernel: str = "6.12") -> CheckResult:
    """Check "which resource does /proc/iomem show directly above System RAM (kmem)?"."""
    m = dax_machine(kernel)
    if m.exists("/sys/bus/dax/devices/dax0.0/driver"):
        m.write(f"{DRV}/device_dax/unbind", "dax0.0")
    m.insmod("kmem")
    m.write(f"{DRV}/kmem/new_id", "dax0.0")
    lines = str(m.read("/proc/iomem")).splitlines()
    i = next(i for i, ln in enumerate(lines) if ln.endswith(": System RAM (kmem)"))
    depth = len(lines[i]) - len(lines[i].lstrip())
    parent = next(ln for ln in reversed(lines[:i]) if len(ln) - len(ln.lstrip()) < depth).split(" : ")[1]
    rule = ("kmem claims each range with request_mem_region(range, \"daxX.Y\"), clears its BUSY flag, and "
            "add_memory_driver_managed() requests \"System RAM (kmem)\" inside it; a request nests into the "
            "non-busy resources that hold the range (kernel/resource.c __request_region())")
    bad = _name(answer, rule, "a resource name such as \"Soft Reserved\"")
    if bad is not None:
        return bad
    if answer.strip() == parent:
        return CheckResult(True, f"{parent} ({kernel}: " + " > ".join(
            ln.split(" : ")[1] for ln in lines if ln.strip().startswith("100000000-")) + ")")
    hints = {"Soft Reserved": "Soft Reserved is one level higher: kmem's own claim sits between them",
             "hmem.0": "hmem.0 (6.1 only) is above Soft Reserved, two levels up",
             "System RAM": "plain System RAM is boot memory or a DIMM; kmem's memory is named after its driver",
             "kmem": "the claim is named after the device, not the driver"}
    return CheckResult(False, f"{answer!r}: {hints.get(answer.strip(), 'that is not in /proc/iomem there')}", rule)


def check_kmem_managed(answer: object, kernel: str = "6.12", blocks: int = 6, attr: str = "1") -> CheckResult:
    """Check "how many pages does node 1 manage once kmem added ``blocks`` blocks with the attribute ``attr``?"."""
    c = kmem_node_counts(kernel, blocks, attr)
    n = c["present"]
    one = kmem_node_counts(kernel, 1, attr)["managed"]
    mistakes = {n: "that is every pfn: the self-hosted memmap pfns are present, never managed",
                n - 512: "only 512 pfns off: that is one block's memmap, but since 6.8 every block of the device "
                         "has its own altmap and its own 512 pfns",
                512 * blocks: "that is the memmap part; the question asks for what the buddy allocator manages",
                c["MemTotal kB"]: "that is MemTotal in kB; the question asks for pages",
                one: f"that is one block's managed pages; the device has {blocks} blocks"}
    if blocks != 2:
        # the chapter's own 256 MiB device: numbers a reader may copy from the cells above
        two = kmem_node_counts(kernel, 2, attr)
        mistakes[two["managed"]] = f"that is the chapter's 256 MiB device (2 blocks); this one has {blocks} blocks"
        mistakes[two["MemTotal kB"]] = ("that is MemTotal in kB of the chapter's 256 MiB device (2 blocks); the "
                                        f"question asks for pages of a {blocks}-block device")
    mistakes.pop(c["managed"], None)
    return check_number(answer, c["managed"], mistakes=mistakes, rule=MANAGED_RULE)


def check_attribute_write(answer: object, kernel: str = "6.12", param: str = "1", held_by: str = "kmem",
                          current: str = "0", value: str = "foo") -> CheckResult:
    """Check "what does ``echo -n VALUE > memmap_on_memory`` return" ("ok" or an errno name)."""
    expected = attribute_write(kernel, param, held_by, current, value)
    bad = _name(answer, ATTRIBUTE_RULE, "\"ok\" or an errno name such as \"EBUSY\"")
    if bad is not None:
        return bad
    if answer.strip().upper() == expected.upper():
        return CheckResult(True, expected)
    hints = {"EINVAL": f"kstrtobool() reads {value!r} by its first letters: "
                       + ("it is a boolean" if expected != "EINVAL" else "not a boolean"),
             "EBUSY": "EBUSY only for a *change* while kmem holds the device: "
                      f"{value!r} reads as the value the attribute already has",
             "OK": "look at who holds the device and at what the value reads as",
             "EOPNOTSUPP": "only writing true needs memory_hotplug.memmap_on_memory"}
    return CheckResult(False, f"{answer!r}: {hints.get(answer.strip().upper(), 'that is not what the kernel says')}",
                       ATTRIBUTE_RULE)


def check_blocks_after_unbind(answer: object, kernel: str = "6.12", online: tuple[int, ...] = (32,)) -> CheckResult:
    """Check "which memory blocks are left after kmem/unbind, with the blocks ``online`` still online?"."""
    m = dax_machine(kernel)
    if m.exists("/sys/bus/dax/devices/dax0.0/driver"):
        m.write(f"{DRV}/device_dax/unbind", "dax0.0")
    m.insmod("kmem")
    m.write(f"{DRV}/kmem/new_id", "dax0.0")
    for b in online:
        m.write(f"{MEM}/memory{b}/state", "online_movable")
    try:
        m.write(f"{DRV}/kmem/unbind", "dax0.0")
    except KernelError:                                    # pragma: no cover - the unbind always succeeds
        pass
    expected = sorted(b for b in m.blocks if m.blocks[b].nid == 1)
    rule = ("dev_dax_kmem_remove() calls remove_memory() once per range: try_remove_memory() first checks that "
            "*every* block of the range is offline and otherwise removes nothing (EBUSY); kmem logs \"cannot be "
            "hotremoved until the next reboot\" and unbinds anyway")
    if answer is None:
        return CheckResult(False, "not answered yet: replace None with a list of block numbers, e.g. [32]", rule)
    try:
        got = sorted(int(b) for b in answer)
    except (TypeError, ValueError):
        return CheckResult(False, f"{answer!r}: answer with a list of block numbers", rule)
    if got == expected:
        return CheckResult(True, f"{got}: " + ("nothing was removed" if expected else "all removed"))
    if got == sorted(online):
        hint = "the offline block is not removed on its own: remove_memory() is all or nothing for the range"
    elif not got:
        hint = "the unbind succeeds, but the memory of a range with an online block stays"
    else:
        hint = "that is not it"
    return CheckResult(False, f"{answer!r}: {hint}", rule)
