"""Chapter 12 problems: the memmap_on_memory attribute's answer to a write, and what kmem's memory costs.

The expectations restate the kernel's rules (drivers/dax/bus.c memmap_on_memory_store(), lib/kstrtox.c
kstrtobool(), 512 memmap pfns per 128 MiB block since 6.8's per-block altmaps), independently of the
generators' own helpers.
"""
from __future__ import annotations

import itertools

import pytest

from workbook.problems import generate
from workbook.problems.dax import attribute_write, kmem_node_counts


def _kstrtobool(v: str) -> bool | None:
    if v[:1] in ("y", "Y", "t", "T", "1"):
        return True
    if v[:1] in ("n", "N", "f", "F", "0"):
        return False
    if v[:2].lower() == "on":
        return True
    if v[:2].lower() == "of":           # lib/kstrtox.c: 'o' then 'f' is enough ("of" is false)
        return False
    return None


def _expected_write(kernel: str, param: str, held: str, current: str, value: str) -> str:
    if kernel == "6.1":
        return "ENOENT"
    val = _kstrtobool(value)
    if val is None:
        return "EINVAL"
    if val and param == "0":
        return "EOPNOTSUPP"
    if held == "kmem" and val != (current == "1"):
        return "EBUSY"
    return "ok"


@pytest.mark.parametrize("held, current, value", list(itertools.product(
    ["none", "device_dax", "kmem", "kmem, then unbound"], ["0", "1"], ["0", "1", "foo", "2", "on", "off", "of", "o"])))
def test_attribute_write_follows_the_rule_6_12(held: str, current: str, value: str) -> None:
    assert attribute_write("6.12", "1", held, current, value) == _expected_write("6.12", "1", held, current, value)


@pytest.mark.parametrize("held, value", [("none", "1"), ("kmem", "1"), ("kmem", "0"), ("device_dax", "2")])
def test_attribute_write_without_memmap_on_memory_and_on_6_1(held: str, value: str) -> None:
    assert attribute_write("6.12", "0", held, "0", value) == _expected_write("6.12", "0", held, "0", value)
    assert attribute_write("6.1", "1", held, "0", value) == "ENOENT"


@pytest.mark.parametrize("kernel, blocks, attr", [("6.12", 1, "1"), ("6.12", 4, "1"), ("6.12", 2, "0"),
                                                  ("6.1", 2, "1")])
def test_kmem_memory_counts(kernel: str, blocks: int, attr: str) -> None:
    n = blocks * 32768
    memmap = 512 * blocks if (kernel == "6.12" and attr == "1") else 0
    c = kmem_node_counts(kernel, blocks, attr)
    assert (c["present"], c["managed"], c["self-hosted pfns"], c["MemTotal kB"]) == (n, n - memmap, memmap,
                                                                                     (n - memmap) * 4)


@pytest.mark.parametrize("seed", range(25))
def test_dax_attribute_problem(seed: int) -> None:
    p = generate("dax-attribute-write", seed)
    q = p.params
    assert p.answer == _expected_write(q["kernel"], q["memory_hotplug.memmap_on_memory"], q["dax0.0 held by"],
                                       q["memmap_on_memory before"], q["value written"])
    assert p.check(p.answer).ok and p.answer not in p.mistakes
    for wrong in p.mistakes:
        assert not p.check(wrong).ok


@pytest.mark.parametrize("seed", range(12))
def test_dax_kmem_memory_problem(seed: int) -> None:
    p = generate("dax-kmem-memory", seed)
    q = p.params
    blocks = int(q["dax0.0 size"].split()[0]) // 128
    memmap = 512 * blocks if q["kernel"] == "6.12" and q["memmap_on_memory attribute (written before kmem binds)"] == "1" \
        else 0
    n = blocks * 32768
    want = {"node 1 managed": n - memmap, "node 1 self-hosted pfns": memmap, "node 1 MemTotal kB": (n - memmap) * 4}
    assert p.answer == want[q["asked"]]
    assert p.check(p.answer).ok and all(not p.check(w).ok for w in p.mistakes)


@pytest.mark.parametrize("value", ["", "o", "x1"])
def test_the_worked_steps_refuse_what_kstrtobool_refuses(value: str) -> None:
    """The problem's own walk-through of the store agrees with the model on values that are no boolean.

    An empty write is no write at all: sysfs_kf_write() returns 0 before the store runs (fs/sysfs/file.c).
    """
    from workbook.problems.dax import _attribute_by_hand
    want = "ok" if value == "" else "EINVAL"
    assert _attribute_by_hand("6.12", "1", "none", "0", value)[0] == want
    assert attribute_write("6.12", "1", "none", "0", value) == want


def test_rule_order_trap_names_eopnotsupp_before_ebusy() -> None:
    """Boot option off, kmem holding the device at 0, write 1: EOPNOTSUPP, and EBUSY is the named mistake."""
    p = generate("dax-attribute-write", 103)
    assert (p.params["memory_hotplug.memmap_on_memory"], p.params["dax0.0 held by"], p.params["value written"]) == \
        ("0", "kmem", "1")
    assert p.answer == "EOPNOTSUPP"
    assert "before the EBUSY check" in p.check("EBUSY").message
