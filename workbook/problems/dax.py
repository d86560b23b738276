"""Problems on the dax/kmem path: what a write of the memmap_on_memory attribute returns, what kmem's memory costs (chapter 12)."""
from __future__ import annotations

from ..arch import MiB
from ..dax import soft_reserved_machine
from ..errors import KernelError
from ..machine import Machine
from . import Problem, register, rng

__all__ = ["ATTRIBUTE_RULE", "MANAGED_RULE", "dax_machine", "attribute_write", "attribute_writes", "kmem_node_counts"]

D = "/sys/bus/dax/devices/dax0.0"
DRV = "/sys/bus/dax/drivers"
_MEM = "/sys/devices/system/memory"

ATTRIBUTE_RULE = ("memmap_on_memory_store() (drivers/dax/bus.c, 6.8+): kstrtobool() first (y/Y/t/T/1/on true, "
                  "n/N/f/F/0/off false, anything else EINVAL); true needs mhp_supports_memmap_on_memory() "
                  "(EOPNOTSUPP with memory_hotplug.memmap_on_memory off); a *change* while kmem holds the device "
                  "is EBUSY, the same value always succeeds; no driver or device_dax: any value. 6.1 has no such "
                  "file (ENOENT)")
MANAGED_RULE = ("kmem adds the device's memory blocks with MHP_MEMMAP_ON_MEMORY when the attribute is 1 (6.8+): "
                "since 6.8 every block gets its own altmap, so each 128 MiB block keeps 512 pfns of memmap at its "
                "start, present but never managed; with the attribute 0 (and on 6.1, which has none) the memmap "
                "comes from other memory and every pfn is managed")


def dax_machine(kernel: str, param: str = "1", size: int = 256 * MiB) -> Machine:
    """The captures' machine with dax0.0 created (device_dax and dax_hmem loaded)."""
    m = soft_reserved_machine(kernel, sp_bytes=size,
                              cmdline=f"memory_hotplug.memmap_on_memory={param} memhp_default_state=offline")
    m.insmod("device_dax")
    m.insmod("dax_hmem")
    return m


def _set_state(m: Machine, held_by: str, current: str) -> None:
    """Bring dax0.0 to ``held_by`` ("none", "device_dax", "kmem", "kmem, then unbound") with the attribute ``current``."""
    bound = m.exists(f"{D}/driver")
    if bound:                                            # 6.1: device_dax took it at once
        m.write(f"{DRV}/{m.readlink(f'{D}/driver').rsplit('/', 1)[1]}/unbind", "dax0.0")
    if m.kernel.dax_memmap_on_memory:
        m.write(f"{D}/memmap_on_memory", current)
    if held_by == "device_dax":
        m.write(f"{DRV}/device_dax/new_id", "dax0.0")
    elif held_by.startswith("kmem"):
        m.insmod("kmem")
        m.write(f"{DRV}/kmem/new_id", "dax0.0")
        if held_by != "kmem":
            m.write(f"{DRV}/kmem/unbind", "dax0.0")


def attribute_writes(kernel: str, param: str, held_by: str, current: str, values: list[str]) -> list[str]:
    """The errno name (or "ok") of each of ``echo -n VALUE > dax0.0/memmap_on_memory``, in turn, in that state."""
    m = dax_machine(kernel, param)
    _set_state(m, held_by, current)
    out = []
    for value in values:
        try:
            m.write(f"{D}/memmap_on_memory", value)
            out.append("ok")
        except KernelError as e:
            out.append(e.errno_name)
    return out


def attribute_write(kernel: str, param: str, held_by: str, current: str, value: str) -> str:
    """The errno name (or "ok") of ``echo -n VALUE > dax0.0/memmap_on_memory`` in that state."""
    m = dax_machine(kernel, param)
    _set_state(m, held_by, current)
    try:
        m.write(f"{D}/memmap_on_memory", value)
        return "ok"
    except KernelError as e:
        return e.errno_name


