"""Chapter 12's check cells: the right answer passes, each known mistake is named, odd input is handled."""
from __future__ import annotations

import pytest

from widgets.checks_ch12 import (check_attribute_write, check_blocks_after_unbind, check_iomem_parent,
                                 check_kmem_managed)


def test_iomem_parent() -> None:
    assert check_iomem_parent("dax0.0").ok and check_iomem_parent("dax0.0", kernel="6.1").ok
    r = check_iomem_parent("Soft Reserved")
    assert not r.ok and "one level higher" in r.message
    assert "two levels up" in check_iomem_parent("hmem.0").message
    assert "not answered yet" in check_iomem_parent(None).message
    assert not check_iomem_parent(3).ok


def test_kmem_managed() -> None:
    n = 6 * 32768                                                   # exercise 12.3: a 768 MiB device, 6 blocks
    assert check_kmem_managed(n - 6 * 512).ok and check_kmem_managed(193536).ok
    assert "every block" in check_kmem_managed(n - 512).message
    assert "present, never managed" in check_kmem_managed(n).message
    assert "memmap part" in check_kmem_managed(6 * 512).message
    assert "MemTotal in kB" in check_kmem_managed(193536 * 4).message
    assert "one block's managed" in check_kmem_managed(32256).message
    # numbers printed above the exercise for the chapter's 2-block device are named, not just "wrong"
    assert "256 MiB device" in check_kmem_managed(64512).message
    r = check_kmem_managed(258048)
    assert not r.ok and "MemTotal in kB of the chapter's 256 MiB device" in r.message
    assert check_kmem_managed(n, attr="0").ok                       # the memmap comes from node 0
    assert check_kmem_managed(n, kernel="6.1").ok                   # 6.1 never self-hosts
    assert check_kmem_managed(8 * 32256, blocks=8).ok               # other sizes still check
    assert "not answered" in check_kmem_managed(None).message


@pytest.mark.parametrize("answer, ok, says", [("ok", True, ""), ("OK", True, ""), ("EBUSY", False, "change"),
                                              ("EINVAL", False, "boolean"), (None, False, "not answered")])
def test_attribute_write_foo_under_kmem_with_0(answer, ok, says) -> None:
    r = check_attribute_write(answer, held_by="kmem", current="0", value="foo")
    assert r.ok is ok and says in r.message


def test_attribute_write_other_states() -> None:
    assert check_attribute_write("EBUSY", held_by="kmem", current="1", value="foo").ok
    assert check_attribute_write("EINVAL", held_by="none", value="2").ok
    assert check_attribute_write("EOPNOTSUPP", param="0", held_by="none", value="1").ok
    assert check_attribute_write("ENOENT", kernel="6.1").ok


def test_blocks_after_unbind() -> None:
    assert check_blocks_after_unbind([32, 33]).ok
    assert "all or nothing" in check_blocks_after_unbind([32]).message
    assert "stays" in check_blocks_after_unbind([]).message
    assert check_blocks_after_unbind([], online=()).ok
    r = check_blocks_after_unbind("x")
    assert not r.ok and "list of block numbers" in r.message
