"""Chapter 10 check cells: answers the model and the captured real kernels agree on."""
from __future__ import annotations

import pytest

from widgets.capture_compare import machine_after_step
from widgets.checks_ch10 import check_node_memtotal, check_nr_memmap_pages, check_numactl_size


@pytest.mark.parametrize("kernel", ["6.1", "6.12"])
def test_memtotal_and_numactl_after_online(kernel: str) -> None:
    assert repr(check_node_memtotal(129024, kernel=kernel)) == "right: 129,024 (the real kernel printed 129,024)"
    assert "never managed" in check_node_memtotal(131072, kernel=kernel).message
    assert check_numactl_size(126, kernel=kernel).ok
    assert "2 MiB of memmap" in check_numactl_size(128, kernel=kernel).message
    assert check_node_memtotal(0, kernel=kernel, step="05-offline").ok


def test_nr_memmap_pages_lives_from_hot_add_to_hot_remove() -> None:
    assert check_nr_memmap_pages(512).ok and check_nr_memmap_pages(512, step="01-hotadd").ok
    assert check_nr_memmap_pages(0, step="06-hotremove").ok
    assert "offlining leaves" in check_nr_memmap_pages(0).message


def test_machine_after_step_rejects_unknown_steps() -> None:
    assert 32 in machine_after_step("6.12", "01-hotadd").blocks
    with pytest.raises(ValueError):
        machine_after_step("6.12", "99-nothing")