def kmem_node_counts(kernel: str, blocks: int, attr: str) -> dict[str, int]:
    """node 1 after kmem added a ``blocks`` x 128 MiB dax0.0 with the attribute ``attr`` and onlined it movable."""
    m = dax_machine(kernel, "1", blocks * 128 * MiB)
    _set_state(m, "kmem", attr)
    for b in sorted(b for b in m.blocks if m.blocks[b].nid == 1):
        m.write(f"{_MEM}/memory{b}/state", "online_movable")
    z = m.nodes[1].zones[3]
    return {"present": z.present_pages, "managed": z.managed_pages, "self-hosted pfns": z.present_pages -
            z.managed_pages, "MemTotal kB": z.managed_pages * m.arch.page_size // 1024}


def _attribute_by_hand(kernel: str, param: str, held: str, current: str, value: str) -> tuple[str, list[str]]:
    """memmap_on_memory_store()'s checks in drivers/dax/bus.c's order, with the steps."""
    if kernel == "6.1":
        return "ENOENT", ["6.1 has no dax memmap_on_memory attribute (it came with 6.8): the open fails: ENOENT"]
    if not value:
        return "ok", ["an empty write never reaches the store: sysfs_kf_write() returns 0 for a count of 0"]
    v = value.lower()
    # lib/kstrtox.c: the first character decides, "o" the second ("on" true, "of..." false)
    # (an empty string is no boolean: "" would be "in" any string, so test the first character by itself)
    c = v[:1]
    val = True if (c and c in "yt1") or v[:2] == "on" else False if (c and c in "nf0") or v[:2] == "of" else None
    steps = [f"kstrtobool({value!r}) = {'-EINVAL' if val is None else val}"]
    if val is None:
        return "EINVAL", steps + ["not a boolean: the store returns EINVAL"]
    if val and param != "1":
        return "EOPNOTSUPP", steps + ["a true value needs mhp_supports_memmap_on_memory(), off on this command line: "
                                      "EOPNOTSUPP"]
    kmem = held in ("kmem",)
    steps.append(f"held by kmem now: {'yes' if kmem else 'no'}; value {'changes' if val != (current == '1') else 'stays'}")
    if kmem and val != (current == "1"):
        return "EBUSY", steps + ["kmem holds the device and the value would change: EBUSY"]
    return "ok", steps + ["the value is stored: ok"]


@register("dax-attribute-write", difficulty=2, chapter="12")
def dax_attribute_write(seed: int, exam: bool = False) -> Problem:
    """What does a write of dax0.0/memmap_on_memory return in a given driver state?"""
    if exam:
        return _attribute_writes_exam(seed)
    r = rng(seed, "dax-attribute-write", exam)
    kernel = r.choice(["6.12", "6.12", "6.12", "6.1"])
    param = r.choice(["1", "1", "1", "0"])
    held = r.choice(["none", "device_dax", "kmem", "kmem", "kmem, then unbound"])
    current = r.choice(["0", "1"]) if not (param == "0") else "0"
    value = r.choice(["0", "1", "foo", "2", "on", "off", "yes"])
    answer = attribute_write(kernel, param, held, current, value)
    hand, steps = _attribute_by_hand(kernel, param, held, current, value)
    mistakes = {
        "EBUSY": "only kmem holding the device refuses a write, and only one that changes the value",
        "EINVAL": "kstrtobool() looks at the first characters: y/t/1/on are true, n/f/0/off false",
        "ok": "look at the kernel, memory_hotplug.memmap_on_memory, and who holds the device",
        "EOPNOTSUPP": "only a true value needs mhp_supports_memmap_on_memory()",
        "ENOENT": "6.8+ has the attribute",
        "ENODEV": "ENODEV is for a driver's bind file; this is a device attribute",
    }
    if answer == "EOPNOTSUPP" and held == "kmem" and current == "0":
        mistakes["EBUSY"] = ("kmem holds the device and the value would change, but memmap_on_memory_store() asks "
                             "mhp_supports_memmap_on_memory() first: a true value on a kernel booted without "
                             "memory_hotplug.memmap_on_memory is EOPNOTSUPP before the EBUSY check is reached")
    if kernel == "6.1":
        mistakes = {k: "6.1 has no memmap_on_memory attribute at all: the file does not exist" for k in mistakes}
    mistakes.pop(answer, None)
    return Problem(
        "dax-attribute-write", seed,
        {"kernel": kernel, "memory_hotplug.memmap_on_memory": param, "dax0.0 held by": held,
         "memmap_on_memory before": current if kernel != "6.1" else "(no such file)", "value written": value},
        "echo -n VALUE > /sys/bus/dax/devices/dax0.0/memmap_on_memory: what does the write return? "
        "(\"ok\", or the errno name, e.g. \"EBUSY\")",
        answer, f"The kernel answers {answer}.", ATTRIBUTE_RULE, mistakes, derivation=steps,
        by_hand=hand == answer, exam=exam)


def _attribute_writes_exam(seed: int) -> Problem:
    """The exam variant: three writes in turn (each may change what the next one meets); the three results."""
    r = rng(seed, "dax-attribute-write", True)
    kernel = r.choice(["6.12"] * 9 + ["6.1"])
    param = r.choice(["1", "1", "1", "0"])
    held = r.choice(["none", "device_dax", "kmem", "kmem", "kmem", "kmem, then unbound"])
    current = r.choice(["0", "1"]) if param == "1" else "0"
    values = [r.choice(["0", "1", "foo", "2", "on", "off", "yes", "true", "n", "Y", "-1", "of"]) for _ in range(3)]
    answer = ", ".join(attribute_writes(kernel, param, held, current, values))
    steps, now, results = [], current, []
    for v in values:
        res, why = _attribute_by_hand(kernel, param, held, now, v)
        results.append(res)
        steps.append(f"{v!r}: " + "; ".join(why))
        if res == "ok":
            low = v.lower()
            now = "1" if low[:1] in "yt1" or low[:2] == "on" else "0"
    hand = ", ".join(results)
    steps.append(f"in turn: {hand}")
    return Problem(
        "dax-attribute-write", seed,
        {"kernel": kernel, "memory_hotplug.memmap_on_memory": param, "dax0.0 held by": held,
         "memmap_on_memory before": current if kernel != "6.1" else "(no such file)",
         "values written, in turn": ", ".join(repr(v) for v in values)},
        "echo -n VALUE > /sys/bus/dax/devices/dax0.0/memmap_on_memory for each value in turn: what does each "
        "write return? (\"ok\" or the errno name, comma-separated, e.g. \"ok, EBUSY, EINVAL\")",
        answer, f"The kernel answers {answer}.", ATTRIBUTE_RULE,
        {"ok, ok, ok": "not every write succeeds: check kstrtobool, the command line and who holds the device"}
        if answer != "ok, ok, ok" else {}, derivation=steps, by_hand=hand == answer, exam=True)


@register("dax-kmem-memory", difficulty=1, chapter="12")
def dax_kmem_memory(seed: int, exam: bool = False) -> Problem:
    """How much of a kmem-added dax device does node 1 manage, and how much holds its memmap?"""
    r = rng(seed, "dax-kmem-memory", exam)
    kernel = r.choice(["6.12", "6.12", "6.1"])
    blocks = r.randrange(1, 33) if exam else r.choice([1, 2, 4, 8])
    attr = r.choice(["0", "1"])
    asked = r.choice(["managed", "self-hosted pfns", "MemTotal kB"])
    counts = kmem_node_counts(kernel, blocks, attr)
    answer = counts[asked]
    n = blocks * 32768
    own = 512 * blocks if kernel != "6.1" and attr == "1" else 0
    hand = {"managed": n - own, "self-hosted pfns": own, "MemTotal kB": (n - own) * 4}[asked]
    steps = [f"{blocks} block(s) x 32768 pfns = {n} present pfns",
             f"memmap on each block: {'512 pfns (64-byte struct pages / 4 KiB pages = 1/64)' if own else 'none'}"
             f" -> {own} self-hosted pfns", f"managed = {n} - {own} = {n - own}; MemTotal = managed x 4 kB",
             f"node 1 {asked}: {hand}"]
    mistakes = {n: "that is every pfn of the device; the self-hosted memmap pfns are present but never managed",
                n - 512: "512 pfns per *block*: since 6.8 each block of the device has its own altmap",
                0: "with the attribute 1 on 6.8+, every block keeps 512 pfns of memmap",
                512: "that is one block's memmap; the device has several blocks, each with its own",
                n * 4: "that counts every pfn; MemTotal counts managed pages (x 4 kB)"}
    mistakes.pop(answer, None)
    return Problem(
        "dax-kmem-memory", seed,
        {"kernel": kernel,
         "dax0.0 size": f"{blocks * 128} MiB ({blocks} memory block{'s' if blocks > 1 else ''} of 128 MiB)",
         "memmap_on_memory attribute (written before kmem binds)": attr if kernel != "6.1" else "(no such file)",
         "then": "every block echo online_movable > state", "asked": f"node 1 {asked}"},
        f"What is node 1's {asked} afterwards?", answer,
        f"present {counts['present']}, managed {counts['managed']}: {counts['self-hosted pfns']} pfns hold the "
        "memmap.", MANAGED_RULE, mistakes, derivation=steps, by_hand=hand == answer, exam=exam)
